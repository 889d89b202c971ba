#!/usr/bin/env python3
"""Validate every manifest of the lab with kubeconform (strict), under two sets of values.

    python3 scripts/validate.py [--engine auto|kubeconform|python] [--crds PATH]...

--crds adds a file or folder of CRDs (for example ../shared/crds, or `oc get crd NAME -o yaml`
saved to a file) so that kinds without a pinned schema (Istio, Kiali) are validated too; the
HANDBOOK_CRDS environment variable (paths separated by ':') does the same. An unchanged lab
is not validated twice: the report is cached by content (.cache/validation).

Exit 0 when every document is valid, 3 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handbook.errors import InvalidManifestError, LabError  # noqa: E402
from handbook.lab import Lab  # noqa: E402
from handbook.manifest_check import notice_lines, validate_manifests, value_sets  # noqa: E402
from handbook.validation import EngineValidator, ValidationSetupError  # noqa: E402
from handbook.validation.extra_crds import from_environment, schema_set  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("auto", "kubeconform", "python"), default="auto",
                        help="auto: kubeconform when installed, else the Python fallback (with a warning)")
    parser.add_argument("--crds", action="append", default=[], type=Path, metavar="PATH",
                        help="a CRD file or a folder of them to validate against too (repeatable)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        lab = Lab.load()
        try:
            validator = EngineValidator(args.engine, schema_set([*args.crds, *from_environment()]))
        except ValidationSetupError as exc:
            raise InvalidManifestError([f"cannot validate the manifests: {exc}"]) from exc
        report = validate_manifests(lab, validator=validator)
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
          f"(no schema here; see --crds) ({args.engine}, {elapsed:.2f}s{', from the cache' if report.cached else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
