"""What a reader reads on the built pages: only real HTML, no step ids, links that land, second terminals.

Text from stage.yaml goes through handbook/prose.py: ``<SHOP_HOST の値>`` must stay text, a step is
named by a link to its block (never by its id), and a block for a second terminal sets its own variables.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.apply_cli import FIXTURE_LAB, REPO, make_fake_cli
from support.site_build import build
from support.site_html import (
    HTML_ELEMENTS,
    built_page,
    element_ids,
    element_names,
    page_blocks,
    prose_text,
    stage_pages,
    step_links,
)
from test_site import PAGE, small_project

from handbook.blocks import EMPTY_VALUE_MESSAGE, step_block
from handbook.errors import DefinitionError
from handbook.lab import Lab
from handbook.platforms import DEFAULT_CLI
from handbook.prose import manual_markdown


def built_pages(site: Path) -> dict[str, Path]:
    pages = {"index": site / "index.html"}
    pages.update({p.parent.name: p for p in sorted(site.glob("*/index.html")) if p.parent.name != "search"})
    return pages


def test_every_element_is_html(site: Path) -> None:
    """A placeholder such as <SHOP_HOST の値> left unescaped becomes an element the browser hides."""
    strays = {}
    for stem, path in built_pages(site).items():
        unknown = sorted({t for t in element_names(path.read_text(encoding="utf-8")) if t not in HTML_ELEMENTS})
        if unknown:
            strays[stem] = unknown
    assert strays == {}, f"elements that are not HTML (unescaped text from stage.yaml?): {strays}"


def test_no_step_id_in_the_prose(site: Path) -> None:
    """Readers never see step ids: a page names a step with words and a link to its block."""
    lab = Lab.load()
    ids = sorted({s.id for stage in lab.stages for s in stage.steps}, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, ids)) + r")(?![\w-])")
    leaks = []
    for stem, path in built_pages(site).items():
        text = prose_text(path.read_text(encoding="utf-8"))
        leaks += [f"{stem}: …{text[max(0, m.start() - 20):m.end() + 10]!r}…" for m in pattern.finditer(text)]
    assert leaks == [], "step ids in the visible text:\n" + "\n".join(leaks)


def test_step_links_land_on_a_block(site: Path) -> None:
    pages = built_pages(site)
    ids = {stem: element_ids(path.read_text(encoding="utf-8")) for stem, path in pages.items()}
    found = 0
    for stem, path in pages.items():
        for href in step_links(path.read_text(encoding="utf-8")):
            found += 1
            target, _, anchor = href.partition("#")
            target_stem = Path(target.strip("/")).name if target else stem  # "../stage-2/" -> stage-2
            assert anchor in ids.get(target_stem, set()), f"{stem}: the link {href} lands on no block"
    assert found >= 5, "the pages link to steps (step_link and [words](step:id) in stage.yaml)"


def test_placeholders_show_the_readers_value_or_themselves(site: Path) -> None:
    page = built_pages(site)["stage-4"].read_text(encoding="utf-8")
    assert '<span class="lab-value" data-var="SHOP_HOST">&lt;SHOP_HOST の値&gt;</span>' in page


def test_unknown_step_link_fails_the_build(tmp_path: Path) -> None:
    page = PAGE.replace('{{ step("look") }}', '{{ step("look") }}\n{{ step_link("no-such-step", "その手順") }}')
    result = build(small_project(tmp_path, page), tmp_path / "site", FIXTURE_LAB)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "docs/index.md" in output and "'no-such-step'" in output


def test_unknown_link_in_stage_yaml_is_a_definition_error(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    shutil.copytree(FIXTURE_LAB, lab)
    stage = lab / "stage-1-demo" / "stage.yaml"
    text = stage.read_text(encoding="utf-8")
    broken = "manual: '[前の手順](step:wait-wbe) の後、ブラウザで開きます。'"
    stage.write_text(text.replace("manual: ブラウザで開きます。", broken), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        Lab.load(lab)
    assert "stage-1-demo/stage.yaml: step look: the link (step:wait-wbe) names no step of stage-1" in str(caught.value)


# --- second terminals ---------------------------------------------------------------------------

# A paragraph that sends the reader to another terminal, and the step right after it.
SECOND_TERMINAL = re.compile(r"(別の端末|別のターミナル|新しい端末)[^\n]*\n(?:[^\n]+\n)*\n*\{\{ step\(\"([^\"]+)\"\)")


def new_terminal_steps(lab: Lab) -> list:
    return [step for stage in lab.stages for step in stage.steps if step.terminal == "new"]


def test_every_second_terminal_block_is_marked() -> None:
    """Prose that sends the reader to another terminal introduces a block marked `terminal: new`."""
    lab = Lab.load()
    marked = {s.id for s in new_terminal_steps(lab)}
    pages = stage_pages(REPO / "docs")
    unmarked = []
    for stage in lab.stages:
        text = (REPO / "docs" / f"{pages[stage.id]}.md").read_text(encoding="utf-8")
        for match in SECOND_TERMINAL.finditer(text):
            if match.group(2) not in marked:
                unmarked.append(f"docs/{pages[stage.id]}.md: {match.group(2)}")
        for step in stage.steps:
            if step.kind == "manual" and re.search(r"別の(端末|ターミナル)", step.text):
                unmarked.append(f"{stage.definition}: {step.id} sends the reader to another terminal in text")
    assert unmarked == []
    assert {"watch-front-end", "kiali-port-forward"} <= marked


@pytest.mark.parametrize(("step_ref", "platform"),
                         [(s.ref, p) for s in new_terminal_steps(Lab.load()) for p in s.platforms])
def test_second_terminal_block_runs_in_an_empty_environment(site: Path, tmp_path: Path, bash: str, step_ref: str,
                                                            platform: str) -> None:
    """The block, as the page shows it in ``platform``'s tab, in a new terminal: nothing exported, `set -u`
    catches any gap."""
    lab = Lab.load()
    stage_id, _, step_id = step_ref.partition("/")
    step = lab.stage(stage_id).step(step_id)
    fake = make_fake_cli(tmp_path)
    fake.rules([{"match": ["oc", "get", "ingresses.config.openshift.io"], "stdout": "apps.second.example"}])
    text = page_blocks(built_page(site, stage_pages(REPO / "docs")[stage_id]), platform)[step_ref]["text"]
    assert text == step_block(step, DEFAULT_CLI[platform], lab, platform).text
    env = {k: v for k, v in fake.env().items() if k in ("PATH", "FAKE_CLI_LOG", "FAKE_CLI_RULES")}
    result = subprocess.run(  # noqa: S603 - fixed argv
        [bash, "--norc", "--noprofile", "-u", "-c", text], env=env, capture_output=True, text=True, timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    values = lab.variables.resolve(discovered={"APPS_DOMAIN": "apps.second.example"} if platform == "openshift" else {})
    expected = step.command().for_cli(DEFAULT_CLI[platform]).resolved(values)
    assert fake.calls()[-1]["argv"] == list(expected.argv)


def test_manual_text_is_escaped_outside_code_only() -> None:
    text = "開く <SHOP_HOST の値> と `a <b>` と ${APP_NS} & [前の手順](step:x)\n\n    kubectl get <x> ${APP_NS}"
    rendered = manual_markdown(text, lambda step_id, words: f"[{words}](#step-{step_id})")
    assert rendered.splitlines() == [
        '開く <span class="lab-value" data-var="SHOP_HOST">&lt;SHOP_HOST の値&gt;</span> と `a <b>` と '
        '<span class="lab-value" data-var="APP_NS">${APP_NS}</span> &amp; [前の手順](#step-x)',
        "",
        "    kubectl get <x> ${APP_NS}",
    ]


def test_setup_page_quotes_the_message_of_the_export_block() -> None:
    """The setup page shows the start of the message a reader sees, and how to get the value instead."""
    setup = (REPO / "docs" / "setup.md").read_text(encoding="utf-8")
    message = EMPTY_VALUE_MESSAGE.format(name="APPS_DOMAIN")
    assert f"bash: APPS_DOMAIN: {message.split('、')[0]}、" in setup
    assert "export APPS_DOMAIN=受け取った値" in setup and "「あなたの値」" in setup


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  - id: break-web\n", "  - id: break-web\n    terminal: other\n",
         "(break-web).terminal: 'other' is not one of same, new"),
        ("  - id: wait-web\n", "  - id: wait-web\n    terminal: new\n",
         "(wait-web).terminal: does not belong in a wait step"),
    ],
)
def test_terminal_field_is_checked(tmp_path: Path, old: str, new: str, message: str) -> None:
    lab = tmp_path / "lab"
    shutil.copytree(FIXTURE_LAB, lab)
    stage = lab / "stage-1-demo" / "stage.yaml"
    text = stage.read_text(encoding="utf-8")
    assert old in text
    stage.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        Lab.load(lab)
    assert message in str(caught.value)
