"""Which namespaces each control plane sees, read from the Istio and Namespace documents.

A control plane (``sailoperator.io`` ``Istio``) watches the namespaces whose labels match one of
its ``spec.values.meshConfig.discoverySelectors``; with no selectors it watches every namespace.
Namespace labels come from ``Namespace`` documents: the lab puts labels on namespaces by applying
``Namespace`` manifests (never with ``oc label``), so that this diagram can read them. Documents
with the same name are merged in order, as successive ``oc apply`` calls would merge them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .mermaid import flowchart, label, node_id

SAIL_GROUP = "sailoperator.io/"
DEFAULT_CONTROL_PLANE_NAMESPACE = "istio-system"  # the API default of Istio.spec.namespace
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass
class NamespaceInfo:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    declared: bool = False  # a Namespace document creates it; otherwise only referenced


@dataclass(frozen=True)
class Mesh:
    name: str
    namespace: str
    revision: str
    selectors: tuple[dict, ...] | None  # None: no discoverySelectors, every namespace is seen


def _where(doc: Mapping) -> str:
    meta = doc.get("metadata") or {}
    return f"{doc.get('kind', '?')} {meta.get('name', '?')}"


def collect_namespaces(docs: list[dict]) -> dict[str, NamespaceInfo]:
    """Every namespace the documents create or place objects in, with the labels they give it."""
    found: dict[str, NamespaceInfo] = {}
    for doc in docs:
        meta = doc.get("metadata") or {}
        if doc.get("kind") == "Namespace" and doc.get("apiVersion") == "v1":
            name = meta.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"{_where(doc)}: metadata.name is required for a Namespace")
            labels = meta.get("labels") or {}
            if not isinstance(labels, dict):
                raise ValueError(f"Namespace {name}: metadata.labels must be a mapping of strings")
            info = found.setdefault(name, NamespaceInfo(name))
            info.labels.update({str(k): str(v) for k, v in labels.items()})
            info.declared = True
        elif isinstance(meta.get("namespace"), str) and meta["namespace"]:
            found.setdefault(meta["namespace"], NamespaceInfo(meta["namespace"]))
    return found


def _check_selector(owner: str, index: int, selector: object) -> dict:
    where = f"{owner}: spec.values.meshConfig.discoverySelectors[{index}]"
    if not isinstance(selector, dict):
        raise ValueError(f"{where}: expected a label selector (matchLabels and/or matchExpressions)")
    unknown = set(selector) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; a selector has matchLabels and matchExpressions")
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, dict):
        raise ValueError(f"{where}.matchLabels: expected a mapping of label to value")
    for i, expression in enumerate(selector.get("matchExpressions") or []):
        at = f"{where}.matchExpressions[{i}]"
        if not isinstance(expression, dict) or not expression.get("key"):
            raise ValueError(f"{at}: expected key, operator and (for In/NotIn) values")
        operator = expression.get("operator")
        if operator not in _OPERATORS:
            raise ValueError(f"{at}.operator: {operator!r} is not one of {', '.join(_OPERATORS)}")
        values = expression.get("values")
        if operator in ("In", "NotIn") and (not isinstance(values, list) or not values):
            raise ValueError(f"{at}.values: {operator} needs a non-empty list of values")
        if operator in ("Exists", "DoesNotExist") and values:
            raise ValueError(f"{at}.values: {operator} takes no values; remove them")
    return selector


def selector_matches(selector: Mapping, labels: Mapping[str, str]) -> bool:
    """Kubernetes LabelSelector semantics: every matchLabels entry and every expression must hold."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(str(key)) != str(value):
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = str(expression["key"]), expression["operator"]
        values = [str(v) for v in expression.get("values") or []]
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def describe_selector(selector: Mapping) -> str:
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        values = ",".join(str(v) for v in expression.get("values") or [])
        parts.append(f"{expression['key']} {expression['operator']} ({values})" if values else
                     f"{expression['key']} {expression['operator']}")
    return " かつ ".join(parts) if parts else "(空: すべて)"


