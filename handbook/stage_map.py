"""The home page's map of the stages: what each teaches, how long it takes, who does it and what
must be done before it, generated from ``manifests/stage-*/stage.yaml`` and the pages' front matter.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from .errors import DefinitionError
from .lab import Lab
from .paths import relative
from .stages import Stage

AUDIENCE_LABELS = {"user": "受講者", "admin": "クラスター管理者"}
CORE_LABELS = {True: "コア (半日コース)", False: "オプション"}


def stage_pages(docs_dir: Path) -> dict[str, str]:
    """stage id -> the page's path inside docs/, read from each page's ``stage:`` front matter."""
    pages: dict[str, str] = {}
    for path in sorted(docs_dir.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        if not text.startswith("---\n"):
            continue
        head = text.split("---\n", 2)
        if len(head) < 3:
            continue
        try:
            meta = yaml.safe_load(head[1]) or {}
        except yaml.YAMLError as exc:
            raise DefinitionError([f"{relative(path)}: the front matter is not valid YAML: {exc}"]) from exc
        stage_id = meta.get("stage") if isinstance(meta, dict) else None
        if stage_id:
            if stage_id in pages:
                raise DefinitionError(
                    [f"{relative(path)}: stage: {stage_id} is also the stage of docs/{pages[stage_id]}; "
                     "give each stage exactly one page"]
                )
            pages[str(stage_id)] = path.relative_to(docs_dir).as_posix()
    return pages


_WIDE = "\u3000-\u30ff\u3400-\u9fff\uff00-\uffef"
_BREAK_BETWEEN_WIDE = re.compile(f"(?<=[{_WIDE}])\\s+(?=[{_WIDE}])")


def join_lines(text: str) -> str:
    """One line of text: YAML folds lines with a space, which Japanese text must not get between characters."""
    return " ".join(_BREAK_BETWEEN_WIDE.sub("", text.strip()).split())


def _stage_name(stage: Stage) -> str:
    return f"ステージ {stage.number}"


def stage_link(stage: Stage, pages: Mapping[str, str], text: str, from_page: str) -> str:
    """A Markdown link to the stage's page (MkDocs checks it in strict mode), or plain text without a page."""
    page = pages.get(stage.id)
    if page is None:
        return text
    depth = from_page.count("/")
    return f"[{text}]({'../' * depth}{page})"


def _prerequisites(lab: Lab, stage: Stage) -> list[Stage]:
    """The stages named in ``before:``, plus the previous learner stage (learner stages build on each other)."""
    by_id = {s.id: s for s in lab.stages}
    needed = {by_id[b].id: by_id[b] for b in stage.before if b in by_id}
    if stage.audience == "user":
        earlier = [s for s in lab.stages if s.audience == "user" and s.number < stage.number]
        if earlier:
            needed.setdefault(earlier[-1].id, earlier[-1])
    return sorted(needed.values(), key=lambda s: s.number)


def path_minutes(lab: Lab) -> tuple[int, int]:
    """The learner's time (minutes) on the core path (stages with ``core: true``) and on the full path."""
    learner = [s for s in lab.stages if s.audience == "user"]
    return sum(s.minutes for s in learner if s.frame.core), sum(s.minutes for s in learner)


def _core_class(stage: Stage) -> str:
    if stage.frame.core is None:
        return ""
    return " lab-core" if stage.frame.core else " lab-optional"


def render_stage_map(lab: Lab, pages: Mapping[str, str], from_page: str = "index.md") -> str:
    """The stage map as Markdown (with md_in_html blocks), one card per stage in order."""
    core_minutes, full_minutes = path_minutes(lab)
    lines = [
        '<div class="lab-stage-map" markdown>',
        "",
        f"受講者のステージは、コアコース (半日) でおよそ {core_minutes} 分、全ステージでおよそ {full_minutes} 分です。"
        + (
            "クラスター管理者のステージは、ワークショップの前に管理者が一度だけ実施します。"
            if any(s.audience == "admin" for s in lab.stages)
            else ""
        ),
        "",
    ]
    for stage in lab.stages:
        needed = _prerequisites(lab, stage)
        before = "、".join(stage_link(s, pages, _stage_name(s), from_page) for s in needed) if needed else "なし"
        heading = f"{_stage_name(stage)}: {html.escape(stage.title, quote=False)}"
        summary = html.escape(join_lines(stage.summary), quote=False)  # text from stage.yaml, never HTML
        lines += [
            f'<section class="lab-stage-card lab-audience-{stage.audience}{_core_class(stage)}" '
            f'data-stage="{stage.id}" markdown>',
            "",
            "### " + stage_link(stage, pages, heading, from_page),
            "",
            summary,
            "",
            '<div class="lab-stage-facts" markdown>',
            "",
            f"- **所要時間**: 約 {stage.minutes} 分",
            *([f"- **区分**: {CORE_LABELS[stage.frame.core]}"] if stage.frame.core is not None else []),
            f"- **実施する人**: {AUDIENCE_LABELS.get(stage.audience, stage.audience)}",
            f"- **前提**: {before}",
            "",
            "</div>",
            "",
            "</section>",
            "",
        ]
    lines += ["</div>", ""]
    return "\n".join(lines)
