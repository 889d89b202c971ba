"""Schema validation of rendered manifests: the real kubeconform, or a Python fallback.

Both the site build and ``scripts/apply.py`` call ``validate()`` with one
``RenderedDocument`` per YAML document and value set. Two engines read the same
local schema tree (``handbook.schemas``, built by ``make setup``):

* ``kubeconform``: every document goes to its own temporary file, then one
  kubeconform process checks them all (``-strict``, ``-verbose`` JSON output, local
  schema locations only, no ``-ignore-missing-schemas``). Its verdicts are final;
  Python only reads its JSON and words the problems.
* ``python``: the ``jsonschema`` package over the same files, with the same
  lookup order; it also rejects duplicate keys as kubeconform's strict mode does.

Every problem names the file, the document, the field path, the reason and a fix.

A few kinds have no schema because the module holding their CRD is refused by the
Go module proxy here (``schemas.UNVALIDATED``, also returned by
``unvalidated_kinds()``). Both engines skip exactly those (apiVersion, kind) pairs
(kubeconform through its ``-skip`` option) and ``validate_report()`` lists each such
document as a ``NotValidated`` notice, so a skipped document is never mistaken
for a valid one. Any other kind without a schema is a problem.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from . import schemas
from .paths import REPO_ROOT

KUBECONFORM_TIMEOUT_SECONDS = 300
SETUP_HINT = "run `make setup` (it installs kubeconform into .tools/bin and builds .cache/schemas)"


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class RenderedDocument:
    source: str  # repo-relative path, e.g. "manifests/stage-1-sockshop/front-end.yaml"
    index: int  # 0-based document index inside the file
    text: str  # the YAML of this ONE document, with variables already substituted
    label: str = ""  # which value set produced it, e.g. "defaults" or "second user"


@dataclass(frozen=True)
class ValidationProblem:
    source: str
    index: int
    kind: str
    name: str
    path: str  # dotted field path, e.g. "spec.http[0].rout"; "" for the whole document
    message: str
    fix: str
    label: str = ""

    def __str__(self) -> str:
        values = f" [values: {self.label}]" if self.label else ""
        where = self.path or "(whole document)"
        return (f"{self.source}: document {self.index + 1} ({self.kind or '?'} {self.name or '?'}){values}: "
                f"{where}: {self.message}. Fix: {self.fix}")


@dataclass(frozen=True)
class NotValidated:
    """A document that was not validated because no pinned source has its schema."""

    source: str
    index: int
    api_version: str
    kind: str
    name: str
    reason: str
    label: str = ""

    def __str__(self) -> str:
        values = f" [values: {self.label}]" if self.label else ""
        return (f"{self.source}: document {self.index + 1} ({self.kind} {self.name or '?'}){values}: "
                f"NOT VALIDATED: {self.api_version} {self.kind} has no schema here: {self.reason}")


@dataclass(frozen=True)
class ValidationReport:
    """What ``validate_report()`` found: problems, and the documents it could not validate."""

    problems: list[ValidationProblem]
    notices: list[NotValidated]


class ValidationError(Exception):
    """Raised by ``check()`` when at least one document is invalid."""

    def __init__(self, problems: list[ValidationProblem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class ValidationSetupError(schemas.SchemaSetupError):
    """kubeconform or the schema tree is missing or broken; nothing was validated."""


class FallbackWarning(UserWarning):
    """engine="auto" found no kubeconform and used the Python fallback."""


# --------------------------------------------------------------------------- entry points


def kubeconform_path() -> str | None:
    """``.tools/bin/kubeconform`` of this repository, else the first one on PATH, else None."""
    local = REPO_ROOT / ".tools" / "bin" / "kubeconform"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("kubeconform")


def schemas_ready() -> bool:
    """True when .cache/schemas exists and matches tools/versions.env."""
    return schemas.schemas_ready()


def unvalidated_kinds() -> dict[tuple[str, str], str]:
    """(apiVersion, kind) -> why documents of that kind are not validated (a copy of schemas.UNVALIDATED)."""
    return dict(schemas.UNVALIDATED)


def validate(documents: Sequence[RenderedDocument], *, engine: str = "auto") -> list[ValidationProblem]:
    """Every problem in ``documents``; an empty list means no document has a problem.

    Documents of the kinds in ``unvalidated_kinds()`` are not checked and so never
    yield a problem; ``validate_report()`` lists them as notices. Raises
    ValidationSetupError when the chosen engine cannot run (the message says to run
    ``make setup``).
    """
    return _validate(documents, engine).problems


def validate_report(documents: Sequence[RenderedDocument], *, engine: str = "auto") -> ValidationReport:
    """Like ``validate()``, plus a NotValidated notice for each document that was skipped."""
    return _validate(documents, engine)


def _validate(documents: Sequence[RenderedDocument], engine: str) -> ValidationReport:
    if engine not in ("auto", "kubeconform", "python"):
        raise ValueError(f"engine must be 'auto', 'kubeconform' or 'python', not {engine!r}")
    if not schemas.schemas_ready():
        raise ValidationSetupError(
            f"the schema tree {schemas.SCHEMA_ROOT} is missing or older than tools/versions.env: {SETUP_HINT}"
        )
    binary = kubeconform_path()
    if engine == "auto":
        if binary is None:
            warnings.warn(
                "kubeconform was not found (.tools/bin/kubeconform or PATH): validating with the Python "
                "fallback (same schemas, jsonschema package) instead of the real kubeconform. "
                f"To use kubeconform, {SETUP_HINT}.",
                FallbackWarning, stacklevel=3,
            )
            engine = "python"
        else:
            engine = "kubeconform"
    if engine == "kubeconform":
        if binary is None:
            raise ValidationSetupError(f"kubeconform is not installed: {SETUP_HINT}")
        return _run_kubeconform(binary, documents)
    return _run_python(documents)


def check(documents: Sequence[RenderedDocument], *, engine: str = "auto") -> None:
    """Like ``validate()`` but raises ValidationError when anything is invalid."""
    problems = validate(documents, engine=engine)
    if problems:
        raise ValidationError(problems)


# --------------------------------------------------------------------------- YAML reading


class _DuplicateKeyError(yaml.MarkedYAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                duplicate = False
            if duplicate:
                raise _DuplicateKeyError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key `{key}`", key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


# Like kubeconform (sigs.k8s.io/yaml over yaml.v2, which keeps a timestamp-looking
# scalar a string when decoding into interface{}), a date stays a string here.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


def _quiet_load(text: str) -> Any:
    """The document's data for wording messages, or None when it does not parse."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _kind_name(data: Any) -> tuple[str, str]:
    if not isinstance(data, dict):
        return "", ""
    metadata = data.get("metadata")
    name = metadata.get("name", "") if isinstance(metadata, dict) else ""
    return str(data.get("kind") or ""), str(name or "")


