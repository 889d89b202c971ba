"""The mesh_membership and ingress_path diagrams: nodes and edges come from the documents."""

from __future__ import annotations

import copy
import re

import pytest

from handbook.diagrams import ingress_path, mesh_membership


def namespace(name: str, **labels: str) -> dict:
    meta: dict = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def istio(name: str, ns: str, *selectors: dict, strategy: str = "InPlace", version: str = "v1.30-latest") -> dict:
    values = {"meshConfig": {"discoverySelectors": list(selectors)}} if selectors else {}
    return {
        "apiVersion": "sailoperator.io/v1",
        "kind": "Istio",
        "metadata": {"name": name},
        "spec": {"version": version, "namespace": ns, "updateStrategy": {"type": strategy}, "values": values},
    }


def edges(mermaid: str) -> set[tuple[str, str]]:
    """(source, target) for every arrow, labels dropped."""
    found = set()
    for line in mermaid.splitlines():
        match = re.match(r"\s*(\S+) -->(?:\|.*?\|)? (\S+)$", line)
        if match:
            found.add((match.group(1), match.group(2)))
    return found


# --- mesh_membership ---------------------------------------------------------


def two_tenants() -> list[dict]:
    return [
        namespace("a-istio-system"),
        namespace("a-app"),
        namespace("b-istio-system", tenant="b"),
        namespace("b-app", tenant="b"),
        namespace("shared-tools", team="ops"),
        # Labels arrive by a later Namespace document, as stage 2 applies them.
        namespace("a-istio-system", tenant="a"),
        namespace("a-app", tenant="a"),
        istio("a", "a-istio-system", {"matchLabels": {"tenant": "a"}}),
        istio("b", "b-istio-system", {"matchLabels": {"tenant": "b"}}),
    ]


def test_each_control_plane_sees_only_its_labelled_namespaces() -> None:
    out = mesh_membership.render(two_tenants())
    arrows = edges(out)
    assert ("istiod_a", "ns_a_app") in arrows
    assert ("istiod_a", "ns_a_istio_system") in arrows
    assert ("istiod_b", "ns_b_app") in arrows
    assert ("istiod_a", "ns_b_app") not in arrows
    assert ("istiod_b", "ns_a_app") not in arrows
    assert not any(target == "ns_shared_tools" for _, target in arrows)
    unseen = out.split("subgraph unseen", 1)[1].split("end", 1)[0]
    assert "ns_shared_tools" in unseen
    assert "ns_a_app" not in unseen


def test_labels_merge_in_document_order() -> None:
    docs = two_tenants()
    # A later document overwrites the tenant of a-app: the namespace moves to mesh b.
    docs.append(namespace("a-app", tenant="b"))
    arrows = edges(mesh_membership.render(docs))
    assert ("istiod_b", "ns_a_app") in arrows
    assert ("istiod_a", "ns_a_app") not in arrows


def test_a_later_document_keeps_earlier_labels() -> None:
    docs = two_tenants()
    # Applying a Namespace with another label adds it; the tenant label stays.
    docs.append(namespace("a-app", team="web"))
    out = mesh_membership.render(docs)
    assert ("istiod_a", "ns_a_app") in edges(out)
    assert "team=web" in out and "tenant=a" in out


def test_match_expressions_and_or_between_selectors() -> None:
    docs = [
        namespace("cp", mesh="x"),
        namespace("prod", env="prod"),
        namespace("dev", env="dev"),
        namespace("legacy", env="prod", legacy="yes"),
        istio(
            "x",
            "cp",
            {"matchLabels": {"mesh": "x"}},
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]},
                                  {"key": "legacy", "operator": "DoesNotExist"}]},
        ),
    ]
    arrows = edges(mesh_membership.render(docs))
    assert ("istiod_x", "ns_cp") in arrows
    assert ("istiod_x", "ns_prod") in arrows
    assert ("istiod_x", "ns_legacy") not in arrows
    assert ("istiod_x", "ns_dev") not in arrows


def test_no_selectors_means_every_namespace() -> None:
    docs = [namespace("istio-system"), namespace("one"), namespace("two"), istio("default", "istio-system")]
    arrows = edges(mesh_membership.render(docs))
    assert {("istiod_default", "ns_one"), ("istiod_default", "ns_two")} <= arrows


def test_revision_based_names_the_revision_after_the_version() -> None:
    docs = [namespace("cp", t="1"), istio("m", "cp", {"matchLabels": {"t": "1"}}, strategy="RevisionBased",
                                            version="v1.30.3")]
    assert "istiod-m-v1-30-3" in mesh_membership.render(docs)


