"""Progress lines: one per step, updated in place on a terminal, plain when piped."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self._label = ""
        self._started = 0.0

    def begin(self, index: int, total: int, label: str) -> None:
        width = len(str(total))
        self._label = f"[{index:>{width}}/{total}] {label}"
        self._started = time.monotonic()
        if self.tty:
            self.stream.write(f"{self._label} ...")
            self.stream.flush()

    def end(self, outcome: str) -> None:
        elapsed = time.monotonic() - self._started
        line = f"{self._label}: {outcome} ({elapsed:.1f}s)"
        if self.tty:
            colour = "32" if outcome in ("ok", "pass") else "33" if outcome.startswith("skip") else "31"
            line = f"\r\033[K{self._label}: \033[{colour}m{outcome}\033[0m ({elapsed:.1f}s)"
        self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
