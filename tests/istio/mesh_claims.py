"""The pages' mesh claims, as expectations on Envoy configuration, derived from the manifests.

Nothing here is a copied result: the hosts, ports, weights, timeouts, thresholds and principals
come from the lab's objects (mesh_snapshot), from the variables and from manifests/call-graph.yaml.
What is fixed here is only the vocabulary: which Istio field becomes which Envoy field.

A Case is one snapshot (a stage's end state, or a state in the middle of stage 5) with its claims.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mesh_snapshot import EndState, Snapshot, snapshot, state_after

from handbook.lab import Lab
from handbook.steps import ApplyStep

NO_FILTER_CHAIN = "no filter chains matched"
FAULT_FILTER = "typedPerFilterConfig/envoy.filters.http.fault"
HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


@dataclass
class Case:
    name: str
    snapshot: Snapshot
    state: EndState

    @property
    def claims(self) -> list[dict]:
        return self.snapshot.data["claims"]

    def add(self, claim: dict) -> None:
        if any(c["id"] == claim["id"] for c in self.claims):
            raise ValueError(f"{self.name}: two claims named {claim['id']}")
        self.claims.append(claim)


def objects_of(state: EndState, kind: str) -> list[dict]:
    return [obj for (k, ns, _), obj in sorted(state.objects.items()) if k == kind and ns == state.namespace]


def _labels(pod: Mapping) -> dict:
    return pod["metadata"]["labels"]


def _service(state: EndState, host: str) -> dict:
    name = host.split(".", 1)[0]
    return state.objects[("Service", state.namespace, name)]


def cluster_name(destination: Mapping) -> str:
    port = (destination.get("port") or {}).get("number", "")
    return f"outbound|{port}|{destination.get('subset', '')}|{destination['host']}"


def _target_port(case: Case, service: Mapping, number: int, pod: Mapping) -> int:
    from mesh_snapshot import _container_port

    for port in service["spec"]["ports"]:
        if port["port"] == number:
            found = _container_port(pod["spec"], port.get("targetPort", number))
            if found is not None:
                return found
    raise ValueError(f"{case.name}: Service {service['metadata']['name']} has no port {number}")


def _pods_of(case: Case, selector: Mapping[str, str]) -> list[str]:
    return sorted(name for name, pod in case.snapshot.pods.items()
                  if selector and all(_labels(pod).get(k) == v for k, v in selector.items()))


def _gateway_proxy(case: Case, gateway: Mapping) -> str:
    proxies = [p for p in _pods_of(case, gateway["spec"]["selector"]) if p in case.snapshot.data["proxies"]]
    if len(proxies) != 1:
        raise ValueError(f"{case.name}: Gateway {gateway['metadata']['name']} selects {proxies}")
    return proxies[0]


def _ingress_services(state: EndState) -> list[tuple[dict, dict]]:
    """(VirtualService, Gateway) for each VirtualService bound to a Gateway of the namespace."""
    gateways = {g["metadata"]["name"]: g for g in objects_of(state, "Gateway")}
    return [(vs, gateways[name]) for vs in objects_of(state, "VirtualService")
            for name in vs["spec"].get("gateways") or [] if name in gateways]


def gateway_claims(case: Case, values: Mapping[str, str]) -> None:
    """A request to the gateway pod's port with Host ${SHOP_HOST} reaches the VirtualService's cluster."""
    for vs, gateway in _ingress_services(case.state):
        proxy = _gateway_proxy(case, gateway)
        pod = case.snapshot.pods[proxy]
        gateway_service = next(s for s in objects_of(case.state, "Service")
                               if _labels(pod) and all(_labels(pod).get(k) == v
                                                       for k, v in (s["spec"].get("selector") or {}).items()))
        for server in gateway["spec"]["servers"]:
            port = _target_port(case, gateway_service, server["port"]["number"], pod)
            last = vs["spec"]["http"][-1]  # the rule without a match, which a plain request takes
            destination = max(last["route"], key=lambda r: r.get("weight", 100))["destination"]
            case.add({"id": f"gateway-{port}-reaches-{cluster_name(destination)}", "kind": "call", "proxy": proxy,
                      "call": {"mode": "gateway", "port": port, "host": values["SHOP_HOST"], "path": "/",
                               "tls": "plaintext", "protocol": "http"},
                      "expect": {"cluster": cluster_name(destination)}})


def strict_claims(case: Case, app_service: str, proxy: str, scope: str) -> None:
    """Plaintext to the workload's inbound port is refused; mutual TLS is accepted."""
    service = case.state.objects[("Service", case.state.namespace, app_service)] if proxy in case.snapshot.pods \
        else None
    if service is not None:
        port = _target_port(case, service, service["spec"]["ports"][0]["port"], case.snapshot.pods[proxy])
    else:
        port = PROBE_PORT
    case.add({"id": f"{scope}-{proxy}-plaintext-refused", "kind": "call", "proxy": proxy,
              "call": {"mode": "inbound", "port": port, "tls": "plaintext", "protocol": "http"},
              "expect": {"error": NO_FILTER_CHAIN}})
    case.add({"id": f"{scope}-{proxy}-mtls-accepted", "kind": "call", "proxy": proxy,
              "call": {"mode": "inbound", "port": port, "tls": "mtls", "protocol": "http"},
              "expect": {"cluster": f"inbound|{port}||"}})


