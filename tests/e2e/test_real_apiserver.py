"""scripts/apply.py against a real kube-apiserver on 127.0.0.1 (handbook.local_cluster).

etcd, kube-apiserver (RBAC on, client-certificate and token users), kube-controller-manager,
kube-scheduler and kwok (one simulated node) are built from pinned Go modules; kubectl is the
pinned v1.33 one. Everything runs with `--platform kubernetes --cli kubectl`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cluster_harness import (
    FIXTURE_LAB,
    PLATFORM_ARGS,
    REAL_LAB,
    demo_commands,
    environment_note,
    exists,
    generations,
    kubectl_diff,
    lab_for_cluster,
    last_writes,
    rendered_applies,
    run_apply,
    running_cluster,
)

from handbook import local_cluster
from handbook.lab import Lab

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """One control plane for this module; stopped (process groups, no orphans) even when a test fails."""
    yield from running_cluster(tmp_path_factory.mktemp("local-cluster"), "local cluster")


@pytest.fixture(scope="module")
def fixture_lab(cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    lab, _ = lab_for_cluster(FIXTURE_LAB, tmp_path_factory.mktemp("labs") / "fixture", nodes=cluster.nodes)
    return lab


# --------------------------------------------------------------------------- the fixture lab


def test_stage_applies_on_a_fresh_server_and_a_second_run_changes_nothing(cluster, fixture_lab: Path) -> None:
    user, namespace = "e2e-idem", "e2e-idem-demo"
    first = run_apply(cluster, fixture_lab, "stage-2", "--user", user, *PLATFORM_ARGS)
    assert first.returncode == 0, first.stderr
    assert "stage-1/create-namespace (run): ok" in first.stdout
    assert exists(cluster, "namespace", namespace)
    labels = cluster.kubectl("get", "deployment/web", "-n", namespace, "-o",
                             "jsonpath={.spec.template.metadata.labels}").stdout
    assert json.loads(labels) == {"app": "web", "version": "v1", "tier": "front"}, "the stage-2 patch landed"
    if cluster.nodes:
        ready = cluster.kubectl("get", "deployment/web", "-n", namespace, "-o", "jsonpath={.status.readyReplicas}")
        assert ready.stdout == "1", "rollout status returned only once the simulated pod was Ready"

    before = generations(cluster, namespace)
    second = run_apply(cluster, fixture_lab, "stage-2", "--user", user, *PLATFORM_ARGS)
    assert second.returncode == 0, second.stderr
    assert "stage-1/create-namespace (run): skipped (already done)" in second.stdout
    assert generations(cluster, namespace) == before, "a second run must not change any spec"
    rendered = rendered_applies(fixture_lab, ["stage-1", "stage-2"], user)
    diffs = {item.ref: kubectl_diff(cluster, item) for item in rendered}
    assert diffs and all(text == "" for text in diffs.values()), diffs


def test_verify_reads_what_the_server_holds(cluster, fixture_lab: Path) -> None:
    user, namespace = "e2e-verify", "e2e-verify-demo"
    assert run_apply(cluster, fixture_lab, "stage-2", "--user", user, *PLATFORM_ARGS).returncode == 0
    ok = run_apply(cluster, fixture_lab, "verify", "stage-2", "--user", user, *PLATFORM_ARGS)
    assert ok.returncode == 0, ok.stderr
    assert "stage-2/web-labelled (check): pass" in ok.stdout
    cluster.kubectl("patch", "deployment/web", "-n", namespace, "--type=merge",
                    "-p", '{"spec":{"template":{"metadata":{"labels":{"tier":"back"}}}}}')
    bad = run_apply(cluster, fixture_lab, "verify", "stage-2", "--user", user, *PLATFORM_ARGS)
    assert bad.returncode == 9
    assert "stage-2/web-labelled: expected exactly 'front', got 'back'" in bad.stderr


def test_reset_removes_what_the_lab_created(cluster, fixture_lab: Path) -> None:
    if not cluster.nodes:
        pytest.skip("namespace deletion needs kube-controller-manager's namespace controller: "
                    + environment_note(cluster))
    user, namespace = "e2e-reset", "e2e-reset-demo"
    assert run_apply(cluster, fixture_lab, "stage-2", "--user", user, *PLATFORM_ARGS).returncode == 0
    assert exists(cluster, "deployment/web", "-n", namespace)
    done = run_apply(cluster, fixture_lab, "reset", "--yes", "--delete-namespaces", "--user", user, *PLATFORM_ARGS)
    assert done.returncode == 0, done.stderr
    assert "undo stage-1/create-namespace: ok" in done.stdout
    assert not exists(cluster, "namespace", namespace)


def test_reset_twice_succeeds(cluster, fixture_lab: Path) -> None:
    if not cluster.nodes:
        pytest.skip("namespace deletion needs kube-controller-manager's namespace controller")
    user = "e2e-reset2"
    assert run_apply(cluster, fixture_lab, "stage-1", "--user", user, *PLATFORM_ARGS).returncode == 0
    reset = ("reset", "--yes", "--delete-namespaces", "--user", user, *PLATFORM_ARGS)
    assert run_apply(cluster, fixture_lab, *reset).returncode == 0
    again = run_apply(cluster, fixture_lab, *reset)
    if again.returncode == 8 and 'namespaces "e2e-reset2-demo" not found' in again.stderr:
        pytest.xfail("known bug: a second reset exits 8: the undo `kubectl delete namespace ${APP_NS}` has no "
                     "--ignore-not-found (tests/fixtures/lab and manifests/stage-1-sockshop alike)")
    assert again.returncode == 0, again.stderr


# --------------------------------------------------------------------------- preflight and failures

POLICY_STAGE = """\
title: ポリシー
summary: CRD が要るステージ
minutes: 5
steps:
  - id: add-destination-rule
    apply: destination-rule.yaml
    namespace: "${APP_NS}"
