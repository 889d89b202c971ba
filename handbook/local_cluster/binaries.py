"""Build the control plane's binaries from the Go modules pinned in tools/cluster/*/go.mod, once.

Binaries are cached in .cache/cluster-bin/<kubernetes version>/ with a stamp of the go.mod and
go.sum files, the Go version and the build recipe; a warm run builds nothing. A lock file makes
two runs at once build the cache only once. Nothing is downloaded prebuilt: `go build` with
``-mod=readonly`` takes every module from the proxy by the hashes in go.sum.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..file_lock import locked
from .common import BIN_CACHE, MODULES, ClusterError, relative

# Bump when the way binaries are built changes (flags, names), so cached ones are rebuilt.
RECIPE_REVISION = "1"


@dataclass(frozen=True)
class Binary:
    name: str  # the file name in the cache folder
    module: str  # the folder under tools/cluster that pins it
    package: str  # the Go package of the command
    optional: bool = False  # the cluster starts without it (no simulated node)


BINARIES = (
    Binary("etcd", "etcd", "go.etcd.io/etcd/server/v3"),
    Binary("kube-apiserver", "kubernetes", "k8s.io/kubernetes/cmd/kube-apiserver"),
    Binary("kubectl", "kubernetes", "k8s.io/kubernetes/cmd/kubectl"),
    Binary("kube-controller-manager", "kubernetes", "k8s.io/kubernetes/cmd/kube-controller-manager", optional=True),
    Binary("kube-scheduler", "kubernetes", "k8s.io/kubernetes/cmd/kube-scheduler", optional=True),
    Binary("kwok", "kwok", "sigs.k8s.io/kwok/cmd/kwok", optional=True),
)


def required_version(module_dir: Path, module: str) -> str:
    """The version that ``module_dir/go.mod`` requires of ``module``."""
    go_mod = module_dir / "go.mod"
    for line in go_mod.read_text(encoding="utf-8").splitlines():
        words = line.replace("require", " ").split()
        if len(words) >= 2 and words[0] == module:
            return words[1]
    raise ClusterError(f"{relative(go_mod)}: no `require {module} <version>` line")


def kubernetes_version() -> str:
    return required_version(MODULES / "kubernetes", "k8s.io/kubernetes")


def ldflags(binary: Binary) -> str:
    flags = ["-s", "-w"]
    if binary.module == "kubernetes":
        # What `kubectl version` and /version report; Kubernetes' own build sets the same variables.
        version = kubernetes_version()
        major, minor = version.removeprefix("v").split(".")[:2]
        for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
            flags += [f"-X={package}.gitVersion={version}", f"-X={package}.gitMajor={major}",
                      f"-X={package}.gitMinor={minor}", f"-X={package}.gitTreeState=clean"]
    return " ".join(flags)


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise ClusterError("the `go` command is not on PATH; it builds the local cluster's binaries once")
    return go


def _go_version(go: str) -> str:
    result = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)  # noqa: S603
    return result.stdout.strip() or "unknown"


def bin_dir() -> Path:
    return BIN_CACHE / kubernetes_version()


def stamp_key(go_version: str) -> str:
    digest = hashlib.sha256(f"{RECIPE_REVISION}\n{go_version}\n".encode())
    for binary in BINARIES:
        digest.update(f"{binary.name} {binary.module} {binary.package} {ldflags(binary)}\n".encode())
    for folder in sorted({b.module for b in BINARIES}):
        for name in ("go.mod", "go.sum"):
            digest.update((MODULES / folder / name).read_bytes())
    return digest.hexdigest()


@dataclass
class BuildReport:
    directory: Path
    built: dict[str, float] = field(default_factory=dict)  # name -> seconds
    failed: dict[str, str] = field(default_factory=dict)  # name -> the command and its error
    reused: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        if self.reused:
            return f"cluster binaries already built: {self.directory} (nothing to do, {self.seconds:.1f}s)"
        lines = [f"built {self.directory} in {self.seconds:.0f}s:"]
        lines += [f"  {name:<24} {secs:6.0f}s" for name, secs in self.built.items()]
        lines += [f"  {name:<24} FAILED: {why}" for name, why in self.failed.items()]
        return "\n".join(lines)


def build(*, force: bool = False, log: TextIO = sys.stderr) -> BuildReport:
    """Build every binary into the cache folder unless its stamp says they are current."""
    started = time.monotonic()
    go = _go()
    target = bin_dir()
    key = stamp_key(_go_version(go))
    stamp = target / "stamp.json"
    with locked(BIN_CACHE / ".lock"):
        recorded = json.loads(stamp.read_text(encoding="utf-8")) if stamp.is_file() else {}
        if not force and recorded.get("key") == key and all((target / b.name).is_file() for b in BINARIES):
            return BuildReport(target, reused=True, seconds=time.monotonic() - started)
        report = BuildReport(target)
        target.mkdir(parents=True, exist_ok=True)
        # -mod=readonly: go.sum must already hold every hash (nothing is resolved anew at build time).
        env = dict(os.environ, CGO_ENABLED="0", GOFLAGS=f"{os.environ.get('GOFLAGS', '')} -mod=readonly".strip())
        for binary in BINARIES:
            output = target / f".{binary.name}.partial"
            argv = [go, "build", "-trimpath", f"-ldflags={ldflags(binary)}", "-o", str(output), binary.package]
            print(f"local_cluster: building {binary.name} ({binary.package}) ...", file=log, flush=True)
            began = time.monotonic()
            result = subprocess.run(  # noqa: S603 - argv list
                argv, cwd=MODULES / binary.module, env=env, capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                why = f"`cd tools/cluster/{binary.module} && {shlex.join(argv[1:])}` exited {result.returncode}: " \
                      + (result.stderr.strip()[-2000:] or "no output")
                if not binary.optional:
                    raise ClusterError(f"could not build {binary.name}: {why}")
                report.failed[binary.name] = why
                (target / binary.name).unlink(missing_ok=True)  # never start a binary of an older recipe
                continue
            os.replace(output, target / binary.name)
            report.built[binary.name] = time.monotonic() - began
        # No stamp while an optional binary failed: the next run tries again (the Go build cache keeps it cheap).
        if not report.failed:
            stamp.write_text(json.dumps({"key": key}, indent=1), encoding="utf-8")
        elif stamp.exists():
            stamp.unlink()
    report.seconds = time.monotonic() - started
    return report
