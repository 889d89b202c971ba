"""The shell-equivalence proof, batched: every block of a stage pasted into one bash.

Each block runs in its own subshell (``set -euo pipefail``, the reader's values exported), or, for a
block meant for a new terminal, in a bash with an empty environment. Before and after each block the
script writes a marker into the fake CLI's log, so the calls of every block are known apart and a
block that fails, exits or calls something else is reported by its ref, alone.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from handbook.blocks import step_block
from handbook.lab import Lab
from handbook.platforms import DEFAULT_CLI
from handbook.stages import Stage
from handbook.steps import Command, RunStep
from handbook.variables import Values
from support.apply_cli import FakeCli


@dataclass(frozen=True)
class Case:
    """One pasted block, and the calls that apply.py makes for the same step."""

    name: str  # the block's ref, plus which way its guard goes when it has one
    text: str
    expected: tuple[Command, ...]
    guard_fails: tuple[Command, ...] = ()  # unless commands that the fake CLI answers with exit 1
    fresh: bool = False  # run in a bash with an empty environment (a new terminal)


@dataclass
class Report:
    failures: dict[str, str] = field(default_factory=dict)  # case name -> why
    ran: list[str] = field(default_factory=list)


def stage_cases(
    lab: Lab, stage: Stage, platform: str, values: Values, shown: Mapping[str, Mapping[str, str]] | None = None
) -> list[Case]:
    """A case per block with a command; a step with an ``unless`` guard gives two, one per outcome.

    ``shown``: the blocks a built page shows in ``platform``'s tab (ref -> {"text": ...}); the text pasted is
    then the page's. A block for a new terminal is pasted as the values form rewrites it (its export lines
    carry the reader's values), which is ``step_block`` with ``values``.
    """
    cli = DEFAULT_CLI[platform]
    cases: list[Case] = []
    grouped: dict[str, str] = {}  # a later step of a group -> the group's block (shown under its first step)
    for ref, block in (shown or {}).items():
        for step_id in block.get("group", "").split()[1:]:
            grouped[f"{stage.id}/{step_id}"] = ref
    for step in stage.steps_for(platform):
        command = step.command()
        if command is None:
            continue
        fresh = step.terminal == "new"
        if step.ref in grouped:  # its commands are in the group's case
            continue
        if shown is not None and shown.get(step.ref, {}).get("group"):  # group steps have no guard (group_block)
            members = [stage.step(i) for i in shown[step.ref]["group"].split()]
            runs = tuple(m.command().for_cli(cli).resolved(values) for m in members)
            cases.append(Case(step.ref, shown[step.ref]["text"], runs, fresh=False))
            continue
        if shown is not None and not fresh:
            if step.ref not in shown:
                cases.append(Case(step.ref, "exit 97", (), fresh=False))  # not on the page: reported as exited 97
                continue
            text = shown[step.ref]["text"]
        else:
            text = step_block(step, cli, lab, platform, values).text
        run = command.for_cli(cli).resolved(values)
        unless = step.unless_command() if isinstance(step, RunStep) else None
        if unless is None:
            cases.append(Case(step.ref, text, (run,), fresh=fresh))
            continue
        check = unless.for_cli(cli).resolved(values)
        cases.append(Case(f"{step.ref} [guard passes]", text, (check,), fresh=fresh))
        cases.append(Case(f"{step.ref} [guard fails]", text, (check, run), guard_fails=(check,), fresh=fresh))
    return cases


def _script(cases: list[Case], values: Values, rules_dir: Path) -> str:
    exports = "; ".join(f"export {k}={shlex.quote(v)}" for k, v in values.items())
    lines = []
    for index, case in enumerate(cases):
        rules = rules_dir / f"rules-{index}.json"
        answers = [{"argv": list(c.argv), "exit": 1, "stderr": "Error from server (NotFound)\n"}
                   for c in case.guard_fails]
        rules.write_text(json.dumps(answers), encoding="utf-8")
        lines.append(f"export FAKE_CLI_RULES={shlex.quote(str(rules))}")
        lines.append(f"printf '%s\\n' {shlex.quote(json.dumps({'begin': index}))} >> \"$FAKE_CLI_LOG\"")
        if case.fresh:
            inner = "set -euo pipefail\n" + case.text
            lines.append(
                'env -i PATH="$PATH" FAKE_CLI_LOG="$FAKE_CLI_LOG" FAKE_CLI_RULES="$FAKE_CLI_RULES" '
                f"bash --norc --noprofile -c {shlex.quote(inner)}"
            )
        else:
            lines.append(f"(\nset -euo pipefail; {exports}\n{case.text}\n)")
        lines.append(f"printf '{{\"end\": {index}, \"status\": %d}}\\n' $? >> \"$FAKE_CLI_LOG\"")
    return "\n".join(lines) + "\n"


def run_batch(bash: str, fake: FakeCli, cases: list[Case], values: Values) -> Report:
    """Paste every case into one bash; report each case whose calls differ from what apply.py runs."""
    script = _script(cases, values, fake.log.parent)
    result = subprocess.run(  # noqa: S603 - fixed argv
        [bash, "--norc", "--noprofile", "-c", script], env=fake.env(), capture_output=True, text=True,
        stdin=subprocess.DEVNULL,
        timeout=300, check=False,
    )
    report = Report()
    seen: dict[int, list[dict]] = {}
    status: dict[int, int] = {}
    current: int | None = None
    for entry in fake.calls():
        if "begin" in entry:
            current = entry["begin"]
            seen[current] = []
        elif "end" in entry:
            status[entry["end"]] = entry["status"]
            current = None
        elif current is not None:
            seen[current].append(entry)
        else:
            report.failures["(outside any block)"] = f"a call outside every block: {entry['argv']}"
    for index, case in enumerate(cases):
        report.ran.append(case.name)
        why = _difference(case, seen.get(index), status.get(index))
        if why:
            report.failures[case.name] = why + (f"\n  bash stderr: {result.stderr[-400:]}" if result.stderr else "")
    return report


def _difference(case: Case, calls: list[dict] | None, status: int | None) -> str | None:
    if calls is None or status is None:
        return "never ran to its end"
    if status != 0:
        return f"exited {status}"
    expected = [list(c.argv) for c in case.expected]
    got = [c["argv"] for c in calls]
    if got != expected:
        return f"bash ran {got}, apply.py runs {expected}"
    for command, call in zip(case.expected, calls, strict=True):
        if command.stdin is not None and call["stdin"] != command.stdin:
            return f"standard input of {command.argv[:3]} differs"
    return None
