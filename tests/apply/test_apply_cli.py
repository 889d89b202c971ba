"""scripts/apply.py end to end, driven through a fake oc/kubectl on PATH (recorded CLI interactions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.apply_cli import FIXTURE_LAB, FakeCli, run_apply

from handbook.blocks import dry_run_text, split_dry_run
from handbook.lab import Lab

WHOAMI = {"match": ["oc", "whoami"], "stdout": "developer\n"}
DOMAIN = {"match": ["oc", "get", "ingresses.config.openshift.io"], "stdout": "apps.fake.example"}
API_RESOURCES = {
    "match": ["api-resources"],
    "stdout": "\n".join(
        [
            "pods                      po       v1                        true    Pod",
            "services                  svc      v1                        true    Service",
            "deployments               deploy   apps/v1                   true    Deployment",
            "routes                             route.openshift.io/v1     true    Route",
        ]
    )
    + "\n",
}
NO_PROJECT = {
    "match": ["oc", "get", "project"], "exit": 1, "stderr": 'Error from server (NotFound): projects "x" not found'
}
HAPPY = [WHOAMI, DOMAIN, API_RESOURCES, NO_PROJECT]
MUTATING = ("new-project", "apply", "patch", "create", "delete", "scale", "label")


def mutating_calls(fake: FakeCli) -> list[list[str]]:
    return [c["argv"] for c in fake.calls() if any(word in c["argv"][1:3] for word in MUTATING)]


def apply(fake: FakeCli, *args: str, stdin: str | None = None, lab: Path = FIXTURE_LAB):
    return run_apply(list(args), fake.env(lab=lab), stdin=stdin)


def test_stage_runs_every_step_in_order(fake_cli: FakeCli) -> None:
    fake_cli.rules(HAPPY)
    result = apply(fake_cli, "stage-2", "--user", "alice")
    assert result.returncode == 0, result.stderr
    argvs = [c["argv"] for c in fake_cli.calls()]
    assert argvs[:3] == [
        ["oc", "whoami"],
        ["oc", "get", "ingresses.config.openshift.io", "cluster", "-o", "jsonpath={.spec.domain}"],
        ["oc", "api-resources", "--no-headers"],
    ]
    assert argvs[3:] == [
        ["oc", "get", "project", "alice-demo"],
        ["oc", "new-project", "alice-demo"],
        ["oc", "apply", "-n", "alice-demo", "-f", "-"],
        ["oc", "apply", "-n", "alice-demo", "-f", "-"],
        ["oc", "rollout", "status", "deployment/web", "-n", "alice-demo", "--timeout=120s"],
        ["oc", "patch", "deployment/web", "-n", "alice-demo", "--type=strategic", "--patch-file=/dev/stdin"],
    ]
    route = fake_cli.calls()[6]["stdin"]
    assert "host: web-alice-demo.apps.fake.example" in route
    # Checks, manual steps and demonstrations are not part of a catch-up run.
    assert not any("scale" in a for a in argvs)
    assert "[1/5] stage-1/create-project (run): ok" in result.stdout
    assert "\033[" not in result.stdout, "piped output must stay plain"


def test_running_twice_skips_what_exists(fake_cli: FakeCli) -> None:
    fake_cli.rules(HAPPY)
    assert apply(fake_cli, "stage-1").returncode == 0
    fake_cli.clear()
    fake_cli.rules([WHOAMI, DOMAIN, API_RESOURCES])  # the project exists now
    second = apply(fake_cli, "stage-1")
    assert second.returncode == 0, second.stderr
    assert ["oc", "new-project", "user1-demo"] not in [c["argv"] for c in fake_cli.calls()]
    assert "stage-1/create-project (run): skipped (already done)" in second.stdout
    assert len([a for a in mutating_calls(fake_cli) if a[1] == "apply"]) == 2


def test_only_runs_the_named_stage(fake_cli: FakeCli) -> None:
    fake_cli.rules(HAPPY)
    assert apply(fake_cli, "stage-2", "--only").returncode == 0
    assert [a[1] for a in mutating_calls(fake_cli)] == ["patch"]


def test_cli_missing(fake_cli: FakeCli, tmp_path: Path) -> None:
    env = fake_cli.env(lab=FIXTURE_LAB)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env["PATH"] = str(empty)
    result = run_apply(["stage-1"], env)
    assert result.returncode == 4
    assert "neither oc nor kubectl is on PATH" in result.stderr
    assert fake_cli.calls() == []


def test_requested_cli_missing(fake_cli: FakeCli) -> None:
    (fake_cli.bin_dir / "kubectl").unlink()
    env = fake_cli.env(lab=FIXTURE_LAB)
    env["PATH"] = str(fake_cli.bin_dir)
    result = run_apply(["stage-1", "--platform", "kubernetes", "--cli", "kubectl"], env)
    assert result.returncode == 4
    assert "--cli kubectl: kubectl is not on PATH" in result.stderr


@pytest.mark.parametrize(
    ("stderr", "code", "phrase"),
    [
        ("error: You must be logged in to the server (Unauthorized)", 6, "not logged in"),
        ("Unable to connect to the server: dial tcp: lookup api.crc.testing: no such host", 5,
         "the cluster does not answer"),
    ],
)
def test_login_problems_change_nothing(fake_cli: FakeCli, stderr: str, code: int, phrase: str) -> None:
    fake_cli.rules([{"match": ["oc", "whoami"], "exit": 1, "stderr": stderr}])
    result = apply(fake_cli, "stage-1")
    assert result.returncode == code
    assert phrase in result.stderr
    assert [c["argv"] for c in fake_cli.calls()] == [["oc", "whoami"]]


def test_missing_crd_is_caught_by_preflight(fake_cli: FakeCli) -> None:
    no_routes = dict(API_RESOURCES, stdout=API_RESOURCES["stdout"].replace("routes", "# no routes").split("# no")[0])
    fake_cli.rules([WHOAMI, DOMAIN, no_routes, NO_PROJECT])
    result = apply(fake_cli, "stage-1")
    assert result.returncode == 7
    assert "the Route resource (route.openshift.io/v1) is not installed" in result.stderr
    assert mutating_calls(fake_cli) == []


def test_api_error_mid_stage_reports_and_resumes(fake_cli: FakeCli) -> None:
    forbidden = 'Error from server (Forbidden): routes.route.openshift.io "web" is forbidden: no create'
    fake_cli.rules(HAPPY + [
        {"match": ["oc", "apply"], "times": 1},
        {"match": ["oc", "apply"], "exit": 1, "stderr": forbidden},
    ])
    result = apply(fake_cli, "stage-2", "--user", "bob")
    assert result.returncode == 8
    err = result.stderr
    assert "step stage-1/expose-web failed" in err and forbidden in err
    assert "done before it (2): stage-1/create-project, stage-1/deploy-web" in err
    assert "not run (2): stage-1/wait-web, stage-2/label-web" in err
    assert "python3 scripts/apply.py stage-2 --user bob" in err
    assert not any(a[1] == "patch" for a in mutating_calls(fake_cli)), "nothing runs after a failure"
    # Resuming with the same command finishes the stage.
    fake_cli.clear()
    fake_cli.rules([WHOAMI, DOMAIN, API_RESOURCES])
    assert apply(fake_cli, "stage-2", "--user", "bob").returncode == 0


def test_bad_variable_is_refused_before_any_call(fake_cli: FakeCli) -> None:
    fake_cli.rules(HAPPY)
    result = apply(fake_cli, "stage-1", "--user", "Bad_User")
    assert result.returncode == 2
    assert "LAB_USER='Bad_User' does not match" in result.stderr
    assert fake_cli.calls() == []
    result = apply(fake_cli, "stage-1", "--set", "APPS_DOMAIN=not a domain")
    assert result.returncode == 2 and "APPS_DOMAIN='not a domain'" in result.stderr


def test_unknown_stage_and_command(fake_cli: FakeCli) -> None:
    result = apply(fake_cli, "stage-9")
    assert result.returncode == 2 and "unknown stage 'stage-9'; the stages are: stage-1, stage-2" in result.stderr
    result = apply(fake_cli, "deploy")
    assert result.returncode == 2 and "unknown command 'deploy'" in result.stderr
    assert fake_cli.calls() == []


def broken_lab(tmp_path: Path) -> Path:
    """The fixture lab with web.yaml's Deployment missing its selector."""
    lab = tmp_path / "lab"
    shutil.copytree(FIXTURE_LAB, lab)
    web = lab / "stage-1-demo" / "web.yaml"
    web.write_text(web.read_text().replace("  selector:\n    matchLabels: {app: web}\n", ""), encoding="utf-8")
    return lab


