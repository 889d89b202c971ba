"""Run the compiled Go program (tools/istio/meshtest) on one snapshot and read its report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from handbook import istio_tools

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_SECONDS = 300


def built_binaries() -> Path:
    """The folder with istioctl and meshtest.test, built now if the cache is cold or stale."""
    if shutil.which("go") is None:
        pytest.skip("the `go` command is not on PATH; the Istio tools are built from tools/istio with it")
    istio_tools.build(log=sys.stderr)
    return istio_tools.bin_dir()


def run_claims(bin_dir: Path, data: dict) -> tuple[dict, str]:
    """(report, output): the report maps each claim id to {held, problems, actual}."""
    with tempfile.TemporaryDirectory(prefix="meshtest-") as tmp:
        snapshot, report = Path(tmp) / "snapshot.json", Path(tmp) / "report.json"
        snapshot.write_text(json.dumps(data), encoding="utf-8")
        env = dict(os.environ, MESHTEST_SNAPSHOT=str(snapshot), MESHTEST_REPORT=str(report))
        result = subprocess.run(  # noqa: S603 - argv list
            [str(bin_dir / "meshtest.test"), "-test.run", "^TestClaims$", "-test.v"],
            env=env, cwd=tmp, capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT_SECONDS,
        )
        output = result.stdout + result.stderr
        if not report.is_file():
            raise AssertionError(f"meshtest.test wrote no report (exit {result.returncode}):\n{output[-4000:]}")
        found = json.loads(report.read_text(encoding="utf-8"))
    missing = sorted({c["id"] for c in data["claims"]} - set(found))
    if missing:
        raise AssertionError(f"meshtest.test did not evaluate {missing}:\n{output[-4000:]}")
    return found, output
