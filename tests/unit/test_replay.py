"""handbook.replay: the one model of what the cluster holds after each step."""

from __future__ import annotations

import json

import pytest
import yaml

from handbook.diagrams.mermaid import symbolic_values
from handbook.errors import VariableError
from handbook.lab import Lab
from handbook.plan import executable_steps, reset_commands
from handbook.platforms import DEFAULT_PLATFORM
from handbook.replay import Move, Snapshot, end_state, replay, step_moves
from handbook.steps import Command


def _deployment(name: str, namespace: str | None = None, **labels: str) -> dict:
    meta: dict = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": name, **labels}},
                                                 "spec": {"containers": [{"name": "c", "image": "x"}]}}}}


def apply(ref: str, *docs: dict, namespace: str | None = "ns", demo: bool = False) -> Move:
    argv = ["oc", "apply", *(["-n", namespace] if namespace else []), "-f", "-"]
    return Move(ref, Command(tuple(argv), stdin=yaml.safe_dump_all(docs)), demo)


def run(ref: str, *argv: str, stdin: str | None = None, demo: bool = False) -> Move:
    return Move(ref, Command(tuple(argv), stdin=stdin), demo)


def last(moves: list[Move]) -> Snapshot:
    return end_state(moves, {})


def test_apply_records_the_namespace_of_the_step_and_a_new_version_goes_last() -> None:
    snapshots = replay([apply("s/a", _deployment("a")), apply("s/b", _deployment("b", "other")),
                        apply("s/a-again", _deployment("a", tier="web"))], {})
    assert [list(s.present) for s in snapshots] == [
        [("Deployment", "ns", "a")],
        [("Deployment", "ns", "a"), ("Deployment", "other", "b")],
        [("Deployment", "other", "b"), ("Deployment", "ns", "a")],
    ]
    end = snapshots[-1]
    assert end.present[("Deployment", "ns", "a")].doc["spec"]["template"]["metadata"]["labels"]["tier"] == "web"
    assert end.present[("Deployment", "ns", "a")].made_by == "s/a-again"
    assert end.objects()[0]["metadata"] == {"name": "b", "namespace": "other"}
    assert end.problems == ()


def test_values_are_substituted_into_commands_and_manifests() -> None:
    move = Move("s/a", Command(("oc", "apply", "-n", "${NS}", "-f", "-"),
                               stdin="kind: ConfigMap\nmetadata:\n  name: ${NAME}\n"))
    with pytest.raises(VariableError, match=r"\$\{NS\} has no value"):  # nothing is guessed
        end_state([move], {"NAME": "x"})
    assert list(end_state([move], {"NS": "n1", "NAME": "x"}).present) == [("ConfigMap", "n1", "x")]


def test_patch_merges_into_the_present_object() -> None:
    patch = "spec:\n  template:\n    metadata:\n      labels:\n        istio.io/rev: mesh\n"
    strategic = run("s/inject", "oc", "patch", "deployment/a", "-n", "ns", "--type=strategic",
                    "--patch-file=/dev/stdin", stdin=patch)
    merge = run("s/uid", "kubectl", "patch", "deployment", "a", "-n", "ns", "--type=merge", "-p",
                json.dumps({"spec": {"replicas": 3, "template": {"spec": {"securityContext": {"runAsUser": 10001}}}}}))
    end = last([apply("s/a", _deployment("a")), strategic, merge])
    doc = end.present[("Deployment", "ns", "a")].doc
    assert doc["spec"]["template"]["metadata"]["labels"] == {"app": "a", "istio.io/rev": "mesh"}
    assert doc["spec"]["replicas"] == 3
    assert doc["spec"]["template"]["spec"]["securityContext"] == {"runAsUser": 10001}
    assert doc["spec"]["template"]["spec"]["containers"] == [{"name": "c", "image": "x"}]
    assert end.problems == ()


