#!/usr/bin/env python3
"""Bring a cluster to the end of a stage by running exactly the steps the handbook shows.

    python3 scripts/apply.py list
    python3 scripts/apply.py stage-3 [--only] [--user user1] [--set NAME=VALUE] [--dry-run]
    python3 scripts/apply.py verify stage-3
    python3 scripts/apply.py reset [stage-N] [--yes] [--dry-run]
    python3 scripts/apply.py exercise stage-3 [--user user1] [--dry-run]    (after stage-3: its exercise solution)
    python3 scripts/apply.py troubleshoot stage-3 [--dry-run]                (the stage's read-only looks)

A thin adapter: the steps, their commands and the checks come from manifests/ through
the handbook package, the same objects the pages are rendered from.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

try:
    import yaml  # noqa: F401 - only probing that the project's dependencies are importable
except ImportError:  # run with a Python that lacks them: use the project's .venv if `make setup` made one
    venv_python = REPO / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.executable) != venv_python:
        os.execv(venv_python, [str(venv_python), *sys.argv])  # noqa: S606 - same script, same arguments
    sys.exit("error: PyYAML is missing: run `make setup` (or `pip install pyyaml jsonschema`) first")

from handbook.blocks import dry_run_text, reset_block  # noqa: E402
from handbook.cluster import Session, SubprocessRunner, detect_cli  # noqa: E402
from handbook.errors import (  # noqa: E402
    EXIT_CODES,
    AbortedError,
    InvalidManifestError,
    LabError,
    StepFailedError,
    UsageError,
)
from handbook.execute import apply_plan, run_looks, run_reset, verify_stage  # noqa: E402
from handbook.lab import STAGE_ID, Lab  # noqa: E402
from handbook.manifest_check import notice_lines, validate_manifests  # noqa: E402
from handbook.many_users import MultiProgress, Summary, UserOutcome, parse_users, run_many  # noqa: E402
from handbook.plan import exercise_plan, look_commands, reset_commands, reset_stages, troubleshoot_plan  # noqa: E402
from handbook.platforms import CLUSTER_CLIS, DEFAULT_PLATFORM, PLATFORMS  # noqa: E402
from handbook.preflight import check_apis, check_cli_supports, check_login, discover_values, required_apis  # noqa: E402
from handbook.progress import Progress  # noqa: E402
from handbook.shell import quote_word  # noqa: E402
from handbook.validation import ValidationSetupError, Validator, from_environment  # noqa: E402


def parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {code:>2}  {meaning}" for code, meaning in EXIT_CODES.items())
    p = argparse.ArgumentParser(
        prog="apply.py",
        description="Run the handbook's steps against a cluster (or print them with --dry-run).",
        epilog=f"exit codes:\n{codes}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("command", help="list | stage-N | verify | reset | exercise | troubleshoot")
    p.add_argument("stage", nargs="?",
                   help="the stage for verify, exercise and troubleshoot (required) and reset (default: stage-1)")
    p.add_argument("--only", action="store_true", help="run only the named stage, not the stages before it")
    p.add_argument("--dry-run", action="store_true", help="print what a reader would paste; touch nothing")
    p.add_argument("--user", help="shorthand for --set LAB_USER=NAME")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="set a variable (repeatable)")
    p.add_argument("--platform", choices=PLATFORMS, default=DEFAULT_PLATFORM)
    p.add_argument("--cli", choices=CLUSTER_CLIS, help="the cluster CLI (default: detected)")
    p.add_argument("--context", help="the kubeconfig context to use (default: the current one)")
    p.add_argument("--yes", action="store_true", help="reset without asking")
    p.add_argument("--delete-namespaces", action="store_true",
                   help="reset: also delete the namespaces (projects) the stages create; by default they stay")
    p.add_argument("--keep", action="append", default=[], metavar="STAGE",
                   help="reset: keep what this stage created (repeatable), e.g. --keep stage-2")
    p.add_argument("--users", help="instructors: run for many users at once, e.g. user1-user30 or alice,bob")
    p.add_argument("--parallel", type=int, default=4, help="with --users: how many users at a time (default 4)")
    p.add_argument("--crds", action="append", default=[], type=Path, metavar="PATH",
                   help="also validate against the CRDs in this file or folder (repeatable), e.g. ../shared/crds "
                        "or the output of `oc get crd NAME -o yaml`; HANDBOOK_CRDS does the same")
    return p


def resume_command(args: argparse.Namespace, user: str | None = None) -> str:
    words = ["python3", "scripts/apply.py", args.command]
    if args.stage:
        words.append(args.stage)
    if args.only:
        words.append("--only")
    if user or args.user:
        words += ["--user", user or args.user]
    for assignment in args.set:
        words += ["--set", assignment]
    for crds in args.crds:
        words += ["--crds", str(crds)]
    if args.platform != DEFAULT_PLATFORM:
        words += ["--platform", args.platform]
    if args.cli:
        words += ["--cli", args.cli]
    if args.context:
        words += ["--context", args.context]
    return " ".join(quote_word(w) for w in words)


def main(argv: list[str] | None = None, validator: Validator | None = None) -> int:
    args = parser().parse_args(argv)
    out = sys.stdout
    try:
        return run(args, out, validator)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def chosen_validator(args: argparse.Namespace) -> Validator:
    """The validator HANDBOOK_VALIDATOR names (kubeconform by default), with the CRDs of --crds and HANDBOOK_CRDS."""
    for path in args.crds:
        if not path.exists():
            raise UsageError(f"--crds {path}: no such file or folder")
    try:
        return from_environment(crds=args.crds)
    except ValidationSetupError as exc:
        raise InvalidManifestError([f"cannot validate the manifests: {exc}"]) from exc


def run(args: argparse.Namespace, out, validator: Validator | None = None) -> int:  # noqa: ANN001 - a text stream
    """One command; ``validator`` replaces the one the environment names (a seam for callers and tests)."""
    lab = Lab.load()
    if args.command == "list":
        for stage in lab.stages:
            who = "cluster admin" if stage.audience == "admin" else "each user"
            print(f"{stage.id:<9} {stage.title}  [{stage.minutes} min, {len(stage.steps)} steps, {who}]", file=out)
        return 0

    overrides = lab.variables.parse_overrides(args.set)
    if args.user:
        overrides["LAB_USER"] = args.user
    values = lab.variables.resolve(overrides, platform=args.platform)  # refuses bad values before anything else
    if args.users:
        return run_for_users(lab, args, overrides, out, validator or chosen_validator(args))

    if args.command in ("verify", "exercise", "troubleshoot"):
        if not args.stage:
            raise UsageError(f"{args.command} needs a stage, e.g. apply.py {args.command} stage-1")
        stage = lab.stage(args.stage)
        plan = {"verify": lambda: [stage], "exercise": lambda: exercise_plan(stage),
                "troubleshoot": lambda: troubleshoot_plan(stage)}[args.command]()
    elif args.command == "reset":
        plan = reset_stages(lab.stages, lab.stage(args.stage or "stage-1"), [lab.stage(k) for k in args.keep])
    elif STAGE_ID.fullmatch(args.command):
        if args.stage:
            raise UsageError(f"unexpected argument {args.stage!r} after {args.command}")
        plan = lab.plan(args.command, only=args.only)
    else:
        raise UsageError(f"unknown command {args.command!r}: expected list, stage-N, verify stage-N, reset, "
                         "exercise stage-N or troubleshoot stage-N")

    if args.command == "reset" and args.dry_run:
        print(reset_block(plan, args.platform, args.cli, delete_namespaces=args.delete_namespaces).text, file=out)
        return 0
    # A dry run shows what a reader would paste: it refuses invalid manifests exactly as a real run does.
    if args.command != "reset":
        check_manifests(lab, plan, {"your values": values}, validator or chosen_validator(args))
    if args.dry_run:
        out.write(dry_run_text(lab, plan, args.platform, args.cli, values))
        return 0

    # Everything below may touch the cluster, so every check that needs no cluster comes first.
    cli = detect_cli(args.platform, args.cli)
    check_cli_supports(plan, args.platform, cli)
    session = Session(SubprocessRunner(), cli, args.context)
    progress = Progress(out)
    who = check_login(session)
    discovered = discover_values(session, lab, plan, args.platform, overrides)
    values = lab.variables.resolve(overrides, discovered, args.platform)
    progress.note(f"{cli} logged in as {who}; LAB_USER={values['LAB_USER']}")

    if args.command == "verify":
        verify_stage(session, plan[0], args.platform, values, progress)
        progress.note(f"{plan[0].id}: every check passed")
        return 0
    if args.command == "troubleshoot":
        failures = run_looks(session, look_commands(plan, args.platform), values, progress)
        progress.note(f"{plan[0].id}: {len(failures)} look(s) failed (reported above, not fatal)" if failures
                      else f"{plan[0].id}: every look ran")
        return 0
    if args.command == "reset":
        commands = reset_commands(plan, args.platform, delete_namespaces=args.delete_namespaces)
        if not args.yes:
            confirm_reset(commands, values)
        run_reset(session, commands, values, progress)
        progress.note(f"reset: removed what {', '.join(s.id for s in plan)} created")
        return 0

    check_apis(session, required_apis(plan, args.platform, values))
    count = apply_plan(session, plan, args.platform, values, progress, resume_command(args))
    progress.note(f"done: {count} steps of {', '.join(s.id for s in plan)}; check with: "
                  f"python3 scripts/apply.py verify {plan[-1].id}")
    return 0


def run_for_users(lab: Lab, args: argparse.Namespace, overrides: dict[str, str], out,  # noqa: ANN001
                  validator: Validator) -> int:
    """`stage-N --users ...`: validate every user's values and manifests, check the cluster once, then run."""
    if args.user or "LAB_USER" in overrides:
        raise UsageError("--users and --user/--set LAB_USER=... exclude each other")
    if not STAGE_ID.fullmatch(args.command) or args.stage:
        raise UsageError("--users works with stage-N, e.g. apply.py stage-2 --users user1-user30")
    if args.parallel < 1:
        raise UsageError("--parallel needs 1 or more")
    users = parse_users(args.users)
    # Bad names stop here.
    per_user = {u: lab.variables.resolve({**overrides, "LAB_USER": u}, platform=args.platform) for u in users}
    plan = lab.plan(args.command, only=args.only)
    check_manifests(lab, plan, {f"user {u}": v for u, v in per_user.items()}, validator)
    if args.dry_run:
        for user, values in per_user.items():
            out.write(f"# ######## {user}\n" + dry_run_text(lab, plan, args.platform, args.cli, values) + "\n")
        return 0
    cli = detect_cli(args.platform, args.cli)
    check_cli_supports(plan, args.platform, cli)
    runner = SubprocessRunner()
    shared = Session(runner, cli, args.context)
    who = check_login(shared)
    discovered = discover_values(shared, lab, plan, args.platform, overrides)
    first = lab.variables.resolve({**overrides, "LAB_USER": users[0]}, discovered, args.platform)
    check_apis(shared, required_apis(plan, args.platform, first))
    print(f"{cli} logged in as {who}; {len(users)} users, {args.parallel} at a time", file=out)

    def run_one(user: str, progress) -> UserOutcome:  # noqa: ANN001 - a UserProgress
        session = Session(runner, cli, args.context)
        values = lab.variables.resolve({**overrides, "LAB_USER": user}, discovered, args.platform)
        try:
            steps = apply_plan(session, plan, args.platform, values, progress, resume_command(args, user))
        except StepFailedError as exc:
            return UserOutcome(user, ok=False, calls=session.calls, error=str(exc))
        return UserOutcome(user, ok=True, steps=steps, calls=session.calls)

    started = time.monotonic()
    outcomes = run_many(users, run_one, MultiProgress(users, out), args.parallel)
    print(Summary(outcomes, time.monotonic() - started).table(), file=out)
    return 0 if all(o.ok for o in outcomes) else StepFailedError.exit_code


def check_manifests(lab: Lab, plan: list, sets: dict, validator: Validator) -> None:
    """Validate the plan's manifests with the values that will be used; refuse on any problem (exit 3)."""
    report = validate_manifests(lab, plan, sets=sets, validator=validator)
    for line in notice_lines(report):
        print(f"note: {line}", file=sys.stderr)
    if report.problems:
        raise InvalidManifestError([str(p) for p in report.problems])


def confirm_reset(commands, values) -> None:  # noqa: ANN001
    if not sys.stdin.isatty():
        raise AbortedError("reset deletes resources; without a terminal to ask, pass --yes")
    print("reset will delete, in this order:")
    for ref, command in commands:
        print(f"  - {ref}: {' '.join(command.resolved(values).argv)}")
    answer = input("Type 'yes' to delete: ").strip()
    if answer != "yes":
        raise AbortedError("reset: nothing was deleted")


if __name__ == "__main__":
    sys.exit(main())
