"""Manifest validation through the real kubeconform and through the Python fallback.

These tests need `make setup` (kubeconform in .tools/bin and .cache/schemas): when
either is missing they fail and say so, they do not skip.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from handbook import schemas, validation
from handbook.validation import RenderedDocument, ValidationError, ValidationProblem, check, validate

BROKEN = Path(__file__).parent / "broken"
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


# --------------------------------------------------------------------------- the three broken fixtures


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

VALID = """
apiVersion: v1
kind: Namespace
metadata:
  name: user1-sockshop
  labels:
    istio-injection: enabled
    istio-discovery: user1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: front-end
  namespace: user1-sockshop
  labels: {app: front-end, version: v1}
spec:
  replicas: 1
  selector:
    matchLabels: {app: front-end, version: v1}
  template:
    metadata:
      labels: {app: front-end, version: v1}
      annotations:
        sidecar.istio.io/inject: "true"
    spec:
      containers:
        - name: front-end
          image: weaveworksdemos/front-end:0.3.12
          ports:
            - containerPort: 8079
              name: http
          env:
            - name: SESSION_REDIS
              value: "true"
          resources:
            limits: {cpu: 300m, memory: 1000Mi}
            requests: {cpu: 100m, memory: 300Mi}
          securityContext:
            runAsNonRoot: true
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          readinessProbe:
            httpGet: {path: /, port: 8079}
            initialDelaySeconds: 30
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
      volumes:
        - name: tmp
          emptyDir: {medium: Memory}
---
apiVersion: v1
kind: Service
metadata:
  name: front-end
  namespace: user1-sockshop
spec:
  selector: {app: front-end}
  ports:
    - name: http
      port: 80
      targetPort: 8079
      appProtocol: http
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: user1-sockshop}
data:
  mode: demo
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: user1-sockshop}
type: Opaque
stringData:
  password: not-a-real-one
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: gateway, namespace: user1-sockshop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: gateway-secrets, namespace: user1-sockshop}
rules:
  - apiGroups: [""]
    resources: [secrets]
    verbs: [get, watch, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: gateway-secrets, namespace: user1-sockshop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: gateway-secrets}
subjects:
  - {kind: ServiceAccount, name: gateway}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kiali-monitoring-view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-monitoring-view}
subjects:
  - {kind: ServiceAccount, name: kiali-service-account, namespace: istio-system}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-same-namespace, namespace: user1-sockshop}
spec:
  podSelector: {}
  ingress:
    - from:
        - podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: front-end, namespace: user1-sockshop}
spec:
  host: shop-user1.apps-crc.testing
  to: {kind: Service, name: istio-ingressgateway, weight: 100}
  port: {targetPort: http2}
  tls: {termination: edge, insecureEdgeTerminationPolicy: Redirect}
---
apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
metadata: {name: servicemeshoperator3, namespace: openshift-operators}
spec:
  channel: stable
  installPlanApproval: Automatic
  name: servicemeshoperator3
  source: redhat-operators
  sourceNamespace: openshift-marketplace
---
apiVersion: operators.coreos.com/v1
kind: OperatorGroup
metadata: {name: tracing, namespace: tracing-system}
spec:
  targetNamespaces: [tracing-system]
---
apiVersion: sailoperator.io/v1
kind: Istio
metadata: {name: user1}
spec:
  version: v1.30.3
  namespace: user1-istio-system
  updateStrategy:
    type: InPlace
    inactiveRevisionDeletionGracePeriodSeconds: 30
  values:
    meshConfig:
      discoverySelectors:
        - matchLabels: {istio-discovery: user1}
      extensionProviders:
        - name: otel
          opentelemetry: {service: otel-collector.tracing-system.svc.cluster.local, port: 4317}
    pilot:
      resources: {requests: {cpu: 100m}}
---
apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata: {name: default}
spec:
  version: v1.30.3
  namespace: istio-cni
---
apiVersion: sailoperator.io/v1
kind: IstioRevisionTag
metadata: {name: default}
spec:
  targetRef: {kind: Istio, name: user1}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: sockshop-gateway, namespace: user1-sockshop}
spec:
  selector: {istio: ingressgateway}
  servers:
    - port: {number: 80, name: http, protocol: HTTP}
      hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front-end, namespace: user1-sockshop}
spec:
  hosts: ["*"]
  gateways: [sockshop-gateway]
  http:
    - match:
        - uri: {prefix: /}
      route:
        - destination: {host: front-end, subset: v1}
          weight: 90
        - destination: {host: front-end, subset: v2}
          weight: 10
      timeout: 5s
      retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure"}
      fault:
        delay:
          fixedDelay: 3s
          percentage: {value: 50}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: front-end, namespace: user1-sockshop}
