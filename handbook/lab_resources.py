"""What the whole lab asks of a cluster: CPU and memory requests and limits, summed for one learner.

``measure`` reads the end state of every stage (``Lab.objects``, the replay of every step, demonstrations
included, on one platform) and counts what each running thing declares:

- workloads in the manifests (Deployment, StatefulSet, ReplicaSet, DaemonSet on one node, Pod), with
  their replicas, each pod as Kubernetes counts it (its containers plus sidecar init containers, or its
  largest init container if that is more);
- what operators start from the lab's resources: istiod from an ``Istio`` (``spec.values.pilot.resources``),
  one ``istio-proxy`` per pod in a namespace or pod that the mesh injects, the Prometheus of a
  ``Prometheus`` and the Kiali server of a ``Kiali``, each with what its resource says or else the
  default named in ``DEFAULTS``;
- the operators the Helm charts of stage 0 install (``CHART_OPERATORS``), which no manifest here shows.

Every number that is not in a manifest comes from ``DEFAULTS`` or ``CHART_OPERATORS``, each with its source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .lab import Lab


@dataclass(frozen=True)
class Amount:
    """CPU in millicores and memory in bytes."""

    cpu: int = 0
    memory: int = 0

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.cpu + other.cpu, self.memory + other.memory)

    def times(self, count: int) -> Amount:
        return Amount(self.cpu * count, self.memory * count)

    def larger(self, other: Amount) -> Amount:
        return Amount(max(self.cpu, other.cpu), max(self.memory, other.memory))


@dataclass(frozen=True)
class Line:
    """One thing that runs: what it is, how many pods, what each pod requests and is limited to."""

    what: str
    pods: int
    requests: Amount
    limits: Amount
    source: str  # "manifest", or where a default comes from


@dataclass(frozen=True)
class Default:
    requests: Amount
    limits: Amount
    source: str


_MI = 1024 * 1024
ISTIO_CHART = "istio.io/istio manifests/charts/istio-control/istio-discovery/values.yaml"
# What runs when a resource leaves its size to the operator or chart.
DEFAULTS: dict[str, Default] = {
    "istiod": Default(Amount(500, 2048 * _MI), Amount(), f"{ISTIO_CHART} pilot.resources"),
    "istio-proxy": Default(Amount(100, 128 * _MI), Amount(2000, 1024 * _MI), f"{ISTIO_CHART} global.proxy.resources"),
    "istio-cni": Default(Amount(100, 100 * _MI), Amount(),
                         "istio.io/istio manifests/charts/istio-cni/values.yaml resources"),
    "prometheus": Default(Amount(0, 0), Amount(), "Prometheus.spec.resources unset: no request"),
    # The operator's own default is 10m/50Mi (cmd/operator/main.go), but the chart passes 0 (no request).
    "prometheus-config-reloader": Default(Amount(), Amount(),
                                          "kube-prometheus-stack 88.5.3 templates/prometheus-operator/deployment.yaml "
                                          "--config-reloader-cpu-request=0 (resources: {})"),
    "kiali": Default(Amount(10, 64 * _MI), Amount(0, 1024 * _MI),
                     "kiali/helm-charts v2.27.0 kiali-server/values.yaml deployment.resources"),
}
# The operators stage 0 installs on Kubernetes with Helm (one pod each), from the pinned charts' values.
CHART_OPERATORS: dict[str, Default] = {
    "sail-operator": Default(Amount(10, 64 * _MI), Amount(500, 1024 * _MI),
                             "istio-ecosystem/sail-operator 1.30.3 chart/values.yaml operator.resources"),
    "kiali-operator": Default(Amount(10, 64 * _MI), Amount(),
                              "kiali/helm-charts v2.27.0 kiali-operator/values.yaml resources"),
    "prometheus-operator": Default(Amount(), Amount(),
                                   "prometheus-community kube-prometheus-stack 88.5.3 values.yaml "
                                   "prometheusOperator.resources: {}"),
}
WORKLOADS = {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Pod"}

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([EPTGMK]i?|e\d+|m)?$")
_MEMORY_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
                 "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def cpu_millis(quantity: str | int | float) -> int:
    """``500m`` -> 500, ``2`` -> 2000, ``0.5`` -> 500."""
    match = _CPU.fullmatch(str(quantity).strip())
    if not match:
        raise ValueError(f"{quantity!r} is not a CPU quantity such as 100m or 2")
    number = float(match.group(1))
    return round(number if match.group(2) else number * 1000)


def memory_bytes(quantity: str | int | float) -> int:
    """``128Mi`` -> 134217728, ``1G`` -> 10**9, ``64`` -> 64."""
    match = _MEMORY.fullmatch(str(quantity).strip())
    if not match or (match.group(2) or "") not in _MEMORY_UNITS:
        raise ValueError(f"{quantity!r} is not a memory quantity such as 128Mi or 1Gi")
    return round(float(match.group(1)) * _MEMORY_UNITS[match.group(2) or ""])


def amount(resources: Mapping | None, key: str) -> Amount:
    """``resources.requests`` or ``resources.limits`` of a container (or a CR's resources block)."""
    values = ((resources or {}).get(key) or {})
    return Amount(cpu_millis(values["cpu"]) if "cpu" in values else 0,
                  memory_bytes(values["memory"]) if "memory" in values else 0)


def pod_amounts(spec: Mapping) -> tuple[Amount, Amount]:
    """(requests, limits) of one pod as the scheduler counts them.

    The sum of the containers and of the init containers that keep running (``restartPolicy: Always``),
    or the largest one-shot init container together with the sidecars started before it, if that is more.
    """
    totals = []
    for key in ("requests", "limits"):
        running = Amount()
        for container in spec.get("containers") or []:
            running = running + amount(container.get("resources"), key)
        peak = Amount()
        started = Amount()
        for container in spec.get("initContainers") or []:
            own = amount(container.get("resources"), key)
            if container.get("restartPolicy") == "Always":
                started = started + own
                running = running + own
            else:
                peak = peak.larger(started + own)
        totals.append(running.larger(peak))
    return totals[0], totals[1]


def _labels(obj: Mapping) -> Mapping:
    return (obj.get("metadata") or {}).get("labels") or {}


def _annotations(obj: Mapping) -> Mapping:
    return (obj.get("metadata") or {}).get("annotations") or {}


def injected(template: Mapping, namespace: Mapping | None) -> bool:
    """Whether the mesh adds an ``istio-proxy`` to pods of ``template`` in ``namespace``.

    The pod's ``sidecar.istio.io/inject`` label decides when set; else the namespace's
    ``istio-injection=enabled`` or ``istio.io/rev`` label; a pod ``istio.io/rev`` label also injects.
    """
    pod = _labels(template)
    if "sidecar.istio.io/inject" in pod:
        return str(pod["sidecar.istio.io/inject"]) == "true"
    labels = _labels(namespace or {})
    if labels.get("istio-injection") == "disabled":
        return False
    return labels.get("istio-injection") == "enabled" or "istio.io/rev" in labels or "istio.io/rev" in pod


def _proxy(template: Mapping) -> tuple[Amount, Amount, str]:
    default = DEFAULTS["istio-proxy"]
    notes = _annotations(template)
    requests = Amount(cpu_millis(notes.get("sidecar.istio.io/proxyCPU", f"{default.requests.cpu}m")),
                      memory_bytes(notes.get("sidecar.istio.io/proxyMemory", f"{default.requests.memory}")))
    limits = Amount(cpu_millis(notes.get("sidecar.istio.io/proxyCPULimit", f"{default.limits.cpu}m")),
                    memory_bytes(notes.get("sidecar.istio.io/proxyMemoryLimit", f"{default.limits.memory}")))
    custom = any(k.startswith("sidecar.istio.io/proxy") for k in notes)
    return requests, limits, "manifest (sidecar.istio.io annotations)" if custom else default.source


def _or_default(resources: Mapping | None, default: Default) -> tuple[Amount, Amount, str]:
    if resources and (resources.get("requests") or resources.get("limits")):
        return amount(resources, "requests"), amount(resources, "limits"), "manifest"
    return default.requests, default.limits, default.source


def _name(obj: Mapping) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta.get('namespace') + '/' if meta.get('namespace') else ''}{meta.get('name')}"


