"""Stages 5 and 6: the traffic_split diagram, the circuit_breaker table, and the stages' own promises.

The promises checked here: every fault stage 6 injects is gone by its end (and a catch-up run never
injects one), every check's sample output satisfies its own expectation, the pages render every step
in order, and the manifests use only the API fields this handbook relies on.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable

import pytest
from support.apply_cli import REPO

from handbook.diagrams import traffic_split
from handbook.diagrams.mermaid import symbolic_values
from handbook.lab import Lab
from handbook.plan import executable_steps, reader_steps
from handbook.platforms import DEFAULT_PLATFORM
from handbook.replay import end_state, step_moves
from handbook.stages import Stage
from handbook.steps import ApplyStep, CheckStep
from handbook.tables import circuit_breaker


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab.load()


def docs_upto(lab: Lab, stage_id: str) -> list[dict]:
    return lab.objects(lab.stages_upto(stage_id), symbolic_values(lab))


def edges(mermaid: str) -> dict[tuple[str, str], str]:
    """(source, target) -> edge label ('' when unlabelled), for every arrow."""
    found: dict[tuple[str, str], str] = {}
    for line in mermaid.splitlines():
        match = re.match(r'\s*(\S+) -->(?:\|"(.*?)"\|)? (\S+)$', line)
        if match:
            found[(match.group(1), match.group(3))] = match.group(2) or ""
    return found


# --- traffic_split on the real stage 5 ---------------------------------------------------


def test_traffic_split_draws_stage_5_final_rules(lab: Lab) -> None:
    out = traffic_split.render(docs_upto(lab, "stage-5"))
    arrows = edges(out)
    vs = "vs___APP_NS__sockshop_ingress"
    tester, rest = "rule___APP_NS__sockshop_ingress_0", "rule___APP_NS__sockshop_ingress_1"
    v1, v2 = "subset___APP_NS__front_end_v1", "subset___APP_NS__front_end_v2"
    assert (vs, tester) in arrows and (vs, rest) in arrows
    assert arrows[(tester, v2)] == "100%"
    assert arrows[(rest, v1)] == "80%"
    assert arrows[(rest, v2)] == "20%"
    assert (tester, v1) not in arrows
    assert (v1, "deploy___APP_NS__front_end") in arrows
    assert (v2, "deploy___APP_NS__front_end_v2") in arrows
    assert (v1, "deploy___APP_NS__front_end_v2") not in arrows
    assert "sockshop-canary=v2" in out and "tester-v2" in out
    # Only the last version of sockshop-ingress counts: the v1-only rule of pin-v1 is gone.
    assert "front-end-v1" not in out
    assert out.count("VirtualService sockshop-ingress") == 1


def test_traffic_split_is_not_drawn_before_stage_5(lab: Lab) -> None:
    with pytest.raises(ValueError, match="no VirtualService up to this stage"):
        traffic_split.render(docs_upto(lab, "stage-4"))


# --- traffic_split on small documents ----------------------------------------------------


def service(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80}]}}


def deployment(name: str, app: str, version: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"template": {"metadata": {"labels": {"app": app, "version": version}}}}}


def rule(name: str, host: str, *subsets: str) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"host": host, "subsets": [{"name": s, "labels": {"version": s}} for s in subsets]}}


def virtual_service(name: str, http: list[dict]) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "ns"}, "spec": {"hosts": ["web"], "http": http}}


def split(v1: int, v2: int, host: str = "web.ns.svc.cluster.local") -> dict:
    return {"route": [{"destination": {"host": host, "subset": "v1"}, "weight": v1},
                      {"destination": {"host": host, "subset": "v2"}, "weight": v2}]}


def small_lab() -> list[dict]:
    return [service("web"), deployment("web", "web", "v1"), deployment("web-v2", "web", "v2"),
            rule("web", "web.ns.svc.cluster.local", "v1", "v2"), virtual_service("web", [split(90, 10)])]


def test_later_document_wins_and_weights_are_relative() -> None:
    docs = [virtual_service("web", [split(50, 50)]), *small_lab(), virtual_service("web", [split(3, 1)])]
    arrows = edges(traffic_split.render(docs))
    assert arrows[("rule_ns_web_0", "subset_ns_web_v1")] == "75%"
    assert arrows[("rule_ns_web_0", "subset_ns_web_v2")] == "25%"


def test_match_conditions_are_written_out() -> None:
    docs = small_lab()
    docs[-1] = virtual_service("web", [
        {"match": [{"uri": {"prefix": "/api"}, "headers": {"x-tester": {"exact": "yes"}}}, {"queryParams": {"v": {}}}],
         "route": [{"destination": {"host": "web", "subset": "v2"}}]},
        split(1, 1),
    ])
    out = traffic_split.render(docs)
    assert "URI が /api で始まる かつ ヘッダー x-tester が yes と一致 または クエリー v が付いている" in out
    assert "ここまでのルールに当たらなかった残りすべて" in out
    assert edges(out)[("rule_ns_web_0", "subset_ns_web_v2")] == "100%"


def test_quotes_and_angle_brackets_do_not_break_labels() -> None:
    docs = small_lab()
    docs[-1] = virtual_service("web", [
        {"match": [{"headers": {"user-agent": {"regex": '.*"<b>".*'}}}],
         "route": [{"destination": {"host": "web", "subset": "v2"}}]},
    ])
    out = traffic_split.render(docs)
    assert "#quot;#lt;b#gt;#quot;" in out
    assert "<b>" not in out


def broken(change: str) -> list[dict]:
    docs = copy.deepcopy(small_lab())
    vs = docs[-1]["spec"]["http"][0]["route"]
    if change == "unknown subset":
        vs[1]["destination"]["subset"] = "v3"
    elif change == "no destination rule":
        docs.pop(3)
    elif change == "unknown host":
        vs[0]["destination"]["host"] = "wbe.ns.svc.cluster.local"
    elif change == "subset selects nothing":
        docs[3]["spec"]["subsets"][1]["labels"] = {"version": "v9"}
    elif change == "zero weights":
        vs[0]["weight"] = vs[1]["weight"] = 0
    elif change == "two destination rules":
        docs.append(rule("web-other", "web", "v1"))
    elif change == "unknown match field":
        docs[-1]["spec"]["http"][0]["match"] = [{"header": {"x": {"exact": "1"}}}]
    elif change == "bad string match":
        docs[-1]["spec"]["http"][0]["match"] = [{"uri": {"suffix": "/x"}}]
    elif change == "nothing split":
        docs[-1]["spec"]["http"] = [{"route": [{"destination": {"host": "web"}}]}]
    return docs


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("unknown subset", r"VirtualService web \(namespace ns\): spec\.http\[0\]\.route\[1\]\.destination\.subset "
                           r"is 'v3', which DestinationRule web \(namespace ns\) does not define"),
        ("no destination rule", r"spec\.http\[0\]\.route\[0\]\.destination\.subset is 'v1', but no DestinationRule"),
        ("unknown host", r"spec\.http\[0\]\.route\[0\]\.destination\.host names wbe\.ns\.svc\.cluster\.local, "
                         r"but no document of the manifests creates Service wbe in namespace ns"),
        ("subset selects nothing", r"route\[1\]\.destination sends requests to subset v2 \(version=v9\), "
                                   r"but no Deployment"),
        ("zero weights", r"the weights of spec\.http\[0\]\.route add up to 0"),
        ("two destination rules", r"Service web \(namespace ns\) has more than one DestinationRule"),
        ("unknown match field", r"spec\.http\[0\]\.match\[0\] has header, which this diagram cannot put into words"),
        ("bad string match", r"spec\.http\[0\]\.match\[0\]\.uri\.suffix is not a StringMatch"),
        ("nothing split", r"no VirtualService up to this stage names a subset"),
    ],
)
def test_traffic_split_refuses_broken_references(change: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        traffic_split.render(broken(change))


# --- circuit_breaker ---------------------------------------------------------------------


def test_circuit_breaker_table_lists_every_field_of_stage_6(lab: Lab) -> None:
    out = circuit_breaker.render(docs_upto(lab, "stage-6"))
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([^`]+)` \| `([^`]+)` \| \S", out, re.MULTILINE)}
    manifest = next(d for d in docs_upto(lab, "stage-6")
                    if d["kind"] == "DestinationRule" and d["metadata"]["name"] == "catalogue")
    expected = dict(circuit_breaker._leaves(manifest["spec"]["trafficPolicy"]["connectionPool"], "connectionPool"))
    expected.update(circuit_breaker._leaves(manifest["spec"]["trafficPolicy"]["outlierDetection"], "outlierDetection"))
    assert rows == {path: str(value) for path, value in expected.items()}
    assert "outlierDetection.consecutive5xxErrors" in rows
    assert "DestinationRule `catalogue`" in out
    # front-end's DestinationRule (stage 5) has subsets only: no circuit breaker, no rows.
    assert "DestinationRule `front-end`" not in out


def breaker_docs(**outlier: object) -> list[dict]:
    dr = rule("web", "web.ns.svc.cluster.local")
    dr["spec"]["trafficPolicy"] = {"connectionPool": {"tcp": {"maxConnections": 1}}, "outlierDetection": outlier}
    return [service("web"), dr]


def test_circuit_breaker_covers_subsets() -> None:
    docs = breaker_docs(consecutive5xxErrors=2)
    docs[1]["spec"]["subsets"] = [{"name": "v1", "labels": {"version": "v1"},
                                   "trafficPolicy": {"connectionPool": {"http": {"maxRetries": 1}}}}]
    out = circuit_breaker.render(docs)
    assert "`connectionPool.http.maxRetries` (spec.subsets[0].trafficPolicy (subset v1)) | `1`" in out


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        (breaker_docs(consecutiveErrors=3),
         r"DestinationRule web \(namespace ns\): spec\.trafficPolicy\.outlierDetection\.consecutiveErrors is "
         r"deprecated; write outlierDetection\.consecutive5xxErrors instead"),
        (breaker_docs(consecutive5xxError=3),
         r"spec\.trafficPolicy\.outlierDetection\.consecutive5xxError is not a field this table knows"),
        (breaker_docs(consecutive5xxErrors=3)[1:],
         r"spec\.host is web\.ns\.svc\.cluster\.local, but no document of the manifests creates Service web"),
        ([service("web"), rule("web", "web", "v1")], r"no DestinationRule up to this stage sets connectionPool"),
    ],
)
def test_circuit_breaker_refuses_broken_documents(docs: list[dict], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        circuit_breaker.render(docs)


def test_meanings_match_the_destination_rule_schema() -> None:
    """The table knows exactly the circuit-breaker fields of istio.io/api's DestinationRule CRD (as built for
    kubeconform from the pinned module), the deprecated consecutiveErrors aside."""
    path = REPO / ".cache" / "schemas" / "crds" / "networking.istio.io" / "destinationrule_v1.json"
    if not path.exists():
        pytest.skip("the generated schemas are not built here (make schemas)")
    import json

    policy = json.loads(path.read_text(encoding="utf-8"))["properties"]["spec"]["properties"]["trafficPolicy"]

    def fields(node: dict, prefix: str) -> Iterable[str]:
        for name, inner in node.get("properties", {}).items():
            if inner.get("properties"):
                yield from fields(inner, f"{prefix}.{name}")
            else:
                yield f"{prefix}.{name}"

    in_schema = {f for key in circuit_breaker.CIRCUIT_BREAKER_KEYS
                 for f in fields(policy["properties"][key], key)} - set(circuit_breaker.DEPRECATED)
    assert set(circuit_breaker.MEANINGS) == in_schema


# --- stage 6 removes what it breaks -------------------------------------------------------

def simulate(lab: Lab, stage: Stage, *, catch_up: bool) -> tuple[dict, set]:
    """The objects a stage's steps leave behind (handbook.replay), and which of them only demonstrations made."""
    planned = executable_steps([stage], DEFAULT_PLATFORM) if catch_up else reader_steps([stage])
    snapshot = end_state(step_moves(planned), symbolic_values(lab))
    return {key: held.doc for key, held in snapshot.present.items()}, snapshot.demo_only()


