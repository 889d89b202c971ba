"""Drills against a real kube-apiserver (handbook.local_cluster): an API server that dies mid-stage,
the page's blocks pasted into bash versus apply.py, users applying at the same time, thirty users at
once, and input that must be refused before anything changes.

Every test uses the fixture lab (tests/fixtures/lab) with `--platform kubernetes --cli kubectl`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from cluster_harness import (
    APPLY,
    FIXTURE_LAB,
    PLATFORM_ARGS,
    REPO,
    exists,
    kubectl_diff,
    lab_for_cluster,
    last_writes,
    rendered_applies,
    run_apply,
    running_cluster,
)

from handbook.blocks import split_dry_run
from handbook.lab import Lab
from handbook.local_cluster.processes import wait_until
from handbook.steps import CheckStep, ManualStep

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """A control plane of its own for the drills (one of them kills and restarts its API server)."""
    yield from running_cluster(tmp_path_factory.mktemp("drill-cluster"), "drill cluster")


@pytest.fixture(scope="module")
def fixture_lab(cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    lab, _ = lab_for_cluster(FIXTURE_LAB, tmp_path_factory.mktemp("drill-labs") / "fixture", nodes=cluster.nodes)
    return lab


def apply_process(cluster, lab: Path, *args: str) -> subprocess.Popen:  # noqa: ANN001
    """apply.py started in the background, with the same environment as run_apply."""
    env = cluster.env()
    env["LAB_MANIFESTS_DIR"] = str(lab)
    env.pop("NO_COLOR", None)
    return subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, str(APPLY), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=REPO,
    )


def finish(process: subprocess.Popen, label: str, timeout: float = 600) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    print(f"$ {label} -> exit {process.returncode}\n{out}{err}")
    return process.returncode, out, err


def namespaces(cluster) -> set[str]:  # noqa: ANN001
    return set(cluster.kubectl("get", "namespaces", "-o", "name").stdout.split())


# --------------------------------------------------------------------------- 1. API server killed mid-stage


def apiserver(cluster):  # noqa: ANN001, ANN201
    return cluster.process("kube-apiserver")


def kill_apiserver(cluster) -> list[str]:  # noqa: ANN001
    """SIGKILL only kube-apiserver (its own process group); etcd and the controllers keep running.
    Returns its command line, read from /proc, to start it again with the same flags and port."""
    process = apiserver(cluster)
    argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")
    os.killpg(process.pid, signal.SIGKILL)
    if process.popen is not None:
        process.popen.wait(timeout=30)
    return argv


def restart_apiserver(cluster, argv: list[str]) -> float:  # noqa: ANN001
    began = time.monotonic()
    process = cluster.spawn("kube-apiserver", argv, True)
    wait_until("kube-apiserver /readyz after the restart", process, cluster.apiserver_ready, 120)
    return time.monotonic() - began


def test_apiserver_killed_mid_stage_then_rerun_succeeds(cluster, fixture_lab: Path) -> None:
    user, namespace = "e2e-kill", "e2e-kill-demo"
    args = ("stage-2", "--user", user, *PLATFORM_ARGS)
    began = time.monotonic()
    process = apply_process(cluster, fixture_lab, *args)
    # The first step creates the namespace; poll the API directly (cheaper than a kubectl process).
    deadline = time.monotonic() + 120
    while not cluster.https_ok(cluster.ports["apiserver"], f"/api/v1/namespaces/{namespace}", "admin"):
        assert process.poll() is None, f"apply.py ended before the namespace appeared: {finish(process, 'apply')}"
        assert time.monotonic() < deadline, "the namespace never appeared"
        time.sleep(0.05)
    argv = kill_apiserver(cluster)
    killed_at = time.monotonic() - began
    code, out, err = finish(process, "apply.py " + " ".join(args) + " (kube-apiserver killed)", timeout=400)
    failed_after = time.monotonic() - began
    print(f"kube-apiserver killed {killed_at:.1f}s after the start; apply.py exited {code} "
          f"{failed_after:.1f}s after the start")
    assert code in (5, 8), f"expected exit 5 or 8, got {code}"
    if code == 8:
        assert re.search(r"step stage-\d/[-a-z]+ failed: `kubectl ", err), err
        assert "done before it (" in err and "stage-1/create-namespace" in err
        assert ("resume by running the same command again:\n    python3 scripts/apply.py stage-2 --user e2e-kill "
                "--platform kubernetes --cli kubectl") in err
    assert "Traceback" not in err

    seconds = restart_apiserver(cluster, argv)
    print(f"kube-apiserver ready again {seconds:.1f}s after the restart; running: {cluster.running()}")
    assert set(cluster.running()) >= {"etcd", "kube-apiserver"}
    again = run_apply(cluster, fixture_lab, *args)
    assert again.returncode == 0, again.stderr
    assert "stage-1/create-namespace (run): skipped (already done)" in again.stdout, "the namespace survived in etcd"
    rendered = rendered_applies(fixture_lab, ["stage-1", "stage-2"], user)
    diffs = {item.ref: kubectl_diff(cluster, item) for item in rendered}
    assert diffs and all(text == "" for text in diffs.values()), diffs
    labels = cluster.kubectl("get", "deployment/web", "-n", namespace, "-o",
                             "jsonpath={.spec.template.metadata.labels.tier}").stdout
    assert labels == "front"


# --------------------------------------------------------------------------- 2. the page's blocks == apply.py


SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "namespace")
# Set by the server per object, never by the lab: a Service's cluster IPs are allocated at random.
SERVICE_ALLOCATED = ("clusterIP", "clusterIPs")


def comparable(document: dict, user: str) -> str:
    """``document`` without what the server sets per object, with the user's name replaced by USER."""
    document.pop("status", None)
    meta = document.get("metadata", {})
    for key in SERVER_SET:
        meta.pop(key, None)
    annotations = meta.get("annotations", {})
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if not annotations:
        meta.pop("annotations", None)
    if document.get("kind") == "Service":
        for key in SERVICE_ALLOCATED:
            document.get("spec", {}).pop(key, None)
    return yaml.safe_dump(document, sort_keys=True).replace(user, "USER")


