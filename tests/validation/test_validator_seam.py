"""The validator seam: the site build and apply.py validate through whatever Validator they are given.

No schemas needed: these tests belong to the fast tier.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from mkdocs.exceptions import PluginError

from handbook.validation import (
    EngineValidator,
    RecordingValidator,
    RenderedDocument,
    ValidationProblem,
    ValidationReport,
    ValidationSetupError,
    from_environment,
)
from handbook.validation.engine import RecordingWarning
from macros.main import validate_before_build


class Refusing:
    def validate_report(self, documents: list[RenderedDocument]) -> ValidationReport:
        first = documents[0]
        return ValidationReport([ValidationProblem(first.source, first.index, "Deployment", "web", "spec.selector",
                                                   "required field `selector` is missing", "add it", first.label)], [])


def test_the_site_build_stops_on_what_its_validator_finds() -> None:
    with pytest.raises(PluginError) as caught:
        validate_before_build(Refusing())
    assert "invalid manifests:" in str(caught.value)
    assert "document 1 (Deployment web) [values: defaults]: spec.selector: required field" in str(caught.value)


def test_the_recording_validator_checks_nothing_and_says_so(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    log = tmp_path / "asked.jsonl"
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.handbook"):
        validate_before_build(RecordingValidator(log))
    said = [r for r in caplog.records if "the manifests are NOT validated (a test double)" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.INFO], "said, but not a warning that fails a --strict build"
    with pytest.warns(RecordingWarning, match="NOT validated"):
        RecordingValidator(log).validate_report([])
    entry, empty = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert {label for _, _, label, _ in entry["documents"]} == {"defaults", "second user"}
    assert empty == {"documents": []}


@pytest.mark.parametrize(("value", "engine"), [("", "auto"), ("auto", "auto"), ("kubeconform", "kubeconform"),
                                               ("python", "python")])
def test_handbook_validator_names_the_engine(value: str, engine: str) -> None:
    chosen = from_environment({"HANDBOOK_VALIDATOR": value})
    assert isinstance(chosen, EngineValidator) and chosen.engine == engine
    assert chosen.schema_set.extra_roots == ()


def test_handbook_validator_record_and_typos(tmp_path: Path) -> None:
    chosen = from_environment({"HANDBOOK_VALIDATOR": f"record:{tmp_path / 'x.jsonl'}"})
    assert chosen == RecordingValidator(tmp_path / "x.jsonl")
    for wrong in ("kubeconfrom", "record:", "none"):
        with pytest.raises(ValidationSetupError, match="expected auto, kubeconform, python or record:<file>"):
            from_environment({"HANDBOOK_VALIDATOR": wrong})