def faults(state: dict) -> list[str]:
    return [f"{kind} {name}: spec.http[{i}].fault" for (kind, _, name), obj in state.items()
            if kind == "VirtualService"
            for i, http in enumerate(obj.get("spec", {}).get("http") or []) if "fault" in http]


def stage_6(lab: Lab) -> Stage:
    return lab.stage("stage-6")


def test_stage_6_injects_faults_and_removes_every_one(lab: Lab) -> None:
    stage = stage_6(lab)
    injected = [s.id for s in stage.steps if isinstance(s, ApplyStep) and "fault:" in s.body]
    assert len(injected) >= 2, "stage 6 should inject a delay and an abort"
    state, demo_only = simulate(lab, stage, catch_up=False)
    assert not faults(state), f"faults left at the end of stage 6: {faults(state)}"
    assert not demo_only, f"objects that only demonstrations created are left: {sorted(demo_only)}"
    assert ("Deployment", "${APP_NS}", "catalogue-stuck") not in state


def test_stage_6_catch_up_never_injects_a_fault(lab: Lab) -> None:
    stage = stage_6(lab)
    assert all(s.demo for s in stage.steps if isinstance(s, ApplyStep) and "fault:" in s.body)
    state, _ = simulate(lab, stage, catch_up=True)
    assert not faults(state)
    assert {("VirtualService", "${APP_NS}", n) for n in ("catalogue", "carts", "payment")} <= set(state)