def real_validation(env: dict[str, str]) -> dict[str, str]:
    """The environment with the real validator, even when the fast tier replaced it (HANDBOOK_VALIDATOR)."""
    return {key: value for key, value in env.items() if key != "HANDBOOK_VALIDATOR"}


@pytest.mark.schemas
def test_invalid_manifest_changes_nothing(fake_cli: FakeCli, tmp_path: Path) -> None:
    fake_cli.rules(HAPPY)
    result = run_apply(["stage-1"], real_validation(fake_cli.env(lab=broken_lab(tmp_path))))
    assert result.returncode == 3
    assert "web.yaml" in result.stderr and "document 1 (Deployment web)" in result.stderr
    assert "selector" in result.stderr
    assert fake_cli.calls() == []


@pytest.mark.schemas
@pytest.mark.parametrize("extra", [[], ["--only"], ["--users", "ann,bob"]])
def test_dry_run_refuses_an_invalid_manifest(fake_cli: FakeCli, tmp_path: Path, extra: list[str]) -> None:
    """Defect 9: a dry run validates as a real run does, and prints nothing for a broken manifest."""
    result = run_apply(["stage-1", "--dry-run", *extra], real_validation(fake_cli.env(lab=broken_lab(tmp_path))))
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    assert "stage-1-demo/web.yaml: document 1 (Deployment web)" in result.stderr
    assert "spec.selector: required field `selector` is missing" in result.stderr
    assert fake_cli.calls() == []


