"""The JSON Schemas of ``stage.yaml`` and ``variables.yaml`` (``manifests/schema/``), and their messages.

The schemas say which fields exist and what shape each has; this module checks a file's data with
the pinned ``jsonschema`` and words every problem as ``file: field path: what is wrong; the fix``.
The fix is the ``description`` of the field in the schema; ``x-message`` words a problem where
several rules meet (exactly one kind of step, rollout or for). The loaders (``stages``,
``variables``) check what a schema cannot: files that must exist, unique ids, references.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .paths import REPO_ROOT
from .platforms import PLATFORMS

if TYPE_CHECKING:  # imported when a schema is first needed: an unchanged lab never needs one
    from jsonschema import Draft202012Validator, ValidationError

SCHEMA_DIR = REPO_ROOT / "manifests" / "schema"
# Data that passed a schema once is remembered by content, so an unchanged lab is not checked again
# on every build (jsonschema takes about a third of a second for the whole lab).
CLEAN_CACHE = REPO_ROOT / ".cache" / "lab-schema"
_TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
               "array": "a list", "object": "a mapping", "null": "nothing"}


@cache
def validator(name: str) -> Draft202012Validator:
    """The checker of ``manifests/schema/<name>.schema.json``, with the platforms of ``handbook.platforms``."""
    from jsonschema import Draft202012Validator

    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    schema["$defs"]["platform"]["enum"] = list(PLATFORMS)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _clean_mark(name: str, data: Any) -> Path:
    """The file that records that ``data`` passed schema ``name`` (the schema's text and platforms in the key)."""
    schema_text = (SCHEMA_DIR / f"{name}.schema.json").read_bytes()
    key = hashlib.sha256(schema_text + json.dumps([PLATFORMS, data], sort_keys=True, default=str).encode())
    return CLEAN_CACHE / f"{name}-{key.hexdigest()}"


def problems(name: str, where: str, data: Any) -> list[str]:
    """Every way ``data`` (read from the file ``where``) breaks schema ``name``, one message each.

    Data that passed once is found by its content in CLEAN_CACHE and not checked again; problems are
    never cached.
    """
    mark = _clean_mark(name, data)
    if mark.exists():
        return []
    found: dict[str, None] = {}
    for error in sorted(validator(name).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        for message in _messages(error, data, validator(name).schema):
            found.setdefault(f"{where}: {message}", None)
    if not found:
        try:
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.touch()
        except OSError:
            pass  # a read-only checkout only loses the shortcut
    return list(found)


def field_path(data: Any, path: list[str | int]) -> str:
    """``steps[3] (wait-front-end).wait.timeout``: list positions in brackets, a step named by its id."""
    text = ""
    node = data
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
        if isinstance(node, dict):
            node = node.get(part)
        else:
            node = node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None
        if isinstance(part, int) and isinstance(node, dict) and isinstance(node.get("id"), str):
            text += f" ({node['id']})"
    return text or "(top)"


def _fix(schema: Any) -> str:
    return f"; {schema['description']}" if isinstance(schema, dict) and schema.get("description") else ""


def _type_words(types: Any) -> str:
    return " or ".join(_TYPE_WORDS.get(t, t) for t in (types if isinstance(types, list) else [types]))


def _messages(error: ValidationError, data: Any, root: dict) -> list[str]:
    path = list(error.absolute_path)
    at = field_path(data, path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    kind = error.validator
    if "propertyNames" in error.schema_path:  # a key of the mapping at `path`, not a value
        return [_key_message(error, data, root)]
    if kind == "required":
        missing = re.match(r"'([^']+)'", error.message)
        name = missing.group(1) if missing else "?"
        fix = _fix(schema.get("properties", {}).get(name)) or (f"; {schema['x-message']}" if "x-message" in schema
                                                                 else "")
        return [f"{field_path(data, [*path, name])}: required{fix}"]
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        return [f"{field_path(data, [*path, key])}: unknown field{_did_you_mean(key, allowed)}; "
                f"allowed: {', '.join(allowed)}" for key in sorted(set(instance) - set(allowed))]
    if kind in ("oneOf", "anyOf", "not"):
        return [f"{at}: {schema.get('x-message') or error.message}"]
    if kind == "type":
        return [f"{at}: expected {_type_words(error.validator_value)}, got {instance!r}{_fix(schema)}"]
    if kind in ("enum", "const"):
        choices = error.validator_value if kind == "enum" else [error.validator_value]
        return [f"{at}: {instance!r} is not one of {', '.join(map(str, choices))}{_fix(schema)}"]
    if kind == "format":
        return [f"{at}: {instance!r} is not a valid {error.validator_value}{_fix(schema)}"]
    if kind in ("minItems", "minProperties", "minLength") or (kind == "pattern" and schema.get("pattern") == r"\S"):
        return [f"{at}: must not be empty{_fix(schema)}"]
    if kind == "pattern":
        return [f"{at}: {instance!r} does not have the expected form{_fix(schema) or '; ' + error.message}"]
    return [f"{at}: {error.message}{_fix(schema)}"]


def _key_message(error: ValidationError, data: Any, root: dict) -> str:
    """A key that does not belong: in a step of one kind (``x-kind``), or among a mapping's allowed names."""
    key = str(error.instance)
    path = [*error.absolute_path, key]
    if error.validator != "enum":
        return f"{field_path(data, path)}: not an allowed name{_fix(error.schema)}"
    allowed = [str(k) for k in error.validator_value]
    branch = list(error.schema_path)[: list(error.schema_path).index("propertyNames")]
    step_kind = _schema_at(root, branch).get("x-kind")
    article = "an" if str(step_kind)[:1] in "aeiou" else "a"
    where = f" in {article} {step_kind} step" if step_kind else " here"
    return (f"{field_path(data, path)}: does not belong{where}{_did_you_mean(key, allowed)}; "
            f"allowed: {', '.join(allowed)}")


def _schema_at(root: dict, schema_path: list) -> dict:
    """The schema node at ``schema_path``, following local ``$ref``s on the way."""
    node: Any = root
    for part in schema_path:
        while isinstance(node, dict) and part not in node and "$ref" in node:
            node = _schema_at(root, node["$ref"].removeprefix("#/").split("/"))
        node = node[part]
    return node if isinstance(node, dict) else {}


def _did_you_mean(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
