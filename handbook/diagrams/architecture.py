"""Sock Shop's architecture: workloads from the Deployments, calls from manifests/call-graph.yaml.

Each workload is one box with its name (data stores as cylinders, the call's protocol on the
arrow); the images and their versions are in the manifests on the same page. One line per box keeps
the diagram narrow enough for a laptop's text column at reading size.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..lab import CallEdge
from .mermaid import flowchart, label, node_id

_DATA_STORES = ("mongo", "mysql", "redis", "rabbitmq", "amqp")


def render(documents: list[dict], edges: Iterable[CallEdge]) -> str:
    deployments = {
        d["metadata"]["name"]: d
        for d in documents
        if d.get("kind") == "Deployment" and d.get("apiVersion") == "apps/v1"
    }
    services = {d["metadata"]["name"] for d in documents if d.get("kind") == "Service"}
    edges = list(edges)
    problems = [
        f"call-graph edge {e.source} -> {e.target}: no Deployment or Service named {end!r} in the manifests"
        for e in edges
        for end in (e.source, e.target)
        if end not in deployments
    ]
    problems += [
        f"call-graph edge {e.source} -> {e.target}: {e.target!r} has no Service to call"
        for e in edges
        if e.target not in services
    ]
    if problems:
        raise ValueError("; ".join(problems))
    lines = [*flowchart("TB"), '  browser(("ブラウザ"))']
    for route in (d for d in documents if d.get("kind") == "Route"):
        target = route["spec"]["to"]["name"]
        rid = node_id("route", route["metadata"]["name"])
        lines.append(f"  {rid}[/{label('Route ' + route['metadata']['name'])}/]")
        lines.append(f"  browser --> {rid}")
        if target in deployments:
            lines.append(f"  {rid} --> {node_id('wl', target)}")
    for name, deployment in deployments.items():
        containers = deployment["spec"]["template"]["spec"]["containers"]
        image = containers[0]["image"].rsplit("/", 1)[-1]
        shape = ("[(", ")]") if any(s in image or s in name for s in ("db", *_DATA_STORES)) else ("[", "]")
        lines.append(f"  {node_id('wl', name)}{shape[0]}{label(name)}{shape[1]}")
    for edge in edges:
        lines.append(f"  {node_id('wl', edge.source)} -->|{edge.protocol}| {node_id('wl', edge.target)}")
    return "\n".join(lines)
