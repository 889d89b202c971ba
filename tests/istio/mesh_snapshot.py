"""A stage's end state as Istio's control plane would see it, built from the handbook's model.

``state_after`` follows the steps of a catch-up run (demonstrations skipped) up to a stage, or up to
one step of it, and returns the newest version of every object, with the pod-template labels that
patch steps add and the service accounts that ``oc set serviceaccount`` sets (handbook.authz).

``snapshot`` turns that state into what Istio's fake discovery server reads: Namespaces, Services,
one Pod per Deployment (``<deployment>-0``, a fixed IP, the template's labels plus the two labels
the injector adds), an EndpointSlice per Service and Pod, and every Istio resource. Deployments whose
pod template carries the lab's revision label get a proxy; a template annotated with the gateway
injection template makes a gateway (router) proxy.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from handbook.authz import end_state
from handbook.lab import Lab
from handbook.stages import Stage
from handbook.steps import PatchStep
from handbook.variables import substitute

ISTIO_GROUPS = ("networking.istio.io/", "security.istio.io/", "telemetry.istio.io/")
KUBE_KINDS = ("Namespace", "Service")
REVISION_LABEL = "istio.io/rev"
GATEWAY_TEMPLATE = "gateway"
POD_NETWORK = "10.128.{}.{}"


@dataclass
class EndState:
    namespace: str
    mesh_namespace: str
    revision: str
    objects: dict[tuple[str, str, str], dict]  # (kind, namespace, name) -> newest object
    deployments: dict[str, dict]  # name -> Deployment (template labels patched, service account set)


def _key(obj: Mapping) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name"))


def stages_until(lab: Lab, stage_id: str, step_id: str | None = None) -> list[Stage]:
    """Every stage up to ``stage_id``; the last one cut after ``step_id`` when given."""
    stages = lab.stages_upto(stage_id)
    if step_id is None:
        return stages
    last = stages[-1]
    ids = [s.id for s in last.steps]
    if step_id not in ids:
        raise ValueError(f"{last.id} has no step {step_id!r}")
    return [*stages[:-1], dataclasses.replace(last, steps=last.steps[: ids.index(step_id) + 1])]


def state_after(lab: Lab, values: Mapping[str, str], stage_id: str, step_id: str | None = None) -> EndState:
    stages = stages_until(lab, stage_id, step_id)
    namespace, mesh_ns, revision = values["APP_NS"], values["MESH_NS"], values["MESH_NAME"]
    found = end_state(stages, values, namespace)
    if found.problems:
        raise ValueError("; ".join(found.problems))
    objects: dict[tuple[str, str, str], dict] = {}
    for obj in found.objects:
        objects[_key(obj)] = copy.deepcopy(obj)
    deployments: dict[str, dict] = {}
    for name, workload in found.workloads.items():
        deployment = copy.deepcopy(objects[("Deployment", namespace, name)])
        template = deployment["spec"]["template"]
        template.setdefault("spec", {})["serviceAccountName"] = workload.service_account
        deployments[name] = deployment
    for stage in stages:
        for step in stage.steps_for("openshift"):
            if step.demo or not isinstance(step, PatchStep) or not step.resource.startswith("deployment/"):
                continue
            target = deployments.get(step.resource.split("/", 1)[1])
            patch = yaml.safe_load(substitute(step.body, values)) or {}
            labels = (((patch.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
            if target is not None and labels:
                target["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    return EndState(namespace, mesh_ns, revision, objects, deployments)


def _matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _container_port(pod_spec: Mapping, target: object) -> int | None:
    if isinstance(target, int):
        return target
    for container in pod_spec.get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    return None


@dataclass
class Snapshot:
    data: dict
    pods: dict[str, dict]  # deployment name -> Pod

def snapshot(state: EndState, mesh_config: str, extra_kube: list[dict] | None = None) -> Snapshot:
    """The fake discovery server's input: Kubernetes objects, Istio resources and the proxies."""
    kube: list[dict] = []
    istio: list[dict] = []
    for obj in state.objects.values():
        api = str(obj.get("apiVersion"))
        if api.startswith(ISTIO_GROUPS):
            istio.append(obj)
        elif api == "v1" and obj.get("kind") in KUBE_KINDS:
            kube.append(obj)
    kube.extend(extra_kube or [])
    pods: dict[str, dict] = {}
    proxies: dict[str, dict] = {}
    for index, (name, deployment) in enumerate(sorted(state.deployments.items())):
        template = deployment["spec"]["template"]
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        injected = labels.get(REVISION_LABEL) == state.revision
        if injected:
            # What the injector adds to every pod it injects (the auto-mTLS and telemetry labels).
            labels.setdefault("security.istio.io/tlsMode", "istio")
            labels.setdefault("service.istio.io/canonical-name", labels.get("app", name))
        ip = POD_NETWORK.format(1 + index // 250, 10 + index % 250)
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{name}-0", "namespace": state.namespace, "labels": labels},
            "spec": {**template.get("spec", {}), "nodeName": "node-0"},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": "True"}]},
        }
        pods[name] = pod
        kube.append(pod)
        if injected:
            proxies[name] = {
                "ip": ip, "namespace": state.namespace, "labels": labels, "pod": f"{name}-0",
                "serviceAccount": template["spec"].get("serviceAccountName", "default"),
                "router": annotations.get("inject.istio.io/templates") == GATEWAY_TEMPLATE,
            }
    kube.extend(_endpoint_slices(state, pods))
    data = {"meshConfig": mesh_config, "rootNamespace": state.mesh_namespace, "kube": kube,
            "istio": istio, "proxies": proxies, "claims": []}
    return Snapshot(data, pods)


def _endpoint_slices(state: EndState, pods: Mapping[str, dict]) -> list[dict]:
    slices: list[dict] = []
    for (kind, namespace, name), service in state.objects.items():
        if kind != "Service" or namespace != state.namespace:
            continue
        selector = (service.get("spec") or {}).get("selector") or {}
        for deployment, pod in sorted(pods.items()):
            if not _matches(selector, pod["metadata"]["labels"]):
                continue
            ports = []
            for port in service["spec"].get("ports") or []:
                number = _container_port(pod["spec"], port.get("targetPort", port["port"]))
                if number is not None:
                    ports.append({"name": port.get("name", ""), "port": number, "protocol": "TCP"})
            slices.append({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": f"{name}-{deployment}", "namespace": namespace,
                             "labels": {"kubernetes.io/service-name": name}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": [pod["status"]["podIP"]], "conditions": {"ready": True},
                               "targetRef": {"kind": "Pod", "name": pod["metadata"]["name"],
                                             "namespace": namespace}}],
                "ports": ports,
            })
    return slices
