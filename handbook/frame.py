"""The teaching frame of a stage, read from ``stage.yaml``: the goal box (goal, outcome, core) and the
end of the page (recap, questions, exercise, troubleshooting).

The shapes are checked by ``manifests/schema/stage.schema.json``; this module checks what a schema
cannot: exercise solution steps are real steps (ids unique across the stage, files read like any
other step's) and every troubleshooting ``look`` is a read-only command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import lab_schema
from .platforms import CLUSTER_CLIS, PLATFORMS
from .steps import Command, Step

# The frame fields every stage page needs; the completeness test names each one a stage lacks.
FRAME_FIELDS = ("goal", "outcome", "core", "recap", "questions", "exercise", "troubleshooting")

# Read-only subcommands of the cluster CLI (oc/kubectl) that a `look` may use.
_READ_ONLY = frozenset({"get", "describe", "logs", "events", "top", "explain", "api-resources", "api-versions",
                        "version", "whoami", "status", "cluster-info"})
# Tools a `look` may run inside a container with `exec ... --`, reading only.
_READ_ONLY_TOOLS = frozenset({"cat", "ls", "env", "printenv", "curl", "nslookup", "getent", "id"})
# istioctl subcommands that only read.
_ISTIOCTL_READ_ONLY = frozenset({"proxy-status", "ps", "proxy-config", "pc", "analyze", "version"})
_CURL_WRITES = frozenset({"-X", "--request", "-d", "--data", "--data-raw", "--data-binary", "-F", "--form",
                          "-T", "--upload-file"})


@dataclass(frozen=True)
class LookStep(Step):
    """A troubleshooting ``look``: a read-only command, shown like a step's block and run by
    ``apply.py troubleshoot``; never part of a catch-up run."""

    argv: tuple[str, ...] = ()

    kind = "look"
    executes = False

    def command(self) -> Command:
        return Command(self.argv)


@dataclass(frozen=True)
class Question:
    question: str
    answer: str


@dataclass(frozen=True)
class Exercise:
    title: str
    task: str
    hint: str | None
    solution: tuple[Step, ...]


@dataclass(frozen=True)
class Trouble:
    id: str
    symptom: str
    cause: str
    fix: str
    look: LookStep

    @property
    def platforms(self) -> tuple[str, ...]:
        return self.look.platforms


@dataclass(frozen=True)
class Frame:
    """What a stage page shows around its steps; every field may be absent until a stage is written."""

    goal: str | None = None
    outcome: str | None = None
    core: bool | None = None
    recap: tuple[str, ...] = ()
    questions: tuple[Question, ...] = ()
    exercise: Exercise | None = None
    troubleshooting: tuple[Trouble, ...] = ()

    def missing(self) -> list[str]:
        """The frame fields this stage does not give yet, in FRAME_FIELDS order."""
        return [name for name in FRAME_FIELDS if getattr(self, name) in (None, ())]

    @property
    def solution(self) -> tuple[Step, ...]:
        return self.exercise.solution if self.exercise else ()

    @property
    def looks(self) -> tuple[LookStep, ...]:
        return tuple(t.look for t in self.troubleshooting)


def look_problem(argv: tuple[str, ...]) -> str | None:
    """Why ``argv`` is not a read-only command, or None when it only reads."""
    if not argv:
        return "the command is empty"
    tool, words = argv[0], [w for w in argv[1:] if not w.startswith("-")]
    if tool in CLUSTER_CLIS:
        if words[:2] == ["auth", "can-i"] or (words and words[0] in _READ_ONLY):
            return None
        if words[:1] == ["exec"]:
            after = list(argv[argv.index("--") + 1:]) if "--" in argv else []
            if after and after[0] in _READ_ONLY_TOOLS and not (after[0] == "curl" and _CURL_WRITES & set(after)):
                return None
            if after[:3] == ["pilot-agent", "request", "GET"]:  # a GET on the sidecar's Envoy admin API
                return None
            return ("exec runs a tool that may change something; use `-- <tool>` with one of "
                    + ", ".join(sorted(_READ_ONLY_TOOLS)) + " (curl without -X/-d), or pilot-agent request GET")
        return (f"`{tool} {' '.join(words[:1])}` may change the cluster; use get, describe, logs, events, "
                "auth can-i or exec of a read-only tool")
    if tool == "istioctl" and words and words[0] in _ISTIOCTL_READ_ONLY:
        return None
    if tool == "curl" and not _CURL_WRITES & set(argv):
        return None
    return f"{tool!r} is not a read-only command; use {'/'.join(CLUSTER_CLIS)} get/describe/logs, istioctl or curl"


StepBuilder = Callable[[str, dict[str, Any], list[str]], Step]


def load_frame(raw: dict[str, Any], where: str, stage_id: str, step_ids: list[str], build_step: StepBuilder,
               problems: list[str]) -> Frame:
    """The frame of one schema-valid ``stage.yaml`` (``raw``); problems are appended, naming the field path.

    ``step_ids`` are the stage's step ids; ``build_step(at, raw_step, problems)`` makes a Step as the
    stage's own steps are made (files read, a missing one is a problem).
    """
    seen = list(step_ids)

    def unique(at: str, item_id: str) -> None:
        if item_id in seen:
            problems.append(f"{at}.id: duplicate id {item_id!r}; the steps, the exercise solution and the "
                            "troubleshooting entries of a stage each need their own id")
        seen.append(item_id)

    exercise = None
    if (raw_exercise := raw.get("exercise")) is not None:
        solution: list[Step] = []
        for i, raw_step in enumerate(raw_exercise["solution"]):
            at = f"{where}: {lab_schema.field_path(raw, ['exercise', 'solution', i])}"
            unique(at, raw_step["id"])
            solution.append(build_step(at, raw_step, problems))
        hint = raw_exercise.get("hint")
        exercise = Exercise(raw_exercise["title"].strip(), raw_exercise["task"].strip(),
                            hint.strip() if hint else None, tuple(solution))
    troubles: list[Trouble] = []
    for i, item in enumerate(raw.get("troubleshooting") or ()):
        at = f"{where}: {lab_schema.field_path(raw, ['troubleshooting', i])}"
        unique(at, item["id"])
        argv = tuple(str(w) for w in item["look"])
        if why := look_problem(argv):
            problems.append(f"{at}.look: {why}")
        look = LookStep(id=item["id"], stage_id=stage_id, platforms=tuple(item.get("platforms") or PLATFORMS),
                        argv=argv)
        troubles.append(Trouble(item["id"], item["symptom"].strip(), item["cause"].strip(), item["fix"].strip(),
                                look))
    return Frame(
        goal=raw["goal"].strip() if raw.get("goal") else None,
        outcome=raw["outcome"].strip() if raw.get("outcome") else None,
        core=raw.get("core"),
        recap=tuple(r.strip() for r in raw.get("recap") or ()),
        questions=tuple(Question(q["question"].strip(), q["answer"].strip()) for q in raw.get("questions") or ()),
        exercise=exercise,
        troubleshooting=tuple(troubles),
    )
