"""Where a plan is executed: running its steps against a cluster, verifying checks, resetting.

What runs is worked out in ``plan``; this module only runs it.
"""

from __future__ import annotations

from .cluster import Session
from .errors import StepFailedError, VerifyFailedError
from .plan import executable_steps
from .progress import Progress
from .shell import quote_word
from .stages import Stage
from .steps import ApplyStep, CheckStep, Command, PatchStep, RunStep, Step, WaitStep
from .variables import Values

WAIT_GRACE_SECONDS = 30.0


def _label(step: Step) -> str:
    if isinstance(step, ApplyStep | PatchStep):
        return f"{step.ref} ({step.kind} {step.file})"
    return f"{step.ref} ({step.kind})"


def _timeout(step: Step) -> float:
    if isinstance(step, WaitStep):
        return step.timeout_seconds() + WAIT_GRACE_SECONDS
    return 120.0


def _show(command: Command) -> str:
    return " ".join(quote_word(w) for w in command.argv) + (" <<EOF ..." if command.stdin is not None else "")


def apply_plan(
    session: Session, plan: list[Stage], platform: str, values: Values, progress: Progress, resume: str
) -> int:
    """Run every executable step in order; returns how many ran. Stops at the first failure.

    ``resume`` is the command line that resumes the run, for the failure report.
    """
    planned = executable_steps(plan, platform)
    done: list[str] = []
    for index, item in enumerate(planned, start=1):
        step = item.step
        progress.begin(index, len(planned), _label(step))
        unless = step.unless_command() if isinstance(step, RunStep) else None
        if unless is not None:
            if session.run(unless.resolved(values), timeout=60).ok:
                progress.end("skipped (already done)")
                done.append(step.ref)
                continue
        command = step.command()
        assert command is not None
        resolved = command.resolved(values)
        result = session.run(resolved, timeout=_timeout(step))
        if not result.ok and unless is not None and session.run(unless.resolved(values), timeout=60).ok:
            # Another run (the same user twice at once) made it between our check and our command.
            progress.end("ok (done by a concurrent run)")
            done.append(step.ref)
            continue
        if not result.ok:
            progress.end("FAILED")
            raise StepFailedError(_failure_report(step, session.prepare(resolved), result.stderr or result.stdout,
                                                  result.returncode, done, [p.step.ref for p in planned[index:]],
                                                  resume))
        progress.end("ok")
        done.append(step.ref)
    return len(done)


def _failure_report(step: Step, command: Command, output: str, code: int, done: list[str],
                    not_run: list[str], resume: str) -> str:
    lines = [
        f"step {step.ref} failed: `{_show(command)}` exited {code}",
        *[f"    {line}" for line in (output.strip() or "(no output)").splitlines()[:20]],
        f"done before it ({len(done)}): {', '.join(done) or 'none'}",
        f"not run ({len(not_run)}): {', '.join(not_run) or 'none'}",
        "Every step is idempotent: fix the cause above, then resume by running the same command again:",
        f"    {resume}",
    ]
    return "\n".join(lines)


def verify_stage(session: Session, stage: Stage, platform: str, values: Values, progress: Progress) -> None:
    """Run the stage's check steps and compare each output with its expectation."""
    checks = [s for s in stage.steps_for(platform) if isinstance(s, CheckStep) and not s.demo]
    failures: list[str] = []
    for index, step in enumerate(checks, start=1):
        progress.begin(index, len(checks), _label(step))
        result = session.run(step.command().resolved(values), timeout=120)
        if not result.ok:
            why = f"exited {result.returncode}: {(result.stderr or result.stdout).strip()[:300]}"
        else:
            why = step.expect.substituted(values).failure(result.stdout)
        progress.end("FAIL" if why else "pass")
        if why:
            failures.append(f"  - {step.ref}: {why}")
    if failures:
        raise VerifyFailedError(f"{len(failures)} of {len(checks)} checks failed:\n" + "\n".join(failures))


def run_reset(session: Session, commands: list[tuple[str, Command]], values: Values, progress: Progress) -> None:
    failures: list[str] = []
    for index, (ref, command) in enumerate(commands, start=1):
        progress.begin(index, len(commands), f"undo {ref}")
        result = session.run(command.resolved(values), timeout=300)
        progress.end("ok" if result.ok else "FAILED")
        if not result.ok:
            failures.append(f"  - {ref}: {(result.stderr or result.stdout).strip()[:300]}")
    if failures:
        raise StepFailedError("reset could not remove everything; run it again after fixing:\n" + "\n".join(failures))


def run_looks(session: Session, commands: list[tuple[str, Command]], values: Values, progress: Progress) -> list[str]:
    """Run each read-only `look` of a stage's troubleshooting and show its output.

    A look that fails (no such pod yet, no rights) is reported and the others still run: what the
    learner needs is every answer. Returns one line per failed look.
    """
    failures: list[str] = []
    for index, (ref, command) in enumerate(commands, start=1):
        resolved = command.resolved(values)
        progress.begin(index, len(commands), f"{ref} (look)")
        result = session.run(resolved, timeout=120)
        progress.end("ok" if result.ok else f"exited {result.returncode}")
        progress.note(f"$ {_show(session.prepare(resolved))}")
        output = (result.stdout + (result.stderr if not result.ok else "")).rstrip("\n")
        progress.note("\n".join(f"    {line}" for line in output.splitlines()) or "    (no output)")
        if not result.ok:
            failures.append(f"  - {ref}: exited {result.returncode}: {(result.stderr or result.stdout).strip()[:300]}")
    return failures
