"""The local JSON-schema tree that kubeconform and the Python fallback validate against: the run-time registry.

``handbook.schema_build`` (run by ``scripts/build_schemas.py`` from ``make setup``)
writes ``.cache/schemas/`` from pinned sources only; this module only reads it:

    .cache/schemas/kubernetes/v1.33.0/deployment-apps-v1.json   {{ .ResourceKind }}{{ .KindSuffix }}
    .cache/schemas/crds/networking.istio.io/virtualservice_v1.json
                                        {{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}
    .cache/schemas/index.json        every (apiVersion, kind) with its file and origin
    .cache/schemas/object-meta.json  ObjectMeta's definitions, for CRDs converted later (--crds)
    .cache/schemas/stamp.json        ``stamp_key()``; a match means "already built"

The stamp is a hash of the pinned VALUES the tree is built from (the tools/versions.env
pins, the kubernetes-validate pin of constraints.txt, ``GENERATOR_REVISION``), never of
file contents: editing a comment in versions.env or in the code keeps the tree.

The kinds whose CRDs live in a module the Go module proxy refuses here are listed in
``UNVALIDATED`` with the reason: unless a folder of extra CRDs (``--crds``) covers them,
the validators skip exactly those kinds and report each such document as not validated.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from .paths import REPO_ROOT

VERSIONS_FILE = REPO_ROOT / "tools" / "versions.env"
CONSTRAINTS_FILE = REPO_ROOT / "constraints.txt"
SCHEMA_ROOT = REPO_ROOT / ".cache" / "schemas"
STAMP_FILE = "stamp.json"
INDEX_FILE = "index.json"
OBJECT_META_FILE = "object-meta.json"

# Bump when handbook/schema_build.py or handbook/crd_schema.py write different files for the same pins
# (the stamp deliberately ignores the code itself, so that a comment does not trigger a rebuild).
GENERATOR_REVISION = "6"

# The pins the tree depends on (GO_MODULE_* lines are added to these).
STAMPED_PINS = ("KUBERNETES_VERSION",)
SCHEMA_PACKAGE = "kubernetes-validate"

_SAIL_REFUSED = ("its CRD is in github.com/istio-ecosystem/sail-operator (chart/crds/), and the Go module "
                 "proxy on this machine refuses every version of that module and of its OpenShift build "
                 "github.com/openshift-service-mesh/sail-operator")
_KIALI_REFUSED = ("its CRD is in github.com/kiali/kiali-operator (crd-docs/crd/), and the Go module proxy "
                  "on this machine refuses every version of that module and of github.com/kiali/kiali")
# The only kinds that are not validated unless a folder of extra CRDs covers them (see
# handbook/validation/extra_crds.py). Keys must never have a schema in the built tree: the build checks that.
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


# --------------------------------------------------------------------------- pins


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


def pinned_package(name: str = SCHEMA_PACKAGE, constraints: Path = CONSTRAINTS_FILE) -> str:
    """The version constraints.txt pins for ``name`` (``name==X``), or "" when it pins none."""
    wanted = re.sub(r"[-_.]+", "-", name).lower()
    for line in constraints.read_text(encoding="utf-8").splitlines():
        left, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep and re.sub(r"[-_.]+", "-", left.strip()).lower() == wanted:
            return version.strip()
    return ""


def stamp_inputs(versions_file: Path = VERSIONS_FILE, constraints: Path = CONSTRAINTS_FILE) -> dict[str, str]:
    """The pinned values the schema tree is built from: nothing else may change ``stamp_key()``."""
    versions = read_versions(versions_file)
    inputs = {key: value for key, value in versions.items() if key in STAMPED_PINS or key.startswith("GO_MODULE_")}
    inputs[SCHEMA_PACKAGE] = pinned_package(SCHEMA_PACKAGE, constraints)
    inputs["GENERATOR_REVISION"] = GENERATOR_REVISION
    return inputs


def stamp_key(versions_file: Path = VERSIONS_FILE, constraints: Path = CONSTRAINTS_FILE) -> str:
    """A hash of ``stamp_inputs()``: the same pins give the same key, whatever the comments or the code say."""
    text = json.dumps(stamp_inputs(versions_file, constraints), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def schemas_ready(root: Path = SCHEMA_ROOT) -> bool:
    """True when the tree exists and was built from the current pins."""
    return recorded_stamp(root) == stamp_key()


def recorded_stamp(root: Path = SCHEMA_ROOT) -> str | None:
    """The key stamp.json records, or None when the tree is missing or incomplete."""
    stamp = root / STAMP_FILE
    if not stamp.is_file() or not (root / INDEX_FILE).is_file():
        return None
    try:
        key = json.loads(stamp.read_text(encoding="utf-8")).get("key")
    except (OSError, ValueError):
        return None
    return key if isinstance(key, str) else None


# --------------------------------------------------------------------------- look-ups


def kubeconform_locations(root: Path = SCHEMA_ROOT, extra_roots: tuple[Path, ...] = ()) -> list[str]:
    """The ``-schema-location`` templates: extra CRD folders, then pinned CRDs (exact group), then core."""
    locations = [str(r / "crds" / "{{ .Group }}" / "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json")
                 for r in (*extra_roots, root)]
    core = root / "kubernetes" / "{{ .NormalizedKubernetesVersion }}"
    return [*locations, str(core / "{{ .ResourceKind }}{{ .KindSuffix }}.json")]


def candidate_files(api_version: str, kind: str, k8s_version: str, root: Path = SCHEMA_ROOT,
                    extra_roots: tuple[Path, ...] = ()) -> list[Path]:
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
    crds = [r / "crds" / group / f"{lower_kind}_{version}.json" for r in (*extra_roots, root)]
    return [*crds, root / "kubernetes" / f"v{k8s_version}" / f"{lower_kind}{suffix}.json"]


def load_index(root: Path = SCHEMA_ROOT) -> dict[str, Any]:
    try:
        return json.loads((root / INDEX_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SchemaSetupError(f"{root / INDEX_FILE} is missing: run `make setup`") from exc
