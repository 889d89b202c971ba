"""The Python fallback engine: the ``jsonschema`` package over the same schema files, in the same order.

Used when kubeconform is missing (``engine="auto"`` warns loudly then) or when asked for
(``engine="python"``). It reads the same ParsedDocuments, looks schemas up as kubeconform
does, rejects duplicate keys as kubeconform's strict mode does, and words its findings
through the same ``wording`` module, so both engines give the same messages.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..crd_schema import DRAFT4
from .defaults import defaulted
from .documents import ParsedDocument
from .model import Finding, NotValidated, ValidationProblem, ValidationReport, merge_type_findings
from .schema_set import SchemaSet
from .wording import LIMITS, NUMERIC_LIMITS, TYPE_NAMES, json_type, notice, number, word


class _Validators:
    """jsonschema validators over the schema files, with $refs resolved from disk."""

    def __init__(self, schema_set: SchemaSet) -> None:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self._schema_set = schema_set
        self._validators: dict[Path, Any] = {}

        def retrieve(uri: str) -> Resource[Any]:
            path = Path(urllib.parse.unquote(urllib.parse.urlparse(uri).path))
            return Resource.from_contents(schema_set.load(path), default_specification=DRAFT4)

        self._registry: Registry[Any] = Registry(retrieve=retrieve)  # type: ignore[call-arg]

    def for_file(self, path: Path) -> Any:
        import jsonschema

        path = path.resolve()
        if path not in self._validators:
            schema = dict(self._schema_set.load(path))
            dialect = schema.get("$schema", DRAFT4)
            schema["id" if "draft-04" in dialect else "$id"] = path.as_uri()
            schema.setdefault("$schema", DRAFT4)
            cls = jsonschema.validators.validator_for(schema)
            checker = cls.FORMAT_CHECKER if "draft-04" in dialect else None
            self._validators[path] = cls(schema, registry=self._registry, format_checker=checker)
        return self._validators[path]


def findings_from_jsonschema(error: Any) -> list[Finding]:
    tokens: list[str | int] = list(error.absolute_path)
    keyword = error.validator
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        declared = error.schema.get("properties") or {}
        patterns = list((error.schema.get("patternProperties") or {}).keys())
        extra = [key for key in error.instance
                 if key not in declared and not any(re.search(p, str(key)) for p in patterns)]
        return [Finding("unknown-field", tokens, names=[str(k) for k in extra])]
    if keyword == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        return [Finding("missing-field", tokens, names=missing)]
    if keyword == "type":
        want = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return [Finding("wrong-type", tokens, got=json_type(error.instance), want=list(want))]
    if keyword in ("enum", "const"):
        allowed = error.validator_value if keyword == "enum" else [error.validator_value]
        return [Finding("bad-value", tokens, allowed=list(allowed))]
    if keyword in LIMITS:
        measured = error.instance if keyword in NUMERIC_LIMITS else len(error.instance)
        return [Finding("limit", tokens, names=[keyword], got=number(measured),
                         want=[number(error.validator_value)])]
    if keyword == "pattern":
        return [Finding("limit", tokens, names=["pattern"], want=[str(error.validator_value)])]
    if keyword == "not":
        return [Finding("rule", tokens, names=["not"])]
    if keyword in ("anyOf", "oneOf") and error.context:
        if all(sub.validator == "type" for sub in error.context):
            wants: list[str] = []
            for sub in error.context:
                value = sub.validator_value
                wants += [v for v in (value if isinstance(value, list) else [value]) if v not in wants]
            return [Finding("wrong-type", tokens, got=json_type(error.instance), want=wants)]
        import jsonschema

        best = jsonschema.exceptions.best_match(error.context)
        if best is not None:
            return findings_from_jsonschema(best)
    return [Finding("other", tokens, detail=error.message)]


def _check(parsed: ParsedDocument, schema_set: SchemaSet, validators: _Validators) -> list[ValidationProblem]:
    data = parsed.data
    if parsed.duplicates:
        key, line = parsed.duplicates[0]
        return word(Finding("duplicate-key", detail=f"`{key}` appears twice (line {line})"), parsed, schema_set)
    if parsed.error:
        return word(Finding("yaml", detail=parsed.error), parsed, schema_set)
    if not isinstance(data, dict):
        return word(Finding("not-object", detail=TYPE_NAMES[json_type(data)]), parsed, schema_set)
    # kubeconform checks kind before apiVersion; name the same one first.
    missing = [key for key in ("kind", "apiVersion") if not isinstance(data.get(key), str) or not data[key]]
    if missing:
        finding = Finding("no-type", names=[missing[0]], detail=f"`{missing[0]}` is missing")
        return word(finding, parsed, schema_set)
    schema_file = schema_set.file_for(parsed.api_version_kind)
    if schema_file is None:
        return word(Finding("no-schema"), parsed, schema_set)
    data = defaulted(data, schema_file, schema_set)
    findings: list[Finding] = []
    for error in validators.for_file(schema_file).iter_errors(data):
        findings += findings_from_jsonschema(error)
    return [problem for finding in merge_type_findings(findings) for problem in word(finding, parsed, schema_set, data)]


def run(documents: Sequence[ParsedDocument], schema_set: SchemaSet) -> ValidationReport:
    """Validate documents that each hold at most one YAML document (see engine.single_documents)."""
    validators = _Validators(schema_set)
    problems: list[ValidationProblem] = []
    notices: list[NotValidated] = []
    for parsed in documents:
        if parsed.count == 0:
            continue
        # Checked where kubeconform checks -skip: after parsing and reading kind and apiVersion.
        reason = None if parsed.duplicates or parsed.error else schema_set.unvalidated.get(
            parsed.api_version_kind or ("", ""))
        if reason is not None:
            notices.append(notice(parsed, reason))
            continue
        problems += _check(parsed, schema_set, validators)
    return ValidationReport(problems, notices).sorted()
