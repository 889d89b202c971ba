"""The pages' mesh claims, judged by Istio's own config generator (pilot/test/xds, pilot/pkg/simulation).

For stages 4, 5, 6 and 8, the end state (and each state of stage 5's gateway route) is fed to
Istio's fake discovery server by tools/istio/meshtest; every claim from tests/istio/mesh_claims.py
must hold, with the default values and with a second user's. Each mutation below breaks the lab in
one way and must make the named claims fail, so that none of these tests can pass vacuously.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from functools import cache

import pytest
from istio_install import generate, lab_istio
from mesh_claims import (
    Case,
    authorization_claims,
    gateway_claims,
    ingress_route_claims,
    ingress_steps,
    objects_of,
    probe_namespace,
    resilience_claims,
    stage_case,
    strict_claims,
)
from meshtest_runner import built_binaries, run_claims

from handbook.lab import load_lab
from handbook.manifest_check import value_sets
from handbook.steps import ApplyStep, CheckStep

VALUE_SETS = ("defaults", "second user")


def _strict_for_ingress_target(case: Case) -> None:
    """Stage 4: once the namespace's PeerAuthentication is STRICT, the workload behind the gateway's
    route takes mutual TLS only."""
    strict = [p for p in objects_of(case.state, "PeerAuthentication")
              if (p["spec"].get("mtls") or {}).get("mode") == "STRICT" and not p["spec"].get("selector")]
    assert strict, f"{case.name}: no namespace-wide STRICT PeerAuthentication"
    for vs in objects_of(case.state, "VirtualService"):
        for rule in vs["spec"].get("http") or []:
            for route in rule["route"]:
                service = route["destination"]["host"].split(".", 1)[0]
                app = case.state.objects[("Service", case.state.namespace, service)]["spec"]["selector"]["app"]
                strict_claims(case, service, app, "namespace-strict")


def _debug_workload(lab, case: Case) -> str:  # noqa: ANN001
    """The Deployment that stage 8 adds outside the call graph: the debug pod."""
    in_graph = {e.source for e in lab.call_graph} | {e.target for e in lab.call_graph}
    added = [obj["metadata"]["name"] for step in lab.stage("stage-8").steps if isinstance(step, ApplyStep)
             for (kind, _, _), obj in case.state.objects.items()
             if kind == "Deployment" and f"name: {obj['metadata']['name']}\n" in step.body]
    found = sorted({name for name in added if name not in in_graph})
    assert len(found) == 1, f"stage 8 should add exactly one Deployment outside the call graph, found {found}"
    return found[0]


@cache
def cases(value_set: str) -> dict[str, Case]:
    lab = load_lab()
    values = value_sets(lab)[value_set]
    mesh = generate(built_binaries() / "istioctl", lab_istio(lab, values)).mesh
    found: dict[str, Case] = {}
    case = stage_case(lab, values, mesh, "stage-4")
    gateway_claims(case, values)
    _strict_for_ingress_target(case)
    found[case.name] = case
    for step in ingress_steps(lab, "stage-5"):
        case = stage_case(lab, values, mesh, "stage-5", step)
        ingress_route_claims(case, values)
        found[case.name] = case
    case = stage_case(lab, values, mesh, "stage-6")
    resilience_claims(case, lab)
    found[case.name] = case
    case = stage_case(lab, values, mesh, "stage-8", extra=probe_namespace)
    authorization_claims(case, lab, _debug_workload(lab, case))
    probe = probe_namespace(case.state)[2]
    case.snapshot.data["proxies"]["mesh-probe"] = {
        "ip": probe["status"]["podIP"], "namespace": probe["metadata"]["namespace"], "pod": "probe-0",
        "labels": probe["metadata"]["labels"], "serviceAccount": "default", "router": False}
    strict_claims(case, "probe", "mesh-probe", "mesh-strict")
    found[case.name] = case
    return found


@pytest.fixture(scope="module")
def bin_dir():  # noqa: ANN201
    return built_binaries()


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_claim_holds(bin_dir, value_set: str) -> None:  # noqa: ANN001
    failures: list[str] = []
    for name, case in cases(value_set).items():
        assert case.claims, f"{name}: no claims derived"
        report, output = run_claims(bin_dir, case.snapshot.data)
        for claim_id, outcome in sorted(report.items()):
            if not outcome["held"]:
                failures.append(f"{name} [{value_set}] {claim_id}: " + "; ".join(outcome["problems"]))
    assert not failures, "\n".join(failures)


def test_stage5_covers_every_gateway_route() -> None:
    """Before the split, the 80/20 split and the tester route: three states of the gateway route."""
    names = [n for n in cases("defaults") if n.startswith("stage-5@")]
    assert len(names) >= 3, names


# ----------------------------------------------------------------------------- mutations


def _istio(data: dict, kind: str, name: str, namespace: str | None = None) -> dict:
    for obj in data["istio"]:
        meta = obj["metadata"]
        if obj["kind"] == kind and meta["name"] == name and (namespace is None or meta.get("namespace") == namespace):
            return obj
    raise AssertionError(f"no {kind} {name} in the snapshot")


def _mesh_ns(data: dict) -> str:
    return data["rootNamespace"]


def _permissive_namespace(data: dict) -> None:
    for obj in data["istio"]:
        if obj["kind"] == "PeerAuthentication" and obj["metadata"]["namespace"] != _mesh_ns(data):
            obj["spec"]["mtls"]["mode"] = "PERMISSIVE"


def _gateway_selects_nothing(data: dict) -> None:
    _istio(data, "Gateway", "sockshop-gateway")["spec"]["selector"] = {"istio": "no-such-gateway"}


def _gateway_other_host(data: dict) -> None:
    server = _istio(data, "Gateway", "sockshop-gateway")["spec"]["servers"][0]
    server["hosts"] = ["other." + server["hosts"][0]]


def _swap_weights(data: dict) -> None:
    for rule in _istio(data, "VirtualService", "sockshop-ingress")["spec"]["http"]:
        if len(rule["route"]) == 2:
            a, b = rule["route"]
            a["weight"], b["weight"] = b["weight"], a["weight"]


def _tester_rule_last(data: dict) -> None:
    http = _istio(data, "VirtualService", "sockshop-ingress")["spec"]["http"]
    http.append(http.pop(0))


def _v2_labels_match_nothing(data: dict) -> None:
    for subset in _istio(data, "DestinationRule", "front-end")["spec"]["subsets"]:
        if subset["name"] == "v2":
            subset["labels"] = {"version": "v2-typo"}


def _v1_only_without_subset(data: dict) -> None:
    for rule in _istio(data, "VirtualService", "sockshop-ingress")["spec"]["http"]:
        for route in rule["route"]:
            route["destination"].pop("subset", None)


def _catalogue_timeout(data: dict) -> None:
    _istio(data, "VirtualService", "catalogue")["spec"]["http"][0]["timeout"] = "10s"


def _catalogue_retries(data: dict) -> None:
    _istio(data, "VirtualService", "catalogue")["spec"]["http"][0]["retries"]["attempts"] = 5


def _payment_fault_left(data: dict) -> None:
    _istio(data, "VirtualService", "payment")["spec"]["http"][0]["fault"] = {
        "abort": {"httpStatus": 503, "percentage": {"value": 100}}}


def _outlier_threshold(data: dict) -> None:
    policy = _istio(data, "DestinationRule", "catalogue")["spec"]["trafficPolicy"]
    policy["outlierDetection"]["consecutive5xxErrors"] = 7


def _pool_threshold(data: dict) -> None:
    pool = _istio(data, "DestinationRule", "catalogue")["spec"]["trafficPolicy"]["connectionPool"]
    pool["http"]["http1MaxPendingRequests"] = 50


def _debug_allowed_to_catalogue(data: dict) -> None:
    rule = _istio(data, "AuthorizationPolicy", "allow-to-catalogue")["spec"]["rules"][0]
    principals = rule["from"][0]["source"]["principals"]
    principals.append(principals[0].rsplit("/", 1)[0] + "/mesh-debug")


def _orders_not_allowed_to_carts(data: dict) -> None:
    principals = _istio(data, "AuthorizationPolicy", "allow-to-carts")["spec"]["rules"][0]["from"][0]["source"]
    principals["principals"] = [p for p in principals["principals"] if not p.endswith("/sa/orders")]


def _no_deny_by_default(data: dict) -> None:
    data["istio"].remove(_istio(data, "AuthorizationPolicy", "allow-nothing"))


def _mesh_permissive(data: dict) -> None:
    _istio(data, "PeerAuthentication", "default", _mesh_ns(data))["spec"]["mtls"]["mode"] = "PERMISSIVE"


# (case, mutation, claim ids that must fail: a prefix each)
MUTATIONS: list[tuple[str, Callable[[dict], None], tuple[str, ...]]] = [
    ("stage-4", _permissive_namespace, ("namespace-strict-front-end-plaintext-refused",)),
    ("stage-4", _gateway_selects_nothing, ("gateway-",)),
    ("stage-4", _gateway_other_host, ("gateway-",)),
    ("stage-5[0]", _v1_only_without_subset, ("gateway-routes-",)),
    ("stage-5[1]", _swap_weights, ("gateway-routes-",)),
    ("stage-5[1]", _v2_labels_match_nothing, ("subset-outbound|80|v2|",)),
    ("stage-5[2]", _tester_rule_last, ("gateway-routes-",)),
    ("stage-6", _catalogue_timeout, ("mesh-routes-catalogue-",)),
    ("stage-6", _catalogue_retries, ("mesh-routes-catalogue-",)),
    ("stage-6", _payment_fault_left, ("mesh-routes-payment-",)),
    ("stage-6", _outlier_threshold, ("cluster-outbound|80||catalogue.",)),
    ("stage-6", _pool_threshold, ("cluster-outbound|80||catalogue.",)),
    ("stage-8", _debug_allowed_to_catalogue, ("rbac-catalogue",)),
    ("stage-8", _orders_not_allowed_to_carts, ("rbac-carts",)),
    ("stage-8", _no_deny_by_default, ("rbac-mesh-client",)),
    ("stage-8", _mesh_permissive, ("mesh-strict-mesh-probe-plaintext-refused",)),
]


def _case(name: str) -> Case:
    """A case by name; ``stage-5[i]`` is the i-th state of stage 5's gateway route."""
    found = cases("second user")
    if "[" in name:
        stage, index = name.rstrip("]").split("[")
        return [case for key, case in found.items() if key.startswith(stage + "@")][int(index)]
    return found[name]


