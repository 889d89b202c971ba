"""The platforms the lab runs on, their cluster CLIs and labels: the one place that lists them.

A step names the platforms it applies to (``platforms: [openshift]``); the pages show the
default platform; ``apply.py --platform`` picks one and ``--cli`` one of the cluster CLIs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Platform:
    id: str  # what stage.yaml and --platform say
    label: str  # what the pages say
    cli: str  # the cluster CLI a reader of this platform types


_ALL = (
    Platform("openshift", "OpenShift", "oc"),
    Platform("kubernetes", "Kubernetes", "kubectl"),
)

PLATFORMS: tuple[str, ...] = tuple(p.id for p in _ALL)
DEFAULT_PLATFORM = PLATFORMS[0]  # what the pages show and apply.py assumes without --platform
DEFAULT_CLI: dict[str, str] = {p.id: p.cli for p in _ALL}
PLATFORM_LABELS: dict[str, str] = {p.id: p.label for p in _ALL}
# argv[0] of a command that means "the cluster CLI": replaced by the reader's CLI.
CLUSTER_CLIS: tuple[str, ...] = tuple(dict.fromkeys(p.cli for p in _ALL))
# Subcommands that only `oc` has; a step using one cannot run with --cli kubectl.
OC_ONLY_SUBCOMMANDS = frozenset({"new-project", "project", "projects", "whoami", "adm", "login", "expose", "new-app"})