def test_missing_control_plane_namespace_is_an_error() -> None:
    docs = [namespace("a-app", tenant="a"), istio("a", "a-istio-system", {"matchLabels": {"tenant": "a"}})]
    with pytest.raises(ValueError, match=r"Istio a: spec\.namespace 'a-istio-system' is not created"):
        mesh_membership.render(docs)


def test_unlabelled_control_plane_namespace_is_an_error() -> None:
    docs = [namespace("a-istio-system"), namespace("a-app", tenant="a"),
            istio("a", "a-istio-system", {"matchLabels": {"tenant": "a"}})]
    with pytest.raises(ValueError, match="label the control-plane namespace"):
        mesh_membership.render(docs)


def test_bad_operator_is_an_error() -> None:
    docs = [namespace("cp", t="1"), istio("m", "cp", {"matchExpressions": [{"key": "t", "operator": "Equals"}]})]
    with pytest.raises(ValueError, match=r"discoverySelectors\[0\]\.matchExpressions\[0\]\.operator"):
        mesh_membership.render(docs)


def test_no_istio_resource_is_an_error() -> None:
    with pytest.raises(ValueError, match="no Istio resource"):
        mesh_membership.render([namespace("x")])


# --- ingress_path ------------------------------------------------------------


def deployment(name: str, labels: dict, *, gateway: bool = False) -> dict:
    template_meta: dict = {"labels": labels}
    if gateway:
        template_meta["annotations"] = {"inject.istio.io/templates": "gateway"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": template_meta,
                                                                   "spec": {"containers": [{"name": "c"}]}}},
    }


def service(name: str, selector: dict, *ports: tuple[str, int, int]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector,
                 "ports": [{"name": n, "port": p, "targetPort": t} for n, p, t in ports]},
    }


def route(name: str, to: str, host: str, target_port: str | int) -> dict:
    return {
        "apiVersion": "route.openshift.io/v1",
        "kind": "Route",
        "metadata": {"name": name},
        "spec": {"host": host, "to": {"kind": "Service", "name": to}, "port": {"targetPort": target_port}},
    }


def shop() -> list[dict]:
    return [
        deployment("front-end", {"app": "front-end", "version": "v1"}),
        service("front-end", {"app": "front-end"}, ("http", 80, 8079)),
        route("front-end", "front-end", "front-end-ns.apps.example", "http"),
        deployment("gw", {"istio": "gw", "app": "gw"}, gateway=True),
        service("gw", {"istio": "gw"}, ("http2", 80, 8080), ("https", 443, 8443)),
        route("shop", "gw", "shop.apps.example", "http2"),
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "shop-gateway"},
            "spec": {"selector": {"istio": "gw"},
                     "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"},
                                  "hosts": ["shop.apps.example"]}]},
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "shop"},
            "spec": {"hosts": ["shop.apps.example"], "gateways": ["shop-gateway"],
                     "http": [{"route": [{"destination": {"host": "front-end.ns.svc.cluster.local",
                                                          "port": {"number": 80}}}]}]},
        },
    ]


def strict() -> dict:
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "default"}, "spec": {"mtls": {"mode": "STRICT"}}}


def test_gateway_path_is_followed_from_route_to_pods() -> None:
    out = ingress_path.render(shop())
    arrows = edges(out)
    assert ("client", "route__shop") in arrows
    assert ("route__shop", "service__gw") in arrows
    assert ("service__gw", "deployment__gw") in arrows
    assert ("deployment__gw", "gateway__shop_gateway") in arrows
    assert ("gateway__shop_gateway", "virtualservice__shop") in arrows
    assert ("virtualservice__shop", "service__front_end") in arrows
    assert ("service__front_end", "deployment__front_end") in arrows
    assert ("route__front_end", "service__front_end") in arrows
    assert '"targetPort http2"' in out
    assert "linkStyle" not in out  # nothing is refused without a STRICT policy


def test_strict_policy_marks_the_plain_text_route_only() -> None:
    out = ingress_path.render([*shop(), strict()])
    refused = [line for line in out.splitlines() if "STRICT" in line and "-->" in line]
    assert len(refused) == 1 and refused[0].strip().startswith("route__front_end -->")
    edge_lines = [line for line in out.splitlines() if "-->" in line]
    index = edge_lines.index(refused[0])
    assert f"linkStyle {index} " in out


def test_strict_policy_with_other_selector_does_not_mark() -> None:
    policy = strict()
    policy["spec"]["selector"] = {"matchLabels": {"app": "someone-else"}}
    assert "linkStyle" not in ingress_path.render([*shop(), policy])


def test_route_to_missing_service_is_an_error() -> None:
    docs = shop()
    docs.append(route("typo", "front-ends", "x.apps.example", "http"))
    with pytest.raises(ValueError, match=r"Route typo: spec\.to\.name names Service front-ends"):
        ingress_path.render(docs)


