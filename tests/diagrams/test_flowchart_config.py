"""The shared flowchart header: every generated diagram keeps its own size and a narrow layout."""

from __future__ import annotations

import pytest
import yaml

from handbook.diagrams.mermaid import LAYOUT, flowchart


def test_header_is_front_matter_that_mermaid_reads() -> None:
    lines = flowchart("TB", wrappingWidth=120)
    assert lines[0] == "---" and lines[-1] == "flowchart TB"
    config = yaml.safe_load("\n".join(lines[1:lines.index("---", 1)]))
    assert config == {"config": {"flowchart": {"useMaxWidth": False, **LAYOUT, "wrappingWidth": 120}}}


def test_bad_direction_and_unknown_option_are_errors() -> None:
    with pytest.raises(ValueError, match="use TB"):
        flowchart("RL")
    with pytest.raises(ValueError, match="unknown layout option"):
        flowchart("TB", nodeSpace=3)
