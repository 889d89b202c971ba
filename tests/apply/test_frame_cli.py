"""`apply.py exercise stage-N` and `apply.py troubleshoot stage-N`, through a fake oc/kubectl on PATH."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.apply_cli import FIXTURE_LAB, FakeCli, run_apply

from handbook.blocks import dry_run_text
from handbook.lab import Lab
from handbook.plan import exercise_plan, troubleshoot_plan

WHOAMI = {"match": ["oc", "whoami"], "stdout": "developer\n"}
DOMAIN = {"match": ["oc", "get", "ingresses.config.openshift.io"], "stdout": "apps.fake.example"}
API_RESOURCES = {"match": ["api-resources"], "stdout": "configmaps  cm  v1  true  ConfigMap\n"}


def test_exercise_runs_the_solution_after_the_stage(fake_cli: FakeCli) -> None:
    fake_cli.rules([WHOAMI, DOMAIN, API_RESOURCES])
    result = run_apply(["exercise", "stage-1", "--user", "alice"], fake_cli.env(lab=FIXTURE_LAB))
    assert result.returncode == 0, result.stderr
    argvs = [c["argv"] for c in fake_cli.calls()]
    assert argvs[0] == ["oc", "whoami"]
    assert argvs[-4:] == [  # the check is left to the reader (as every check is in a catch-up run)
        ["oc", "apply", "-n", "alice-demo", "-f", "-"],
        ["oc", "label", "deployment/web", "noted=yes", "-n", "alice-demo"],
        ["oc", "label", "deployment/web", "noted-", "-n", "alice-demo"],
        ["oc", "delete", "configmap", "web-note", "-n", "alice-demo", "--ignore-not-found"],
    ]
    assert "name: web-note" in fake_cli.calls()[-4]["stdin"]
    assert "[1/4] stage-1/add-note (apply exercise-note.yaml): ok" in result.stdout
    assert not any("new-project" in a for a in argvs), "the stage itself is not run again"


def test_exercise_of_a_stage_without_one_names_its_stage_yaml(fake_cli: FakeCli) -> None:
    result = run_apply(["exercise", "stage-2"], fake_cli.env(lab=FIXTURE_LAB))
    assert result.returncode == 2
    assert "stage-2-extra/stage.yaml: stage-2 has no exercise yet; add `exercise:`" in result.stderr
    result = run_apply(["troubleshoot"], fake_cli.env(lab=FIXTURE_LAB))
    assert result.returncode == 2 and "troubleshoot needs a stage" in result.stderr
    assert fake_cli.calls() == []


@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
@pytest.mark.parametrize(("command", "planner"), [("exercise", exercise_plan), ("troubleshoot", troubleshoot_plan)])
def test_dry_run_prints_the_blocks_and_touches_nothing(fake_cli: FakeCli, platform: str, command: str,
                                                       planner) -> None:  # noqa: ANN001
    result = run_apply([command, "stage-1", "--dry-run", "--user", "carol", "--platform", platform],
                       fake_cli.env(lab=FIXTURE_LAB))
    assert result.returncode == 0, result.stderr
    assert fake_cli.calls() == []
    lab = Lab.load(FIXTURE_LAB)
    values = lab.variables.resolve({"LAB_USER": "carol"})
    assert result.stdout == dry_run_text(lab, planner(lab.stage("stage-1")), platform, None, values)
    cli = "oc" if platform == "openshift" else "kubectl"
    if command == "troubleshoot":
        assert f"{cli} describe pods -l app=web -n ${{APP_NS}}" in result.stdout
        assert ("get route web" in result.stdout) is (platform == "openshift"), "platforms are honoured"


def test_troubleshoot_runs_every_look_and_reports_failures(fake_cli: FakeCli) -> None:
    fake_cli.rules([WHOAMI, DOMAIN,
                    {"match": ["oc", "describe", "pods"], "exit": 1, "stderr": "No resources found\n"},
                    {"match": ["oc", "get", "route", "web"], "stdout": "NAME  HOST/PORT\nweb   web.apps\n"}])
    result = run_apply(["troubleshoot", "stage-1", "--user", "dan"], fake_cli.env(lab=FIXTURE_LAB))
    assert result.returncode == 0, result.stderr
    looks = [c["argv"] for c in fake_cli.calls() if c["argv"][1] != "whoami"]
    assert looks == [["oc", "describe", "pods", "-l", "app=web", "-n", "dan-demo"],
                     ["oc", "get", "route", "web", "-n", "dan-demo"]]
    assert "stage-1/pod-pending (look): exited 1" in result.stdout and "No resources found" in result.stdout
    assert "    web   web.apps" in result.stdout
    assert "stage-1: 1 look(s) failed (reported above, not fatal)" in result.stdout


@pytest.mark.schemas
def test_an_invalid_solution_manifest_changes_nothing(fake_cli: FakeCli, tmp_path: Path) -> None:
    """The solution is validated (kubeconform) before anything runs, like every step."""
    lab = tmp_path / "lab"
    shutil.copytree(FIXTURE_LAB, lab)
    note = lab / "stage-1-demo" / "exercise-note.yaml"
    note.write_text(note.read_text(encoding="utf-8").replace("\ndata:", "\ndta:"), encoding="utf-8")
    fake_cli.rules([WHOAMI, DOMAIN, API_RESOURCES])
    env = {k: v for k, v in fake_cli.env(lab=lab).items() if k != "HANDBOOK_VALIDATOR"}
    result = run_apply(["exercise", "stage-1"], env)
    assert result.returncode == 3, result.stderr
    assert "stage-1-demo/exercise-note.yaml: document 1 (ConfigMap web-note)" in result.stderr
    assert "`dta`" in result.stderr
    assert fake_cli.calls() == []
