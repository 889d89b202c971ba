"""Validation cached by content: a hit when nothing changed, a miss when any part of the key changes.

The key parts: every rendered document, the value sets, the schemas' stamp (with the extra
CRDs' digest), and the engine (kubeconform's pinned version and binary). A spy validator
counts how often validation really runs; only the last test needs `make setup`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from handbook import schemas
from handbook.lab import Lab
from handbook.manifest_check import validate_manifests
from handbook.validation import (
    EngineValidator,
    NotValidated,
    RenderedDocument,
    ValidationProblem,
    ValidationReport,
    cache,
    extra_crds,
    kubeconform,
    validate_cached,
)
from handbook.validation.schema_set import SchemaSet


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "validation-cache")


@dataclass
class Spy:
    """A validator whose cache parts the test sets; it finds a problem in any document whose text says BROKEN."""

    stamp: str = "schemas-1"
    engine: str = "kubeconform-v0.7.0"
    runs: int = 0
    seen: list[list[RenderedDocument]] = field(default_factory=list)

    def cache_parts(self) -> tuple[str, str]:
        return self.stamp, self.engine

    def validate_report(self, documents: list[RenderedDocument]) -> ValidationReport:
        self.runs += 1
        self.seen.append(list(documents))
        problems = [ValidationProblem(d.source, d.index, "ConfigMap", "a", "data", "broken", "fix it", d.label)
                    for d in documents if "BROKEN" in d.text]
        notice = NotValidated("m.yaml", 1, "sailoperator.io/v1", "Istio", "user1", "no schema", "defaults")
        return ValidationReport(problems, [notice])


DOCS = [RenderedDocument("m.yaml", 0, "kind: ConfigMap\n", "defaults"),
        RenderedDocument("m.yaml", 1, "kind: Istio\n", "defaults")]
SETS = {"defaults": {"LAB_USER": "user1"}}


def test_hit_when_nothing_changed() -> None:
    spy = Spy()
    first = validate_cached(spy, DOCS, SETS)
    second = validate_cached(spy, list(DOCS), {"defaults": {"LAB_USER": "user1"}})
    assert spy.runs == 1
    assert first == second and second.notices[0].kind == "Istio", "the notices come back from the cache"
    assert (first.cached, second.cached) == (False, True)
    cache.clear()
    assert not validate_cached(spy, DOCS, SETS).cached and spy.runs == 2


@pytest.mark.parametrize("change", ["text", "source", "index", "label", "one more", "one less"])
def test_miss_when_a_document_changes(change: str) -> None:
    spy = Spy()
    validate_cached(spy, DOCS, SETS)
    changed = {
        "text": [replace(DOCS[0], text="kind: Secret\n"), DOCS[1]],
        "source": [replace(DOCS[0], source="n.yaml"), DOCS[1]],
        "index": [replace(DOCS[0], index=5), DOCS[1]],
        "label": [replace(DOCS[0], label="second user"), DOCS[1]],
        "one more": [*DOCS, RenderedDocument("m.yaml", 2, "kind: Secret\n", "defaults")],
        "one less": DOCS[:1],
    }[change]
    validate_cached(spy, changed, SETS)
    assert spy.runs == 2 and spy.seen[-1] == changed


def test_miss_when_the_value_sets_change() -> None:
    spy = Spy()
    validate_cached(spy, DOCS, SETS)
    validate_cached(spy, DOCS, {"defaults": {"LAB_USER": "user2"}})
    validate_cached(spy, DOCS, {**SETS, "second user": {"LAB_USER": "team-b7"}})
    assert spy.runs == 3


def test_miss_when_the_schemas_stamp_changes() -> None:
    spy = Spy()
    validate_cached(spy, DOCS, SETS)
    spy.stamp = "schemas-2"
    validate_cached(spy, DOCS, SETS)
    assert spy.runs == 2


def test_miss_when_the_engine_changes() -> None:
    spy = Spy()
    validate_cached(spy, DOCS, SETS)
    spy.engine = "kubeconform-v0.7.1"
    validate_cached(spy, DOCS, SETS)
    spy.engine = "python"
    validate_cached(spy, DOCS, SETS)
    assert spy.runs == 3


def test_a_broken_manifest_is_never_served_from_the_cache() -> None:
    spy = Spy()
    assert validate_cached(spy, DOCS, SETS).problems == []
    broken = [replace(DOCS[0], text="kind: ConfigMap\ndata: BROKEN\n"), DOCS[1]]
    for expected_runs in (2, 3):  # found again on every run: a report with problems is never stored
        assert [p.message for p in validate_cached(spy, broken, SETS).problems] == ["broken"]
        assert spy.runs == expected_runs
    assert validate_cached(spy, DOCS, SETS).problems == [] and spy.runs == 3, "the repaired text hits again"


def test_a_validator_without_cache_parts_always_runs() -> None:
    class Plain:
        runs = 0

        def validate_report(self, documents: list[RenderedDocument]) -> ValidationReport:
            Plain.runs += 1
            return ValidationReport([], [])

    validate_cached(Plain(), DOCS, SETS)
    validate_cached(Plain(), DOCS, SETS)
    assert Plain.runs == 2


# --------------------------------------------------------------------------- where the key parts come from


def test_the_extra_crds_content_is_part_of_the_schemas_stamp(tmp_path: Path) -> None:
    folder = tmp_path / "crds"
    folder.mkdir()
    (folder / "a.yaml").write_text("kind: CustomResourceDefinition\n", encoding="utf-8")
    (folder / "README.md").write_text("not read\n", encoding="utf-8")
    first = extra_crds.digest(extra_crds.crd_files([folder]))
    (folder / "README.md").write_text("still not read\n", encoding="utf-8")
    assert extra_crds.digest(extra_crds.crd_files([folder])) == first
    (folder / "a.yaml").write_text("kind: CustomResourceDefinition\n# changed\n", encoding="utf-8")
    second = extra_crds.digest(extra_crds.crd_files([folder]))
    (folder / "b.yml").write_text("kind: CustomResourceDefinition\n", encoding="utf-8")
    third = extra_crds.digest(extra_crds.crd_files([folder]))
    assert len({first, second, third}) == 3
    stamps = {SchemaSet(extra_digest=d).stamp for d in (first, second, third)}
    assert len(stamps) == 3 and all(s.startswith(f"{schemas.recorded_stamp()}+") for s in stamps)


def test_kubeconform_identity_follows_the_pin_and_the_binary(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "kubeconform"
    binary.write_bytes(b"one build")
    first = kubeconform.identity(str(binary))
    binary.write_bytes(b"another build")
    os.utime(binary, ns=(1, 1))
    second = kubeconform.identity(str(binary))
    real = schemas.read_versions

    monkeypatch.setattr(schemas, "read_versions", lambda: {**real(), "KUBECONFORM_VERSION": "v0.7.1"})
    third = kubeconform.identity(str(binary))
    assert len({first, second, third}) == 3 and third.startswith("v0.7.1:")


# --------------------------------------------------------------------------- the real engine


@pytest.mark.schemas
def test_an_unchanged_lab_skips_kubeconform(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    real_run = kubeconform.run

    def counting_run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        runs.append(1)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(kubeconform, "run", counting_run)
    lab = Lab.load()
    validator = EngineValidator("kubeconform")
    first = validate_manifests(lab, validator=validator)
    second = validate_manifests(lab, validator=EngineValidator("kubeconform"))
    assert len(runs) == 1 and first == second and first.problems == []
    validate_manifests(lab, lab.plan("stage-2"), validator=validator)
    assert len(runs) == 2, "another plan is other documents"


@pytest.mark.schemas
def test_the_engine_part_names_kubeconform_and_the_validation_code(monkeypatch: pytest.MonkeyPatch) -> None:
    from handbook.validation import engine

    stamp, which = EngineValidator("kubeconform").cache_parts()
    assert stamp == SchemaSet().stamp
    assert which.startswith(f"{schemas.read_versions()['KUBECONFORM_VERSION']}:") and which.endswith(
        engine.code_digest())
    monkeypatch.setattr(engine, "code_digest", lambda: "changed code")
    assert EngineValidator("kubeconform").cache_parts() == (stamp, which.rsplit(":", 1)[0] + ":changed code")
