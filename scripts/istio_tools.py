#!/usr/bin/env python3
"""istioctl and the mesh test program from the pinned istio.io/istio module: the command line of
handbook.istio_tools (subcommands build, path; see --help).

Needs the project's .venv (`make setup`): it re-runs itself with .venv/bin/python when started
by another Python.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

try:
    from handbook.istio_tools import main
except ImportError as missing:  # not the project's Python: use the .venv that `make setup` made
    venv_python = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.executable) != venv_python:
        os.execv(venv_python, [str(venv_python), *sys.argv])  # noqa: S606 - same script, same arguments
    sys.exit(f"istio_tools.py: {missing}; run `make setup` first (it installs the project into .venv)")

if __name__ == "__main__":
    sys.exit(main())
