#!/usr/bin/env python3
"""Build .cache/schemas/, the local schema tree kubeconform validates the lab's manifests against.

Reads tools/versions.env and, from there:
  - KUBERNETES_VERSION: the strict core schemas bundled in the kubernetes-validate wheel;
  - GO_MODULE_*: CRDs inside those Go modules (istio.io/api, operator-framework/api,
    prometheus-operator, gateway-api), fetched with `go mod download`;
  - hand-written partial schemas for sailoperator.io, route.openshift.io and kiali.io
    (their modules are not served by the module proxy here).
The logic is in handbook/schemas.py. Does nothing when the stamp matches versions.env,
unless --force is given.

Usage: .venv/bin/python scripts/build_schemas.py [--force]
"""

from __future__ import annotations

import argparse
import sys

from handbook.schemas import SchemaSetupError, build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp is current")
    args = parser.parse_args(argv)
    try:
        report = build(force=args.force)
    except SchemaSetupError as exc:
        print(f"build_schemas: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
