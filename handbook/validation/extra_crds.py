"""A folder of extra CRD files added to the validation: ``--crds DIR`` and ``HANDBOOK_CRDS``.

The Sail operator's and Kiali's CRDs cannot be fetched from a package registry here, so
they are not in the pinned schema tree. Naming files or folders of CRDs adds their kinds:

* ``--crds PATH`` (repeatable) on scripts/validate.py and scripts/apply.py;
* ``HANDBOOK_CRDS``, a list of paths separated by ``:`` (``os.pathsep``), for the site build
  and the tests (the Makefile sets it to ``../shared/crds`` when that folder exists).

A path is a file or a folder (its ``*.yaml``, ``*.yml`` and ``*.json`` files, not recursive).
A file holds CRDs, or a ``List`` of them as ``oc get crd NAME... -o yaml`` prints. Each
served version is converted by ``handbook.crd_schema`` (as the pinned CRDs are) into
``.cache/extra-schemas/<digest>/``, keyed by the files' content, so an unchanged folder
is converted once. A kind covered here is validated even if ``schemas.UNVALIDATED`` lists it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from .. import schemas
from ..crd_schema import crd_to_json_schema, crd_versions, iter_crds
from ..paths import REPO_ROOT
from .model import SETUP_HINT, ValidationSetupError
from .schema_set import SchemaSet

ENVIRONMENT = "HANDBOOK_CRDS"
CACHE_ROOT = REPO_ROOT / ".cache" / "extra-schemas"
SUFFIXES = (".yaml", ".yml", ".json")
KINDS_FILE = "kinds.json"


def from_environment(environ: Mapping[str, str] = os.environ) -> list[Path]:
    """The paths ``HANDBOOK_CRDS`` names (empty entries ignored)."""
    return [Path(entry) for entry in environ.get(ENVIRONMENT, "").split(os.pathsep) if entry.strip()]


def crd_files(entries: Iterable[Path]) -> list[Path]:
    """The files behind ``entries``: a file itself, a folder's YAML and JSON files (sorted)."""
    files: list[Path] = []
    for entry in entries:
        if entry.is_dir():
            files += sorted(p for p in entry.iterdir() if p.is_file() and p.suffix in SUFFIXES)
        elif entry.is_file():
            files.append(entry)
        else:
            raise ValidationSetupError(f"{entry}: no such file or folder (named by --crds or {ENVIRONMENT})")
    return files


def digest(files: Sequence[Path], schema_root: Path = schemas.SCHEMA_ROOT) -> str:
    """What the converted schemas depend on: each file's name and content, the tree's stamp, the generator."""
    hasher = hashlib.sha256(f"{schemas.GENERATOR_REVISION}\0{schemas.recorded_stamp(schema_root)}".encode())
    for path in files:
        hasher.update(f"\0{path.name}\0".encode())
        hasher.update(path.read_bytes())
    return hasher.hexdigest()[:24]


def _read_crds(path: Path) -> list[dict]:
    try:
        crds = list(iter_crds(path))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValidationSetupError(f"{path}: not a YAML or JSON file of CRDs: {' '.join(str(exc).split())}") from exc
    if not crds:
        raise ValidationSetupError(f"{path}: holds no CustomResourceDefinition (expected CRDs, or a List of "
                                   "them as `oc get crd NAME -o yaml` prints)")
    return crds


def _convert(files: Sequence[Path], target: Path, schema_root: Path) -> list[list[str]]:
    per_file = [(path, _read_crds(path)) for path in files]
    meta_file = schema_root / schemas.OBJECT_META_FILE
    if not meta_file.is_file():
        raise ValidationSetupError(f"{meta_file} is missing (it comes with the schema tree): {SETUP_HINT}")
    object_meta = json.loads(meta_file.read_text(encoding="utf-8"))
    kinds: dict[tuple[str, str], str] = {}
    for path, crds in per_file:
        for crd in crds:
            try:
                versions = list(crd_versions(crd))
            except (KeyError, TypeError) as exc:
                raise ValidationSetupError(f"{path}: a CustomResourceDefinition without {exc}") from exc
            for group, version, kind, openapi in versions:
                api_version = f"{group}/{version}"
                if (api_version, kind) in kinds:
                    raise ValidationSetupError(f"{path}: {api_version} {kind} is defined again "
                                               f"(first in {kinds[(api_version, kind)]}); name each CRD once")
                kinds[(api_version, kind)] = path.name
                schema = crd_to_json_schema(openapi, group=group, version=version, kind=kind,
                                            object_meta=object_meta, origin=f"--crds {path.name}")
                out = target / "crds" / group / f"{kind.lower()}_{version}.json"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(schema, separators=(",", ":")), encoding="utf-8")
    listed = [[api_version, kind, origin] for (api_version, kind), origin in sorted(kinds.items())]
    (target / KINDS_FILE).write_text(json.dumps(listed), encoding="utf-8")
    return listed


def schema_set(entries: Sequence[Path], schema_root: Path = schemas.SCHEMA_ROOT,
               cache_root: Path = CACHE_ROOT) -> SchemaSet:
    """The SchemaSet of the pinned tree plus the CRDs in ``entries`` (the pinned tree alone when empty)."""
    if not entries:
        return SchemaSet(root=schema_root)
    files = crd_files(entries)
    key = digest(files, schema_root)
    target = cache_root / key
    if (target / KINDS_FILE).is_file():
        listed = json.loads((target / KINDS_FILE).read_text(encoding="utf-8"))
    else:
        staging = cache_root / f"{key}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            listed = _convert(files, staging, schema_root)
            try:
                os.replace(staging, target)
            except OSError:  # another process converted the same files first
                pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    kinds = frozenset((api_version, kind) for api_version, kind, _ in listed)
    return SchemaSet(root=schema_root, extra_roots=(target,), extra_kinds=kinds, extra_digest=key)
