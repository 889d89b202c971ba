"""Session fixtures for the browser tests: one build, one local server, one Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import CHROMIUM, CHROMIUM_ARGS, build_site, require_browser, serve


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's site, built once per session with `mkdocs build --strict`.

    HANDBOOK_BROWSER_SITE=/path/to/site tests an existing build instead (for debugging the tests).
    """
    require_browser()
    prebuilt = os.environ.get("HANDBOOK_BROWSER_SITE")
    if prebuilt:
        return Path(prebuilt)
    return build_site(tmp_path_factory.mktemp("browser-site") / "site")


@pytest.fixture(scope="session")
def base_url(built_site: Path) -> Iterator[str]:
    with serve(built_site) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
