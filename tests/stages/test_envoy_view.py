"""The optional "Envoy's view" steps (istioctl proxy-status / proxy-config) of stages 3 and 4.

* Every istioctl step is one to watch (demo): a learner may have no istioctl, and catch-up never needs it.
* The clusters they name exist: `outbound|PORT||NAME.${APP_NS}.svc.cluster.local` is a Service of stage 1
  with that port, and the sample's ENDPOINT port is the container port behind it.
* The pinned istioctl (tools/istio, marker istio) parses every istioctl step's command line: a
  misspelt subcommand or flag makes it exit 64 before it would contact a cluster.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from handbook import istio_tools
from handbook.diagrams.mermaid import symbolic_values
from handbook.lab import Lab
from handbook.steps import CheckStep, RunStep, Step

CLUSTER = re.compile(r"^outbound\|(\d+)\|\|([a-z0-9-]+)\.\$\{APP_NS\}\.svc\.cluster\.local$")


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab.load()


def istioctl_steps(lab: Lab) -> list[tuple[Step, tuple[str, ...]]]:
    found = []
    for stage in lab.stages:
        for step in stage.steps:
            argv = step.argv if isinstance(step, CheckStep | RunStep) else ()
            if argv and argv[0] == "istioctl":
                found.append((step, tuple(str(w) for w in argv)))
    return found


def test_the_envoy_view_is_in_stages_3_and_4_and_only_to_watch(lab: Lab) -> None:
    steps = istioctl_steps(lab)
    assert {s.ref.split("/")[0] for s, _ in steps} >= {"stage-3", "stage-4"}
    assert [s.ref for s, _ in steps if not s.demo] == [], "catch-up runs must never need istioctl"
    assert any(argv[1] == "proxy-status" for _, argv in steps)
    assert {argv[2] for _, argv in steps if argv[1] == "proxy-config"} >= {"routes", "clusters", "endpoints"}


def _services(lab: Lab) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in lab.objects([lab.stage("stage-1")], symbolic_values(lab))
            if o.get("kind") == "Service"}


def _container_port(lab: Lab, service: dict, port: int) -> int:
    spec_port = next(p for p in service["spec"]["ports"] if p["port"] == port)
    target = spec_port.get("targetPort", port)
    if isinstance(target, int):
        return target
    selector = service["spec"]["selector"]
    for o in lab.objects([lab.stage("stage-1")], symbolic_values(lab)):
        labels = ((o.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
        if o.get("kind") == "Deployment" and all(labels.get(k) == v for k, v in selector.items()):
            for container in o["spec"]["template"]["spec"]["containers"]:
                for p in container.get("ports") or []:
                    if p.get("name") == target:
                        return p["containerPort"]
    raise AssertionError(f"no container port named {target} behind Service {service['metadata']['name']}")


def test_the_clusters_named_are_services_of_the_shop(lab: Lab) -> None:
    services = _services(lab)
    checked = 0
    for step, argv in istioctl_steps(lab):
        if "--cluster" in argv:
            match = CLUSTER.match(argv[argv.index("--cluster") + 1])
            assert match, f"{step.ref}: --cluster {argv[argv.index('--cluster') + 1]}"
            port, name = int(match[1]), match[2]
            assert name in services, f"{step.ref}: no Service {name} in stage 1"
            ports = [p["port"] for p in services[name]["spec"]["ports"]]
            assert port in ports, f"{step.ref}: {name} has no port {port}"
            sample = [line.split()[0] for line in step.output.splitlines()[1:] if line.strip()]
            wanted = _container_port(lab, services[name], port)
            assert sample and all(e.endswith(f":{wanted}") for e in sample), f"{step.ref}: endpoints {sample}"
            checked += 1
        if "--fqdn" in argv:
            fqdn = argv[argv.index("--fqdn") + 1]
            assert fqdn.removesuffix(".${APP_NS}.svc.cluster.local") in services, f"{step.ref}: --fqdn {fqdn}"
            checked += 1
    assert checked >= 3


@pytest.mark.istio
def test_the_pinned_istioctl_parses_every_istioctl_step(lab: Lab, tmp_path) -> None:  # noqa: ANN001
    try:
        istioctl = istio_tools.binary("istioctl")
    except istio_tools.ToolsError as exc:
        pytest.skip(str(exc))
    values = lab.variables.resolve({})
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "KUBECONFIG": str(tmp_path / "no-cluster")}
    failures = []
    for step, argv in istioctl_steps(lab):
        words = [re.sub(r"\$\{([A-Z_]+)\}", lambda m: values[m[1]], w) for w in argv[1:]]
        # --help after the words: cobra parses every flag first, then prints the usage of the
        # subcommand found instead of running it; a wrong subcommand or flag exits 64.
        done = subprocess.run([str(istioctl), *words, "--help"], env=env,  # noqa: S603 - the pinned istioctl
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            failures.append(f"{step.ref}: istioctl {' '.join(words)} -> exit {done.returncode}: "
                            f"{(done.stderr or done.stdout).strip()[:200]}")
    assert failures == []
