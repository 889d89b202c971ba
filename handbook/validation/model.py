"""What validation takes and gives: rendered documents in; problems, notices and errors out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..schemas import SchemaSetupError

SETUP_HINT = "run `make setup` (it installs kubeconform into .tools/bin and builds .cache/schemas)"


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
    """A document that was not validated because no schema source here has its kind."""

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
    """What a validator found: problems, and the documents it could not validate."""

    problems: list[ValidationProblem]
    notices: list[NotValidated]
    cached: bool = field(default=False, compare=False)  # served from handbook.validation.cache

    def sorted(self) -> ValidationReport:
        return ValidationReport(
            sorted(self.problems, key=lambda p: (p.source, p.index, p.label, p.path, p.message)),
            sorted(self.notices, key=lambda n: (n.source, n.index, n.label)),
        )


class ValidationError(Exception):
    """Raised by ``check()`` when at least one document is invalid."""

    def __init__(self, problems: list[ValidationProblem]):
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class ValidationSetupError(SchemaSetupError):
    """kubeconform or the schema tree is missing or broken; nothing was validated."""


class FallbackWarning(UserWarning):
    """engine="auto" found no kubeconform and used the Python fallback."""


@dataclass
class Finding:
    """One reason a document is invalid, before it is worded (handbook.validation.wording)."""

    # unknown-field, missing-field, wrong-type, bad-value, limit, rule, no-schema,
    # duplicate-key, yaml, not-object, no-type, other
    code: str
    tokens: list[str | int] = field(default_factory=list)  # instance location (the object, for field codes)
    names: list[str] = field(default_factory=list)  # unknown or missing field names
    got: str = ""  # JSON type found
    want: list[str] = field(default_factory=list)  # JSON types accepted
    allowed: list[Any] = field(default_factory=list)  # enum values
    detail: str = ""  # the engine's own words, for "other"
def merge_type_findings(findings: list[Finding]) -> list[Finding]:
    """kubeconform reports each failed branch of an anyOf/oneOf; one problem per path is enough.

    Wrong-type findings at one path merge their accepted types (int-or-string);
    rule findings at one path merge into the first.
    """
    merged: list[Finding] = []
    by_path: dict[tuple[Any, ...], Finding] = {}
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


