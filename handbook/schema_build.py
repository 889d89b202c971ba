"""Setup-time build of the schema tree that ``handbook.schemas`` reads (``scripts/build_schemas.py``).

``build()`` writes ``.cache/schemas/`` (gitignored) from pinned sources only, and nothing
else touches the network (``go mod download`` through the Go module proxy, at build time):

* Kubernetes core APIs: the ``v<KUBERNETES_VERSION>-local-strict`` schemas bundled in the
  ``kubernetes-validate`` wheel (pinned in requirements.txt). One standalone file per
  top-level kind: ``$id`` removed, the definitions it reaches copied into its own ``$defs``
  and its ``/api/_definitions.json#/$defs/X`` refs rewritten to ``#/$defs/X``. (kubeconform
  v0.7.0 would also resolve a relative ref to a sibling file, but then it parses the 1.1 MB
  shared file once per kind: ten times slower.)
* CRDs from the Go modules named by the ``GO_MODULE_*`` lines of ``tools/versions.env``
  (files inside each module: ``CRD_FILES``), converted by ``handbook.crd_schema``, with the
  core ObjectMeta schema inlined for ``metadata`` (also written to ``object-meta.json`` for
  CRDs converted at run time).

Every schema comes from one of those pinned sources; none is written by hand.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .crd_schema import OBJECT_META_DEF, crd_to_json_schema, crd_versions, iter_crds
from .schemas import (
    GENERATOR_REVISION,
    INDEX_FILE,
    OBJECT_META_FILE,
    SCHEMA_PACKAGE,
    SCHEMA_ROOT,
    STAMP_FILE,
    UNVALIDATED,
    VERSIONS_FILE,
    SchemaSetupError,
    go_modules,
    kubernetes_version,
    pinned_package,
    read_versions,
    schemas_ready,
    stamp_key,
)

# Which files inside each pinned Go module hold CRDs (globs relative to the module root).
CRD_FILES: dict[str, list[str]] = {
    "GO_MODULE_ISTIO_API": ["kubernetes/customresourcedefinitions.gen.yaml"],
    "GO_MODULE_OPERATOR_FRAMEWORK_API": ["crds/operators.coreos.com_*.yaml"],
    "GO_MODULE_PROMETHEUS_OPERATOR": [
        f"example/prometheus-operator-crd/monitoring.coreos.com_{name}.yaml"
        for name in ("servicemonitors", "podmonitors", "probes", "prometheusrules", "prometheuses")
    ],
    "GO_MODULE_GATEWAY_API": ["config/crd/standard/gateway.networking.k8s.io_*.yaml"],
    # openshift/api writes one CRD file per feature set (routes-Default.crd.yaml,
    # routes-TechPreviewNoUpgrade.crd.yaml, ...) only when the sets differ. At the pinned
    # commit the one feature gate on Route, RouteExternalCertificate, is enabled in
    # Default too, so this single merged file is the Default feature set's CRD. If a
    # later pin splits it, this pattern matches nothing and the build stops.
    "GO_MODULE_OPENSHIFT_API": ["route/v1/zz_generated.crd-manifests/routes.crd.yaml"],
}

# Modules that hold the CRDs of UNVALIDATED kinds, and that the Go module proxy on this machine
# refuses for every version asked (HTTP 403 "This module version is not available").
REFUSED_MODULES: tuple[str, ...] = (
    "github.com/istio-ecosystem/sail-operator",
    "github.com/openshift-service-mesh/sail-operator",
    "github.com/kiali/kiali-operator",
    "github.com/kiali/kiali",
)


@dataclass
class BuildReport:
    built: bool
    root: Path
    seconds: float = 0.0
    kubernetes_files: int = 0
    crd_files: int = 0
    per_source: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if not self.built:
            return f"schemas already built for tools/versions.env: {self.root} (nothing to do)"
        lines = [f"built {self.root} in {self.seconds:.1f}s:",
                 f"  kubernetes core : {self.kubernetes_files} files"]
        for source, count in self.per_source.items():
            lines.append(f"  {source}: {count} CRD schemas")
        lines.append(f"  not validated   : {len(UNVALIDATED)} kinds (UNVALIDATED in handbook/schemas.py: "
                     "their CRD modules are refused by the Go module proxy; --crds DIR adds them)")
        return "\n".join(lines)


def _check_schema_package() -> None:
    """The installed kubernetes-validate must be the one constraints.txt pins (the stamp records the pin)."""
    pinned = pinned_package(SCHEMA_PACKAGE)
    try:
        installed = importlib.metadata.version(SCHEMA_PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise SchemaSetupError(f"{SCHEMA_PACKAGE} is not installed: run `make setup`") from exc
    if installed != pinned:
        raise SchemaSetupError(f"{SCHEMA_PACKAGE} {installed} is installed but constraints.txt pins "
                               f"{pinned or 'nothing'}: run `make setup`")


def kubernetes_validate_dir(k8s_version: str) -> Path:
    import kubernetes_validate

    base = Path(kubernetes_validate.__file__).resolve().parent / "kubernetes-json-schema"
    folder = base / f"v{k8s_version}-local-strict"
    if not folder.is_dir():
        available = sorted(p.name for p in base.iterdir() if p.name.endswith("-local-strict"))
        raise SchemaSetupError(
            f"kubernetes-validate has no schemas for Kubernetes {k8s_version} ({folder}); "
            f"available: {', '.join(available)}. Fix KUBERNETES_VERSION in tools/versions.env."
        )
    return folder


_DEFS_REF = "#/$defs/"
_SHARED_REF = "/api/_definitions.json#/$defs/"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def definitions_closure(definitions: dict[str, Any], roots: list[str]) -> dict[str, Any]:
    """The named definitions plus every definition they reach through ``#/$defs/`` refs."""
    closure: dict[str, Any] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in closure:
            continue
        closure[name] = definitions[name]
        pending += [ref[len(_DEFS_REF):] for ref in _refs(closure[name]) if ref.startswith(_DEFS_REF)]
    return dict(sorted(closure.items()))


