"""How a request travels from an OpenShift Route to the pods, read from the manifests.

Every ``Route`` is followed: ``spec.to`` names a Service; the Service's selector picks
Deployments by their pod-template labels. A Deployment whose pod template carries the annotation
``inject.istio.io/templates: gateway`` is an Istio gateway: the path goes on through the
``Gateway`` objects whose selector matches its pods, the ``VirtualService`` objects bound to those
Gateways, and each route destination's Service, to the pods that Service selects.

A Route that reaches a workload without a gateway carries plain text from the router; when a
``PeerAuthentication`` in STRICT mode covers that workload the edge is marked as refused.

Documents applied with a step-level ``namespace:`` have no ``metadata.namespace``; such an object
matches a reference to any namespace, and two candidates for one reference are an error.
"""

from __future__ import annotations

from collections.abc import Mapping

from .mermaid import flowchart, label
from .objects import Obj, latest_objects, pod_labels, service_of_host
from .objects import same_namespace as _same_namespace

GATEWAY_TEMPLATE_ANNOTATION = "inject.istio.io/templates"


def _pick(candidates: list[Obj], owner: str, field_path: str, wanted: str) -> Obj:
    if not candidates:
        raise ValueError(f"{owner}: {field_path} names {wanted}, which no document in the manifests creates")
    if len(candidates) > 1:
        places = ", ".join(c.where for c in candidates)
        raise ValueError(f"{owner}: {field_path} names {wanted}, which more than one document could be: {places}; "
                         "give those documents metadata.namespace")
    return candidates[0]



def _is_gateway(deployment: Obj) -> bool:
    template = (deployment.doc.get("spec") or {}).get("template") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    return annotations.get(GATEWAY_TEMPLATE_ANNOTATION) == "gateway"


def _subset(selector: Mapping, labels: Mapping[str, str]) -> bool:
    return all(labels.get(str(k)) == str(v) for k, v in selector.items())


