"""Injection, then admission: every Deployment of the lab through Istio's injector, onto a real API server.

Each Deployment (the newest version of each, from every stage, with stage 3's revision label) is
rewritten by `istioctl kube-inject` with the lab's injector settings (openshift profile, CNI), given
OpenShift's defaulting (injection.openshift_defaults), and applied to the local kube-apiserver in a
namespace that enforces Pod Security `restricted`. Every pod must be admitted, and every Deployment
must become Available on kwok's simulated node.
"""

from __future__ import annotations

import json
from functools import cache

import pytest
import yaml
from injection import cluster, kube_inject, openshift_defaults, openshift_namespace
from istio_install import Install, generate, lab_istio
from mesh_snapshot import state_after
from meshtest_runner import built_binaries

from handbook.lab import load_lab
from handbook.manifest_check import value_sets
from handbook.steps import CheckStep

VALUE_SETS = ("defaults", "second user")
CNI_INIT = "istio-validation"
# Reviewed exceptions: Deployment -> why Pod Security `restricted` may refuse it here, and the text that
# the refusal must contain (so an exception cannot hide another problem, and goes stale loudly).
# Deployments that Pod Security (restricted) may refuse, with the reason and the refusal text expected:
# none since mesh-client sets runAsNonRoot (with a numeric UID on Kubernetes), so every pod is admitted.
ADMISSION_EXCEPTIONS: dict[str, tuple[str, str]] = {}


@cache
def install(value_set: str) -> Install:
    lab = load_lab()
    return generate(built_binaries() / "istioctl", lab_istio(lab, value_sets(lab)[value_set]))


@cache
def lab_objects(value_set: str) -> tuple[str, dict, list[dict], list[dict]]:
    """(namespace, its Namespace object, every Deployment, every ServiceAccount)."""
    lab = load_lab()
    values = value_sets(lab)[value_set]
    deployments: dict[str, dict] = {}
    accounts: dict[str, dict] = {}
    namespace_obj: dict = {}
    for stage in lab.stages:
        state = state_after(lab, values, stage.id)
        deployments.update(state.deployments)
        for (kind, ns, name), obj in state.objects.items():
            if kind == "ServiceAccount" and ns == state.namespace:
                accounts[name] = obj
            if kind == "Namespace" and name == state.namespace:
                namespace_obj = obj
    return values["APP_NS"], namespace_obj, list(deployments.values()), list(accounts.values())


@cache
def injected(value_set: str) -> list[dict]:
    _, _, deployments, _ = lab_objects(value_set)
    return kube_inject(built_binaries() / "istioctl", install(value_set), deployments)


def _pod(deployment: dict) -> dict:
    template = deployment["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": deployment["metadata"]["name"] + "-check",
                         "namespace": deployment["metadata"]["namespace"],
                         "labels": template["metadata"].get("labels", {})},
            "spec": template["spec"]}


def _refused(deployments: list[dict]) -> dict[str, str]:
    """Deployment name -> the API server's refusal of a pod made from its template (server-side dry run)."""
    refused: dict[str, str] = {}
    for deployment in deployments:
        result = cluster().kubectl("create", "--dry-run=server", "-o", "name", "-f", "-",
                                   stdin=json.dumps(_pod(deployment)), check=False)
        if result.returncode != 0:
            refused[deployment["metadata"]["name"]] = result.stderr.strip()
    return refused


@cache
def prepared_namespace(value_set: str) -> str:
    namespace, namespace_obj, _, accounts = lab_objects(value_set)
    labels = (namespace_obj.get("metadata") or {}).get("labels") or {}
    documents = [openshift_namespace(namespace, labels), *accounts]
    cluster().kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(documents))
    return namespace


def test_every_sidecar_gets_the_cni_init_container() -> None:
    """OpenShift with CNI: istio-validation checks the redirection; no istio-init with NET_ADMIN."""
    problems = []
    for deployment in injected("defaults"):
        spec = deployment["spec"]["template"]["spec"]
        names = [c["name"] for c in spec.get("initContainers", [])] + [c["name"] for c in spec["containers"]]
        if "istio-proxy" in names and deployment["spec"]["template"]["metadata"].get("annotations", {}).get(
                "inject.istio.io/templates") != "gateway":
            if CNI_INIT not in names or "istio-init" in names:
                problems.append(f"{deployment['metadata']['name']}: {names}")
    assert not problems, problems


def _pod_spec_sample() -> tuple[str, list[str], list[str]]:
    """(deployment, init containers, containers) from stage 3's sample output of the pod's containers."""
    stage = load_lab().stage("stage-3")
    for step in stage.steps:
        if isinstance(step, CheckStep) and any("INIT:.spec.initContainers" in word for word in step.argv):
            header, row = step.output.strip().splitlines()[:2]
            columns = dict(zip(header.split(), row.split(), strict=True))
            app = next(word.split("=", 1)[1] for word in step.argv if word.startswith("app="))
            return app, columns["INIT"].split(","), columns["CONTAINERS"].split(",")
    raise AssertionError("stage 3 has no check that shows the pod's init containers")


def test_stage3_sample_shows_what_the_injector_makes() -> None:
    """Stage 3's page: the injected pod's init containers and containers, in order, as Istio's injector
    writes them for the lab's revision (native sidecar: istio-proxy among the init containers)."""
    app, init, containers = _pod_spec_sample()
    deployment = next(d for d in injected("defaults") if d["metadata"]["name"] == app)
    spec = deployment["spec"]["template"]["spec"]
    assert [c["name"] for c in spec.get("initContainers", [])] == init
    assert [c["name"] for c in spec["containers"]] == containers


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_injected_pods_are_admitted_and_run(value_set: str) -> None:
    namespace = prepared_namespace(value_set)
    deployments = [openshift_defaults(d) for d in injected(value_set)]
    refused = _refused(deployments)
    unexpected = {k: v for k, v in refused.items()
                  if k not in ADMISSION_EXCEPTIONS or ADMISSION_EXCEPTIONS[k][1] not in v}
    listing = "\n".join(f"{k}: {v}" for k, v in unexpected.items())
    assert not unexpected, "Pod Security (restricted) refuses:\n" + listing
    stale = sorted(set(ADMISSION_EXCEPTIONS) - set(refused))
    assert not stale, f"ADMISSION_EXCEPTIONS lists Deployments that are admitted now: {stale}"
    admitted = [d for d in deployments if d["metadata"]["name"] not in refused]
    cluster().kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(admitted))
    names = [f"deployment/{d['metadata']['name']}" for d in admitted]
    result = cluster().kubectl("wait", *names, "-n", namespace, "--for=condition=Available",
                               "--timeout=180s", check=False, timeout=240)
    assert result.returncode == 0, f"not every injected Deployment became Available: {result.stderr}"


def test_without_openshift_defaulting_restricted_refuses_some_pods() -> None:
    """The admission check can fail: kube-inject's output as is (UID 1337, no seccomp on the gateway)
    is refused by Pod Security, which is why OpenShift's defaulting is applied, and documented."""
    prepared_namespace("defaults")
    refused = _refused(injected("defaults"))
    assert refused, "expected Pod Security to refuse at least one pod without OpenShift's defaulting"
