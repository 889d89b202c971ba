"""What a learner's own token may do on a real API server, and the real Sail CRDs' CEL rules.

* The export block of every learner page reads the apps domain with
  `oc get ingresses.config.openshift.io cluster`. Here the pinned openshift/api module's CRD for that
  kind is served, an object `cluster` holds `spec.domain`, stage 0 is applied by the admin for
  LAB_USER=lab-user, and the block, as the page renders it for the OpenShift tab, runs in bash with
  only the learner's token. `oc` is the pinned kubectl under that name: for `oc get` the two send
  the same request, and RBAC judges the request.
* With the Sail operator's real CRDs (HANDBOOK_CRDS, or ../shared/crds beside the clone), the API
  server runs their CEL rules; without that folder those tests skip and say why.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from cluster_harness import PLATFORM_ARGS, REAL_LAB, lab_for_cluster, rendered_applies, run_apply, running_cluster

from handbook import local_cluster
from handbook.blocks import export_block
from handbook.lab import Lab

pytestmark = pytest.mark.e2e

LEARNER = local_cluster.LEARNER
DOMAIN = "apps.local-cluster.example"
INGRESS = "ingresses.config.openshift.io"
LEARNER_ROLE = f"sockshop-mesh-{LEARNER}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    yield from running_cluster(tmp_path_factory.mktemp("rights-cluster"), "rights cluster")


@pytest.fixture(scope="module")
def crd_folder(cluster) -> tuple[list[Path], str]:  # noqa: ANN001
    """Every CRD the local cluster serves installed; the Sail/Kiali folder and where it came from."""
    local_cluster.install_crds(cluster)
    return local_cluster.crd_folder_paths()


@pytest.fixture(scope="module")
def lab(cluster, crd_folder, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    """Stage 0 applied by the admin for the learner, and the cluster's Ingress config object."""
    copy_, _ = lab_for_cluster(REAL_LAB, tmp_path_factory.mktemp("rights-lab") / "real", nodes=cluster.nodes)
    done = run_apply(cluster, copy_, "stage-0", "--user", LEARNER, *PLATFORM_ARGS)
    assert done.returncode == 0, done.stderr
    ingress = {"apiVersion": "config.openshift.io/v1", "kind": "Ingress", "metadata": {"name": "cluster"},
               "spec": {"domain": DOMAIN}}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(ingress))
    return copy_


@pytest.fixture(scope="module")
def oc_dir(cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    folder = tmp_path_factory.mktemp("oc-bin")
    (folder / "oc").symlink_to(cluster.kubectl_path)
    return folder


def learner_stages_reading_the_domain(lab: Path) -> list[str]:
    model = Lab.load(lab)
    return [s.id for s in model.stages if s.audience == "user" and "APPS_DOMAIN" in model.variables_for(s)]


def run_export_block(cluster, lab: Path, stage_id: str, oc_dir: Path, home: Path):  # noqa: ANN001, ANN201
    """The stage's OpenShift export block (LAB_USER set to the learner, as the values form does), in bash,
    with only the learner's token; then the values it left behind."""
    model = Lab.load(lab)
    block = export_block(model, model.stage(stage_id), "openshift",
                         model.variables.resolve({"LAB_USER": LEARNER})).text
    script = block + '\nprintf "APPS_DOMAIN=%s\\nSHOP_HOST=%s\\n" "$APPS_DOMAIN" "${SHOP_HOST-}"\n'
    env = {"PATH": f"{oc_dir}:{cluster.bin}:/usr/bin:/bin", "HOME": str(home),
           "KUBECONFIG": str(cluster.kubeconfig_for(LEARNER))}
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,  # noqa: S603, S607
                            timeout=60, check=False)
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    print(f"--- {stage_id} export block as {LEARNER}:\n{block}\n-> exit {result.returncode}\n"
          f"{result.stdout}{result.stderr}")
    return result, values


# --------------------------------------------------------------------------- defect 1: the apps domain