"""
DESTINATION_RULE = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: web
spec:
  host: web
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
"""


def test_missing_crd_is_caught_by_preflight(cluster, fixture_lab: Path, tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    shutil.copytree(fixture_lab, lab)
    (lab / "stage-3-policy").mkdir()
    (lab / "stage-3-policy" / "stage.yaml").write_text(POLICY_STAGE, encoding="utf-8")
    (lab / "stage-3-policy" / "destination-rule.yaml").write_text(DESTINATION_RULE, encoding="utf-8")
    crd = "customresourcedefinition/destinationrules.networking.istio.io"
    cluster.kubectl("delete", crd, "--ignore-not-found", "--wait=true")

    user, namespace = "e2e-crd", "e2e-crd-demo"
    refused = run_apply(cluster, lab, "stage-3", "--user", user, *PLATFORM_ARGS)
    assert refused.returncode == 7
    assert "the DestinationRule resource (networking.istio.io/v1) is not installed" in refused.stderr
    assert not exists(cluster, "namespace", namespace), "preflight refuses before anything changes"

    names = local_cluster.install_crds(cluster)  # the pinned CRDs the validation uses (tools/versions.env)
    assert "customresourcedefinition.apiextensions.k8s.io/destinationrules.networking.istio.io" in names
    done = run_apply(cluster, lab, "stage-3", "--user", user, *PLATFORM_ARGS)
    assert done.returncode == 0, done.stderr
    mode = cluster.kubectl("get", "destinationrule/web", "-n", namespace, "-o",
                           "jsonpath={.spec.trafficPolicy.tls.mode}").stdout
    assert mode == "ISTIO_MUTUAL"


def test_a_token_the_server_never_issued_is_not_logged_in(cluster, fixture_lab: Path) -> None:
    result = run_apply(cluster, fixture_lab, "stage-1", "--user", "e2e-token", "--context", "bad-token", *PLATFORM_ARGS)
    assert result.returncode == 6
    assert "not logged in to the cluster (error: You must be logged in to the server (Unauthorized))" in result.stderr
    assert not exists(cluster, "namespace", "e2e-token-demo")


def test_a_namespaced_user_without_a_verb_gets_the_failure_report(cluster, fixture_lab: Path) -> None:
    """lab-user (a token user) may read its namespace and manage Deployments, but only read Services."""
    user, namespace = "e2e-rbac", "e2e-rbac-demo"
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "web-without-services", "namespace": namespace},
        "rules": [
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
            {"apiGroups": ["apps"], "resources": ["deployments"],
             "verbs": ["get", "list", "watch", "create", "update", "patch"]},
            {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "lab-user-web", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "web-without-services"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "lab-user"}],
    }
    cluster.kubectl("create", "namespace", namespace)
    rbac = {"apiVersion": "v1", "kind": "List", "items": [role, binding]}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(rbac))

    result = run_apply(cluster, fixture_lab, "stage-1", "--user", user, "--context", "lab-user", *PLATFORM_ARGS)
    assert result.returncode == 8
    err = result.stderr
    assert "step stage-1/deploy-web failed: `kubectl --context=lab-user apply -n e2e-rbac-demo -f - <<EOF ...`" in err
    assert ('services is forbidden: User "lab-user" cannot create resource "services" in API group "" '
            'in the namespace "e2e-rbac-demo"') in err
    assert "done before it (1): stage-1/create-namespace" in err
    not_run = "stage-1/wait-web" if cluster.nodes else "none"
    assert f"not run ({1 if cluster.nodes else 0}): {not_run}" in err
    assert ("python3 scripts/apply.py stage-1 --user e2e-rbac --platform kubernetes --cli kubectl "
            "--context lab-user") in err
    assert exists(cluster, "deployment/web", "-n", namespace), "kubectl applied the document before the refused one"


