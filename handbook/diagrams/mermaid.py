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