def collect_meshes(docs: list[dict]) -> list[Mesh]:
    meshes: list[Mesh] = []
    for doc in docs:
        if doc.get("kind") != "Istio" or not str(doc.get("apiVersion", "")).startswith(SAIL_GROUP):
            continue
        name = (doc.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("Istio: metadata.name is required (it names the mesh and, with InPlace, its revision)")
        owner = f"Istio {name}"
        spec = doc.get("spec") or {}
        namespace = spec.get("namespace") or DEFAULT_CONTROL_PLANE_NAMESPACE
        strategy = (spec.get("updateStrategy") or {}).get("type", "InPlace")
        if strategy == "InPlace":
            revision = name
        elif strategy == "RevisionBased":
            version = str(spec.get("version", "")).replace(".", "-")
            revision = f"{name}-{version}"
        else:
            raise ValueError(f"{owner}: spec.updateStrategy.type {strategy!r} is neither InPlace nor RevisionBased")
        mesh_config = ((spec.get("values") or {}).get("meshConfig") or {})
        raw = mesh_config.get("discoverySelectors")
        if raw is None:
            selectors = None
        elif isinstance(raw, list):
            selectors = tuple(_check_selector(owner, i, s) for i, s in enumerate(raw))
        else:
            raise ValueError(f"{owner}: spec.values.meshConfig.discoverySelectors must be a list of label selectors")
        meshes.append(Mesh(name=name, namespace=namespace, revision=revision, selectors=selectors))
    return meshes


def visible_namespaces(mesh: Mesh, namespaces: Mapping[str, NamespaceInfo]) -> list[str]:
    if mesh.selectors is None:
        return list(namespaces)
    return [n for n, info in namespaces.items() if any(selector_matches(s, info.labels) for s in mesh.selectors)]


def render(docs: list[dict]) -> str:
    meshes = collect_meshes(docs)
    if not meshes:
        raise ValueError(
            "mesh_membership: no Istio resource (sailoperator.io) in the manifests up to this stage; "
            "use the diagram on a page whose stage creates one"
        )
    namespaces = collect_namespaces(docs)
    seen_by: dict[str, list[Mesh]] = {name: [] for name in namespaces}
    lines = flowchart("TB")  # top to bottom: two meshes side by side fit the text column
    placed: set[str] = set()
    for mesh in meshes:
        info = namespaces.get(mesh.namespace)
        if info is None or not info.declared:
            raise ValueError(
                f"Istio {mesh.name}: spec.namespace {mesh.namespace!r} is not created by any Namespace document; "
                "the control-plane namespace must exist before the Istio resource is applied"
            )
        visible = visible_namespaces(mesh, namespaces)
        if mesh.namespace not in visible:
            raise ValueError(
                f"Istio {mesh.name}: its own namespace {mesh.namespace!r} does not match its "
                "spec.values.meshConfig.discoverySelectors; label the control-plane namespace as well"
            )
        for name in visible:
            seen_by[name].append(mesh)
        selectors = "すべての名前空間" if mesh.selectors is None else " または ".join(
            describe_selector(s) for s in mesh.selectors
        )
        lines.append(f"  subgraph {node_id('mesh', mesh.name)}[{label('メッシュ ' + mesh.name)}]")
        istiod = label("istiod-" + mesh.revision, "リビジョン " + mesh.revision, "discoverySelectors:", selectors)
        lines.append(f"    {node_id('istiod', mesh.name)}[[{istiod}]]")
        lines.append(f"    {node_id('ns', mesh.namespace)}[{_namespace_label(info)}]")
        lines.append("  end")
        placed.add(mesh.namespace)
    unseen: list[str] = []
    for name, info in namespaces.items():
        if name in placed:
            continue
        if seen_by[name]:
            lines.append(f"  {node_id('ns', name)}[{_namespace_label(info)}]")
        else:
            unseen.append(name)
    if unseen:
        lines.append(f"  subgraph unseen[{label('どのメッシュからも見えない名前空間')}]")
        for name in unseen:
            lines.append(f"    {node_id('ns', name)}[{_namespace_label(namespaces[name])}]")
        for upper, lower in zip(unseen, unseen[2:], strict=False):  # two columns: invisible links stack them
            lines.append(f"    {node_id('ns', upper)} ~~~ {node_id('ns', lower)}")
        lines.append("  end")
    for mesh in meshes:
        for name in visible_namespaces(mesh, namespaces):
            lines.append(f"  {node_id('istiod', mesh.name)} -->|見る| {node_id('ns', name)}")
    for mesh in meshes:  # a mesh's other namespaces under its own one, so that two meshes fit side by side
        column = [mesh.namespace, *(n for n in visible_namespaces(mesh, namespaces) if n not in placed)]
        if mesh.namespace in placed:
            for upper, lower in zip(column, column[1:], strict=False):
                lines.append(f"  {node_id('ns', upper)} ~~~ {node_id('ns', lower)}")
    seen = [name for name in namespaces if seen_by[name] and name not in placed]
    if unseen and seen:  # below the meshes, not beside them: the diagram stays as wide as the meshes
        lines.append(f"  {node_id('ns', seen[0])} ~~~ {node_id('ns', unseen[0])}")
    return "\n".join(lines)


def _namespace_label(info: NamespaceInfo) -> str:
    if not info.declared:
        return label(info.name, "(既存の名前空間)")
    if not info.labels:
        return label(info.name, "(ラベルなし)")
    return label(info.name, *(f"{k}={v}" for k, v in sorted(info.labels.items())))
