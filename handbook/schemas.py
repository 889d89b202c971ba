"""The local JSON-schema tree that kubeconform and the Python fallback validate against.

``build()`` writes ``.cache/schemas/`` (gitignored) from pinned sources only, and
nothing else touches the network (``go mod download`` through the Go module
proxy is the one exception, at build time):

* Kubernetes core APIs: the ``v<KUBERNETES_VERSION>-local-strict`` schemas bundled
  in the ``kubernetes-validate`` wheel (version pinned in requirements.txt). One
  standalone file per top-level kind: ``$id`` removed, the definitions it reaches
  copied into its own ``$defs`` and its ``/api/_definitions.json#/$defs/X`` refs
  rewritten to ``#/$defs/X``. (kubeconform v0.7.0 would also resolve a relative ref
  to a sibling file as a local ``file://`` URL, checked in its source and by running
  it, but then it parses the 1.1 MB shared file once per kind: ten times slower.)
* CRDs from the Go modules named by the ``GO_MODULE_*`` lines of
  ``tools/versions.env`` (files inside each module: ``CRD_FILES`` below), converted
  to strict, self-contained draft-04 JSON schema (``crd_to_json_schema``), with the
  core ObjectMeta schema inlined for ``metadata``.

Every schema comes from one of those pinned sources; none is written by hand.
The kinds whose CRDs live in a module the Go module proxy refuses here are listed
in ``UNVALIDATED`` with the reason: the validators skip exactly those kinds and
report each such document as not validated (see handbook/validation.py).

Layout, in kubeconform's naming scheme::

    .cache/schemas/kubernetes/v1.33.0/deployment-apps-v1.json   {{ .ResourceKind }}{{ .KindSuffix }}
    .cache/schemas/crds/networking.istio.io/virtualservice_v1.json
                                        {{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}
    .cache/schemas/index.json   every (apiVersion, kind) with its file and origin
    .cache/schemas/stamp.json   hash of versions.env, this module and the kubernetes-validate version;
                                a match means "already built"
"""

from __future__ import annotations

import copy
import hashlib
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

import yaml

from .paths import REPO_ROOT

VERSIONS_FILE = REPO_ROOT / "tools" / "versions.env"
SCHEMA_ROOT = REPO_ROOT / ".cache" / "schemas"
STAMP_FILE = "stamp.json"
INDEX_FILE = "index.json"

# Bump when the output of this module changes for the same inputs.
GENERATOR_REVISION = "5"

DRAFT4 = "http://json-schema.org/draft-04/schema#"
OBJECT_META_DEF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# Which files inside each pinned Go module hold CRDs (globs relative to the module root).
CRD_FILES: dict[str, list[str]] = {
    "GO_MODULE_ISTIO_API": ["kubernetes/customresourcedefinitions.gen.yaml"],
    "GO_MODULE_OPERATOR_FRAMEWORK_API": ["crds/operators.coreos.com_*.yaml"],
    "GO_MODULE_PROMETHEUS_OPERATOR": [
        f"example/prometheus-operator-crd/monitoring.coreos.com_{name}.yaml"
        for name in ("servicemonitors", "podmonitors", "probes", "prometheusrules")
    ],
    "GO_MODULE_GATEWAY_API": ["config/crd/standard/gateway.networking.k8s.io_*.yaml"],
    # openshift/api writes one CRD file per feature set (routes-Default.crd.yaml,
    # routes-TechPreviewNoUpgrade.crd.yaml, ...) only when the sets differ. At the pinned
    # commit the one feature gate on Route, RouteExternalCertificate, is enabled in
    # Default too, so this single merged file is the Default feature set's CRD. If a
    # later pin splits it, this pattern matches nothing and the build stops.
    "GO_MODULE_OPENSHIFT_API": ["route/v1/zz_generated.crd-manifests/routes.crd.yaml"],
}

# The only kinds that are not validated. Their CRDs live in modules that the Go
# module proxy on this machine refuses for every version asked (HTTP 403 "This
# module version is not available"), and no other served module carries them.
# Documents of exactly these (apiVersion, kind) pairs are skipped by both engines
# and reported as NotValidated; any other kind without a schema is an error.
# Keys must never have a schema in the built tree: build() checks that.
REFUSED_MODULES: tuple[str, ...] = (
    "github.com/istio-ecosystem/sail-operator",
    "github.com/openshift-service-mesh/sail-operator",
    "github.com/kiali/kiali-operator",
    "github.com/kiali/kiali",
)
_SAIL_REFUSED = ("its CRD is in github.com/istio-ecosystem/sail-operator (chart/crds/), and the Go module "
                 "proxy on this machine refuses every version of that module and of its OpenShift build "
                 "github.com/openshift-service-mesh/sail-operator")
