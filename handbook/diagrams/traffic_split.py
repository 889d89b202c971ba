"""How VirtualServices split requests between the subsets of a DestinationRule, read from the manifests.

Only the state after the page's stage counts: when several documents apply the same object
(same kind, namespace and name), the last one wins, as on the cluster.

Every VirtualService that names a subset or weighs more than one destination is drawn: its HTTP
rules in order (first match wins), what each rule matches, the share of requests each destination
gets (``weight / sum of the rule's weights``), the subset's labels from the DestinationRule for
that host, and the Deployments whose pods carry those labels behind the destination Service.

Broken references raise ValueError naming the document, the field path and the fix: a subset that
no DestinationRule defines, a host that is no Service of the manifests, a subset whose labels select
no pod, two DestinationRules for one host, a rule whose weights add up to zero.
"""

from __future__ import annotations

from collections.abc import Mapping

from .mermaid import flowchart, label, node_id
from .objects import Obj, latest_objects, pod_labels, service_of_host
from .objects import same_namespace as _same_namespace

NETWORKING = "networking.istio.io/"

# HTTPMatchRequest fields this diagram can put into words, and how.
_STRING_FIELDS = {"uri": "URI", "scheme": "スキーム", "method": "メソッド", "authority": "authority"}
_MAP_FIELDS = {"headers": "ヘッダー", "queryParams": "クエリー", "withoutHeaders": "ヘッダー"}
_OTHER_FIELDS = {"name", "port", "sourceLabels", "gateways", "ignoreUriCase", "sourceNamespace", "statPrefix"}




def _subset_of(selector: Mapping, labels: Mapping[str, str]) -> bool:
    return all(labels.get(str(k)) == str(v) for k, v in selector.items())


_ENTITIES = {"<": "#lt;", ">": "#gt;"}


def text(value: str) -> str:
    """Text for a quoted Mermaid label: angle brackets as entity codes, so they are never read as HTML.

    Quotes are escaped by ``mermaid.label``; a ';' inside a quoted label is plain text to Mermaid.
    """
    return "".join(_ENTITIES.get(ch, ch) for ch in value)


def describe_string_match(owner: str, field_path: str, match: object) -> str:
    if match == {} or match is None:
        return "が付いている"
    if not isinstance(match, dict) or len(match) != 1:
        raise ValueError(f"{owner}: {field_path} must hold exactly one of exact, prefix or regex")
    (how, value), = match.items()
    words = {"exact": "が {v} と一致", "prefix": "が {v} で始まる", "regex": "が正規表現 {v} に一致"}
    if how not in words:
        raise ValueError(f"{owner}: {field_path}.{how} is not a StringMatch; use exact, prefix or regex")
    return words[how].format(v=str(value))


def describe_match(owner: str, field_path: str, match: object) -> str:
    """One HTTPMatchRequest as Japanese: its conditions joined by かつ."""
    if not isinstance(match, dict):
        raise ValueError(f"{owner}: {field_path} must be a mapping of match conditions")
    unknown = sorted(set(match) - set(_STRING_FIELDS) - set(_MAP_FIELDS) - _OTHER_FIELDS)
    if unknown:
        raise ValueError(f"{owner}: {field_path} has {', '.join(unknown)}, which this diagram cannot put into words; "
                         "check the spelling against the VirtualService API (HTTPMatchRequest)")
    parts: list[str] = []
    for key, word in _STRING_FIELDS.items():
        if key in match:
            parts.append(f"{word} " + describe_string_match(owner, f"{field_path}.{key}", match[key]))
    for key, word in _MAP_FIELDS.items():
        entries = match.get(key) or {}
        if not isinstance(entries, dict):
            raise ValueError(f"{owner}: {field_path}.{key} must map names to string matches")
        for name, string_match in entries.items():
            sentence = f"{word} {name} " + describe_string_match(owner, f"{field_path}.{key}.{name}", string_match)
            parts.append(f"{sentence} ではない" if key == "withoutHeaders" else sentence)
    if "port" in match:
        parts.append(f"ポート {match['port']}")
    if match.get("sourceLabels"):
        pairs = ", ".join(f"{k}={v}" for k, v in match["sourceLabels"].items())
        parts.append(f"送り元のラベル {pairs}")
    if match.get("sourceNamespace"):
        parts.append(f"送り元の名前空間 {match['sourceNamespace']}")
    if match.get("gateways"):
        parts.append("ゲートウェイ " + ", ".join(str(g) for g in match["gateways"]))
    return " かつ ".join(parts) if parts else "すべてのリクエスト"


