"""The learner's clean-up: one short block that asks first, and removes everything stages 1-8 made.

Proof of completeness on paper (handbook.replay: stage 0 and every stage, then the block's commands,
leave nothing the learner's stages made), and in a real bash with a recording fake CLI (``yes``
deletes, anything else deletes nothing).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.apply_cli import make_fake_cli

from handbook.blocks import CLEANUP_DECLINED, learner_cleanup_block, learner_cleanup_commands
from handbook.diagrams.mermaid import symbolic_values
from handbook.lab import Lab
from handbook.plan import executable_steps
from handbook.platforms import DEFAULT_CLI, PLATFORMS
from handbook.replay import Move, end_state, step_moves


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cleanup_leaves_nothing_the_learners_stages_made(platform: str) -> None:
    lab = Lab.load()
    stages = lab.stages_upto(lab.stages[-1].id)
    moves = step_moves(executable_steps(stages, platform))
    before = end_state(moves, symbolic_values(lab))
    made = {key for key, held in before.present.items() if not held.made_by.startswith("stage-0/")}
    assert len(made) > 50, "stages 1-8 make the shop, the mesh and its configuration"
    cleanup = [Move(f"cleanup/{i}", command) for i, (command, _) in enumerate(learner_cleanup_commands(lab, platform))]
    after = end_state([*moves, *cleanup], symbolic_values(lab))
    assert after.problems == before.problems, "the clean-up's own commands are understood and find their objects"
    left = sorted(str(key) for key, held in after.present.items() if not held.made_by.startswith("stage-0/"))
    assert left == [], f"the learner's clean-up leaves {left}"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cleanup_block_is_short_and_sets_its_own_values(platform: str) -> None:
    lab = Lab.load()
    text = learner_cleanup_block(lab, platform).text
    assert len(text.splitlines()) <= 12, "the learner's clean-up fits on one screen"
    assert text.startswith("export LAB_USER=")


@pytest.mark.parametrize(("answer", "deletes"), [("yes", True), ("no", False), ("", False), ("YES!", False)])
@pytest.mark.parametrize("platform", PLATFORMS)
def test_cleanup_block_deletes_only_after_yes(tmp_path: Path, bash: str, platform: str, answer: str,
                                              deletes: bool) -> None:
    lab = Lab.load()
    fake = make_fake_cli(tmp_path)
    cli = DEFAULT_CLI[platform]
    text = learner_cleanup_block(lab, platform).text
    result = subprocess.run(  # noqa: S603 - fixed argv
        [bash, "--norc", "--noprofile", "-u", "-c", text], input=answer + "\n", env=fake.env(),
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 0, result.stderr
    values = lab.variables.resolve()
    expected = [list(c.for_cli(cli).resolved(values).argv) for c, _ in learner_cleanup_commands(lab, platform)]
    assert [call["argv"] for call in fake.calls()] == (expected if deletes else [])
    assert (CLEANUP_DECLINED in result.stdout) != deletes