def _envoy_route(rule: Mapping) -> dict:
    """What Istio makes of one http rule of a VirtualService (only the fields the pages speak of)."""
    route: dict = {}
    destinations = rule["route"]
    if len(destinations) == 1:
        route["cluster"] = cluster_name(destinations[0]["destination"])
    else:
        route["weightedClusters"] = {"clusters": [{"name": cluster_name(d["destination"]), "weight": d["weight"]}
                                                  for d in destinations]}
    if "timeout" in rule:
        route["timeout"] = rule["timeout"]
    if "retries" in rule:
        retries = rule["retries"]
        route["retryPolicy"] = {"retryOn": retries["retryOn"], "numRetries": retries["attempts"],
                                "perTryTimeout": retries["perTryTimeout"]}
    envoy: dict = {"route": route}
    if rule.get("name"):
        envoy["name"] = rule["name"]
    headers = [{"name": name, "stringMatch": {"safeRegex": {"regex": match["regex"]}}}
               for m in rule.get("match") or [] for name, match in (m.get("headers") or {}).items()]
    if headers:
        envoy["match"] = {"headers": headers}
    return envoy


def subset_endpoint_claims(case: Case, proxy: str, rules: list[Mapping]) -> None:
    """Each subset cluster a rule names exists and holds exactly the pods with the subset's labels."""
    rules_by_host = {d["destination"]["host"]: d["destination"] for r in rules for d in r["route"]}
    for dr in objects_of(case.state, "DestinationRule"):
        host = dr["spec"]["host"]
        if host not in rules_by_host:
            continue
        service = _service(case.state, host)
        for subset in dr["spec"].get("subsets") or []:
            destination = {**rules_by_host[host], "subset": subset["name"]}
            selector = {**service["spec"]["selector"], **subset["labels"]}
            ips = [case.snapshot.pods[p]["status"]["podIP"] for p in _pods_of(case, selector)]
            case.add({"id": f"subset-{cluster_name(destination)}-endpoints", "kind": "cluster", "proxy": proxy,
                      "cluster": cluster_name(destination), "endpoints": ips})


def ingress_route_claims(case: Case, values: Mapping[str, str]) -> None:
    """The gateway's virtual host for ${SHOP_HOST}: the VirtualService's rules, in order, as routes."""
    for vs, gateway in _ingress_services(case.state):
        proxy = _gateway_proxy(case, gateway)
        rules = vs["spec"]["http"]
        case.add({"id": f"gateway-routes-{vs['metadata']['name']}", "kind": "routes", "proxy": proxy,
                  "domain": values["SHOP_HOST"], "routes": [_envoy_route(r) for r in rules]})
        subset_endpoint_claims(case, proxy, rules)


def _caller(case: Case, lab: Lab, app: str) -> str:
    for edge in lab.call_graph:
        if edge.target == app and edge.source in case.snapshot.data["proxies"]:
            return edge.source
    raise ValueError(f"{case.name}: no caller of {app} in manifests/call-graph.yaml has a proxy")


def resilience_claims(case: Case, lab: Lab) -> None:
    """Each mesh VirtualService's routes (timeouts, retries, no fault) and each DestinationRule's cluster."""
    for vs in objects_of(case.state, "VirtualService"):
        if vs["spec"].get("gateways"):
            continue
        for host in vs["spec"]["hosts"]:
            app = host.split(".", 1)[0]
            caller = _caller(case, lab, app)
            case.add({"id": f"mesh-routes-{vs['metadata']['name']}-from-{caller}", "kind": "routes",
                      "proxy": caller, "domain": host, "routes": [_envoy_route(r) for r in vs["spec"]["http"]],
                      "absent": [FAULT_FILTER]})
    for dr in objects_of(case.state, "DestinationRule"):
        policy = dr["spec"].get("trafficPolicy")
        if not policy:
            continue
        host = dr["spec"]["host"]
        caller = _caller(case, lab, host.split(".", 1)[0])
        for port in _service(case.state, host)["spec"]["ports"]:
            name = cluster_name({"host": host, "port": {"number": port["port"]}})
            case.add({"id": f"cluster-{name}-policy", "kind": "cluster", "proxy": caller, "cluster": name,
                      "contains": _envoy_cluster(policy)})