def object_meta_definitions(definitions: dict[str, Any]) -> dict[str, Any]:
    """ObjectMeta and what it references, with refs rewritten for a draft-04 ``definitions`` section."""
    text = json.dumps(definitions_closure(definitions, [OBJECT_META_DEF]))
    return json.loads(text.replace(f'"{_DEFS_REF}', '"#/definitions/'))


def _copy_kubernetes(source: Path, target: Path) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Standalone strict schemas for every top-level core kind.

    Each file gets the definitions it reaches in its own ``$defs`` (refs rewritten from
    ``/api/_definitions.json#/$defs/X`` to ``#/$defs/X``), so kubeconform parses and
    checks only what one kind needs instead of the whole shared file for every kind.
    Returns (file count, "apiVersion/Kind" -> file, all definitions).
    """
    target.mkdir(parents=True)
    definitions = json.loads((source / "_definitions.json").read_text(encoding="utf-8"))["$defs"]
    index: dict[str, str] = {}
    count = 0
    for path in sorted(source.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        gvks = document.get("x-kubernetes-group-version-kind") or []
        kind_enum = (document.get("properties", {}).get("kind") or {}).get("enum")
        if not gvks or not kind_enum or path.name.startswith("_"):
            continue
        document.pop("$id", None)
        text = json.dumps(document, separators=(",", ":")).replace(f'"{_SHARED_REF}', f'"{_DEFS_REF}')
        document = json.loads(text)
        roots = [ref[len(_DEFS_REF):] for ref in _refs(document) if ref.startswith(_DEFS_REF)]
        document["$defs"] = definitions_closure(definitions, roots)
        (target / path.name).write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
        count += 1
        for gvk in gvks:
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            index[f"{api_version}/{gvk['kind']}"] = str(target.relative_to(target.parent.parent) / path.name)
    return count, index, definitions


def go_mod_download(module: str, version: str) -> Path:
    """The module's directory in the Go module cache, downloading it if needed."""
    go = shutil.which("go")
    if go is None:
        raise SchemaSetupError("the `go` command is not on PATH; it is needed once to fetch the CRD modules")
    with tempfile.TemporaryDirectory() as outside_any_module:
        result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            [go, "mod", "download", "-json", f"{module}@{version}"],
            cwd=outside_any_module, capture_output=True, text=True, check=False,
        )
    try:
        info = json.loads(result.stdout)
    except ValueError:
        info = {}
    if result.returncode != 0 or "Dir" not in info:
        reason = info.get("Error") or result.stderr.strip() or f"exit code {result.returncode}"
        raise SchemaSetupError(f"go mod download {module}@{version} failed: {reason}")
    return Path(info["Dir"])


