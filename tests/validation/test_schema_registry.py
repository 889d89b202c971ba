"""The schema registry without the schema tree: the stamp, kubeconform's file naming, CRD conversion and defaults.

None of these tests needs `make setup`: they belong to the fast tier (`make check`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from handbook import crd_schema, schemas
from handbook.paths import REPO_ROOT
from handbook.validation.defaults import apply_crd_defaults

# --------------------------------------------------------------------------- the stamp: pinned values only


def copy_pins(tmp_path: Path) -> tuple[Path, Path]:
    versions = tmp_path / "versions.env"
    constraints = tmp_path / "constraints.txt"
    shutil.copy(schemas.VERSIONS_FILE, versions)
    shutil.copy(schemas.CONSTRAINTS_FILE, constraints)
    return versions, constraints


def test_stamp_ignores_comments_blank_lines_and_order(tmp_path: Path) -> None:
    versions, constraints = copy_pins(tmp_path)
    before = schemas.stamp_key(versions, constraints)
    assert before == schemas.stamp_key()
    lines = versions.read_text(encoding="utf-8").splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    versions.write_text("# a new comment\n\n" + "\n# between\n".join(reversed(pins)) + "\n# the end\n",
                        encoding="utf-8")
    constraints.write_text("# pinned\n" + constraints.read_text(encoding="utf-8"), encoding="utf-8")
    assert schemas.stamp_key(versions, constraints) == before


@pytest.mark.parametrize(("file", "old", "new"), [
    ("versions.env", "GO_MODULE_ISTIO_API=istio.io/api@v1.30.8", "GO_MODULE_ISTIO_API=istio.io/api@v1.30.7"),
    ("versions.env", "KUBERNETES_VERSION=1.33.0", "KUBERNETES_VERSION=1.32.0"),
    ("constraints.txt", "kubernetes-validate==1.37.0", "kubernetes-validate==1.36.0"),
])
def test_stamp_changes_with_a_pin(tmp_path: Path, file: str, old: str, new: str) -> None:
    versions, constraints = copy_pins(tmp_path)
    before = schemas.stamp_key(versions, constraints)
    target = tmp_path / file
    text = target.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not pinned in {file} any more: update this test"
    target.write_text(text.replace(old, new), encoding="utf-8")
    assert schemas.stamp_key(versions, constraints) != before


def test_stamp_ignores_pins_the_tree_does_not_use(tmp_path: Path) -> None:
    versions, constraints = copy_pins(tmp_path)
    before = schemas.stamp_key(versions, constraints)
    text = versions.read_text(encoding="utf-8")
    versions.write_text(text.replace("KUBECONFORM_VERSION=v0.7.0", "KUBECONFORM_VERSION=v0.6.7"), encoding="utf-8")
    constraints.write_text(constraints.read_text(encoding="utf-8").replace("PyYAML==6.0.3", "PyYAML==6.0.2"),
                           encoding="utf-8")
    assert schemas.stamp_key(versions, constraints) == before


def test_stamp_changes_with_the_generator_revision(monkeypatch: pytest.MonkeyPatch) -> None:
    before = schemas.stamp_key()
    monkeypatch.setattr(schemas, "GENERATOR_REVISION", schemas.GENERATOR_REVISION + "-next")
    assert schemas.stamp_key() != before


def test_stamp_ignores_a_comment_in_the_code(tmp_path: Path) -> None:
    """A copy of the package whose schema modules carry an extra comment computes the same stamp."""
    copy = tmp_path / "handbook"
    shutil.copytree(REPO_ROOT / "handbook", copy, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("schemas.py", "schema_build.py", "crd_schema.py"):
        with (copy / name).open("a", encoding="utf-8") as handle:
            handle.write("\n# a comment added later\n")
    program = ("import sys; from pathlib import Path; from handbook import schemas; "
               "print(schemas.__file__); print(schemas.stamp_key(Path(sys.argv[1]), Path(sys.argv[2])))")
    env = dict(os.environ, PYTHONPATH=str(tmp_path), PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", program, str(schemas.VERSIONS_FILE), str(schemas.CONSTRAINTS_FILE)],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    imported, stamp = result.stdout.split()
    assert Path(imported).parent == copy, "the copy must be the package imported"
    assert stamp == schemas.stamp_key()


def test_schemas_ready_compares_the_recorded_stamp(tmp_path: Path) -> None:
    root = tmp_path / "schemas"
    root.mkdir()
    assert not schemas.schemas_ready(root)
    (root / "index.json").write_text("{}", encoding="utf-8")
    (root / "stamp.json").write_text(json.dumps({"key": schemas.stamp_key()}), encoding="utf-8")
    assert schemas.schemas_ready(root)
    (root / "stamp.json").write_text(json.dumps({"key": "from other pins"}), encoding="utf-8")
    assert not schemas.schemas_ready(root)


# --------------------------------------------------------------------------- naming, conversion, defaults


def test_crd_conversion_closes_objects_but_not_open_parts() -> None:
    openapi = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "port": {"x-kubernetes-int-or-string": True, "anyOf": None},
                    "free": {"type": "object", "properties": {"a": {"type": "string"}},
                             "x-kubernetes-preserve-unknown-fields": True},
                    "maybe": {"type": "string", "nullable": True, "enum": ["x"]},
                    "default": {"type": "object", "default": {"properties": {"not": "a schema"}}},
                },
                "anyOf": [{"properties": {"port": {"maxLength": 0}}}],
            },
        },
    }
    meta = {crd_schema.OBJECT_META_DEF: {"type": "object", "properties": {"name": {"type": "string"}}}}
    result = crd_schema.crd_to_json_schema(openapi, group="g.io", version="v1", kind="K",
                                        object_meta=meta, origin="test")
    spec = result["properties"]["spec"]
    assert result["additionalProperties"] is False and spec["additionalProperties"] is False
    assert "additionalProperties" not in spec["properties"]["free"]
    assert "additionalProperties" not in spec["anyOf"][0]
    assert spec["properties"]["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert spec["properties"]["maybe"]["type"] == ["string", "null"]
    assert spec["properties"]["maybe"]["enum"] == ["x", None]
    assert spec["properties"]["default"]["default"] == {"properties": {"not": "a schema"}}
    assert result["properties"]["apiVersion"]["enum"] == ["g.io/v1"]
    assert result["properties"]["metadata"] == {"$ref": f"#/definitions/{crd_schema.OBJECT_META_DEF}"}
    assert result["definitions"] == meta


def test_crd_defaults_are_applied_like_the_api_server() -> None:
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "default": {}, "properties": {
            "mode": {"type": "string", "default": "None"},
            "weight": {"type": "integer", "default": 100},
            "maybe": {"type": ["string", "null"], "nullable": True, "default": "x"},
            "none": {"type": "string"},
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "kind": {"type": "string", "default": "Service"}}}},
            "labels": {"type": "object", "additionalProperties": {"type": "string", "default": "on"}},
        }},
    }}
    data: dict = {"spec": {"weight": None, "maybe": None, "items": [{"name": "a"}, {"kind": "Pod"}],
                           "labels": {"a": None, "b": "off"}}}
    apply_crd_defaults(data, schema)
    assert data == {"spec": {"mode": "None", "weight": 100, "maybe": None,
                             "items": [{"name": "a", "kind": "Service"}, {"kind": "Pod"}],
                             "labels": {"a": "on", "b": "off"}}}
    empty: dict = {}
    apply_crd_defaults(empty, schema)
    assert empty == {"spec": {"mode": "None", "weight": 100, "maybe": "x"}}


def test_candidate_files_follow_kubeconform_naming() -> None:
    root = Path("/r")
    assert schemas.candidate_files("apps/v1", "Deployment", "1.33.0", root) == [
        root / "crds/apps/deployment_v1.json", root / "kubernetes/v1.33.0/deployment-apps-v1.json"]
    core = schemas.candidate_files("v1", "Service", "1.33.0", root)[1]
    assert core == root / "kubernetes/v1.33.0/service-v1.json"
    assert schemas.candidate_files("networking.istio.io/v1", "VirtualService", "1.33.0", root)[0] == (
        root / "crds/networking.istio.io/virtualservice_v1.json")


