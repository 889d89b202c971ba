"""The command line of the local control plane (scripts/local_cluster.py):

    local_cluster.py build                 # build, or reuse, the pinned binaries
    local_cluster.py start [--dir DIR] [--no-nodes]
    local_cluster.py env   [--dir DIR]     # shell lines that point kubectl at it
    local_cluster.py crds  [--dir DIR] [--placeholders] [--no-folder]
    local_cluster.py status [--dir DIR]
    local_cluster.py stop  [--dir DIR] [--keep]

`crds` installs the pinned CRDs, the Sail and Kiali CRDs of HANDBOOK_CRDS (or ../shared/crds
beside the clone), and with --placeholders open CRDs for the Sail kinds that folder lacks.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from .binaries import build
from .cluster import LocalCluster
from .common import DEFAULT_DIR, ClusterError
from .crds import install_crds


def shell_env(cluster: LocalCluster) -> str:
    return (f"export KUBECONFIG={shlex.quote(str(cluster.kubeconfig))}\n"
            f"export PATH={shlex.quote(str(cluster.bin))}:\"$PATH\"\n")


def main(argv: Sequence[str] | None = None) -> int:
    assert __doc__
    parser = argparse.ArgumentParser(prog="local_cluster.py", description="A real Kubernetes control plane on "
                                     "127.0.0.1, for the end-to-end tests of scripts/apply.py.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("command", choices=("build", "start", "env", "crds", "stop", "status"))
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"state folder (default: {DEFAULT_DIR})")
    parser.add_argument("--no-nodes", action="store_true", help="only etcd and kube-apiserver")
    parser.add_argument("--placeholders", action="store_true",
                        help="crds: open placeholder CRDs for the Sail kinds that no CRD folder provides")
    parser.add_argument("--no-folder", action="store_true", help="crds: leave out HANDBOOK_CRDS / ../shared/crds")
    parser.add_argument("--keep", action="store_true", help="stop: keep the folder (logs, certificates)")
    parser.add_argument("--force", action="store_true", help="build: rebuild even when the stamp matches")
    args = parser.parse_args(argv)
    directory = args.dir.resolve()
    try:
        if args.command == "build":
            print(build(force=args.force).summary())
        elif args.command == "start":
            report = build()
            if not report.reused:
                print(report.summary(), file=sys.stderr)
            cluster = LocalCluster(directory=directory, bin=report.directory, missing=dict(report.failed))
            cluster.start(nodes=not args.no_nodes)
            print(f"# local cluster at {cluster.server}; stop it with: "
                  f"python3 scripts/local_cluster.py stop --dir {shlex.quote(str(directory))}", file=sys.stderr)
            sys.stdout.write(shell_env(cluster))
        elif args.command == "env":
            sys.stdout.write(shell_env(LocalCluster.load(directory)))
        elif args.command == "status":
            cluster = LocalCluster.load(directory)
            print(f"{cluster.server}: running {', '.join(cluster.running()) or 'nothing'}")
        elif args.command == "crds":
            install_crds(LocalCluster.load(directory), placeholders=args.placeholders, folder=not args.no_folder)
        elif args.command == "stop":
            killed = LocalCluster.load(directory).stop(remove=not args.keep)
            print("stopped" + (f" (killed after the grace period: {', '.join(killed)})" if killed else ""))
    except ClusterError as exc:
        print(f"local_cluster: {exc}", file=sys.stderr)
        return 1
    return 0
