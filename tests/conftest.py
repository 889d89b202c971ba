"""Shared fixtures: a fake cluster CLI on PATH that records every call, and bash.

What tests import (the fixture lab's path, the fake CLI, run_apply) lives in ``tests/support``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.apply_cli import REPO, FakeCli, make_fake_cli
from support.site_build import build

ISTIO_TESTS = Path(__file__).resolve().parent / "istio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/istio needs the Istio tools (`make istio-bin`): mark it ``istio``."""
    for item in items:
        if ISTIO_TESTS in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.istio)


@pytest.fixture
def fake_cli(tmp_path: Path) -> FakeCli:
    return make_fake_cli(tmp_path)


@pytest.fixture(scope="session")
def bash() -> str:
    path = shutil.which("bash")
    assert path, "bash is required"
    return path


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's site, built once per session (tests/proof/test_site.py, tests/proof/test_page_text.py)."""
    out = tmp_path_factory.mktemp("site") / "site"
    result = build(REPO, out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out