# --------------------------------------------------------------------------- findings

_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
               "object": "a mapping", "array": "a list", "null": "null"}


@dataclass
class _Finding:
    """One reason a document is invalid, before it is worded."""

    # unknown-field, missing-field, wrong-type, bad-value, limit, rule, no-schema,
    # duplicate-key, yaml, not-object, no-type, other
    code: str
    tokens: list[str | int] = field(default_factory=list)  # instance location (the object, for field codes)
    names: list[str] = field(default_factory=list)  # unknown or missing field names
    got: str = ""  # JSON type found
    want: list[str] = field(default_factory=list)  # JSON types accepted
    allowed: list[Any] = field(default_factory=list)  # enum values
    detail: str = ""  # the engine's own words, for "other"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _value_at(data: Any, tokens: Sequence[str | int]) -> tuple[bool, Any]:
    node = data
    for token in tokens:
        if isinstance(node, list):
            try:
                node = node[int(token)]
            except (ValueError, IndexError):
                return False, None
        elif isinstance(node, dict):
            if token in node:
                node = node[token]
            elif str(token) in node:
                node = node[str(token)]
            else:
                return False, None
        else:
            return False, None
    return True, node


_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")


def _join(location: str, key: str) -> str:
    """``location`` + one more key, in the notation of ``_dotted``."""
    if not _PLAIN_KEY.fullmatch(key):
        return f"{location}[{json.dumps(key, ensure_ascii=False)}]"
    return f"{location}.{key}" if location else key


def _dotted(data: Any, tokens: Sequence[str | int]) -> str:
    """``spec.http[0].route`` from instance tokens; list positions follow the data itself."""
    text = ""
    node = data
    for token in tokens:
        if isinstance(node, list):
            text += f"[{token}]"
            try:
                node = node[int(token)]
            except (ValueError, IndexError):
                node = None
        else:
            key = str(token)
            if not _PLAIN_KEY.fullmatch(key):
                text += f"[{json.dumps(key, ensure_ascii=False)}]"
            else:
                text += key if not text else f".{key}"
            node = node.get(key) if isinstance(node, dict) else None
    return text


