"""The JSON Schemas of stage.yaml and variables.yaml: every mistake names the file, the step, the field and the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from support.apply_cli import FIXTURE_LAB

from handbook import lab_schema
from handbook.errors import DefinitionError
from handbook.lab import Lab
from handbook.platforms import PLATFORMS
from handbook.stages import STEP_KINDS
from handbook.variables import VariableCatalog


def _lab_with(tmp_path: Path, old: str, new: str, file: str = "stage-1-demo/stage.yaml") -> Path:
    lab = tmp_path / "lab"
    shutil.copytree(FIXTURE_LAB, lab)
    path = lab / file
    text = path.read_text(encoding="utf-8")
    assert old in text, f"the fixture changed: {old!r} is not in {file}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return lab


def _problems(lab: Path) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        Lab.load(lab)
    return info.value.problems


@pytest.mark.parametrize(("old", "new", "expected"), [
    # a misspelled field: the step, the field, a suggestion and what is allowed
    ('    namespace: "${APP_NS}"\n', '    namspace: "${APP_NS}"\n',
     "stage-1-demo/stage.yaml: steps[2] (deploy-web).namspace: does not belong in an apply step "
     "(did you mean 'namespace'?); allowed: id, platforms, demo, apply, namespace, undo"),
    ("      timeout: 120s\n", "      timeout: 120s\n      timout: 10s\n",
     "stage-1-demo/stage.yaml: steps[4] (wait-web).wait.timout: unknown field (did you mean 'timeout'?)"),
    # a wrong type
    ("minutes: 5\n", "minutes: soon\n",
     "stage-1-demo/stage.yaml: minutes: expected a whole number, got 'soon'; the time estimate in minutes"),
    ("    demo: true\n", "    demo: sometimes\n",
     "stage-1-demo/stage.yaml: steps[7] (break-web).demo: expected true or false, got 'sometimes'"),
    ("    run: [oc, scale", "    run: \"oc scale\"\n    x: [oc, scale",
     "stage-1-demo/stage.yaml: steps[7] (break-web).run: expected a list, got 'oc scale'; a non-empty list of "
     "words, e.g. [oc, get, pods] (never a shell string)"),
    # a missing required field
    ("      rollout: deployment/web\n", "",
     "stage-1-demo/stage.yaml: steps[4] (wait-web).wait: give either rollout: <type/name>, or for: <condition> "
     "with resource"),
    ("title: ", "titel: ", "stage-1-demo/stage.yaml: title: required; the stage's title (Japanese)"),
    ("    apply: web.yaml\n", "",
     "stage-1-demo/stage.yaml: steps[2] (deploy-web): give exactly one of apply, patch, run, wait, check, manual"),
])
def test_a_broken_stage_names_file_step_field_and_fix(tmp_path: Path, old: str, new: str, expected: str) -> None:
    problems = _problems(_lab_with(tmp_path, old, new))
    assert any(p.endswith(expected) or expected in p for p in problems), "\n".join(problems)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    pattern: dns-label\n", "    patern: dns-label\n",
     "variables.yaml: variables.APP_NS.patern: unknown field (did you mean 'pattern'?)"),
    ("    default: user1\n", "    default: [user1]\n",
     "variables.yaml: variables.LAB_USER.default: expected text or a whole number or a number, got ['user1']"),
    ("    description: ", "    note: ", "variables.yaml: variables.LAB_USER.description: required; what the variable"),
])
def test_a_broken_catalogue_names_file_variable_field_and_fix(tmp_path: Path, old: str, new: str,
                                                             expected: str) -> None:
    lab = _lab_with(tmp_path, old, new, "variables.yaml")
    with pytest.raises(DefinitionError) as info:
        VariableCatalog.load(lab / "variables.yaml")
    assert any(expected in p for p in info.value.problems), "\n".join(info.value.problems)


def test_every_problem_is_reported_at_once_and_nothing_is_loaded(tmp_path: Path) -> None:
    lab = _lab_with(tmp_path, '    namespace: "${APP_NS}"\n', "    namespace: [x]\n")
    stage = lab / "stage-1-demo" / "stage.yaml"
    stage.write_text(stage.read_text(encoding="utf-8").replace("      timeout: 120s\n", "      timeout: 2 min\n"),
                     encoding="utf-8")
    problems = _problems(lab)
    assert [p.split(": ")[1] for p in problems if "stage-1-demo" in p] == [
        "steps[2] (deploy-web).namespace", "steps[4] (wait-web).wait.timeout"]


@pytest.mark.parametrize("kind", STEP_KINDS)
def test_unconfirmed_is_an_optional_text_of_check_steps_only(kind: str) -> None:
    """Only a check has a sample output to qualify; elsewhere the field would be dropped unseen."""
    bodies = {"apply": "x.yaml", "patch": {"resource": "deployment/x", "file": "p.yaml"}, "run": ["true"],
              "wait": {"rollout": "deployment/x", "timeout": "60s"},
              "check": {"run": ["true"], "output": "", "expect": {"equals": ""}}, "manual": "look"}
    stage = {"title": "t", "summary": "s", "steps": [{"id": "a", kind: bodies[kind]}]}
    assert lab_schema.problems("stage", "s.yaml", stage) == []
    stage["steps"][0]["unconfirmed"] = "出力は例です"
    problems = lab_schema.problems("stage", "s.yaml", stage)
    if kind != "check":
        assert problems and "unconfirmed: does not belong" in problems[0]
        return
    assert problems == []
    stage["steps"][0]["unconfirmed"] = 3
    assert lab_schema.problems("stage", "s.yaml", stage) == [
        "s.yaml: steps[0] (a).unconfirmed: expected text, got 3"]


def test_the_schemas_are_valid_and_take_their_platforms_from_handbook_platforms() -> None:
    for path in sorted(lab_schema.SCHEMA_DIR.glob("*.schema.json")):
        Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))
    for name in ("stage", "variables"):
        assert lab_schema.validator(name).schema["$defs"]["platform"]["enum"] == list(PLATFORMS)


def test_the_repository_and_the_fixture_lab_meet_their_schemas() -> None:
    assert Lab.load() and Lab.load(FIXTURE_LAB)


def test_the_clean_cache_remembers_content_not_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage that passed once is not checked again, but a changed one is, and problems are never remembered."""
    monkeypatch.setattr(lab_schema, "CLEAN_CACHE", tmp_path / "clean")
    good = {"title": "t", "summary": "s", "steps": [{"id": "look", "manual": "見る"}]}
    assert lab_schema.problems("stage", "a/stage.yaml", good) == []
    assert len(list((tmp_path / "clean").iterdir())) == 1

    broken = {**good, "steps": [{"id": "look", "manual": "見る", "apply": "x.yaml"}]}
    assert lab_schema.problems("stage", "a/stage.yaml", broken), "a changed stage must be checked again"
    assert lab_schema.problems("stage", "a/stage.yaml", broken), "a problem must not be remembered as clean"
    assert len(list((tmp_path / "clean").iterdir())) == 1
