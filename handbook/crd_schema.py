"""A CustomResourceDefinition's OpenAPI schema as a strict draft-04 JSON schema for kubeconform.

Used at setup time (``handbook.schema_build`` over the pinned Go modules) and at run
time for a folder of extra CRD files (``handbook.validation.extra_crds``, the
``--crds DIR`` option), so both give the same schema for the same CRD.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DRAFT4 = "http://json-schema.org/draft-04/schema#"
OBJECT_META_DEF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

_SCHEMA_MAP_KEYS = ("properties", "patternProperties", "definitions", "$defs")
_SCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf")


def _strict_node(node: Any, inside_combinator: bool) -> Any:
    """One OpenAPI v3 schema node of a CRD, converted for a JSON-schema validator.

    Like kubeconform's own ``openapi2jsonschema.py``: every object that lists
    ``properties`` gets ``additionalProperties: false`` unless it says otherwise,
    and ``format: int-or-string`` becomes string-or-integer. Unlike it:
    objects marked ``x-kubernetes-preserve-unknown-fields`` stay open, branches of
    allOf/anyOf/oneOf/not stay open (they restate part of the structural schema,
    so closing them would reject valid fields), ``nullable`` admits null, keys
    whose value is null (``anyOf: null`` in some CRDs) are dropped, and only
    schema-valued keywords are walked (never ``default``, ``enum`` or ``example``).
    ``default`` values stay in place: handbook/validation/defaults.py applies them to a
    document before validating it, as the API server does (KEP-575). CEL rules
    (``x-kubernetes-validations``) are kept as data but not evaluated.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if value is None:
            continue
        if key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
            out[key] = {name: _strict_node(sub, False) for name, sub in value.items()}
        elif key in _SCHEMA_LIST_KEYS and isinstance(value, list):
            out[key] = [_strict_node(sub, True) for sub in value]
        elif key in ("items", "additionalProperties", "not"):
            if isinstance(value, list):
                out[key] = [_strict_node(sub, key == "not" or inside_combinator) for sub in value]
            else:
                out[key] = _strict_node(value, key == "not" or inside_combinator)
        else:
            out[key] = value
    if out.get("format") == "int-or-string":
        out.pop("format")
        out.pop("type", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if out.get("x-kubernetes-int-or-string") and "type" not in out and not (
        set(out) & {"anyOf", "oneOf"}
    ):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if out.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    open_object = out.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and not inside_combinator and not open_object:
        out.setdefault("additionalProperties", False)
    return out


def crd_to_json_schema(openapi: dict[str, Any], *, group: str, version: str, kind: str,
                       object_meta: dict[str, Any], origin: str) -> dict[str, Any]:
    """A CRD version's ``openAPIV3Schema`` as a strict, self-contained draft-04 JSON schema.

    The root is closed too (a misspelled top-level field is rejected), apiVersion and
    kind are pinned to this group/version/kind, and ``metadata`` is the Kubernetes
    ObjectMeta schema (``object_meta``: definitions whose refs are ``#/definitions/...``,
    from ``object_meta_definitions``) so ``metadata.lables`` is caught as well.
    """
    schema = _strict_node(copy.deepcopy(openapi), False)
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "enum": [f"{group}/{version}"]}
    props["kind"] = {"type": "string", "enum": [kind]}
    props["metadata"] = {"$ref": f"#/definitions/{OBJECT_META_DEF}"}
    schema["definitions"] = object_meta
    schema.setdefault("type", "object")
    if schema.get("x-kubernetes-preserve-unknown-fields") is not True:
        schema["additionalProperties"] = False
    schema["$schema"] = DRAFT4
    schema["x-handbook-origin"] = origin
    schema["x-kubernetes-group-version-kind"] = [{"group": group, "version": version, "kind": kind}]
    return schema


class _CrdLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that reads a bare ``=`` (YAML 1.1 "value" tag, seen in some CRDs) as a string."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def iter_crds(path: Path) -> Iterator[dict[str, Any]]:
    """CustomResourceDefinition documents in a YAML (or JSON) file, also inside a ``List``; other kinds are skipped."""
    with path.open(encoding="utf-8") as handle:
        for document in yaml.load_all(handle, Loader=_CrdLoader):  # noqa: S506 - a SafeLoader subclass
            yield from crds_in(document)


def crd_versions(crd: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(group, version, kind, openAPIV3Schema) for every served version that has a schema."""
    spec = crd.get("spec", {})
    group = spec["group"]
    kind = spec["names"]["kind"]
    for entry in spec.get("versions") or []:
        schema = (entry.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            schema = (spec.get("validation") or {}).get("openAPIV3Schema")
        if schema is None or entry.get("served") is False:
            continue
        yield group, entry["name"], kind, schema




def crds_in(data: Any) -> Iterator[dict[str, Any]]:
    """The CRDs in one parsed YAML document: a CRD itself, or the items of a ``List`` (``oc get crd a b -o yaml``)."""
    if not isinstance(data, dict):
        return
    if data.get("kind") == "CustomResourceDefinition":
        yield data
    elif str(data.get("kind", "")).endswith("List") and isinstance(data.get("items"), list):
        for item in data["items"]:
            yield from crds_in(item)
