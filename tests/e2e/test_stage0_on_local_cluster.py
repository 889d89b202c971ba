"""Stage 0 with `--platform kubernetes --cli kubectl` against the local API server, with the real CRDs.

The harness installs what the Helm charts would bring: the Prometheus Operator CRDs from the pinned Go
module (tools/versions.env), and the Sail and Kiali CRDs from HANDBOOK_CRDS (or ../shared/crds). The kind
and helm steps, and the waits and checks on what only those charts and their operators make, are left
out here (tests/e2e/outside_steps.py); tests/apply/test_stage0_kubernetes.py covers them with a
recording CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cluster_harness import PLATFORM_ARGS, REAL_LAB, exists, kubectl_diff, lab_for_cluster, rendered_applies, run_apply
from cluster_harness import running_cluster as start_cluster

from handbook import local_cluster

pytestmark = pytest.mark.e2e
USER = "e2e-kind"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    yield from start_cluster(tmp_path_factory.mktemp("stage0-cluster"), "stage-0 cluster")


@pytest.fixture(scope="module")
def pinned_crds(cluster) -> list[str]:  # noqa: ANN001
    """The CRDs of the pinned Go modules (tools/versions.env), the Prometheus Operator's among them."""
    names = local_cluster.install_crds(cluster, folder=False)
    assert "customresourcedefinition.apiextensions.k8s.io/prometheuses.monitoring.coreos.com" in names
    return names


@pytest.fixture(scope="module")
def lab(cluster, pinned_crds: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    paths, origin = local_cluster.crd_folder_paths()
    if not paths:
        pytest.skip(f"the Sail and Kiali CRDs are needed for stage 0: {origin}")
    local_cluster.install_crds(cluster)
    copy_, dropped = lab_for_cluster(REAL_LAB, tmp_path_factory.mktemp("stage0-lab") / "real", nodes=cluster.nodes)
    left_out = {item.ref for item in dropped}
    assert {"stage-0/create-kind-cluster", "stage-0/install-sail-operator", "stage-0/install-kiali-operator",
            "stage-0/install-prometheus-operator"} <= left_out
    assert "stage-0/create-lab-prometheus" not in left_out and "stage-0/create-istio-cni" not in left_out
    return copy_


def test_stage0_on_kubernetes_applies_and_a_second_run_changes_nothing(cluster, lab: Path) -> None:  # noqa: ANN001
    first = run_apply(cluster, lab, "stage-0", "--user", USER, *PLATFORM_ARGS)
    assert first.returncode == 0, first.stdout + first.stderr
    assert exists(cluster, "prometheus/lab", "-n", "monitoring")
    assert exists(cluster, "istiocnis/default")
    assert exists(cluster, "clusterrolebinding/prometheus-lab")
    generation = cluster.kubectl("get", "prometheus/lab", "-n", "monitoring", "-o",
                                 "jsonpath={.metadata.generation}").stdout
    second = run_apply(cluster, lab, "stage-0", "--user", USER, *PLATFORM_ARGS)
    assert second.returncode == 0, second.stderr
    assert cluster.kubectl("get", "prometheus/lab", "-n", "monitoring", "-o",
                           "jsonpath={.metadata.generation}").stdout == generation
    diffs = {item.ref: kubectl_diff(cluster, item) for item in rendered_applies(lab, ["stage-0"], USER)}
    assert diffs and all(text == "" for text in diffs.values()), diffs
    checks = run_apply(cluster, lab, "verify", "stage-0", "--user", USER, *PLATFORM_ARGS)
    assert checks.returncode == 0, checks.stdout + checks.stderr
    assert "stage-0/check-crds (check): pass" in checks.stdout


def test_the_server_refuses_a_misspelled_prometheus_field(cluster, pinned_crds: list[str]) -> None:  # noqa: ANN001
    """The Prometheus CRD served here is the real one: strict field validation names the unknown field."""
    bad = {"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
           "metadata": {"name": "typo", "namespace": "default"},
           "spec": {"serviceMonitorSelectr": {}}}
    result = cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(bad), check=False)
    assert result.returncode != 0
    assert "serviceMonitorSelectr" in result.stderr
    good = dict(bad, spec={"serviceMonitorSelector": {}})
    assert cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(good), check=False).returncode == 0
