"""The authorization diagram: which application may call which, by the AuthorizationPolicies up to a stage.

The model (``handbook.authz``) reads the policies; this module only draws what it found.
"""

from __future__ import annotations

from .. import authz
from ..lab import Lab
from ..stages import Stage
from .mermaid import symbolic_values


def render(lab: Lab, stage: Stage, namespace_variable: str = "APP_NS") -> str:
    """Mermaid source: the calls that the AuthorizationPolicies up to ``stage`` allow.

    Each arrow is one allowed call, labelled with the policy that allows it; a call that
    ``manifests/call-graph.yaml`` does not declare (other than the way in through a gateway) is drawn
    red and dashed, so a wrong policy shows.
    """
    values = symbolic_values(lab)
    namespace = values[namespace_variable]
    state = authz.end_state(lab.stages_upto(stage.id), values, namespace)
    model = authz.access_model(state.objects, state.workloads, namespace)
    if model.problems or state.problems:
        raise ValueError("; ".join(state.problems + model.problems))
    declared = {(edge.source, edge.target): edge.protocol for edge in lab.call_graph}
    # Gateways' calls come from VirtualServices, not from the call graph; pods labelled istio=... are gateways.
    gateways = {w.app for w in state.workloads.values() if "istio" in w.labels}
    node = {app: "app_" + "".join(c if c.isalnum() else "_" for c in app) for call in model.calls for app in call}
    node[authz.OUTSIDE] = "outside"
    lines = ["flowchart LR", '  outside(("メッシュの外"))']
    for app in sorted(a for a in node if a != authz.OUTSIDE):
        lines.append(f'  {node[app]}["{app}"]')
    unexpected: list[int] = []
    for index, (source, target) in enumerate(sorted(model.calls)):
        policy = model.policy_of[target]
        protocol = declared.get((source, target))
        label = f"{policy}" + (f" ({protocol})" if protocol else "")
        lines.append(f'  {node[source]} -->|"{label}"| {node[target]}')
        if protocol is None and source != authz.OUTSIDE and source not in gateways:
            unexpected.append(index)
    for index in unexpected:
        lines.append(f"  linkStyle {index} stroke:#c62828,stroke-dasharray:5 5")
    return "\n".join(lines)
