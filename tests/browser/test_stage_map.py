"""The home page's stage map and the form's data, without a browser (no ``browser`` marker)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handbook.blocks import export_block
from handbook.errors import DefinitionError
from handbook.lab import Lab
from handbook.reader_form import reader_values
from handbook.stage_map import join_lines, render_stage_map, stage_pages

from .harness import REPO

FIXTURE_LAB = REPO / "tests" / "fixtures" / "lab"


def test_stage_map_shows_each_stage_with_time_audience_and_prerequisites() -> None:
    lab = Lab.load(FIXTURE_LAB)
    markdown = render_stage_map(lab, {"stage-1": "stage-1.md"})
    cards = re.findall(r'<section class="lab-stage-card[^"]*" data-stage="([^"]+)"', markdown)
    assert cards == [s.id for s in lab.stages]
    first, second = markdown.split('data-stage="stage-2"')
    assert "### [ステージ 1: デモ](stage-1.md)" in first
    assert "約 5 分" in first and "**前提**: なし" in first
    # stage-2 has no page yet: its title is plain text, and it builds on stage 1 (the previous learner stage)
    assert "### ステージ 2: 追加" in second
    assert "**前提**: [ステージ 1](stage-1.md)" in second
    assert f"全ステージでおよそ {sum(s.minutes for s in lab.stages)} 分" in markdown


def test_stage_map_marks_core_and_optional_stages_and_gives_both_totals() -> None:
    """The fixture's stage 1 is core (5 min), stage 2 optional (5 min): core path 5, full path 10."""
    lab = Lab.load(FIXTURE_LAB)
    assert [s.frame.core for s in lab.stages] == [True, False]
    markdown = render_stage_map(lab, {})
    first, second = markdown.split('data-stage="stage-2"')
    assert "コアコース (半日) でおよそ 5 分、全ステージでおよそ 10 分" in markdown
    assert 'lab-stage-card lab-audience-user lab-core"' in first and "**区分**: コア (半日コース)" in first
    assert 'lab-audience-user lab-optional"' in first.rsplit("<section", 1)[1]  # the tag of stage 2's card
    assert "**区分**: オプション" in second and "コア" not in second


def test_stage_map_links_are_relative_to_the_page() -> None:
    lab = Lab.load(FIXTURE_LAB)
    markdown = render_stage_map(lab, {"stage-1": "stages/one.md"}, from_page="guide/map.md")
    assert "](../stages/one.md)" in markdown


def test_every_real_stage_page_is_found(tmp_path: Path) -> None:
    pages = stage_pages(REPO / "docs")
    assert all((REPO / "docs" / page).is_file() for page in pages.values())
    (tmp_path / "a.md").write_text("---\nstage: stage-1\n---\n# A\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("---\nstage: stage-1\n---\n# B\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="b.md: stage: stage-1 is also the stage of docs/a.md"):
        stage_pages(tmp_path)


def test_join_lines_drops_the_space_yaml_folds_between_japanese_characters() -> None:
    folded = "Pod を作り直す\n必要があります。istio-proxy を\n  差し込みます。 Sock Shop の front-end"
    assert join_lines(folded) == "Pod を作り直す必要があります。istio-proxy を差し込みます。 Sock Shop の front-end"


@pytest.mark.parametrize("lab_dir", [None, FIXTURE_LAB], ids=["real", "fixture"])
def test_form_data_gives_the_export_lines_the_pages_print(lab_dir: Path | None) -> None:
    """default_text and discover_text are the right-hand sides of handbook's own export block."""
    lab = Lab.load(lab_dir) if lab_dir else Lab.load()
    data = reader_values(lab.variables)
    by_name = {v["name"]: v for v in data["variables"]}
    assert set(data["form"]) <= set(by_name)
    assert [v["name"] for v in data["variables"]] == lab.variables.closure(lab.variables.variables)
    for stage in lab.stages:
        for platform in (p["id"] for p in data["platforms"]):
            lines = export_block(lab, stage, platform).text.splitlines()
            exports = [line for line in lines if line.startswith("export ")]
            assert exports and lines[: len(exports)] == exports, "the block starts with its export lines"
            for line in exports:
                name, _, rhs = line.removeprefix("export ").partition("=")
                variable = by_name[name]
                # what replaces the variable's own default or derivation on this platform (SHOP_HOST on kind)
                variable = {**variable, **variable["on_platform"].get(platform, {})}
                if variable["derive"] is not None:
                    assert rhs == variable["derive"]
                else:
                    assert rhs == variable["discover_text"].get(platform, variable["default_text"]), line
