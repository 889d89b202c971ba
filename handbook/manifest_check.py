"""Validating every manifest of the lab, rendered with two different sets of values, through a Validator."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import InvalidManifestError
from .lab import Lab
from .schemas import SchemaSetupError
from .stages import Stage
from .validation import RenderedDocument, ValidationReport, Validator, from_environment, validate_cached
from .variables import substitute

# A second reader, so that a manifest that only works for the defaults is caught.
SECOND_VALUE_SET: Mapping[str, str] = {"LAB_USER": "team-b7", "APPS_DOMAIN": "apps.ocp4.example.org"}


def value_sets(lab: Lab) -> dict[str, Mapping[str, str]]:
    return {
        "defaults": lab.variables.resolve(),
        "second user": lab.variables.resolve(SECOND_VALUE_SET),
    }


def rendered_documents(lab: Lab, stages: list[Stage], sets: Mapping[str, Mapping[str, str]]) -> list[RenderedDocument]:
    """RenderedDocuments for every document of ``stages`` under every value set."""
    documents = lab.documents(stages)
    return [RenderedDocument(source=d.source, index=d.index, text=substitute(d.text, values), label=label)
            for label, values in sets.items() for d in documents]


def validate_manifests(lab: Lab, stages: list[Stage] | None = None, *, validator: Validator | None = None,
                       sets: Mapping[str, Mapping[str, str]] | None = None) -> ValidationReport:
    """What the validator finds (problems and notices), served from the content cache when nothing changed.

    ``validator`` defaults to ``handbook.validation.from_environment()`` (kubeconform, with the
    extra CRDs of HANDBOOK_CRDS). Raises InvalidManifestError when it cannot run (run `make setup`).
    """
    chosen = list(lab.stages) if stages is None else stages
    chosen_sets = sets or value_sets(lab)
    try:
        validator = validator or from_environment()
        return validate_cached(validator, rendered_documents(lab, chosen, chosen_sets), chosen_sets)
    except SchemaSetupError as exc:
        raise InvalidManifestError([f"cannot validate the manifests: {exc}"]) from exc


def notice_lines(report: ValidationReport) -> list[str]:
    """One line per document that could not be validated (the value sets collapse into one line)."""
    seen: dict[tuple[str, int], str] = {}
    for notice in report.notices:
        seen.setdefault(
            (notice.source, notice.index),
            f"not validated: {notice.source}, document {notice.index + 1} ({notice.kind} {notice.name}): "
            f"{notice.reason}",
        )
    return list(seen.values())