def test_dry_run_validates_the_plan_with_the_readers_values(fake_cli: FakeCli, tmp_path: Path) -> None:
    """Through the validator seam (HANDBOOK_VALIDATOR=record:FILE): no schemas needed."""
    log = tmp_path / "validated.jsonl"
    env = dict(fake_cli.env(lab=FIXTURE_LAB), HANDBOOK_VALIDATOR=f"record:{log}")
    result = run_apply(["stage-2", "--dry-run", "--user", "carol"], env)
    assert result.returncode == 0, result.stderr
    assert "the manifests are NOT validated (a test double)" in result.stderr
    [entry] = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    lab = Lab.load(FIXTURE_LAB)
    expected = [[d.source, d.index] for d in lab.documents(lab.plan("stage-2"))]
    assert [[source, index] for source, index, _, _ in entry["documents"]] == expected
    assert {label for _, _, label, _ in entry["documents"]} == {"your values"}
    assert any("carol-demo" in text for *_, text in entry["documents"])
    reset = run_apply(["reset", "--dry-run"], env)
    assert reset.returncode == 0 and len(log.read_text(encoding="utf-8").splitlines()) == 1, "reset validates nothing"


def test_dry_run_prints_the_pages_text_and_touches_nothing(fake_cli: FakeCli) -> None:
    result = apply(fake_cli, "stage-2", "--dry-run", "--user", "carol")
    assert result.returncode == 0, result.stderr
    assert fake_cli.calls() == []
    lab = Lab.load(FIXTURE_LAB)
    values = lab.variables.resolve({"LAB_USER": "carol"})
    assert result.stdout == dry_run_text(lab, lab.plan("stage-2"), "openshift", None, values)
    blocks = split_dry_run(result.stdout)
    assert blocks["stage-1/export"].splitlines()[0] == "export LAB_USER=carol"
    assert blocks["stage-1/create-project"] == "oc get project ${APP_NS} >/dev/null 2>&1 || oc new-project ${APP_NS}"
    assert "stage-1/look" not in blocks, "manual steps are comments, not commands"


def test_verify_passes_and_fails(fake_cli: FakeCli) -> None:
    fake_cli.rules([WHOAMI, DOMAIN, {"match": ["curl"], "stdout": "200"},
                    {"match": ["oc", "get", "deployment/web"], "stdout": "front"}])
    ok = apply(fake_cli, "verify", "stage-2")
    assert ok.returncode == 0, ok.stderr
    assert "stage-2/web-labelled (check): pass" in ok.stdout
    fake_cli.rules([WHOAMI, DOMAIN, {"match": ["curl"], "stdout": "504"}])
    bad = apply(fake_cli, "verify", "stage-1")
    assert bad.returncode == 9
    assert "stage-1/web-answers: expected exactly '200', got '504'" in bad.stderr
    assert mutating_calls(fake_cli) == []


