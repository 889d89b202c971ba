"""What a run will do, worked out without touching a cluster: the steps of a catch-up run, the
steps a reader follows on the pages, and the commands of a reset.

Pure functions of the lab; ``execute`` runs what they return, ``replay`` follows it on paper,
``blocks`` shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .errors import UsageError
from .frame import Frame
from .stages import Stage
from .steps import ApplyStep, Command, RunStep, Step


@dataclass(frozen=True)
class Planned:
    stage: Stage
    step: Step


def executable_steps(plan: list[Stage], platform: str) -> list[Planned]:
    """The steps a catch-up run executes: not checks, not manual steps, not demonstrations."""
    return [Planned(s, step) for s in plan for step in s.steps_for(platform) if step.executes and not step.demo]


def reader_steps(plan: list[Stage], platform: str | None = None) -> list[Planned]:
    """Every step a reader follows on the pages, demonstrations included (``platform`` None: every platform's)."""
    return [Planned(s, step) for s in plan for step in (s.steps if platform is None else s.steps_for(platform))]


def reset_stages(stages: Sequence[Stage], from_stage: Stage, keep: list[Stage] | None = None) -> list[Stage]:
    """The stages of ``stages`` whose objects a reset removes: ``from_stage`` and later ones, minus ``keep``."""
    kept = {s.id for s in keep or []}
    return [s for s in stages if s.number >= from_stage.number and s.id not in kept]


def reset_commands(
    stages: list[Stage], platform: str, *, delete_namespaces: bool = False
) -> list[tuple[str, Command]]:
    """What removes everything ``stages`` created, latest first.

    Demonstrations are left out: a catch-up run never makes them, and each demo cleans up after
    itself within its stage. Namespaces (projects) are kept unless ``delete_namespaces``: the
    lab cannot tell a namespace it created from one an instructor prepared, and a learner may
    not be allowed to delete one.
    """
    commands: list[tuple[str, Command]] = []
    for stage in reversed(stages):
        for step in reversed(stage.steps_for(platform)):
            if step.demo:
                continue
            if isinstance(step, ApplyStep):
                commands.append((step.ref, step.delete_command()))
            elif isinstance(step, RunStep) and (undo := step.undo_command()):
                commands.append((step.ref, undo))
    if not delete_namespaces:
        commands = [(ref, command) for ref, command in commands if not command.deletes_namespace]
    return commands


def exercise_plan(stage: Stage) -> list[Stage]:
    """What ``apply.py exercise stage-N`` runs after the stage: its exercise solution, as a stage of its own
    (same id and folder, so that blocks, validation and execution treat the solution's steps as steps)."""
    exercise = stage.frame.exercise
    if exercise is None:
        raise UsageError(f"{stage.definition}: {stage.id} has no exercise yet; add `exercise:` with its solution")
    return [replace(stage, title=f"{stage.title} / やってみよう: {exercise.title}", steps=exercise.solution,
                    frame=Frame())]


def troubleshoot_plan(stage: Stage) -> list[Stage]:
    """What ``apply.py troubleshoot stage-N`` shows and runs: the stage's `look` commands as its steps."""
    looks = stage.frame.looks
    if not looks:
        raise UsageError(f"{stage.definition}: {stage.id} has no troubleshooting yet; add `troubleshooting:`")
    return [replace(stage, title=f"{stage.title} / うまくいかないとき", steps=looks, frame=Frame())]


def look_commands(plan: list[Stage], platform: str) -> list[tuple[str, Command]]:
    """The read-only commands of ``troubleshoot_plan`` for ``platform``, in order, with their refs."""
    return [(step.ref, command) for stage in plan for step in stage.steps_for(platform)
            if (command := step.command()) is not None]