_KIALI_REFUSED = ("its CRD is in github.com/kiali/kiali-operator (crd-docs/crd/), and the Go module proxy "
                  "on this machine refuses every version of that module and of github.com/kiali/kiali")
UNVALIDATED: dict[tuple[str, str], str] = {
    ("sailoperator.io/v1", "Istio"): _SAIL_REFUSED,
    ("sailoperator.io/v1", "IstioCNI"): _SAIL_REFUSED,
    ("sailoperator.io/v1", "IstioRevision"): _SAIL_REFUSED,
    ("sailoperator.io/v1", "IstioRevisionTag"): _SAIL_REFUSED,
    ("sailoperator.io/v1", "ZTunnel"): _SAIL_REFUSED,
    ("kiali.io/v1alpha1", "Kiali"): _KIALI_REFUSED,
    ("kiali.io/v1alpha1", "OSSMConsole"): _KIALI_REFUSED,
}


class SchemaSetupError(RuntimeError):
    """The schema tree or a source for it is missing: the fix is `make setup`."""


# --------------------------------------------------------------------------- versions


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """KEY=value lines of tools/versions.env (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip() or " " in value.strip():
            raise SchemaSetupError(f"{path}:{number}: expected KEY=value without spaces, got {raw!r}")
        values[key.strip()] = value.strip()
    for required in ("KUBECONFORM_VERSION", "KUBERNETES_VERSION"):
        if required not in values:
            raise SchemaSetupError(f"{path}: {required} is not set")
    return values


def kubernetes_version(versions: dict[str, str] | None = None) -> str:
    """The pinned Kubernetes version without a leading v, e.g. ``1.33.0``."""
    return (versions or read_versions())["KUBERNETES_VERSION"].removeprefix("v")


def go_modules(versions: dict[str, str]) -> dict[str, tuple[str, str]]:
    """GO_MODULE_* key -> (module path, version)."""
    modules: dict[str, tuple[str, str]] = {}
    for key, value in versions.items():
        if not key.startswith("GO_MODULE_"):
            continue
        module, sep, version = value.partition("@")
        if not sep or not version:
            raise SchemaSetupError(f"{VERSIONS_FILE}: {key} must be <module>@<version>, got {value!r}")
        modules[key] = (module, version)
    return modules


# --------------------------------------------------------------------------- locations


def kubeconform_locations(root: Path = SCHEMA_ROOT) -> list[str]:
    """The ``-schema-location`` templates, CRDs first (exact group) then Kubernetes core."""
    crds = root / "crds" / "{{ .Group }}" / "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
    core = root / "kubernetes" / "{{ .NormalizedKubernetesVersion }}"
    core = core / "{{ .ResourceKind }}{{ .KindSuffix }}.json"
    return [str(crds), str(core)]


def candidate_files(api_version: str, kind: str, k8s_version: str, root: Path = SCHEMA_ROOT) -> list[Path]:
    """The files kubeconform would try for this object, in the same order (see kubeconform_locations).

    Mirrors kubeconform v0.7.0 ``registry.schemaPath``: Group is the part before ``/``
    (the whole apiVersion for the core group), KindSuffix is ``-`` + the first label
    of the group + ``-`` + the version.
    """
    group_parts = api_version.split("/")
    group = group_parts[0]
    version = group_parts[-1]
    suffix = "-" + group.split(".")[0].lower()
    if len(group_parts) > 1:
        suffix += "-" + version.lower()
    lower_kind = kind.lower()
    return [
        root / "crds" / group / f"{lower_kind}_{version}.json",
        root / "kubernetes" / f"v{k8s_version}" / f"{lower_kind}{suffix}.json",
    ]


def schemas_ready(root: Path = SCHEMA_ROOT) -> bool:
    """True when the tree exists and was built from the current tools/versions.env."""
    stamp = root / STAMP_FILE
    if not stamp.is_file() or not (root / INDEX_FILE).is_file():
        return False
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8")).get("key")
    except (OSError, ValueError):
        return False
    return recorded == stamp_key()


def stamp_key(versions_file: Path = VERSIONS_FILE) -> str:
    """What the tree depends on: tools/versions.env, this generator's code and the kubernetes-validate wheel."""
    digest = hashlib.sha256()
    digest.update(versions_file.read_bytes())
    digest.update(GENERATOR_REVISION.encode())
    digest.update(Path(__file__).read_bytes())
    try:
        digest.update(importlib.metadata.version("kubernetes-validate").encode())
    except importlib.metadata.PackageNotFoundError:
        digest.update(b"kubernetes-validate missing")
    return digest.hexdigest()


