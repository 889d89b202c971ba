"""Stage 1's slow failure is certain, is cleaned up, and stage 6 cuts the very same hang short.

The slow failure needs a backend that accepts the connection and never answers: a Service with
no endpoints is refused at once on OVN-Kubernetes. Everything here is read from the manifests.
"""

from __future__ import annotations

import pytest
from test_stage5_6 import simulate

from handbook.diagrams.mermaid import symbolic_values
from handbook.lab import Lab
from handbook.manifests import parse_document, split_documents
from handbook.paths import relative
from handbook.stages import Stage
from handbook.steps import ApplyStep, CheckStep, RunStep, parse_duration

# openshift/api IngressController spec.tuningOptions.serverTimeout: "If unset, the default timeout is 30s".
ROUTER_SERVER_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab.load()


def demo_deployments(lab: Lab, stage: Stage) -> list[tuple[ApplyStep, dict]]:
    """Deployments that a demonstration of ``stage`` applies, with the step that applies them."""
    values = symbolic_values(lab)
    return [
        (step, obj)
        for step in stage.steps if isinstance(step, ApplyStep) and step.demo
        for document in split_documents(relative(stage.folder / step.file), step.body)
        if (obj := parse_document(document, values))["kind"] == "Deployment"
    ]


def stuck_replicas(lab: Lab, stage_id: str) -> list[tuple[ApplyStep, dict]]:
    """Demonstration replicas that accept connections and never answer (busybox nc running sleep)."""
    return [(s, o) for s, o in demo_deployments(lab, lab.stage(stage_id))
            if {"nc", "-e", "sleep"} <= set(o["spec"]["template"]["spec"]["containers"][0].get("command", []))]


def stuck_replica(lab: Lab, stage_id: str, service: dict | None = None) -> tuple[ApplyStep, dict]:
    """The stage's one replica that never answers (behind ``service``, if given)."""
    found = [(s, o) for s, o in stuck_replicas(lab, stage_id)
             if service is None or service_selecting(lab, o)["metadata"] == service["metadata"]]
    assert len(found) == 1, f"{stage_id}: expected one demonstration that deploys a replica that never answers"
    return found[0]


def service_selecting(lab: Lab, pod: dict) -> dict:
    """The one stage-1 Service whose selector picks the pod template ``pod``."""
    labels = pod["spec"]["template"]["metadata"]["labels"]
    state, _ = simulate(lab, lab.stage("stage-1"), catch_up=True)
    services = [{**o, "metadata": {**o["metadata"], "namespace": namespace}}
                for (kind, namespace, _), o in state.items() if kind == "Service"
                and o["spec"].get("selector") and o["spec"]["selector"].items() <= labels.items()]
    assert len(services) == 1, f"{pod['metadata']['name']}'s labels {labels} select {len(services)} Services"
    return services[0]


def replicas_after(stage: Stage, name: str, upto: str | None = None) -> int | None:
    """What the stage's `oc scale deployment/<name>` steps leave, up to step ``upto``."""
    replicas = None
    for step in stage.steps:
        if step.id == upto:
            break
        if isinstance(step, RunStep) and step.argv[1:3] == ("scale", f"deployment/{name}"):
            replicas = int(next(w for w in step.argv if w.startswith("--replicas=")).partition("=")[2])
    return replicas


def test_stage_1_stuck_replica_sits_behind_the_service_alone(lab: Lab) -> None:
    stage = lab.stage("stage-1")
    step, stuck = stuck_replica(lab, "stage-1")
    service = service_selecting(lab, stuck)
    container = stuck["spec"]["template"]["spec"]["containers"][0]
    assert service["spec"]["ports"][0]["targetPort"] in {p["name"] for p in container["ports"]}
    # It never answers for longer than the router waits, so the router's timeout ends the request.
    command = container["command"]
    assert float(command[command.index("sleep") + 1]) > ROUTER_SERVER_TIMEOUT_S
    # The real replicas are gone while the slow failure is measured: it is certain, not one in two.
    real = service["metadata"]["name"]
    timing = next(s for s in stage.steps if isinstance(s, CheckStep) and s.demo
                  and "%{time_total}" in " ".join(s.argv) and stage.steps.index(s) > stage.steps.index(step))
    assert replicas_after(stage, real, upto=timing.id) == 0
    assert timing.expect.regex and "504" in timing.expect.regex


def test_stage_1_end_state_holds_no_stuck_replica(lab: Lab) -> None:
    stage = lab.stage("stage-1")
    _, stuck = stuck_replica(lab, "stage-1")
    key = ("Deployment", "${APP_NS}", stuck["metadata"]["name"])
    state, demo_only = simulate(lab, stage, catch_up=False)
    assert key not in state, "the page's demo leaves the replica that never answers behind"
    assert not demo_only
    catch_up, _ = simulate(lab, stage, catch_up=True)
    assert key not in catch_up
    real = service_selecting(lab, stuck)["metadata"]["name"]
    manifest = next(o for o in state.values() if o["kind"] == "Deployment" and o["metadata"]["name"] == real)
    assert replicas_after(stage, real) == manifest["spec"]["replicas"], f"{real} is not scaled back"


def test_stage_6_timeout_cuts_the_same_hang(lab: Lab) -> None:
    _, stuck_1 = stuck_replica(lab, "stage-1")
    service = service_selecting(lab, stuck_1)
    step_6, stuck_6 = stuck_replica(lab, "stage-6", service)
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    stage = lab.stage("stage-6")
    upto = Stage(**{**stage.__dict__, "steps": stage.steps[: stage.steps.index(step_6)]})
    state, _ = simulate(lab, upto, catch_up=False)
    routes = [o for o in state.values() if o["kind"] == "VirtualService" and host in o["spec"]["hosts"]]
    assert len(routes) == 1, f"one VirtualService for {host} before the stuck replica is deployed"
    limits = []
    for http in routes[0]["spec"]["http"]:
        for value in (http.get("timeout"), (http.get("retries") or {}).get("perTryTimeout")):
            if value:
                limits.append(parse_duration(value))
    assert limits and min(limits) < ROUTER_SERVER_TIMEOUT_S
    # Measured with curl's time, from the shop's entrance and from inside the mesh, while it is there.
    after = stage.steps[stage.steps.index(step_6):]
    timed = [s for s in after if isinstance(s, CheckStep) and "%{time_total}" in " ".join(s.argv)]
    removed = next(i for i, s in enumerate(after) if isinstance(s, RunStep) and "delete" in s.argv
                   and f"deployment/{stuck_6['metadata']['name']}" in s.argv)
    measured = [s for s in timed if after.index(s) < removed]
    assert {"openshift", "kubernetes"} <= {p for s in measured for p in s.platforms}
