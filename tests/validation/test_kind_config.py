"""manifests/kind/cluster.yaml checked with kind's own Go types (tools/kindconfig, built by `make setup`).

kubeconform never sees this file: it is kind's configuration, not a Kubernetes object.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.apply_cli import REPO

pytestmark = pytest.mark.schemas

CHECKER = REPO / ".tools" / "bin" / "kindconfig"
CONFIG = REPO / "manifests" / "kind" / "cluster.yaml"


def run(*paths: Path) -> subprocess.CompletedProcess:
    if not CHECKER.is_file():
        pytest.fail(f"{CHECKER} is missing: run `make setup`")
    return subprocess.run([str(CHECKER), *map(str, paths)], capture_output=True, text=True, check=False)  # noqa: S603


def broken(tmp_path: Path, old: str, new: str) -> Path:
    text = CONFIG.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    path = tmp_path / "cluster.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_lab_kind_config_is_a_valid_kind_cluster() -> None:
    result = run(CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"ok {CONFIG}"


@pytest.mark.parametrize(("old", "new", "message"), [
    ("extraPortMappings:", "extraPortMapping:", "field extraPortMapping not found in type v1alpha4.Node"),
    ("containerPort: 30001", "containerPort: 70001", "containerPort: 70001 is not a port"),
    ("protocol: TCP", "protocol: TPC", 'Unknown PortMappingProtocol: "TPC"'),
    ("hostPort: 80\n", "hostPort: 30001\n", "127.0.0.1:30001/TCP is mapped twice"),
    ("role: control-plane", "role: controlplane", '"controlplane" is neither'),
    ("kind.x-k8s.io/v1alpha4", "kind.x-k8s.io/v1alpha3", "expected apiVersion kind.x-k8s.io/v1alpha4"),
])
def test_a_broken_config_is_refused_with_the_reason(tmp_path: Path, old: str, new: str, message: str) -> None:
    result = run(broken(tmp_path, old, new))
    assert result.returncode == 1
    assert message in result.stdout


def test_the_laptop_page_names_the_kind_version_the_checker_pins() -> None:
    go_mod = (REPO / "tools" / "kindconfig" / "go.mod").read_text(encoding="utf-8")
    version = next(line.split()[1] for line in go_mod.splitlines() if line.strip().startswith("sigs.k8s.io/kind "))
    page = (REPO / "docs" / "laptop.md").read_text(encoding="utf-8")
    assert f"kind | {version}" in page and f"sigs.k8s.io/kind@{version}" in page, version
