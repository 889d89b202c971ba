"""Manifest validation through the real kubeconform and through the Python fallback.

These tests need `make setup` (kubeconform in .tools/bin and .cache/schemas): when
either is missing they fail and say so, they do not skip. They are marked ``schemas``:
`make check` (the fast tier, before the schemas exist) leaves them out, `make test` runs them.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
from support.apply_cli import REPO

from handbook import schema_build, schemas, validation
from handbook.lab import Lab
from handbook.manifest_check import rendered_documents, value_sets
from handbook.validation import (
    NotValidated,
    RenderedDocument,
    ValidationError,
    ValidationProblem,
    check,
    kubeconform,
    validate,
    validate_report,
)
from handbook.validation.defaults import defaulted

pytestmark = pytest.mark.schemas

BROKEN = REPO / "tests" / "broken"
FIXTURES = REPO / "tests" / "fixtures" / "validation"
VALID = (FIXTURES / "valid-kinds.yaml").read_text(encoding="utf-8")
UNCHECKED = (FIXTURES / "not-validated-kinds.yaml").read_text(encoding="utf-8")
ENGINES = ["kubeconform", "python"]


@pytest.fixture(scope="module", autouse=True)
def _setup_done() -> None:
    if validation.kubeconform_path() is None:
        pytest.fail("kubeconform is not installed (.tools/bin/kubeconform or PATH): run `make setup`")
    if not validation.schemas_ready():
        pytest.fail(f"{schemas.SCHEMA_ROOT} is missing or stale: run `make setup`")


def fixture(name: str) -> RenderedDocument:
    path = BROKEN / name
    return RenderedDocument(f"tests/broken/{name}", 0, path.read_text(encoding="utf-8"), "defaults")


def repaired(document: RenderedDocument, old: str, new: str) -> RenderedDocument:
    """The same fixture with only the broken spot corrected."""
    assert document.text.count(old) == 1, f"{old!r} should occur once in {document.source}"
    return RenderedDocument(document.source, document.index, document.text.replace(old, new), document.label)


def only(problems: list[ValidationProblem]) -> ValidationProblem:
    assert len(problems) == 1, "\n".join(str(p) for p in problems) or "no problem reported"
    return problems[0]


# --------------------------------------------------------------------------- the broken fixtures


@pytest.mark.parametrize("engine", ENGINES)
def test_misspelled_virtualservice_field(engine: str) -> None:
    broken = fixture("virtualservice-misspelled-field.yaml")
    problem = only(validate([broken], engine=engine))
    assert problem.path == "spec.http[0].rout"
    assert problem.message == "unknown field `rout`"
    assert "networking.istio.io/v1 VirtualService" in problem.fix
    assert "did you mean `route`?" in problem.fix
    assert (problem.source, problem.index, problem.kind, problem.name) == (
        "tests/broken/virtualservice-misspelled-field.yaml", 0, "VirtualService", "catalogue")
    assert validate([repaired(broken, "- rout:", "- route:")], engine=engine) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_destinationrule_string_where_number(engine: str) -> None:
    broken = fixture("destinationrule-string-for-number.yaml")
    problem = only(validate([broken], engine=engine))
    assert problem.path == "spec.trafficPolicy.connectionPool.tcp.maxConnections"
    assert problem.message == 'expected an integer, got a string ("ten")'
    assert "without quotes" in problem.fix
    assert validate([repaired(broken, 'maxConnections: "ten"', "maxConnections: 10")], engine=engine) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_deployment_without_selector(engine: str) -> None:
    broken = fixture("deployment-without-selector.yaml")
    problem = only(validate([broken], engine=engine))
    assert problem.path == "spec.selector"
    assert problem.message == "required field `selector` is missing"
    assert "apps/v1 Deployment" in problem.fix
    selector = "  selector:\n    matchLabels:\n      name: front-end\n  template:"
    assert validate([repaired(broken, "  template:", selector)], engine=engine) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_misspelled_route_field(engine: str) -> None:
    broken = fixture("route-misspelled-field.yaml")
    problem = only(validate([broken], engine=engine))
    assert problem.path == "spec.tls.insecureEdgeTermination"
    assert problem.message == "unknown field `insecureEdgeTermination`"
    assert "route.openshift.io/v1 Route" in problem.fix
    assert "did you mean `insecureEdgeTerminationPolicy`?" in problem.fix
    fixed = repaired(broken, "insecureEdgeTermination:", "insecureEdgeTerminationPolicy:")
    assert validate_report([fixed], engine=engine) == validation.ValidationReport([], [])


@pytest.mark.parametrize("engine", ENGINES)
def test_misspelled_subscription_field(engine: str) -> None:
    broken = fixture("subscription-misspelled-field.yaml")
    problem = only(validate([broken], engine=engine))
    assert problem.path == "spec.installPlanAproval"
    assert "operators.coreos.com/v1alpha1 Subscription" in problem.fix
    assert "did you mean `installPlanApproval`?" in problem.fix
    fixed = repaired(broken, "installPlanAproval:", "installPlanApproval:")
    assert validate_report([fixed], engine=engine) == validation.ValidationReport([], [])


@pytest.mark.parametrize("engine", ENGINES)
def test_route_backend_kind_may_be_left_to_its_default(engine: str) -> None:
    # The Route CRD lists to.kind as required but gives it a default; the API server
    # fills the default in before validating, so leaving it out is valid.
    text = "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: r}\nspec:\n  to: {name: web}\n"
    assert validate([RenderedDocument("r.yaml", 0, text)], engine=engine) == []
    no_name = text.replace("{name: web}", "{kind: Service}")
    problem = only(validate([RenderedDocument("r.yaml", 0, no_name)], engine=engine))
    assert (problem.path, problem.message) == ("spec.to.name", "required field `name` is missing")


@pytest.mark.parametrize("engine", ENGINES)
def test_kind_without_schema(engine: str) -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
    problem = only(validate([RenderedDocument("m.yaml", 3, text, "second user")], engine=engine))
    assert problem.message == "no schema for example.com/v1 Widget (kubeconform needs one for every kind)"
    assert str(problem).startswith("m.yaml: document 4 (Widget w) [values: second user]: (whole document): ")


@pytest.mark.parametrize("engine", ENGINES)
def test_wrong_version_names_the_known_ones(engine: str) -> None:
    text = "apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata:\n  name: x\nspec: {}\n"
    problem = only(validate([RenderedDocument("m.yaml", 0, text)], engine=engine))
    assert "networking.istio.io/v1" in problem.fix and "networking.istio.io/v1beta1" in problem.fix


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicate_key_is_rejected(engine: str) -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: one\n  k: two\n"
    problem = only(validate([RenderedDocument("m.yaml", 0, text)], engine=engine))
    assert problem.message.startswith("duplicate key: `k` appears twice")


@pytest.mark.parametrize("engine", ENGINES)
def test_two_documents_in_one_text_and_empty_ones(engine: str) -> None:
    two = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\n"
    empty = "# only a comment\n"
    problem = only(validate([RenderedDocument("m.yaml", 0, two), RenderedDocument("m.yaml", 1, empty)],
                            engine=engine))
    assert problem.message == "the text holds 2 YAML documents, not one"
    assert (problem.kind, problem.name) == ("ConfigMap", "a")


@pytest.mark.parametrize("engine", ENGINES)
def test_misspelled_metadata_field_of_a_crd(engine: str) -> None:
    text = ("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n"
            "  lables:\n    a: b\nspec:\n  mtls:\n    mode: STRICT\n")
    problem = only(validate([RenderedDocument("m.yaml", 0, text)], engine=engine))
    assert problem.path == "metadata.lables"
    assert "did you mean `labels`?" in problem.fix


@pytest.mark.parametrize("engine", ENGINES)
def test_enum_and_missing_apiversion(engine: str) -> None:
    bad_mode = ("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n"
                "spec:\n  mtls:\n    mode: STRICKT\n")
    no_api = "kind: Service\nmetadata:\n  name: s\n"
    problems = validate([RenderedDocument("a.yaml", 0, bad_mode), RenderedDocument("b.yaml", 0, no_api)],
                        engine=engine)
    assert [(p.source, p.path) for p in problems] == [("a.yaml", "spec.mtls.mode"), ("b.yaml", "apiVersion")]
    assert '"STRICT"' in problems[0].fix and problems[0].message == '"STRICKT" is not an allowed value'


# --------------------------------------------------------------------------- valid objects of every kind used





def split(text: str, source: str, label: str = "defaults") -> list[RenderedDocument]:
    chunks = [chunk for chunk in text.split("\n---\n") if chunk.strip()]
    return [RenderedDocument(source, number, chunk + "\n", label) for number, chunk in enumerate(chunks)]


def valid_documents(label: str = "defaults") -> list[RenderedDocument]:
    return split(VALID, "tests/validation/test_validation.py", label)


@pytest.mark.parametrize("engine", ENGINES)
def test_valid_objects_of_every_kind_pass(engine: str) -> None:
    documents = valid_documents("defaults") + valid_documents("second user")
    assert len(documents) == 50
    assert validate_report(documents, engine=engine) == validation.ValidationReport([], [])


LIMITS = """
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: r}
spec:
  path: no-slash
  to: {kind: Service, name: "", weight: 300}
  alternateBackends: [{name: a}, {name: b}, {name: c}, {name: d}]
  port: {targetPort: http}
