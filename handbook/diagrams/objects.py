"""The manifest objects that diagram and table generators read, as the cluster would hold them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .mermaid import node_id

CLUSTER_SUFFIX = ".svc.cluster.local"


@dataclass(frozen=True)
class Obj:
    """One object of the manifests: its kind, name, namespace (None: unknown) and document."""

    kind: str
    name: str
    namespace: str | None
    doc: dict

    @property
    def where(self) -> str:
        return f"{self.kind} {self.name}" + (f" (namespace {self.namespace})" if self.namespace else "")

    @property
    def id(self) -> str:
        return node_id(self.kind.lower(), f"{self.namespace or ''}_{self.name}")

    @property
    def spec(self) -> dict:
        spec = self.doc.get("spec")
        return spec if isinstance(spec, dict) else {}


def latest_objects(docs: Iterable[dict], kind: str, api_prefix: str) -> list[Obj]:
    """The objects of ``kind``, one per (namespace, name): the last document applied wins, as on a cluster."""
    found: dict[tuple[str | None, str], Obj] = {}
    for doc in docs:
        if doc.get("kind") != kind or not str(doc.get("apiVersion", "")).startswith(api_prefix):
            continue
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{kind}: metadata.name is required")
        namespace = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
        key = (namespace or None, name)
        found.pop(key, None)  # keep the order of the last application
        found[key] = Obj(kind, name, namespace or None, doc)
    return list(found.values())


def same_namespace(a: str | None, b: str | None) -> bool:
    """Whether two namespaces can be the same (an unknown namespace matches any)."""
    return a is None or b is None or a == b


def pod_labels(deployment: Obj) -> dict[str, str]:
    template = deployment.spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


def service_of_host(host: str, default_namespace: str | None, owner: str, field_path: str) -> tuple[str, str | None]:
    """``name``, ``name.ns``, ``name.ns.svc`` or ``name.ns.svc.cluster.local`` as (name, namespace)."""
    short = host[: -len(CLUSTER_SUFFIX)] if host.endswith(CLUSTER_SUFFIX) else host
    short = short[: -len(".svc")] if short.endswith(".svc") else short
    parts = short.split(".")
    if len(parts) == 1:
        return parts[0], default_namespace
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f"{owner}: {field_path} is {host!r}, which is not a Kubernetes Service name; "
                     "write name.namespace.svc.cluster.local")
