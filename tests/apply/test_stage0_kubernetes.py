"""Stage 0 on Kubernetes through apply.py with a recording fake CLI: the kind and Helm steps.

No chart repository and no Docker are reachable here, so these steps never run for real in the tests;
this shows that apply.py runs exactly the pinned commands the page shows, in order, from the clone's root.
"""

from __future__ import annotations

from pathlib import Path

from support.apply_cli import REPO, FakeCli, run_apply

from handbook.lab import Lab

REAL_LAB = REPO / "manifests"
KUBERNETES = ("--platform", "kubernetes", "--cli", "kubectl")
WHOAMI = {"match": ["kubectl", "auth", "whoami"], "stdout": "kubernetes-admin"}
NO_KIND_CLUSTER = {"match": ["kind", "get", "kubeconfig"], "exit": 1,
                   "stderr": 'ERROR: could not locate any control plane nodes for cluster named "sockshop-mesh"'}
NOT_FOUND = {"match": ["kubectl", "get", "namespace"], "exit": 1, "stderr": "NotFound"}

# The pins this lab documents (docs/stage-0.md, docs/laptop.md), with their sources in the report:
# istio-ecosystem/sail-operator tag 1.30.3 chart/Chart.yaml, kiali/helm-charts tag v2.27.0,
# prometheus-community/helm-charts tag kube-prometheus-stack-88.5.3.
HELM_INSTALLS = [
    ["helm", "upgrade", "--install", "sail-operator", "sail-operator",
     "--repo", "https://istio-ecosystem.github.io/sail-operator", "--version", "1.30.3",
     "--namespace", "sail-operator", "--create-namespace"],
    ["helm", "upgrade", "--install", "kiali-operator", "kiali-operator",
     "--repo", "https://kiali.org/helm-charts", "--version", "2.27.0",
     "--namespace", "kiali-operator", "--create-namespace"],
    ["helm", "upgrade", "--install", "kube-prometheus-stack", "kube-prometheus-stack",
     "--repo", "https://prometheus-community.github.io/helm-charts", "--version", "88.5.3",
     "--namespace", "monitoring", "--create-namespace",
     "--set", "prometheus.enabled=false", "--set", "alertmanager.enabled=false", "--set", "grafana.enabled=false",
     "--set", "kubeStateMetrics.enabled=false", "--set", "nodeExporter.enabled=false",
     "--set", "defaultRules.create=false", "--set", "kubernetesServiceMonitors.enabled=false",
     "--set", "prometheusOperator.admissionWebhooks.enabled=false", "--set", "prometheusOperator.tls.enabled=false"],
]
KIND_CREATE = ["kind", "create", "cluster", "--config", "manifests/kind/cluster.yaml"]


def stage0(fake: FakeCli, *extra: str):  # noqa: ANN201 - a CompletedProcess
    env = fake.env(lab=REAL_LAB)
    return run_apply(["stage-0", *KUBERNETES, *extra], env)


def test_helm_installs_are_the_pinned_charts_in_order(fake_cli: FakeCli) -> None:
    fake_cli.rules([WHOAMI, NO_KIND_CLUSTER, NOT_FOUND])
    result = stage0(fake_cli)
    assert result.returncode == 0, result.stdout + result.stderr
    argvs = [c["argv"] for c in fake_cli.calls()]
    assert [a for a in argvs if a[0] == "helm"] == HELM_INSTALLS
    assert KIND_CREATE in argvs
    assert argvs.index(KIND_CREATE) < argvs.index(HELM_INSTALLS[0]), "the cluster comes before anything on it"
    # Each operator is waited for before the next step uses it.
    waits = {("sail-operator", "sail-operator"), ("kiali-operator", "kiali-operator"),
             ("kube-prometheus-stack-operator", "monitoring")}
    for name, namespace in waits:
        wait = ["kubectl", "wait", "--for=condition=Available", f"deployment/{name}", "-n", namespace,
                "--timeout=300s"]
        assert wait in argvs, f"no wait for deployment {name}"
    lab_prometheus = [i for i, c in enumerate(fake_cli.calls()) if c["argv"][:2] == ["kubectl", "apply"]
                      and "kind: Prometheus" in (c["stdin"] or "")]
    assert len(lab_prometheus) == 1
    assert argvs.index(HELM_INSTALLS[2]) < lab_prometheus[0], "the Prometheus CRD comes with the chart"


def test_an_existing_kind_cluster_is_kept(fake_cli: FakeCli) -> None:
    fake_cli.rules([WHOAMI, NOT_FOUND])  # `kind get kubeconfig` succeeds: the cluster exists
    result = stage0(fake_cli)
    assert result.returncode == 0, result.stdout + result.stderr
    argvs = [c["argv"] for c in fake_cli.calls()]
    assert ["kind", "get", "kubeconfig", "--name", "sockshop-mesh"] in argvs
    assert not any(a[:2] == ["kind", "create"] for a in argvs)


def test_the_kind_config_the_step_names_is_the_one_in_the_repository() -> None:
    step = Lab.load(REAL_LAB).stage("stage-0").step("create-kind-cluster")
    argv = step.command().argv
    config = REPO / argv[argv.index("--config") + 1]
    assert config.is_file(), f"{config} is missing: the page tells the learner to run this from the clone's root"
    name = step.unless[step.unless.index("--name") + 1]
    assert f"\nname: {name}\n" in config.read_text(encoding="utf-8"), "unless must ask about the cluster it creates"


def test_no_oc_only_command_and_no_openshift_object_on_kubernetes(fake_cli: FakeCli) -> None:
    fake_cli.rules([WHOAMI, NO_KIND_CLUSTER, NOT_FOUND])
    assert stage0(fake_cli).returncode == 0
    for call in fake_cli.calls():
        assert call["argv"][0] != "oc"
        text = call["stdin"] or ""
        for openshift_only in ("operators.coreos.com", "openshift-monitoring", "openshift-operators"):
            assert openshift_only not in text and openshift_only not in call["argv"], call


def test_failing_helm_stops_the_stage_and_says_how_to_resume(fake_cli: FakeCli, tmp_path: Path) -> None:
    fake_cli.rules([WHOAMI, NO_KIND_CLUSTER, NOT_FOUND,
                    {"match": ["helm", "upgrade", "kiali-operator"], "exit": 1,
                     "stderr": "Error: looks like \"https://kiali.org/helm-charts\" is not a valid chart repository"}])
    result = stage0(fake_cli)
    assert result.returncode == 8
    assert "step stage-0/install-kiali-operator failed" in result.stderr
    assert "not a valid chart repository" in result.stderr
    argvs = [c["argv"] for c in fake_cli.calls()]
    assert HELM_INSTALLS[2] not in argvs, "nothing after the failed step runs"