def load_index(root: Path = SCHEMA_ROOT) -> dict[str, Any]:
    try:
        return json.loads((root / INDEX_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SchemaSetupError(f"{root / INDEX_FILE} is missing: run `make setup`") from exc


# --------------------------------------------------------------------------- CRD conversion

_SCHEMA_MAP_KEYS = ("properties", "patternProperties", "definitions", "$defs")
_SCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf")


def _strict_node(node: Any, inside_combinator: bool) -> Any:
    """One OpenAPI v3 schema node of a CRD, converted for a JSON-schema validator.

    Like kubeconform's own ``openapi2jsonschema.py``: every object that lists
    ``properties`` gets ``additionalProperties: false`` unless it says otherwise,
    and ``format: int-or-string`` becomes string-or-integer. Unlike it:
    objects marked ``x-kubernetes-preserve-unknown-fields`` stay open, branches of
    allOf/anyOf/oneOf/not stay open (they restate part of the structural schema,
    so closing them would reject valid fields), ``nullable`` admits null, keys
    whose value is null (``anyOf: null`` in some CRDs) are dropped, and only
    schema-valued keywords are walked (never ``default``, ``enum`` or ``example``).
    ``default`` values stay in place: handbook/validation.py applies them to a
    document before validating it, as the API server does (KEP-575). CEL rules
    (``x-kubernetes-validations``) are kept as data but not evaluated.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if value is None:
            continue
        if key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
            out[key] = {name: _strict_node(sub, False) for name, sub in value.items()}
        elif key in _SCHEMA_LIST_KEYS and isinstance(value, list):
            out[key] = [_strict_node(sub, True) for sub in value]
        elif key in ("items", "additionalProperties", "not"):
            if isinstance(value, list):
                out[key] = [_strict_node(sub, key == "not" or inside_combinator) for sub in value]
            else:
                out[key] = _strict_node(value, key == "not" or inside_combinator)
        else:
            out[key] = value
    if out.get("format") == "int-or-string":
        out.pop("format")
        out.pop("type", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if out.get("x-kubernetes-int-or-string") and "type" not in out and not (
        set(out) & {"anyOf", "oneOf"}
    ):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if out.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    open_object = out.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and not inside_combinator and not open_object:
        out.setdefault("additionalProperties", False)
    return out


def crd_to_json_schema(openapi: dict[str, Any], *, group: str, version: str, kind: str,
                       object_meta: dict[str, Any], origin: str) -> dict[str, Any]:
    """A CRD version's ``openAPIV3Schema`` as a strict, self-contained draft-04 JSON schema.

    The root is closed too (a misspelled top-level field is rejected), apiVersion and
    kind are pinned to this group/version/kind, and ``metadata`` is the Kubernetes
    ObjectMeta schema (``object_meta``: definitions whose refs are ``#/definitions/...``,
    from ``object_meta_definitions``) so ``metadata.lables`` is caught as well.
    """
    schema = _strict_node(copy.deepcopy(openapi), False)
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "enum": [f"{group}/{version}"]}
    props["kind"] = {"type": "string", "enum": [kind]}
    props["metadata"] = {"$ref": f"#/definitions/{OBJECT_META_DEF}"}
    schema["definitions"] = object_meta
    schema.setdefault("type", "object")
    if schema.get("x-kubernetes-preserve-unknown-fields") is not True:
        schema["additionalProperties"] = False
    schema["$schema"] = DRAFT4
    schema["x-handbook-origin"] = origin
    schema["x-kubernetes-group-version-kind"] = [{"group": group, "version": version, "kind": kind}]
    return schema


class _CrdLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that reads a bare ``=`` (YAML 1.1 "value" tag, seen in some CRDs) as a string."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def iter_crds(path: Path) -> Iterator[dict[str, Any]]:
    """CustomResourceDefinition documents in a YAML file (other kinds are skipped)."""
    with path.open(encoding="utf-8") as handle:
        for document in yaml.load_all(handle, Loader=_CrdLoader):  # noqa: S506 - a SafeLoader subclass
            if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                yield document


def crd_versions(crd: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(group, version, kind, openAPIV3Schema) for every served version that has a schema."""
    spec = crd.get("spec", {})
    group = spec["group"]
    kind = spec["names"]["kind"]
    for entry in spec.get("versions") or []:
        schema = (entry.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            schema = (spec.get("validation") or {}).get("openAPIV3Schema")
        if schema is None or entry.get("served") is False:
            continue
        yield group, entry["name"], kind, schema


# --------------------------------------------------------------------------- build


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
                     "their CRD modules are refused by the Go module proxy)")
        return "\n".join(lines)


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
    for key, (module, version) in go_modules(versions).items():
        patterns = CRD_FILES.get(key)
        if patterns is None:
            raise SchemaSetupError(f"{VERSIONS_FILE}: {key} has no entry in CRD_FILES of handbook/schemas.py")
        module_dir = download(module, version)
        origin = f"{module}@{version}"
        if module in REFUSED_MODULES:
            raise SchemaSetupError(f"{VERSIONS_FILE}: {key} pins {module}, which REFUSED_MODULES in "
                                   "handbook/schemas.py says the module proxy refuses; if it is served "
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
