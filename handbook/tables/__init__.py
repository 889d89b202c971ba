"""Markdown tables generated from the manifests (for example what each circuit-breaker field does).

Each generator is a module of this package with ``render(objects: list[dict]) -> str``; it reads
what the cluster holds at the end of the page's stage, variables kept as ``${NAME}``.
"""

from __future__ import annotations

from collections.abc import Callable

from ..diagrams import objects_at
from ..lab import Lab
from ..stages import Stage
from . import circuit_breaker

TABLES: dict[str, Callable[[list[dict]], str]] = {
    "circuit_breaker": circuit_breaker.render,
}


def render_table(name: str, lab: Lab, stage: Stage) -> str:
    if name not in TABLES:
        raise KeyError(f"unknown table {name!r}; known tables: {', '.join(TABLES) or 'none'}")
    return TABLES[name](objects_at(lab, stage))