def page_blocks(cluster, lab: Path, user: str) -> list[tuple[str, str]]:  # noqa: ANN001
    """What the page shows for ``user``, in order, without checks, manual steps and demonstrations."""
    dry = run_apply(cluster, lab, "stage-2", "--dry-run", "--user", user, *PLATFORM_ARGS)
    assert dry.returncode == 0, dry.stderr
    model = Lab.load(lab)
    skip = {step.ref for stage in model.stages for step in stage.steps
            if isinstance(step, CheckStep | ManualStep) or step.demo}
    blocks = [(ref, body) for ref, body in split_dry_run(dry.stdout).items() if ref not in skip]
    assert blocks and blocks[0][0] == "stage-1/export", [ref for ref, _ in blocks]
    return blocks


def test_page_blocks_pasted_into_bash_match_apply(cluster, fixture_lab: Path, tmp_path: Path) -> None:
    by_hand, by_apply = "e2e-page", "e2e-tool"
    blocks = page_blocks(cluster, fixture_lab, by_hand)
    print("pasting: " + ", ".join(ref for ref, _ in blocks))
    script = tmp_path / "pasted.sh"
    # One shell, as a reader pastes into one terminal; stop at the first block that fails.
    script.write_text("set -e\n" + "\n\n".join(body for _, body in blocks) + "\n", encoding="utf-8")
    bash = subprocess.run(["bash", str(script)], env=cluster.env(), capture_output=True, text=True,  # noqa: S603, S607
                          timeout=300, check=False, cwd=tmp_path)
    print(f"bash pasted.sh -> exit {bash.returncode}\n{bash.stdout}{bash.stderr}")
    assert bash.returncode == 0, bash.stderr
    assert run_apply(cluster, fixture_lab, "stage-2", "--user", by_apply, *PLATFORM_ARGS).returncode == 0

    objects = last_writes(fixture_lab, ["stage-1", "stage-2"], by_hand)
    kinds = sorted({f"{item.document['kind'].lower()}/{item.document['metadata']['name']}" for item in objects})
    compared = 0
    for user in (by_hand, by_apply):
        assert exists(cluster, "namespace", f"{user}-demo")
    hand_ns = cluster.kubectl("get", "namespace", f"{by_hand}-demo", "-o", "json").stdout
    tool_ns = cluster.kubectl("get", "namespace", f"{by_apply}-demo", "-o", "json").stdout
    assert comparable(json.loads(hand_ns), by_hand) == comparable(json.loads(tool_ns), by_apply)
    compared += 1
    for ref in kinds:
        hand = cluster.kubectl("get", ref, "-n", f"{by_hand}-demo", "-o", "json").stdout
        tool = cluster.kubectl("get", ref, "-n", f"{by_apply}-demo", "-o", "json").stdout
        left, right = comparable(json.loads(hand), by_hand), comparable(json.loads(tool), by_apply)
        assert left == right, f"{ref} differs between the pasted blocks and apply.py:\n{left}\n---\n{right}"
        compared += 1
    # Everything else in the two namespaces (what the controllers made from those objects) by name:
    # ReplicaSet names carry the pod-template hash, so they match only if the templates do.
    listed = "deployments,services,replicasets,serviceaccounts,configmaps,roles,rolebindings,secrets"
    names = [sorted(cluster.kubectl("get", listed, "-n", f"{u}-demo", "-o", "name").stdout.split())
             for u in (by_hand, by_apply)]
    assert names[0] == names[1], names
    print(f"compared {compared} objects ({', '.join(['namespace', *kinds])}) and {len(names[0])} names: equal")


