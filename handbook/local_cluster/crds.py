"""The CRDs a local control plane serves, from three sources, most trusted first:

1. The pinned Go modules of tools/versions.env, with exactly the files handbook/schemas.py
   validates against (``schema_build.CRD_FILES``), plus the OpenShift config objects that learners'
   commands read (``PLATFORM_CRD_FILES``: ``ingresses.config.openshift.io``, whose object
   ``cluster`` holds the apps domain).
2. A folder of CRD files the registries cannot serve (the Sail operator's and Kiali's): the paths
   of ``HANDBOOK_CRDS`` (separated by ``:``), else ``<clone>/../shared/crds`` when it exists. These
   are the real CRDs, so their CEL rules run: an IstioCNI must be named ``default``, and an
   Istio's ``spec.namespace`` cannot change.
3. Only when asked (``placeholders=True``) and only for a kind that (2) did not provide: an open
   placeholder CRD that stores any spec, so that a clone without ../shared can still run the lab.
   Its scope is the real CRD's; a kind whose scope was not checked gets none, and a stage that
   needs it stops at apply.py's preflight (exit 7).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from .. import schema_build, schemas
from ..crd_schema import iter_crds
from ..paths import REPO_ROOT
from ..validation import extra_crds
from .cluster import LocalCluster
from .common import ClusterError

CRD_FOLDER_VARIABLE = extra_crds.ENVIRONMENT
SHARED_CRDS = REPO_ROOT.parent / "shared" / "crds"
# OpenShift objects that learners read, served here from the same pinned openshift/api module.
PLATFORM_CRD_FILES = {
    "GO_MODULE_OPENSHIFT_API": ["config/v1/zz_generated.crd-manifests/0000_10_config-operator_01_ingresses.crd.yaml"],
}
# Scope is what the real CRDs declare (sail-operator v3.4.1 bundle/manifests/sailoperator.io_<plural>.yaml:
# `scope: Cluster` for istios, istiocnis, istiorevisiontags and ztunnels).
PLACEHOLDER_SCOPES = {
    ("sailoperator.io/v1", "Istio"): "Cluster",
    ("sailoperator.io/v1", "IstioCNI"): "Cluster",
    ("sailoperator.io/v1", "IstioRevisionTag"): "Cluster",
    ("sailoperator.io/v1", "ZTunnel"): "Cluster",
}


def pinned_crd_files() -> list[tuple[str, Path]]:
    """(origin, file) for every CRD file of source 1, from the Go module cache (`go mod download`
    fetches a module only if the cache lacks it)."""
    files: list[tuple[str, Path]] = []
    for key, (module, version) in schemas.go_modules(schemas.read_versions()).items():
        root = schema_build.go_mod_download(module, version)
        for pattern in [*schema_build.CRD_FILES[key], *PLATFORM_CRD_FILES.get(key, [])]:
            matched = sorted(root.glob(pattern))
            if not matched:
                raise ClusterError(f"{module}@{version}: no file matches {pattern}")
            files += [(f"{module}@{version}", path) for path in matched]
    return files


def crd_folder_paths(environ: Mapping[str, str] = os.environ) -> tuple[list[Path], str]:
    """The paths of source 2 and where they came from; ([], why) when there are none."""
    named = extra_crds.from_environment(environ)
    if named:
        missing = [str(p) for p in named if not p.exists()]
        if missing:
            raise ClusterError(f"{CRD_FOLDER_VARIABLE} names {', '.join(missing)}, which does not exist")
        return named, CRD_FOLDER_VARIABLE
    if SHARED_CRDS.is_dir():
        return [SHARED_CRDS], str(SHARED_CRDS)
    return [], (f"no CRD folder: {CRD_FOLDER_VARIABLE} is unset and {SHARED_CRDS} does not exist "
                "(the Sail and Kiali CRDs come only from there)")


def folder_crds(paths: list[Path]) -> list[dict]:
    """Every CustomResourceDefinition in ``paths`` (files, or folders' YAML and JSON files; a ``List`` too)."""
    return [crd for path in extra_crds.crd_files(paths) for crd in iter_crds(path)]


def served_kinds(crds: list[dict]) -> set[tuple[str, str]]:
    return {(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            for crd in crds for version in crd["spec"]["versions"] if version.get("served", True)}


def placeholder_crds(real: set[tuple[str, str]] = frozenset()) -> list[dict]:  # type: ignore[assignment]
    """Open CRDs for the unvalidated kinds whose scope is known and that ``real`` does not serve."""
    open_object = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    crds = []
    for (api_version, kind), why in schemas.UNVALIDATED.items():
        scope = PLACEHOLDER_SCOPES.get((api_version, kind))
        if scope is None or (api_version, kind) in real:
            continue
        group, version = api_version.split("/")
        plural = kind.lower() + "s"
        crds.append({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}",
                         "annotations": {"local-cluster/placeholder": f"not the real CRD: {why}"[:250]}},
            "spec": {
                "group": group, "scope": scope,
                "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
                "versions": [{
                    "name": version, "served": True, "storage": True, "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object",
                                                   "properties": {"spec": open_object, "status": open_object}}},
                }],
            },
        })
    return crds


def _apply(cluster: LocalCluster, what: str, *, path: Path | None = None, items: list[dict] | None = None) -> list[str]:
    """Server-side apply (some CRDs are larger than client-side apply's annotation limit)."""
    args = ["apply", "--server-side", "--force-conflicts", "--field-manager=local-cluster", "-o", "name"]
    stdin = None
    if path is not None:
        args += ["-f", str(path)]
    else:
        args += ["-f", "-"]
        stdin = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    result = cluster.kubectl(*args, stdin=stdin, check=False)
    if result.returncode != 0:
        raise ClusterError(f"{what}: kubectl apply failed: {result.stderr.strip()}")
    return result.stdout.split()


def install_crds(cluster: LocalCluster, *, placeholders: bool = False, folder: bool = True,
                 log: TextIO = sys.stderr) -> list[str]:
    """Apply the CRDs of the module docstring and wait until the API server serves them; returns their names."""
    names: list[str] = []
    for origin, path in pinned_crd_files():
        names += _apply(cluster, f"{origin} {path.name}", path=path)
    real: list[dict] = []
    if folder:
        paths, origin = crd_folder_paths()
        if paths:
            real = folder_crds(paths)
            names += _apply(cluster, f"the CRDs of {origin}", items=real)
            print(f"local_cluster: {len(real)} CRDs from {origin} ({', '.join(map(str, paths))})", file=log)
        else:
            print(f"local_cluster: {origin}", file=log)
    if placeholders:
        open_crds = placeholder_crds(served_kinds(real))
        if open_crds:
            names += _apply(cluster, "placeholder CRDs", items=open_crds)
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    print(f"local_cluster: {len(names)} CRDs established", file=log)
    return names