def test_the_fault_check_would_notice_a_fault_left_behind(lab: Lab) -> None:
    """The simulation is not blind: drop the restoring step and it reports the faults."""
    stage = stage_6(lab)
    without_restore = Stage(**{**stage.__dict__, "steps": tuple(s for s in stage.steps if s.id != "restore-routes")})
    state, _ = simulate(lab, without_restore, catch_up=False)
    assert sorted(faults(state)) == ["VirtualService catalogue: spec.http[0].fault",
                                     "VirtualService payment: spec.http[0].fault"]
    without_cleanup = Stage(**{**stage.__dict__,
                               "steps": tuple(s for s in stage.steps if s.id != "remove-stuck-replica")})
    _, demo_only = simulate(lab, without_cleanup, catch_up=False)
    assert demo_only == {("Deployment", "${APP_NS}", "catalogue-stuck")}


# --- checks, pages, manifests ---------------------------------------------------------------


def checks(lab: Lab) -> Iterable[CheckStep]:
    for stage_id in ("stage-5", "stage-6"):
        yield from (s for s in lab.stage(stage_id).steps if isinstance(s, CheckStep))


def test_every_sample_output_meets_its_own_expectation(lab: Lab) -> None:
    values = lab.variables.resolve()
    problems = []
    for step in checks(lab):
        expect = step.expect.substituted(values)
        for stdout in (step.output, step.output + "\n"):
            if why := expect.failure(stdout):
                problems.append(f"{step.ref}: {why}")
    assert not problems, "\n".join(problems)