def test_export_blocks_resolve_the_apps_domain_as_the_learner(cluster, lab: Path, oc_dir: Path,  # noqa: ANN001
                                                              tmp_path: Path) -> None:
    stages = learner_stages_reading_the_domain(lab)
    assert stages, "no learner stage uses APPS_DOMAIN"
    for stage_id in stages:
        result, values = run_export_block(cluster, lab, stage_id, oc_dir, tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Forbidden" not in result.stderr, result.stderr
        assert values.get("APPS_DOMAIN") == DOMAIN, (stage_id, values)
        if "SHOP_HOST" in Lab.load(lab).variables_for(Lab.load(lab).stage(stage_id)):
            assert values.get("SHOP_HOST") == f"sockshop-{LEARNER}-sockshop.{DOMAIN}", (stage_id, values)
    # The grant is one object, not the kind: the learner still cannot list the cluster's Ingress configs.
    listing = cluster.kubectl("get", INGRESS, context=LEARNER, check=False)
    assert listing.returncode != 0 and "Forbidden" in listing.stderr, listing.stderr


def test_without_the_stage_0_grant_the_learner_is_forbidden(cluster, lab: Path, oc_dir: Path,  # noqa: ANN001
                                                            tmp_path: Path) -> None:
    role = json.loads(cluster.kubectl("get", "clusterrole", LEARNER_ROLE, "-o", "json").stdout)
    without = copy.deepcopy(role)
    without["rules"] = [r for r in role["rules"] if "config.openshift.io" not in r.get("apiGroups", [])]
    assert len(without["rules"]) == len(role["rules"]) - 1, "stage 0's learner ClusterRole has one rule for it"
    cluster.kubectl("replace", "-f", "-", stdin=json.dumps(without))
    try:
        result, values = run_export_block(cluster, lab, "stage-4", oc_dir, tmp_path)
    finally:
        restore = run_apply(cluster, lab, "stage-0", "--user", LEARNER, *PLATFORM_ARGS)
        assert restore.returncode == 0, restore.stderr
    assert f'{INGRESS} "cluster" is forbidden: User "{LEARNER}" cannot get resource "ingresses"' in result.stderr, \
        result.stderr
    assert result.returncode != 0 or values.get("APPS_DOMAIN") == "", values


# --------------------------------------------------------------------------- defect 10: the Sail CRDs' CEL rules


def require_real_sail_crds(crd_folder: tuple[list[Path], str], cluster) -> None:  # noqa: ANN001
    paths, origin = crd_folder
    if not paths:
        pytest.skip(f"the Sail operator's CRDs are not installed: {origin}")
    crd = cluster.kubectl("get", "crd", "istiocnis.sailoperator.io", "-o", "json")
    assert "local-cluster/placeholder" not in crd.stdout, "a placeholder, not the real CRD, serves IstioCNI"


def rendered_document(lab: Path, stage_id: str, kind: str, platform: str) -> tuple[dict, str | None]:
    for item in rendered_applies(lab, [stage_id], LEARNER, platform):
        for document in yaml.safe_load_all(item.body):
            if isinstance(document, dict) and document.get("kind") == kind:
                return document, item.namespace
    raise AssertionError(f"{stage_id} applies no {kind} on {platform}")


def test_istiocni_not_named_default_is_refused(cluster, crd_folder, lab: Path) -> None:  # noqa: ANN001
    require_real_sail_crds(crd_folder, cluster)
    cni, _ = rendered_document(lab, "stage-0", "IstioCNI", "openshift")
    other = copy.deepcopy(cni)
    other["metadata"]["name"] = "not-default"
    refused = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(other), check=False)
    assert refused.returncode != 0
    assert "metadata.name must be 'default'" in refused.stderr, refused.stderr
    accepted = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(cni), check=False)
    assert accepted.returncode == 0, f"stage 0's own IstioCNI is refused by the real CRD: {accepted.stderr}"


def test_changing_istio_spec_namespace_is_refused(cluster, crd_folder, lab: Path) -> None:  # noqa: ANN001
    require_real_sail_crds(crd_folder, cluster)
    istio, _ = rendered_document(lab, "stage-2", "Istio", "kubernetes")
    created = cluster.kubectl("apply", "-f", "-", stdin=json.dumps(istio), context=LEARNER, check=False)
    assert created.returncode == 0, f"stage 2's Istio, as the learner: {created.stderr}"
    name = istio["metadata"]["name"]
    moved = cluster.kubectl("patch", f"istios.sailoperator.io/{name}", "--type=merge", "-p",
                            json.dumps({"spec": {"namespace": "somewhere-else"}}), context=LEARNER, check=False)
    assert moved.returncode != 0
    assert "spec.namespace: Invalid value" in moved.stderr and "immutable" in moved.stderr, moved.stderr
    kept = cluster.kubectl("get", f"istios.sailoperator.io/{name}", "-o", "jsonpath={.spec.namespace}").stdout
    assert kept == istio["spec"]["namespace"]


# --------------------------------------------------------------------------- istioctl as the learner (stages 3, 4)


def test_the_learner_may_run_istioctl_proxy_status_and_proxy_config(cluster, lab: Path) -> None:  # noqa: ANN001
    """What istioctl asks of the API server, by istio.io/istio istioctl/pkg/multixds (proxy-status) and
    pkg/kube (proxy-config): list istiod's pods in MESH_NS, port-forward to one, create a token of the
    service account default there; port-forward to the learner's own pod for proxy-config."""
    values = Lab.load(lab).variables.resolve({"LAB_USER": LEARNER})
    mesh, app = values["MESH_NS"], values["APP_NS"]
    asks = [("list", "pods", None, mesh), ("create", "pods", "portforward", mesh),
            ("create", "serviceaccounts/default", "token", mesh),
            ("get", "pods", None, app), ("create", "pods", "portforward", app)]
    for verb, resource, sub, namespace in [*asks, ("create", "serviceaccounts/default", "token", "kube-system")]:
        words = ["auth", "can-i", verb, resource, "-n", namespace, *([f"--subresource={sub}"] if sub else [])]
        answer = cluster.kubectl(*words, context=LEARNER, check=False).stdout.strip()
        assert answer == ("no" if namespace == "kube-system" else "yes"), (words, answer)
