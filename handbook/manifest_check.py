"""Validating every manifest of the lab with kubeconform, rendered with two different sets of values."""

from __future__ import annotations

from collections.abc import Mapping

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
                       sets: Mapping[str, Mapping[str, str]] | None = None) -> list:
    """Every problem kubeconform (or the Python fallback) finds; an empty list means all valid."""
    from .validation import validate

    chosen = list(lab.stages) if stages is None else stages
    return validate(rendered_documents(lab, chosen, sets or value_sets(lab)), engine=engine)
