"""Extra CRD files in the validation (--crds DIR, HANDBOOK_CRDS): Istio, IstioCNI and Kiali validated too.

The Sail operator's and Kiali's CRDs are not in the project (the module proxy refuses their
modules, and they are never copied in). They sit in ``../shared/crds`` beside the clone in
CI, or wherever HANDBOOK_CRDS points; the tests that need them skip, saying so, without them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from support.apply_cli import APPLY, REPO

from handbook import schemas
from handbook.lab import Lab
from handbook.manifest_check import rendered_documents, validate_manifests, value_sets
from handbook.validation import EngineValidator, RenderedDocument, ValidationSetupError, validate_report
from handbook.validation import extra_crds as extra


def find_shared_crds() -> Path | None:
    """The folder with the Sail and Kiali CRDs: from HANDBOOK_CRDS, else ../shared/crds beside the clone."""
    for entry in [*extra.from_environment(), REPO.parent / "shared" / "crds"]:
        if (entry / "sailoperator.io_istios.yaml").is_file():
            return entry
    return None


@pytest.fixture(scope="module")
def shared_crds() -> Path:
    found = find_shared_crds()
    if found is None:
        pytest.skip("the Sail operator and Kiali CRDs are not here: set HANDBOOK_CRDS to their folder "
                    "(in CI, ../shared/crds beside the clone; they are never copied into the project)")
    return found


ISTIO = """apiVersion: sailoperator.io/v1
kind: Istio
metadata: {name: user1}
spec:
  version: VERSION
  namespace: user1-istio-system
