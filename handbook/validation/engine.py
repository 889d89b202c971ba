"""Validators: the seam the Lab's callers (apply.py, the site build, the tests) validate through.

A ``Validator`` takes RenderedDocuments and returns a ValidationReport. ``EngineValidator``
is the real one (kubeconform, or the Python fallback, over a SchemaSet); its ``cache_parts()``
lets ``validate_cached`` skip kubeconform when nothing changed. ``RecordingValidator`` is
a test double for tests whose subject is not validation: it checks nothing, says so, and
writes down what it was asked to validate. ``from_environment()`` picks one:

    HANDBOOK_VALIDATOR = auto (default) | kubeconform | python | record:<file>
    HANDBOOK_CRDS      = extra CRD files or folders (handbook.validation.extra_crds)
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache as cache_in_process
from pathlib import Path
from typing import Protocol, runtime_checkable

from . import cache, extra_crds, fallback, kubeconform
from .documents import ParsedDocument, parse_all
from .model import (
    SETUP_HINT,
    FallbackWarning,
    RenderedDocument,
    ValidationProblem,
    ValidationReport,
    ValidationSetupError,
)
from .schema_set import SchemaSet

ENGINES = ("auto", "kubeconform", "python")
ENVIRONMENT = "HANDBOOK_VALIDATOR"


@runtime_checkable
class Validator(Protocol):
    def validate_report(self, documents: Sequence[RenderedDocument]) -> ValidationReport: ...


class RecordingWarning(UserWarning):
    """HANDBOOK_VALIDATOR=record:<file>: nothing is validated."""


def single_documents(parsed: Sequence[ParsedDocument]) -> tuple[list[ParsedDocument], list[ValidationProblem]]:
    """The documents holding at most one YAML document, and a problem for each of the others."""
    single: list[ParsedDocument] = []
    problems: list[ValidationProblem] = []
    for document in parsed:
        if document.count <= 1:
            single.append(document)
            continue
        kind, name = document.kind_name
        source = document.document
        problems.append(ValidationProblem(
            source.source, source.index, kind, name, "",
            f"the text holds {document.count} YAML documents, not one",
            "split it at each `---` into separate RenderedDocuments (handbook.manifests.split_documents)",
            source.label))
    return single, problems


@dataclass
class EngineValidator:
    """kubeconform (``engine="kubeconform"``), the Python fallback (``"python"``), or the first that can run."""

    engine: str = "auto"
    schema_set: SchemaSet = field(default_factory=SchemaSet)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be 'auto', 'kubeconform' or 'python', not {self.engine!r}")

    def _chosen(self) -> tuple[str, str | None]:
        binary = kubeconform.kubeconform_path()
        if self.engine == "kubeconform" and binary is None:
            raise ValidationSetupError(f"kubeconform is not installed: {SETUP_HINT}")
        if self.engine == "python" or binary is None:
            return "python", None
        return "kubeconform", binary

    def cache_parts(self) -> tuple[str, str]:
        """(the schemas' stamp, which engine would decide): parts of the cache key. Raises when not set up.

        The engine part also names this code (``code_digest``): a change to how documents are read,
        defaulted or judged must not be answered by a verdict of the code before it.
        """
        self.schema_set.check_ready()
        _, binary = self._chosen()
        engine = kubeconform.identity(binary) if binary else "python"
        return self.schema_set.stamp, f"{engine}:{code_digest()}"

    def validate_report(self, documents: Sequence[RenderedDocument]) -> ValidationReport:
        self.schema_set.check_ready()
        engine, binary = self._chosen()
        if engine == "python" and self.engine == "auto":
            warnings.warn(
                "kubeconform was not found (.tools/bin/kubeconform or PATH): validating with the Python "
                "fallback (same schemas, jsonschema package) instead of the real kubeconform. "
                f"To use kubeconform, {SETUP_HINT}.", FallbackWarning, stacklevel=2)
        single, problems = single_documents(parse_all(documents))
        if binary is not None:
            report = kubeconform.run(binary, single, self.schema_set)
        else:
            report = fallback.run(single, self.schema_set)
        return ValidationReport(problems + report.problems, report.notices).sorted()


@dataclass
class RecordingValidator:
    """A test double: accepts every document and appends what it was given to ``log`` (JSON lines)."""

    log: Path

    def validate_report(self, documents: Sequence[RenderedDocument]) -> ValidationReport:
        warnings.warn(f"{ENVIRONMENT}=record:{self.log}: the manifests are NOT validated (a test double)",
                      RecordingWarning, stacklevel=2)
        entry = {"documents": [[d.source, d.index, d.label, d.text] for d in documents]}
        with self.log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return ValidationReport([], [])


def from_environment(environ: Mapping[str, str] = os.environ, crds: Sequence[Path] = ()) -> Validator:
    """The validator ``HANDBOOK_VALIDATOR`` names, with the CRDs of ``crds`` and ``HANDBOOK_CRDS``."""
    chosen = environ.get(ENVIRONMENT, "").strip() or "auto"
    if chosen.startswith("record:") and chosen != "record:":
        return RecordingValidator(Path(chosen.removeprefix("record:")))
    if chosen not in ENGINES:
        raise ValidationSetupError(f"{ENVIRONMENT}={chosen!r}: expected auto, kubeconform, python or record:<file>")
    entries = [*crds, *extra_crds.from_environment(environ)]
    return EngineValidator(chosen, extra_crds.schema_set(entries))


@cache_in_process
def code_digest() -> str:
    """A hash of the code that decides a verdict: this package, the registry and the CRD conversion."""
    package = Path(__file__).parent
    hasher = hashlib.sha256()
    for path in [*sorted(package.glob("*.py")), package.parent / "schemas.py", package.parent / "crd_schema.py"]:
        hasher.update(path.name.encode() + b"\0" + path.read_bytes())
    return hasher.hexdigest()[:16]


def validate_cached(validator: Validator, documents: Sequence[RenderedDocument],
                    value_sets: Mapping[str, Mapping[str, str]] | None = None) -> ValidationReport:
    """``validator.validate_report(documents)``, served from the content cache when nothing changed."""
    cache_parts = getattr(validator, "cache_parts", None)
    if cache_parts is None:
        return validator.validate_report(documents)
    key = cache.key(documents, value_sets, *cache_parts())
    return cache.cached(key, lambda: validator.validate_report(documents))
