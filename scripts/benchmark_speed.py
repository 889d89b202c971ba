"""The speed half of scripts/benchmark.py: apply.py's warm dry run, and many users on a real API server.

* dry run: ``apply.py stage-8 --dry-run`` in a new process, once to warm the caches, then the
  median wall time of ``runs`` more (goal: under 0.5 s).
* users: the fixture lab's stage 2 (tests/fixtures/lab) on a local control plane
  (handbook.local_cluster, with kube-controller-manager, kube-scheduler and a kwok node), first for
  one user, then for 30 users with ``--users ... --parallel 6``. Each run has fresh users, so both
  do the same work per user. For each: wall time, and CPU time of the whole process tree, which is
  apply.py with every kubectl it started (``resource.getrusage(RUSAGE_CHILDREN)``: the children and
  grandchildren that were waited for) plus etcd, kube-apiserver, the controllers and kwok (their
  utime + stime from /proc, before and after). With ``cores`` usable CPUs, a run that keeps every
  core busy takes CPU/cores of wall time, so ``wall / (CPU / cores)`` near 1 means CPU-bound with
  nothing idle (goal: within 1.2). The machine's busy CPU time over the same interval (/proc/stat)
  is reported too: what other processes used is time our run could not have, so a ratio above the
  goal on a shared machine says little until ``others_s`` is near 0.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from handbook.local_cluster import LocalCluster, build

REPO = Path(__file__).resolve().parent.parent
APPLY = REPO / "scripts" / "apply.py"
FIXTURE_LAB = REPO / "tests" / "fixtures" / "lab"
MANY = 30
PARALLEL = 6
DRY_RUN_GOAL_S = 0.5
USERS_GOAL_RATIO = 1.2


def cores() -> int:
    return len(os.sched_getaffinity(0))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> float:
    """CPU seconds all CPUs spent not idle since boot (/proc/stat: user nice system idle iowait irq softirq steal)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=REPO, timeout=900,  # noqa: S603
                            check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def measure_dry_run(runs: int) -> dict[str, Any]:
    argv = [sys.executable, str(APPLY), "stage-8", "--dry-run"]
    _run(argv)  # warms the validation cache and the byte-code
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        _run(argv)
        times.append(time.perf_counter() - began)
    median = statistics.median(times)
    return {"dry_run_stage8_warm_s": round(median, 3), "dry_run_runs_s": [round(t, 3) for t in times],
            "dry_run_goal_s": DRY_RUN_GOAL_S, "dry_run_within_goal": median < DRY_RUN_GOAL_S}


@dataclass
class UsersRun:
    users: int
    wall_s: float
    cpu_s: float  # apply.py's tree plus the control plane's processes
    cpu_apply_s: float
    cpu_cluster_s: float
    others_s: float  # CPU time of every other process on the machine meanwhile
    cores: int

    @property
    def ratio(self) -> float:
        """wall / (CPU / cores): 1.0 when every core was busy the whole time."""
        return self.wall_s / (self.cpu_s / self.cores)


def timed_apply(cluster: LocalCluster, users: int, prefix: str) -> UsersRun:
    env = cluster.env()
    env["LAB_MANIFESTS_DIR"] = str(FIXTURE_LAB)
    who = ["--user", f"{prefix}1"] if users == 1 else ["--users", f"{prefix}1-{prefix}{users}",
                                                         "--parallel", str(PARALLEL)]
    argv = [sys.executable, str(APPLY), "stage-2", *who, "--platform", "kubernetes", "--cli", "kubectl"]
    cpu_before, cluster_before, busy_before = _children_cpu(), cluster.cpu_seconds(), machine_busy()
    began = time.perf_counter()
    _run(argv, env)
    wall = time.perf_counter() - began
    cpu_apply, cpu_cluster = _children_cpu() - cpu_before, cluster.cpu_seconds() - cluster_before
    others = machine_busy() - busy_before - cpu_apply - cpu_cluster
    return UsersRun(users, round(wall, 2), round(cpu_apply + cpu_cluster, 2), round(cpu_apply, 2),
                    round(cpu_cluster, 2), round(max(others, 0.0), 2), cores())


def measure_users() -> dict[str, Any]:
    report = build()
    if report.failed:
        raise SystemExit(f"the simulated node's binaries did not build: {', '.join(report.failed)}")
    with tempfile.TemporaryDirectory(prefix="handbook-bench-cluster-") as folder:
        cluster = LocalCluster(directory=Path(folder) / "cluster", bin=report.directory)
        cluster.start(nodes=True, tie_to_parent=True)
        try:
            timed_apply(cluster, 1, "warm-u")  # the first run pays for discovery caches and the API server's warm-up
            one = timed_apply(cluster, 1, "one-u")
            many = timed_apply(cluster, MANY, "many-u")
        finally:
            cluster.stop()
    return {
        "users_1": {**asdict(one), "ratio": round(one.ratio, 2)},
        f"users_{MANY}": {**asdict(many), "ratio": round(many.ratio, 2)},
        "users_wall_ratio": round(many.wall_s / one.wall_s, 2),
        "users_cpu_ratio": round(many.cpu_s / one.cpu_s, 2),
        "users_goal_ratio": USERS_GOAL_RATIO,
        "users_within_goal": many.ratio <= USERS_GOAL_RATIO,
    }


def print_speed(speed: dict[str, Any]) -> None:
    if "dry_run_stage8_warm_s" in speed:
        print(f"apply.py stage-8 --dry-run, warm: {speed['dry_run_stage8_warm_s']}s "
              f"(goal < {DRY_RUN_GOAL_S}s: {'met' if speed['dry_run_within_goal'] else 'NOT met'}); "
              f"runs {speed['dry_run_runs_s']}")
    if "users_1" in speed:
        print(f"Users on the local API server (stage 2 of the fixture lab, --parallel {PARALLEL}):")
        print(f"  {'users':>5} {'wall s':>8} {'CPU s':>8} {'apply':>8} {'cluster':>8} {'others':>8} {'cores':>5} "
              f"{'wall/(CPU/cores)':>17}")
        for key in ("users_1", f"users_{MANY}"):
            row = speed[key]
            print(f"  {row['users']:>5} {row['wall_s']:>8} {row['cpu_s']:>8} {row['cpu_apply_s']:>8} "
                  f"{row['cpu_cluster_s']:>8} {row['others_s']:>8} {row['cores']:>5} {row['ratio']:>17}")
        print(f"  {MANY} users / 1 user: wall x{speed['users_wall_ratio']}, CPU x{speed['users_cpu_ratio']}; "
              f"goal wall/(CPU/cores) <= {USERS_GOAL_RATIO}: "
              f"{'met' if speed['users_within_goal'] else 'NOT met'}")
