"""Validating every manifest of the lab with kubeconform, rendered with two different sets of values."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import InvalidManifestError
from .lab import Lab
from .stages import Stage
from .variables import substitute

# A second reader, so that a manifest that only works for the defaults is caught.
SECOND_VALUE_SET: Mapping[str, str] = {"LAB_USER": "team-b7", "APPS_DOMAIN": "apps.ocp4.example.org"}


def value_sets(lab: Lab) -> dict[str, Mapping[str, str]]:
    return {
        "defaults": lab.variables.resolve(),
        "second user": lab.variables.resolve(SECOND_VALUE_SET),
    }


def rendered_documents(lab: Lab, stages: list[Stage], sets: Mapping[str, Mapping[str, str]]) -> list:
    """RenderedDocuments for every document of ``stages`` under every value set."""
    from .validation import RenderedDocument

    rendered = []
    for label, values in sets.items():
        for document in lab.documents(stages):
            rendered.append(
                RenderedDocument(
                    source=document.source,
                    index=document.index,
                    text=substitute(document.text, values),
                    label=label,
                )
            )
    return rendered


def validate_manifests(lab: Lab, stages: list[Stage] | None = None, *, engine: str = "auto",
                       sets: Mapping[str, Mapping[str, str]] | None = None):  # noqa: ANN201
    """What kubeconform (or the Python fallback) finds: a ValidationReport with problems and notices.

    Raises InvalidManifestError when the schemas or kubeconform are not set up (run `make setup`).
    """
    from .schemas import SchemaSetupError
    from .validation import validate_report

    chosen = list(lab.stages) if stages is None else stages
    try:
        return validate_report(rendered_documents(lab, chosen, sets or value_sets(lab)), engine=engine)
    except SchemaSetupError as exc:
        raise InvalidManifestError([f"cannot validate the manifests: {exc}"]) from exc


def notice_lines(report) -> list[str]:  # noqa: ANN001 - a ValidationReport
    """One line per document that could not be validated (the value sets collapse into one line)."""
    seen: dict[tuple[str, int], str] = {}
    for notice in report.notices:
        seen.setdefault(
            (notice.source, notice.index),
            f"not validated: {notice.source}, document {notice.index + 1} ({notice.kind} {notice.name}): "
            f"{notice.reason}",
        )
    return list(seen.values())