# --------------------------------------------------------------------------- 3. at the same time


def test_two_users_at_once_both_succeed(cluster, fixture_lab: Path) -> None:
    users = ("e2e-pair-a", "e2e-pair-b")
    running = [apply_process(cluster, fixture_lab, "stage-1", "--user", u, *PLATFORM_ARGS) for u in users]
    results = [finish(p, f"apply.py stage-1 --user {u}") for p, u in zip(running, users, strict=True)]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    for user in users:
        assert exists(cluster, "deployment/web", "-n", f"{user}-demo")


def test_same_user_twice_at_once_then_a_rerun(cluster, fixture_lab: Path) -> None:
    user = "e2e-twice"
    args = ("stage-1", "--user", user, *PLATFORM_ARGS)
    running = [apply_process(cluster, fixture_lab, *args) for _ in range(2)]
    results = [finish(p, f"apply.py {' '.join(args)} (#{i})") for i, p in enumerate(running, start=1)]
    codes = sorted(code for code, _, _ in results)
    print(f"same user twice at once: exit codes {codes}")
    assert codes in ([0, 0], [0, 8]), codes
    for code, _, err in results:
        if code == 8:
            assert "resume by running the same command again:" in err, err
            assert "Traceback" not in err
    rerun = run_apply(cluster, fixture_lab, *args)
    assert rerun.returncode == 0, rerun.stderr
    diffs = {item.ref: kubectl_diff(cluster, item) for item in rendered_applies(fixture_lab, ["stage-1"], user)}
    assert all(text == "" for text in diffs.values()), diffs


# --------------------------------------------------------------------------- 4. many users


MANY = 30


def test_many_users_in_parallel(cluster, fixture_lab: Path) -> None:
    users = f"e2e-u1-e2e-u{MANY}"
    began = time.monotonic()
    result = run_apply(cluster, fixture_lab, "stage-2", "--users", users, "--parallel", "6", *PLATFORM_ARGS)
    wall = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    rows = re.findall(r"^(e2e-u\d+)\s+(ok|ok after retry|FAILED)\s+(\d+)\s+(\d+)\s+([\d.]+)$", text, re.MULTILINE)
    assert len(rows) == MANY, rows
    assert {name for name, *_ in rows} == {f"e2e-u{n}" for n in range(1, MANY + 1)}
    assert all(state == "ok" for _, state, *_ in rows), [r for r in rows if r[1] != "ok"]
    calls = {int(c) for *_, c, _ in rows}
    assert len(calls) == 1, f"every user runs the same plan, so the same number of CLI calls: {calls}"
    summary = re.search(r"^(\d+)/(\d+) users ready in ([\d.]+)s; ([\d.]+) CLI calls per user$", text, re.MULTILINE)
    assert summary, text
    assert summary[1] == summary[2] == str(MANY)
    print(f"MEASURED: {MANY} users, --parallel 6: wall {wall:.1f}s (apply.py reports {summary[3]}s), "
          f"{summary[4]} CLI calls per user")
    for n in (1, MANY):
        assert exists(cluster, "deployment/web", "-n", f"e2e-u{n}-demo")


# --------------------------------------------------------------------------- 5. refused before any change


def test_bad_user_name_is_refused_and_nothing_is_created(cluster, fixture_lab: Path) -> None:
    before = namespaces(cluster)
    result = run_apply(cluster, fixture_lab, "stage-2", "--user", "Bad_User", *PLATFORM_ARGS)
    assert result.returncode == 2, result.stderr
    assert "Bad_User" in result.stderr and "LAB_USER" in result.stderr, result.stderr
    assert namespaces(cluster) == before


def test_manifest_broken_on_disk_is_refused_and_nothing_is_created(cluster, fixture_lab: Path,
                                                                   tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    shutil.copytree(fixture_lab, lab)
    web = lab / "stage-1-demo" / "web.yaml"
    text = web.read_text(encoding="utf-8")
    assert "  replicas: 1\n" in text
    web.write_text(text.replace("  replicas: 1\n", "  replicaz: 1\n"), encoding="utf-8")
    before = namespaces(cluster)
    result = run_apply(cluster, lab, "stage-2", "--user", "e2e-broken", *PLATFORM_ARGS)
    assert result.returncode == 3, result.stderr
    assert "web.yaml" in result.stderr and "replicaz" in result.stderr, result.stderr
    assert namespaces(cluster) == before
    assert not exists(cluster, "namespace", "e2e-broken-demo")
