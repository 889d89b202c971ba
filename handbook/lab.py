"""The whole lab: variables, stages and the declared call graph, loaded and checked together."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from . import yaml_load
from .errors import DefinitionError, UsageError
from .manifests import Document, text_problems
from .paths import MANIFESTS_DIR, relative
from .plan import reader_steps
from .prose import unknown_links
from .replay import end_state, step_moves
from .stages import FOLDER_NAME, Stage, load_stage
from .steps import ApplyStep, ManualStep, PatchStep, RunStep
from .variables import VariableCatalog, references

STAGE_ID = re.compile(r"stage-(\d+)")


@dataclass(frozen=True)
class CallEdge:
    """One call that Sock Shop makes, from one workload to another."""

    source: str
    target: str
    protocol: str
    port: str = ""


@dataclass(frozen=True)
class Lab:
    root: Path
    variables: VariableCatalog
    stages: tuple[Stage, ...]  # sorted by number
    call_graph: tuple[CallEdge, ...]

    @classmethod
    def load(cls, root: Path = MANIFESTS_DIR) -> Lab:
        variables = VariableCatalog.load(root / "variables.yaml")
        problems: list[str] = []
        stages: list[Stage] = []
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("stage-")):
            if not FOLDER_NAME.fullmatch(folder.name):
                problems.append(f"{relative(folder)}: a stage folder is named stage-<N>-<slug>")
                continue
            try:
                stages.append(load_stage(folder))
            except DefinitionError as exc:
                problems.extend(exc.problems)
        stages.sort(key=lambda s: s.number)
        numbers = [s.number for s in stages]
        for number in {n for n in numbers if numbers.count(n) > 1}:
            problems.append(f"{relative(root)}: more than one folder for stage-{number}")
        edges = _load_call_graph(root / "call-graph.yaml", problems)
        lab = cls(root=root, variables=variables, stages=tuple(stages), call_graph=tuple(edges))
        problems.extend(lab.lint())
        if problems:
            raise DefinitionError(problems)
        return lab

    def lint(self) -> list[str]:
        """Rules that span files: declared variables, heredoc-safe text, before-lists."""
        problems: list[str] = []
        known = {s.id for s in self.stages}
        for stage in self.stages:
            for before in stage.before:
                if before not in known:
                    problems.append(f"{stage.definition}: before: unknown stage {before!r}")
            for step in stage.all_steps:  # the exercise solution and the looks too
                for word in step.texts():
                    for name in references(word):
                        if name not in self.variables:
                            problems.append(
                                f"{stage.definition}: step {step.id}: ${{{name}}} is not declared in "
                                "manifests/variables.yaml"
                            )
                if isinstance(step, ManualStep):
                    for step_id in unknown_links(step.text, (s.id for s in stage.all_steps)):
                        problems.append(
                            f"{stage.definition}: step {step.id}: the link (step:{step_id}) names no step of "
                            f"{stage.id}"
                        )
                if isinstance(step, ApplyStep | PatchStep) and step.body:
                    source = relative(stage.folder / step.file)
                    problems.extend(text_problems(source, step.body, self.variables.variables))
                if isinstance(step, RunStep | ApplyStep | PatchStep) or step.kind == "look":
                    for word in step.texts():
                        if "$(" in word or "`" in word:
                            problems.append(
                                f"{stage.definition}: step {step.id}: {word!r} is shell syntax; "
                                "commands are argument lists run without a shell"
                            )
        return problems

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        known = ", ".join(s.id for s in self.stages)
        raise UsageError(f"unknown stage {stage_id!r}; the stages are: {known}")

    def plan(self, stage_id: str, *, only: bool = False) -> list[Stage]:
        """The stages that ``apply.py <stage_id>`` runs: cumulative from stage 1; stage 0 only when named."""
        target = self.stage(stage_id)
        if only or target.number == 0:
            return [target]
        return [s for s in self.stages if 1 <= s.number <= target.number]

    def stages_upto(self, stage_id: str) -> list[Stage]:
        """Every stage up to and including ``stage_id``, stage 0 too (what exists on the cluster by then)."""
        target = self.stage(stage_id)
        return [s for s in self.stages if s.number <= target.number]

    def variables_for(self, stage: Stage, platform: str | None = None) -> list[str]:
        """The variables a stage's page must export: every ${NAME} its steps (exercise and looks included) use,
        plus what they derive from (``platform``: the steps of that platform, and what the variables derive
        from there)."""
        names: list[str] = []
        for step in stage.all_steps:
            if platform is not None and not step.applies_to(platform):
                continue
            for word in step.texts():
                names.extend(references(word))
            if isinstance(step, ApplyStep | PatchStep):
                names.extend(references(step.body))
        catalog = self.variables if platform is None else self.variables.for_platform(platform)
        return catalog.closure(dict.fromkeys(names))

    def documents(self, stages: list[Stage] | None = None, platform: str | None = None) -> list[Document]:
        documents: list[Document] = []
        for stage in stages if stages is not None else self.stages:
            documents.extend(stage.documents(platform, with_solution=True))  # solutions are validated too
        return documents

    def objects(self, stages: list[Stage], values: Mapping[str, str], platform: str | None = None) -> list[dict]:
        """What the cluster holds after a reader follows every step of ``stages``, demonstrations included,
        with ``values`` substituted (``platform`` None: the steps of every platform).

        The end state of ``handbook.replay``: objects in the order they were last applied, without the ones
        a step deleted. An object without ``metadata.namespace`` has the namespace its step applied it to.
        """
        return end_state(step_moves(reader_steps(stages, platform)), values).objects()


def _load_call_graph(path: Path, problems: list[str]) -> list[CallEdge]:
    if not path.exists():
        return []
    where = relative(path)
    try:
        raw = yaml_load.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problems.append(f"{where}: not valid YAML: {exc}")
        return []
    edges: list[CallEdge] = []
    for i, item in enumerate((raw or {}).get("edges") or []):
        if not isinstance(item, dict) or not item.get("from") or not item.get("to"):
            problems.append(f"{where}: edges[{i}]: expected from, to and protocol")
            continue
        edges.append(
            CallEdge(str(item["from"]), str(item["to"]), str(item.get("protocol", "")), str(item.get("port", "")))
        )
    return edges


@cache
def load_lab() -> Lab:
    """The repository's lab, loaded once per process (the site build renders many macros)."""
    return Lab.load()