class _Graph:
    def __init__(self, docs: list[dict]):
        self.routes = latest_objects(docs, "Route", "route.openshift.io/")
        self.services = latest_objects(docs, "Service", "v1")
        self.deployments = latest_objects(docs, "Deployment", "apps/")
        self.gateways = latest_objects(docs, "Gateway", "networking.istio.io/")
        self.virtual_services = latest_objects(docs, "VirtualService", "networking.istio.io/")
        self.peer_authentications = latest_objects(docs, "PeerAuthentication", "security.istio.io/")
        self.root_namespaces = {
            ((d.get("spec") or {}).get("namespace") or "istio-system")
            for d in docs
            if d.get("kind") == "Istio" and str(d.get("apiVersion", "")).startswith("sailoperator.io/")
        }
        self.nodes: dict[str, str] = {}
        self.edges: list[str] = []
        self.refused: list[int] = []

    # --- nodes and edges ---------------------------------------------------
    def node(self, node_key: str, text: str) -> str:
        self.nodes.setdefault(node_key, text)
        return node_key

    def edge(self, source: str, target: str, text: str | None = None, *, refused: bool = False) -> None:
        arrow = f" -->|{label(text)}| " if text else " --> "
        line = f"  {source}{arrow}{target}"
        if line not in self.edges:
            if refused:
                self.refused.append(len(self.edges))
            self.edges.append(line)

    # --- lookups --------------------------------------------------------------
    def service(self, name: str, namespace: str | None, owner: str, field_path: str) -> Obj:
        candidates = [s for s in self.services if s.name == name and _same_namespace(s.namespace, namespace)]
        where = f"Service {name}" + (f" in namespace {namespace}" if namespace else "")
        return _pick(candidates, owner, field_path, where)

    def selected_deployments(self, service: Obj) -> list[Obj]:
        selector = (service.doc.get("spec") or {}).get("selector")
        if not isinstance(selector, dict) or not selector:
            raise ValueError(f"{service.where}: spec.selector is empty, so no pods receive its traffic; "
                             "give it the labels of the pods it fronts")
        chosen = [d for d in self.deployments
                  if _same_namespace(d.namespace, service.namespace) and _subset(selector, pod_labels(d))]
        if not chosen:
            pairs = ", ".join(f"{k}={v}" for k, v in selector.items())
            raise ValueError(f"{service.where}: spec.selector ({pairs}) matches no Deployment's pod template")
        return chosen

    def strict_for(self, deployment: Obj) -> bool:
        """Whether a STRICT PeerAuthentication covers the deployment's pods (namespace or mesh root)."""
        labels = pod_labels(deployment)
        for pa in self.peer_authentications:
            spec = pa.doc.get("spec") or {}
            if (spec.get("mtls") or {}).get("mode") != "STRICT":
                continue
            in_scope = _same_namespace(pa.namespace, deployment.namespace) or pa.namespace in self.root_namespaces
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            if in_scope and _subset(selector, labels):
                return True
        return False

    # --- path building ----------------------------------------------------------
    def service_node(self, service: Obj) -> str:
        ports = (service.doc.get("spec") or {}).get("ports") or []
        described = [f"{p.get('name', '-')} {p.get('port')}→{p.get('targetPort', p.get('port'))}" for p in ports]
        return self.node(service.id, f"{service.id}([{label('Service ' + service.name, *described)}])")

    def deployment_node(self, deployment: Obj) -> str:
        kind = "ゲートウェイの Pod" if _is_gateway(deployment) else "Pod"
        text = label(f"Deployment {deployment.name}", kind)
        return self.node(deployment.id, f"{deployment.id}[{text}]")

    def route(self, route: Obj) -> None:
        spec = route.doc.get("spec") or {}
        target = spec.get("to") or {}
        if target.get("kind", "Service") != "Service" or not target.get("name"):
            raise ValueError(f"{route.where}: spec.to must name a Service (kind: Service, name: ...)")
        host = spec.get("host")
        rid = self.node(route.id, f"{route.id}[/{label('Route ' + route.name, host or '(ホスト名は自動)')}/]")
        self.edge("client", rid)
        service = self.service(str(target["name"]), route.namespace, route.where, "spec.to.name")
        port_text = self.route_port(route, service)
        sid = self.service_node(service)
        deployments = self.selected_deployments(service)
        refused = any(not _is_gateway(d) and self.strict_for(d) for d in deployments)
        text = port_text
        if refused:
            text = f"{port_text} 平文のため STRICT で拒否" if port_text else "平文のため STRICT で拒否"
        self.edge(rid, sid, text, refused=refused)
        for deployment in deployments:
            did = self.deployment_node(deployment)
            self.edge(sid, did)
            if _is_gateway(deployment):
                self.through_gateway(deployment, host, route)

    def route_port(self, route: Obj, service: Obj) -> str | None:
        target_port = ((route.doc.get("spec") or {}).get("port") or {}).get("targetPort")
        if target_port is None:
            return None
        for port in (service.doc.get("spec") or {}).get("ports") or []:
            if isinstance(target_port, str) and port.get("name") == target_port:
                return f"targetPort {target_port}"
            if isinstance(target_port, int) and target_port in (port.get("targetPort"), port.get("port")):
                return f"targetPort {target_port}"
        raise ValueError(f"{route.where}: spec.port.targetPort {target_port!r} matches no port of {service.where} "
                         "(by name, or by number)")

    def through_gateway(self, deployment: Obj, host: str | None, route: Obj) -> None:
        labels = pod_labels(deployment)
        gateways = [g for g in self.gateways if _subset((g.doc.get("spec") or {}).get("selector") or {}, labels)]
        if not gateways:
            raise ValueError(f"{deployment.where}: it is a gateway (annotation {GATEWAY_TEMPLATE_ANNOTATION}: gateway) "
                             "but no Gateway's spec.selector matches its pod labels")
        served = False
        for gateway in gateways:
            servers = (gateway.doc.get("spec") or {}).get("servers") or []
            gateway_hosts = [h for s in servers for h in s.get("hosts") or []]
            listens = ", ".join(_listener(s) for s in servers)
            gid = self.node(gateway.id, f"{gateway.id}[[{label('Gateway ' + gateway.name, listens, *gateway_hosts)}]]")
            self.edge(self.deployment_node(deployment), gid)
            if host and any(_host_matches(h, host) for h in gateway_hosts):
                served = True
            bound = [v for v in self.virtual_services if self.binds(v, gateway)]
            if not bound:
                raise ValueError(f"{gateway.where}: no VirtualService lists it in spec.gateways, so it routes nowhere")
            for vs in bound:
                self.virtual_service(vs, gateway, gid, gateway_hosts)
        if host and not served:
            raise ValueError(f"{route.where}: spec.host {host} is not among the hosts of the Gateways selecting "
                             f"{deployment.where}; the gateway would answer 404")

    def binds(self, vs: Obj, gateway: Obj) -> bool:
        for reference in (vs.doc.get("spec") or {}).get("gateways") or []:
            reference = str(reference)
            if reference == "mesh":
                continue
            namespace, _, name = reference.rpartition("/")
            if name == gateway.name and _same_namespace(namespace or vs.namespace, gateway.namespace):
                return True
        return False

    def virtual_service(self, vs: Obj, gateway: Obj, gid: str, gateway_hosts: list[str]) -> None:
        spec = vs.doc.get("spec") or {}
        hosts = [str(h) for h in spec.get("hosts") or []]
        if not any(_host_matches(g, h) for g in gateway_hosts for h in hosts):
            raise ValueError(f"{vs.where}: spec.hosts {hosts} share no host with {gateway.where} ({gateway_hosts})")
        vid = self.node(vs.id, f"{vs.id}>{label('VirtualService ' + vs.name, *hosts)}]")
        self.edge(gid, vid)
        destinations = [
            (i, j, (r.get("destination") or {}))
            for i, http in enumerate(spec.get("http") or [])
            for j, r in enumerate(http.get("route") or [])
        ]
        if not destinations:
            raise ValueError(f"{vs.where}: spec.http[].route[] is empty; name at least one destination")
        for i, j, destination in destinations:
            field_path = f"spec.http[{i}].route[{j}].destination.host"
            host = destination.get("host")
            if not host:
                raise ValueError(f"{vs.where}: {field_path} is required")
            name, namespace = service_of_host(str(host), vs.namespace, vs.where, field_path)
            service = self.service(name, namespace, vs.where, field_path)
            number = (destination.get("port") or {}).get("number")
            ports = (service.doc.get("spec") or {}).get("ports") or []
            if number is not None and number not in [p.get("port") for p in ports]:
                raise ValueError(f"{vs.where}: spec.http[{i}].route[{j}].destination.port.number {number} "
                                 f"is not a port of {service.where}")
            if number is None and len(ports) > 1:
                raise ValueError(f"{vs.where}: spec.http[{i}].route[{j}].destination has no port.number and "
                                 f"{service.where} has several ports; name one")
            sid = self.service_node(service)
            self.edge(vid, sid, f"port {number}" if number is not None else None)
            for deployment in self.selected_deployments(service):
                self.edge(sid, self.deployment_node(deployment))

    def mermaid(self) -> str:
        # Two columns at most (a Route straight to the app, and one through the gateway): room for a
        # host name such as front-end-${APP_NS}.${APPS_DOMAIN} on one line.
        lines = [*flowchart("TB", wrappingWidth=300), '  client(("クライアント"))']
        lines += [f"  {text}" for text in self.nodes.values()]
        lines += self.edges
        for index in self.refused:
            lines.append(f"  linkStyle {index} stroke:#c62828,stroke-width:2px,stroke-dasharray:6 4")
        return "\n".join(lines)


def _listener(server: Mapping) -> str:
    port = server.get("port") or {}
    return f"{port.get('protocol', '?')} :{port.get('number', '?')}"


def _host_matches(pattern: str, host: str) -> bool:
    """Gateway/VirtualService host matching: exact, ``*``, or a ``*.`` suffix; ``ns/`` prefixes are dropped."""
    pattern = pattern.rpartition("/")[2]
    host = host.rpartition("/")[2]
    if pattern == "*" or host == "*" or pattern == host:
        return True
    if pattern.startswith("*.") and host.endswith(pattern[1:]):
        return True
    return host.startswith("*.") and pattern.endswith(host[1:])


def render(docs: list[dict]) -> str:
    graph = _Graph(docs)
    if not graph.routes:
        raise ValueError("ingress_path: no Route (route.openshift.io) in the manifests up to this stage; "
                         "use the diagram on a page whose stage exposes the shop")
    for route in graph.routes:
        graph.route(route)
    return graph.mermaid()
