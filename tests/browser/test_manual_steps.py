"""The text of every manual step, as the reader sees it in Chromium: all of its words, none swallowed.

A manual step's source (stage.yaml) is Markdown; the reader must see each of its lines, with
placeholders such as <SHOP_HOST の値> shown as text (or filled with the reader's own value) and
step links reduced to their words.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from handbook.lab import Lab
from handbook.prose import plain_text
from handbook.stage_map import stage_pages

from .harness import REPO, browser_context, page_url

pytestmark = pytest.mark.browser

VALUES = {"LAB_USER": "mika", "APPS_DOMAIN": "apps.ocp.example.net"}


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _visible_lines(source: str) -> list[str]:
    """The lines a reader must find, as Markdown renders them: no list markers, backticks or bold marks."""
    lines = []
    for line in plain_text(source).splitlines():
        line = re.sub(r"^\s*(?:[-*]|\d+\.)\s+", "", line).replace("`", "").replace("**", "")
        if line.strip():
            lines.append(_squeeze(line))
    return lines


def _manual_steps(lab: Lab) -> dict[str, list[Any]]:
    pages = stage_pages(REPO / "docs")
    return {
        Path(pages[stage.id]).with_suffix("").as_posix(): [s for s in stage.steps if s.kind == "manual"]
        for stage in lab.stages
        if stage.id in pages
    }


def test_every_manual_step_shows_all_its_words(browser: Any, base_url: str) -> None:
    lab = Lab.load()
    missing: list[str] = []
    checked = 0
    with browser_context(browser, base_url) as (context, recorder):
        page = context.new_page()
        for stem, steps in _manual_steps(lab).items():
            if not steps:
                continue
            page.goto(page_url(base_url, stem))
            for step in steps:
                block = page.locator(f'div.lab-step[data-ref="{step.ref}"]')
                assert block.count() == 1, f"{stem}: no block for {step.ref}"
                shown = _squeeze(block.inner_text())
                for line in _visible_lines(step.text):
                    checked += 1
                    if line not in shown:
                        missing.append(f"{step.ref}: {line[:80]!r} is not on the page")
        assert not recorder.errors, recorder.errors
    assert checked >= 40, "the lab has manual steps with text"
    assert missing == [], "\n".join(missing)


def test_manual_steps_show_the_readers_values(browser: Any, base_url: str) -> None:
    """With values saved in the form, <SHOP_HOST の値> and ${APP_NS} in a manual step show the reader's own."""
    lab = Lab.load()
    values = lab.variables.resolve(VALUES)
    with browser_context(browser, base_url) as (context, recorder):
        page = context.new_page()
        page.goto(page_url(base_url, "stage-4"))
        span = page.locator('div.lab-manual span.lab-value[data-var="SHOP_HOST"]').first
        assert span.inner_text() == "<SHOP_HOST の値>"
        page.evaluate("(values) => __md_set('lab.values', values)", VALUES)
        page.reload()
        assert span.inner_text() == values["SHOP_HOST"]
        page.goto(page_url(base_url, "stage-7"))
        shown = page.locator('div.lab-manual span.lab-value[data-var="APP_NS"]').first.inner_text()
        assert shown == values["APP_NS"]
        assert not recorder.errors, recorder.errors