# --------------------------------------------------------------------------- schema look-ups for hints


class _SchemaFiles:
    """Loads schema files once and answers "which fields are allowed here?"."""

    def __init__(self) -> None:
        self._documents: dict[Path, Any] = {}

    def load(self, path: Path) -> Any:
        path = path.resolve()
        if path not in self._documents:
            self._documents[path] = json.loads(path.read_text(encoding="utf-8"))
        return self._documents[path]

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


# --------------------------------------------------------------------------- wording


def _api_version_and_kind(data: Any) -> tuple[str, str] | None:
    """``(apiVersion, kind)`` of a parsed document, or None when either is missing or not a string."""
    if not isinstance(data, dict):
        return None
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    return api_version, kind


def _schema_file_for(data: Any) -> Path | None:
    if (found := _api_version_and_kind(data)) is None:
        return None
    api_version, kind = found
    k8s_version = schemas.kubernetes_version()
    for candidate in schemas.candidate_files(api_version, kind, k8s_version):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=1)
def _index() -> dict[str, dict[str, str]]:
    return schemas.load_index().get("schemas", {})


_NUMERIC_LIMITS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_LIMITS = (*_NUMERIC_LIMITS, "minLength", "maxLength", "minItems", "maxItems")
_LIMIT_WORDS = {
    "minimum": ("{got} is below the minimum {want}", "use a value of at least {want}"),
    "maximum": ("{got} is above the maximum {want}", "use a value of at most {want}"),
    "exclusiveMinimum": ("{got} is not above {want}", "use a value greater than {want}"),
    "exclusiveMaximum": ("{got} is not below {want}", "use a value smaller than {want}"),
    "minLength": ("too short: {got} characters where at least {want} are needed", "write a longer value"),
    "maxLength": ("too long: {got} characters where at most {want} are allowed", "shorten the value"),
    "minItems": ("{got} entries where at least {want} are needed", "add entries to this list"),
    "maxItems": ("{got} entries where at most {want} are allowed", "remove entries from this list"),
}


