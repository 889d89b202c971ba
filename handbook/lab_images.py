"""Which container images each stage makes a cluster pull for the first time (one learner, one platform).

The images come from the replay end state after each stage (``Lab.objects``): the ``image`` of every
container in the manifests, plus the images that operators start from the lab's resources
(``OPERAND_IMAGES``) and, on Kubernetes, those of the Helm charts that stage 0 installs
(``CHART_IMAGES``). Each of those two tables names its source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .lab import Lab
from .lab_resources import WORKLOADS, injected

ISTIO = "registry.istio.io/release"
# What an operator starts for a kind of lab resource: images from the pinned operators' sources.
OPERAND_IMAGES: dict[str, tuple[tuple[str, str], ...]] = {
    "Istio": ((f"{ISTIO}/pilot:1.30.3", "sail-operator 1.30.3 chart/values.yaml images.v1_30_3.istiod"),),
    "IstioCNI": ((f"{ISTIO}/install-cni:1.30.3", "sail-operator 1.30.3 chart/values.yaml images.v1_30_3.cni"),),
    "Prometheus": (("quay.io/prometheus/prometheus:v3.13.1",
                    "prometheus-operator v0.93.1 pkg/operator/defaults.go DefaultPrometheusVersion"),
                   ("quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1",
                    "kube-prometheus-stack 88.5.3: the operator's own version (appVersion)")),
    "Kiali": (("quay.io/kiali/kiali:v2.27.0", "kiali-operator v2.27.0 deploys its own version (unconfirmed)"),),
}
PROXY_IMAGE = (f"{ISTIO}/proxyv2:1.30.3", "sail-operator 1.30.3 chart/values.yaml images.v1_30_3.proxy")
CHART_IMAGES: tuple[tuple[str, str], ...] = (
    ("quay.io/sail-dev/sail-operator:1.30.3", "sail-operator 1.30.3 chart/values.yaml image"),
    ("quay.io/kiali/kiali-operator:v2.27.0", "kiali/helm-charts v2.27.0 Makefile HELM_IMAGE_REPO_OPERATOR:VERSION"),
    ("quay.io/prometheus-operator/prometheus-operator:v0.93.1",
     "kube-prometheus-stack 88.5.3 prometheusOperator.image (tag: appVersion v0.93.1)"),
)


@dataclass(frozen=True)
class StageImages:
    stage_id: str
    images: tuple[tuple[str, str], ...]  # (image, where it comes from), new in this stage


def _pod_templates(obj: Mapping) -> Mapping:
    return obj if obj.get("kind") == "Pod" else ((obj.get("spec") or {}).get("template") or {})


def images_of(objects: Iterable[Mapping]) -> dict[str, str]:
    """image -> where it comes from, for everything a cluster holding ``objects`` runs."""
    objects = [o for o in objects if isinstance(o, Mapping)]
    namespaces = {str((o.get("metadata") or {}).get("name")): o for o in objects if o.get("kind") == "Namespace"}
    found: dict[str, str] = {}
    for obj in objects:
        kind = obj.get("kind")
        if kind in WORKLOADS:
            template = _pod_templates(obj)
            spec = template.get("spec") or {}
            for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
                image = container.get("image")
                if image and image != "auto":  # "auto": the injector fills in the proxy image
                    found.setdefault(image, "manifest")
            namespace = namespaces.get((obj.get("metadata") or {}).get("namespace") or "")
            if injected(template, namespace):
                found.setdefault(*PROXY_IMAGE)
        for image, source in OPERAND_IMAGES.get(str(kind), ()):
            found.setdefault(image, source)
    return found


def per_stage(lab: Lab, platform: str = "kubernetes") -> list[StageImages]:
    """For each stage, the images that the cluster runs after it and did not run before it."""
    values = lab.variables.resolve()
    seen: set[str] = set()
    result: list[StageImages] = []
    for index, stage in enumerate(lab.stages):
        found = images_of(lab.objects(list(lab.stages[: index + 1]), values, platform))
        if stage.number == 0 and platform == "kubernetes":
            found = {**dict(CHART_IMAGES), **found}
        new = tuple((image, source) for image, source in found.items() if image not in seen)
        seen.update(found)
        result.append(StageImages(stage.id, new))
    return result


def markdown(stages: list[StageImages]) -> str:
    rows = ["| ステージ | 初めて取得するイメージ | 値の出どころ |", "|---|---|---|"]
    for item in stages:
        for image, source in item.images or (("(なし)", ""),):
            rows.append(f"| {item.stage_id} | `{image}` | {source} |" if image != "(なし)" else
                        f"| {item.stage_id} | (なし) | |")
    return "\n".join(rows) + "\n"
