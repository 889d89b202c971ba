#!/usr/bin/env python3
"""A real Kubernetes control plane on 127.0.0.1 for the end-to-end tests: the command line of
handbook.local_cluster (subcommands build, start, env, crds, status, stop; see --help).

Needs the project's .venv (`make setup`): it re-runs itself with .venv/bin/python when started
by another Python.
"""

from __future__ import annotations

import sys

try:
    from handbook.local_cluster.cli import main
except ImportError as missing:  # not the project's Python: use the .venv that `make setup` made
    from project_python import rerun_in_venv

    rerun_in_venv("local_cluster.py", missing)

if __name__ == "__main__":
    sys.exit(main())
