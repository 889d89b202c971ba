"""Less noise on the page: long manifests fold with their 注目点, repeated steps share one block, nothing twice.

The learner's word for an observation step is 「見るだけ」; the old label 「デモ」 appears nowhere on the site.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from support.apply_cli import FIXTURE_LAB, REPO, run_apply
from support.site_build import build
from support.site_html import built_page, page_blocks, stage_pages
from test_site import PAGE, small_project

from handbook.blocks import FOLD_LINES, focus_problems, learner_cleanup_block, manifest_lines, split_dry_run
from handbook.lab import Lab
from handbook.platforms import PLATFORMS

OLD_WORD = "デモ"


def site_pages(site: Path) -> dict[str, str]:
    """Page name -> built HTML, for every page of the site (search excluded)."""
    pages = {"index": (site / "index.html").read_text(encoding="utf-8")}
    for path in sorted(site.glob("*/index.html")):
        if path.parent.name != "search":
            pages[path.parent.name] = path.read_text(encoding="utf-8")
    return pages


# --- folding ------------------------------------------------------------------------------------

def test_long_manifests_fold_and_short_ones_do_not(site: Path) -> None:
    """Every apply/patch block whose manifest is longer than FOLD_LINES is folded; no other block is."""
    lab = Lab.load()
    pages = stage_pages(REPO / "docs")
    wrong = []
    folded_seen = 0
    for stage in lab.stages:
        shown = page_blocks(built_page(site, pages[stage.id]))
        body = {s.ref for s in stage.steps}  # the outro's solution is folded as a whole
        for ref, block in shown.items():
            if ref not in body:
                continue
            ids = block["group"].split() or [ref.split("/", 1)[1]]
            lines = sum(manifest_lines(stage.step(i)) for i in ids)
            folded_seen += bool(block["folded"])
            if bool(block["folded"]) != (lines > FOLD_LINES):
                wrong.append(f"docs/{pages[stage.id]}.md: {ref} ({lines} manifest lines), folded: {block['folded']!r}")
    assert wrong == []
    assert folded_seen >= 5, "the lab has long manifests: some blocks must fold"


def test_every_long_manifest_says_what_to_look_at() -> None:
    """A folded manifest carries 1-3 `focus` lines (注目点); the list names each step that lacks them."""
    problems = focus_problems(Lab.load())
    assert problems == [], "\n".join(problems)


def test_focus_check_names_the_step_and_the_fix(tmp_path: Path) -> None:
    assert focus_problems(Lab.load(FIXTURE_LAB)) == []
    lab = tmp_path / "lab"
    shutil.copytree(FIXTURE_LAB, lab)
    stage = lab / "stage-1-demo" / "stage.yaml"
    text = stage.read_text(encoding="utf-8")
    without = re.sub(r"    focus:\n(      - .*\n)+", "", text)
    assert without != text
    stage.write_text(without, encoding="utf-8")
    problems = focus_problems(Lab.load(lab))
    assert len(problems) == 1
    assert "stage-1-demo/stage.yaml: step deploy-web: web.yaml has 31 lines" in problems[0]
    assert "add `focus:`" in problems[0]


def test_folded_block_shows_its_focus_above_and_the_whole_block_inside(tmp_path: Path) -> None:
    """The fixture's 31-line web.yaml: 注目点 first, then the file name as the fold's title, then the block."""
    site = tmp_path / "site"
    result = build(small_project(tmp_path), site, FIXTURE_LAB)
    assert result.returncode == 0, result.stderr
    page = (site / "index.html").read_text(encoding="utf-8")
    block = page_blocks(page)["stage-1/deploy-web"]
    env = dict(os.environ, LAB_MANIFESTS_DIR=str(FIXTURE_LAB))
    printed = split_dry_run(run_apply(["stage-1", "--only", "--dry-run"], env).stdout)
    assert block["folded"] and block["text"] == printed["stage-1/deploy-web"]
    html = page[page.index('data-ref="stage-1/deploy-web"') : page.index('data-ref="stage-1/expose-web"')]
    marks = ('class="lab-focus"', '<summary><span class="filename">web.yaml</span> (31 行)</summary>', "<pre")
    focus, summary, code = (html.index(mark) for mark in marks)
    assert focus < summary < code
    assert "Service はポート 80 で受け" in html[focus:summary]
    route = page_blocks(page)["stage-1/expose-web"]
    assert not route["folded"], "an 11-line manifest stays open"


# --- grouped steps ------------------------------------------------------------------------------

GROUP_LAB_STEP = """  - id: web-available
    wait:
      for: condition=Available
      resource: deployment
      name: web
      namespace: "${APP_NS}"
      timeout: 60s
