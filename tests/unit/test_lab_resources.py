"""handbook.lab_resources and handbook.lab_images: what the lab asks of a cluster, from the replay's end state."""

from __future__ import annotations

import pytest
from support.apply_cli import REPO

from handbook.lab import Lab
from handbook.lab_images import images_of, per_stage
from handbook.lab_resources import (
    CHART_OPERATORS,
    DEFAULTS,
    Amount,
    cpu_millis,
    injected,
    lab_lines,
    markdown,
    measure,
    memory_bytes,
    pod_amounts,
    total,
)

MI = 1024 * 1024


def container(name: str, cpu: str | None = None, memory: str | None = None, **extra: object) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": name, "image": f"example/{name}:1", "resources": {"requests": requests}, **extra}


def deployment(name: str, namespace: str, *containers: dict, replicas: int | None = None,
               pod_labels: dict | None = None) -> dict:
    spec: dict = {"template": {"metadata": {"labels": pod_labels or {}}, "spec": {"containers": list(containers)}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def namespace(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


@pytest.mark.parametrize(("text", "millis"), [("100m", 100), ("2", 2000), ("0.5", 500), (1, 1000), ("1.5", 1500)])
def test_cpu_quantities(text: str, millis: int) -> None:
    assert cpu_millis(text) == millis


@pytest.mark.parametrize(("text", "size"), [("128Mi", 128 * MI), ("1Gi", 1024 * MI), ("1G", 10**9), ("64", 64),
                                            ("500Ki", 500 * 1024)])
def test_memory_quantities(text: str, size: int) -> None:
    assert memory_bytes(text) == size


@pytest.mark.parametrize("bad", ["100x", "m", "", "1.2.3"])
def test_bad_quantities_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        cpu_millis(bad)
    with pytest.raises(ValueError, match="quantity"):
        memory_bytes(bad)


def test_a_pod_counts_sidecar_init_containers_and_the_largest_one_shot_init() -> None:
    spec = {"containers": [container("app", "100m", "100Mi"), container("log", "50m", "10Mi")],
            "initContainers": [container("migrate", "500m", "20Mi"),
                               container("native-sidecar", "10m", "5Mi", restartPolicy="Always")]}
    requests, _ = pod_amounts(spec)
    # CPU: the one-shot init (500m) is more than the running sum (160m); memory: the running sum (115Mi) wins.
    assert requests == Amount(500, 115 * MI)


def test_replicas_and_injection_multiply_the_right_lines() -> None:
    objects = [namespace("shop", **{"istio.io/rev": "user1"}), namespace("plain"),
               deployment("web", "shop", container("web", "100m", "64Mi"), replicas=3),
               deployment("client", "shop", container("c", "10m", "16Mi"),
                          pod_labels={"sidecar.istio.io/inject": "false"}),
               deployment("db", "plain", container("db", "50m", "256Mi"))]
    lines = measure(objects, chart_operators=False)
    assert [(line.what, line.pods) for line in lines] == [
        ("Deployment shop/web", 3), ("istio-proxy in Deployment shop/web", 3),
        ("Deployment shop/client", 1), ("Deployment plain/db", 1)]
    requests, _ = total(lines)
    proxy = DEFAULTS["istio-proxy"].requests
    assert requests == Amount(3 * 100 + 3 * proxy.cpu + 10 + 50, 3 * 64 * MI + 3 * proxy.memory + 16 * MI + 256 * MI)


def test_injection_rules() -> None:
    assert injected({}, namespace("a", **{"istio-injection": "enabled"}))
    assert injected({}, namespace("a", **{"istio.io/rev": "r"}))
    assert not injected({}, namespace("a"))
    assert injected({"metadata": {"labels": {"sidecar.istio.io/inject": "true"}}}, namespace("a"))
    assert not injected({"metadata": {"labels": {"sidecar.istio.io/inject": "false"}}},
                        namespace("a", **{"istio.io/rev": "r"}))


def test_operands_use_the_resource_or_the_named_default() -> None:
    istio = {"kind": "Istio", "metadata": {"name": "m"},
             "spec": {"values": {"pilot": {"resources": {"requests": {"cpu": "100m", "memory": "512Mi"}}}}}}
    bare_istio = {"kind": "Istio", "metadata": {"name": "n"}, "spec": {}}
    lines = measure([istio, bare_istio], chart_operators=False)
    assert [(line.requests, line.source) for line in lines] == [
        (Amount(100, 512 * MI), "manifest"), (DEFAULTS["istiod"].requests, DEFAULTS["istiod"].source)]


def test_the_whole_lab_on_kubernetes_counts_what_the_manifests_say() -> None:
    lab = Lab.load(REPO / "manifests")
    lines = lab_lines(lab)
    names = [line.what for line in lines]
    assert "prometheus of Prometheus monitoring/lab" in names
    assert any(name.startswith("istiod of Istio") for name in names)
    assert all(f"{name} (Helm chart of stage 0)" in names for name in CHART_OPERATORS)
    front_end = next(line for line in lines if line.what.endswith("sockshop/front-end"))
    manifest = next(o for o in lab.objects(list(lab.stages), lab.variables.resolve(), "kubernetes")
                    if o["kind"] == "Deployment" and o["metadata"]["name"] == "front-end")
    assert front_end.requests == pod_amounts(manifest["spec"]["template"]["spec"])[0]
    requests, _ = total(lines)
    assert f"CPU {requests.cpu / 1000:.2f} コア" in markdown(lines)
    openshift = [line.what for line in lab_lines(lab, "openshift")]
    assert not any("Helm chart" in name or "Prometheus monitoring/lab" in name for name in openshift)


def test_images_per_stage_are_new_images_only() -> None:
    lab = Lab.load(REPO / "manifests")
    stages = per_stage(lab)
    seen: list[str] = [image for item in stages for image, _ in item.images]
    assert len(seen) == len(set(seen)), "an image is listed in the first stage that pulls it, once"
    first = {image: item.stage_id for item in stages for image, _ in item.images}
    assert first["quay.io/sail-dev/sail-operator:1.30.3"] == "stage-0"
    assert first["registry.istio.io/release/pilot:1.30.3"] == "stage-2"
    assert "auto" not in first


def test_images_of_a_gateway_with_image_auto_is_the_proxy() -> None:
    gateway = deployment("gw", "shop", {"name": "istio-proxy", "image": "auto"})
    found = images_of([namespace("shop", **{"istio.io/rev": "r"}), gateway])
    assert list(found) == ["registry.istio.io/release/proxyv2:1.30.3"]
