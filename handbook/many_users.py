"""Preparing many users at once (an instructor's `apply.py stage-2 --users user1-user30`).

Each user's plan runs in its own worker with its own values; a failure stops only that user,
who is retried alone once everyone else has finished. A summary table closes the run.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TextIO

from .errors import LabError, UsageError

_RANGE = re.compile(r"(?P<prefix>[a-z][-a-z0-9]*?)(?P<first>\d+)-(?P=prefix)(?P<last>\d+)")


def parse_users(text: str) -> list[str]:
    """``user1-user30`` (a numbered range) or ``alice,bob`` (a list), or both: ``user1-user3,alice``."""
    users: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        match = _RANGE.fullmatch(part)
        if match:
            first, last = int(match["first"]), int(match["last"])
            if last < first:
                raise UsageError(f"--users {part}: the range runs backwards")
            if last - first >= 500:
                raise UsageError(f"--users {part}: at most 500 users in one range")
            users.extend(f"{match['prefix']}{n}" for n in range(first, last + 1))
        else:
            users.append(part)
    if not users:
        raise UsageError("--users needs names, e.g. --users user1-user30 or --users alice,bob")
    duplicates = sorted({u for u in users if users.count(u) > 1})
    if duplicates:
        raise UsageError(f"--users names {', '.join(duplicates)} more than once")
    return users


@dataclass
class UserOutcome:
    user: str
    ok: bool = False
    steps: int = 0
    seconds: float = 0.0
    calls: int = 0
    attempts: int = 0
    error: str = ""


class MultiProgress:
    """One line per user: redrawn in place on a terminal, plain `user: ...` lines when piped."""

    def __init__(self, users: list[str], stream: TextIO, *, tty: bool | None = None):
        self.users = users
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.lines = {u: "waiting" for u in users}
        self.lock = threading.Lock()
        self.drawn = False
        self.width = max(len(u) for u in users)

    def update(self, user: str, text: str, *, final: bool = False) -> None:
        with self.lock:
            self.lines[user] = text
            if self.tty:
                if self.drawn:
                    self.stream.write(f"\033[{len(self.users)}F")
                for name in self.users:
                    self.stream.write(f"\033[K{name:<{self.width}}  {self.lines[name]}\n")
                self.drawn = True
            elif final:
                self.stream.write(f"{user:<{self.width}}  {text}\n")
            self.stream.flush()

    def for_user(self, user: str) -> UserProgress:
        return UserProgress(self, user)


class UserProgress:
    """The single-user Progress interface (begin/end/note), reporting into one MultiProgress line."""

    def __init__(self, multi: MultiProgress, user: str):
        self.multi = multi
        self.user = user
        self.label = ""

    def begin(self, index: int, total: int, label: str) -> None:
        self.label = f"[{index}/{total}] {label}"
        self.multi.update(self.user, self.label + " ...")

    def end(self, outcome: str) -> None:
        self.multi.update(self.user, f"{self.label}: {outcome}")

    def note(self, text: str) -> None:
        self.multi.update(self.user, text)


def run_many(
    users: list[str],
    run_one: Callable[[str, UserProgress], UserOutcome],
    multi: MultiProgress,
    parallel: int,
) -> list[UserOutcome]:
    """Run every user with at most ``parallel`` at a time, then retry each failed user alone, once."""

    def attempt(user: str) -> UserOutcome:
        started = time.monotonic()
        try:
            outcome = run_one(user, multi.for_user(user))
        except LabError as exc:
            outcome = UserOutcome(user, ok=False, error=str(exc))
        outcome.seconds = time.monotonic() - started
        outcome.attempts = 1
        multi.update(user, "ok" if outcome.ok else "FAILED: " + outcome.error.splitlines()[0], final=True)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        outcomes = list(pool.map(attempt, users))
    for i, outcome in enumerate(outcomes):
        if not outcome.ok:
            retry = attempt(outcome.user)
            retry.attempts = 2
            retry.seconds += outcome.seconds
            retry.calls += outcome.calls
            outcomes[i] = retry
    return outcomes


@dataclass
class Summary:
    outcomes: list[UserOutcome]
    wall_seconds: float

    def table(self) -> str:
        width = max(len("user"), *(len(o.user) for o in self.outcomes))
        lines = [f"{'user':<{width}}  result          steps  calls  seconds", "-" * (width + 40)]
        for o in self.outcomes:
            result = "ok" if o.ok and o.attempts == 1 else "ok after retry" if o.ok else "FAILED"
            lines.append(f"{o.user:<{width}}  {result:<14}  {o.steps:>5}  {o.calls:>5}  {o.seconds:>7.1f}")
        failed = [o for o in self.outcomes if not o.ok]
        count = len(self.outcomes)
        calls = sum(o.calls for o in self.outcomes) / max(1, count)
        lines.append(
            f"{count - len(failed)}/{count} users ready in {self.wall_seconds:.1f}s; "
            f"{calls:.1f} CLI calls per user"
        )
        for o in failed:
            lines.append(f"{o.user}: {o.error}")
        return "\n".join(lines)
