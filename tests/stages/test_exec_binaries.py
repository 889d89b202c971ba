"""Every `oc exec ... -c C -- BINARY` step runs a binary that container C's image is known to ship.

OSSM 3's proxy image has no curl: `oc exec ... -c istio-proxy -- curl` fails with
"executable file not found in $PATH". This test finds, for every exec step of every stage, the
workload and container it names, that container's image (from the manifests, or the proxy the
injector adds), and refuses a binary the table below does not list for that image.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

import pytest

from handbook.lab import Lab
from handbook.steps import CheckStep, PatchStep, RunStep, Step

# The proxy container that the injector adds to a pod of a revision (sidecar or gateway).
INJECTED_PROXY = "istio-proxy (added by the injector)"
# istiod's Deployment, made by the Sail operator; its container is named "discovery".
ISTIOD = "istiod (made by the Sail operator)"

KNOWN_BINARIES: dict[str, frozenset[str]] = {
    # curl/curl-container create_appliance_image.sh: the curl image is its Alpine base image plus
    # curl, run as curl_user; Alpine's busybox provides sh, sleep and nc (with -l, -k and -e in
    # busybox networking/nc_bloaty.c).
    "docker.io/curlimages/curl:8.11.1": frozenset({"curl", "sh", "sleep", "nc"}),
    # istio/istio pilot/docker/Dockerfile.proxyv2: copies envoy and pilot-agent, ENTRYPOINT
    # pilot-agent. OSSM 3's proxy has no curl (openshift-docs: "executable file not found").
    INJECTED_PROXY: frozenset({"pilot-agent", "envoy"}),
    # istio/istio pilot/docker/Dockerfile.pilot: ENTRYPOINT pilot-discovery.
    ISTIOD: frozenset({"pilot-discovery"}),
}

# Workloads that no manifest of the lab defines, by name pattern: container -> image key.
OPERATOR_WORKLOADS = {re.compile(r"istiod(-.+)?"): {"discovery": ISTIOD}}


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab.load()


WORKLOAD_KINDS = {"deploy": "Deployment", "deployment": "Deployment", "job": "Job", "statefulset": "StatefulSet"}


@dataclass(frozen=True)
class Exec:
    step: Step
    target: str
    container: str | None
    binary: str


def parse_exec(step: Step, argv: tuple[str, ...]) -> Exec | None:
    """The target, container and binary of `oc exec [-n NS] TARGET -c C -- BINARY ...`, or None."""
    if len(argv) < 2 or argv[0] not in ("oc", "kubectl") or argv[1] != "exec":
        return None
    assert "--" in argv, f"{step.ref}: exec without `--` before the command"
    split = argv.index("--")
    target, container, words = None, None, list(argv[2:split])
    while words:
        word = words.pop(0)
        if word in ("-n", "--namespace"):
            words.pop(0)
        elif word in ("-c", "--container"):
            container = words.pop(0)
        elif word.startswith("--container="):
            container = word.partition("=")[2]
        elif not word.startswith("-"):
            target = word
    assert target, f"{step.ref}: exec names no pod or workload"
    return Exec(step, target, container, posixpath.basename(argv[split + 1]))


def exec_steps(lab: Lab) -> list[Exec]:
    found = []
    for stage in lab.stages:
        for step in stage.steps:
            commands = []
            if isinstance(step, CheckStep | RunStep):
                commands.append(step.command().argv)
            if isinstance(step, RunStep):
                commands += [step.unless, step.undo]
            found += [e for argv in commands if (e := parse_exec(step, argv))]
    return found


def injected_names(lab: Lab, objects: list[dict]) -> set[str]:
    """Workloads whose pods get the proxy: a revision label in the template, or a patch adding it."""
    names = {
        o["metadata"]["name"] for o in objects
        if "istio.io/rev" in ((o.get("spec") or {}).get("template", {}).get("metadata", {}).get("labels") or {})
    }
    for stage in lab.stages:
        for step in stage.steps:
            if isinstance(step, PatchStep) and "istio.io/rev" in step.body:
                names.add(step.resource.partition("/")[2])
    return names


def image_of(lab: Lab, objects: list[dict], values: dict[str, str], call: Exec) -> str:
    """The image key of the container that ``call`` runs in (``objects``: what exists by then)."""
    kind_word, _, name = call.target.partition("/")
    name = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], name)
    for pattern, containers in OPERATOR_WORKLOADS.items():
        if pattern.fullmatch(name):
            assert call.container in containers, f"{call.step.ref}: {name} has containers {sorted(containers)}"
            return containers[call.container]
    assert kind_word in WORKLOAD_KINDS, f"{call.step.ref}: exec into {call.target!r}: name a workload (deploy/...)"
    workloads = [o for o in objects if o["kind"] == WORKLOAD_KINDS[kind_word] and o["metadata"]["name"] == name]
    assert workloads, f"{call.step.ref}: no manifest of the lab defines {call.target}"
    template = workloads[0]["spec"]["template"]["spec"]
    containers = {c["name"]: c.get("image", "") for c in template.get("containers", [])}
    if call.container == "istio-proxy" and (
        name in injected_names(lab, objects) and containers.get("istio-proxy", "auto") == "auto"
    ):
        return INJECTED_PROXY
    assert call.container in containers, (
        f"{call.step.ref}: {call.target} has no container {call.container!r} (it has {sorted(containers)})"
    )
    return containers[call.container]


def test_every_exec_runs_a_binary_its_image_ships(lab: Lab) -> None:
    values = dict(lab.variables.resolve())
    calls = exec_steps(lab)
    assert len(calls) > 10, "the parser found too few exec steps"
    problems = []
    objects_by_stage = {s.id: lab.objects(lab.stages_upto(s.id), values) for s in lab.stages}
    for call in calls:
        image = image_of(lab, objects_by_stage[call.step.stage_id], values, call)
        if image not in KNOWN_BINARIES:
            problems.append(f"{call.step.ref}: image {image!r} is not in KNOWN_BINARIES (add it with its source)")
        elif call.binary not in KNOWN_BINARIES[image]:
            problems.append(
                f"{call.step.ref}: runs {call.binary!r} in container {call.container!r} of {call.target}, "
                f"whose image ({image}) is known to ship only {sorted(KNOWN_BINARIES[image])}"
            )
    assert not problems, "\n".join(problems)


def test_container_commands_use_binaries_their_image_ships(lab: Lab) -> None:
    """The same table for the `command:` of every container whose image the table knows."""
    values = dict(lab.variables.resolve())
    problems = []
    for obj in lab.objects(list(lab.stages), values):
        template = (obj.get("spec") or {}).get("template", {}).get("spec") or {}
        for container in template.get("containers", []):
            image, command = container.get("image"), container.get("command")
            if image in KNOWN_BINARIES and command:
                binary = posixpath.basename(command[0])
                if binary not in KNOWN_BINARIES[image]:
                    problems.append(f"{obj['kind']} {obj['metadata']['name']}: {binary!r} is not known in {image}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("oc", "exec", "-n", "ns", "deploy/a", "-c", "curl", "--", "curl", "-s"), ("deploy/a", "curl", "curl")),
        (("oc", "exec", "deploy/a", "--container=x", "--", "/bin/sh", "-c", "true"), ("deploy/a", "x", "sh")),
        (("oc", "get", "pods"), None),
    ],
)
def test_parse_exec(argv: tuple[str, ...], expected: tuple[str, str, str] | None) -> None:
    step = CheckStep(id="x", stage_id="stage-1", argv=argv)
    parsed = parse_exec(step, argv)
    assert (parsed and (parsed.target, parsed.container, parsed.binary)) == expected


# The requests of issue 9's defect 2 that must start inside the learner's mesh.
THROUGH_THE_MESH = (
    "stage-3/check-catalogue-through-mesh",
    "stage-5/check-v1-only",
    "stage-5/check-split-sample",
    "stage-5/check-tester-sees-v2",
)


@pytest.mark.parametrize("ref", THROUGH_THE_MESH)
def test_requests_through_the_mesh_start_in_an_injected_client(lab: Lab, ref: str) -> None:
    stage_id, _, step_id = ref.partition("/")
    step = lab.stage(stage_id).step(step_id)
    assert isinstance(step, CheckStep)
    call = parse_exec(step, step.argv)
    assert call, f"{ref}: expected an exec into a client pod"
    kind_word, _, name = call.target.partition("/")
    values = {n: "${" + n + "}" for n in lab.variables.variables}
    # Deployed by this stage or an earlier one, so the page's order works as pasted.
    workloads = [o for o in lab.objects(lab.stages_upto(stage_id), values)
                 if o["kind"] == WORKLOAD_KINDS[kind_word] and o["metadata"]["name"] == name]
    assert workloads, f"{ref}: {call.target} is not deployed by {stage_id} or before"
    labels = workloads[0]["spec"]["template"]["metadata"]["labels"]
    assert labels.get("istio.io/rev") == "${MESH_NAME}", f"{ref}: {name}'s pods are not injected by the learner's mesh"
    assert call.binary == "curl" and call.container != "istio-proxy"
