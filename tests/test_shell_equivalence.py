"""One source: the text a reader pastes makes bash run exactly what apply.py runs.

Every block of every stage is pasted into a real bash, with a fake CLI on PATH that records
argv and stdin; the recording must equal the command apply.py executes for that step.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
from support.apply_cli import FIXTURE_LAB, FakeCli, make_fake_cli

from handbook.blocks import export_block, step_block
from handbook.lab import Lab
from handbook.platforms import DEFAULT_CLI, PLATFORMS
from handbook.shell import quote_word

LABS = {"fixture": FIXTURE_LAB, "real": None}


def load(name: str) -> Lab:
    return Lab.load(LABS[name]) if LABS[name] else Lab.load()


def paste(bash: str, fake: FakeCli, text: str, exports: dict[str, str]) -> subprocess.CompletedProcess:
    lines = ["set -euo pipefail"] + [f"export {k}={shlex.quote(v)}" for k, v in exports.items()] + [text]
    return subprocess.run(  # noqa: S603 - fixed argv
        [bash, "-c", "\n".join(lines)], env=fake.env(), capture_output=True, text=True, timeout=30, check=False
    )


def step_cases() -> list[tuple[str, str, str, str]]:
    cases = []
    for lab_name in LABS:
        lab = load(lab_name)
        for stage in lab.stages:
            for platform in PLATFORMS:
                for step in stage.steps_for(platform):
                    if step.command() is not None:
                        cases.append((lab_name, stage.id, step.id, platform))
    return cases


@pytest.mark.parametrize(("lab_name", "stage_id", "step_id", "platform"), step_cases())
def test_pasted_block_runs_what_apply_runs(
    tmp_path: Path, bash: str, lab_name: str, stage_id: str, step_id: str, platform: str
) -> None:
    lab = load(lab_name)
    step = lab.stage(stage_id).step(step_id)
    cli = DEFAULT_CLI[platform]
    values = lab.variables.resolve({"LAB_USER": "reader-7", "APPS_DOMAIN": "apps.paste.example"})
    fake = make_fake_cli(tmp_path)
    result = paste(bash, fake, step_block(step, cli).text, dict(values))
    assert result.returncode == 0, result.stderr
    expected = step.command().for_cli(cli).resolved(values)
    calls = fake.calls()
    assert len(calls) == 1, calls
    assert calls[0]["argv"] == list(expected.argv)
    if expected.stdin is not None:
        assert calls[0]["stdin"] == expected.stdin


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
    lab = load(lab_name)
    fake = make_fake_cli(tmp_path)
    fake.rules([{"match": ["oc", "get", "ingresses.config.openshift.io"], "stdout": "apps.discovered.example"}])
    for stage in lab.stages:
        names = lab.variables_for(stage)
        block = export_block(lab, stage, "openshift")
        probe = "\n".join(f'printf "%s=%s\\n" {n} "${{{n}}}"' for n in names)
        result = paste(bash, fake, block.text + "\n" + probe, {})
        assert result.returncode == 0, result.stderr
        shown = dict(line.split("=", 1) for line in result.stdout.splitlines())
        discovered = {"APPS_DOMAIN": "apps.discovered.example"} if "APPS_DOMAIN" in names else {}
        expected = lab.variables.resolve(discovered=discovered)
        assert shown == {n: expected[n] for n in names}
