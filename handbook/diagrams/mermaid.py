"""Small helpers for writing Mermaid source safely."""

from __future__ import annotations

import re

from ..lab import Lab


def symbolic_values(lab: Lab) -> dict[str, str]:
    """Every variable mapped to its own reference, so documents keep ``${NAME}`` after parsing."""
    return {name: "${" + name + "}" for name in lab.variables.variables}


def node_id(kind: str, name: str) -> str:
    """A Mermaid-safe node id (letters, digits, underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{kind}_{name}")


def label(*lines: str) -> str:
    """A quoted node label; lines are joined with <br/> and quotes are escaped."""
    return '"' + "<br/>".join(line.replace('"', "#quot;") for line in lines) + '"'



# Every diagram is drawn at its own size (useMaxWidth: false), never shrunk by Mermaid to the text
# column. docs/assets/javascripts/diagrams.js then scales a diagram wider than the column down to
# fit, but not below 11 px labels; below that it scrolls sideways in its own box (diagrams.css).
# The layouts are chosen (top to bottom, one line per name, tight spacing) so that every diagram
# fits a laptop's column (about 690 px at 1280 px) with labels of 11 px or more; a phone scrolls.
# tests/browser/test_diagram_readability.py measures both.
LAYOUT = {"nodeSpacing": 20, "rankSpacing": 30, "padding": 8}


def flowchart(direction: str = "TB", **layout: int) -> list[str]:
    """The first lines of a flowchart: its configuration (``LAYOUT``, updated by ``layout``), then
    ``flowchart <direction>``. ``wrappingWidth`` (px) wraps labels longer than that at spaces and hyphens."""
    if direction not in ("TB", "LR"):
        raise ValueError(f"flowchart direction {direction!r}: use TB (top to bottom) or LR (left to right)")
    known = {*LAYOUT, "wrappingWidth"}
    if unknown := set(layout) - known:
        raise ValueError(f"flowchart: unknown layout option(s) {sorted(unknown)}; known: {sorted(known)}")
    options = {**LAYOUT, **layout}
    config = ["    useMaxWidth: false", *(f"    {name}: {value}" for name, value in options.items())]
    return ["---", "config:", "  flowchart:", *config, "---", f"flowchart {direction}"]
