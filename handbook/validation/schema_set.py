"""Which schema applies to a document, and what it declares: the pinned tree plus any extra CRD folders."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import schemas
from .model import SETUP_HINT, ValidationSetupError


@dataclass
class SchemaSet:
    """The schema tree (``handbook.schemas``) and the extra CRD roots, read-only, with loaded files kept."""

    root: Path = schemas.SCHEMA_ROOT
    extra_roots: tuple[Path, ...] = ()
    extra_kinds: frozenset[tuple[str, str]] = frozenset()
    extra_digest: str = ""
    _loaded: dict[Path, Any] = field(default_factory=dict, repr=False)
    _k8s_version: str = field(default="", repr=False)
    _index: dict[str, Any] | None = field(default=None, repr=False)

    def check_ready(self) -> None:
        if self.root == schemas.SCHEMA_ROOT and not schemas.schemas_ready(self.root):
            raise ValidationSetupError(
                f"the schema tree {self.root} is missing or older than the pins in tools/versions.env: {SETUP_HINT}")

    @property
    def stamp(self) -> str:
        """What the verdicts depend on: the tree's stamp and the extra CRDs' content."""
        return f"{schemas.recorded_stamp(self.root)}+{self.extra_digest}"

    @property
    def k8s_version(self) -> str:
        if not self._k8s_version:
            self._k8s_version = schemas.kubernetes_version()
        return self._k8s_version

    @property
    def unvalidated(self) -> dict[tuple[str, str], str]:
        """schemas.UNVALIDATED without the kinds an extra CRD folder covers."""
        return {key: why for key, why in schemas.UNVALIDATED.items() if key not in self.extra_kinds}

    def locations(self) -> list[str]:
        return schemas.kubeconform_locations(self.root, self.extra_roots)

    def file_for(self, type_key: tuple[str, str] | None) -> Path | None:
        """The schema file kubeconform would use for ``(apiVersion, kind)``, or None."""
        if type_key is None:
            return None
        for candidate in schemas.candidate_files(*type_key, self.k8s_version, self.root, self.extra_roots):
            if candidate.is_file():
                return candidate
        return None

    def is_crd(self, schema_file: Path) -> bool:
        """True for a schema converted from a CRD (pinned or extra), false for a Kubernetes core schema."""
        return any(root / "crds" in schema_file.parents for root in (self.root, *self.extra_roots))

    def known_as(self, kind: str) -> list[str]:
        """The apiVersions under which ``kind`` has a schema (or is listed as not validated), for hints."""
        if self._index is None:
            self._index = schemas.load_index(self.root).get("schemas", {})
        known = {key.rsplit("/", 1)[0] for key in self._index if key.rsplit("/", 1)[-1] == kind}
        known |= {api for api, extra_kind in self.extra_kinds if extra_kind == kind}
        return sorted(known) + sorted(f"{api} (not validated here)" for api, other in self.unvalidated
                                      if other == kind)

    # ------------------------------------------------------------------ reading schema files

    def load(self, path: Path) -> Any:
        path = path.resolve()
        if path not in self._loaded:
            self._loaded[path] = json.loads(path.read_text(encoding="utf-8"))
        return self._loaded[path]

    def _follow(self, path: Path, node: Any) -> tuple[Path, Any]:
        for _ in range(50):
            if not isinstance(node, dict) or "$ref" not in node:
                break
            file_part, _, pointer = node["$ref"].partition("#")
            if file_part:
                path = (path.parent / file_part).resolve()
            node = self.load(path)
            for raw in [t for t in pointer.split("/") if t]:
                node = node.get(raw.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
        return path, node

    def _branches(self, path: Path, node: Any) -> Iterator[tuple[Path, Any]]:
        path, node = self._follow(path, node)
        if not isinstance(node, dict):
            return
        yield path, node
        for key in ("allOf", "anyOf", "oneOf"):
            for branch in node.get(key) or []:
                yield from self._branches(path, branch)

    def allowed_fields(self, schema_file: Path, tokens: Sequence[str | int]) -> list[str] | None:
        """Sorted field names the schema declares at ``tokens``, or None when it declares none."""
        current = [(schema_file, self.load(schema_file))]
        for token in tokens:
            following: list[tuple[Path, Any]] = []
            for path, node in current:
                for branch_path, branch in self._branches(path, node):
                    properties = branch.get("properties") or {}
                    if isinstance(token, str) and token in properties:
                        following.append((branch_path, properties[token]))
                    elif isinstance(branch.get("items"), dict):
                        following.append((branch_path, branch["items"]))
                    elif isinstance(branch.get("additionalProperties"), dict):
                        following.append((branch_path, branch["additionalProperties"]))
            current = following
        names: set[str] = set()
        for path, node in current:
            for _, branch in self._branches(path, node):
                names.update((branch.get("properties") or {}).keys())
        return sorted(names) or None
