"""One source: the text a reader pastes makes bash run exactly what apply.py runs.

Every block of every stage, on every platform, is pasted into a real bash with a fake CLI on PATH
that records argv and stdin; the recording of each block must equal the commands apply.py executes
for that step, including its ``unless`` guard both ways. One bash per stage and platform
(tests/shell_batch.py); test_batch_names_exactly_the_broken_block shows that batching loses nothing.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from support.apply_cli import FIXTURE_LAB, REPO, FakeCli, make_fake_cli
from support.shell_batch import run_batch, stage_cases
from support.site_html import built_page, page_blocks, stage_pages

from handbook.blocks import export_block
from handbook.lab import Lab
from handbook.platforms import PLATFORMS
from handbook.shell import quote_word

LABS = {"fixture": FIXTURE_LAB, "real": None}
READER = {"LAB_USER": "reader-7", "APPS_DOMAIN": "apps.paste.example"}
DISCOVER = ["oc", "get", "ingresses.config.openshift.io"]


def load(name: str) -> Lab:
    return Lab.load(LABS[name]) if LABS[name] else Lab.load()


def paste(
    bash: str, fake: FakeCli, text: str, exports: dict[str, str], *, strict: bool = True
) -> subprocess.CompletedProcess:
    lines = (["set -euo pipefail"] if strict else []) + [f"export {k}={shlex.quote(v)}" for k, v in exports.items()]
    return subprocess.run(  # noqa: S603 - fixed argv
        [bash, "-c", "\n".join([*lines, text])], env=fake.env(), capture_output=True, text=True, timeout=30,
        check=False,
    )


def stage_platforms() -> list[tuple[str, str, str]]:
    return [(name, stage.id, platform) for name in LABS for stage in load(name).stages for platform in PLATFORMS
            if any(s.command() is not None for s in stage.steps_for(platform))]


@pytest.mark.parametrize(("lab_name", "stage_id", "platform"), stage_platforms())
def test_pasted_blocks_run_what_apply_runs(request: pytest.FixtureRequest, tmp_path: Path, bash: str, lab_name: str,
                                           stage_id: str, platform: str) -> None:
    """The real lab's blocks are taken from the built page, from ``platform``'s tab (or outside tabs)."""
    lab = load(lab_name)
    values = lab.variables.resolve(READER)
    shown = None
    if lab_name == "real":
        site = request.getfixturevalue("site")
        shown = page_blocks(built_page(site, stage_pages(REPO / "docs")[stage_id]), platform)
    cases = stage_cases(lab, lab.stage(stage_id), platform, values, shown)
    report = run_batch(bash, make_fake_cli(tmp_path), cases, values)
    assert report.ran == [c.name for c in cases]
    assert report.failures == {}, "\n".join(f"{name}: {why}" for name, why in report.failures.items())


@pytest.mark.parametrize(
    ("pick", "mutate", "why"),
    [
        ("deploy-catalogue", lambda text: text.replace(" -n ", " -N ", 1), "bash ran"),  # a changed word
        ("deploy-carts", lambda text: "exit 3\n" + text, "exited 3"),  # a block that ends its shell
        ("[guard passes]", lambda text: text.replace(">/dev/null 2>&1 ||", "&&", 1), "bash ran"),  # guard reversed
        ("expose-front-end", lambda text: text.replace("  name: front-end", "  name: frontend", 1),
         "standard input"),  # a changed manifest
    ],
)
def test_batch_names_exactly_the_broken_block(tmp_path: Path, bash: str, pick: str, mutate, why: str) -> None:  # noqa: ANN001
    """Mutate one rendered block of stage 1: the batched proof reports that block and no other."""
    lab = Lab.load()
    values = lab.variables.resolve(READER)
    cases = stage_cases(lab, lab.stage("stage-1"), "openshift", values)
    target = next(i for i, c in enumerate(cases) if pick in c.name)
    mutated = mutate(cases[target].text)
    assert mutated != cases[target].text
    cases[target] = replace(cases[target], text=mutated)
    report = run_batch(bash, make_fake_cli(tmp_path), cases, values)
    assert list(report.failures) == [cases[target].name]
    assert report.failures[cases[target].name].startswith(why)


def test_quoting_survives_hostile_words(tmp_path: Path, bash: str) -> None:
    words = ["a b", "it's", 'say "hi"', "$HOME", "`id`", "back\\slash", "{a,b}", "*", "~", "#x", "",
             "jsonpath={.a}", "${X}-y z", "${X}'s \"${X}\" $$ `x`", "%{http_code}\\n", "a&b?c=1"]
    fake = make_fake_cli(tmp_path)
    text = " ".join(["oc", *(quote_word(w) for w in words)])
    result = paste(bash, fake, text, {"X": "val"})
    assert result.returncode == 0, result.stderr
    expected = [w.replace("${X}", "val") for w in words]
    assert fake.calls()[0]["argv"] == ["oc", *expected]


@pytest.mark.parametrize("lab_name", list(LABS))
def test_export_block_gives_the_values_apply_uses(tmp_path: Path, bash: str, lab_name: str) -> None:
    """The block itself prints NAME=value for each variable: exactly what apply.py resolves."""
    lab = load(lab_name)
    fake = make_fake_cli(tmp_path)
    fake.rules([{"match": DISCOVER, "stdout": "apps.discovered.example"}])
    for stage in lab.stages:
        names = lab.variables_for(stage)
        result = paste(bash, fake, export_block(lab, stage, "openshift").text, {}, strict=False)
        assert result.returncode == 0, result.stderr
        shown = dict(line.split("=", 1) for line in result.stdout.splitlines())
        discovered = {"APPS_DOMAIN": "apps.discovered.example"} if "APPS_DOMAIN" in names else {}
        expected = lab.variables.resolve(discovered=discovered)
        assert shown == {n: expected[n] for n in names}


@pytest.mark.parametrize("answer", [
    {"exit": 1, "stderr": 'Error from server (Forbidden): ingresses.config.openshift.io "cluster" is forbidden\n'},
    {"exit": 0, "stdout": ""},
], ids=["forbidden", "empty"])
@pytest.mark.parametrize("lab_name", list(LABS))
def test_export_block_stops_when_the_domain_cannot_be_read(tmp_path: Path, bash: str, lab_name: str,
                                                           answer: dict) -> None:
    """A learner who may not read the cluster's domain gets a message and no values, not an empty host name."""
    lab = load(lab_name)
    fake = make_fake_cli(tmp_path)
    fake.rules([{"match": DISCOVER, **answer}])
    stages = [s for s in lab.stages if "APPS_DOMAIN" in lab.variables_for(s)]
    assert stages, "some stage uses APPS_DOMAIN"
    for stage in stages:
        text = export_block(lab, stage, "openshift").text + "\necho AFTER-THE-BLOCK"
        result = paste(bash, fake, text, {}, strict=False)  # as a reader's shell: no set -e
        assert result.returncode != 0, f"{stage.id}: the block went on with an empty APPS_DOMAIN"
        assert "APPS_DOMAIN: クラスターから読み取れませんでした" in result.stderr
        assert "講師" in result.stderr
        assert result.stdout == "", f"{stage.id}: printed before stopping: {result.stdout!r}"


