"""`apply.py exercise` and `apply.py troubleshoot` against a real kube-apiserver (handbook.local_cluster):
the fixture lab's exercise runs after its stage and leaves exactly what the stage left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cluster_harness import (
    FIXTURE_LAB,
    PLATFORM_ARGS,
    exists,
    generations,
    kubectl_diff,
    lab_for_cluster,
    rendered_applies,
    run_apply,
    running_cluster,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    yield from running_cluster(tmp_path_factory.mktemp("local-cluster"), "local cluster (frame)")


@pytest.fixture(scope="module")
def fixture_lab(cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    lab, _ = lab_for_cluster(FIXTURE_LAB, tmp_path_factory.mktemp("labs") / "fixture", nodes=cluster.nodes)
    return lab


def test_exercise_runs_after_its_stage_and_restores_the_stage_end_state(cluster, fixture_lab: Path) -> None:  # noqa: ANN001
    user, namespace = "e2e-exercise", "e2e-exercise-demo"
    stage = run_apply(cluster, fixture_lab, "stage-1", "--user", user, *PLATFORM_ARGS)
    assert stage.returncode == 0, stage.stderr
    before = generations(cluster, namespace)

    exercise = run_apply(cluster, fixture_lab, "exercise", "stage-1", "--user", user, *PLATFORM_ARGS)
    assert exercise.returncode == 0, exercise.stderr
    for ref in ("stage-1/add-note", "stage-1/label-web-noted", "stage-1/unlabel-web", "stage-1/remove-note"):
        assert f"{ref} (" in exercise.stdout and "FAILED" not in exercise.stdout, ref

    assert not exists(cluster, "configmap", "web-note", "-n", namespace), "the solution removes its ConfigMap"
    labels = cluster.kubectl("get", "deployment/web", "-n", namespace, "-o", "jsonpath={.metadata.labels}").stdout
    assert json.loads(labels) == {"app": "web", "version": "v1"}, "the solution takes its label off again"
    assert generations(cluster, namespace) == before, "labels only: no spec changed"
    diffs = {item.ref: kubectl_diff(cluster, item) for item in rendered_applies(fixture_lab, ["stage-1"], user)}
    assert diffs and all(text == "" for text in diffs.values()), diffs


def test_troubleshoot_reads_and_reports(cluster, fixture_lab: Path) -> None:  # noqa: ANN001
    user = "e2e-trouble"
    assert run_apply(cluster, fixture_lab, "stage-1", "--user", user, *PLATFORM_ARGS).returncode == 0
    result = run_apply(cluster, fixture_lab, "troubleshoot", "stage-1", "--user", user, *PLATFORM_ARGS)
    assert result.returncode == 0, result.stderr
    assert "$ kubectl describe pods -l app=web -n e2e-trouble-demo" in result.stdout
    assert "stage-1/route-missing" not in result.stdout, "the OpenShift-only look is not run on Kubernetes"
    assert "stage-1: every look ran" in result.stdout
