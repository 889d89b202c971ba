"""Every built page in Chromium: no console errors, nothing fetched from elsewhere, diagrams drawn, screenshots."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from support.apply_cli import run_apply

from handbook.blocks import split_dry_run
from handbook.diagrams import render_diagram
from handbook.lab import Lab
from handbook.stage_map import stage_pages

from .harness import (
    REPO,
    browser_context,
    diagram_calls,
    mermaid_labels,
    mermaid_sources,
    origin,
    page_url,
    save_screenshot,
    site_pages,
    wait_for_diagrams,
)

pytestmark = pytest.mark.browser


def _svg_texts(page: Any) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll("div.mermaid")].map(
             (d) => d.shadowRoot.querySelector("svg").textContent)"""
    )


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_every_page_is_local_and_clean(browser: Any, base_url: str, built_site: Path) -> None:
    """Each page on its own (a fresh context, empty cache): errors, foreign requests, Mermaid only where needed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    problems: list[str] = []
    shots: list[str] = []
    for stem, path in site_pages(built_site).items():
        diagrams = len(mermaid_sources(path.read_text(encoding="utf-8")))
        with browser_context(browser, base_url) as (context, recorder):
            page = context.new_page()
            page.goto(page_url(base_url, stem), wait_until="networkidle")
            try:
                wait_for_diagrams(page, diagrams)
            except PlaywrightTimeoutError:
                problems.append(f"{stem}: {diagrams} diagram(s) not drawn within 30 s")
            page.wait_for_load_state("networkidle")
            problems += [f"{stem}: {e}" for e in recorder.errors]
            problems += [f"{stem}: request left the local server: {u}" for u in recorder.foreign({origin(base_url)})]
            mermaid = [u for u in recorder.requests if u.endswith("/mermaid.min.js")]
            if diagrams and not mermaid:
                problems.append(f"{stem}: {diagrams} diagram(s), but the local mermaid.min.js was not loaded")
            if not diagrams and mermaid:
                problems.append(f"{stem}: no diagram, yet it downloaded {mermaid[0]}")
            shots.append(save_screenshot(page, stem).name)
    assert not problems, "\n".join(problems)
    assert "index.png" in shots


def test_diagrams_render_with_their_labels(browser: Any, base_url: str, built_site: Path) -> None:
    """Each ``diagram("name")`` a page calls is handbook's Mermaid source, drawn as an SVG with every label."""
    lab = Lab.load()
    docs = REPO / "docs"
    stage_of = {Path(page).stem: stage_id for stage_id, page in stage_pages(docs).items()}
    built = site_pages(built_site)
    checked = 0
    with browser_context(browser, base_url) as (context, recorder):
        page = context.new_page()
        for stem, path in built.items():
            sources = mermaid_sources(path.read_text(encoding="utf-8"))
            source_md = docs / f"{stem}.md"
            calls = diagram_calls(source_md.read_text(encoding="utf-8")) if source_md.exists() else []
            for name, after in calls:
                expected = render_diagram(name, lab, lab.stage(stage_of[stem]), after).strip()
                assert expected in [s.strip() for s in sources], (
                    f"docs/{stem}.md calls diagram({name!r}), but the built page does not show handbook's source"
                )
            if not sources:
                continue
            page.goto(page_url(base_url, stem), wait_until="networkidle")
            wait_for_diagrams(page, len(sources))
            texts = _svg_texts(page)
            assert len(texts) == len(sources)
            for index, (source, text) in enumerate(zip(sources, texts, strict=True)):
                where = f"{stem}: diagram {index + 1}"
                assert "Syntax error" not in text, f"{where}: Mermaid could not parse it"
                labels = mermaid_labels(source)
                assert labels, f"{where}: found no labels in its source to look for"
                missing = [label for label in labels if _squeeze(label) not in _squeeze(text)]
                assert not missing, f"{where}: labels missing from the SVG: {missing}"
                checked += 1
        assert not recorder.errors, recorder.errors
    assert checked > 0, "no page has a diagram; the test would prove nothing"


def test_without_javascript_the_defaults_show(browser: Any, base_url: str) -> None:
    """No JavaScript: every export block is exactly what `apply.py --dry-run` prints with the defaults."""
    lab = Lab.load()
    pages = stage_pages(REPO / "docs")
    with browser_context(browser, None, java_script_enabled=False) as (context, _recorder):
        page = context.new_page()
        for stage in (s for s in lab.stages if s.id in pages):  # a missing page fails tests/proof/test_site.py
            page.goto(page_url(base_url, Path(pages[stage.id]).with_suffix("").as_posix()))
            shown = page.locator(".lab-export pre > code").first.inner_text().rstrip("\n")
            result = run_apply([stage.id, "--only", "--dry-run"], dict(os.environ))
            assert result.returncode == 0, result.stderr
            assert shown == split_dry_run(result.stdout)[f"{stage.id}/export"]
            assert page.locator(".lab-values").count() == 0