"""


# --------------------------------------------------------------------------- with the CRDs (make test)


@pytest.mark.schemas
@pytest.mark.parametrize("engine", ["kubeconform", "python"])
def test_istio_spec_version_is_checked_against_the_crd_enum(shared_crds: Path, engine: str) -> None:
    schema_set = extra.schema_set([shared_crds])
    bad = RenderedDocument("istio.yaml", 0, ISTIO.replace("VERSION", "v1.30.9"), "defaults")
    report = validate_report([bad], engine=engine, schema_set=schema_set)
    assert [(p.path, p.message) for p in report.problems] == [("spec.version", '"v1.30.9" is not an allowed value')]
    assert '"v1.30-latest"' in report.problems[0].fix and '"v1.30.3"' in report.problems[0].fix
    assert str(report.problems[0]).startswith("istio.yaml: document 1 (Istio user1) [values: defaults]: spec.version")
    assert report.notices == []
    for version in ("v1.30-latest", "v1.30.3"):
        good = RenderedDocument("istio.yaml", 0, ISTIO.replace("VERSION", version))
        assert validate_report([good], engine=engine, schema_set=schema_set) == validate_report([], engine=engine)


@pytest.mark.schemas
def test_the_labs_istio_istiocni_and_kiali_are_validated_with_the_crds(shared_crds: Path) -> None:
    lab = Lab.load()
    documents = rendered_documents(lab, list(lab.stages), value_sets(lab))
    without = EngineValidator("kubeconform").validate_report(documents)
    skipped = {(n.api_version, n.kind) for n in without.notices}
    assert {("sailoperator.io/v1", "Istio"), ("sailoperator.io/v1", "IstioCNI"),
            ("kiali.io/v1alpha1", "Kiali")} <= skipped, "without the CRDs these stay 'not validated'"
    with_crds = EngineValidator("kubeconform", extra.schema_set([shared_crds])).validate_report(documents)
    assert with_crds.problems == [] and with_crds.notices == []
    typos = [RenderedDocument(d.source, d.index, d.text.replace("  namespace: istio-cni", "  namepsace: istio-cni"))
             for d in documents if "kind: IstioCNI" in d.text][:1]
    typos += [RenderedDocument(d.source, d.index, d.text.replace("cluster_wide_access", "cluster_wide_acess"))
              for d in documents if "kind: Kiali" in d.text][:1]
    problems = EngineValidator("kubeconform", extra.schema_set([shared_crds])).validate_report(typos).problems
    assert [(p.kind, p.path, p.message) for p in problems] == [
        ("IstioCNI", "spec.namepsace", "unknown field `namepsace`"),
        ("Kiali", "spec.deployment.cluster_wide_acess", "unknown field `cluster_wide_acess`")]
    assert "did you mean `namespace`?" in problems[0].fix and "`cluster_wide_access`?" in problems[1].fix


@pytest.mark.schemas
def test_a_list_as_oc_get_crd_prints_it(shared_crds: Path, tmp_path: Path) -> None:
    crd = yaml.safe_load((shared_crds / "sailoperator.io_istios.yaml").read_text(encoding="utf-8"))
    listed = tmp_path / "from-the-cluster.yaml"
    listed.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [crd]}), encoding="utf-8")
    schema_set = extra.schema_set([listed])
    assert schema_set.extra_kinds == {("sailoperator.io/v1", "Istio")}
    bad = RenderedDocument("istio.yaml", 0, ISTIO.replace("VERSION", "v2"))
    assert [p.path for p in validate_report([bad], schema_set=schema_set, engine="kubeconform").problems] == [
        "spec.version"]
    report = validate_report([RenderedDocument("cni.yaml", 0, "apiVersion: sailoperator.io/v1\nkind: IstioCNI\n"
                                                              "metadata: {name: default}\n")],
                             schema_set=schema_set, engine="kubeconform")
    assert [(n.kind, n.reason) for n in report.notices] == [
        ("IstioCNI", schemas.UNVALIDATED[("sailoperator.io/v1", "IstioCNI")])], "only the listed kinds are added"


@pytest.mark.schemas
def test_apply_dry_run_with_crds_refuses_a_bad_istio_version(shared_crds: Path) -> None:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("HANDBOOK_VALIDATOR", "HANDBOOK_CRDS", "LAB_MANIFESTS_DIR")}
    argv = [sys.executable, str(APPLY), "stage-2", "--dry-run", "--set", "ISTIO_VERSION=v1.30.9"]
    plain = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    assert plain.returncode == 0, plain.stderr
    assert "not validated: manifests/stage-2-control-plane/istio.yaml, document 1 (Istio user1)" in plain.stderr
    refused = subprocess.run([*argv, "--crds", str(shared_crds)], env=env, capture_output=True, text=True,  # noqa: S603
                             check=False)
    assert refused.returncode == 3 and refused.stdout == ""
    assert ("manifests/stage-2-control-plane/istio.yaml: document 1 (Istio user1) [values: your values]: "
            'spec.version: "v1.30.9" is not an allowed value') in refused.stderr
    via_env = subprocess.run(argv, env={**env, "HANDBOOK_CRDS": str(shared_crds)}, capture_output=True,  # noqa: S603
                             text=True, check=False)
    assert via_env.returncode == 3 and "spec.version" in via_env.stderr


# --------------------------------------------------------------------------- no CRDs needed (make check)


def test_handbook_crds_is_a_path_list() -> None:
    paths = extra.from_environment({"HANDBOOK_CRDS": f"/a/crds{os.pathsep}{os.pathsep}rel/crds.yaml"})
    assert paths == [Path("/a/crds"), Path("rel/crds.yaml")]
    assert extra.from_environment({}) == [] and extra.from_environment({"HANDBOOK_CRDS": ""}) == []


def test_missing_or_empty_crd_sources_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValidationSetupError, match="no-such: no such file or folder .named by --crds or HANDBOOK_CRDS"):
        extra.crd_files([tmp_path / "no-such"])
    not_crds = tmp_path / "deployment.yaml"
    not_crds.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n", encoding="utf-8")
    with pytest.raises(ValidationSetupError, match="deployment.yaml: holds no CustomResourceDefinition"):
        extra.schema_set([not_crds], cache_root=tmp_path / "cache")
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValidationSetupError, match="broken.yaml: not a YAML or JSON file of CRDs"):
        extra.schema_set([broken], cache_root=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir()), "nothing half-written"


def test_apply_refuses_a_crds_path_that_does_not_exist(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, str(APPLY), "stage-1", "--dry-run", "--crds", str(tmp_path / "nowhere")],
        capture_output=True, text=True, check=False, env={**os.environ, "HANDBOOK_VALIDATOR": "python"})
    assert result.returncode == 2 and f"--crds {tmp_path / 'nowhere'}: no such file or folder" in result.stderr


def test_validate_manifests_uses_the_validator_it_is_given() -> None:
    class Refusing:
        def validate_report(self, documents: list[RenderedDocument]):  # noqa: ANN202
            from handbook.validation import ValidationProblem, ValidationReport

            first = documents[0]
            return ValidationReport([ValidationProblem(first.source, first.index, "K", "n", "spec.x", "bad",
                                                       "fix", first.label)], [])

    lab = Lab.load()
    report = validate_manifests(lab, lab.plan("stage-1"), validator=Refusing())
    assert [p.path for p in report.problems] == ["spec.x"]
