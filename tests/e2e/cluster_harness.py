"""Helpers for the end-to-end tests: the local cluster of handbook.local_cluster, apply.py against it,
and the rendered manifests of a lab for `kubectl diff`.

Deliberately not a conftest.py: tests/conftest.py is imported as the module `conftest` by the other
test files, and a second conftest.py here would take that name first (pytest collects tests/e2e
before tests/test_*.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from outside_steps import outside_reasons

from handbook import local_cluster
from handbook.lab import Lab
from handbook.plan import reader_steps
from handbook.replay import Key, replay, step_moves
from handbook.steps import ApplyStep, WaitStep

REPO = Path(__file__).resolve().parents[2]
APPLY = REPO / "scripts" / "apply.py"
FIXTURE_LAB = REPO / "tests" / "fixtures" / "lab"
REAL_LAB = REPO / "manifests"
PLATFORM_ARGS = ("--platform", "kubernetes", "--cli", "kubectl")

# Wait targets that a local cluster can satisfy: kube-controller-manager, kube-scheduler and kwok
# roll Deployments out and make Pods Ready. Anything else (istios, istiocnis, csv, routes, ...)
# is made Ready by an operator or a platform that does not run here.
WORKLOAD_KINDS = frozenset({"deployment", "deployments", "deploy", "pod", "pods", "po", "statefulset",
                            "statefulsets", "sts", "daemonset", "daemonsets", "ds", "replicaset", "replicasets",
                            "rs", "job", "jobs"})


def run_apply(cluster, lab: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:  # noqa: ANN001
    """scripts/apply.py in its own process, with the pinned kubectl first on PATH and KUBECONFIG set."""
    env = cluster.env()
    env["LAB_MANIFESTS_DIR"] = str(lab)
    env.pop("NO_COLOR", None)
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, str(APPLY), *args], env=env, capture_output=True, text=True, timeout=timeout,
        check=False, cwd=REPO,
    )
    print(f"$ apply.py {' '.join(args)}  -> exit {result.returncode}\n{result.stdout}{result.stderr}")
    return result


def wait_target(step: WaitStep) -> str:
    """The kind a wait step waits on, as written (``deployment`` of ``deployment/web``, ``istios``)."""
    return (step.rollout or step.resource or "").split("/")[0].split(".")[0].lower()


@dataclass(frozen=True)
class Dropped:
    ref: str
    why: str


def lab_for_cluster(source: Path, target: Path, *, nodes: bool) -> tuple[Path, list[Dropped]]:
    """A copy of the lab at ``source`` without the wait steps this cluster cannot satisfy.

    apply.py has no way to skip a step, so the copy leaves them out: every wait when the cluster
    has no controllers and no node, else the waits on resources that only an operator makes Ready.
    """
    shutil.copytree(source, target)
    lab = Lab.load(source)
    dropped: list[Dropped] = []
    outside = outside_reasons(lab)  # kind, helm, and what only their charts or operators make
    for stage in lab.stages:
        keep_ids = []
        for step in stage.steps:
            if step.ref in outside:
                dropped.append(Dropped(step.ref, outside[step.ref]))
                continue
            if isinstance(step, WaitStep):
                kind = wait_target(step)
                if not nodes:
                    dropped.append(Dropped(step.ref, "no kube-controller-manager, kube-scheduler and kwok node"))
                    continue
                if kind not in WORKLOAD_KINDS:
                    dropped.append(Dropped(step.ref, f"waits on {kind}, which only an operator makes Ready"))
                    continue
            keep_ids.append(step.id)
        definition = target / stage.folder.name / "stage.yaml"
        data = yaml.safe_load(definition.read_text(encoding="utf-8"))
        data["steps"] = [s for s in data["steps"] if s["id"] in keep_ids]
        definition.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    for item in dropped:
        print(f"skipped wait step {item.ref}: {item.why}")
    return target, dropped


@dataclass(frozen=True)
class Rendered:
    ref: str
    namespace: str | None
    body: str


def rendered_applies(lab_root: Path, stage_ids: list[str], user: str, platform: str = "kubernetes") -> list[Rendered]:
    """What each apply step of ``stage_ids`` sends to the cluster, with the values apply.py uses for ``user``."""
    lab = Lab.load(lab_root)
    values = lab.variables.resolve({"LAB_USER": user}, platform=platform)
    rendered: list[Rendered] = []
    for stage_id in stage_ids:
        for step in lab.stage(stage_id).steps_for(platform):
            if isinstance(step, ApplyStep) and not step.demo:
                command = step.command().resolved(values)
                namespace = command.argv[command.argv.index("-n") + 1] if "-n" in command.argv else None
                assert command.stdin is not None
                rendered.append(Rendered(step.ref, namespace, command.stdin))
    return rendered


@dataclass(frozen=True)
class DemoCommand:
    ref: str
    argv: tuple[str, ...]  # without the CLI name
    stdin: str | None


def demo_commands(lab_root: Path, stage_ids: list[str], user: str, platform: str = "kubernetes") -> list[DemoCommand]:
    """The demonstration steps a reader runs by hand (apply.py skips them), in order, resolved for ``user``.

    Left out: checks, manual steps, commands that never end by themselves (``--watch``) and waits on
    resources that only an operator makes Ready (see WORKLOAD_KINDS).
    """
    lab = Lab.load(lab_root)
    values = lab.variables.resolve({"LAB_USER": user}, platform=platform)
    commands: list[DemoCommand] = []
    for stage_id in stage_ids:
        for step in lab.stage(stage_id).steps_for(platform):
            if not step.demo or not step.executes:
                continue
            if isinstance(step, WaitStep) and wait_target(step) not in WORKLOAD_KINDS:
                continue
            command = step.command()
            if command is None or not command.uses_cluster_cli or {"--watch", "-w"} & set(command.argv):
                continue
            resolved = command.resolved(values)
            commands.append(DemoCommand(step.ref, resolved.argv[1:], resolved.stdin))
    return commands


@dataclass(frozen=True)
class LastWrite:
    """One object as the last apply step of a plan sends it (handbook.replay)."""

    identity: str  # apiVersion/Kind namespace/name
    ref: str  # the apply step that wrote this version
    namespace: str | None
    document: dict
    earlier: tuple[str, ...]  # the earlier apply steps that wrote the same object


def last_writes(lab_root: Path, stage_ids: list[str], user: str, platform: str = "kubernetes") -> list[LastWrite]:
    """Each object the apply steps of ``stage_ids`` write and that is still there after apply.py ran those stages
    for ``user``, from the one model of the end state (handbook.replay): what a second run must find unchanged.

    Later stages may rewrite an object an earlier stage made (stage 5 rewrites stage 4's VirtualService);
    after a run, only the last writer's version can match the server.
    """
    lab = Lab.load(lab_root)
    values = lab.variables.resolve({"LAB_USER": user}, platform=platform)
    planned = [p for p in reader_steps([lab.stage(s) for s in stage_ids], platform) if not p.step.demo]
    applies = {p.step.ref for p in planned if isinstance(p.step, ApplyStep)}
    writers: dict[Key, list[tuple[str, dict]]] = {}  # each apply of the object, and the version it sent
    snapshots = replay(step_moves(planned), values)
    for snapshot in snapshots:
        if snapshot.ref in applies:
            for key, held in snapshot.present.items():
                if held.made_by == snapshot.ref:
                    writers.setdefault(key, []).append((snapshot.ref, held.doc))
    # The version the last apply sent, not what later patches made of it: a second run applies it again
    # before the patch, so a field it states and a patch changes (a Service's type) would flip back and forth.
    end = snapshots[-1].present if snapshots else {}
    return [
        LastWrite(f"{doc.get('apiVersion')}/{key[0]} {key[1] or '-'}/{key[2]}", ref, key[1] or None, doc,
                  tuple(r for r, _ in writers[key][:-1]))
        for key in end if key in writers
        for ref, doc in [writers[key][-1]]
    ]


def kubectl_diff(cluster, item: Rendered | LastWrite, context: str | None = None) -> str:  # noqa: ANN001
    """``kubectl diff`` of a rendered manifest or one object: '' when the server already holds exactly that."""
    args = ["diff"] + (["-n", item.namespace] if item.namespace else []) + ["-f", "-"]
    body = item.body if isinstance(item, Rendered) else json.dumps(item.document)
    result = cluster.kubectl(*args, stdin=body, context=context, check=False)
    if result.returncode == 0:
        return ""
    if result.returncode == 1:
        return result.stdout
    raise AssertionError(f"kubectl diff for {item.ref} failed ({result.returncode}): {result.stderr}")


def generations(cluster, namespace: str, context: str | None = None) -> dict[str, int]:  # noqa: ANN001
    """metadata.generation of every Deployment and Service in ``namespace`` (spec changes bump it)."""
    result = cluster.kubectl("get", "deployments,services", "-n", namespace, "-o",
                             "jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.generation}{'\\n'}{end}",
                             context=context)
    pairs = [line.split("=", 1) for line in result.stdout.splitlines() if line]
    return {name: int(value or 0) for name, value in pairs}


def exists(cluster, *args: str, context: str | None = None) -> bool:  # noqa: ANN001
    return cluster.kubectl("get", *args, context=context, check=False).returncode == 0


def environment_note(cluster) -> str:  # noqa: ANN001
    parts = [f"server {cluster.server}", f"binaries {cluster.bin}"]
    if not cluster.nodes:
        parts.append("no simulated node: " + ", ".join(f"{k} ({v})" for k, v in cluster.missing.items()))
    return "; ".join(parts)


def running_cluster(directory: Path, label: str) -> Iterator:  # noqa: ANN001
    """A started local control plane for one test module (use with ``yield from``); stopped afterwards, with
    every process gone, even when a test fails. Pytest fails the module if the cluster does not start."""
    import pytest

    report = local_cluster.build()
    print(report.summary())
    started = time.monotonic()
    cluster = local_cluster.LocalCluster(directory=directory, bin=report.directory, missing=dict(report.failed))
    try:
        cluster.start(nodes=True, tie_to_parent=True)
    except local_cluster.ClusterError as exc:
        pytest.fail(f"the local cluster did not start: {exc}")
    print(f"{label} up in {time.monotonic() - started:.1f}s: {environment_note(cluster)}")
    yield cluster
    cluster.stop(remove=False)
    assert cluster.running() == [], "every process of the local cluster must be gone after stop()"
