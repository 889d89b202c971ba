"""A folded manifest in a real browser: closed at first, its 注目点 visible, and copied whole once opened."""

from __future__ import annotations

import os
from typing import Any

import pytest
from support.apply_cli import run_apply

from handbook.blocks import split_dry_run
from handbook.lab import Lab
from handbook.stage_map import stage_pages

from .harness import REPO, browser_context, page_url

pytestmark = pytest.mark.browser


def test_folded_block_opens_and_copies_the_whole_block(browser: Any, base_url: str) -> None:
    """On every stage page, each folded block hides its code until opened; its copy button copies apply.py's block."""
    lab = Lab.load()
    pages = stage_pages(REPO / "docs")
    opened = 0
    with browser_context(browser, base_url) as (context, recorder):
        page = context.new_page()
        for stage in lab.stages:
            result = run_apply([stage.id, "--only", "--dry-run", "--platform", "openshift"], dict(os.environ))
            assert result.returncode == 0, result.stderr
            printed = split_dry_run(result.stdout)
            page.goto(page_url(base_url, pages[stage.id].removesuffix(".md")))
            folded = page.locator("div.lab-folded")
            for i in range(folded.count()):
                block = folded.nth(i)
                if not block.is_visible():
                    continue  # in a platform tab that is not selected; the copy test of every block covers it
                code = block.locator(":scope > details > .highlight pre > code").first
                assert not code.is_visible(), f"{block.get_attribute('data-ref')}: a folded block starts closed"
                block.locator(":scope > details > summary").click()
                assert code.is_visible()
                ref = block.get_attribute("data-ref")
                group = (block.get_attribute("data-group") or ref.split("/", 1)[1]).split()
                expected = "\n".join(printed[f"{stage.id}/{step_id}"] for step_id in group)
                page.evaluate("navigator.clipboard.writeText('')")
                block.locator(':scope > details > .highlight button[data-md-type="copy"]').first.click()
                page.wait_for_function("async () => (await navigator.clipboard.readText()) !== ''", polling=50,
                                       timeout=5000)
                assert page.evaluate("navigator.clipboard.readText()") == expected, f"{ref}: copied text differs"
                assert code.inner_text().rstrip("\n") == expected, f"{ref}: the code element differs"
                opened += 1
        assert not recorder.errors, recorder.errors
    assert opened >= 5, "the lab's long manifests fold"