def test_a_change_to_an_object_that_is_not_there_is_a_problem() -> None:
    end = last([run("s/patch", "oc", "patch", "deployment/ghost", "-n", "ns", "--type=merge", "-p", "{}"),
                run("s/sa", "oc", "set", "serviceaccount", "deployment", "ghost", "x", "-n", "ns")])
    assert end.problems == (
        "s/patch: patches Deployment ghost, which no earlier step creates (or a step deleted it)",
        "s/sa: sets the service account of Deployment ghost, which no earlier step creates (or a step deleted it)",
    )


def test_what_the_model_cannot_follow_is_a_problem_not_a_guess() -> None:
    containers = "spec:\n  template:\n    spec:\n      containers: [{name: c, image: y}]\n"
    end = last([apply("s/a", _deployment("a")),
                run("s/list", "oc", "patch", "deployment/a", "-n", "ns", "--patch-file=/dev/stdin", stdin=containers),
                run("s/json", "oc", "patch", "deployment/a", "-n", "ns", "--type=json", "-p", "[]"),
                run("s/odd", "oc", "annotate", "deployment/a", "x=y", "-n", "ns")])
    assert [p.split(":")[0] for p in end.problems] == ["s/list", "s/json", "s/odd"]
    assert "merged by keys" in end.problems[0]
    assert end.present[("Deployment", "ns", "a")].doc == _deployment("a", "ns")


def test_set_serviceaccount_and_scale_in_both_forms() -> None:
    end = last([apply("s/ab", _deployment("a"), _deployment("b")),
                run("s/sa-a", "oc", "set", "serviceaccount", "deployment", "a", "a-sa", "-n", "ns"),
                run("s/sa-b", "oc", "set", "sa", "deployment/b", "b-sa", "-n", "ns"),
                run("s/scale", "oc", "scale", "deployment/a", "--replicas=0", "-n", "ns")])
    docs = {key[2]: held.doc for key, held in end.present.items()}
    assert docs["a"]["spec"]["template"]["spec"]["serviceAccountName"] == "a-sa"
    assert docs["b"]["spec"]["template"]["spec"]["serviceAccountName"] == "b-sa"
    assert (docs["a"]["spec"]["replicas"], docs["b"]["spec"]["replicas"]) == (0, 1)


def test_delete_in_every_form_and_a_namespace_takes_its_objects_along() -> None:
    manifest = yaml.safe_dump_all([_deployment("c")])
    snapshots = replay([
        run("s/ns", "oc", "create", "namespace", "ns"),
        apply("s/abcd", _deployment("a"), _deployment("b"), _deployment("c"), _deployment("d")),
        apply("s/other", _deployment("e", "other")),
        run("s/del-a", "oc", "delete", "deployment", "a", "-n", "ns"),
        run("s/del-b", "oc", "delete", "deployment/b", "-n", "ns"),
        run("s/del-c", "oc", "delete", "-n", "ns", "--ignore-not-found", "-f", "-", stdin=manifest),
        run("s/del-x", "oc", "delete", "deployment/x", "-n", "ns"),
        run("s/del-ns", "oc", "delete", "project", "ns"),
    ], {})
    keys = [sorted(k[2] for k in s.present) for s in snapshots]
    assert keys[1] == ["a", "b", "c", "d", "ns"]
    assert keys[3:6] == [["b", "c", "d", "e", "ns"], ["c", "d", "e", "ns"], ["d", "e", "ns"]]
    assert snapshots[6].problems == ("s/del-x: deletes Deployment x, which is not present",)
    assert keys[7] == ["e"]
    assert snapshots[7].deleted == {("Deployment", "ns", n) for n in "abcd"} | {("Namespace", "", "ns")}


