"""Paths, names and the one error type shared by the modules of the local control plane."""

from __future__ import annotations

from pathlib import Path

from ..paths import REPO_ROOT

MODULES = REPO_ROOT / "tools" / "cluster"  # the go.mod/go.sum pins of every binary
BIN_CACHE = REPO_ROOT / ".cache" / "cluster-bin"
DEFAULT_DIR = REPO_ROOT / ".cache" / "local-cluster"
STATE_FILE = "state.json"

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"  # the first address of SERVICE_CIDR: the `kubernetes` Service
NODE_NAME = "kwok-node-0"
NODE_ANNOTATION = "kwok.x-k8s.io/node"
# Users of the static token file (besides the admin, who authenticates with a client certificate).
# lab-user is the learner: no group, so only what RBAC bindings grant it by name.
TOKEN_USERS: dict[str, tuple[str, ...]] = {"lab-user": (), "lab-admin": ("system:masters",)}
LEARNER = "lab-user"


class ClusterError(RuntimeError):
    """Something the local cluster needs is missing or did not start; the message says what to do."""


def relative(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
