"""Shared fixtures: a fake cluster CLI on PATH that records every call, and bash.

What tests import (the fixture lab's path, the fake CLI, run_apply) lives in ``tests/support``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.apply_cli import FakeCli, make_fake_cli


@pytest.fixture
def fake_cli(tmp_path: Path) -> FakeCli:
    return make_fake_cli(tmp_path)


@pytest.fixture(scope="session")
def bash() -> str:
    path = shutil.which("bash")
    assert path, "bash is required"
    return path
