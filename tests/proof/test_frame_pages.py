"""The teaching frame on the built pages: every solution and look block, on every platform, equals what
`apply.py exercise stage-N --dry-run` and `apply.py troubleshoot stage-N --dry-run` print; a stage page
without the frame macros, or with them elsewhere, does not build."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.apply_cli import FIXTURE_LAB, REPO, make_fake_cli, run_apply
from support.shell_batch import run_batch, stage_cases
from support.site_build import build
from support.site_html import built_page, page_blocks, stage_pages
from test_site import PAGE, small_project

from handbook.blocks import split_dry_run
from handbook.frame_pages import page_block_for
from handbook.lab import Lab
from handbook.plan import exercise_plan, troubleshoot_plan
from handbook.platforms import PLATFORMS
from handbook.stages import Stage


def frame_differences(stage: Stage, shown: dict[str, dict], platform: str, env: dict[str, str]) -> list[str]:
    """Where the page's solution and look blocks for ``platform`` differ from the two dry runs."""
    problems: list[str] = []
    for command, steps in (("exercise", stage.frame.solution), ("troubleshoot", stage.frame.looks)):
        if not steps:
            continue
        result = run_apply([command, stage.id, "--dry-run", "--platform", platform], env)
        assert result.returncode == 0, result.stderr
        printed = split_dry_run(result.stdout)
        expected = {s.ref for s in steps if s.applies_to(platform) and s.kind != "manual"}
        assert set(printed) - {f"{stage.id}/export"} == expected, f"apply.py {command} prints every block"
        for ref in sorted(expected):
            block = page_block_for(shown, ref, platform)
            if block is None:
                problems.append(f"{ref}: printed by `apply.py {command} --platform {platform}`, not on the page")
            elif block["text"] != printed[ref]:
                problems.append(f"{ref}: the page's {platform} block and `apply.py {command} --dry-run` differ")
        for step in steps:
            if not step.applies_to(platform) and shown.get(f"{step.ref}@{platform}"):
                problems.append(f"{step.ref}: shown for {platform}, which it does not apply to")
    return problems


@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("frame")
    result = build(small_project(tmp), tmp / "site", FIXTURE_LAB)
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp / "site"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_fixture_frame_blocks_equal_the_dry_runs(fixture_site: Path, platform: str) -> None:
    stage = Lab.load(FIXTURE_LAB).stage("stage-1")
    shown = page_blocks((fixture_site / "index.html").read_text(encoding="utf-8"))
    assert frame_differences(stage, shown, platform, dict(os.environ, LAB_MANIFESTS_DIR=str(FIXTURE_LAB))) == []


def test_fixture_frame_shows_every_part(fixture_site: Path) -> None:
    page = (fixture_site / "index.html").read_text(encoding="utf-8")
    for text in ("このステージのゴール", "約 5 分", "まとめ", "確認問題", "<summary>答え</summary>",
                 "やってみよう: web にメモを付ける", "<summary>ヒント</summary>", "解答例", "うまくいかないとき",
                 "症状: web の Pod が Pending のままです。", "対処"):
        assert text in page, text
    assert page.index("lab-frame-intro") < page.index('data-ref="stage-1/export"')
    assert page.index('data-ref="stage-1/catch-up"') < page.index("lab-frame-outro")


def test_a_changed_frame_block_is_caught(fixture_site: Path) -> None:
    """The comparison above can fail: one look block changed on the page is named."""
    stage = Lab.load(FIXTURE_LAB).stage("stage-1")
    shown = page_blocks((fixture_site / "index.html").read_text(encoding="utf-8"))
    shown["stage-1/pod-pending@kubernetes"] = {**shown["stage-1/pod-pending@kubernetes"], "text": "kubectl get pods"}
    assert frame_differences(stage, shown, "kubernetes", dict(os.environ, LAB_MANIFESTS_DIR=str(FIXTURE_LAB))) == [
        "stage-1/pod-pending: the page's kubernetes block and `apply.py troubleshoot --dry-run` differ"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_real_frame_blocks_equal_the_dry_runs(site: Path, platform: str) -> None:
    lab = Lab.load()
    pages = stage_pages(REPO / "docs")
    problems: list[str] = []
    for stage in lab.stages:
        shown = page_blocks(built_page(site, pages[stage.id]))
        problems += frame_differences(stage, shown, platform, dict(os.environ))
    assert problems == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{{ stage_intro() }}\n", "", "add {{ stage_intro() }}"),
        ("\n{{ stage_outro() }}\n", "\n", "add {{ stage_outro() }}"),
        ("# demo\n\n{{ stage_intro() }}\n", "# demo\n\nはじめに。\n\n{{ stage_intro() }}\n",
         "put {{ stage_intro() }} right after the page's H1"),
        ("{{ stage_outro() }}\n", "{{ stage_outro() }}\n\nおわり。\n", "put {{ stage_outro() }} as the last line"),
        ("{{ stage_outro() }}\n", "{{ stage_outro() }}\n{{ stage_outro() }}\n", "{{ stage_outro() }} appears twice"),
    ],
)
def test_a_page_without_its_frame_does_not_build(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in PAGE
    result = build(small_project(tmp_path, PAGE.replace(old, new)), tmp_path / "site", FIXTURE_LAB)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in output and "docs/index.md" in output


@pytest.mark.schemas
def test_an_invalid_solution_manifest_fails_the_build(tmp_path: Path) -> None:
    """Solution manifests are validated with every other manifest before any page renders."""
    lab = tmp_path / "lab"
    shutil.copytree(FIXTURE_LAB, lab)
    note = lab / "stage-1-demo" / "exercise-note.yaml"
    note.write_text(note.read_text(encoding="utf-8").replace("\ndata:", "\ndta:"), encoding="utf-8")
    result = build(small_project(tmp_path), tmp_path / "site", lab, real_validation=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "exercise-note.yaml: document 1 (ConfigMap web-note)" in output and "`dta`" in output


def frame_labs() -> list[tuple[str, str]]:
    """(lab, platform) for every lab whose stages have an exercise or troubleshooting."""
    labs = {"fixture": FIXTURE_LAB, "real": None}
    found = []
    for name, root in labs.items():
        lab = Lab.load(root) if root else Lab.load()
        if any(stage.frame.exercise or stage.frame.looks for stage in lab.stages):
            found += [(name, platform) for platform in PLATFORMS]
    return found


@pytest.mark.parametrize(("lab_name", "platform"), frame_labs())
def test_pasted_frame_blocks_run_what_apply_runs(tmp_path: Path, bash: str, lab_name: str, platform: str) -> None:
    """Each solution and look block of every stage, pasted into one bash (fake CLI; support/shell_batch.py
    names the one block that differs), runs exactly the command apply.py exercise / troubleshoot runs."""
    lab = Lab.load(FIXTURE_LAB) if lab_name == "fixture" else Lab.load()
    values = lab.variables.resolve({"LAB_USER": "reader-7", "APPS_DOMAIN": "apps.paste.example"})
    cases = []
    for stage in lab.stages:
        plans = (exercise_plan(stage) if stage.frame.exercise else []) + (
            troubleshoot_plan(stage) if stage.frame.looks else [])
        for plan in plans:
            cases += stage_cases(lab, plan, platform, values)
    report = run_batch(bash, make_fake_cli(tmp_path), cases, values)
    assert cases and report.ran == [c.name for c in cases]
    assert report.failures == {}
