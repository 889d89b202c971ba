"""For the scripts in this folder: re-run a script with the project's .venv Python when it was
started by another Python that cannot import the project (``make setup`` makes the .venv)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

VENV_PYTHON = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"


def rerun_in_venv(script: str, missing: ImportError) -> NoReturn:
    """Replace this process with the same script under .venv/bin/python, or exit saying what to run."""
    if VENV_PYTHON.exists() and Path(sys.executable) != VENV_PYTHON:
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.argv])  # noqa: S606 - same script, same arguments
    sys.exit(f"{script}: {missing}; run `make setup` first (it installs the project into .venv)")
