"""Schema validation of rendered manifests: the real kubeconform, or a Python fallback.

Laid out like kubeconform itself, one job per module:

* ``model``       RenderedDocument in; ValidationProblem, NotValidated, ValidationReport out
* ``documents``   each document parsed once (libyaml), as kubeconform reads YAML
* ``schema_set``  which schema file applies (``handbook.schemas``' tree + extra CRD folders)
* ``extra_crds``  ``--crds DIR`` / ``HANDBOOK_CRDS``: CRD files converted at run time
* ``defaults``    CRD defaulting before validation, as the API server does
* ``kubeconform`` the runner (the engine whose verdicts are final)
* ``output``      kubeconform's JSON report read into findings
* ``fallback``    the same checks with the ``jsonschema`` package
* ``wording``     file, document, field path, reason and fix of each problem
* ``cache``       reports keyed by content, so an unchanged lab skips kubeconform
* ``engine``      the ``Validator`` seam and the choice of engine

Every problem names the file, the document, the field path, the reason and a fix. A
document of a kind without any schema here (``schemas.UNVALIDATED``, unless an extra CRD
folder covers it) is skipped and listed as a ``NotValidated`` notice, never passed silently.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import schemas
from .engine import (
    EngineValidator,
    RecordingValidator,
    Validator,
    from_environment,
    validate_cached,
)
from .kubeconform import command as kubeconform_command
from .kubeconform import kubeconform_path
from .model import (
    FallbackWarning,
    NotValidated,
    RenderedDocument,
    ValidationError,
    ValidationProblem,
    ValidationReport,
    ValidationSetupError,
)
from .schema_set import SchemaSet

__all__ = [
    "EngineValidator", "FallbackWarning", "NotValidated", "RecordingValidator", "RenderedDocument", "SchemaSet",
    "ValidationError", "ValidationProblem", "ValidationReport", "ValidationSetupError", "Validator", "check",
    "from_environment", "kubeconform_command", "kubeconform_path", "schemas_ready", "unvalidated_kinds",
    "validate", "validate_cached", "validate_report",
]


def schemas_ready() -> bool:
    """True when .cache/schemas exists and matches the pins."""
    return schemas.schemas_ready()


def unvalidated_kinds() -> dict[tuple[str, str], str]:
    """(apiVersion, kind) -> why documents of that kind are not validated (a copy of schemas.UNVALIDATED)."""
    return dict(schemas.UNVALIDATED)


def validate_report(documents: Sequence[RenderedDocument], *, engine: str = "auto",
                    schema_set: SchemaSet | None = None) -> ValidationReport:
    """Problems in ``documents``, and a NotValidated notice for each document that was skipped.

    Raises ValidationSetupError when the chosen engine cannot run (the message says to run ``make setup``).
    """
    return EngineValidator(engine, schema_set or SchemaSet()).validate_report(documents)


def validate(documents: Sequence[RenderedDocument], *, engine: str = "auto",
             schema_set: SchemaSet | None = None) -> list[ValidationProblem]:
    """Every problem in ``documents``; an empty list means no document has a problem."""
    return validate_report(documents, engine=engine, schema_set=schema_set).problems


def check(documents: Sequence[RenderedDocument], *, engine: str = "auto") -> None:
    """Like ``validate()`` but raises ValidationError when anything is invalid."""
    problems = validate(documents, engine=engine)
    if problems:
        raise ValidationError(problems)
