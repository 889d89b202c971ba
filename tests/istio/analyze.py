"""Istio's analyzers (`istioctl analyze`) offline on a stage's end state, and the reviewed list of accepted warnings.

The input is every object the lab has created by the end of a stage that Istio's analyzers read
(Namespaces, Services, ServiceAccounts, ConfigMaps, the Istio resources) plus one Pod per Deployment
built from its injected template, because the analyzers match selectors against pods.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from istio_install import Install
from mesh_snapshot import EndState

ACCEPTED_FILE = Path(__file__).with_name("analyzer-accepted.yaml")
KINDS = {("v1", "Namespace"), ("v1", "Service"), ("v1", "ServiceAccount"), ("v1", "ConfigMap"), ("v1", "Pod"),
         ("apps/v1", "Deployment")}
ISTIO_GROUPS = ("networking.istio.io/", "security.istio.io/", "telemetry.istio.io/")


@dataclass(frozen=True)
class Finding:
    code: str
    level: str
    resource: str  # e.g. "VirtualService sockshop-ingress.user1-sockshop"
    message: str

    def key(self, values: dict[str, str]) -> tuple[str, str]:
        """(code, resource with the value set's names put back as ${VAR}), to compare with the accepted list."""
        resource = self.resource
        for name in ("APP_NS", "MESH_NS", "SHOP_HOST", "MESH_NAME"):
            resource = resource.replace(values[name], "${" + name + "}") if values[name] else resource
        return self.code, resource


def analyzer_input(state: EndState, install: Install, injected: list[dict]) -> list[dict]:
    """The objects, with the API server's defaulting of Service port protocols (TCP), the control
    plane's webhook configuration and Service once the lab's Istio resource exists, and one Pod per
    injected Deployment."""
    documents = [copy.deepcopy(obj) for obj in state.objects.values()
                 if (obj.get("apiVersion"), obj.get("kind")) in KINDS
                 or str(obj.get("apiVersion")).startswith(ISTIO_GROUPS)]
    for obj in documents:
        if obj["kind"] == "Service":
            for port in obj["spec"].get("ports") or []:
                port.setdefault("protocol", "TCP")
    pods = []
    for deployment in injected:
        template = deployment["spec"]["template"]
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": deployment["metadata"]["name"] + "-0",
                                  "namespace": deployment["metadata"]["namespace"],
                                  "labels": template["metadata"].get("labels", {}),
                                  "annotations": template["metadata"].get("annotations", {})},
                     "spec": template["spec"], "status": {"phase": "Running"}})
    control_plane = list(install.control_plane) if ("Istio", "", install.revision) in state.objects else []
    return documents + control_plane + pods


def analyze(bin_dir: Path, install: Install, documents: list[dict]) -> list[Finding]:
    """Every message of Istio's analyzers (all of `istioctl analyze`'s) on ``documents``, offline.

    Run through meshtest.test's TestAnalyze, which reads Pods and Namespaces from the file too:
    `istioctl analyze --use-kube=false` drops those kinds from files, and then skips every analyzer
    that needs them (subset and gateway selectors among them).
    """
    with tempfile.TemporaryDirectory(prefix="istio-analyze-") as tmp:
        folder = Path(tmp)
        files = install.write(folder)
        objects, report = folder / "objects.yaml", folder / "report.json"
        objects.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
        env = dict(os.environ, MESHTEST_ANALYZE_FILES=str(objects), MESHTEST_MESH_CONFIG=str(files["mesh"]),
                   MESHTEST_ISTIO_NAMESPACE=install.namespace, MESHTEST_REPORT=str(report))
        result = subprocess.run(  # noqa: S603 - argv list
            [str(bin_dir / "meshtest.test"), "-test.run", "^TestAnalyze$"],
            env=env, cwd=tmp, capture_output=True, text=True, check=False, timeout=300,
        )
        if result.returncode != 0 or not report.is_file():
            raise RuntimeError(f"TestAnalyze exited {result.returncode}: {(result.stdout + result.stderr)[-3000:]}")
        found = json.loads(report.read_text(encoding="utf-8"))
    return [Finding(m["code"], m["level"], _resource(m), m["message"]) for m in found["messages"]]


def _resource(message: dict) -> str:
    return str(message.get("origin", ""))


def accepted() -> dict[tuple[str, str], str]:
    """(code, resource) -> reason, from analyzer-accepted.yaml."""
    raw = yaml.safe_load(ACCEPTED_FILE.read_text(encoding="utf-8")) or {}
    found: dict[tuple[str, str], str] = {}
    for index, item in enumerate(raw.get("accepted") or []):
        if not item.get("reason"):
            raise ValueError(f"{ACCEPTED_FILE.name}: accepted[{index}] has no reason")
        found[(item["code"], item["resource"])] = item["reason"]
    return found