def test_reading_commands_and_other_programs_change_nothing() -> None:
    moves = [apply("s/a", _deployment("a")),
             run("s/get", "oc", "get", "pods", "-n", "ns"),
             run("s/wait", "oc", "rollout", "status", "deployment/a", "-n", "ns", "--timeout=60s"),
             run("s/exec", "oc", "exec", "-n", "ns", "deploy/a", "--", "rm", "-rf", "/"),
             run("s/env", "oc", "set", "env", "deployment/a", "-n", "ns", "--list"),
             run("s/curl", "curl", "-s", "http://example.test/delete")]
    snapshots = replay(moves, {})
    assert all(s.present == snapshots[0].present and s.problems == () for s in snapshots)


def test_objects_only_a_demonstration_made() -> None:
    snapshots = replay([apply("s/a", _deployment("a")),
                        apply("s/stuck", _deployment("stuck"), demo=True),
                        run("s/drill", "oc", "scale", "deployment/a", "--replicas=0", "-n", "ns", demo=True),
                        apply("s/a-demo", _deployment("a"), demo=True),
                        apply("s/a-restored", _deployment("a"))], {})
    assert snapshots[1].demo_only() == {("Deployment", "ns", "stuck")}
    assert snapshots[2].demo_only() == {("Deployment", "ns", "stuck")}, "a demo's change is not a demo's object"
    assert snapshots[3].demo_only() == {("Deployment", "ns", "stuck"), ("Deployment", "ns", "a")}
    assert snapshots[4].demo_only() == {("Deployment", "ns", "stuck")}


def test_the_catch_up_run_skips_demonstrations_and_checks() -> None:
    lab = Lab.load()
    stage = lab.stage("stage-6")
    planned = executable_steps([stage], DEFAULT_PLATFORM)
    snapshots = replay(step_moves(planned), symbolic_values(lab))
    assert [s.ref for s in snapshots] == [p.step.ref for p in planned]
    assert all(not p.step.demo for p in planned)
    assert not snapshots[-1].demo_only()


def test_the_reset_plan_undoes_the_catch_up_run_of_the_lab() -> None:
    """Replaying reset after a catch-up run to stage 8 leaves stage 0's objects and the namespaces, labels undone."""
    lab = Lab.load()
    values = symbolic_values(lab)
    upto = lab.stages_upto("stage-8")
    caught_up = end_state(step_moves(executable_steps(upto, DEFAULT_PLATFORM)), values)
    assert caught_up.problems == ()
    labels = caught_up.present[("Namespace", "", "${APP_NS}")].doc["metadata"].get("labels", {})
    assert "tenant" in labels
    undo = [Move(ref, command) for ref, command in reset_commands(upto[1:], DEFAULT_PLATFORM)]
    after = replay(undo, values, start=caught_up)[-1]
    assert after.problems == ()
    left = {key for key, held in after.present.items() if not held.made_by.startswith("stage-0/")}
    assert {key[0] for key in left} == {"Namespace"}, sorted(left)
    assert "tenant" not in after.present[("Namespace", "", "${APP_NS}")].doc["metadata"].get("labels", {})
    accounts = [k for k in caught_up.present if k[0] == "ServiceAccount" and k[1] == "${APP_NS}"]
    assert accounts and all(k in after.deleted for k in accounts)


def test_a_diagram_can_show_the_cluster_right_after_a_step_of_its_stage() -> None:
    from handbook.diagrams import objects_at, render_diagram
    from handbook.errors import UsageError

    lab = Lab.load()
    stage = lab.stage("stage-2")
    peer = ("Istio", "", "${LAB_USER}-peer")
    names = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
             for o in objects_at(lab, stage, after="create-neighbour-mesh")}
    assert peer in names
    assert peer not in {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
                        for o in objects_at(lab, stage)}, "the demonstration removes the neighbour again"
    with pytest.raises(UsageError, match="stage-2 has no such step; its steps are: label-namespaces"):
        objects_at(lab, stage, after="no-such-step")
    with pytest.raises(UsageError, match="takes no after="):
        render_diagram("authorization", lab, lab.stage("stage-8"), after="allow-ingress")