class _Diagram:
    def __init__(self, docs: list[dict]):
        self.services = latest_objects(docs, "Service", "v1")
        self.deployments = latest_objects(docs, "Deployment", "apps/")
        self.rules = latest_objects(docs, "DestinationRule", NETWORKING)
        self.virtual_services = latest_objects(docs, "VirtualService", NETWORKING)
        self.lines: list[str] = []
        self.nodes: set[str] = set()

    # --- lookups ---------------------------------------------------------------------
    def service(self, host: str, namespace: str | None, owner: str, field_path: str) -> Obj:
        name, ns = service_of_host(host, namespace, owner, field_path)
        found = [s for s in self.services if s.name == name and _same_namespace(s.namespace, ns)]
        if not found:
            where = f"Service {name}" + (f" in namespace {ns}" if ns else "")
            raise ValueError(f"{owner}: {field_path} names {host}, but no document of the manifests creates {where}; "
                             "fix the host or add the Service")
        if len(found) > 1:
            raise ValueError(f"{owner}: {field_path} names {host}, which more than one Service could be: "
                             + ", ".join(s.where for s in found) + "; give those documents metadata.namespace")
        return found[0]

    def destination_rule(self, service: Obj) -> Obj | None:
        found = []
        for rule in self.rules:
            host = rule.spec.get("host")
            if not isinstance(host, str) or not host:
                raise ValueError(f"{rule.where}: spec.host is required")
            if self.service(host, rule.namespace, rule.where, "spec.host") is service:
                found.append(rule)
        if len(found) > 1:
            names = ", ".join(r.where for r in found)
            raise ValueError(f"{service.where} has more than one DestinationRule ({names}); "
                             "istiod would use only one of them: merge them into one")
        return found[0] if found else None

    def subset_labels(self, service: Obj, subset: str, owner: str, field_path: str) -> tuple[Obj, dict]:
        rule = self.destination_rule(service)
        if rule is None:
            raise ValueError(f"{owner}: {field_path} is {subset!r}, but no DestinationRule has {service.where} as its "
                             "host; apply a DestinationRule that defines the subset before routing to it")
        for index, entry in enumerate(rule.spec.get("subsets") or []):
            if isinstance(entry, dict) and entry.get("name") == subset:
                labels = entry.get("labels") or {}
                if not isinstance(labels, dict) or not labels:
                    raise ValueError(f"{rule.where}: spec.subsets[{index}] ({subset}) has no labels, so it selects "
                                     "every pod of the Service; give it the labels of its version")
                return rule, {str(k): str(v) for k, v in labels.items()}
        names = [str(e.get("name")) for e in rule.spec.get("subsets") or [] if isinstance(e, dict)]
        raise ValueError(f"{owner}: {field_path} is {subset!r}, which {rule.where} does not define "
                         f"(its subsets: {', '.join(names) or 'none'}); add it to spec.subsets or fix the name")

    def deployments_for(self, service: Obj, extra: Mapping[str, str]) -> list[Obj]:
        selector = service.spec.get("selector")
        if not isinstance(selector, dict) or not selector:
            raise ValueError(f"{service.where}: spec.selector is empty; give it the labels of the pods it fronts")
        wanted = {**{str(k): str(v) for k, v in selector.items()}, **extra}
        return [d for d in self.deployments
                if _same_namespace(d.namespace, service.namespace) and _subset_of(wanted, pod_labels(d))]

    # --- drawing -------------------------------------------------------------------------
    def node(self, key: str, line: str) -> str:
        if key not in self.nodes:
            self.nodes.add(key)
            self.lines.append(f"  {line}")
        return key

    def edge(self, source: str, target: str, words: str | None = None) -> None:
        arrow = f" -->|{label(text(words))}| " if words else " --> "
        self.lines.append(f"  {source}{arrow}{target}")

    def splits(self, vs: Obj) -> bool:
        for http in vs.spec.get("http") or []:
            routes = (http or {}).get("route") or []
            if len(routes) > 1 or any((r or {}).get("destination", {}).get("subset") for r in routes):
                return True
        return False

    def virtual_service(self, vs: Obj) -> None:
        hosts = [str(h) for h in vs.spec.get("hosts") or []]
        gateways = [str(g) for g in vs.spec.get("gateways") or []] or ["mesh"]
        entry = ", ".join("メッシュ内のサイドカー" if g == "mesh" else f"Gateway {g}" for g in gateways)
        vid = node_id("vs", f"{vs.namespace or ''}_{vs.name}")
        words = label(text("VirtualService " + vs.name), *[text(h) for h in hosts], text("入口: " + entry))
        self.node(vid, vid + "{{" + words + "}}")
        https = vs.spec.get("http") or []
        if not https:
            raise ValueError(f"{vs.where}: spec.http is empty; this diagram draws HTTP routes only")
        for i, http in enumerate(https):
            self.rule(vs, vid, i, http or {})

    def rule(self, vs: Obj, vid: str, i: int, http: dict) -> None:
        matches = http.get("match") or []
        if not isinstance(matches, list):
            raise ValueError(f"{vs.where}: spec.http[{i}].match must be a list")
        if matches:
            condition = " または ".join(describe_match(vs.where, f"spec.http[{i}].match[{j}]", m)
                                       for j, m in enumerate(matches))
        else:
            condition = "ここまでのルールに当たらなかった残りすべて" if i else "すべてのリクエスト"
        title = f"ルール {i + 1}" + (f" ({http['name']})" if http.get("name") else "")
        rid = node_id("rule", f"{vs.namespace or ''}_{vs.name}_{i}")
        self.node(rid, f"{rid}[{label(text(title), text(condition))}]")
        self.edge(vid, rid)
        routes = http.get("route") or []
        if not routes:
            raise ValueError(f"{vs.where}: spec.http[{i}].route is empty; this diagram draws forwarding rules only")
        weights = []
        for j, route in enumerate(routes):
            weight = (route or {}).get("weight")
            if weight is None:
                weight = 100 if len(routes) == 1 else 0
            if not isinstance(weight, int) or weight < 0:
                raise ValueError(f"{vs.where}: spec.http[{i}].route[{j}].weight must be a whole number of 0 or more")
            weights.append(weight)
        total = sum(weights)
        if total == 0:
            raise ValueError(f"{vs.where}: the weights of spec.http[{i}].route add up to 0, so no destination gets "
                             "any request; give the destinations weights")
        for j, (route, weight) in enumerate(zip(routes, weights, strict=True)):
            self.destination(vs, rid, i, j, route or {}, weight * 100 / total)

    def destination(self, vs: Obj, rid: str, i: int, j: int, route: dict, share: float) -> None:
        at = f"spec.http[{i}].route[{j}].destination"
        destination = route.get("destination") or {}
        host = destination.get("host")
        if not isinstance(host, str) or not host:
            raise ValueError(f"{vs.where}: {at}.host is required")
        service = self.service(host, vs.namespace, vs.where, f"{at}.host")
        subset = destination.get("subset")
        if subset:
            rule, labels = self.subset_labels(service, str(subset), vs.where, f"{at}.subset")
            target = node_id("subset", f"{service.namespace or ''}_{service.name}_{subset}")
            pairs = ", ".join(f"{k}={v}" for k, v in labels.items())
            self.node(target, f"{target}([{label(text(f'subset {subset}'), text(rule.name + ': ' + pairs))}])")
        else:
            labels = {}
            target = node_id("service", f"{service.namespace or ''}_{service.name}")
            self.node(target, f"{target}([{label(text('Service ' + service.name), text('subset なし: 全 Pod'))}])")
        self.edge(rid, target, f"{share:.0f}%" if share == int(share) else f"{share:.1f}%")
        deployments = self.deployments_for(service, labels)
        if not deployments:
            where = f"subset {subset} ({', '.join(f'{k}={v}' for k, v in labels.items())})" if subset else service.where
            raise ValueError(f"{vs.where}: {at} sends requests to {where}, but no Deployment of the manifests has pods "
                             "with those labels behind the Service; fix the subset's labels or add the Deployment")
        for deployment in deployments:
            did = node_id("deploy", f"{deployment.namespace or ''}_{deployment.name}")
            self.node(did, f"{did}[{label(text('Deployment ' + deployment.name))}]")
            line = f"  {target} --> {did}"
            if line not in self.lines:
                self.lines.append(line)


def render(docs: list[dict]) -> str:
    diagram = _Diagram(docs)
    drawn = [vs for vs in diagram.virtual_services if diagram.splits(vs)]
    if not drawn:
        raise ValueError("traffic_split: no VirtualService up to this stage names a subset or weighs two "
                         "destinations; use the diagram on a page whose stage splits traffic")
    for vs in drawn:
        diagram.virtual_service(vs)
    return "\n".join([*flowchart("TB"), *diagram.lines])
