"""scripts/apply.py as a reader runs it, and a fake CLI (oc, kubectl, curl, istioctl, helm, kind) recording calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE_LAB = REPO / "tests" / "fixtures" / "lab"
FAKE_CLI = REPO / "tests" / "fake_cli" / "fake_cli.py"
APPLY = REPO / "scripts" / "apply.py"


@dataclass
class FakeCli:
    """A temporary bin directory whose oc, kubectl, curl, istioctl, helm and kind record calls and answer from rules."""

    bin_dir: Path
    log: Path
    rules_file: Path

    def rules(self, rules: list[dict]) -> None:
        self.rules_file.write_text(json.dumps(rules), encoding="utf-8")
        counts = self.log.with_suffix(".counts.json")
        if counts.exists():
            counts.unlink()

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]

    def clear(self) -> None:
        if self.log.exists():
            self.log.unlink()

    def env(self, *, names: tuple[str, ...] | None = None, lab: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env['PATH']}"
        env["FAKE_CLI_LOG"] = str(self.log)
        env["FAKE_CLI_RULES"] = str(self.rules_file)
        if lab is not None:
            env["LAB_MANIFESTS_DIR"] = str(lab)
        return env


def make_fake_cli(
    tmp_path: Path, names: tuple[str, ...] = ("oc", "kubectl", "curl", "istioctl", "helm", "kind")
) -> FakeCli:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in names:
        target = bin_dir / name
        target.write_text(f"#!{sys.executable}\n" + FAKE_CLI.read_text(encoding="utf-8"), encoding="utf-8")
        target.chmod(0o755)
    fake = FakeCli(bin_dir, tmp_path / "calls.jsonl", tmp_path / "rules.json")
    fake.rules([])
    return fake


def run_apply(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    """scripts/apply.py as a reader runs it, in a separate process."""
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, str(APPLY), *args], env=env, input=stdin, capture_output=True, text=True, timeout=300,
        check=False,
    )
