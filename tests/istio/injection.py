"""Sidecar injection with Istio's own injector (`istioctl kube-inject`), and OpenShift's pod defaulting.

`kube-inject` renders the injector ConfigMaps of the lab's revision (istio_install: the `openshift`
profile, CNI, the lab's values). It needs a reachable API server even with every file given (it
hung without one), so it runs against the local control plane of scripts/local_cluster.py.

Two things OpenShift does that neither `kube-inject` nor Pod Security admission does, applied by
``openshift_defaults`` and documented field by field:

- the proxy's UID and GID. Istio's webhook (pkg/kube/inject GetProxyIDs) takes the *maximum* of the
  namespace's `openshift.io/sa.scc.uid-range` and `openshift.io/sa.scc.supplemental-groups`
  annotations; `kube-inject` has no namespace object and writes the default 1337, which the
  restricted-v2 SCC would refuse (outside the namespace's range). The test puts in the webhook's value.
- restricted-v2's defaults: `runAsUser` (the *minimum* of the range, MustRunAsRange) where no UID is
  set, `seccompProfile: RuntimeDefault` on the pod where none is set, and on each container
  `allowPrivilegeEscalation: false` and `capabilities.drop: [ALL]` where unset. Pod Security
  (`restricted`) only checks these fields; the SCC fills them in first.

Native sidecars: the webhook injects `istio-proxy` as an init container with `restartPolicy: Always`
when the pod's node runs Kubernetes 1.33 or later (pkg/kube/inject DetectNativeSidecar), as OpenShift
4.20's nodes do. `kube-inject` has no node to look at and would not; `ENABLE_NATIVE_SIDECARS=true`
gives it the webhook's answer for such nodes.

`runAsNonRoot` is *not* filled in: Pod Security requires it, and whether restricted-v2 sets it is not
checked here, so every manifest must set it (the test reports the pods that do not).
"""

from __future__ import annotations

import copy
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import yaml
from istio_install import Install

from handbook import local_cluster

REPO = Path(__file__).resolve().parents[2]
# What OpenShift writes on a new project (the values are an example range of 10000 ids).
UID_RANGE = "1000680000/10000"
OPENSHIFT_ANNOTATIONS = {
    "openshift.io/sa.scc.uid-range": UID_RANGE,
    "openshift.io/sa.scc.supplemental-groups": UID_RANGE,
    "openshift.io/sa.scc.mcs": "s0:c26,c15",
}
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted",
              "pod-security.kubernetes.io/enforce-version": "latest"}
DEFAULT_PROXY_ID = 1337


def _range() -> tuple[int, int]:
    start, size = (int(part) for part in UID_RANGE.split("/"))
    return start, start + size - 1


@cache
def cluster() -> local_cluster.LocalCluster:
    """One local control plane for this test process, stopped when the process ends."""
    report = local_cluster.build()
    directory = Path(tempfile.mkdtemp(prefix="istio-inject-cluster-"))
    started = local_cluster.LocalCluster(directory=directory, bin=report.directory, missing=dict(report.failed))
    started.start(nodes=True, tie_to_parent=True)
    import atexit

    atexit.register(started.stop)
    return started


def openshift_namespace(name: str, labels: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {**labels, **RESTRICTED}, "annotations": dict(OPENSHIFT_ANNOTATIONS)}}


def kube_inject(istioctl: Path, install: Install, deployments: list[dict]) -> list[dict]:
    """The Deployments as Istio's injector rewrites them (those without the revision label unchanged)."""
    env = dict(cluster().env(), ENABLE_NATIVE_SIDECARS="true")
    with tempfile.TemporaryDirectory(prefix="istio-inject-") as tmp:
        folder = Path(tmp)
        files = install.write(folder)
        source = folder / "deployments.yaml"
        source.write_text(yaml.safe_dump_all(deployments, sort_keys=False), encoding="utf-8")
        result = subprocess.run(  # noqa: S603 - argv list
            [str(istioctl), "kube-inject", "--injectConfigFile", str(files["config"]),
             "--valuesFile", str(files["values"]), "--meshConfigFile", str(files["mesh"]), "-f", str(source)],
            env=env, capture_output=True, text=True, check=False, timeout=120,
        )
    if result.returncode != 0:
        raise RuntimeError(f"istioctl kube-inject failed: {result.stderr.strip()[-2000:]}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def openshift_defaults(deployment: dict) -> dict:
    """The Deployment with what OpenShift's injector webhook and restricted-v2 SCC would fill in."""
    found = copy.deepcopy(deployment)
    spec = found["spec"]["template"]["spec"]
    low, high = _range()
    pod_context = spec.setdefault("securityContext", {})
    containers = [*spec.get("initContainers", []), *spec["containers"]]
    for container in containers:
        context = container.setdefault("securityContext", {})
        if container["name"] in ("istio-proxy", "istio-validation", "istio-init"):
            for key in ("runAsUser", "runAsGroup"):
                if context.get(key) == DEFAULT_PROXY_ID:
                    context[key] = high
        context.setdefault("allowPrivilegeEscalation", False)
        drop = context.setdefault("capabilities", {}).setdefault("drop", [])
        if "ALL" not in drop:
            drop.append("ALL")
    if "runAsUser" not in pod_context and any("runAsUser" not in (c.get("securityContext") or {})
                                                for c in containers):
        pod_context["runAsUser"] = low
    pod_context.setdefault("seccompProfile", {"type": "RuntimeDefault"})
    return found
