"""Mermaid diagrams generated from the manifests, so they cannot drift from what is applied.

Each entry takes the lab and the page's stage and returns Mermaid source (no fences).
Documents are parsed with every variable standing for itself (``${APP_NS}`` stays
``${APP_NS}``), so a diagram reads the same for every reader.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from ..lab import Lab
from ..stages import Stage
from .mermaid import symbolic_values

DiagramFn = Callable[[Lab, Stage], str]


def _architecture(lab: Lab, stage: Stage) -> str:
    from .architecture import render

    # The workloads the stage leaves running: a demonstration's stand-in replica is not one.
    return render(lab.objects(lab.stages_upto(stage.id), symbolic_values(lab), demos=False), lab.call_graph)


def _from_documents(module: str) -> DiagramFn:
    """Adapter for generators that take only the parsed documents: ``render(docs) -> str``."""

    def diagram(lab: Lab, stage: Stage) -> str:
        render = import_module(f"{__name__}.{module}").render
        return render(lab.objects(lab.stages_upto(stage.id), symbolic_values(lab)))

    return diagram


def _authorization(lab: Lab, stage: Stage) -> str:
    from ..authz import diagram

    return diagram(lab, stage)


DIAGRAMS: dict[str, DiagramFn] = {
    "authorization": _authorization,
    "architecture": _architecture,
    "mesh_membership": _from_documents("mesh_membership"),
    "ingress_path": _from_documents("ingress_path"),
    "traffic_split": _from_documents("traffic_split"),
}


def render_diagram(name: str, lab: Lab, stage: Stage) -> str:
    if name not in DIAGRAMS:
        raise KeyError(f"unknown diagram {name!r}; known diagrams: {', '.join(DIAGRAMS)}")
    return DIAGRAMS[name](lab, stage)
