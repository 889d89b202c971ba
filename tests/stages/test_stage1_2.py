"""Stages 1 and 2 on both platforms: how the shop is reached on kind, partners for one-platform
steps, the kind form of stage 1's slow failure, and one Istio manifest for both platforms.

Everything is read from the manifests and the pages; the end states come from handbook.replay.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import yaml
from support.apply_cli import REPO
from test_outage_drill import stuck_replica

from handbook.diagrams.mermaid import symbolic_values
from handbook.lab import Lab
from handbook.plan import reader_steps
from handbook.platforms import PLATFORMS
from handbook.replay import end_state, step_moves
from handbook.stages import Stage
from handbook.steps import CheckStep, Step

# kind's config maps this host port to the same node port (the decision for Kubernetes in the brief).
KIND_SHOP_PORT = 30001
ROUTE_HOST = "front-end-${APP_NS}.${APPS_DOMAIN}"
# The OpenShift router's default server timeout (openshift/api IngressController tuningOptions.serverTimeout).
ROUTER_SERVER_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab.load()


def front_end_service(lab: Lab, platform: str) -> dict:
    stage = lab.stage("stage-1")
    snapshot = end_state(step_moves(reader_steps([stage], platform)), symbolic_values(lab))
    # (run-as-uid-kubernetes patches 14 Deployments in one command, which the replay does not model.)
    assert not [p for p in snapshot.problems if "front-end" in p], snapshot.problems
    return snapshot.present[("Service", "${APP_NS}", "front-end")].doc


def curl_url(step: Step) -> str | None:
    """The URL a curl check requests, or None when the step is no curl check."""
    if not isinstance(step, CheckStep) or step.argv[0] != "curl":
        return None
    return next(w for w in step.argv if w.startswith("http://"))


def only_on(stage: Stage, platform: str) -> list[Step]:
    return [s for s in stage.steps if s.platforms == (platform,)]


def test_kind_reaches_front_end_by_node_port_30001(lab: Lab) -> None:
    service = front_end_service(lab, "kubernetes")
    assert service["spec"].get("type") == "NodePort"
    [port] = service["spec"]["ports"]
    assert (port["port"], port["targetPort"], port["nodePort"]) == (80, "http", KIND_SHOP_PORT)
    # OpenShift keeps a ClusterIP Service behind its Route.
    assert "nodePort" not in front_end_service(lab, "openshift")["spec"]["ports"][0]


def test_every_route_check_has_a_kind_twin_through_the_node_port(lab: Lab) -> None:
    stage = lab.stage("stage-1")
    kind_urls = {curl_url(s) for s in only_on(stage, "kubernetes")} - {None}
    assert kind_urls, "stage 1 has no curl check on Kubernetes"
    for url in kind_urls:
        assert urlsplit(url).netloc == f"localhost:{KIND_SHOP_PORT}", url
    for step in only_on(stage, "openshift"):
        url = curl_url(step)
        if url is None:
            continue
        assert urlsplit(url).netloc == ROUTE_HOST, f"{step.ref}: {url}"
        twin = url.replace(f"http://{ROUTE_HOST}/", f"http://localhost:{KIND_SHOP_PORT}/")
        assert twin in kind_urls, f"{step.ref}: no Kubernetes check requests {twin}"


def test_page_tells_kind_learners_the_shop_url(lab: Lab) -> None:
    text = (REPO / "docs" / "stage-1.md").read_text(encoding="utf-8")
    manual = " ".join(s.text for s in lab.stage("stage-1").steps if s.kind == "manual")
    assert f"http://localhost:{KIND_SHOP_PORT}/" in text + manual
    assert "port-forward" not in manual


@pytest.mark.parametrize("stage_id", ["stage-1", "stage-2"])
def test_one_platform_steps_have_a_partner_or_a_reason(lab: Lab, stage_id: str) -> None:
    stage = lab.stage(stage_id)
    raw = yaml.safe_load((stage.folder / "stage.yaml").read_text(encoding="utf-8"))
    reasons = {s["id"] for s in raw["steps"] if s.get("only_reason")}
    page = (REPO / "docs" / f"{stage_id}.md").read_text(encoding="utf-8")
    tabs = [re.findall(r'"([^"]+)"', call) for call in re.findall(r"platform_tabs\(([^)]*)\)", page)]
    missing = []
    for step in stage.steps:
        if len(step.platforms) == len(PLATFORMS) or step.id in reasons:
            continue
        partners = {p for ids in tabs if step.id in ids for p in ids if p != step.id}
        if not any(set(stage.step(p).platforms) - set(step.platforms) for p in partners):
            missing.append(f"{step.ref} ({', '.join(step.platforms)})")
    assert missing == [], "steps on one platform with neither a partner in platform_tabs(...) nor only_reason"


def test_kind_slow_failure_is_ended_by_curl_alone(lab: Lab) -> None:
    stage = lab.stage("stage-1")
    step, stuck = stuck_replica(lab, "stage-1")
    assert step.platforms == PLATFORMS, "the replica that never answers is deployed on every platform"
    command = stuck["spec"]["template"]["spec"]["containers"][0]["command"]
    silence = float(command[command.index("sleep") + 1])
    timing = [s for s in only_on(stage, "kubernetes") if isinstance(s, CheckStep) and s.demo
              and "%{time_total}" in " ".join(s.argv) and "--max-time" in s.argv]
    assert len(timing) == 1, "one timed check on Kubernetes that gives up by itself"
    limit = float(timing[0].argv[timing[0].argv.index("--max-time") + 1])
    # Longer than the router's 30 s (so the difference shows), shorter than the replica's silence
    # (so nothing but curl ends the wait), and the sample says "no answer".
    assert ROUTER_SERVER_TIMEOUT_S < limit < silence
    assert timing[0].expect.regex and timing[0].expect.regex.startswith("^000 ")
    assert re.match(timing[0].expect.regex, timing[0].output)


def test_one_istio_manifest_lets_the_operator_choose_the_profile(lab: Lab) -> None:
    stage = lab.stage("stage-2")
    create = stage.step("create-control-plane")
    assert create.platforms == PLATFORMS
    [istio] = [d for d in lab.objects([stage], symbolic_values(lab)) if d["kind"] == "Istio"
               and d["metadata"]["name"] == "${MESH_NAME}"]
    # The Sail operator picks "openshift" on OpenShift and "default" elsewhere (cmd/main.go,
    # DetectPlatform); a profile or platform written here would be wrong on one of them.
    assert "profile" not in istio["spec"]
    assert "platform" not in (istio["spec"].get("values", {}).get("global") or {})
    # v1.30-latest is in the version enum of OSSM 3.4.1 and of the upstream operator.
    assert istio["spec"]["version"] == "${ISTIO_VERSION}"
