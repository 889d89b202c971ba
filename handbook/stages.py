"""Where a stage is defined: ``manifests/stage-<N>-<slug>/stage.yaml`` loaded into a ``Stage``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import DefinitionError, UsageError
from .manifests import Document, split_documents
from .paths import relative
from .steps import (
    PLATFORMS,
    ApplyStep,
    CheckStep,
    Expectation,
    ManualStep,
    PatchStep,
    RunStep,
    Step,
    WaitStep,
    parse_duration,
)

FOLDER_NAME = re.compile(r"stage-(\d+)-[a-z0-9-]+")
STEP_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
STEP_KINDS = ("apply", "patch", "run", "wait", "check", "manual")
_STAGE_KEYS = {"title", "summary", "minutes", "audience", "before", "requires", "steps"}
_COMMON_STEP_KEYS = {"id", "platforms", "demo"}
_STEP_KEYS = {
    "apply": {"apply", "namespace", "undo"},
    "patch": {"patch"},
    "run": {"run", "unless", "undo"},
    "wait": {"wait"},
    "check": {"check", "unconfirmed"},
    "manual": {"manual"},
}
_PATCH_KEYS = {"resource", "namespace", "type", "file"}
_WAIT_KEYS = {"rollout", "for", "resource", "name", "all", "selector", "namespace", "timeout"}
_CHECK_KEYS = {"run", "output", "expect"}
_EXPECT_KEYS = {"regex", "equals", "absent"}


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

    def documents(self, platform: str | None = None) -> list[Document]:
        """Every manifest document that this stage's apply steps send (on ``platform``, if given)."""
        documents: list[Document] = []
        for step in self.steps if platform is None else self.steps_for(platform):
            if isinstance(step, ApplyStep):
                documents.extend(split_documents(relative(self.folder / step.file), step.body))
        return documents


class _Reader:
    """Collects every problem of one stage.yaml instead of stopping at the first."""

    def __init__(self, path: Path):
        self.where = relative(path)
        self.problems: list[str] = []

    def problem(self, field_path: str, message: str) -> None:
        self.problems.append(f"{self.where}: {field_path}: {message}")

    def keys(self, field_path: str, mapping: dict, allowed: set[str]) -> None:
        unknown = sorted(set(mapping) - allowed)
        if unknown:
            self.problem(field_path, f"unknown key(s) {unknown}; allowed: {sorted(allowed)}")

    def words(self, field_path: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(w, str | int | float) for w in value):
            self.problem(field_path, "expected a non-empty list of words, e.g. [oc, get, pods] (never a shell string)")
            return ()
        return tuple(str(w) for w in value)


