"""YAML read with libyaml when PyYAML was built with it (about ten times faster), the same safe subset either way."""

from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """``yaml.safe_load``, through libyaml when it is there; raises ``yaml.YAMLError`` like it."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader, C or Python
