"""The wording of every message: file, document, field path, what is wrong, and how to fix it.

Both engines reduce what they found to ``Finding``s; this module turns a finding into
``ValidationProblem``s, so kubeconform and the Python fallback word the same problem alike.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from typing import Any

from .documents import ParsedDocument, api_version_and_kind, kind_and_name
from .model import Finding, NotValidated, ValidationProblem
from .schema_set import SchemaSet

TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
              "object": "a mapping", "array": "a list", "null": "null"}


def json_type(value: Any) -> str:
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


def value_at(data: Any, tokens: Sequence[str | int]) -> tuple[bool, Any]:
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


def join(location: str, key: str) -> str:
    """``location`` + one more key, in the notation of ``dotted``."""
    if not _PLAIN_KEY.fullmatch(key):
        return f"{location}[{json.dumps(key, ensure_ascii=False)}]"
    return f"{location}.{key}" if location else key


def dotted(data: Any, tokens: Sequence[str | int]) -> str:
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


NUMERIC_LIMITS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
LIMITS = (*NUMERIC_LIMITS, "minLength", "maxLength", "minItems", "maxItems")
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


def number(value: Any) -> str:
    """A number as kubeconform prints it (Go's %v of a float64): 3, -1, 0.5."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _type_phrase(types: Sequence[str]) -> str:
    useful = [t for t in types if t != "null"] or list(types)
    return " or ".join(TYPE_NAMES.get(t, t) for t in useful)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 40 else text[:37] + "..."



def notice(parsed: ParsedDocument, reason: str) -> NotValidated:
    """The notice for a document whose kind has no schema here (``SchemaSet.unvalidated``)."""
    document = parsed.document
    api_version, kind = parsed.api_version_kind or ("?", "?")
    return NotValidated(document.source, document.index, api_version, kind, parsed.kind_name[1], reason,
                        document.label)


def word(finding: Finding, doc: ParsedDocument, schema_set: SchemaSet, data: Any = None) -> list[ValidationProblem]:
    """``finding`` in ``doc`` as problems; ``data`` is what the engine checked (after CRD defaults), if not doc.data."""
    data = doc.data if data is None else data
    kind, name = kind_and_name(data)
    api_version = data.get("apiVersion", "?") if isinstance(data, dict) else "?"
    against = f"{api_version} {kind or '?'}"
    location = dotted(data, finding.tokens)
    source = doc.document

    def problem(path: str, message: str, fix: str) -> ValidationProblem:
        return ValidationProblem(source.source, source.index, kind, name, path, message, fix, source.label)

    if finding.code == "unknown-field":
        schema_file = schema_set.file_for(api_version_and_kind(data))
        allowed = schema_set.allowed_fields(schema_file, finding.tokens) if schema_file else None
        problems = []
        for unknown in finding.names:
            fix = f"remove `{unknown}` or check its spelling against {against}"
            if allowed:
                close = difflib.get_close_matches(unknown, allowed, n=1, cutoff=0.6)
                if close:
                    fix += f"; did you mean `{close[0]}`?"
                if len(allowed) <= 30:
                    fix += f" Allowed at {location or 'the top level'}: {', '.join(allowed)}"
            problems.append(problem(join(location, unknown),
                                    f"unknown field `{unknown}`", fix))
        return problems
    if finding.code == "missing-field":
        return [problem(join(location, missing),
                        f"required field `{missing}` is missing",
                        f"add `{missing}` under `{location or 'the top level'}`: {against} requires it")
                for missing in finding.names]
    if finding.code == "wrong-type":
        found, value = value_at(data, finding.tokens)
        got = json_type(value) if found else finding.got
        shown = f" ({_short(value)})" if found and not isinstance(value, dict | list) else ""
        want = _type_phrase(finding.want)
        message = f"expected {want}, got {TYPE_NAMES.get(got, got)}{shown}"
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
        found, value = value_at(data, finding.tokens)
        choices = ", ".join(_short(v) for v in finding.allowed)
        shown = _short(value) if found else "this value"
        return [problem(location, f"{shown} is not an allowed value", f"use one of: {choices}")]
    if finding.code == "limit":
        keyword, want = finding.names[0], finding.want[0]
        found, value = value_at(data, finding.tokens)
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
        known = schema_set.known_as(kind)
        fix = "check the spelling of apiVersion and kind"
        if known:
            fix += f"; {kind} is known as: {', '.join(known)}"
        else:
            fix += ("; if this is a real custom resource, add the module that holds its CRD to "
                    "tools/versions.env and CRD_FILES in handbook/schema_build.py, then run `make setup`, "
                    "or add its CRD file with --crds DIR (or HANDBOOK_CRDS)")
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