def _number(value: Any) -> str:
    """A number as kubeconform prints it (Go's %v of a float64): 3, -1, 0.5."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _type_phrase(types: Sequence[str]) -> str:
    useful = [t for t in types if t != "null"] or list(types)
    return " or ".join(_TYPE_NAMES.get(t, t) for t in useful)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."


def _non_nullable_null(value: Any, node: dict[str, Any]) -> bool:
    return value is None and node.get("nullable") is not True


def _apply_crd_defaults(value: Any, node: Any) -> None:
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
                _apply_crd_defaults(value[key], properties[key])
            elif isinstance(extra, dict):
                if _non_nullable_null(value[key], extra) and extra.get("default") is not None:
                    value[key] = copy.deepcopy(extra["default"])
                _apply_crd_defaults(value[key], extra)
    elif isinstance(value, list):
        items = node.get("items")
        if isinstance(items, dict):
            for position, item in enumerate(value):
                if _non_nullable_null(item, items) and items.get("default") is not None:
                    value[position] = copy.deepcopy(items["default"])
                _apply_crd_defaults(value[position], items)


def _defaulted(data: dict[str, Any], schema_file: Path, files: _SchemaFiles) -> dict[str, Any]:
    """``data`` with its CRD defaults applied (a copy); unchanged for core kinds.

    Kubernetes core types are defaulted by Go code in the API server, not from their
    OpenAPI schema, so only schemas generated from CRDs are used for defaulting.
    """
    if schemas.SCHEMA_ROOT / "crds" not in schema_file.parents:
        return data
    result = copy.deepcopy(data)
    _apply_crd_defaults(result, files.load(schema_file))
    return result


def _unvalidated(data: Any) -> str | None:
    """The reason when ``data`` is of a kind in schemas.UNVALIDATED, else None."""
    found = _api_version_and_kind(data)
    return None if found is None else schemas.UNVALIDATED.get(found)


def _notice(document: RenderedDocument, data: dict[str, Any], reason: str) -> NotValidated:
    _, name = _kind_name(data)
    return NotValidated(document.source, document.index, str(data["apiVersion"]), str(data["kind"]), name,
                        reason, document.label)


def _word(finding: _Finding, doc: RenderedDocument, data: Any,
          hints: _SchemaFiles) -> list[ValidationProblem]:
    kind, name = _kind_name(data)
    api_version = data.get("apiVersion", "?") if isinstance(data, dict) else "?"
    against = f"{api_version} {kind or '?'}"
    location = _dotted(data, finding.tokens)

    def problem(path: str, message: str, fix: str) -> ValidationProblem:
        return ValidationProblem(doc.source, doc.index, kind, name, path, message, fix, doc.label)

    if finding.code == "unknown-field":
        schema_file = _schema_file_for(data)
        allowed = hints.allowed_fields(schema_file, finding.tokens) if schema_file else None
        problems = []
        for unknown in finding.names:
            fix = f"remove `{unknown}` or check its spelling against {against}"
            if allowed:
                close = difflib.get_close_matches(unknown, allowed, n=1, cutoff=0.6)
                if close:
                    fix += f"; did you mean `{close[0]}`?"
                if len(allowed) <= 30:
                    fix += f" Allowed at {location or 'the top level'}: {', '.join(allowed)}"
            problems.append(problem(_join(location, unknown),
                                    f"unknown field `{unknown}`", fix))
        return problems
    if finding.code == "missing-field":
        return [problem(_join(location, missing),
                        f"required field `{missing}` is missing",
                        f"add `{missing}` under `{location or 'the top level'}`: {against} requires it")
                for missing in finding.names]
    if finding.code == "wrong-type":
        found, value = _value_at(data, finding.tokens)
        got = _json_type(value) if found else finding.got
        shown = f" ({_short(value)})" if found and not isinstance(value, dict | list) else ""
        want = _type_phrase(finding.want)
        message = f"expected {want}, got {_TYPE_NAMES.get(got, got)}{shown}"
        useful = [t for t in finding.want if t != "null"]
        if got == "string" and useful and set(useful) <= {"integer", "number"}:
            fix = "write a number without quotes (a quoted or spelled-out value is a string)"
        elif "string" in useful and got in ("integer", "number"):
            fix = 'quote it ("8080"), or add the unit if it is a duration ("2s")'
        elif "string" in useful and got == "boolean":
            fix = 'quote it ("true"): unquoted true/false/yes/no are booleans in YAML'
        else:
            fix = f"change the value to {want} as {against} defines it"
        return [problem(location, message, fix)]
    if finding.code == "bad-value":
        found, value = _value_at(data, finding.tokens)
        choices = ", ".join(_short(v) for v in finding.allowed)
        shown = _short(value) if found else "this value"
        return [problem(location, f"{shown} is not an allowed value", f"use one of: {choices}")]
    if finding.code == "limit":
        keyword, want = finding.names[0], finding.want[0]
        found, value = _value_at(data, finding.tokens)
        if keyword == "pattern":
            return [problem(location, f"{_short(value) if found else 'the value'} does not match the pattern {want}",
                            f"write a value that matches {want}")]
        message, fix = _LIMIT_WORDS[keyword]
        return [problem(location, message.format(got=finding.got, want=want), fix.format(want=want))]
    if finding.code == "rule":
        where = f"`{location}`" if location else "the top level"
        return [problem(location, f"the fields under {where} break a rule of the {against} schema that ties "
                                  "several fields together",
                        f"compare the fields under {where} with the {against} API reference "
                        f"(`oc explain` / `kubectl explain`): one of them requires, or rules out, another")]
    if finding.code == "no-schema":
        known = sorted(key.rsplit("/", 1)[0] for key in _index() if key.rsplit("/", 1)[-1] == kind)
        known += sorted(f"{other} (not validated here)" for other, unchecked in schemas.UNVALIDATED
                        if unchecked == kind)
        fix = "check the spelling of apiVersion and kind"
        if known:
            fix += f"; {kind} is known as: {', '.join(known)}"
        else:
            fix += ("; if this is a real custom resource, add the module that holds its CRD to "
                    "tools/versions.env and CRD_FILES in handbook/schemas.py, then run `make setup`")
        return [problem("", f"no schema for {against} (kubeconform needs one for every kind)", fix)]
    if finding.code == "duplicate-key":
        return [problem(location, f"duplicate key{': ' + finding.detail if finding.detail else ''}",
                        "keep only one of the repeated keys: YAML would silently drop the first one")]
    if finding.code == "not-object":
        return [problem("", f"the document is {finding.detail or 'not a mapping'}, not a Kubernetes object",
                        "write the object as a mapping with apiVersion, kind, metadata and spec")]
    if finding.code == "yaml":
        return [problem("", f"not valid YAML: {finding.detail}", "fix the YAML syntax at the place named")]
    if finding.code == "no-type":
        return [problem(finding.names[0] if finding.names else "", finding.detail,
                        "every Kubernetes object needs `apiVersion:` and `kind:` at the top level")]
    return [problem(location, finding.detail or "invalid",
                    f"check this value against {against}")]


# --------------------------------------------------------------------------- kubeconform engine

_ENTRY = re.compile(r"( +)- at '((?:[^'\\]|\\.)*)': ")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _go_unquote(inner: str) -> str:
    """The text inside santhosh-tekuri's quote(): Go %q with \\" turned into " and ' escaped as \\'."""
    candidate = inner.replace("\\'", "'").replace('"', '\\"')
    try:
        return str(json.loads(f'"{candidate}"'))
    except ValueError:
        return inner.replace("\\'", "'")


