"""Reading kubeconform's JSON report, against output recorded from the pinned kubeconform.

tests/fixtures/kubeconform/<shape>.yaml is a manifest; <shape>.json is what kubeconform
v0.7.0 printed for it (recorded by record.py there). One test per output shape, as
kubeconform tests its own formatters. Only the last test runs kubeconform (to prove the
recordings are still what the pinned binary prints); the others need no setup.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from support.apply_cli import REPO

from handbook.validation import ValidationSetupError, kubeconform
from handbook.validation.model import Finding
from handbook.validation.output import findings_from_result, read_output

RECORDED = REPO / "tests" / "fixtures" / "kubeconform"


def recorded(shape: str) -> tuple[dict, int]:
    """The one result of a recording, and the resources kubeconform counted."""
    recording = json.loads((RECORDED / f"{shape}.json").read_text(encoding="utf-8"))
    assert recording["kubeconform"] == "v0.7.0"
    output = read_output(recording["stdout"], recording["exit"])
    assert len(output.results) == 1
    assert output.results[0]["filename"] == f"<dir>/{shape}.yaml"
    return output.results[0], output.counted


def test_every_manifest_has_its_recording() -> None:
    manifests = {p.stem for p in RECORDED.glob("*.yaml")}
    assert manifests == {p.stem for p in RECORDED.glob("*.json")}
    assert len(manifests) == 15


INVALID = {
    "additional-property": [Finding("unknown-field", ["spec", "http", 0], names=["rout"])],
    "missing-property": [Finding("missing-field", ["spec"], names=["selector"])],
    "wrong-type": [Finding("wrong-type", ["spec", "trafficPolicy", "connectionPool", "tcp", "maxConnections"],
                           got="string", want=["integer"])],
    # Both branches of int-or-string fail: one finding with both types (and null, from nullable).
    "int-or-string": [Finding("wrong-type", ["spec", "ports", 0, "targetPort"], got="array",
                              want=["null", "string", "integer"])],
    "enum": [Finding("bad-value", ["spec", "mtls", "mode"], allowed=["UNSET", "DISABLE", "PERMISSIVE", "STRICT"])],
    # Nested entries, two levels deep: only the innermost ("leaf") errors become findings.
    "limits": [
        Finding("limit", ["spec", "alternateBackends"], names=["maxItems"], got="4", want=["3"]),
        *[Finding("missing-field", ["spec", "alternateBackends", n], names=["kind"]) for n in range(4)],
        Finding("limit", ["spec", "path"], names=["pattern"], want=["^/"]),
        Finding("limit", ["spec", "to", "name"], names=["minLength"], got="0", want=["1"]),
        Finding("limit", ["spec", "to", "weight"], names=["maximum"], got="300", want=["256"]),
        Finding("rule", ["spec"], names=["not"]),  # two "not failed" leaves at /spec merge into one
    ],
    "rules": [
        Finding("rule", ["spec", "port", "targetPort"], names=["not"]),
        Finding("missing-field", ["spec", "to"], names=["kind"]),
        Finding("rule", ["spec"], names=["not"]),
    ],
}


@pytest.mark.parametrize("shape", sorted(INVALID))
def test_status_invalid(shape: str) -> None:
    result, counted = recorded(shape)
    assert (result["status"], counted) == ("statusInvalid", 1)
    assert findings_from_result(result) == INVALID[shape]


ERRORS = {
    "no-schema": Finding("no-schema"),
    "duplicate-key": Finding("duplicate-key", detail="`k` appears twice (line 7)"),
    "missing-kind": Finding("no-type", names=["kind"], detail="`kind` is missing"),
    "not-an-object": Finding("not-object", detail="a string"),
    "yaml-syntax": Finding("yaml", detail="error converting YAML to JSON: yaml: line 4: did not find expected ',' "
                                          "or ']'"),
}


@pytest.mark.parametrize("shape", sorted(ERRORS))
def test_status_error(shape: str) -> None:
    result, counted = recorded(shape)
    assert (result["status"], counted) == ("statusError", 1)
    assert findings_from_result(result) == [ERRORS[shape]]


@pytest.mark.parametrize(("shape", "status", "counted"), [
    ("valid", "statusValid", 1),
    ("skipped", "statusSkipped", 1),
    ("empty", "", 0),  # a comment-only document is listed but not counted
])
def test_results_without_findings(shape: str, status: str, counted: int) -> None:
    result, total = recorded(shape)
    assert (result["status"], total) == (status, counted)
    assert (result.get("kind"), result.get("version")) == {
        "valid": ("ConfigMap", "v1"), "skipped": ("Istio", "sailoperator.io/v1"), "empty": ("", "")}[shape]


@pytest.mark.parametrize(("stdout", "code", "phrase"), [
    ("", 1, "without its JSON report"),
    ("flag provided but not defined: -strikt", 1, "without its JSON report"),
    ('{"resources": [], "summary": {"valid": 0}}', 1, "kubeconform failed (exit 1)"),
    ('{"resources": [], "summary": {}}', 2, "kubeconform failed (exit 2)"),
    ('{"summary": {}}', 0, "without its JSON report"),
])
def test_a_report_that_is_not_one_is_a_setup_error(stdout: str, code: int, phrase: str) -> None:
    with pytest.raises(ValidationSetupError, match="make setup") as caught:
        read_output(stdout, code, "some stderr")
    assert phrase in str(caught.value)


@pytest.mark.schemas
def test_recordings_are_what_the_pinned_kubeconform_prints() -> None:
    """The same verdicts from the binary today. kubeconform orders sibling errors as Go's map
    iteration does, which varies between runs, so findings are compared as sorted lists."""
    binary = kubeconform.kubeconform_path()
    assert binary is not None, "kubeconform is not installed: run `make setup`"

    def verdict(stdout: str, code: int) -> tuple[int, str, list[str]]:
        result = read_output(stdout, code).results[0]
        return code, result["status"], sorted(repr(f) for f in findings_from_result(result))

    for manifest in sorted(RECORDED.glob("*.yaml")):
        completed = subprocess.run(  # noqa: S603 - fixed argument list
            kubeconform.command(binary, str(manifest)), capture_output=True, text=True, check=False)
        recording = json.loads(manifest.with_suffix(".json").read_text(encoding="utf-8"))
        now = verdict(completed.stdout, completed.returncode)
        assert now == verdict(recording["stdout"], recording["exit"]), (
            f"{manifest.name}: kubeconform differs now; re-record it (tests/fixtures/kubeconform/record.py)")
