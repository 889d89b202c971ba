"""What the lab's control plane is configured with, as `istioctl manifest generate` renders it.

The lab's `Istio` resource (stage 2) carries Helm values for one revision; OSSM 3 installs them on
OpenShift with the `openshift` profile and CNI. `istioctl manifest generate` renders the same charts
from the pinned module offline, so the mesh config (ConfigMap `istio-<rev>`, key `mesh`) and the
sidecar injector's template and values (ConfigMap `istio-sidecar-injector-<rev>`) come from Istio's
own charts, with the lab's values laid over them.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from handbook.lab import Lab

PROFILE = "openshift"


@dataclass(frozen=True)
class Install:
    revision: str
    namespace: str
    mesh: str  # the mesh config, YAML
    injector_config: str  # the injection templates, YAML
    injector_values: str  # the values the templates read, JSON
    control_plane: tuple[dict, ...] = ()  # the injector's webhook configuration and istiod's Service

    def write(self, folder: Path) -> dict[str, Path]:
        files = {"mesh": folder / "mesh.yaml", "config": folder / "inject-config.yaml",
                 "values": folder / "inject-values.json"}
        files["mesh"].write_text(self.mesh, encoding="utf-8")
        files["config"].write_text(self.injector_config, encoding="utf-8")
        files["values"].write_text(self.injector_values, encoding="utf-8")
        return files


def lab_istio(lab: Lab, values: Mapping[str, str]) -> dict:
    """The lab's Istio resource, values substituted."""
    found = [o for o in lab.objects(lab.stages, values) if o.get("kind") == "Istio"
             and str(o.get("apiVersion", "")).startswith("sailoperator.io/")
             and o["metadata"]["name"] == values["MESH_NAME"]]
    if len(found) != 1:
        raise ValueError(f"expected one Istio resource named {values['MESH_NAME']}, found {len(found)}")
    return found[0]


def operator_spec(istio: Mapping) -> dict:
    """An IstioOperator for `manifest generate` with the Istio resource's values and namespace."""
    helm = dict(istio["spec"].get("values") or {})
    mesh_config = helm.pop("meshConfig", {})
    helm.setdefault("global", {})["istioNamespace"] = istio["spec"]["namespace"]
    return {"apiVersion": "install.istio.io/v1alpha1", "kind": "IstioOperator",
            "spec": {"profile": PROFILE, "revision": istio["metadata"]["name"],
                     "meshConfig": mesh_config, "values": helm}}


def generate(istioctl: Path, istio: Mapping) -> Install:
    revision, namespace = istio["metadata"]["name"], istio["spec"]["namespace"]
    with tempfile.TemporaryDirectory(prefix="istio-install-") as tmp:
        operator = Path(tmp) / "operator.yaml"
        operator.write_text(yaml.safe_dump(operator_spec(istio)), encoding="utf-8")
        result = subprocess.run(  # noqa: S603 - argv list
            [str(istioctl), "manifest", "generate", "-f", str(operator)],
            capture_output=True, text=True, check=False, timeout=300,
        )
    if result.returncode != 0:
        raise RuntimeError(f"istioctl manifest generate failed: {result.stderr.strip()[-2000:]}")
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    maps = {doc["metadata"]["name"]: doc.get("data") or {} for doc in documents if doc.get("kind") == "ConfigMap"}
    control_plane = tuple(doc for doc in documents if doc.get("kind") == "MutatingWebhookConfiguration"
                          or (doc.get("kind") == "Service" and doc["metadata"]["name"] == f"istiod-{revision}"))
    injector, mesh = maps.get(f"istio-sidecar-injector-{revision}"), maps.get(f"istio-{revision}")
    if not injector or not mesh:
        raise RuntimeError(f"manifest generate printed no injector or mesh ConfigMap for revision {revision}")
    return Install(revision, namespace, mesh["mesh"], injector["config"], injector["values"], control_plane)