def _tokens(pointer: str) -> list[str | int]:
    tokens: list[str | int] = []
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        tokens.append(int(token) if token.isdigit() else token)
    return tokens


def _kubeconform_leaves(message: str) -> list[tuple[str, str]]:
    """(instance pointer, message) of the innermost errors in kubeconform's flattened error text.

    kubeconform v0.7.0 puts santhosh-tekuri/jsonschema's error tree in ``msg`` with
    newlines turned into spaces: ``... - at '/spec': validation failed   - at
    '/spec/x': got string, want integer``; two more spaces mean one level deeper.
    """
    matches = list(_ENTRY.finditer(message))
    entries = []
    for position, match in enumerate(matches):
        end = matches[position + 1].start() if position + 1 < len(matches) else len(message)
        depth = (len(match.group(1)) - 1) // 2
        entries.append((depth, _go_unquote(match.group(2)), message[match.end():end].strip()))
    leaves = []
    for position, (depth, pointer, text) in enumerate(entries):
        deeper_follows = position + 1 < len(entries) and entries[position + 1][0] > depth
        if not deeper_follows:
            leaves.append((pointer, text))
    return leaves


def _finding_from_kubeconform(pointer: str, text: str) -> _Finding:
    tokens = _tokens(pointer)
    quoted = [_go_unquote(q) for q in _QUOTED.findall(text)]
    if text.startswith("additional propert"):
        return _Finding("unknown-field", tokens, names=quoted)
    if text.startswith("missing propert"):
        return _Finding("missing-field", tokens, names=quoted)
    typed = re.fullmatch(r"got (\w+), want (.+)", text)
    if typed:
        return _Finding("wrong-type", tokens, got=typed.group(1), want=typed.group(2).split(" or "))
    if text.startswith("value must be"):
        return _Finding("bad-value", tokens, allowed=quoted)
    limit = re.fullmatch(r"(minimum|maximum|exclusiveMinimum|exclusiveMaximum|minLength|maxLength|minItems|maxItems)"
                         r": got (\S+), want (\S+)", text)
    if limit:
        return _Finding("limit", tokens, names=[limit.group(1)], got=limit.group(2), want=[limit.group(3)])
    if " does not match pattern " in text and len(quoted) >= 2:
        return _Finding("limit", tokens, names=["pattern"], want=[quoted[-1]])
    combined = re.fullmatch(r"(not|anyOf|oneOf|allOf) failed", text)
    if combined:
        return _Finding("rule", tokens, names=[combined.group(1)])
    return _Finding("other", tokens, detail=text)


def _merge_type_findings(findings: list[_Finding]) -> list[_Finding]:
    """kubeconform reports each failed branch of an anyOf/oneOf; one problem per path is enough.

    Wrong-type findings at one path merge their accepted types (int-or-string);
    rule findings at one path merge into the first.
    """
    merged: list[_Finding] = []
    by_path: dict[tuple[Any, ...], _Finding] = {}
    rules: set[tuple[Any, ...]] = set()
    for finding in findings:
        if finding.code == "rule":
            if tuple(finding.tokens) in rules:
                continue
            rules.add(tuple(finding.tokens))
        if finding.code == "wrong-type":
            key = tuple(finding.tokens)
            if key in by_path:
                by_path[key].want += [t for t in finding.want if t not in by_path[key].want]
                continue
            by_path[key] = finding
        merged.append(finding)
    return merged


