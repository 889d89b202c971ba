"""The stage 1 architecture diagram: nodes from the Deployments, edges from manifests/call-graph.yaml."""

from __future__ import annotations

import pytest

from handbook.diagrams.architecture import render
from handbook.lab import CallEdge, Lab


def deployment(name: str, image: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}}


def service(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}}


DOCS = [deployment("web", "quay.io/x/web:1"), service("web"), deployment("web-db", "docker.io/mongo:4.4"),
        service("web-db"),
        {"kind": "Route", "apiVersion": "route.openshift.io/v1", "metadata": {"name": "web"},
         "spec": {"to": {"kind": "Service", "name": "web"}}}]


def test_nodes_and_edges_come_from_the_inputs() -> None:
    text = render(DOCS, [CallEdge("web", "web-db", "mongo")])
    assert "\nflowchart TB\n" in text and text.startswith("---\nconfig:\n")
    assert 'wl_web["web"]' in text, "one line per box: the name (the image is in the manifests)"
    assert 'wl_web_db[("web-db")]' in text, "data stores are drawn as cylinders"
    assert "wl_web -->|mongo| wl_web_db" in text
    assert "route_web --> wl_web" in text


def test_an_edge_to_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no Deployment or Service named 'cache'"):
        render(DOCS, [CallEdge("web", "cache", "redis")])
    with pytest.raises(ValueError, match="'web' has no Service to call"):
        render([d for d in DOCS if d != service("web")], [CallEdge("web-db", "web", "http")])


def test_real_call_graph_matches_stage_1() -> None:
    lab = Lab.load()
    stage = lab.stage("stage-1")
    docs = lab.objects([stage], lab.variables.resolve())
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    deployments = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert lab.call_graph, "manifests/call-graph.yaml declares no edge"
    for edge in lab.call_graph:
        assert edge.source in deployments, f"{edge.source} calls out but is not a Deployment of stage 1"
        assert edge.target in services, f"{edge.source} -> {edge.target}: no Service {edge.target} in stage 1"
    # Every workload takes part in the graph: nothing is drawn unconnected by mistake.
    connected = {e.source for e in lab.call_graph} | {e.target for e in lab.call_graph}
    assert deployments <= connected, f"not in the call graph: {sorted(deployments - connected)}"
    text = render(docs, lab.call_graph)
    assert all(f"-->|{e.protocol}|" in text for e in lab.call_graph)


def test_architecture_diagram_leaves_out_demonstration_workloads() -> None:
    """A demonstration's stand-in replica (stage 1's carts-stuck) is not part of the architecture."""
    from handbook.diagrams import render_diagram

    lab = Lab.load()
    stage = lab.stage("stage-1")
    from handbook.diagrams import objects_at
    from handbook.steps import ApplyStep

    # Deployments present right after a demonstration's apply step, but not at the end of the stage.
    demo_steps = [s.id for s in stage.steps if s.demo and isinstance(s, ApplyStep)]
    at_demos = {o["metadata"]["name"] for step_id in demo_steps for o in objects_at(lab, stage, after=step_id)
                if o["kind"] == "Deployment"}
    demo_names = at_demos - {o["metadata"]["name"] for o in objects_at(lab, stage) if o["kind"] == "Deployment"}
    assert demo_names, "stage 1 has no demonstration Deployment any more; this test guards nothing"
    text = render_diagram("architecture", lab, stage)
    assert not [n for n in demo_names if f'"{n}' in text or f"wl_{n.replace('-', '_')}" in text]
