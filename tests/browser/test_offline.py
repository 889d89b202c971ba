"""The offline build (`OFFLINE=true mkdocs build`) opened from file://, as from a USB stick."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from handbook.lab import Lab
from handbook.stage_map import stage_pages

from .harness import REPO, browser_context, build_site, mermaid_sources, require_browser, wait_for_diagrams

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def offline_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    require_browser()
    yield build_site(tmp_path_factory.mktemp("offline-site") / "site", offline=True)


def test_offline_site_works_from_file_urls(browser: Any, offline_site: Path) -> None:
    lab = Lab.load()
    pages = {stage_id: offline_site / Path(page).with_suffix(".html") for stage_id, page in stage_pages(
        REPO / "docs").items()}
    assert (offline_site / "search" / "search_index.js").is_file(), "the offline plugin did not inline the index"
    paged = [s for s in lab.stages if s.id in pages]
    with_diagram = next((s for s in paged if mermaid_sources(pages[s.id].read_text(encoding="utf-8"))), paged[0])
    with browser_context(browser) as (context, recorder):
        page = context.new_page()
        page.goto((offline_site / "index.html").as_uri(), wait_until="load")

        # Search runs in the iframe-worker shim from the local copy.
        query = page.locator('input[data-md-component="search-query"]')
        query.click()
        query.fill("VirtualService")
        query.press("End")
        page.wait_for_selector(".md-search-result__item", timeout=15_000)
        query.fill("")
        query.press("Escape")

        # The reader's values survive the move to another file:// page.
        form = page.locator(".lab-values-slot form").first
        form.locator('input[name="LAB_USER"]').fill("usb")
        form.locator('button[type="submit"]').click()

        target = pages[with_diagram.id]
        page.goto(target.as_uri(), wait_until="load")
        wait_for_diagrams(page, len(mermaid_sources(target.read_text(encoding="utf-8"))))
        assert "export LAB_USER=usb" in page.locator(".lab-export pre > code").first.inner_text()

        # A link between pages points at a file, not at a folder that file:// cannot open.
        hrefs = page.eval_on_selector_all(".md-nav__link[href]", "links => links.map(a => a.href)")
        assert hrefs and all(h.startswith("file://") and (h.split("#")[0].endswith(".html") or "#" in h)
                             for h in hrefs), hrefs

    assert any(u.startswith("file://") for u in recorder.requests), "no request was recorded at all"
    leaving = [u for u in recorder.requests if not u.startswith(("file://", "data:", "blob:", "about:"))]
    assert not leaving, f"the offline site asked the network for: {leaving}"
    assert not recorder.errors, recorder.errors