def _envoy_cluster(policy: Mapping) -> dict:
    tcp = (policy.get("connectionPool") or {}).get("tcp") or {}
    http = (policy.get("connectionPool") or {}).get("http") or {}
    outlier = policy.get("outlierDetection") or {}
    thresholds = {"maxConnections": tcp.get("maxConnections"),
                  "maxPendingRequests": http.get("http1MaxPendingRequests"), "maxRetries": http.get("maxRetries")}
    cluster: dict = {"circuitBreakers": {"thresholds": [{k: v for k, v in thresholds.items() if v is not None}]}}
    if "connectTimeout" in tcp:
        cluster["connectTimeout"] = tcp["connectTimeout"]
    if "maxRequestsPerConnection" in http:
        cluster["typedExtensionProtocolOptions"] = {HTTP_OPTIONS: {
            "commonHttpProtocolOptions": {"maxRequestsPerConnection": http["maxRequestsPerConnection"]}}}
    names = {"consecutive5xxErrors": "consecutive5xx", "interval": "interval",
             "baseEjectionTime": "baseEjectionTime", "maxEjectionPercent": "maxEjectionPercent"}
    if outlier:
        cluster["outlierDetection"] = {names[k]: v for k, v in outlier.items() if k in names}
    return cluster


PROBE_PORT = 8080


def probe_namespace(state: EndState) -> list[dict]:
    """A new namespace of this mesh (the tenant labels of the lab's namespace) with one injected pod:
    what the mesh-wide PeerAuthentication alone decides for it."""
    labels = dict(state.objects[("Namespace", "", state.namespace)]["metadata"].get("labels") or {})
    namespace = f"{state.namespace[:50]}-probe"
    pod_labels = {"app": "probe", "security.istio.io/tlsMode": "istio", "istio.io/rev": state.revision}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "probe", "namespace": namespace},
         "spec": {"selector": {"app": "probe"}, "ports": [{"name": "http", "port": 80, "targetPort": PROBE_PORT}]}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "probe-0", "namespace": namespace, "labels": pod_labels},
         "spec": {"containers": [{"name": "probe", "image": "probe", "ports": [{"containerPort": PROBE_PORT}]}]},
         "status": {"phase": "Running", "podIP": "10.129.0.10", "podIPs": [{"ip": "10.129.0.10"}]}},
        {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
         "metadata": {"name": "probe", "namespace": namespace, "labels": {"kubernetes.io/service-name": "probe"}},
         "addressType": "IPv4", "ports": [{"name": "http", "port": PROBE_PORT, "protocol": "TCP"}],
         "endpoints": [{"addresses": ["10.129.0.10"], "conditions": {"ready": True},
                        "targetRef": {"kind": "Pod", "name": "probe-0", "namespace": namespace}}]},
    ]


def _principal(state: EndState, deployment: str) -> str:
    account = state.deployments[deployment]["spec"]["template"]["spec"].get("serviceAccountName", "default")
    return f"spiffe://cluster.local/ns/{state.namespace}/sa/{account}"


def authorization_claims(case: Case, lab: Lab, debug: str) -> None:
    """Each workload's inbound RBAC allows exactly its callers in the call graph (and the gateway for
    what a gateway VirtualService routes to it); the debug pod's identity gets in nowhere."""
    state = case.state
    proxies = case.snapshot.data["proxies"]
    app_of = {name: proxies[name]["labels"].get("app", name) for name in proxies}
    principals_of_app: dict[str, set[str]] = {}
    for name, app in app_of.items():
        principals_of_app.setdefault(app, set()).add(_principal(state, name))
    callers: dict[str, set[str]] = {}
    for edge in lab.call_graph:
        callers.setdefault(edge.target, set()).update(principals_of_app.get(edge.source, set()))
    for vs, gateway in _ingress_services(state):
        gateway_app = app_of[_gateway_proxy(case, gateway)]
        for rule in vs["spec"]["http"]:
            for route in rule["route"]:
                target = _service(state, route["destination"]["host"])["spec"]["selector"].get("app")
                callers.setdefault(target, set()).update(principals_of_app[gateway_app])
    candidates = sorted({_principal(state, name) for name in state.deployments})
    for name in sorted(proxies):
        if proxies[name]["router"]:
            # The way in from outside the mesh: every identity may call the gateway.
            case.add({"id": f"rbac-{name}", "kind": "rbac", "proxy": name, "principals": candidates,
                      "candidates": candidates})
            continue
        case.add({"id": f"rbac-{name}", "kind": "rbac", "proxy": name, "candidates": candidates,
                  "principals": sorted(callers.get(app_of[name], set())), "denied": [_principal(state, debug)]})


def stage_case(lab: Lab, values: Mapping[str, str], mesh_config: str, stage_id: str, step_id: str | None = None,
               extra: Callable[[EndState], list[dict]] | None = None) -> Case:
    state = state_after(lab, values, stage_id, step_id)
    name = stage_id + (f"@{step_id}" if step_id else "")
    return Case(name, snapshot(state, mesh_config, extra(state) if extra else None), state)


def ingress_steps(lab: Lab, stage_id: str) -> list[str]:
    """The apply steps of a stage that change a VirtualService bound to a gateway."""
    stage = lab.stage(stage_id)
    return [s.id for s in stage.steps if isinstance(s, ApplyStep) and not s.demo
            and "kind: VirtualService" in s.body and "gateways:" in s.body]
