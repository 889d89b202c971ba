"""Talking to a cluster: the command runner, the chosen CLI, and what its errors mean."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .errors import CliMissingError, ClusterUnreachableError, LabError, NotLoggedInError
from .platforms import CLUSTER_CLIS, DEFAULT_CLI
from .steps import Command

DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class SubprocessRunner:
    """Runs an argv without a shell, feeding ``stdin`` and capturing both outputs."""

    def run(self, argv: Sequence[str], stdin: str | None = None, timeout: float | None = None) -> Result:
        try:
            completed = subprocess.run(  # noqa: S603 - argv list, never a shell
                list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
            )
        except FileNotFoundError as exc:
            raise CliMissingError(f"{argv[0]}: command not found on PATH") from exc
        except subprocess.TimeoutExpired:
            return Result(124, "", f"timed out after {timeout:.0f}s")
        return Result(completed.returncode, completed.stdout, completed.stderr)


def detect_cli(platform: str, requested: str | None, which: Callable[[str], str | None] = shutil.which) -> str:
    """The cluster CLI to use: --cli if given, else the platform's usual one, else the other one."""
    if requested:
        if requested not in CLUSTER_CLIS:
            raise CliMissingError(f"--cli {requested}: expected one of {', '.join(CLUSTER_CLIS)}")
        if not which(requested):
            raise CliMissingError(f"--cli {requested}: {requested} is not on PATH; install it or choose the other CLI")
        return requested
    preferred = DEFAULT_CLI[platform]
    for candidate in (preferred, *[c for c in CLUSTER_CLIS if c != preferred]):
        if which(candidate):
            return candidate
    raise CliMissingError(
        "neither oc nor kubectl is on PATH: install the OpenShift CLI (oc) from your cluster's "
        "web console (? > Command line tools), or kubectl, then run again"
    )


_NOT_LOGGED_IN = (
    "unauthorized",
    "must be logged in",
    "provide credentials",
    "current-context is not set",
    "no configuration has been provided",
    "invalid configuration",
    "token has expired",
    "forbidden: user \"system:anonymous\"",
)
_UNREACHABLE = (
    "unable to connect to the server",
    "connection refused",
    "no such host",
    "i/o timeout",
    "timed out",
    "no route to host",
    "tls handshake timeout",
    "context deadline exceeded",
    "connection reset",
)


def classify_failure(what: str, result: Result) -> LabError:
    """Turn a failed CLI call into the error class a person can act on."""
    text = (result.stderr or result.stdout).strip()
    lower = text.lower()
    if any(marker in lower for marker in _NOT_LOGGED_IN):
        return NotLoggedInError(
            f"{what}: not logged in to the cluster ({_first_line(text)}). "
            "Log in first, e.g. `oc login --token=... --server=https://api.<cluster>:6443`, then run again"
        )
    if any(marker in lower for marker in _UNREACHABLE):
        return ClusterUnreachableError(
            f"{what}: the cluster does not answer ({_first_line(text)}). "
            "Check the server address in your kubeconfig (`oc whoami --show-server`) and your network"
        )
    return ClusterUnreachableError(f"{what} failed with exit code {result.returncode}: {_first_line(text)}")


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "no output"


@dataclass
class Session:
    """One cluster, reached through one CLI, possibly with a named kubeconfig context."""

    runner: SubprocessRunner
    cli: str
    context: str | None = None
    calls: int = field(default=0)

    def prepare(self, command: Command) -> Command:
        return command.for_cli(self.cli).with_context(self.context)

    def run(self, command: Command, timeout: float | None = DEFAULT_TIMEOUT) -> Result:
        prepared = self.prepare(command)
        self.calls += 1
        return self.runner.run(prepared.argv, stdin=prepared.stdin, timeout=timeout)
