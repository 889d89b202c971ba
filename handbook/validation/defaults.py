"""CRD defaulting: fill in a CRD schema's ``default`` values before validating, as the API server does."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from .schema_set import SchemaSet


def _non_nullable_null(value: Any, node: dict[str, Any]) -> bool:
    return value is None and node.get("nullable") is not True


def apply_crd_defaults(value: Any, node: Any) -> None:
    """Fill in a CRD schema's ``default`` values the way the API server does before it validates.

    Mirrors ``Default()`` of k8s.io/apiextensions-apiserver pkg/apiserver/schema/defaulting
    (v0.33, KEP-575): in a mapping, every property that is missing (or null and not
    nullable) and has a non-null default gets a copy of it; then each value is defaulted
    by its property schema, or by additionalProperties; list items by ``items``.
    """
    if not isinstance(node, dict):
        return
    if isinstance(value, dict):
        properties = node.get("properties") or {}
        for key, sub in properties.items():
            if (isinstance(sub, dict) and sub.get("default") is not None
                    and (key not in value or _non_nullable_null(value[key], sub))):
                value[key] = copy.deepcopy(sub["default"])
        extra = node.get("additionalProperties")
        for key in list(value):
            if key in properties:
                apply_crd_defaults(value[key], properties[key])
            elif isinstance(extra, dict):
                if _non_nullable_null(value[key], extra) and extra.get("default") is not None:
                    value[key] = copy.deepcopy(extra["default"])
                apply_crd_defaults(value[key], extra)
    elif isinstance(value, list):
        items = node.get("items")
        if isinstance(items, dict):
            for position, item in enumerate(value):
                if _non_nullable_null(item, items) and items.get("default") is not None:
                    value[position] = copy.deepcopy(items["default"])
                apply_crd_defaults(value[position], items)


def defaulted(data: dict[str, Any], schema_file: Path, schema_set: SchemaSet) -> dict[str, Any]:
    """``data`` with its CRD defaults applied (a copy); ``data`` itself for core kinds.

    Kubernetes core types are defaulted by Go code in the API server, not from their
    OpenAPI schema, so only schemas converted from CRDs are used for defaulting.
    """
    if not schema_set.is_crd(schema_file):
        return data
    result = copy.deepcopy(data)
    apply_crd_defaults(result, schema_set.load(schema_file))
    return result
