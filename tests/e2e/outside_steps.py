"""Steps of a lab that the local API server cannot carry out, because they reach outside it.

- ``kind`` needs Docker and ``helm`` a chart repository: neither is reachable here. The recorded-CLI
  tests (tests/apply/test_stage0_kubernetes.py) show that apply.py runs exactly these commands; the
  e2e tests install the CRDs those charts would bring (handbook.local_cluster.install_crds) instead.
- A wait or a check on what such a chart would start (a Deployment in the release's namespace), a rollout
  wait on a workload that no step creates (the Kiali operator makes ``deployment/kiali``), and a
  check whose answer comes from an operator (an IstioCNI's Ready column, the Prometheus's AVAILABLE, the
  istio-cni DaemonSet the Sail operator makes), has nothing to wait for or read here.
"""

from __future__ import annotations

from collections.abc import Mapping

from handbook.lab import Lab
from handbook.plan import reader_steps
from handbook.replay import end_state, step_moves
from handbook.steps import CheckStep, RunStep, Step, WaitStep

OUTSIDE_TOOLS = {"kind": "kind needs Docker", "helm": "helm needs a chart repository"}
# Kinds whose printed status only an operator fills in.
OPERATOR_STATUS = frozenset({"istios", "istiocnis", "istiorevisions", "istiorevisiontags", "prometheus",
                             "prometheuses", "kialis", "csv", "clusterserviceversions"})
WORKLOAD_ALIASES = {"daemonset": "daemonset", "daemonsets": "daemonset", "ds": "daemonset",
                    "deployment": "deployment", "deployments": "deployment", "deploy": "deployment"}


def chart_namespaces(lab: Lab, platform: str) -> set[str]:
    """The namespaces that the lab's `helm upgrade --install` steps install into."""
    found: set[str] = set()
    for stage in lab.stages:
        for step in stage.steps_for(platform):
            argv = step.command().argv if step.command() else ()
            if argv[:1] == ("helm",) and "--namespace" in argv:
                found.add(argv[argv.index("--namespace") + 1])
    return found


def _get_target(argv: tuple[str, ...]) -> tuple[str, list[str], str]:
    """(resource type, names, namespace) of `oc get TYPE NAME... [-n NS]`."""
    words, namespace, skip = [], "", False
    for index, word in enumerate(argv[2:], start=2):
        if skip:
            skip = False
            continue
        if word in ("-n", "--namespace"):
            namespace, skip = argv[index + 1], True
        elif word in ("-o", "--output", "-l", "--selector"):
            skip = True
        elif not word.startswith("-"):
            words.append(word)
    return (words[0].split(".")[0].lower() if words else ""), words[1:], namespace


def outside_reasons(lab: Lab, platform: str = "kubernetes") -> dict[str, str]:
    """step ref -> why the local API server cannot carry it out."""
    values = lab.variables.resolve()
    charts = chart_namespaces(lab, platform)
    held = end_state(step_moves(reader_steps(list(lab.stages), platform)), values).present
    held_names = {(kind.lower(), namespace, name) for kind, namespace, name in held}
    reasons: dict[str, str] = {}
    for stage in lab.stages:
        for step in stage.steps_for(platform):
            reason = _reason(step, values, charts, held_names)
            if reason:
                reasons[step.ref] = reason
    return reasons


def _reason(step: Step, values: Mapping[str, str], charts: set[str], held: set[tuple[str, str, str]]) -> str | None:
    command = step.command()
    argv = command.resolved(values).argv if command else ()
    if isinstance(step, RunStep | CheckStep) and argv[:1] and argv[0] in OUTSIDE_TOOLS:
        return OUTSIDE_TOOLS[argv[0]]
    if isinstance(step, WaitStep) and step.namespace in charts:
        return f"waits on what a Helm chart starts in {step.namespace}"
    if isinstance(step, WaitStep) and step.rollout:  # e.g. the Deployment the Kiali operator makes from a Kiali
        kind, _, name = step.rollout.partition("/")
        workload = WORKLOAD_ALIASES.get(kind.lower())
        namespace = argv[argv.index("-n") + 1] if "-n" in argv else ""
        if workload and (workload, namespace, name) not in held:
            return f"waits on a {workload} that an operator makes"
    if isinstance(step, CheckStep) and argv[1:2] == ("get",):
        kind, names, namespace = _get_target(argv)
        if kind in OPERATOR_STATUS:
            return f"reads the status an operator gives {kind}"
        workload = WORKLOAD_ALIASES.get(kind)
        if workload and names and not all((workload, namespace, name) in held for name in names):
            return f"reads a {workload} that an operator makes"
    return None