def _findings_from_result(result: dict[str, Any]) -> list[_Finding]:
    status = result.get("status")
    message = str(result.get("msg") or "")
    if status == "statusInvalid":
        leaves = _kubeconform_leaves(message)
        if not leaves:
            return [_Finding("other", [], detail=message)]
        return _merge_type_findings([_finding_from_kubeconform(p, t) for p, t in leaves])
    if message.startswith("could not find schema for"):
        return [_Finding("no-schema")]
    if "already set in map" in message:
        duplicate = re.search(r'line (\d+): key "?([^"]*)"? already set', message)
        detail = f"`{duplicate.group(2)}` appears twice (line {duplicate.group(1)})" if duplicate else message
        return [_Finding("duplicate-key", detail=detail)]
    missing = re.search(r"missing '(apiVersion|kind)' key", message)
    if missing:
        return [_Finding("no-type", names=[missing.group(1)], detail=f"`{missing.group(1)}` is missing")]
    not_object = re.search(r"cannot unmarshal (\w+) into Go value of type map", message)
    if not_object:
        found = not_object.group(1)
        return [_Finding("not-object", detail=_TYPE_NAMES.get(found, f"a {found}"))]
    if message.startswith("error unmarshalling resource"):
        return [_Finding("yaml", detail=message.split(": ", 1)[-1].replace("\n", " "))]
    return [_Finding("other", detail=message.replace("\n", " "))]


def kubeconform_skip() -> str:
    """The ``-skip`` value: schemas.UNVALIDATED as ``apiVersion/Kind`` entries, comma-separated.

    kubeconform v0.7.0 (pkg/config/config.go, pkg/validator/validator.go) splits the
    value at commas and skips a resource when ``<apiVersion>/<kind>`` or the bare kind
    is listed; only the full form is used here, so another group's kind of the same
    name is still validated.
    """
    return ",".join(sorted(f"{api_version}/{kind}" for api_version, kind in schemas.UNVALIDATED))


def kubeconform_command(binary: str, target: str) -> list[str]:
    """The exact kubeconform invocation, offline: only local schema locations."""
    command = [binary, "-strict", "-output", "json", "-summary", "-verbose",
               "-kubernetes-version", schemas.kubernetes_version()]
    for location in schemas.kubeconform_locations():
        command += ["-schema-location", location]
    skip = kubeconform_skip()
    if skip:
        command += ["-skip", skip]
    return [*command, target]


def _yaml_document_count(text: str) -> int:
    """How many non-empty YAML documents ``text`` holds (1 when it does not even parse)."""
    try:
        return sum(1 for data in yaml.safe_load_all(text) if data is not None)
    except yaml.YAMLError:
        return 1


def _single_documents(documents: Sequence[RenderedDocument]) -> tuple[list[RenderedDocument],
                                                                      list[ValidationProblem]]:
    """The documents holding at most one YAML document, and a problem for each of the others."""
    single: list[RenderedDocument] = []
    problems: list[ValidationProblem] = []
    for document in documents:
        count = _yaml_document_count(document.text)
        if count <= 1:
            single.append(document)
            continue
        kind, name = _kind_name(_quiet_load(document.text.split("\n---", 1)[0]))
        problems.append(ValidationProblem(
            document.source, document.index, kind, name, "",
            f"the text holds {count} YAML documents, not one",
            "split it at each `---` into separate RenderedDocuments (handbook.manifests.split_documents)",
            document.label))
    return single, problems


def _text_to_send(document: RenderedDocument, files: _SchemaFiles) -> tuple[str, dict[str, Any] | None]:
    """What kubeconform gets for ``document``: its text, or JSON of it with CRD defaults applied.

    The text is rewritten only when it parses strictly (so kubeconform still sees every
    duplicate key and syntax error itself), is not skipped, and defaulting changed it.
    """
    try:
        data = _load(document.text)
    except yaml.YAMLError:
        return document.text, None
    if not isinstance(data, dict) or _unvalidated(data) is not None:
        return document.text, None
    schema_file = _schema_file_for(data)
    if schema_file is None:
        return document.text, None
    defaulted = _defaulted(data, schema_file, files)
    if defaulted == data:
        return document.text, None
    return json.dumps(defaulted, ensure_ascii=False), defaulted