@pytest.mark.parametrize(("case_name", "mutate", "must_fail"), MUTATIONS,
                         ids=[f"{c}-{m.__name__.strip('_')}" for c, m, _ in MUTATIONS])
def test_mutation_breaks_a_claim(bin_dir, case_name: str, mutate, must_fail: tuple[str, ...]) -> None:  # noqa: ANN001
    case = _case(case_name)
    data = copy.deepcopy(case.snapshot.data)
    mutate(data)
    report, _ = run_claims(bin_dir, data)
    for prefix in must_fail:
        named = {claim_id: o for claim_id, o in report.items() if claim_id.startswith(prefix)}
        assert named, f"no claim starts with {prefix!r}: {sorted(report)}"
        held = all(o["held"] for o in named.values())
        assert not held, f"{case_name}: {mutate.__name__} left {sorted(named)} holding"


# ----------------------------------------------------------------------------- sample outputs

ENVOY_CLUSTER = re.compile(r"(?:outbound|inbound)\|\d+\|[\w.-]*\|[\w.-]*?\.svc\.cluster\.local")


def _sample_cluster_claims() -> dict[str, list[dict]]:
    """stage id -> one claim per Envoy cluster name that a sample output of the stage shows, on the
    proxy of the Deployment the command runs in (``oc exec deploy/<name> -c istio-proxy``)."""
    found: dict[str, list[dict]] = {}
    for stage in load_lab().stages:
        for step in stage.steps:
            if not isinstance(step, CheckStep):
                continue
            proxies = [w.split("/", 1)[1] for w in step.argv if w.startswith("deploy/")]
            for name in sorted(set(ENVOY_CLUSTER.findall(step.output))):
                assert proxies, f"{stage.id} {step.id}: shows {name} but names no deploy/<name> to run in"
                found.setdefault(stage.id, []).append(
                    {"id": f"sample-{step.id}-{name}", "kind": "cluster", "proxy": proxies[0], "cluster": name})
    return found


def _case_for_samples(stage_id: str) -> Case:
    """The stage's case with its claims, or for a stage without any (stage 3: the sidecars alone) its end state."""
    found = cases("defaults")
    if stage_id in found:
        return found[stage_id]
    lab = load_lab()
    values = value_sets(lab)["defaults"]
    return stage_case(lab, values, generate(built_binaries() / "istioctl", lab_istio(lab, values)).mesh, stage_id)


def test_sample_outputs_name_clusters_that_istiod_generates(bin_dir) -> None:  # noqa: ANN001
    """Every cluster name in a page's sample output (default values) exists in the generated config."""
    claims = _sample_cluster_claims()
    assert claims, "no sample output shows an Envoy cluster name"
    failures = []
    for stage_id, stage_claims in claims.items():
        data = copy.deepcopy(_case_for_samples(stage_id).snapshot.data)
        data["claims"] = stage_claims
        report, _ = run_claims(bin_dir, data)
        failures += [f"{stage_id} {k}: {o['problems']}" for k, o in report.items() if not o["held"]]
    assert not failures, "\n".join(failures)
