"""`mkdocs build --strict` of a project folder, for the tests that read the built site."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MKDOCS = [sys.executable, "-m", "mkdocs"]


def build(project: Path, site: Path, lab: Path | None = None, *, real_validation: bool = False
          ) -> subprocess.CompletedProcess:
    """Build ``project`` into ``site`` (with another lab folder, if given).

    ``real_validation``: validate with the real engine even when the fast tier replaced the
    validator through HANDBOOK_VALIDATOR.
    """
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    if real_validation:
        env.pop("HANDBOOK_VALIDATOR", None)
    if lab is not None:
        env["LAB_MANIFESTS_DIR"] = str(lab)
    return subprocess.run(  # noqa: S603 - fixed argv
        [*MKDOCS, "build", "--strict", "-f", str(project / "mkdocs.yml"), "-d", str(site)],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