# --------------------------------------------------------------------------- the real lab


def _real_stages() -> list[str]:
    return sorted((p.name.split("-")[0] + "-" + p.name.split("-")[1] for p in REAL_LAB.glob("stage-*-*")
                   if (p / "stage.yaml").is_file()), key=lambda s: int(s.split("-")[1]))


LEARNER = "lab-user"  # the token user of the local cluster; stage 0 grants LAB_USER=lab-user its rights


@pytest.fixture(scope="module")
def real_lab(cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    """manifests/ without the waits nothing here can satisfy, its CRDs installed, and stage 0 applied
    by the cluster admin for LAB_USER=lab-user."""
    stages = _real_stages()
    if not any(s != "stage-0" for s in stages):
        pytest.skip("manifests/ has no learner stage yet")
    lab, _ = lab_for_cluster(REAL_LAB, tmp_path_factory.mktemp("labs") / "real", nodes=cluster.nodes)
    # The real Sail and Kiali CRDs when HANDBOOK_CRDS (or ../shared/crds) has them, else open placeholders.
    local_cluster.install_crds(cluster, placeholders=True)
    if "stage-0" in stages:
        admin = run_apply(cluster, lab, "stage-0", "--user", LEARNER, *PLATFORM_ARGS)
        assert admin.returncode == 0, admin.stderr
    return lab


def as_learner(cluster, lab: Path, *args: str):  # noqa: ANN001, ANN201
    return run_apply(cluster, lab, *args, "--user", LEARNER, "--context", LEARNER, *PLATFORM_ARGS)


def test_real_lab_runs_as_a_learner_and_a_second_run_changes_nothing(cluster, real_lab: Path) -> None:
    stages = _real_stages()
    if "stage-0" in stages:
        checks = run_apply(cluster, real_lab, "verify", "stage-0", "--user", LEARNER, *PLATFORM_ARGS)
        assert checks.returncode == 0, checks.stderr
    first = as_learner(cluster, real_lab, stages[-1])
    assert first.returncode == 0, first.stderr
    second = as_learner(cluster, real_lab, stages[-1])
    assert second.returncode == 0, second.stderr
    learner_stages = [s for s in stages if s != "stage-0"]
    objects = last_writes(real_lab, learner_stages, LEARNER)
    for item in objects:
        if item.earlier:
            print(f"{item.identity}: applied by {', '.join(item.earlier)}, then by {item.ref}; a re-run sets "
                  "each of these versions in turn before the last one")
    diffs = {f"{item.ref} {item.identity}": kubectl_diff(cluster, item, context=LEARNER) for item in objects}
    changed = {key: text for key, text in diffs.items() if text}
    assert not changed, f"a second run would still change: {changed}"


def test_real_lab_rerunning_stage_0_keeps_the_tenant_label(cluster, real_lab: Path) -> None:
    if "stage-2" not in _real_stages():
        pytest.skip("no stage 2 yet")
    assert as_learner(cluster, real_lab, "stage-2").returncode == 0
    namespace = f"{LEARNER}-sockshop"
    label = ("get", "namespace", namespace, "-o", "jsonpath={.metadata.labels.tenant}")
    assert cluster.kubectl(*label).stdout == LEARNER, "stage 2 labels the namespace"
    assert run_apply(cluster, real_lab, "stage-0", "--user", LEARNER, *PLATFORM_ARGS).returncode == 0
    tenant = cluster.kubectl(*label).stdout
    assert as_learner(cluster, real_lab, "stage-2").returncode == 0  # puts the label back for the other tests
    assert tenant == LEARNER, "re-running stage 0 must not take stage 2's tenant label away"


def test_real_lab_demonstrations_run_as_the_learner(cluster, real_lab: Path) -> None:
    """What the pages show as demonstrations (apply.py skips them), run in order with the learner's token."""
    stages = [s for s in _real_stages() if s != "stage-0"]
    assert as_learner(cluster, real_lab, stages[-1]).returncode == 0
    failures: dict[str, str] = {}
    # The page runs the neighbour-mesh demonstration with cluster-admin rights ("ひとりで学ぶ場合").
    as_admin = {"stage-2/create-neighbour-mesh", "stage-2/delete-neighbour-mesh"}
    for demo in demo_commands(real_lab, stages, LEARNER):
        context = None if demo.ref in as_admin else LEARNER
        result = cluster.kubectl(*demo.argv, stdin=demo.stdin, context=context, check=False, timeout=300)
        print(f"{demo.ref}: exit {result.returncode} {result.stderr.strip()}")
        if result.returncode != 0:
            failures[demo.ref] = result.stderr.strip()
    assert not failures, failures


def test_real_lab_exercises_run_as_the_learner(cluster, real_lab: Path) -> None:
    """Each stage's やってみよう solution, run by `apply.py exercise` with the learner's token right after
    apply.py brought the cluster to that stage, as a learner who finishes the stage and then tries it."""
    lab = Lab.load(real_lab)
    stages = [s for s in lab.stages if s.id != "stage-0" and any(step.executes for step in s.frame.solution)]
    assert stages, "some learner stage has an exercise that changes the cluster"
    failures: dict[str, str] = {}
    for stage in stages:
        assert as_learner(cluster, real_lab, stage.id).returncode == 0
        result = as_learner(cluster, real_lab, "exercise", stage.id)
        print(f"exercise {stage.id}: exit {result.returncode}\n{result.stdout[-600:]}")
        if result.returncode != 0:
            failures[stage.id] = (result.stdout + result.stderr)[-1500:]
    assert not failures, failures


def test_real_lab_reset_as_the_learner(cluster, real_lab: Path) -> None:
    assert as_learner(cluster, real_lab, _real_stages()[-1]).returncode == 0
    done = as_learner(cluster, real_lab, "reset", "--yes")
    # Put back what the reset removed or half-removed, for the tests after this one.
    restore = run_apply(cluster, real_lab, "stage-0", "--user", LEARNER, *PLATFORM_ARGS)
    assert restore.returncode == 0, restore.stderr
    assert done.returncode == 0, done.stderr
    # The namespaces were the instructor's (stage 0): reset empties them but leaves them in place.
    for namespace in (f"{LEARNER}-sockshop", f"{LEARNER}-istio-system"):
        assert exists(cluster, "namespace", namespace), f"reset deleted {namespace}, which stage 0 made"
        tenant = cluster.kubectl("get", "namespace", namespace, "-o", "jsonpath={.metadata.labels.tenant}").stdout
        assert tenant == "", f"reset left stage 2's tenant label on {namespace}"
    assert not cluster.kubectl("get", "deployments", "-n", f"{LEARNER}-sockshop", "-o", "name").stdout.strip()
