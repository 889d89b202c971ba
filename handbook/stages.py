"""Where a stage is defined: ``manifests/stage-<N>-<slug>/stage.yaml`` loaded into a ``Stage``.

The fields and their shapes are ``manifests/schema/stage.schema.json`` (checked by ``lab_schema``);
this module checks what a schema cannot (unique step ids, files that exist) and builds the steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import lab_schema, yaml_load
from .errors import DefinitionError, UsageError
from .frame import Frame, load_frame
from .manifests import Document, split_documents
from .paths import relative
from .platforms import PLATFORMS
from .steps import (
    ApplyStep,
    CheckStep,
    Expectation,
    ManualStep,
    PatchStep,
    RunStep,
    Step,
    WaitStep,
)

FOLDER_NAME = re.compile(r"stage-(\d+)-[a-z0-9-]+")
STEP_KINDS = ("apply", "patch", "run", "wait", "check", "manual")


@dataclass(frozen=True)
class ApiRef:
    """A resource type a stage needs the cluster to serve."""

    api_version: str
    kind: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    def __str__(self) -> str:
        return f"{self.kind} ({self.api_version})"


@dataclass(frozen=True)
class Stage:
    id: str  # stage-1
    number: int
    folder: Path
    title: str
    summary: str
    minutes: int
    audience: str
    before: tuple[str, ...]
    requires: tuple[ApiRef, ...]
    steps: tuple[Step, ...]
    frame: Frame = Frame()

    @property
    def definition(self) -> str:
        return relative(self.folder / "stage.yaml")

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        known = ", ".join(s.id for s in self.steps)
        raise UsageError(f"{self.definition}: no step with id {step_id!r}; the steps are: {known}")

    def steps_for(self, platform: str) -> list[Step]:
        return [step for step in self.steps if step.applies_to(platform)]

    @property
    def all_steps(self) -> tuple[Step, ...]:
        """The stage's steps, its exercise solution and its troubleshooting looks: every command it defines."""
        return (*self.steps, *self.frame.solution, *self.frame.looks)

    def documents(self, platform: str | None = None, *, with_solution: bool = False) -> list[Document]:
        """Every manifest document that this stage's apply steps send (on ``platform``, if given), and with
        ``with_solution`` its exercise solution's too (what validation checks)."""
        documents: list[Document] = []
        for step in (*self.steps, *(self.frame.solution if with_solution else ())):
            if platform is not None and not step.applies_to(platform):
                continue
            if isinstance(step, ApplyStep):
                documents.extend(split_documents(relative(self.folder / step.file), step.body))
        return documents


def load_stage(folder: Path) -> Stage:
    """A stage folder's ``stage.yaml``, checked against ``manifests/schema/stage.schema.json``, and its files."""
    match = FOLDER_NAME.fullmatch(folder.name)
    if not match:
        raise DefinitionError([f"{relative(folder)}: a stage folder is named stage-<N>-<slug>"])
    path = folder / "stage.yaml"
    where = relative(path)
    try:
        raw = yaml_load.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError([f"{where}: cannot read: {exc}"]) from exc
    problems = lab_schema.problems("stage", where, raw)
    if problems:
        raise DefinitionError(problems)
    stage_id = f"stage-{int(match.group(1))}"
    steps: list[Step] = []
    for i, raw_step in enumerate(raw["steps"]):
        at = f"{where}: {lab_schema.field_path(raw, ['steps', i])}"
        if any(s.id == raw_step["id"] for s in steps):
            problems.append(f"{at}.id: duplicate step id {raw_step['id']!r}; give each step of a stage its own id")
        steps.append(_step(folder, stage_id, at, raw_step, problems))
    frame = load_frame(raw, where, stage_id, [s.id for s in steps],
                       lambda at, raw_step, found: _step(folder, stage_id, at, raw_step, found), problems)
    if problems:
        raise DefinitionError(problems)
    return Stage(
        id=stage_id,
        number=int(match.group(1)),
        folder=folder,
        title=raw["title"].strip(),
        summary=raw["summary"].strip(),
        minutes=int(raw.get("minutes") or 0),
        audience=raw.get("audience", "user"),
        before=tuple(raw.get("before") or ()),
        requires=tuple(ApiRef(str(r["apiVersion"]), str(r["kind"])) for r in raw.get("requires") or ()),
        steps=tuple(steps),
        frame=frame,
    )


def _words(value: list | None) -> tuple[str, ...]:
    return tuple(str(w) for w in value or ())


def _step(folder: Path, stage_id: str, at: str, raw: dict[str, Any], problems: list[str]) -> Step:
    """The Step of one schema-valid entry of ``steps``; files it names are read (a missing one is a problem)."""
    common: dict[str, Any] = {
        "id": raw["id"],
        "stage_id": stage_id,
        "platforms": tuple(raw.get("platforms") or PLATFORMS),
        "demo": raw.get("demo", False),
        "terminal": raw.get("terminal", "same"),
        "only_reason": raw.get("only_reason"),
    }
    kind = next(k for k in STEP_KINDS if k in raw)
    value = raw[kind]
    if kind == "apply":
        body = _read_file(folder, f"{at}.apply", value, problems)
        return ApplyStep(**common, file=value, namespace=raw.get("namespace"), body=body, undo=_words(raw.get("undo")),
                         focus=_words(raw.get("focus")))
    if kind == "patch":
        body = _read_file(folder, f"{at}.patch.file", value["file"], problems)
        return PatchStep(**common, resource=value["resource"], namespace=value.get("namespace"),
                         patch_type=value.get("type", "strategic"), file=value["file"], body=body,
                         focus=_words(raw.get("focus")))
    if kind == "run":
        return RunStep(**common, argv=_words(value), unless=_words(raw.get("unless")), undo=_words(raw.get("undo")))
    if kind == "wait":
        return WaitStep(**common, rollout=value.get("rollout"), condition=value.get("for"),
                        resource=value.get("resource"), name=value.get("name"), all=value.get("all", False),
                        selector=value.get("selector"), namespace=value.get("namespace"), timeout=value["timeout"])
    if kind == "check":
        return CheckStep(**common, argv=_words(value["run"]), output=value["output"].rstrip("\n"),
                         expect=Expectation(**value["expect"]), unconfirmed=raw.get("unconfirmed"))
    return ManualStep(**common, text=value.strip())


def _read_file(folder: Path, at: str, name: str, problems: list[str]) -> str:
    path = folder / name
    if path.parent != folder:
        problems.append(f"{at}: {name!r}: name a file directly inside {relative(folder)}")
        return ""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        problems.append(f"{at}: {relative(path)} does not exist; add the file or fix the name")
        return ""
    # A heredoc always ends its last line; send the same bytes from apply.py.
    return text if text.endswith("\n") else text + "\n"
