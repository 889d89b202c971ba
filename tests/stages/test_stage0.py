"""Stage 0 on both platforms: every one-platform step has a partner tab or a reason, the kind config
matches the lab's NodePorts, the Prometheus selects every monitor, and preflight lets stage 0 install its kinds."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from support.apply_cli import REPO

from handbook.lab import Lab
from handbook.preflight import required_apis
from handbook.stages import Stage

PAGE = REPO / "docs" / "stage-0.md"
KIND_CONFIG = REPO / "manifests" / "kind" / "cluster.yaml"
TABS = re.compile(r"\{\{\s*platform_tabs\((.*?)\)\s*\}\}")


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab.load(REPO / "manifests")


def partners(page_text: str) -> set[str]:
    """Every step id named in a platform_tabs(...) call of a page."""
    named: set[str] = set()
    for arguments in TABS.findall(page_text):
        named.update(ast.literal_eval(f"({arguments},)"))
    return named


def lonely_steps(stage: Stage, page_text: str) -> list[str]:
    """Steps on one platform only, with neither a partner tab on the page nor an only_reason."""
    tabbed = partners(page_text)
    return [step.id for step in stage.steps
            if len(step.platforms) == 1 and step.id not in tabbed and not stage_raw_reason(stage, step.id)]


def stage_raw_reason(stage: Stage, step_id: str) -> str:
    """The step's only_reason, read from its stage.yaml (the Step objects do not carry it)."""
    raw = yaml.safe_load((stage.folder / "stage.yaml").read_text(encoding="utf-8"))
    return next((s.get("only_reason", "") for s in raw["steps"] if s["id"] == step_id), "")


def test_every_one_platform_step_has_a_partner_or_a_reason(lab: Lab) -> None:
    assert lonely_steps(lab.stage("stage-0"), PAGE.read_text(encoding="utf-8")) == []


def test_the_partner_check_finds_a_step_without_partner(lab: Lab) -> None:
    text = PAGE.read_text(encoding="utf-8").replace(
        '{{ platform_tabs("enable-user-workload-monitoring", "install-prometheus-operator") }}',
        '{{ step("enable-user-workload-monitoring") }}\n\n{{ step("install-prometheus-operator") }}')
    assert lonely_steps(lab.stage("stage-0"), text) == ["enable-user-workload-monitoring",
                                                         "install-prometheus-operator"]


def test_both_platforms_have_steps_in_every_section(lab: Lab) -> None:
    stage = lab.stage("stage-0")
    for platform in ("openshift", "kubernetes"):
        kinds = {step.kind for step in stage.steps_for(platform)}
        assert {"apply", "run", "wait", "check"} <= kinds, (platform, kinds)


def test_kind_config_maps_the_lab_nodeports() -> None:
    config = yaml.safe_load(KIND_CONFIG.read_text(encoding="utf-8"))
    assert (config["kind"], config["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    mappings = {(m["containerPort"], m["hostPort"]) for node in config["nodes"]
                for m in node.get("extraPortMappings", [])}
    # front-end's NodePort (stage 1) and the ingress gateway's (stage 4), as the decisions say.
    assert mappings == {(30001, 30001), (30080, 80)}
    assert [node["role"] for node in config["nodes"]] == ["control-plane"]


def test_kind_config_is_not_a_lab_manifest(lab: Lab) -> None:
    """kubeconform must never see it: no apply step names it and no stage folder holds it."""
    files = {stage.folder / name for stage in lab.stages for step in stage.steps for name in step.files()}
    assert KIND_CONFIG not in files
    assert not KIND_CONFIG.parent.name.startswith("stage-")


def test_lab_prometheus_selects_every_monitor_in_every_namespace(lab: Lab) -> None:
    values = lab.variables.resolve()
    objects = lab.objects([lab.stage("stage-0")], values, "kubernetes")
    prometheus = [o for o in objects if o["kind"] == "Prometheus"]
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in prometheus] == [("monitoring", "lab")]
    spec = prometheus[0]["spec"]
    for selector in ("serviceMonitorSelector", "serviceMonitorNamespaceSelector",
                     "podMonitorSelector", "podMonitorNamespaceSelector"):
        assert spec[selector] == {}, f"{selector}: an empty selector selects everything; null selects nothing"
    account = spec["serviceAccountName"]
    bindings = [o for o in objects if o["kind"] == "ClusterRoleBinding"
                and {"kind": "ServiceAccount", "name": account, "namespace": "monitoring"} in o["subjects"]]
    assert len(bindings) == 1
    role_name = bindings[0]["roleRef"]["name"]
    role = next(o for o in objects if o["kind"] == "ClusterRole" and o["metadata"]["name"] == role_name)
    granted = {(group, resource) for rule in role["rules"] for group in rule.get("apiGroups", [])
               for resource in rule.get("resources", []) if "list" in rule["verbs"] and "watch" in rule["verbs"]}
    # What Kubernetes service discovery of a ServiceMonitor or PodMonitor lists and watches.
    assert {("", "services"), ("", "pods"), ("discovery.k8s.io", "endpointslices")} <= granted


def test_openshift_has_no_prometheus_of_ours(lab: Lab) -> None:
    objects = lab.objects([lab.stage("stage-0")], lab.variables.resolve(), "openshift")
    assert not [o for o in objects if o["kind"] == "Prometheus"], "OpenShift uses user-workload monitoring"


def test_an_admin_stage_needs_none_of_the_kinds_it_installs(lab: Lab) -> None:
    values = lab.variables.resolve()
    required = {(ref.api_version, ref.kind) for ref in required_apis([lab.stage("stage-0")], "kubernetes", values)}
    assert ("monitoring.coreos.com/v1", "Prometheus") not in required
    assert ("sailoperator.io/v1", "IstioCNI") not in required
    learner = {(ref.api_version, ref.kind) for ref in required_apis([lab.stage("stage-2")], "kubernetes", values)}
    assert ("sailoperator.io/v1", "Istio") in learner, "a learner's stage still needs its kinds up front"


def test_page_names_every_pinned_chart_version(lab: Lab) -> None:
    text = PAGE.read_text(encoding="utf-8")
    for step in lab.stage("stage-0").steps_for("kubernetes"):
        command = step.command()
        if command and command.argv[:3] == ("helm", "upgrade", "--install"):
            version = command.argv[command.argv.index("--version") + 1]
            assert version in text or version in Path(REPO / "docs" / "laptop.md").read_text(encoding="utf-8"), version
