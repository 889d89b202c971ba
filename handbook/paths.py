"""Where things are in the repository."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# LAB_MANIFESTS_DIR points the site build and apply.py at another lab (the tests use small fixture labs).
MANIFESTS_DIR = Path(os.environ.get("LAB_MANIFESTS_DIR") or REPO_ROOT / "manifests").resolve()


def relative(path: Path) -> str:
    """A repo-relative path for messages, or the path itself when it is outside the repo."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
