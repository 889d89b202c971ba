"""Each rendered document parsed ONCE (libyaml's CSafeLoader when available), for every later step.

The loader reads YAML the way kubeconform does (sigs.k8s.io/yaml over yaml.v2): a
timestamp-looking scalar stays a string, and a key repeated in one mapping is a
problem (PyYAML would silently keep the last one; here it is recorded, with its line).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from .model import RenderedDocument

_BASE: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_BASE):  # type: ignore[misc, valid-type]
    """A safe loader that records every key repeated inside one mapping."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []  # (key, 1-based line)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the constructor refuses it below
                repeated = False
            if repeated:
                self.duplicates.append((str(key), key_node.start_mark.line + 1))
        return super().construct_mapping(node, deep=deep)


StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BASE.yaml_implicit_resolvers.items()
}


@dataclass
class ParsedDocument:
    """A RenderedDocument with what one parse of its text found."""

    document: RenderedDocument
    data: Any = None  # the (first) YAML document's data; None when empty or not YAML
    count: int = 0  # how many non-empty YAML documents the text holds (1 when it does not parse)
    error: str = ""  # the YAML syntax error, on one line
    duplicates: list[tuple[str, int]] = field(default_factory=list)

    @property
    def api_version_kind(self) -> tuple[str, str] | None:
        """``(apiVersion, kind)``, or None when either is missing or not a string."""
        return api_version_and_kind(self.data)

    @property
    def kind_name(self) -> tuple[str, str]:
        return kind_and_name(self.data)


def api_version_and_kind(data: Any) -> tuple[str, str] | None:
    if not isinstance(data, dict):
        return None
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    return api_version, kind


def kind_and_name(data: Any) -> tuple[str, str]:
    if not isinstance(data, dict):
        return "", ""
    metadata = data.get("metadata")
    name = metadata.get("name", "") if isinstance(metadata, dict) else ""
    return str(data.get("kind") or ""), str(name or "")


def parse(document: RenderedDocument) -> ParsedDocument:
    parsed = ParsedDocument(document)
    loader = StrictLoader(document.text)
    try:
        while loader.check_data():
            data = loader.get_data()
            if data is None:
                continue
            if parsed.count == 0:
                parsed.data = data
                parsed.duplicates = list(loader.duplicates)
            parsed.count += 1
    except yaml.YAMLError as exc:
        parsed.error = " ".join(str(exc).split())
        parsed.data = None
        parsed.count = 1
    finally:
        loader.dispose()
    return parsed


def parse_all(documents: Sequence[RenderedDocument]) -> list[ParsedDocument]:
    return [parse(document) for document in documents]
