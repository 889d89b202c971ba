"""Stages 7 and 8: the monitors find what Istio exposes, and the policies allow exactly the call graph."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from handbook import authz
from handbook.diagrams import authorization
from handbook.diagrams.mermaid import symbolic_values
from handbook.lab import Lab
from handbook.plan import reset_commands
from handbook.stages import load_stage
from handbook.steps import ApplyStep, CheckStep, RunStep

APP_NS = "${APP_NS}"
MESH_NS = "${MESH_NS}"
GATEWAY = "sockshop-ingressgateway"
# The mesh's way in: the gateway may be called by anyone, and calls front-end.
INGRESS_CALLS = {(authz.OUTSIDE, GATEWAY), (GATEWAY, "front-end")}


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab.load()


@pytest.fixture(scope="module")
def state(lab: Lab) -> authz.EndState:
    return authz.end_state(lab.stages_upto("stage-8"), symbolic_values(lab), APP_NS)


def _of_kind(objects: Iterable[dict], kind: str) -> list[dict]:
    return [o for o in objects if o.get("kind") == kind]


def _declared_calls(lab: Lab) -> set[tuple[str, str]]:
    return {(edge.source, edge.target) for edge in lab.call_graph}


# --------------------------------------------------------------------------- stage 8: the policies


def test_policies_allow_exactly_the_call_graph(lab: Lab, state: authz.EndState) -> None:
    model = authz.access_model(state.objects, state.workloads, APP_NS)
    assert model.problems == []
    expected = _declared_calls(lab) | INGRESS_CALLS
    assert sorted(expected - model.calls) == [], "declared calls that no policy allows"
    assert sorted(model.calls - expected) == [], "calls that policies allow but call-graph.yaml does not declare"


def test_everything_else_is_denied_by_default(state: authz.EndState) -> None:
    model = authz.access_model(state.objects, state.workloads, APP_NS)
    assert model.deny_by_default
    catch_all = [p for p in _of_kind(state.objects, "AuthorizationPolicy") if not (p.get("spec") or {})]
    assert [p["metadata"]["name"] for p in catch_all] == ["allow-nothing"]
    assert catch_all[0]["metadata"]["namespace"] == APP_NS


def test_one_policy_per_callee_selecting_stage_1_deployments(lab: Lab, state: authz.EndState) -> None:
    model = authz.access_model(state.objects, state.workloads, APP_NS)
    callees = {target for _, target in _declared_calls(lab) | INGRESS_CALLS}
    assert set(model.policy_of) == callees
    stage_1 = {o["metadata"]["name"]: o for o in _of_kind(lab.objects([lab.stage("stage-1")], symbolic_values(lab)),
                                                           "Deployment")}
    for policy in _of_kind(state.objects, "AuthorizationPolicy"):
        selector = (policy.get("spec") or {}).get("selector")
        if selector is None:
            continue
        assert set(selector) == {"matchLabels"} and set(selector["matchLabels"]) == {"app"}, policy["metadata"]
        app = selector["matchLabels"]["app"]
        if app == GATEWAY:
            continue
        assert app in stage_1, f"{policy['metadata']['name']}: no stage 1 Deployment named {app}"
        assert stage_1[app]["spec"]["template"]["metadata"]["labels"]["app"] == app


def test_every_application_has_an_identity_of_its_own(lab: Lab, state: authz.EndState) -> None:
    assert state.problems == []
    apps = {end for call in _declared_calls(lab) | INGRESS_CALLS for end in call if end != authz.OUTSIDE}
    assert authz.identity_problems(state.workloads, apps) == []
    for name in ("shop-client", "mesh-debug"):
        assert state.workloads[name].service_account == name


def test_the_debug_client_is_in_the_mesh_but_named_nowhere(state: authz.EndState) -> None:
    debug = state.workloads["mesh-debug"]
    assert debug.labels.get("istio.io/rev") == "${MESH_NAME}"
    named = {
        principal
        for policy in _of_kind(state.objects, "AuthorizationPolicy")
        for rule in (policy.get("spec") or {}).get("rules") or []
        for item in rule.get("from") or []
        for principal in (item.get("source") or {}).get("principals") or []
    }
    assert debug.principal not in named
    assert state.workloads["shop-client"].principal not in named


def test_the_policy_listing_check_names_every_policy(lab: Lab, state: authz.EndState) -> None:
    step = lab.stage("stage-8").step("check-authorization-policies")
    assert isinstance(step, CheckStep)
    shown = [line.split()[0] for line in step.output.splitlines()[1:]]
    applied = sorted(p["metadata"]["name"] for p in _of_kind(state.objects, "AuthorizationPolicy")
                     if p["metadata"]["namespace"] == APP_NS)
    assert shown == applied


def test_every_account_change_is_undone_before_the_accounts_are_deleted(lab: Lab) -> None:
    stage = lab.stage("stage-8")
    changes = [s for s in stage.steps if isinstance(s, RunStep) and s.argv[1:3] == ("set", "serviceaccount")]
    assert changes
    for step in changes:
        deployment = step.argv[4]
        assert step.undo == (*step.argv[:5], "default", *step.argv[6:]), f"{step.id}: undo must restore default"
        assert deployment in step.id
    order = [ref for ref, _ in reset_commands([stage], "openshift")]
    deleted = order.index("stage-8/create-service-accounts")
    assert all(order.index(step.ref) < deleted for step in changes)


def test_mesh_wide_strict_lives_in_the_root_namespace(lab: Lab) -> None:
    values = symbolic_values(lab)
    istio = [o for o in lab.objects([lab.stage("stage-2")], values) if o.get("kind") == "Istio"
             and o["metadata"]["name"] == "${MESH_NAME}"]
    assert istio and istio[0]["spec"]["namespace"] == MESH_NS
    strict = [o for o in lab.objects([lab.stage("stage-8")], values) if o.get("kind") == "PeerAuthentication"]
    assert len(strict) == 1
    assert strict[0]["metadata"]["namespace"] == MESH_NS
    assert strict[0]["spec"] == {"mtls": {"mode": "STRICT"}}


def test_probes_are_of_kinds_that_istio_rewrites(lab: Lab) -> None:
    for deployment in _of_kind(lab.objects([lab.stage("stage-1")], symbolic_values(lab)), "Deployment"):
        template = deployment["spec"]["template"]
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        assert annotations.get("sidecar.istio.io/rewriteAppHTTPProbers") != "false"
        for container in template["spec"]["containers"]:
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                probe = container.get(kind)
                if probe:
                    assert {"httpGet", "tcpSocket"} & set(probe), f"{deployment['metadata']['name']}: {kind}"


# --------------------------------------------------------------------------- the model can fail


def _deployment(name: str, app: str, account: str | None = None) -> dict:
    spec: dict = {"containers": [{"name": "c", "image": "x"}]}
    if account:
        spec["serviceAccountName"] = account
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"template": {"metadata": {"labels": {"app": app}}, "spec": spec}}}


def _policy(name: str, app: str | None, *callers: str, raw: dict | None = None) -> dict:
    spec: dict = {}
    if app is not None:
        spec = {"selector": {"matchLabels": {"app": app}},
                "rules": [{"from": [{"source": {"principals": [f"cluster.local/ns/ns/sa/{c}" for c in callers]}}]}]}
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": "ns"}, "spec": raw if raw is not None else spec}


def _model(objects: list[dict]) -> authz.AccessModel:
    found = {o["metadata"]["name"]: authz.workload_of(o, "ns", None) for o in objects if o["kind"] == "Deployment"}
    return authz.access_model(objects, found, "ns")


BASE = [_deployment("a", "a", "a"), _deployment("b", "b", "b"), _deployment("c", "c", "c")]


def test_model_reads_calls_and_deny_all() -> None:
    model = _model([*BASE, _policy("none", None), _policy("to-b", "b", "a"), _policy("to-c", "c", "a", "b")])
    assert model.problems == []
    assert model.deny_by_default
    assert model.calls == {("a", "b"), ("a", "c"), ("b", "c")}


def test_model_shows_a_missing_and_an_extra_call() -> None:
    declared = {("a", "b"), ("b", "c")}
    model = _model([*BASE, _policy("to-b", "b", "a"), _policy("to-c", "c", "a")])
    assert declared - model.calls == {("b", "c")}
    assert model.calls - declared == {("a", "c")}


@pytest.mark.parametrize(("objects", "phrase"), [
    ([_policy("to-x", "x", "a")], "selects the pods of 0 applications"),
    ([_policy("to-b", "b", "nobody")], "is the identity of 0 applications"),
    ([_policy("to-b", "b", "a"), _policy("again", "b", "c")], "one policy per callee"),
    ([_policy("wide", None, raw={"rules": [{}]})], "rules without a selector"),
    ([_policy("deny", None, raw={"action": "DENY", "selector": {"matchLabels": {"app": "b"}}})], "only ALLOW"),
    ([_policy("ns", None, raw={"selector": {"matchLabels": {"app": "b"}},
                               "rules": [{"from": [{"source": {"namespaces": ["ns"]}}]}]})], "only principals"),
    ([_policy("to", None, raw={"selector": {"matchLabels": {"app": "b"}},
                               "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/other/sa/a"]}}]}]})],
     "is not a service account of ns"),
    ([_policy("empty", None, raw={"selector": {"matchLabels": {"app": "b"}}})], "allows nothing"),
])
def test_model_reports_what_it_cannot_read(objects: list[dict], phrase: str) -> None:
    model = _model([*BASE, *objects])
    assert any(phrase in problem for problem in model.problems), model.problems


def test_a_selector_must_cover_every_version_of_the_application() -> None:
    v2 = _deployment("b-v2", "b", "b")
    v2["spec"]["template"]["metadata"]["labels"]["version"] = "v2"
    by_version = _policy("to-b", None, raw={"selector": {"matchLabels": {"app": "b", "version": "v2"}},
                                            "rules": [{}]})
    model = _model([*BASE, v2, by_version])
    assert any("select the application, not a version" in p for p in model.problems)
    model = _model([*BASE, v2, _policy("to-b", "b", "a")])
    assert model.problems == [] and model.calls == {("a", "b")}


def test_identities_must_be_one_per_application() -> None:
    found = {o["metadata"]["name"]: authz.workload_of(o, "ns", None)
             for o in [_deployment("a", "a"), _deployment("b", "b", "shared"), _deployment("c", "c", "shared"),
                       _deployment("c-v2", "c", "other")]}
    problems = authz.identity_problems(found, ["a", "b", "c", "d"])
    assert any("application a: runs as the namespace's default" in p for p in problems)
    assert any("application c: its Deployments" in p for p in problems)
    assert any("application d: no Deployment" in p for p in problems)
    found["c-v2"] = authz.workload_of(_deployment("c-v2", "c", "shared"), "ns", None)
    assert any("service account shared: shared by applications ['b', 'c']" in p
               for p in authz.identity_problems(found, ["b", "c"]))


def test_end_state_follows_set_serviceaccount_and_delete(tmp_path: Path) -> None:
    folder = tmp_path / "stage-1-x"
    folder.mkdir()
    (folder / "app.yaml").write_text(yaml.safe_dump_all([_deployment("a", "a"), _deployment("b", "b")]))
    (folder / "stage.yaml").write_text(yaml.safe_dump({
        "title": "t", "summary": "s", "steps": [
            {"id": "deploy", "apply": "app.yaml"},
            {"id": "sa-a", "run": ["oc", "set", "serviceaccount", "deployment", "a", "a-sa", "-n", "ns"]},
            {"id": "sa-b", "run": ["oc", "set", "sa", "deployment/b", "b-sa", "-n", "ns"]},
            {"id": "drop-b", "run": ["oc", "delete", "deployment", "b", "-n", "ns"]},
            {"id": "sa-gone", "run": ["oc", "set", "serviceaccount", "deployment", "b", "x", "-n", "ns"]},
            {"id": "demo", "demo": True, "run": ["oc", "set", "serviceaccount", "deployment", "a", "demo", "-n", "ns"]},
        ]}))
    state = authz.end_state([load_stage(folder)], {}, "ns")
    assert {name: w.service_account for name, w in state.workloads.items()} == {"a": "a-sa"}
    assert len(state.problems) == 1 and "step sa-gone" in state.problems[0]


# --------------------------------------------------------------- stages 4 and 7: what the monitors find


def _stage_objects(lab: Lab, stage_id: str, platform: str | None = None) -> list[dict]:
    return lab.objects([lab.stage(stage_id)], symbolic_values(lab), platform)


# Where each platform's Kiali reads its metrics: OpenShift's Thanos Querier with Kiali's own
# token, and on kind the Prometheus "lab" that stage 0 installs in namespace monitoring.
KIALI_PROMETHEUS = {
    "openshift": {"url": "https://thanos-querier.openshift-monitoring.svc.cluster.local:9091",
                  "auth": {"type": "bearer", "use_kiali_token": True}, "thanos_proxy": {"enabled": True}},
    "kubernetes": {"url": "http://prometheus-operated.monitoring.svc:9090"},
}


def test_telemetry_in_stage_7_and_istiod_monitor_in_stage_4_in_the_control_plane_namespace(lab: Lab) -> None:
    telemetry = _of_kind(_stage_objects(lab, "stage-7"), "Telemetry")
    mesh_wide = [t for t in telemetry if "selector" not in t["spec"]]
    assert len(mesh_wide) == 1 and mesh_wide[0]["metadata"]["namespace"] == MESH_NS
    assert mesh_wide[0]["spec"]["metrics"] == [{"providers": [{"name": "prometheus"}]}]
    for platform in ("openshift", "kubernetes"):
        monitor = _of_kind(_stage_objects(lab, "stage-4", platform), "ServiceMonitor")
        assert len(monitor) == 1 and monitor[0]["metadata"]["namespace"] == MESH_NS, platform
        assert monitor[0]["spec"]["selector"] == {"matchLabels": {"istio": "pilot"}}
        assert [e["port"] for e in monitor[0]["spec"]["endpoints"]] == ["http-monitoring"]


def test_a_proxy_monitor_in_every_namespace_with_proxies(lab: Lab, state: authz.EndState) -> None:
    for platform in ("openshift", "kubernetes"):
        monitors = _of_kind(_stage_objects(lab, "stage-4", platform), "PodMonitor")
        assert {m["metadata"]["namespace"] for m in monitors} == {APP_NS}, platform
        endpoints = [e for m in monitors for e in m["spec"]["podMetricsEndpoints"]]
        assert [(e["port"], e["path"]) for e in endpoints] == [("http-envoy-prom", "/stats/prometheus")]
        for monitor in monitors:
            assert "namespaceSelector" not in monitor["spec"], "user-workload monitoring ignores it"
    # Proxies run where pods carry the revision label (sidecars and the gateway): only in APP_NS.
    with_proxy = {w.namespace for w in state.workloads.values() if w.labels.get("istio.io/rev")}
    assert with_proxy == {APP_NS}
    control_plane = [d for d in _of_kind(state.objects, "Deployment") if d["metadata"]["namespace"] == MESH_NS]
    assert control_plane == [], "a Deployment in the control plane namespace would need its own PodMonitor"


def test_the_monitors_come_before_kiali_at_the_end_of_stage_4(lab: Lab) -> None:
    stage = lab.stage("stage-4")
    for platform in ("openshift", "kubernetes"):
        files = [s.file for s in stage.steps_for(platform) if isinstance(s, ApplyStep)]
        kiali = [f for f in files if f.startswith("kiali")]
        assert len(kiali) == 1, f"{platform}: one Kiali per platform, got {kiali}"
        assert files.index("proxy-monitor.yaml") < files.index(kiali[0])
        assert files.index("gateway-routing.yaml") < files.index("istiod-monitor.yaml")
    for later in lab.stages:
        if later.id != "stage-4":
            assert not any(isinstance(s, ApplyStep) and s.file.startswith("kiali") for s in later.steps), later.id


@pytest.mark.parametrize("platform", ["openshift", "kubernetes"])
def test_kiali_sees_what_the_control_plane_sees(lab: Lab, platform: str) -> None:
    values = symbolic_values(lab)
    istio = next(o for o in lab.objects([lab.stage("stage-2")], values)
                 if o.get("kind") == "Istio" and o["metadata"]["name"] == "${MESH_NAME}")
    kiali = _of_kind(_stage_objects(lab, "stage-4", platform), "Kiali")
    assert len(kiali) == 1 and kiali[0]["metadata"]["namespace"] == istio["spec"]["namespace"]
    spec = kiali[0]["spec"]
    assert spec["deployment"]["cluster_wide_access"] is False
    assert spec["deployment"]["discovery_selectors"]["default"] == istio["spec"]["values"]["meshConfig"][
        "discoverySelectors"]
    assert spec["external_services"]["prometheus"] == KIALI_PROMETHEUS[platform]
    # OpenShift's own login on OpenShift (the default there); no login page on kind, where the
    # port-forward step opens Kiali on the learner's localhost only.
    strategy = (spec.get("auth") or {}).get("strategy")
    assert strategy == {"openshift": None, "kubernetes": "anonymous"}[platform]
    if platform == "kubernetes":
        forward = lab.stage("stage-4").step("kiali-port-forward")
        assert isinstance(forward, RunStep) and forward.terminal == "new"
        assert forward.argv[:2] == ("kubectl", "port-forward")
        assert "svc/kiali" in forward.argv and "${MESH_NS}" in forward.argv


def test_the_metrics_grant_names_kialis_service_account(lab: Lab) -> None:
    # Stage 0 binds cluster-monitoring-view to the account that stage 4's Kiali runs as on OpenShift.
    bindings = [o for o in _stage_objects(lab, "stage-0") if o["kind"] == "ClusterRoleBinding"
                and o["roleRef"]["name"] == "cluster-monitoring-view"]
    assert len(bindings) == 1
    # The Kiali operator names the account <instance_name>-service-account; instance_name is kiali.
    kiali = _of_kind(_stage_objects(lab, "stage-4", "openshift"), "Kiali")[0]
    instance = (kiali["spec"].get("deployment") or {}).get("instance_name", "kiali")
    account = f"{instance}-service-account"
    assert bindings[0]["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": MESH_NS}]
    assert kiali["metadata"].get("namespace", MESH_NS) == MESH_NS
    check = lab.stage("stage-4").step("check-kiali-metrics-access")
    assert isinstance(check, CheckStep)
    assert f"--as=system:serviceaccount:{MESH_NS}:{account}" in check.argv


def test_the_shop_client_asks_for_the_gateways_host(lab: Lab) -> None:
    stage = lab.stage("stage-7")
    client = next(s for s in stage.steps if isinstance(s, ApplyStep) and s.file == "shop-client.yaml")
    script = next(d for d in yaml.safe_load_all(client.body) if d["kind"] == "Deployment")[
        "spec"]["template"]["spec"]["containers"][0]["args"][0]
    gateway_hosts = {h for o in _of_kind(lab.objects([lab.stage("stage-4")], symbolic_values(lab)), "Gateway")
                     for server in o["spec"]["servers"] for h in server["hosts"]}
    for host in re.findall(r'-H "Host: ([^"]+)"', script):
        assert host in gateway_hosts
    for url in re.findall(r"http://([a-z0-9-]+)/", script):
        assert url == GATEWAY


def test_authorization_diagram_draws_every_allowed_call(lab: Lab) -> None:
    source = authorization.render(lab, lab.stage("stage-8"))
    arrows = re.findall(r"^\s+(\S+) --> (\S+)$", source, re.MULTILINE)
    assert len(arrows) == len(lab.call_graph) + len(INGRESS_CALLS)
    # The policy that allows a call is written in the called workload's box.
    for edge in lab.call_graph:
        assert re.search(rf'app_{edge.target.replace("-", "_")}\["{edge.target}<br/>allow-[a-z-]+"\]', source), edge
    assert "linkStyle" not in source
    # A policy that allows a call the call graph does not declare is drawn red.
    fewer = dataclasses.replace(lab, call_graph=lab.call_graph[1:])
    dropped = lab.call_graph[0]
    red = authorization.render(fewer, fewer.stage("stage-8"))
    styled = [int(i) for i in re.findall(r"linkStyle (\d+) ", red)]
    lines = [line for line in red.splitlines() if "-->" in line]
    assert [lines[i] for i in styled] == [
        line for line in lines if line.strip().startswith(f"app_{dropped.source.replace('-', '_')} ")
        and line.strip().endswith(f"app_{dropped.target.replace('-', '_')}")
    ]
