"""The authorization diagram: which application may call which, by the AuthorizationPolicies up to a stage.

The model (``handbook.authz``) reads the policies; this module only draws what it found.
"""

from __future__ import annotations

from .. import authz
from ..lab import Lab
from ..stages import Stage
from .mermaid import flowchart, label, symbolic_values


def render(lab: Lab, stage: Stage, namespace_variable: str = "APP_NS") -> str:
    """Mermaid source: the calls that the AuthorizationPolicies up to ``stage`` allow.

    Each arrow is one allowed call. The policy that allows it is written in the called workload's box
    (the model has one ALLOW policy per workload), not on every arrow: labels on seventeen arrows
    made the diagram too wide for the text column and overlapped (the protocols are on stage 1's
    architecture diagram). A call that ``manifests/call-graph.yaml`` does not declare (other than
    the way in through a gateway) is drawn red and dashed, so a wrong policy shows.
    """
    values = symbolic_values(lab)
    namespace = values[namespace_variable]
    state = authz.end_state(lab.stages_upto(stage.id), values, namespace)
    model = authz.access_model(state.objects, state.workloads, namespace)
    if model.problems or state.problems:
        raise ValueError("; ".join(state.problems + model.problems))
    declared = {(edge.source, edge.target) for edge in lab.call_graph}
    # Gateways' calls come from VirtualServices, not from the call graph; pods labelled istio=... are gateways.
    gateways = {w.app for w in state.workloads.values() if "istio" in w.labels}
    node = {app: "app_" + "".join(c if c.isalnum() else "_" for c in app) for call in model.calls for app in call}
    node[authz.OUTSIDE] = "outside"
    # The policy names make the boxes wide: wrap them at 120 px (at hyphens) so that seven boxes fit in a row.
    lines = [*flowchart("TB", wrappingWidth=120, nodeSpacing=8, padding=4), '  outside(("メッシュの外"))']
    for app in sorted(a for a in node if a != authz.OUTSIDE):
        policy = model.policy_of.get(app)
        lines.append(f"  {node[app]}[{label(app, policy) if policy else label(app)}]")
    unexpected: list[int] = []
    for index, (source, target) in enumerate(sorted(model.calls)):
        lines.append(f"  {node[source]} --> {node[target]}")
        if (source, target) not in declared and source != authz.OUTSIDE and source not in gateways:
            unexpected.append(index)
    for index in unexpected:
        lines.append(f"  linkStyle {index} stroke:#c62828,stroke-dasharray:5 5")
    return "\n".join(lines)
