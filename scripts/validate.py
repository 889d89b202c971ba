#!/usr/bin/env python3
"""Validate every manifest of the lab with kubeconform (strict), under two sets of values.

    python3 scripts/validate.py [--engine auto|kubeconform|python]

Exit 0 when every document is valid, 3 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handbook.errors import LabError  # noqa: E402
from handbook.lab import Lab  # noqa: E402
from handbook.manifest_check import notice_lines, validate_manifests, value_sets  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("auto", "kubeconform", "python"), default="auto")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        lab = Lab.load()
        report = validate_manifests(lab, engine=args.engine)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    elapsed = time.monotonic() - started
    documents = len(lab.documents())
    problems = report.problems
    for line in notice_lines(report):
        print(f"note: {line}", file=sys.stderr)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        sets = len(value_sets(lab))
        print(f"{len(problems)} problem(s) in {documents} documents x {sets} value sets", file=sys.stderr)
        return 3
    skipped = len(notice_lines(report))
    print(f"valid: {documents - skipped} documents x {len(value_sets(lab))} value sets, {skipped} not validated "
          f"(no schema source here) ({args.engine}, {elapsed:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
