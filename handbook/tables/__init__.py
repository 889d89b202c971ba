"""Markdown tables generated from the manifests (for example what each circuit-breaker field does).

Each entry takes the documents of every stage up to the page's stage (variables kept as
``${NAME}``) and returns a Markdown table. Generators live in this package, one module each,
with ``render(docs: list[dict]) -> str``; register them in TABLES.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from ..diagrams.mermaid import symbolic_values
from ..lab import Lab
from ..stages import Stage

TABLES: dict[str, str] = {
    # name used in pages -> module in this package
    "circuit_breaker": "circuit_breaker",
}

TableFn = Callable[[list[dict]], str]


def render_table(name: str, lab: Lab, stage: Stage) -> str:
    if name not in TABLES:
        raise KeyError(f"unknown table {name!r}; known tables: {', '.join(TABLES) or 'none'}")
    render: TableFn = import_module(f"{__name__}.{TABLES[name]}").render
    return render(lab.objects(lab.stages_upto(stage.id), symbolic_values(lab)))
