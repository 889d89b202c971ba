"""Stages 5, 6 and 8: the やってみよう solutions and the うまくいかないとき commands.

A solution is a list of steps that the reader (or `apply.py exercise`) runs after the stage. Checked
here: its manifests pass kubeconform, its sample outputs meet their own expectations, it changes
something, and its last steps leave the cluster exactly as the stage left it (handbook.replay).
Every troubleshooting `look` command only reads, and every long manifest carries 1-3 focus lines.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from handbook.diagrams.mermaid import symbolic_values
from handbook.lab import Lab
from handbook.manifest_check import validate_manifests
from handbook.plan import reader_steps
from handbook.replay import end_state, step_moves
from handbook.stages import Stage, _step
from handbook.steps import ApplyStep, CheckStep, Step

STAGES = ("stage-5", "stage-6", "stage-8")


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab.load()


def raw_stage(stage: Stage) -> dict[str, Any]:
    return yaml.safe_load((stage.folder / "stage.yaml").read_text(encoding="utf-8"))


def solution(stage: Stage) -> tuple[Step, ...]:
    """The exercise's solution steps, read as the stage loader reads any step."""
    problems: list[str] = []
    raws = raw_stage(stage)["exercise"]["solution"]
    steps = tuple(_step(stage.folder, stage.id, f"exercise.solution[{i}]", raw, problems)
                  for i, raw in enumerate(raws))
    assert problems == []
    return steps


def with_steps(stage: Stage, steps: tuple[Step, ...]) -> Stage:
    return Stage(**{**stage.__dict__, "steps": steps})


def state(lab: Lab, stage: Stage) -> dict:
    snapshot = end_state(step_moves(reader_steps([stage])), symbolic_values(lab))
    return {key: held.doc for key, held in snapshot.present.items()}


@pytest.mark.parametrize("stage_id", STAGES)
def test_the_solution_ends_where_the_stage_ended(lab: Lab, stage_id: str) -> None:
    stage = lab.stage(stage_id)
    steps = solution(stage)
    after_stage = state(lab, stage)
    assert state(lab, with_steps(stage, stage.steps + steps)) == after_stage
    # ... and it is not a no-op: right after its first change the cluster differs.
    first = next(i for i, s in enumerate(steps) if isinstance(s, ApplyStep))
    assert state(lab, with_steps(stage, stage.steps + steps[: first + 1])) != after_stage


@pytest.mark.parametrize("stage_id", STAGES)
def test_the_solution_check_fails_without_its_restoring_step(lab: Lab, stage_id: str) -> None:
    """The comparison above is not blind: drop the last apply and the end state differs."""
    stage = lab.stage(stage_id)
    steps = solution(stage)
    last = max(i for i, s in enumerate(steps) if isinstance(s, ApplyStep))
    cut = steps[:last] + steps[last + 1:]
    assert state(lab, with_steps(stage, stage.steps + cut)) != state(lab, stage)


@pytest.mark.parametrize("stage_id", STAGES)
def test_solution_ids_do_not_clash_with_the_stage(lab: Lab, stage_id: str) -> None:
    stage = lab.stage(stage_id)
    ids = [s.id for s in stage.steps] + [s.id for s in solution(stage)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("stage_id", STAGES)
def test_solution_samples_meet_their_own_expectations(lab: Lab, stage_id: str) -> None:
    values = lab.variables.resolve()
    for step in solution(lab.stage(stage_id)):
        if isinstance(step, CheckStep):
            assert not step.expect.substituted(values).failure(step.output), step.ref


@pytest.mark.schemas
@pytest.mark.parametrize("stage_id", STAGES)
def test_solution_manifests_pass_kubeconform(lab: Lab, stage_id: str) -> None:
    stage = lab.stage(stage_id)
    report = validate_manifests(lab, [with_steps(stage, solution(stage))])
    assert report.problems == []


READ_ONLY_VERBS = {"get", "describe", "logs"}


def reads_only(argv: list[str]) -> bool:
    """get/describe/logs, or exec of a command that only asks (pilot-agent request GET)."""
    if argv[0] != "oc":
        return False
    if argv[1] in READ_ONLY_VERBS:
        return True
    if argv[1] == "exec" and "--" in argv:
        inner = argv[argv.index("--") + 1:]
        return inner[:3] == ["pilot-agent", "request", "GET"]
    return False


def test_read_only_rule_refuses_changes() -> None:
    assert reads_only(["oc", "get", "pods"])
    assert not reads_only(["oc", "delete", "pods", "--all"])
    assert not reads_only(["oc", "exec", "x", "--", "pilot-agent", "request", "POST", "quitquitquit"])
    assert not reads_only(["oc", "exec", "x", "--", "sh", "-c", "rm -rf /tmp"])


@pytest.mark.parametrize("stage_id", STAGES)
def test_troubleshooting_looks_only_read(lab: Lab, stage_id: str) -> None:
    entries = raw_stage(lab.stage(stage_id))["troubleshooting"]
    assert entries
    for entry in entries:
        assert reads_only([str(w) for w in entry["look"]]), entry["id"]


def long_manifest_steps(stage: Stage) -> list[tuple[str, str, list]]:
    """(step id, file, focus) for every apply/patch step, solutions included, whose file exceeds 25 lines."""
    raw = raw_stage(stage)
    found = []
    for entry in [*raw["steps"], *raw["exercise"]["solution"]]:
        name = entry.get("apply") or (entry.get("patch") or {}).get("file")
        if name and len((stage.folder / name).read_text(encoding="utf-8").splitlines()) > 25:
            found.append((entry["id"], name, entry.get("focus") or []))
    return found


@pytest.mark.parametrize("stage_id", STAGES)
def test_long_manifests_say_what_to_look_at(lab: Lab, stage_id: str) -> None:
    found = long_manifest_steps(lab.stage(stage_id))
    assert found, "no long manifest found: the line count is wrong"
    assert [(i, f) for i, f, focus in found if not 1 <= len(focus) <= 3] == []
