"""What a reader does: set their values, copy commands, search in Japanese, print a page."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.apply_cli import run_apply

from handbook.blocks import catch_up_block, split_dry_run, step_block
from handbook.errors import VariableError
from handbook.lab import Lab
from handbook.platforms import DEFAULT_CLI, PLATFORMS
from handbook.reader_form import FORM_VARIABLES
from handbook.stage_map import stage_pages
from handbook.stages import Stage

from .harness import REPO, SCREENSHOTS, browser_context, page_text, page_url, site_pages

pytestmark = pytest.mark.browser

# Values a reader might type; each is judged by handbook (Python) and by the form (JavaScript).
SAMPLES = [
    {"LAB_USER": "alice"},
    {"LAB_USER": "a"},
    {"LAB_USER": "user-42"},
    {"LAB_USER": "Alice"},
    {"LAB_USER": "-bob"},
    {"LAB_USER": "bob-"},
    {"LAB_USER": "user_1"},
    {"LAB_USER": "a" * 20},
    {"LAB_USER": "a" * 21},
    {"LAB_USER": "ユーザー"},
    {"LAB_USER": "alice\n"},
    {"APPS_DOMAIN": "apps.example.com"},
    {"APPS_DOMAIN": "apps.cluster-1.example.co.jp"},
    {"APPS_DOMAIN": "Apps.Example.com"},
    {"APPS_DOMAIN": "apps..example.com"},
    {"APPS_DOMAIN": "apps.example.com."},
    {"APPS_DOMAIN": "apps example.com"},
    {"APPS_DOMAIN": "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 50},
    {"APPS_DOMAIN": "x" * 254},
    {"LAB_USER": "carol", "APPS_DOMAIN": "apps.lab.internal"},
]

VALUES = {"LAB_USER": "mika", "APPS_DOMAIN": "apps.ocp.example.net"}


def _python_accepts(lab: Lab, chosen: dict[str, str]) -> bool:
    try:
        lab.variables.resolve(chosen)
    except VariableError:
        return False
    return True


def _stage_urls(base_url: str) -> dict[str, str]:
    return {
        stage_id: page_url(base_url, Path(page).with_suffix("").as_posix())
        for stage_id, page in stage_pages(REPO / "docs").items()
    }


def _paged_stages(lab: Lab) -> list[Stage]:
    """The stages that have a page (tests/proof/test_site.py fails for a stage without one)."""
    pages = stage_pages(REPO / "docs")
    stages = [stage for stage in lab.stages if stage.id in pages]
    assert stages, "no stage page in docs/"
    return stages


def _dry_run(stage_id: str, platform: str, values: dict[str, str] | None = None) -> dict[str, str]:
    args = [stage_id, "--only", "--dry-run", "--platform", platform]
    for name, value in (values or {}).items():
        args += ["--set", f"{name}={value}"]
    result = run_apply(args, dict(os.environ))
    assert result.returncode == 0, result.stderr
    return split_dry_run(result.stdout)


def _export_text(page: Any, platform: str = "openshift") -> str:
    """The export block in ``platform``'s tab (or outside tabs, when the platforms' blocks are the same)."""
    code = page.locator(
        f'.lab-export[data-platform="{platform}"] pre > code, .lab-export:not([data-platform]) pre > code'
    )
    return code.first.text_content().rstrip("\n")


def test_form_rules_match_apply_py(browser: Any, base_url: str) -> None:
    """The form refuses exactly the values that `apply.py --set` refuses (derived values included)."""
    lab = Lab.load()
    with browser_context(browser, base_url) as (context, recorder):
        page = context.new_page()
        page.goto(base_url)
        for chosen in SAMPLES:
            js_problems = page.evaluate("(chosen) => window.labValues.problems(chosen)", chosen)
            assert (not js_problems) == _python_accepts(lab, chosen), (chosen, js_problems)
        assert not recorder.errors, recorder.errors


def test_form_sets_values_on_every_page(browser: Any, base_url: str) -> None:
    lab = Lab.load()
    urls = _stage_urls(base_url)
    with browser_context(browser, base_url) as (context, recorder):
        page = context.new_page()
        page.goto(base_url)
        form = page.locator(".lab-values-slot form").first
        assert form.is_visible()

        # A bad value is refused with a message, and nothing is stored.
        form.locator('input[name="LAB_USER"]').fill("Bad_Name")
        form.locator('button[type="submit"]').click()
        assert form.locator("#lab-value-LAB_USER-error").inner_text().strip() != ""
        assert page.evaluate("__md_get('lab.values')") is None

        for name, value in VALUES.items():
            form.locator(f'input[name="{name}"]').fill(value)
        form.locator('input[name="platform"][value="openshift"]').check()
        form.locator('button[type="submit"]').click()
        assert form.locator("#lab-value-LAB_USER-error").inner_text().strip() == ""
        assert page.evaluate("__md_get('lab.values')") == VALUES

        # Every stage page, reached by a fresh navigation, shows them, with derived lines untouched.
        for stage in _paged_stages(lab):
            page.goto(urls[stage.id])
            expected = _dry_run(stage.id, "openshift", VALUES)[f"{stage.id}/export"]
            assert _export_text(page) == expected, stage.id
            for name in FORM_VARIABLES:
                if f"export {name}=" in expected:
                    assert f"export {name}={VALUES[name]}" in _export_text(page)

        # The platform choice reaches the next page too: Kubernetes has no discovery for the domain.
        page.goto(urls[_paged_stages(lab)[-1].id])
        panel = page.locator("details.lab-values").first
        panel.locator("summary").click()
        panel.locator('input[name="platform"][value="kubernetes"]').check()
        panel.locator('button[type="submit"]').click()
        tabbed = 0
        for stage in _paged_stages(lab):
            page.goto(urls[stage.id])
            for platform in PLATFORMS:  # each tab its own platform's block, whichever tab is open
                assert _export_text(page, platform) == _dry_run(stage.id, platform, VALUES)[f"{stage.id}/export"]
            if page.locator('.lab-export[data-platform="kubernetes"]').count():  # the blocks differ: tabs
                tabbed += 1
                assert page.locator('.lab-export[data-platform="kubernetes"]').first.is_visible(), stage.id
                assert not page.locator('.lab-export[data-platform="openshift"]').first.is_visible(), stage.id
        assert tabbed, "some stage's export block differs between the platforms (APPS_DOMAIN is discovered)"
        stage = _paged_stages(lab)[0]

        # Back to the defaults.
        page.goto(base_url)
        page.locator('.lab-values-slot [data-action="reset"]').click()
        page.goto(urls[stage.id])
        assert _export_text(page) == _dry_run(stage.id, "openshift")[f"{stage.id}/export"]
        assert not recorder.errors, recorder.errors


def _tab_label(block: Any) -> str | None:
    return block.evaluate(
        """(el) => {
             const panel = el.closest(".tabbed-block");
             if (!panel) return null;
             const index = [...panel.parentElement.children].indexOf(panel);
             const labels = panel.closest(".tabbed-set").querySelectorAll(":scope > .tabbed-labels > label");
             return labels[index].innerText.trim();
           }"""
    )


def _copy(page: Any, block: Any) -> str:
    """Click the block's copy button; a folded block (a long manifest) is opened first, as a reader would."""
    page.evaluate("navigator.clipboard.writeText('')")
    folded = block.locator(":scope > details")
    if folded.count() and not folded.first.evaluate("(el) => el.open"):
        folded.first.locator(":scope > summary").click()
    button = block.locator(
        ':scope > .highlight button[data-md-type="copy"], :scope > details > .highlight button[data-md-type="copy"]'
    ).first
    block.scroll_into_view_if_needed()
    button.click()
    page.wait_for_function("async () => (await navigator.clipboard.readText()) !== ''", polling=50, timeout=5000)
    return page.evaluate("navigator.clipboard.readText()")