def test_export_block_pasted_into_an_interactive_shell_prints_no_values(tmp_path: Path, bash: str) -> None:
    """In a terminal (bash -i on a pty) the guard drops the rest of its command: the message, no values."""
    lab = Lab.load()
    fake = make_fake_cli(tmp_path)
    fake.rules([{"match": DISCOVER, "exit": 1, "stderr": "Error from server (Forbidden)\n"}])
    pid, fd = pty.fork()
    if pid == 0:  # the child: a reader's terminal
        os.execvpe(bash, [bash, "--norc", "--noprofile", "-i"], fake.env())
    text = export_block(lab, lab.stage("stage-4"), "openshift").text
    os.write(fd, (text + "\necho SHELL-STILL-HERE\nexit\n").encode())
    output = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 20)
        try:
            chunk = os.read(fd, 65536) if ready else b""
        except OSError:
            chunk = b""
        if not chunk:
            break
        output += chunk
    os.waitpid(pid, 0)
    shown = re.sub(r"\x1b\[\??[0-9;]*[A-Za-z]|\r", "", output.decode(errors="replace"))  # no terminal codes
    assert "APPS_DOMAIN: クラスターから読み取れませんでした" in shown
    assert "APP_NS=user1-sockshop" not in shown, "the values were printed although APPS_DOMAIN is empty"
    assert "\nSHELL-STILL-HERE" in shown, "the reader's shell is still there"
