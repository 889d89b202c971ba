"""Reading kubeconform's ``-output json -verbose -summary`` report into findings, one result at a time.

Like kubeconform's own formatters (pkg/output), this is pure and tested against real
output recorded from the pinned kubeconform (tests/fixtures/kubeconform/).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .model import SETUP_HINT, Finding, ValidationSetupError, merge_type_findings
from .wording import TYPE_NAMES

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


def _finding_from_kubeconform(pointer: str, text: str) -> Finding:
    tokens = _tokens(pointer)
    quoted = [_go_unquote(q) for q in _QUOTED.findall(text)]
    if text.startswith("additional propert"):
        return Finding("unknown-field", tokens, names=quoted)
    if text.startswith("missing propert"):
        return Finding("missing-field", tokens, names=quoted)
    typed = re.fullmatch(r"got (\w+), want (.+)", text)
    if typed:
        return Finding("wrong-type", tokens, got=typed.group(1), want=typed.group(2).split(" or "))
    if text.startswith("value must be"):
        return Finding("bad-value", tokens, allowed=quoted)
    limit = re.fullmatch(r"(minimum|maximum|exclusiveMinimum|exclusiveMaximum|minLength|maxLength|minItems|maxItems)"
                         r": got (\S+), want (\S+)", text)
    if limit:
        return Finding("limit", tokens, names=[limit.group(1)], got=limit.group(2), want=[limit.group(3)])
    if " does not match pattern " in text and len(quoted) >= 2:
        return Finding("limit", tokens, names=["pattern"], want=[quoted[-1]])
    combined = re.fullmatch(r"(not|anyOf|oneOf|allOf) failed", text)
    if combined:
        return Finding("rule", tokens, names=[combined.group(1)])
    return Finding("other", tokens, detail=text)


def findings_from_result(result: dict[str, Any]) -> list[Finding]:
    status = result.get("status")
    message = str(result.get("msg") or "")
    if status == "statusInvalid":
        leaves = _kubeconform_leaves(message)
        if not leaves:
            return [Finding("other", [], detail=message)]
        return merge_type_findings([_finding_from_kubeconform(p, t) for p, t in leaves])
    if message.startswith("could not find schema for"):
        return [Finding("no-schema")]
    if "already set in map" in message:
        duplicate = re.search(r'line (\d+): key "?([^"]*)"? already set', message)
        detail = f"`{duplicate.group(2)}` appears twice (line {duplicate.group(1)})" if duplicate else message
        return [Finding("duplicate-key", detail=detail)]
    missing = re.search(r"missing '(apiVersion|kind)' key", message)
    if missing:
        return [Finding("no-type", names=[missing.group(1)], detail=f"`{missing.group(1)}` is missing")]
    not_object = re.search(r"cannot unmarshal (\w+) into Go value of type map", message)
    if not_object:
        found = not_object.group(1)
        return [Finding("not-object", detail=TYPE_NAMES.get(found, f"a {found}"))]
    if message.startswith("error unmarshalling resource"):
        return [Finding("yaml", detail=message.split(": ", 1)[-1].replace("\n", " "))]
    return [Finding("other", detail=message.replace("\n", " "))]


@dataclass(frozen=True)
class KubeconformOutput:
    """kubeconform's report: one result per resource (``filename``, ``kind``, ``status``, ``msg``) and its count."""

    results: list[dict[str, Any]]
    counted: int  # the sum of the summary's counters


def read_output(stdout: str, returncode: int, stderr: str = "") -> KubeconformOutput:
    """The report kubeconform printed, or ValidationSetupError when it did not print one.

    Exit 0 means every resource is valid, 1 that at least one is not (or had an error);
    anything else, or a report without resources, means kubeconform itself failed.
    """
    try:
        report = json.loads(stdout)
        results = report["resources"]
        summary = report.get("summary") or {}
        counted = sum(int(value) for value in summary.values())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValidationSetupError(
            f"kubeconform exited with {returncode} without its JSON report "
            f"(stderr: {stderr.strip()[:500] or 'empty'}); {SETUP_HINT}") from exc
    if not isinstance(results, list) or returncode not in (0, 1) or (returncode == 1 and not results):
        raise ValidationSetupError(f"kubeconform failed (exit {returncode}): {stderr.strip()[:500]}; {SETUP_HINT}")
    return KubeconformOutput([r for r in results if isinstance(r, dict)], counted)
