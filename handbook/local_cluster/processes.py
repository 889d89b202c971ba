"""Start, watch and stop the control plane's processes.

Each component runs in its own session (process group), so that stopping it also stops anything
it started; ``tie_to_parent`` adds Linux's PR_SET_PDEATHSIG, so that a test run that dies leaves
no orphan behind. A process is recognised by pid and executable, never by name alone, so that a
reused pid is never signalled.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .common import ClusterError

_PR_SET_PDEATHSIG = 1


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILL when the process that started us dies (Linux prctl).

    SIGKILL, not SIGTERM: all components get it at once, and a kube-apiserver that is asked to
    shut down gracefully after etcd is gone waits for etcd forever. stop() is the orderly way.
    """
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Process:
    name: str
    pid: int
    log: str
    executable: str
    popen: subprocess.Popen | None = None

    def as_state(self) -> dict:
        return {"name": self.name, "pid": self.pid, "log": self.log, "executable": self.executable}

    def alive(self) -> bool:
        return alive(self.pid, self.executable)

    def cpu_seconds(self) -> float:
        """User plus system CPU time so far (0 once it is gone)."""
        return cpu_seconds(self.pid)


def alive(pid: int, executable: str) -> bool:
    """True while ``pid`` is a running (not zombie) process of ``executable``; guards against pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        exe = os.readlink(f"/proc/{pid}/exe")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and exe.removesuffix(" (deleted)") == executable


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc/<pid>/stat (fields 14 and 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_tail(path: str | Path, lines: int = 25) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def spawn(name: str, argv: list[str], *, cwd: Path, log: Path, tie_to_parent: bool) -> Process:
    """Start ``argv`` in a new session with a bare environment, its output appended to ``log``."""
    with log.open("ab") as handle:
        popen = subprocess.Popen(  # noqa: S603 - argv list
            argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd,
            start_new_session=True,  # its own process group: stop() signals the group
            preexec_fn=_die_with_parent if tie_to_parent else None,  # noqa: PLW1509 - only prctl
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)},
        )
    return Process(name, popen.pid, str(log), str(Path(argv[0]).resolve()), popen)


def wait_until(what: str, process: Process, probe: Callable[[], bool], timeout: float) -> None:
    """Poll ``probe`` until it is true; fail with the end of the process's log if it exits or times out."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not process.alive():
            raise ClusterError(f"{process.name} exited while waiting for {what}; its log "
                               f"({process.log}) ends with:\n{log_tail(process.log)}")
        try:
            if probe():
                return
        except (OSError, ClusterError, subprocess.TimeoutExpired) as exc:
            last = str(exc)
        time.sleep(0.25)
    raise ClusterError(f"{what}: not ready after {timeout:.0f}s ({last or 'no answer'}); "
                       f"{process.name}'s log ({process.log}) ends with:\n{log_tail(process.log)}")


def terminate(process: Process, grace: float) -> bool:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds; True when it had to be killed."""
    if not process.alive():
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)  # start_new_session: its pid is its group id
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process.popen is not None and process.popen.poll() is not None:
            return False
        if process.popen is None and not process.alive():
            return False
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.popen is not None:
        process.popen.wait(timeout=10)
    return True