def test_unknown_target_port_is_an_error() -> None:
    docs = shop()
    docs[5] = route("shop", "gw", "shop.apps.example", "http3")
    with pytest.raises(ValueError, match=r"spec\.port\.targetPort 'http3' matches no port of Service gw"):
        ingress_path.render(docs)


def test_gateway_without_gateway_resource_is_an_error() -> None:
    docs = [d for d in shop() if d["kind"] != "Gateway"]
    with pytest.raises(ValueError, match="no Gateway's spec.selector matches its pod labels"):
        ingress_path.render(docs)


def test_virtual_service_to_missing_service_is_an_error() -> None:
    docs = copy.deepcopy(shop())
    docs[7]["spec"]["http"][0]["route"][0]["destination"]["host"] = "frontend.ns.svc.cluster.local"
    with pytest.raises(ValueError, match=r"destination\.host names Service frontend in namespace ns"):
        ingress_path.render(docs)


def test_virtual_service_port_must_exist_on_the_service() -> None:
    docs = copy.deepcopy(shop())
    docs[7]["spec"]["http"][0]["route"][0]["destination"]["port"]["number"] = 8080
    with pytest.raises(ValueError, match=r"port\.number 8080 is not a port of Service front-end"):
        ingress_path.render(docs)


def test_gateway_without_virtual_service_is_an_error() -> None:
    docs = copy.deepcopy(shop())
    docs[7]["spec"]["gateways"] = ["other-gateway"]
    with pytest.raises(ValueError, match="Gateway shop-gateway: no VirtualService lists it"):
        ingress_path.render(docs)


def test_route_host_not_served_by_gateway_is_an_error() -> None:
    docs = copy.deepcopy(shop())
    docs[5]["spec"]["host"] = "elsewhere.apps.example"
    with pytest.raises(ValueError, match="spec.host elsewhere.apps.example is not among the hosts"):
        ingress_path.render(docs)


def test_service_selecting_nothing_is_an_error() -> None:
    docs = copy.deepcopy(shop())
    docs[1]["spec"]["selector"] = {"app": "front-end-v9"}
    with pytest.raises(ValueError, match=r"Service front-end: spec\.selector \(app=front-end-v9\) matches no"):
        ingress_path.render(docs)


def test_wildcard_gateway_hosts_match() -> None:
    docs = copy.deepcopy(shop())
    docs[6]["spec"]["servers"][0]["hosts"] = ["*.apps.example"]
    assert ("gateway__shop_gateway", "virtualservice__shop") in edges(ingress_path.render(docs))


def test_no_route_is_an_error() -> None:
    with pytest.raises(ValueError, match="no Route"):
        ingress_path.render([d for d in shop() if d["kind"] != "Route"])


# --- the repository's own manifests ------------------------------------------


def _repository_objects(stage_id: str, after: str | None = None) -> list[dict]:
    from handbook.diagrams import objects_at
    from handbook.lab import Lab

    lab = Lab.load()
    return objects_at(lab, lab.stage(stage_id), after)


def test_stage_2_manifests_give_each_mesh_its_own_namespaces() -> None:
    arrows = edges(mesh_membership.render(_repository_objects("stage-2", after="wait-neighbour-mesh")))
    mine = {target for source, target in arrows if source == "istiod___MESH_NAME_"}
    assert mine == {"ns___MESH_NS_", "ns___APP_NS_"}
    peer = {target for source, target in arrows if source == "istiod___LAB_USER__peer"}
    assert peer == {"ns___LAB_USER__peer_istio_system", "ns___LAB_USER__peer_app"}
    # The demonstration removes the neighbour again: at the end of stage 2 only the reader's mesh is left.
    arrows = edges(mesh_membership.render(_repository_objects("stage-2")))
    assert {source for source, _ in arrows if source.startswith("istiod_")} == {"istiod___MESH_NAME_"}


def test_stage_4_manifests_lead_from_both_routes_to_front_end() -> None:
    out = ingress_path.render(_repository_objects("stage-4"))
    arrows = edges(out)
    assert ("route___APP_NS__sockshop_gateway", "service___APP_NS__sockshop_ingressgateway") in arrows
    assert ("gateway___APP_NS__sockshop_gateway", "virtualservice___APP_NS__sockshop_ingress") in arrows
    assert ("virtualservice___APP_NS__sockshop_ingress", "service___APP_NS__front_end") in arrows
    assert ("route___APP_NS__front_end", "service___APP_NS__front_end") in arrows
    # Stage 4 turns on STRICT: only the Route straight to front-end is refused.
    refused = [line for line in out.splitlines() if "STRICT" in line and "-->" in line]
    assert [line.split()[0] for line in refused] == ["route___APP_NS__front_end"]