def load_stage(folder: Path) -> Stage:
    match = FOLDER_NAME.fullmatch(folder.name)
    if not match:
        raise DefinitionError([f"{relative(folder)}: a stage folder is named stage-<N>-<slug>"])
    path = folder / "stage.yaml"
    reader = _Reader(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError([f"{reader.where}: cannot read: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise DefinitionError([f"{reader.where}: expected a mapping with title, summary and steps"])
    stage_id = f"stage-{int(match.group(1))}"
    reader.keys("(top)", raw, _STAGE_KEYS)
    for key in ("title", "summary"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            reader.problem(key, "required text")
    audience = raw.get("audience", "user")
    if audience not in ("user", "admin"):
        reader.problem("audience", "expected user or admin")
    requires = []
    for i, item in enumerate(raw.get("requires") or []):
        if not isinstance(item, dict) or set(item) != {"apiVersion", "kind"}:
            reader.problem(f"requires[{i}]", "expected {apiVersion: ..., kind: ...}")
            continue
        requires.append(ApiRef(str(item["apiVersion"]), str(item["kind"])))
    steps: list[Step] = []
    seen: set[str] = set()
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        reader.problem("steps", "expected a non-empty list of steps")
        raw_steps = []
    for i, raw_step in enumerate(raw_steps):
        step = _load_step(reader, folder, stage_id, f"steps[{i}]", raw_step)
        if step is None:
            continue
        if step.id in seen:
            reader.problem(f"steps[{i}].id", f"duplicate step id {step.id!r}")
        seen.add(step.id)
        steps.append(step)
    if reader.problems:
        raise DefinitionError(reader.problems)
    return Stage(
        id=stage_id,
        number=int(match.group(1)),
        folder=folder,
        title=raw["title"].strip(),
        summary=raw["summary"].strip(),
        minutes=int(raw.get("minutes") or 0),
        audience=audience,
        before=tuple(str(b) for b in raw.get("before") or ()),
        requires=tuple(requires),
        steps=tuple(steps),
    )


def _load_step(reader: _Reader, folder: Path, stage_id: str, at: str, raw: Any) -> Step | None:
    if not isinstance(raw, dict):
        reader.problem(at, "expected a mapping")
        return None
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not STEP_ID.fullmatch(step_id):
        reader.problem(f"{at}.id", "required: lower-case letters, digits and '-'")
        return None
    at = f"{at} ({step_id})"
    kinds = [k for k in STEP_KINDS if k in raw]
    if len(kinds) != 1:
        reader.problem(at, f"give exactly one of {', '.join(STEP_KINDS)}")
        return None
    kind = kinds[0]
    reader.keys(at, raw, _COMMON_STEP_KEYS | _STEP_KEYS[kind])
    platforms = tuple(raw.get("platforms") or PLATFORMS)
    for platform in platforms:
        if platform not in PLATFORMS:
            reader.problem(f"{at}.platforms", f"unknown platform {platform!r}; known: {', '.join(PLATFORMS)}")
    common: dict[str, Any] = {
        "id": step_id,
        "stage_id": stage_id,
        "platforms": platforms,
        "demo": bool(raw.get("demo", False)),
    }
    value = raw[kind]
    if kind == "apply":
        body = _read_file(reader, folder, f"{at}.apply", value)
        undo = reader.words(f"{at}.undo", raw["undo"]) if "undo" in raw else ()
        return ApplyStep(**common, file=str(value), namespace=_opt(raw.get("namespace")), body=body, undo=undo)
    if kind == "patch":
        if not isinstance(value, dict):
            reader.problem(f"{at}.patch", "expected {resource, namespace, type, file}")
            return None
        reader.keys(f"{at}.patch", value, _PATCH_KEYS)
        patch_type = value.get("type", "strategic")
        if patch_type not in ("strategic", "merge", "json"):
            reader.problem(f"{at}.patch.type", "expected strategic, merge or json")
        if not value.get("resource"):
            reader.problem(f"{at}.patch.resource", "required, e.g. deployment/front-end")
        body = _read_file(reader, folder, f"{at}.patch.file", value.get("file"))
        return PatchStep(
            **common,
            resource=str(value.get("resource", "")),
            namespace=_opt(value.get("namespace")),
            patch_type=patch_type,
            file=str(value.get("file")),
            body=body,
        )
    if kind == "run":
        unless = reader.words(f"{at}.unless", raw["unless"]) if "unless" in raw else ()
        undo = reader.words(f"{at}.undo", raw["undo"]) if "undo" in raw else ()
        return RunStep(**common, argv=reader.words(f"{at}.run", value), unless=unless, undo=undo)
    if kind == "wait":
        if not isinstance(value, dict):
            reader.problem(f"{at}.wait", "expected a mapping with rollout, or for + resource")
            return None
        reader.keys(f"{at}.wait", value, _WAIT_KEYS)
        timeout = str(value.get("timeout", ""))
        try:
            parse_duration(timeout)
        except ValueError:
            reader.problem(f"{at}.wait.timeout", "required, a duration such as 300s or 10m")
        if bool(value.get("rollout")) == bool(value.get("for")):
            reader.problem(f"{at}.wait", "give either rollout: <type/name>, or for: <condition> with resource")
        if value.get("for") and not value.get("resource"):
            reader.problem(f"{at}.wait.resource", "required with for:, e.g. deployment")
        if value.get("for") and sum(bool(value.get(k)) for k in ("name", "all", "selector")) != 1:
            reader.problem(f"{at}.wait", "with for:, give exactly one of name, all: true, or selector")
        return WaitStep(
            **common,
            rollout=_opt(value.get("rollout")),
            condition=_opt(value.get("for")),
            resource=_opt(value.get("resource")),
            name=_opt(value.get("name")),
            all=bool(value.get("all", False)),
            selector=_opt(value.get("selector")),
            namespace=_opt(value.get("namespace")),
            timeout=timeout,
        )
    if kind == "check":
        if not isinstance(value, dict):
            reader.problem(f"{at}.check", "expected {run, output, expect}")
            return None
        reader.keys(f"{at}.check", value, _CHECK_KEYS)
        expect = value.get("expect")
        if not isinstance(expect, dict) or not expect or set(expect) - _EXPECT_KEYS:
            reader.problem(f"{at}.check.expect", "expected one or more of regex, equals, absent")
            expect = {}
        for key in ("regex", "absent"):
            if key in expect:
                try:
                    re.compile(str(expect[key]))
                except re.error as exc:
                    reader.problem(f"{at}.check.expect.{key}", f"not a valid regex: {exc}")
        if not isinstance(value.get("output"), str):
            reader.problem(f"{at}.check.output", "required: the output the reader should see")
        unconfirmed = raw.get("unconfirmed")
        if unconfirmed is not None and (not isinstance(unconfirmed, str) or not unconfirmed.strip()):
            reader.problem(
                f"{at}.unconfirmed",
                "expected a sentence (Japanese) saying why the sample output cannot be confirmed",
            )
        return CheckStep(
            **common,
            argv=reader.words(f"{at}.check.run", value.get("run")),
            output=str(value.get("output", "")).rstrip("\n"),
            expect=Expectation(**{k: str(v) for k, v in expect.items()}),
            unconfirmed=unconfirmed.strip() if isinstance(unconfirmed, str) and unconfirmed.strip() else None,
        )
    if not isinstance(value, str) or not value.strip():
        reader.problem(f"{at}.manual", "expected the text of what the reader does")
        return None
    return ManualStep(**common, text=value.strip())


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _read_file(reader: _Reader, folder: Path, at: str, name: Any) -> str:
    if not isinstance(name, str) or not name:
        reader.problem(at, "expected a file name in the stage folder")
        return ""
    path = folder / name
    if path.parent != folder:
        reader.problem(at, f"{name!r}: name a file directly inside {relative(folder)}")
        return ""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        reader.problem(at, f"{relative(path)} does not exist")
        return ""
    # A heredoc always ends its last line; send the same bytes from apply.py.
    return text if text.endswith("\n") else text + "\n"