"""

# Rules of the Route CRD that tie fields together (anyOf/not): a Subdomain wildcard
# needs a host, and targetPort may be neither 0 nor "".
RULES = """
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: r}
spec:
  wildcardPolicy: Subdomain
  to: {name: web}
  port: {targetPort: 0}
"""


def test_engines_agree_on_every_broken_document() -> None:
    documents = [fixture(path.name) for path in sorted(BROKEN.glob("*.yaml"))]
    documents += [RenderedDocument("x.yaml", 0, "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
                                                "spec:\n  ports:\n    - port: http\n"),
                  RenderedDocument("y.yaml", 0, LIMITS), RenderedDocument("z.yaml", 0, RULES)]
    by_engine = {engine: [(p.source, p.path, p.message) for p in validate(documents, engine=engine)]
                 for engine in ENGINES}
    assert by_engine["kubeconform"] == by_engine["python"]
    assert [p for p in by_engine["python"] if p[0] == "y.yaml"] == [
        ("y.yaml", "spec.alternateBackends", "4 entries where at most 3 are allowed"),
        ("y.yaml", "spec.path", '"no-slash" does not match the pattern ^/'),
        ("y.yaml", "spec.to.name", "too short: 0 characters where at least 1 are needed"),
        ("y.yaml", "spec.to.weight", "300 is above the maximum 256"),
    ]
    rule = "the fields under `{}` break a rule of the route.openshift.io/v1 Route schema that ties several fields"
    assert [p for p in by_engine["python"] if p[0] == "z.yaml"] == [
        ("z.yaml", "spec", rule.format("spec") + " together"),
        ("z.yaml", "spec.port.targetPort", rule.format("spec.port.targetPort") + " together"),
    ]
    assert len(by_engine["kubeconform"]) == len(documents) + 4


# --------------------------------------------------------------------------- engine selection and failures


def test_check_raises_with_every_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        check([fixture("deployment-without-selector.yaml"), fixture("virtualservice-misspelled-field.yaml")],
              engine="kubeconform")
    assert [p.path for p in caught.value.problems] == ["spec.selector", "spec.http[0].rout"]
    assert "document 1 (Deployment front-end)" in str(caught.value)


def test_auto_falls_back_to_python_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubeconform, "kubeconform_path", lambda: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        problems = validate([fixture("deployment-without-selector.yaml")], engine="auto")
    assert [p.path for p in problems] == ["spec.selector"]
    assert any(issubclass(w.category, validation.FallbackWarning) and "make setup" in str(w.message)
               for w in caught)
    with pytest.raises(validation.ValidationSetupError, match="make setup"):
        validate([fixture("deployment-without-selector.yaml")], engine="kubeconform")


def test_broken_kubeconform_is_a_setup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    false = shutil.which("false")
    assert false is not None
    monkeypatch.setattr(kubeconform, "kubeconform_path", lambda: false)
    with pytest.raises(validation.ValidationSetupError, match="make setup"):
        validate([fixture("deployment-without-selector.yaml")], engine="kubeconform")


def test_kubeconform_command_is_offline() -> None:
    command = validation.kubeconform_command("kubeconform", "/tmp/x")
    locations = [command[i + 1] for i, arg in enumerate(command) if arg == "-schema-location"]
    assert len(locations) == 2
    assert all(location.startswith(str(schemas.SCHEMA_ROOT)) for location in locations)
    assert "-ignore-missing-schemas" not in command and "-strict" in command
    assert command[command.index("-kubernetes-version") + 1] == schemas.kubernetes_version()
    # kubeconform v0.7.0 matches -skip entries against "<apiVersion>/<kind>" (or a bare kind).
    skipped = command[command.index("-skip") + 1].split(",")
    assert sorted(skipped) == sorted(f"{api}/{kind}" for api, kind in schemas.UNVALIDATED)
    assert "sailoperator.io/v1/Istio" in skipped and all(entry.count("/") >= 2 for entry in skipped)
    assert "-verbose" in command


# --------------------------------------------------------------------------- schema generation


def test_core_kinds_are_not_defaulted_from_their_schema() -> None:
    schema_set = validation.SchemaSet()
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    core_file = schema_set.file_for(("v1", "Service"))
    assert core_file is not None and "kubernetes" in core_file.parts
    assert defaulted(service, core_file, schema_set) is service


def test_index_lists_every_kind_the_lab_relies_on() -> None:
    index = schemas.load_index()["schemas"]
    pins = schemas.read_versions()
    for key, pin in (("apps/v1/Deployment", None), ("v1/Service", None),
                     ("networking.istio.io/v1/VirtualService", "GO_MODULE_ISTIO_API"),
                     ("networking.istio.io/v1/DestinationRule", "GO_MODULE_ISTIO_API"),
                     ("security.istio.io/v1/AuthorizationPolicy", "GO_MODULE_ISTIO_API"),
                     ("telemetry.istio.io/v1/Telemetry", "GO_MODULE_ISTIO_API"),
                     ("route.openshift.io/v1/Route", "GO_MODULE_OPENSHIFT_API"),
                     ("operators.coreos.com/v1alpha1/Subscription", "GO_MODULE_OPERATOR_FRAMEWORK_API"),
                     ("operators.coreos.com/v1alpha1/ClusterServiceVersion", "GO_MODULE_OPERATOR_FRAMEWORK_API"),
                     ("operators.coreos.com/v1/OperatorGroup", "GO_MODULE_OPERATOR_FRAMEWORK_API"),
                     ("monitoring.coreos.com/v1/ServiceMonitor", "GO_MODULE_PROMETHEUS_OPERATOR"),
                     ("monitoring.coreos.com/v1/PodMonitor", "GO_MODULE_PROMETHEUS_OPERATOR"),
                     ("gateway.networking.k8s.io/v1/HTTPRoute", "GO_MODULE_GATEWAY_API")):
        assert key in index, key
        assert (schemas.SCHEMA_ROOT / index[key]["file"]).is_file(), key
        if pin is not None:
            assert index[key]["origin"] == pins[pin], key


def test_every_schema_comes_from_a_pinned_source() -> None:
    index = schemas.load_index()["schemas"]
    pins = {value for key, value in schemas.read_versions().items() if key.startswith("GO_MODULE_")}
    core = f"kubernetes-validate v{schemas.kubernetes_version()}-local-strict"
    origins = {entry["origin"] for entry in index.values()}
    assert origins == pins | {core}
    files = {str(path.relative_to(schemas.SCHEMA_ROOT)) for path in schemas.SCHEMA_ROOT.rglob("*.json")}
    assert files - {"index.json", "stamp.json", "object-meta.json"} == {entry["file"] for entry in index.values()}
    route = json.loads((schemas.SCHEMA_ROOT / index["route.openshift.io/v1/Route"]["file"]).read_text())
    assert route["x-handbook-origin"].endswith("route/v1/zz_generated.crd-manifests/routes.crd.yaml")


# --------------------------------------------------------------------------- kinds that are not validated

# The kinds whose CRD modules the Go module proxy refuses (checked by hand with
# `go mod download -json`, and again by `scripts/build_schemas.py --recheck-refused`).
REFUSED_KINDS = {
    ("sailoperator.io/v1", "Istio"): "github.com/istio-ecosystem/sail-operator",
    ("sailoperator.io/v1", "IstioCNI"): "github.com/istio-ecosystem/sail-operator",
    ("sailoperator.io/v1", "IstioRevision"): "github.com/istio-ecosystem/sail-operator",
    ("sailoperator.io/v1", "IstioRevisionTag"): "github.com/istio-ecosystem/sail-operator",
    ("sailoperator.io/v1", "ZTunnel"): "github.com/istio-ecosystem/sail-operator",
    ("kiali.io/v1alpha1", "Kiali"): "github.com/kiali/kiali-operator",
    ("kiali.io/v1alpha1", "OSSMConsole"): "github.com/kiali/kiali-operator",
}


def test_unvalidated_table_is_exactly_the_refused_kinds() -> None:
    table = validation.unvalidated_kinds()
    assert table == schemas.UNVALIDATED and table is not schemas.UNVALIDATED
    assert set(table) == set(REFUSED_KINDS)
    for key, module in REFUSED_KINDS.items():
        assert module in schema_build.REFUSED_MODULES
        assert module in table[key] and "refuses" in table[key], key
    # No refused module is pinned, and no unvalidated kind has a schema from a pinned source.
    pinned = {value.partition("@")[0] for key, value in schemas.read_versions().items()
              if key.startswith("GO_MODULE_")}
    assert not pinned & set(schema_build.REFUSED_MODULES)
    index = schemas.load_index()
    assert index["unvalidated"] == {f"{api}/{kind}": reason for (api, kind), reason in table.items()}
    for api_version, kind in table:
        assert f"{api_version}/{kind}" not in index["schemas"]
        files = schemas.candidate_files(api_version, kind, schemas.kubernetes_version())
        assert not any(path.is_file() for path in files), (api_version, kind)


def test_build_refuses_to_skip_a_kind_that_has_a_schema(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(schemas.UNVALIDATED, ("route.openshift.io/v1", "Route"), "pretend it is refused")
    with pytest.raises(schemas.SchemaSetupError, match="route.openshift.io/v1/Route now have a schema"):
        schema_build.build(root=tmp_path / "schemas", force=True)
    assert not (tmp_path / "schemas").exists() and not (tmp_path / "schemas.tmp").exists()


@pytest.mark.parametrize("engine", ENGINES)
def test_unvalidated_kinds_give_notices_not_a_silent_pass(engine: str) -> None:
    documents = split(UNCHECKED, "lab.yaml")
    report = validate_report(documents, engine=engine)
    assert report.problems == []
    assert [(n.index, n.api_version, n.kind) for n in report.notices] == [
        (number, *key) for number, key in enumerate([
            ("sailoperator.io/v1", "Istio"), ("sailoperator.io/v1", "IstioCNI"),
            ("sailoperator.io/v1", "IstioRevisionTag"), ("kiali.io/v1alpha1", "Kiali"),
            ("kiali.io/v1alpha1", "OSSMConsole"), ("sailoperator.io/v1", "ZTunnel"),
            ("sailoperator.io/v1", "IstioRevision")])]
    assert {(n.api_version, n.kind) for n in report.notices} == set(schemas.UNVALIDATED)
    first = report.notices[0]
    assert isinstance(first, NotValidated) and first.reason == schemas.UNVALIDATED[("sailoperator.io/v1", "Istio")]
    assert str(first).startswith("lab.yaml: document 1 (Istio user1) [values: defaults]: NOT VALIDATED: "
                                 "sailoperator.io/v1 Istio has no schema here: ")
    # Even a typo inside such a document is not seen: that is why the notice exists.
    typo = RenderedDocument("t.yaml", 0, documents[1].text.replace("namespace:", "namespcae:"))
    report = validate_report([typo, fixture("virtualservice-misspelled-field.yaml")], engine=engine)
    assert [p.source for p in report.problems] == ["tests/broken/virtualservice-misspelled-field.yaml"]
    assert [(n.source, n.kind) for n in report.notices] == [("t.yaml", "IstioCNI")]
    assert validate([typo], engine=engine) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_unvalidated_kinds_are_still_parsed(engine: str) -> None:
    text = "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: a\n  name: b\n"
    report = validate_report([RenderedDocument("d.yaml", 0, text)], engine=engine)
    assert only(report.problems).message.startswith("duplicate key: `name` appears twice")
    assert report.notices == []


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("api_version", "kind", "known"), [
    ("kiali.io/v1", "OSSMConsole", "kiali.io/v1alpha1 (not validated here)"),
    ("sailoperator.io/v1alpha1", "ZTunnel", "sailoperator.io/v1 (not validated here)"),
    ("route.openshift.io/v2", "Route", "route.openshift.io/v1"),
])
def test_other_kinds_without_schema_are_problems(engine: str, api_version: str, kind: str, known: str) -> None:
    text = f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\n"
    report = validate_report([RenderedDocument("k.yaml", 0, text)], engine=engine)
    problem = only(report.problems)
    assert problem.message == f"no schema for {api_version} {kind} (kubeconform needs one for every kind)"
    assert known in problem.fix
    assert report.notices == []


def test_build_is_idempotent_and_stamped(tmp_path: Path) -> None:
    root = tmp_path / "schemas"
    first = schema_build.build(root=root)
    assert first.built and first.kubernetes_files > 150 and first.crd_files > 40
    assert json.loads((root / "stamp.json").read_text())["key"] == schemas.stamp_key()
    second = schema_build.build(root=root)
    assert not second.built and "nothing to do" in second.summary()
    (root / "stamp.json").write_text('{"key": "stale"}')
    assert schema_build.build(root=root).built


# --------------------------------------------------------------------------- the lab itself


def test_every_manifest_of_the_lab_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guarantee the site build gives, also when the fast tier replaces the validator (HANDBOOK_VALIDATOR)."""
    monkeypatch.delenv("HANDBOOK_VALIDATOR", raising=False)
    lab = Lab.load()
    validator = validation.from_environment()  # kubeconform, with HANDBOOK_CRDS when it is set
    assert isinstance(validator, validation.EngineValidator)
    report = validator.validate_report(rendered_documents(lab, list(lab.stages), value_sets(lab)))
    assert report.problems == [], "\n".join(str(p) for p in report.problems)
    not_validated = {(n.api_version, n.kind) for n in report.notices}
    assert not_validated <= set(schemas.UNVALIDATED)
    assert not not_validated & validator.schema_set.extra_kinds