def _workload_lines(obj: Mapping, namespaces: Mapping[str, Mapping]) -> list[Line]:
    kind = obj["kind"]
    spec = obj.get("spec") or {}
    template = obj if kind == "Pod" else spec.get("template") or {}
    pods = 1 if kind in ("Pod", "DaemonSet") else int(spec.get("replicas", 1))
    requests, limits = pod_amounts(template.get("spec") or {})
    lines = [Line(_name(obj), pods, requests, limits, "manifest")]
    namespace = namespaces.get((obj.get("metadata") or {}).get("namespace") or "")
    if pods and injected(template, namespace):
        proxy_requests, proxy_limits, source = _proxy(template)
        lines.append(Line(f"istio-proxy in {_name(obj)}", pods, proxy_requests, proxy_limits, source))
    return lines


def _operand_lines(obj: Mapping) -> list[Line]:
    """What an operator starts from a lab resource."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Istio":
        pilot = ((spec.get("values") or {}).get("pilot") or {})
        requests, limits, source = _or_default(pilot.get("resources"), DEFAULTS["istiod"])
        return [Line(f"istiod of {_name(obj)}", 1, requests, limits, source)]
    if kind == "IstioCNI":
        default = DEFAULTS["istio-cni"]
        return [Line(f"istio-cni-node of {_name(obj)} (1 node)", 1, default.requests, default.limits, default.source)]
    if kind == "Prometheus":
        requests, limits, source = _or_default(spec.get("resources"), DEFAULTS["prometheus"])
        reloader = DEFAULTS["prometheus-config-reloader"]
        pods = int(spec.get("replicas", 1))
        return [Line(f"prometheus of {_name(obj)}", pods, requests, limits, source),
                Line(f"config-reloader of {_name(obj)}", pods, reloader.requests, reloader.limits, reloader.source)]
    if kind == "Kiali":
        deployment = spec.get("deployment") or {}
        requests, limits, source = _or_default(deployment.get("resources"), DEFAULTS["kiali"])
        return [Line(f"kiali of {_name(obj)}", 1, requests, limits, source)]
    return []


def measure(objects: Iterable[Mapping], *, chart_operators: bool = True) -> list[Line]:
    """Every line of what runs when the cluster holds ``objects`` (an end state, values substituted)."""
    objects = [o for o in objects if isinstance(o, Mapping)]
    namespaces = {str((o.get("metadata") or {}).get("name")): o for o in objects if o.get("kind") == "Namespace"}
    lines: list[Line] = []
    for obj in objects:
        if obj.get("kind") in WORKLOADS:
            lines += _workload_lines(obj, namespaces)
        else:
            lines += _operand_lines(obj)
    if chart_operators:
        lines += [Line(f"{name} (Helm chart of stage 0)", 1, d.requests, d.limits, d.source)
                  for name, d in CHART_OPERATORS.items()]
    return lines


def total(lines: Iterable[Line]) -> tuple[Amount, Amount]:
    """(requests, limits) of all lines. A limit left unset counts as 0: the limits total is a lower bound."""
    requests, limits = Amount(), Amount()
    for line in lines:
        requests = requests + line.requests.times(line.pods)
        limits = limits + line.limits.times(line.pods)
    return requests, limits


def lab_lines(lab: Lab, platform: str = "kubernetes", user: str | None = None) -> list[Line]:
    """The lines for one learner (LAB_USER's default, or ``user``) after every stage on ``platform``."""
    values = lab.variables.resolve({"LAB_USER": user} if user else {})
    return measure(lab.objects(list(lab.stages), values, platform), chart_operators=platform == "kubernetes")


def _cpu_text(millis: int) -> str:
    return f"{millis / 1000:.2f}".rstrip("0").rstrip(".") + " CPU" if millis else "-"


def _memory_text(size: int) -> str:
    return f"{size / _MI:.0f} MiB" if size else "-"


def markdown(lines: list[Line]) -> str:
    """The laptop page's numbers: the totals, then every line in a folded table."""
    requests, limits = total(lines)
    rows = ["| 動くもの | Pod 数 | CPU 要求 (1 Pod) | メモリー要求 (1 Pod) | 値の出どころ |", "|---|---|---|---|---|"]
    for line in lines:
        rows.append(f"| {line.what} | {line.pods} | {_cpu_text(line.requests.cpu)} | "
                    f"{_memory_text(line.requests.memory)} | {line.source} |")
    rows.append(f"| **合計** | {sum(line.pods for line in lines)} | **{_cpu_text(requests.cpu)}** | "
                f"**{_memory_text(requests.memory)}** | |")
    table = "\n".join(f"    {row}" for row in rows)
    return (f"- 要求 (requests) の合計: **CPU {requests.cpu / 1000:.2f} コア、"
            f"メモリー {requests.memory / 2**30:.1f} GiB**\n"
            f"- 上限 (limits) の合計 (上限のない Pod は 0 として数えた下限): "
            f"CPU {limits.cpu / 1000:.1f} コア、メモリー {limits.memory / 2**30:.1f} GiB\n\n"
            f'??? info "内訳 ({len(lines)} 行)"\n\n{table}\n')
