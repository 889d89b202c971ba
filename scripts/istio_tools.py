#!/usr/bin/env python3
"""istioctl and the mesh test program from the pinned istio.io/istio module: the command line of
handbook.istio_tools (subcommands build, path; see --help).

Needs the project's .venv (`make setup`): it re-runs itself with .venv/bin/python when started
by another Python.
"""

from __future__ import annotations

import sys

try:
    from handbook.istio_tools import main
except ImportError as missing:  # not the project's Python: use the .venv that `make setup` made
    from project_python import rerun_in_venv

    rerun_in_venv("istio_tools.py", missing)

if __name__ == "__main__":
    sys.exit(main())