def test_reset_asks_first(fake_cli: FakeCli) -> None:
    fake_cli.rules(HAPPY)
    refused = apply(fake_cli, "reset", stdin="")
    assert refused.returncode == 10 and "pass --yes" in refused.stderr
    assert mutating_calls(fake_cli) == []
    done = apply(fake_cli, "reset", "--yes", "--delete-namespaces")
    assert done.returncode == 0, done.stderr
    deletes = [(c["argv"], c["stdin"]) for c in fake_cli.calls() if "delete" in c["argv"]]
    assert [argv for argv, _ in deletes] == [
        ["oc", "delete", "-n", "user1-demo", "--ignore-not-found", "-f", "-"],
        ["oc", "delete", "-n", "user1-demo", "--ignore-not-found", "-f", "-"],
        ["oc", "delete", "project", "user1-demo", "--ignore-not-found"],
    ]
    assert "kind: Route" in deletes[0][1] and "kind: Deployment" in deletes[1][1]


def test_kubectl_cannot_run_oc_only_steps(fake_cli: FakeCli) -> None:
    result = apply(fake_cli, "stage-1", "--cli", "kubectl")
    assert result.returncode == 2
    assert "step create-project uses `oc new-project`, which kubectl lacks" in result.stderr
    assert fake_cli.calls() == []


def test_kubernetes_platform_and_context(fake_cli: FakeCli) -> None:
    fake_cli.rules([
        {"match": ["kubectl", "--context=lab", "auth", "whoami"], "stdout": "kube-user"},
        dict(API_RESOURCES, match=["kubectl", "--context=lab", "api-resources"]),
        {"match": ["kubectl", "--context=lab", "get", "namespace"], "exit": 1, "stderr": "NotFound"},
    ])
    result = apply(fake_cli, "stage-1", "--platform", "kubernetes", "--context", "lab")
    assert result.returncode == 0, result.stderr
    argvs = [c["argv"] for c in fake_cli.calls()]
    assert all(a[0] == "kubectl" and a[1] == "--context=lab" for a in argvs)
    assert ["kubectl", "--context=lab", "create", "namespace", "user1-demo"] in argvs
    assert not any("ingresses.config.openshift.io" in a for a in argvs), "no OpenShift discovery on Kubernetes"
    assert len([a for a in argvs if a[2] == "apply"]) == 1, "the Route step is OpenShift-only"


def test_list(fake_cli: FakeCli) -> None:
    result = apply(fake_cli, "list")
    assert result.returncode == 0
    assert result.stdout.splitlines()[0].startswith("stage-1   デモ")


def test_reset_dry_run_and_keep(fake_cli: FakeCli) -> None:
    everything = apply(fake_cli, "reset", "--dry-run", "--delete-namespaces")
    assert everything.returncode == 0, everything.stderr
    lab = Lab.load(FIXTURE_LAB)
    from handbook.blocks import reset_block

    assert everything.stdout == reset_block(list(lab.stages), "openshift", delete_namespaces=True).text + "\n"
    assert everything.stdout.rstrip().endswith("oc delete project ${APP_NS} --ignore-not-found")
    safe = apply(fake_cli, "reset", "--dry-run")
    assert safe.stdout == everything.stdout.replace("\noc delete project ${APP_NS} --ignore-not-found", "")
    assert "delete project" not in safe.stdout, "namespaces stay unless --delete-namespaces"
    kept = apply(fake_cli, "reset", "--keep", "stage-1", "--dry-run", "--delete-namespaces")
    assert "delete project" not in kept.stdout
    assert fake_cli.calls() == []


def test_a_create_that_loses_a_race_counts_as_done(fake_cli: FakeCli) -> None:
    # The project does not exist when we look, another run creates it, our create fails, a second look finds it.
    fake_cli.rules([WHOAMI, DOMAIN, API_RESOURCES,
                    {"match": ["oc", "get", "project"], "times": 1, "exit": 1, "stderr": "NotFound"},
                    {"match": ["oc", "new-project"], "exit": 1,
                     "stderr": 'Error from server (AlreadyExists): project "user1-demo" already exists'}])
    result = apply(fake_cli, "stage-1")
    assert result.returncode == 0, result.stderr
    assert "stage-1/create-project (run): ok (done by a concurrent run)" in result.stdout
