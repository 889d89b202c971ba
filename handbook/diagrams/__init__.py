"""Mermaid diagrams generated from the manifests, so they cannot drift from what is applied.

Each entry takes the lab and the page's stage and returns Mermaid source (no fences). The
objects are what the cluster holds at the end of the page's stage (``Lab.objects``, the replay
of every step up to it), parsed with every variable standing for itself (``${APP_NS}`` stays
``${APP_NS}``), so a diagram reads the same for every reader.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import UsageError
from ..lab import Lab
from ..plan import reader_steps
from ..replay import Snapshot, replay, step_moves
from ..stages import Stage
from . import architecture, authorization, ingress_path, mesh_membership, traffic_split
from .mermaid import symbolic_values

# (lab, the page's stage, the objects the cluster holds at that point of the page) -> Mermaid
DiagramFn = Callable[[Lab, Stage, list[dict]], str]


# One replay of the whole lab per Lab object: a page's diagrams pick their snapshots from it.
_REPLAYS: dict[int, tuple[Lab, list[Snapshot]]] = {}


def _reader_snapshots(lab: Lab) -> list[Snapshot]:
    held = _REPLAYS.get(id(lab))
    if held is None or held[0] is not lab:
        held = (lab, replay(step_moves(reader_steps(list(lab.stages))), symbolic_values(lab)))
        if len(_REPLAYS) >= 8:  # tests load many labs; a build needs one
            _REPLAYS.clear()
        _REPLAYS[id(lab)] = held
    return held[1]


def objects_at(lab: Lab, stage: Stage, after: str | None = None) -> list[dict]:
    """What the cluster holds after the step ``after`` of ``stage`` (None: after the whole stage), when a
    reader has followed every step up to there; variables kept as ``${NAME}``."""
    upto = {s.id for s in lab.stages_upto(stage.id)}
    snapshots = [s for s in _reader_snapshots(lab) if s.ref.partition("/")[0] in upto]
    if after is None:
        return snapshots[-1].objects() if snapshots else []
    ref = f"{stage.id}/{after}"
    for snapshot in snapshots:
        if snapshot.ref == ref:
            return snapshot.objects()
    known = ", ".join(s.id for s in stage.steps)
    raise UsageError(f"diagram after={after!r}: {stage.id} has no such step; its steps are: {known}")


def _from_objects(render: Callable[[list[dict]], str]) -> DiagramFn:
    """For generators that read only the objects: ``render(objects) -> str``."""
    return lambda lab, stage, objects: render(objects)


def _authorization(lab: Lab, stage: Stage, objects: list[dict]) -> str:
    # What the policies allow after a catch-up run of the stage: its own replay (handbook.authz).
    return authorization.render(lab, stage)


DIAGRAMS: dict[str, DiagramFn] = {
    "authorization": _authorization,
    "architecture": lambda lab, stage, objects: architecture.render(objects, lab.call_graph),
    "mesh_membership": _from_objects(mesh_membership.render),
    "ingress_path": _from_objects(ingress_path.render),
    "traffic_split": _from_objects(traffic_split.render),
}


def render_diagram(name: str, lab: Lab, stage: Stage, after: str | None = None) -> str:
    """Diagram ``name`` of the cluster after step ``after`` of ``stage`` (None: at the end of the stage)."""
    if name not in DIAGRAMS:
        raise KeyError(f"unknown diagram {name!r}; known diagrams: {', '.join(DIAGRAMS)}")
    if name == "authorization" and after is not None:
        raise UsageError("diagram(\"authorization\") shows the end of a catch-up run; it takes no after=")
    return DIAGRAMS[name](lab, stage, objects_at(lab, stage, after))
