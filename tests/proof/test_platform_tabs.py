"""No platform's tab is ever empty: a step of one platform has a partner step or says why it has none.

A step limited to one platform (``platforms: [openshift]``) is rendered either next to its partner on the
other platform (``platform_tabs("openshift-step", "kubernetes-step")`` on the page) or with its
``only_reason``, which the other platform's tab shows. These tests fail for every step that has neither,
in the model (stage.yaml and the pages' macro calls) and in the built site.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from support.apply_cli import REPO
from support.site_html import built_page, only_notes, page_blocks, stage_pages, tabbed_blocks

from handbook.lab import Lab
from handbook.platforms import PLATFORM_LABELS, PLATFORMS
from handbook.stages import Stage

_TABS_CALL = re.compile(r"\{\{\s*platform_tabs\((?P<args>[^)]*)\)\s*\}\}")


def partners(docs: Path = REPO / "docs") -> dict[str, list[tuple[str, ...]]]:
    """stage id -> the groups of step ids that its page renders together with ``platform_tabs(...)``."""
    found: dict[str, list[tuple[str, ...]]] = {}
    for stage_id, stem in stage_pages(docs).items():
        text = (docs / f"{stem}.md").read_text(encoding="utf-8")
        for match in _TABS_CALL.finditer(text):
            group = tuple(re.findall(r"[\"']([^\"']+)[\"']", match.group("args")))
            found.setdefault(stage_id, []).append(group)
    return found


def unexplained(lab: Lab, paired: dict[str, list[tuple[str, ...]]]) -> list[str]:
    """Every step of one platform with neither a partner step nor an ``only_reason``, as "stage/step (platform)"."""
    return [
        f"{step.ref} ({', '.join(step.platforms)})"
        for stage in lab.stages
        for step in stage.steps
        if set(step.platforms) != set(PLATFORMS)
        and not any(step.id in group and len(group) > 1 for group in paired.get(stage.id, []))
        and not (step.only_reason or "").strip()
    ]


def test_every_one_platform_step_has_a_partner_or_a_reason() -> None:
    missing = unexplained(Lab.load(), partners())
    assert missing == [], (
        f"{len(missing)} steps exist on one platform only, without a partner step (platform_tabs on the page) "
        "or `only_reason:` in stage.yaml:\n  " + "\n  ".join(missing)
    )


def test_the_rule_sees_a_step_without_reason() -> None:
    """The rule itself: a partner or a reason satisfies it, a bare one-platform step does not."""
    lab = Lab.load()
    stage = lab.stage("stage-1")
    pair = {"stage-1": [("create-project", "create-namespace")]}
    one_platform = [s for s in stage.steps if set(s.platforms) != set(PLATFORMS) and s.id not in pair["stage-1"][0]]
    assert one_platform, "stage 1 has a step of one platform besides its platform_tabs pair"
    step = one_platform[0]
    reasoned = Lab(lab.root, lab.variables, tuple(
        s if s is not stage else _with_reason(s, step.id, "理由") for s in lab.stages), lab.call_graph)
    assert not any(entry.startswith(step.ref + " ") for entry in unexplained(reasoned, pair))
    bare = Lab(lab.root, lab.variables, tuple(
        s if s is not stage else _with_reason(s, step.id, None) for s in lab.stages), lab.call_graph)
    assert any(entry.startswith(step.ref + " ") for entry in unexplained(bare, pair))
    assert not any(entry.startswith("stage-1/create-project ") for entry in unexplained(bare, pair))


def _with_reason(stage: Stage, step_id: str, reason: str | None) -> Stage:
    return replace(stage, steps=tuple(replace(s, only_reason=reason) if s.id == step_id else s for s in stage.steps))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_no_tab_is_empty_where_another_has_a_step(site: Path, platform: str) -> None:
    """On the built pages: wherever any platform's tab shows a step, ``platform``'s tab shows a block of its own
    or the stated reason why the step has none there."""
    lab = Lab.load()
    pages = stage_pages(REPO / "docs")
    paired = partners()
    empty = []
    for stage in lab.stages:
        page = built_page(site, pages[stage.id])
        mine = page_blocks(page, platform)
        notes = {n["ref"]: n for n in only_notes(page) if n["platform"] == platform}
        for ref in dict.fromkeys(b["ref"] for b in tabbed_blocks(page) if b["platform"] not in ("", platform)):
            step = stage.step(ref.rpartition("/")[2]) if not ref.endswith("/export") else None
            if ref in mine:
                continue
            if step is not None and ref in notes and not notes[ref]["missing"]:
                continue
            partner = step is not None and any(
                f"{stage.id}/{other}" in mine
                for group in paired.get(stage.id, []) if step.id in group
                for other in group if other != step.id and stage.step(other).platforms == (platform,)
            )
            if not partner:
                empty.append(f"docs/{pages[stage.id]}.md: {ref}")
    assert empty == [], f"the {PLATFORM_LABELS[platform]} tab is empty (no block, no reason) for:\n  " + "\n  ".join(
        empty
    )