def _run_kubeconform(binary: str, documents: Sequence[RenderedDocument]) -> ValidationReport:
    documents, problems = _single_documents(documents)
    notices: list[NotValidated] = []
    if not documents:
        return ValidationReport(problems, notices)
    hints = _SchemaFiles()
    expected = sum(1 for d in documents if _yaml_document_count(d.text) == 1)
    with tempfile.TemporaryDirectory(prefix="handbook-kubeconform-") as folder:
        by_file: dict[str, RenderedDocument] = {}
        sent: dict[str, Any] = {}
        for number, document in enumerate(documents):
            file_name = f"{number:05d}.yaml"
            text, sent[file_name] = _text_to_send(document, hints)
            Path(folder, file_name).write_text(text, encoding="utf-8")
            by_file[file_name] = document
        command = kubeconform_command(binary, folder)
        try:
            completed = subprocess.run(  # noqa: S603 - fixed argument list, no shell
                command, capture_output=True, text=True, check=False, timeout=KUBECONFORM_TIMEOUT_SECONDS,
            )
        except OSError as exc:
            raise ValidationSetupError(f"could not run {binary}: {exc}; {SETUP_HINT}") from exc
        except subprocess.TimeoutExpired as exc:
            raise ValidationSetupError(
                f"kubeconform did not finish in {KUBECONFORM_TIMEOUT_SECONDS}s") from exc
    try:
        report = json.loads(completed.stdout)
        results = report["resources"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationSetupError(
            f"kubeconform exited with {completed.returncode} without its JSON report "
            f"(stderr: {completed.stderr.strip()[:500] or 'empty'}); {SETUP_HINT}"
        ) from exc
    if completed.returncode not in (0, 1) or (completed.returncode == 1 and not results):
        raise ValidationSetupError(f"kubeconform failed (exit {completed.returncode}): "
                                   f"{completed.stderr.strip()[:500]}; {SETUP_HINT}")
    counted = sum(int(v) for v in (report.get("summary") or {}).values())
    if counted != expected:
        raise ValidationSetupError(f"kubeconform checked {counted} resources where {expected} were sent; "
                                   "its results cannot be matched to the documents")
    reported: set[str] = set()
    for result in results:
        file_name = Path(str(result.get("filename", ""))).name
        document = by_file.get(file_name)
        if document is None:
            raise ValidationSetupError(f"kubeconform reported an unknown file: {result.get('filename')}")
        status = result.get("status")
        if status in ("", None):  # an empty document (comments only): nothing to check
            continue
        if file_name in reported:
            raise ValidationSetupError(f"kubeconform reported {file_name} twice; its results cannot be "
                                       "matched to the documents")
        reported.add(file_name)
        data = sent[file_name] if sent[file_name] is not None else _quiet_load(document.text)
        if status == "statusValid":
            continue
        if status == "statusSkipped":
            reason = _unvalidated(data)
            if reason is None or not isinstance(data, dict):
                raise ValidationSetupError(
                    f"kubeconform skipped {document.source} document {document.index + 1} "
                    f"({result.get('version')} {result.get('kind')}), which is not in schemas.UNVALIDATED")
            notices.append(_notice(document, data, reason))
            continue
        for finding in _findings_from_result(result):
            problems += _word(finding, document, data, hints)
    if len(reported) != expected:
        raise ValidationSetupError(f"kubeconform reported {len(reported)} resources where {expected} were sent; "
                                   "its results cannot be matched to the documents")
    return ValidationReport(_sorted(problems), _sorted_notices(notices))


# --------------------------------------------------------------------------- Python engine


class _PythonValidators:
    """jsonschema validators over the same files, with $refs resolved from disk."""

    def __init__(self, files: _SchemaFiles) -> None:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self._files = files
        self._validators: dict[Path, Any] = {}

        def retrieve(uri: str) -> Resource[Any]:
            path = Path(urllib.parse.unquote(urllib.parse.urlparse(uri).path))
            return Resource.from_contents(files.load(path), default_specification=DRAFT4)

        self._registry: Registry[Any] = Registry(retrieve=retrieve)  # type: ignore[call-arg]

    def for_file(self, path: Path) -> Any:
        import jsonschema

        path = path.resolve()
        if path not in self._validators:
            schema = dict(self._files.load(path))
            dialect = schema.get("$schema", schemas.DRAFT4)
            schema["id" if "draft-04" in dialect else "$id"] = path.as_uri()
            schema.setdefault("$schema", schemas.DRAFT4)
            cls = jsonschema.validators.validator_for(schema)
            checker = cls.FORMAT_CHECKER if "draft-04" in dialect else None
            self._validators[path] = cls(schema, registry=self._registry, format_checker=checker)
        return self._validators[path]


def _findings_from_jsonschema(error: Any) -> list[_Finding]:
    tokens: list[str | int] = list(error.absolute_path)
    keyword = error.validator
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        declared = error.schema.get("properties") or {}
        patterns = list((error.schema.get("patternProperties") or {}).keys())
        extra = [key for key in error.instance
                 if key not in declared and not any(re.search(p, str(key)) for p in patterns)]
        return [_Finding("unknown-field", tokens, names=[str(k) for k in extra])]
    if keyword == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        return [_Finding("missing-field", tokens, names=missing)]
    if keyword == "type":
        want = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return [_Finding("wrong-type", tokens, got=_json_type(error.instance), want=list(want))]
    if keyword in ("enum", "const"):
        allowed = error.validator_value if keyword == "enum" else [error.validator_value]
        return [_Finding("bad-value", tokens, allowed=list(allowed))]
    if keyword in _LIMITS:
        measured = error.instance if keyword in _NUMERIC_LIMITS else len(error.instance)
        return [_Finding("limit", tokens, names=[keyword], got=_number(measured),
                         want=[_number(error.validator_value)])]
    if keyword == "pattern":
        return [_Finding("limit", tokens, names=["pattern"], want=[str(error.validator_value)])]
    if keyword == "not":
        return [_Finding("rule", tokens, names=["not"])]
    if keyword in ("anyOf", "oneOf") and error.context:
        if all(sub.validator == "type" for sub in error.context):
            wants: list[str] = []
            for sub in error.context:
                value = sub.validator_value
                wants += [v for v in (value if isinstance(value, list) else [value]) if v not in wants]
            return [_Finding("wrong-type", tokens, got=_json_type(error.instance), want=wants)]
        import jsonschema

        best = jsonschema.exceptions.best_match(error.context)
        if best is not None:
            return _findings_from_jsonschema(best)
    return [_Finding("other", tokens, detail=error.message)]


def _run_python(documents: Sequence[RenderedDocument]) -> ValidationReport:
    files = _SchemaFiles()
    validators = _PythonValidators(files)
    k8s_version = schemas.kubernetes_version()
    documents, problems = _single_documents(documents)
    notices: list[NotValidated] = []
    for document in documents:
        try:
            data = _load(document.text)
        except _DuplicateKeyError as exc:
            mark = exc.problem_mark
            line = f" (line {mark.line + 1})" if mark is not None else ""
            finding = _Finding("duplicate-key", detail=f"{exc.problem.removeprefix('found duplicate key ')} "
                                                        f"appears twice{line}")
            problems += _word(finding, document, _quiet_load(document.text), files)
            continue
        except yaml.YAMLError as exc:
            problems += _word(_Finding("yaml", detail=" ".join(str(exc).split())), document, None, files)
            continue
        if data is None:
            continue
        if not isinstance(data, dict):
            finding = _Finding("not-object", detail=_TYPE_NAMES[_json_type(data)])
            problems += _word(finding, document, None, files)
            continue
        # kubeconform checks kind before apiVersion; name the same one first.
        missing = [key for key in ("kind", "apiVersion")
                   if not isinstance(data.get(key), str) or not data[key]]
        if missing:
            problems += _word(_Finding("no-type", names=[missing[0]], detail=f"`{missing[0]}` is missing"),
                              document, data, files)
            continue
        # Checked where kubeconform checks -skip: after parsing and reading kind/apiVersion.
        reason = _unvalidated(data)
        if reason is not None:
            notices.append(_notice(document, data, reason))
            continue
        schema_file = next((c for c in schemas.candidate_files(data["apiVersion"], data["kind"], k8s_version)
                            if c.is_file()), None)
        if schema_file is None:
            problems += _word(_Finding("no-schema"), document, data, files)
            continue
        data = _defaulted(data, schema_file, files)
        findings: list[_Finding] = []
        for error in validators.for_file(schema_file).iter_errors(data):
            findings += _findings_from_jsonschema(error)
        for finding in _merge_type_findings(findings):
            problems += _word(finding, document, data, files)
    return ValidationReport(_sorted(problems), _sorted_notices(notices))


def _sorted(problems: list[ValidationProblem]) -> list[ValidationProblem]:
    return sorted(problems, key=lambda p: (p.source, p.index, p.label, p.path, p.message))


def _sorted_notices(notices: list[NotValidated]) -> list[NotValidated]:
    return sorted(notices, key=lambda n: (n.source, n.index, n.label))
