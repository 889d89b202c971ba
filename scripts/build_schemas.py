#!/usr/bin/env python3
"""Build .cache/schemas/, the local schema tree kubeconform validates the lab's manifests against.

Reads tools/versions.env and, from there:
  - KUBERNETES_VERSION: the strict core schemas bundled in the kubernetes-validate wheel;
  - GO_MODULE_*: CRDs inside those Go modules (istio.io/api, operator-framework/api,
    prometheus-operator, gateway-api, openshift/api), fetched with `go mod download`.
Nothing else is used: the kinds whose CRD modules the module proxy refuses (Sail
operator, Kiali) have no schema and are listed in UNVALIDATED in handbook/schemas.py
(`--crds DIR` on validate.py and apply.py adds them at validation time).
The logic is in handbook/schema_build.py. Does nothing when the stamp (a hash of the pinned
values, not of any file) is current, unless --force is given.

Usage: .venv/bin/python scripts/build_schemas.py [--force] [--recheck-refused]
"""

from __future__ import annotations

import argparse
import sys

from handbook.schema_build import REFUSED_MODULES, build, recheck_refused
from handbook.schemas import UNVALIDATED, SchemaSetupError


def _recheck() -> int:
    """Ask the module proxy again for every refused module; 1 when one of them is served now."""
    served = []
    for module, refusal in recheck_refused().items():
        if refusal:
            print(f"still refused: {module}: {refusal.splitlines()[-1].strip()}")
        else:
            served.append(module)
            print(f"SERVED NOW:    {module}")
    if served:
        print(f"build_schemas: {', '.join(served)} can be pinned now: add it to tools/versions.env and "
              "CRD_FILES, and remove it from REFUSED_MODULES (handbook/schema_build.py) and its kinds from "
              "UNVALIDATED (handbook/schemas.py)", file=sys.stderr)
        return 1
    print(f"all {len(REFUSED_MODULES)} modules are still refused; {len(UNVALIDATED)} kinds stay unvalidated")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp is current")
    parser.add_argument("--recheck-refused", action="store_true",
                        help="only ask the Go module proxy again for the modules listed as refused")
    args = parser.parse_args(argv)
    if args.recheck_refused:
        return _recheck()
    try:
        report = build(force=args.force)
    except SchemaSetupError as exc:
        print(f"build_schemas: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