spec:
  host: front-end
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 1s}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 3m
      maxEjectionPercent: 100
  subsets:
    - name: v1
      labels: {version: v1}
    - name: v2
      labels: {version: v2}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external-api, namespace: user1-sockshop}
spec:
  hosts: [api.example.com]
  ports:
    - {number: 443, name: https, protocol: TLS}
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: user1-sockshop}
spec:
  egress:
    - hosts: ["./*", "user1-istio-system/*"]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: user1-sockshop}
spec:
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: catalogue, namespace: user1-sockshop}
spec:
  selector:
    matchLabels: {app: catalogue}
  action: ALLOW
  rules:
    - from:
        - source:
            principals: [cluster.local/ns/user1-sockshop/sa/front-end]
      to:
        - operation:
            methods: [GET]
            paths: ["/catalogue*"]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: user1-istio-system}
spec:
  metrics:
    - providers:
        - name: prometheus
  tracing:
    - providers:
        - name: otel
      randomSamplingPercentage: 100
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: istiod-monitor, namespace: user1-istio-system}
spec:
  targetLabels: [app]
  selector:
    matchLabels: {istio: pilot}
  endpoints:
    - port: http-monitoring
      interval: 30s
---
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata: {name: istio-proxies-monitor, namespace: user1-sockshop}
spec:
  selector:
    matchExpressions:
      - {key: istio-prometheus-ignore, operator: DoesNotExist}
  podMetricsEndpoints:
    - path: /stats/prometheus
      interval: 30s
---
apiVersion: kiali.io/v1alpha1
kind: Kiali
metadata: {name: kiali, namespace: user1-istio-system}
spec:
  auth: {strategy: openshift}
  deployment:
    view_only_mode: false
  external_services:
    prometheus:
      auth:
        type: bearer
        use_kiali_token: true
      thanos_proxy: {enabled: true}
      url: https://thanos-querier.openshift-monitoring.svc.cluster.local:9091
---
apiVersion: kiali.io/v1
kind: OSSMConsole
metadata: {name: ossmconsole, namespace: user1-istio-system}
spec:
  kiali:
    serviceName: kiali
    serviceNamespace: user1-istio-system
    servicePort: 20001
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shop, namespace: user1-sockshop}
spec:
  gatewayClassName: istio
  listeners:
    - name: http
      port: 80
      protocol: HTTP
      allowedRoutes:
        namespaces: {from: Same}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: front-end, namespace: user1-sockshop}
spec:
  parentRefs:
    - name: shop
  rules:
    - matches:
        - path: {type: PathPrefix, value: /}
      backendRefs:
        - name: front-end
          port: 80