def recheck_refused(download: Callable[[str, str], Path] = go_mod_download) -> dict[str, str]:
    """Ask the module proxy again for each module of REFUSED_MODULES (network; not part of build()).

    Returns module -> the proxy's refusal, or "" when the module is served now (then
    pin it in tools/versions.env and drop its kinds from UNVALIDATED).
    """
    answers: dict[str, str] = {}
    for module in REFUSED_MODULES:
        try:
            download(module, "latest")
        except SchemaSetupError as exc:
            answers[module] = str(exc)
        else:
            answers[module] = ""
    return answers


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, sort_keys=True), encoding="utf-8")


def build(*, force: bool = False, root: Path = SCHEMA_ROOT,
          download: Callable[[str, str], Path] = go_mod_download) -> BuildReport:
    """Generate the schema tree unless the stamp says it is current."""
    if not force and schemas_ready(root):
        return BuildReport(built=False, root=root)
    started = time.monotonic()
    _check_schema_package()
    versions = read_versions()
    k8s_version = kubernetes_version(versions)
    report = BuildReport(built=True, root=root)

    staging = root.with_name(root.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    index: dict[str, dict[str, str]] = {}

    k8s_dir = staging / "kubernetes" / f"v{k8s_version}"
    source = kubernetes_validate_dir(k8s_version)
    report.kubernetes_files, core, definitions = _copy_kubernetes(source, k8s_dir)
    for key, relative_file in core.items():
        index[key] = {"file": relative_file, "origin": f"kubernetes-validate v{k8s_version}-local-strict"}

    object_meta = object_meta_definitions(definitions)
    _write_json(staging / OBJECT_META_FILE, object_meta)
    for key, (module, version) in go_modules(versions).items():
        patterns = CRD_FILES.get(key)
        if patterns is None:
            raise SchemaSetupError(f"{VERSIONS_FILE}: {key} has no entry in CRD_FILES of handbook/schema_build.py")
        module_dir = download(module, version)
        origin = f"{module}@{version}"
        if module in REFUSED_MODULES:
            raise SchemaSetupError(f"{VERSIONS_FILE}: {key} pins {module}, which REFUSED_MODULES in "
                                   "handbook/schema_build.py says the module proxy refuses; if it is served "
                                   "now, remove it from REFUSED_MODULES and its kinds from UNVALIDATED")
        files = sorted({p for pattern in patterns for p in module_dir.glob(pattern) if p.is_file()})
        if not files:
            raise SchemaSetupError(f"{origin}: no file matches {patterns}")
        count = 0
        for crd_file in files:
            for crd in iter_crds(crd_file):
                feature_set = (crd.get("metadata", {}).get("annotations") or {}).get(
                    "release.openshift.io/feature-set")
                if feature_set not in (None, "Default"):
                    raise SchemaSetupError(f"{origin} {crd_file.relative_to(module_dir)} is the CRD of the "
                                           f"{feature_set} feature set; CRD_FILES must pick the Default one")
                for group, version_name, kind, openapi in crd_versions(crd):
                    schema = crd_to_json_schema(openapi, group=group, version=version_name, kind=kind,
                                                object_meta=object_meta,
                                                origin=f"{origin} {crd_file.relative_to(module_dir)}")
                    target = staging / "crds" / group / f"{kind.lower()}_{version_name}.json"
                    _write_json(target, schema)
                    index[f"{group}/{version_name}/{kind}"] = {
                        "file": str(target.relative_to(staging)), "origin": origin,
                    }
                    count += 1
        report.per_source[origin] = count
        report.crd_files += count

    covered = sorted(f"{api_version}/{kind}" for api_version, kind in UNVALIDATED
                     if f"{api_version}/{kind}" in index)
    if covered:
        shutil.rmtree(staging)
        raise SchemaSetupError(f"{', '.join(covered)} now have a schema from a pinned source: remove them "
                               "from UNVALIDATED in handbook/schemas.py so they are validated")

    unvalidated = {f"{api_version}/{kind}": reason for (api_version, kind), reason in UNVALIDATED.items()}
    _write_json(staging / INDEX_FILE, {"kubernetes_version": k8s_version, "schemas": index,
                                       "unvalidated": unvalidated})
    _write_json(staging / STAMP_FILE, {"key": stamp_key(), "generator": GENERATOR_REVISION})
    if root.exists():
        shutil.rmtree(root)
    os.replace(staging, root)
    report.seconds = time.monotonic() - started
    return report