def test_copy_button_copies_what_apply_py_runs(browser: Any, base_url: str) -> None:
    """Click every copy button of every stage page; the clipboard holds the block of `apply.py --dry-run`."""
    lab = Lab.load()
    urls = _stage_urls(base_url)
    labels = {"OpenShift": "openshift", "Kubernetes": "kubernetes"}
    compared = 0
    with browser_context(browser, base_url) as (context, recorder):
        page = context.new_page()
        page.goto(base_url)
        page.evaluate("(values) => __md_set('lab.values', values)", VALUES)
        for stage in _paged_stages(lab):
            printed = {p: _dry_run(stage.id, p, VALUES) for p in PLATFORMS}
            page.goto(urls[stage.id])
            blocks = page.locator("div.lab-step:not(.lab-manual)")
            for i in range(blocks.count()):
                block = blocks.nth(i)
                ref = block.get_attribute("data-ref")
                label = _tab_label(block)
                # a folded solution or troubleshooting item: open it as a reader would
                block.evaluate("(el) => { for (let d = el.closest('details'); d;"
                               " d = d.parentElement.closest('details')) d.open = true; }")
                if label is not None and not block.is_visible():
                    block.evaluate(
                        """(el, label) => [...el.closest(".tabbed-set").querySelectorAll(
                             ":scope > .tabbed-labels > label")].find((l) => l.innerText.trim() === label).click()""",
                        label,
                    )
                if ref.endswith("/catch-up"):
                    expected = catch_up_block(stage).text
                elif ref.endswith("/export"):
                    platform = labels[label] if label else page.evaluate("document.documentElement.dataset.labPlatform")
                    expected = printed[platform][ref]
                elif (step_id := ref.split("/", 1)[1].partition("@")[0]) not in {s.id for s in stage.steps}:
                    # the outro: the exercise's solution and the troubleshooting looks, one tab per platform
                    step = next(s for s in stage.all_steps if s.id == step_id)
                    platform = ref.partition("@")[2] or (
                        "openshift" if "openshift" in step.platforms else step.platforms[0]
                    )
                    expected = step_block(step, DEFAULT_CLI[platform], lab, platform).text
                else:
                    step = stage.step(step_id)
                    platform = labels[label] if label else (
                        "openshift" if "openshift" in step.platforms else step.platforms[0]
                    )
                    group = (block.get_attribute("data-group") or step.id).split()  # steps(...): one block
                    expected = "\n".join(printed[platform][f"{stage.id}/{i}"] for i in group)
                copied = _copy(page, block)
                assert copied == expected, f"{ref}: the clipboard differs from apply.py --dry-run"
                compared += 1
        assert not recorder.errors, recorder.errors
    assert compared > len(_paged_stages(lab))


