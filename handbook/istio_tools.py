"""Istio's own control plane as the judge of the lab: istioctl and our config-generation test program.

    python3 scripts/istio_tools.py build     # build, or reuse, .cache/istio-bin/<version>/
    python3 scripts/istio_tools.py path      # print the folder that holds the two binaries

Both come from the Go module in tools/istio/, which pins ``istio.io/istio`` at one pseudo-version
(see tools/istio/README.md for which and why):

- ``istioctl`` (``istio.io/istio/istioctl/cmd/istioctl``): ``analyze`` and ``kube-inject`` offline;
- ``meshtest.test``, our ``_test.go`` package in tools/istio/meshtest compiled with ``go test -c``:
  it feeds a snapshot of a stage's end state to Istio's fake discovery server (pilot/test/xds) and
  checks the claims that tests/istio/claims.py derives from the manifests.

The binaries are cached with a stamp of go.mod, go.sum, the Go version, this recipe and the test
program's sources; a warm run builds nothing. A lock file serialises concurrent builds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .file_lock import locked

REPO = Path(__file__).resolve().parent.parent
MODULE = REPO / "tools" / "istio"
CACHE = REPO / ".cache" / "istio-bin"
RECIPE_REVISION = "1"
ISTIO_MODULE = "istio.io/istio"


class ToolsError(RuntimeError):
    """The Istio tools could not be built; the message says what to do."""


@dataclass(frozen=True)
class Target:
    name: str
    argv: tuple[str, ...]  # after `go`, without -o
    sources: tuple[str, ...] = ()  # globs under tools/istio whose content is part of the stamp


TARGETS = (
    Target("istioctl", ("build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w",
                        "istio.io/istio/istioctl/cmd/istioctl")),
    Target("meshtest.test", ("test", "-c", "-vet=off", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "./meshtest"),
           ("meshtest/*.go",)),
)


def istio_version() -> str:
    """The pinned pseudo-version of istio.io/istio, read from tools/istio/go.mod."""
    for line in (MODULE / "go.mod").read_text(encoding="utf-8").splitlines():
        words = line.split()
        if ISTIO_MODULE in words:
            return words[words.index(ISTIO_MODULE) + 1]
    raise ToolsError(f"tools/istio/go.mod does not require {ISTIO_MODULE}")


def bin_dir() -> Path:
    return CACHE / istio_version()


def binary(name: str) -> Path:
    """The path of a built binary; raises with the command to run when it is missing."""
    path = bin_dir() / name
    if not path.is_file():
        raise ToolsError(f"{path} is missing: run `python3 scripts/istio_tools.py build` (or `make istio-bin`)")
    return path


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolsError("the `go` command is not on PATH; it builds istioctl and the mesh test program once")
    return go


def _stamp(go: str, target: Target) -> str:
    version = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)  # noqa: S603
    digest = hashlib.sha256(f"{RECIPE_REVISION}\n{version.stdout.strip()}\n{' '.join(target.argv)}\n".encode())
    for name in ("go.mod", "go.sum"):
        digest.update((MODULE / name).read_bytes())
    for pattern in target.sources:
        for path in sorted(MODULE.glob(pattern)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@dataclass
class BuildReport:
    directory: Path
    built: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        if not self.built:
            return f"istio tools already built: {self.directory} (nothing to do, {self.seconds:.1f}s)"
        parts = ", ".join(f"{name} {secs:.0f}s" for name, secs in self.built.items())
        return f"built {self.directory} in {self.seconds:.0f}s: {parts}"


def build(*, force: bool = False, log=sys.stderr) -> BuildReport:  # noqa: ANN001 - a text stream
    started = time.monotonic()
    go = _go()
    target_dir = bin_dir()
    report = BuildReport(target_dir)
    with locked(CACHE / ".lock"):
        target_dir.mkdir(parents=True, exist_ok=True)
        stamps_file = target_dir / "stamp.json"
        stamps = json.loads(stamps_file.read_text(encoding="utf-8")) if stamps_file.is_file() else {}
        # -mod=readonly: go.sum must already hold every hash (nothing is resolved anew at build time).
        env = dict(os.environ, CGO_ENABLED="0", GOFLAGS=f"{os.environ.get('GOFLAGS', '')} -mod=readonly".strip())
        for target in TARGETS:
            key = _stamp(go, target)
            if not force and stamps.get(target.name) == key and (target_dir / target.name).is_file():
                continue
            partial = target_dir / f".{target.name}.partial"
            argv = [go, *target.argv[:1], "-o", str(partial), *target.argv[1:]]
            print(f"istio_tools: building {target.name} ...", file=log, flush=True)
            began = time.monotonic()
            result = subprocess.run(argv, cwd=MODULE, env=env, capture_output=True, text=True, check=False)  # noqa: S603
            if result.returncode != 0:
                raise ToolsError(f"`cd tools/istio && {' '.join(argv[1:])}` exited {result.returncode}: "
                                 + (result.stderr.strip()[-3000:] or "no output"))
            os.replace(partial, target_dir / target.name)
            report.built[target.name] = time.monotonic() - began
            stamps[target.name] = key
            stamps_file.write_text(json.dumps(stamps, indent=1), encoding="utf-8")
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("build", "path"))
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(build(force=args.force).summary())
        else:
            print(bin_dir())
    except ToolsError as exc:
        print(f"istio_tools: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