"""


def group_lab(tmp_path: Path) -> Path:
    """The fixture lab with a wait right after deploy-web, so that the two can share a block."""
    lab = tmp_path / "lab"
    shutil.copytree(FIXTURE_LAB, lab)
    stage = lab / "stage-1-demo" / "stage.yaml"
    text = stage.read_text(encoding="utf-8")
    stage.write_text(text.replace("  - id: expose-web\n", GROUP_LAB_STEP + "  - id: expose-web\n"), encoding="utf-8")
    return lab


GROUP_PAGE = PAGE.replace('{{ step("deploy-web") }}', '{{ steps("deploy-web", "web-available", title="web を作る") }}')


def test_group_block_is_the_dry_run_blocks_joined(tmp_path: Path) -> None:
    lab = group_lab(tmp_path)
    site = tmp_path / "site"
    result = build(small_project(tmp_path, GROUP_PAGE), site, lab)
    assert result.returncode == 0, result.stderr
    page = (site / "index.html").read_text(encoding="utf-8")
    shown = page_blocks(page)
    printed = split_dry_run(run_apply(["stage-1", "--only", "--dry-run"], dict(os.environ, LAB_MANIFESTS_DIR=str(lab))
                                      ).stdout)
    group = shown["stage-1/deploy-web"]
    assert group["group"] == "deploy-web web-available" and "stage-1/web-available" not in shown
    assert group["text"] == printed["stage-1/deploy-web"] + "\n" + printed["stage-1/web-available"]
    assert group["folded"] and "<summary>web を作る</summary>" in page
    assert 'id="step-web-available"' in page, "a link to any step of the group lands on the group"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('{{ steps("web-available", "deploy-web") }}', "must name consecutive steps"),
        ('{{ steps("deploy-web", "web-available", "expose-web") }}', "run on different platforms"),
        ('{{ steps("deploy-web") }}', "a group needs two steps or more"),
    ],
)
def test_bad_group_fails_the_build(tmp_path: Path, call: str, message: str) -> None:
    lab = group_lab(tmp_path)
    page = PAGE.replace('{{ step("deploy-web") }}', call)
    if "expose-web" in call:
        page = page.replace('{{ step("expose-web") }}\n', "")
    else:
        page = page.replace('{{ step("expose-web") }}', '{{ step("web-available") }}\n{{ step("expose-web") }}'
                            if call.endswith('("deploy-web") }}') else '{{ step("expose-web") }}')
    result = build(small_project(tmp_path, page), tmp_path / "site", lab)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr and "docs/index.md" in result.stdout + result.stderr


def test_check_steps_keep_their_own_block(tmp_path: Path) -> None:
    page = PAGE.replace('{{ step("wait-web") }}\n{{ step("web-answers") }}', '{{ steps("wait-web", "web-answers") }}')
    result = build(small_project(tmp_path, page), tmp_path / "site", FIXTURE_LAB)
    assert result.returncode != 0
    assert "web-answers cannot share a block" in result.stdout + result.stderr


def test_stages_3_and_8_show_their_patch_and_wait_pairs_as_one_block(site: Path) -> None:
    pages = stage_pages(REPO / "docs")
    for stage_id, first, pairs in [("stage-3", "inject-catalogue-db", 13), ("stage-8", "use-account-session-db", 15)]:
        shown = page_blocks(built_page(site, pages[stage_id]))
        groups = {ref: b["group"].split() for ref, b in shown.items() if b["group"]}
        assert list(groups) == [f"{stage_id}/{first}"], f"{stage_id}: one group block"
        ids = groups[f"{stage_id}/{first}"]
        assert len(ids) == 2 * pairs and all(i.startswith("wait-") for i in ids[1::2])


# --- nothing twice, and no 「デモ」 ---------------------------------------------------------------

def test_no_block_is_printed_twice_on_a_page(site: Path) -> None:
    """Two blocks of a page's body never carry the same commands unannounced: a repeat (the same check before
    and after a change) says so and links the first block, so a reader knows it is the same command run again.

    The outro (the exercise's folded solution and the troubleshooting looks) is left out: a solution may wait
    twice for the same rollout, and two symptoms may share the command that shows their cause.
    """
    lab = Lab.load()
    repeats = []
    for stage_id, stem in stage_pages(REPO / "docs").items():
        body = {s.ref for s in lab.stage(stage_id).steps} | {f"{stage_id}/export"}
        for platform in PLATFORMS:
            first: dict[str, str] = {}
            for ref, block in page_blocks(built_page(site, stem), platform).items():
                if ref not in body or block["kind"] == "manual":
                    continue
                if block["text"] not in first:
                    first[block["text"]] = ref.rpartition("/")[2]
                elif block["repeat_of"] != first[block["text"]]:
                    repeats.append(f"{stem} ({platform}): {ref} repeats {first[block['text']]} without saying so")
    assert repeats == [], "the same block more than once on a page:\n" + "\n".join(repeats)


def test_no_page_says_demo(site: Path) -> None:
    """Observation steps are 「見るだけ」; the word 「デモ」 is gone from every page (prose, notes and titles)."""
    counts = {name: page.count(OLD_WORD) for name, page in site_pages(site).items()}
    left = {name: n for name, n in counts.items() if n}
    assert left == {}, f"「{OLD_WORD}」 on the built pages ({sum(left.values())} in all): {left}"


# --- the learner's clean-up ---------------------------------------------------------------------

def test_cleanup_page_shows_only_the_learners_short_block(site: Path) -> None:
    """One block per platform tab, exactly learner_cleanup_block; the generated resets are not on the page."""
    lab = Lab.load()
    shown = page_blocks(built_page(site, "cleanup"))
    assert sorted(shown) == [f"cleanup/{p}" for p in sorted(PLATFORMS)]
    for platform in PLATFORMS:
        assert shown[f"cleanup/{platform}"]["text"] == learner_cleanup_block(lab, platform).text


def test_learner_pages_link_the_instructor_guide_once(site: Path) -> None:
    pages = site_pages(site)
    assert "instructor" in pages, "docs/instructor.md is built (mkdocs.yml nav)"
    article = re.compile(r'<article class="md-content__inner md-typeset">(.*?)</article>', re.DOTALL)
    links = {name: len(re.findall(r'<a href="[^"#]*instructor/[^"]*"', article.search(page).group(1)))
             for name, page in pages.items() if name != "instructor"}
    assert sum(links.values()) == 1 and links["index"] == 1, links
