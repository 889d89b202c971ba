"""The stage model: loading stage.yaml, step kinds, platforms, plans and definition errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.apply_cli import REPO

from handbook.errors import DefinitionError, UsageError
from handbook.lab import Lab
from handbook.steps import ApplyStep, CheckStep, ManualStep, PatchStep, RunStep, WaitStep

FIXTURE = REPO / "tests" / "fixtures" / "lab"


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab.load(FIXTURE)


def test_fixture_lab_loads_every_step_kind(lab: Lab) -> None:
    stage = lab.stage("stage-1")
    kinds = {type(s) for s in stage.steps} | {type(s) for s in lab.stage("stage-2").steps}
    assert kinds == {RunStep, ApplyStep, WaitStep, CheckStep, ManualStep, PatchStep}
    assert stage.title == "デモ" and stage.minutes == 5


def test_platforms_select_steps(lab: Lab) -> None:
    stage = lab.stage("stage-1")
    openshift = [s.id for s in stage.steps_for("openshift")]
    kubernetes = [s.id for s in stage.steps_for("kubernetes")]
    assert "create-project" in openshift and "create-project" not in kubernetes
    assert "create-namespace" in kubernetes and "create-namespace" not in openshift
    assert "expose-web" not in kubernetes
    assert "deploy-web" in openshift and "deploy-web" in kubernetes


def test_commands_of_each_kind(lab: Lab) -> None:
    stage = lab.stage("stage-1")
    apply = stage.step("deploy-web").command()
    assert apply.argv == ("oc", "apply", "-n", "${APP_NS}", "-f", "-")
    assert apply.stdin is not None and "kind: Deployment" in apply.stdin
    assert stage.step("wait-web").command().argv == (
        "oc", "rollout", "status", "deployment/web", "-n", "${APP_NS}", "--timeout=120s",
    )
    patch = lab.stage("stage-2").step("label-web").command()
    assert patch.argv[:3] == ("oc", "patch", "deployment/web")
    assert "--patch-file=/dev/stdin" in patch.argv
    resolved = apply.resolved({"APP_NS": "u-demo"}).for_cli("kubectl").with_context("ctx")
    assert resolved.argv[:4] == ("kubectl", "--context=ctx", "apply", "-n")
    assert "u-demo" in resolved.argv


def test_plan_is_cumulative_and_only_runs_one(lab: Lab) -> None:
    assert [s.id for s in lab.plan("stage-2")] == ["stage-1", "stage-2"]
    assert [s.id for s in lab.plan("stage-2", only=True)] == ["stage-2"]


def test_unknown_stage_and_step_name_what_exists(lab: Lab) -> None:
    with pytest.raises(UsageError, match="unknown stage 'stage-9'; the stages are: stage-1, stage-2"):
        lab.stage("stage-9")
    with pytest.raises(UsageError, match=r"stage.yaml: no step with id 'nope'; the steps are: create-project"):
        lab.stage("stage-1").step("nope")


def test_variables_for_a_stage_follow_derivations(lab: Lab) -> None:
    assert lab.variables_for(lab.stage("stage-1")) == ["LAB_USER", "APP_NS", "APPS_DOMAIN"]
    assert lab.variables_for(lab.stage("stage-2")) == ["LAB_USER", "APP_NS"]


def broken_copy(tmp_path: Path) -> Path:
    target = tmp_path / "lab"
    shutil.copytree(FIXTURE, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture changed: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("apply: web.yaml", "apply: missing.yaml", "steps[2] (deploy-web).apply: "),
        ("  - id: look\n", "  - id: look\n    colour: red\n", "(look).colour: does not belong in a manual step"),
        ("  - id: look\n", "  - id: wait-web\n", "steps[6] (wait-web).id: duplicate step id 'wait-web'"),
        ("    platforms: [kubernetes]\n", "    platforms: [k8s]\n", "platforms[0]: 'k8s' is not one of openshift"),
        ("      timeout: 120s\n", "      timeout: soon\n", "timeout: 'soon' does not have the expected form"),
        ("    run: [oc, scale", "    run: \"oc scale\"\n    x: [oc, scale", "(break-web)"),
        ("        equals: \"200\"\n", "        matches: \"200\"\n", "expect.matches: unknown field; allowed: absent"),
    ],
)
def test_definition_errors_name_file_and_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    lab_dir = broken_copy(tmp_path)
    edit(lab_dir / "stage-1-demo" / "stage.yaml", old, new)
    with pytest.raises(DefinitionError) as info:
        Lab.load(lab_dir)
    text = "\n".join(info.value.problems)
    assert "stage-1-demo/stage.yaml" in text
    assert expected in text
    if "missing.yaml" in new:
        assert "stage-1-demo/missing.yaml does not exist" in text


def test_manifest_text_rules(tmp_path: Path) -> None:
    lab_dir = broken_copy(tmp_path)
    web = lab_dir / "stage-1-demo" / "web.yaml"
    bad = '  name: web-${NOT_DECLARED}\n  annotations: {cost: "$5", cmd: "`id`", p: "a\\\\b"}\n'
    edit(web, "  name: web\n", bad)
    with pytest.raises(DefinitionError) as info:
        Lab.load(lab_dir)
    text = "\n".join(info.value.problems)
    assert "stage-1-demo/web.yaml:4: ${NOT_DECLARED} is not declared" in text
    assert "web.yaml:5: a '$' that is not ${NAME}" in text
    assert "web.yaml:5: a backtick" in text
    assert "web.yaml:5: a backslash" in text


def test_undeclared_variable_in_a_command(tmp_path: Path) -> None:
    lab_dir = broken_copy(tmp_path)
    edit(lab_dir / "stage-1-demo" / "stage.yaml", '[oc, new-project, "${APP_NS}"]', '[oc, new-project, "${APP}"]')
    with pytest.raises(DefinitionError, match=r"step create-project: \$\{APP\} is not declared"):
        Lab.load(lab_dir)


def test_real_lab_loads() -> None:
    lab = Lab.load()
    assert lab.stages, "manifests/ holds no stage"
    for stage in lab.stages:
        assert stage.steps


@pytest.mark.parametrize(("value", "problem"), [('""', "must not be empty"), ("[a, b]", "expected text")])
def test_unconfirmed_must_be_a_reason(tmp_path: Path, value: str, problem: str) -> None:
    from handbook.stages import load_stage

    folder = tmp_path / "stage-1-x"
    folder.mkdir()
    (folder / "stage.yaml").write_text(
        "title: t\nsummary: s\nsteps:\n  - id: look\n    unconfirmed: " + value
        + "\n    check:\n      run: [oc, get, pods]\n      output: x\n      expect: {equals: x}\n",
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError) as info:
        load_stage(folder)
    assert any("steps[0] (look).unconfirmed" in p and problem in p for p in info.value.problems), info.value.problems


def test_unconfirmed_is_read_into_the_check(tmp_path: Path) -> None:
    from handbook.stages import load_stage

    folder = tmp_path / "stage-1-x"
    folder.mkdir()
    (folder / "stage.yaml").write_text(
        "title: t\nsummary: s\nsteps:\n  - id: look\n    unconfirmed: 時間は例です。\n"
        "    check:\n      run: [oc, get, pods]\n      output: x\n      expect: {equals: x}\n",
        encoding="utf-8",
    )
    step = load_stage(folder).step("look")
    assert isinstance(step, CheckStep) and step.unconfirmed == "時間は例です。"