"""


def valid_documents(label: str = "defaults") -> list[RenderedDocument]:
    chunks = [chunk for chunk in VALID.split("\n---\n") if chunk.strip()]
    return [RenderedDocument("tests/test_validation.py", number, chunk + "\n", label)
            for number, chunk in enumerate(chunks)]


@pytest.mark.parametrize("engine", ENGINES)
def test_valid_objects_of_every_kind_pass(engine: str) -> None:
    documents = valid_documents("defaults") + valid_documents("second user")
    assert len(documents) == 60
    assert validate(documents, engine=engine) == []


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


def test_engines_agree_on_every_broken_document() -> None:
    documents = [fixture(path.name) for path in sorted(BROKEN.glob("*.yaml"))]
    documents += [RenderedDocument("x.yaml", 0, "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
                                                "spec:\n  ports:\n    - port: http\n"),
                  RenderedDocument("y.yaml", 0, LIMITS)]
    by_engine = {engine: [(p.source, p.path, p.message) for p in validate(documents, engine=engine)]
                 for engine in ENGINES}
    assert by_engine["kubeconform"] == by_engine["python"]
    assert [p for p in by_engine["python"] if p[0] == "y.yaml"] == [
        ("y.yaml", "spec.alternateBackends", "4 entries where at most 3 are allowed"),
        ("y.yaml", "spec.path", '"no-slash" does not match the pattern ^/'),
        ("y.yaml", "spec.to.name", "too short: 0 characters where at least 1 are needed"),
        ("y.yaml", "spec.to.weight", "300 is above the maximum 256"),
    ]
    assert len(by_engine["kubeconform"]) == len(documents) + 3


# --------------------------------------------------------------------------- engine selection and failures


def test_check_raises_with_every_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        check([fixture("deployment-without-selector.yaml"), fixture("virtualservice-misspelled-field.yaml")],
              engine="kubeconform")
    assert [p.path for p in caught.value.problems] == ["spec.selector", "spec.http[0].rout"]
    assert "document 1 (Deployment front-end)" in str(caught.value)


def test_auto_falls_back_to_python_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "kubeconform_path", lambda: None)
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
    monkeypatch.setattr(validation, "kubeconform_path", lambda: false)
    with pytest.raises(validation.ValidationSetupError, match="make setup"):
        validate([fixture("deployment-without-selector.yaml")], engine="kubeconform")


def test_kubeconform_command_is_offline() -> None:
    command = validation.kubeconform_command("kubeconform", "/tmp/x")
    locations = [command[i + 1] for i, arg in enumerate(command) if arg == "-schema-location"]
    assert len(locations) == 2
    assert all(location.startswith(str(schemas.SCHEMA_ROOT)) for location in locations)
    assert "-ignore-missing-schemas" not in command and "-strict" in command
    assert command[command.index("-kubernetes-version") + 1] == schemas.kubernetes_version()


# --------------------------------------------------------------------------- schema generation


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
    meta = {schemas.OBJECT_META_DEF: {"type": "object", "properties": {"name": {"type": "string"}}}}
    result = schemas.crd_to_json_schema(openapi, group="g.io", version="v1", kind="K",
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
    assert result["properties"]["metadata"] == {"$ref": f"#/definitions/{schemas.OBJECT_META_DEF}"}
    assert result["definitions"] == meta


@pytest.mark.parametrize("engine", ENGINES)
def test_sail_mesh_config_typo_is_caught(engine: str) -> None:
    text = ("apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: default\nspec:\n"
            "  namespace: istio-system\n  values:\n    meshConfig:\n      discoverySelector:\n"
            "        - matchLabels: {a: b}\n")
    problem = only(validate([RenderedDocument("m.yaml", 0, text)], engine=engine))
    assert problem.path == "spec.values.meshConfig.discoverySelector"
    assert "did you mean `discoverySelectors`?" in problem.fix
    fixed = text.replace("discoverySelector:", "discoverySelectors:")
    assert validate([RenderedDocument("m.yaml", 0, fixed)], engine=engine) == []


def test_mesh_config_fields_come_from_the_proto() -> None:
    proto = """
    // comment: message Fake { int32 nope = 1; }
    message MeshConfig {
      int32 proxy_listen_port = 4;
      message Inner { string hidden = 1; }
      oneof choice { string one_of_this = 7; }
      repeated LabelSelector discovery_selectors = 59 [deprecated = true];
      map<string, string> some_map = 9;
      reserved 2, 3;
    }
    message Other { string other_field = 1; }
    """
    assert schemas.proto_message_fields(proto, "MeshConfig") == [
        "proxyListenPort", "oneOfThis", "discoverySelectors", "someMap"]


def test_candidate_files_follow_kubeconform_naming() -> None:
    root = Path("/r")
    assert schemas.candidate_files("apps/v1", "Deployment", "1.33.0", root) == [
        root / "crds/apps/deployment_v1.json", root / "kubernetes/v1.33.0/deployment-apps-v1.json"]
    core = schemas.candidate_files("v1", "Service", "1.33.0", root)[1]
    assert core == root / "kubernetes/v1.33.0/service-v1.json"
    assert schemas.candidate_files("networking.istio.io/v1", "VirtualService", "1.33.0", root)[0] == (
        root / "crds/networking.istio.io/virtualservice_v1.json")


def test_index_lists_every_kind_the_lab_relies_on() -> None:
    index = schemas.load_index()["schemas"]
    for key in ("apps/v1/Deployment", "v1/Service", "networking.istio.io/v1/VirtualService",
                "networking.istio.io/v1/DestinationRule", "security.istio.io/v1/AuthorizationPolicy",
                "telemetry.istio.io/v1/Telemetry", "sailoperator.io/v1/Istio", "sailoperator.io/v1/IstioCNI",
                "route.openshift.io/v1/Route", "operators.coreos.com/v1alpha1/Subscription",
                "operators.coreos.com/v1/OperatorGroup", "monitoring.coreos.com/v1/ServiceMonitor",
                "monitoring.coreos.com/v1/PodMonitor", "kiali.io/v1alpha1/Kiali", "kiali.io/v1/OSSMConsole",
                "gateway.networking.k8s.io/v1/HTTPRoute"):
        assert key in index, key
        assert (schemas.SCHEMA_ROOT / index[key]["file"]).is_file(), key


def test_build_is_idempotent_and_stamped(tmp_path: Path) -> None:
    root = tmp_path / "schemas"
    first = schemas.build(root=root)
    assert first.built and first.kubernetes_files > 150 and first.crd_files > 40
    assert json.loads((root / "stamp.json").read_text())["key"] == schemas.stamp_key()
    second = schemas.build(root=root)
    assert not second.built and "nothing to do" in second.summary()
    (root / "stamp.json").write_text('{"key": "stale"}')
    assert schemas.build(root=root).built