def test_non_demo_checks_do_not_depend_on_chance(lab: Lab) -> None:
    """verify runs the non-demo checks at any later time: none of them may sample a random split."""
    for step in checks(lab):
        if not step.demo:
            assert "[1-" not in " ".join(step.argv) or "sockshop-canary=v2" in step.argv, step.ref


@pytest.mark.parametrize("stage_id", ["stage-5", "stage-6"])
def test_page_renders_every_step_in_order(lab: Lab, stage_id: str) -> None:
    page = (REPO / "docs" / f"{stage_id}.md").read_text(encoding="utf-8")
    assert re.search(rf"^stage: {stage_id}$", page, re.MULTILINE)
    called = re.findall(r'\{\{ (?:step\("([^"]+)"\)|platform_tabs\(([^)]*)\)) \}\}', page)
    rendered = [one or two for one, two in called]
    flat = [i.strip().strip('"') for entry in rendered for i in entry.split(",")]
    assert flat == [s.id for s in lab.stage(stage_id).steps]
    assert page.index("{{ export_block() }}") < page.index("{{ step(")
    assert page.rstrip().endswith("{{ catch_up() }}\n\n{{ stage_outro() }}")  # the frame's outro comes last


def stage_objects(lab: Lab, stage_id: str) -> list[dict]:
    return lab.objects([lab.stage(stage_id)], symbolic_values(lab))


def test_istio_objects_use_v1_and_current_fields(lab: Lab) -> None:
    for stage_id in ("stage-5", "stage-6"):
        for obj in stage_objects(lab, stage_id):
            if "istio.io" in obj["apiVersion"]:
                assert obj["apiVersion"] == "networking.istio.io/v1", obj["metadata"]["name"]
            assert "consecutiveErrors" not in repr(obj)


def test_tester_cookie_regex_matches_whole_cookie_headers(lab: Lab) -> None:
    vs = [o for o in stage_objects(lab, "stage-5") if o["kind"] == "VirtualService"][-1]
    pattern = vs["spec"]["http"][0]["match"][0]["headers"]["cookie"]["regex"]
    for header in ("sockshop-canary=v2", "md.sid=abc; sockshop-canary=v2", "sockshop-canary=v2; logged_in=x",
                   "a=1; sockshop-canary=v2; b=2"):
        assert re.fullmatch(pattern, header), header
    for header in ("sockshop-canary=v20", "xsockshop-canary=v2", "sockshop-canary=v1", ""):
        assert not re.fullmatch(pattern, header), header


def test_v2_differs_from_v1_only_in_the_mounted_files(lab: Lab) -> None:
    objects = stage_objects(lab, "stage-5")
    look = next(o for o in objects if o["kind"] == "ConfigMap")
    v2 = next(o for o in objects if o["kind"] == "Deployment")
    v1 = next(o for o in stage_objects(lab, "stage-1")
              if o["kind"] == "Deployment" and o["metadata"]["name"] == "front-end")
    c1, c2 = v1["spec"]["template"]["spec"]["containers"][0], v2["spec"]["template"]["spec"]["containers"][0]
    assert c1["image"] == c2["image"]
    assert {"name": "SESSION_REDIS", "value": "true"} in c2["env"]
    assert v2["spec"]["selector"]["matchLabels"] == {"app": "front-end", "version": "v2"}
    mounts = {m["subPath"]: m["mountPath"] for m in c2["volumeMounts"] if "subPath" in m}
    assert mounts == {"custom.css": "/usr/src/app/public/css/custom.css",
                      "release.txt": "/usr/src/app/public/release.txt"}
    assert set(look["data"]) == set(mounts)
    # What the checks expect from v2 is what the ConfigMap serves.
    tester = lab.stage("stage-5").step("check-tester-sees-v2")
    assert isinstance(tester, CheckStep)
    assert re.search(tester.expect.regex or "", look["data"]["release.txt"])
