"""Istio's analyzers on the end state of every stage, with the lab's mesh config, for two users.

Pods are made from the Deployments as Istio's injector rewrites them (injection.kube_inject).

Errors fail the test. A warning fails it unless analyzer-accepted.yaml lists it (code and resource,
names written with ${APP_NS}-style variables) with the reason it is accepted; an accepted entry that
no stage produces any more fails too, so the list stays reviewed. Two mutations must produce findings.
"""

from __future__ import annotations

from functools import cache

import pytest
from analyze import Finding, accepted, analyze, analyzer_input
from injection import kube_inject, openshift_defaults
from istio_install import Install, generate, lab_istio
from mesh_snapshot import state_after
from meshtest_runner import built_binaries

from handbook.lab import load_lab
from handbook.manifest_check import value_sets

VALUE_SETS = ("defaults", "second user")


@cache
def install(value_set: str) -> Install:
    lab = load_lab()
    return generate(built_binaries() / "istioctl", lab_istio(lab, value_sets(lab)[value_set]))


def documents(value_set: str, stage_id: str) -> list[dict]:
    lab = load_lab()
    state = state_after(lab, value_sets(lab)[value_set], stage_id)
    deployments = list(state.deployments.values())
    injected = kube_inject(built_binaries() / "istioctl", install(value_set), deployments) if deployments else []
    return analyzer_input(state, install(value_set), [openshift_defaults(d) for d in injected])


@cache
def findings(value_set: str) -> dict[str, list[Finding]]:
    return {stage.id: analyze(built_binaries(), install(value_set), documents(value_set, stage.id))
            for stage in load_lab().stages}


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_no_errors_and_only_accepted_warnings(value_set: str) -> None:
    values = dict(value_sets(load_lab())[value_set])
    allowed = accepted()
    problems: list[str] = []
    for stage_id, found in findings(value_set).items():
        for finding in found:
            where = f"{stage_id} [{value_set}] {finding.code} {finding.level} {finding.resource}: {finding.message}"
            if finding.level == "Error":
                problems.append(where)
            elif finding.level == "Warning" and finding.key(values) not in allowed:
                problems.append(where + f" (not in {allowed and 'the accepted list' or 'analyzer-accepted.yaml'})")
    assert not problems, "\n".join(problems)


def test_every_accepted_warning_still_occurs() -> None:
    values = dict(value_sets(load_lab())["defaults"])
    seen = {f.key(values) for found in findings("defaults").values() for f in found}
    stale = sorted(set(accepted()) - seen)
    assert not stale, f"analyzer-accepted.yaml lists warnings that no stage produces any more: {stale}"


def _codes_after(value_set: str, stage_id: str, mutate) -> set[str]:  # noqa: ANN001
    docs = documents(value_set, stage_id)
    mutate(docs)
    return {f.code for f in analyze(built_binaries(), install(value_set), docs)}


def _one(docs: list[dict], kind: str) -> dict:
    found = [d for d in docs if d.get("kind") == kind]
    assert found, f"no {kind} in the stage's objects"
    return found[0]


def test_subset_matching_no_pod_is_found() -> None:
    def mutate(docs: list[dict]) -> None:
        _one(docs, "DestinationRule")["spec"].setdefault("subsets", []).append(
            {"name": "ghost", "labels": {"version": "no-such-version"}})
    before = {f.code for f in findings("defaults")["stage-5"]}
    after = _codes_after("defaults", "stage-5", mutate)
    assert after - before, f"a subset that selects no pod produced no new finding ({sorted(after)})"


def test_gateway_selecting_no_pod_is_found() -> None:
    def mutate(docs: list[dict]) -> None:
        _one(docs, "Gateway")["spec"]["selector"] = {"istio": "no-such-gateway"}
    before = {f.code for f in findings("defaults")["stage-4"]}
    after = _codes_after("defaults", "stage-4", mutate)
    assert after - before, f"a Gateway whose selector matches no pod produced no new finding ({sorted(after)})"