SEARCH_TERMS = ["サイドカー", "サーキットブレーカー", "VirtualService"]


@pytest.mark.parametrize("term", SEARCH_TERMS)
def test_japanese_search_finds_the_stage(browser: Any, base_url: str, built_site: Path, term: str) -> None:
    """The result list holds the stage pages that mention the term, the page that mentions it most among them."""
    stage_stems = {Path(p).with_suffix("").as_posix() for p in stage_pages(REPO / "docs").values()}
    counts = {
        stem: len(re.findall(re.escape(term), page_text(path.read_text(encoding="utf-8")), flags=re.IGNORECASE))
        for stem, path in site_pages(built_site).items()
        if stem in stage_stems
    }
    mentioned = {stem for stem, count in counts.items() if count}
    assert mentioned, f"no stage page mentions {term!r}; the search test has nothing to find"
    most = max(mentioned, key=lambda stem: counts[stem])
    with browser_context(browser, base_url) as (context, recorder):
        page = context.new_page()
        page.goto(base_url, wait_until="networkidle")
        query = page.locator('input[data-md-component="search-query"]')
        query.click()
        query.fill(term)
        query.press("End")  # Material searches on key events; fill() alone types none
        page.wait_for_selector(".md-search-result__item", timeout=15_000)
        found = set()
        for href in page.eval_on_selector_all(".md-search-result__item > a", "links => links.map(a => a.href)"):
            path = urlsplit(href).path.strip("/")
            found.add(path.split("/")[0] if path else "index")
        assert most in found, f"{term}: results {sorted(found)} lack {most}, which mentions it {counts[most]} times"
        strays = found & stage_stems - mentioned
        assert not strays, f"{term}: stage pages that never mention it came up: {sorted(strays)}"
        assert not recorder.errors, recorder.errors


def test_print_shows_only_content_and_whole_commands(browser: Any, base_url: str) -> None:
    lab = Lab.load()
    urls = _stage_urls(base_url)
    with browser_context(browser, base_url) as (context, recorder):
        page = context.new_page()
        for stage in _paged_stages(lab):
            page.goto(urls[stage.id], wait_until="networkidle")
            page.emulate_media(media="print")
            hidden = page.evaluate(
                """() => [".md-header", ".md-sidebar--primary", ".md-sidebar--secondary", ".md-footer",
                          ".md-code__button", ".lab-values"].map((selector) => {
                   const shown = [...document.querySelectorAll(selector)].filter(
                     (e) => getComputedStyle(e).display !== "none" && e.getClientRects().length > 0);
                   return [selector, shown.length];
                 })"""
            )
            assert all(count == 0 for _, count in hidden), f"{stage.id}: still shown in print: {hidden}"
            clipped = page.evaluate(
                """() => [...document.querySelectorAll(".md-typeset pre > code")]
                     .filter((c) => c.getClientRects().length > 0 && c.scrollWidth > c.clientWidth + 1)
                     .map((c) => c.textContent.slice(0, 60))"""
            )
            assert not clipped, f"{stage.id}: code wider than the printed page: {clipped}"
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{stage.id}-print.png"), full_page=True)
            page.emulate_media(media="screen")
        assert not recorder.errors, recorder.errors
