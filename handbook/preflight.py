"""Checks that run before apply.py changes anything: login, discovered values, served APIs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .cluster import Session, classify_failure
from .errors import MissingApiError, UsageError, VariableError
from .lab import Lab
from .manifests import parse_document
from .platforms import OC_ONLY_SUBCOMMANDS
from .stages import ApiRef, Stage
from .steps import Command
from .variables import Values

# What to do when a group's resources are missing, keyed by API group.
_INSTALL_HINTS = {
    "sailoperator.io": "install OpenShift Service Mesh 3: run stage 0 as a cluster admin "
    "(python3 scripts/apply.py stage-0)",
    "networking.istio.io": "the Istio CRDs come with the Service Mesh operator: run stage 0 as a cluster admin",
    "security.istio.io": "the Istio CRDs come with the Service Mesh operator: run stage 0 as a cluster admin",
    "telemetry.istio.io": "the Istio CRDs come with the Service Mesh operator: run stage 0 as a cluster admin",
    "kiali.io": "install the Kiali operator (kiali-ossm): run stage 0 as a cluster admin",
    "route.openshift.io": "Routes exist only on OpenShift; on another Kubernetes use --platform kubernetes",
    "operators.coreos.com": "OLM is missing; it ships with OpenShift (on other clusters install OLM first)",
    "monitoring.coreos.com": "turn on user-workload monitoring: run stage 0 as a cluster admin",
}


def check_cli_supports(plan: Iterable[Stage], platform: str, cli: str) -> None:
    """Refuse, before anything runs, a plan that uses `oc`-only subcommands with kubectl."""
    if cli == "oc":
        return
    for stage in plan:
        for step in stage.steps_for(platform):
            command = step.command()
            if command and command.uses_cluster_cli and len(command.argv) > 1:
                if command.argv[1] in OC_ONLY_SUBCOMMANDS:
                    raise UsageError(
                        f"{stage.definition}: step {step.id} uses `oc {command.argv[1]}`, which kubectl lacks: "
                        "use --cli oc (install the OpenShift CLI) or --platform kubernetes"
                    )


def check_login(session: Session) -> str:
    """Who we are on the cluster; raises NotLoggedInError or ClusterUnreachableError."""
    if session.cli == "oc":
        argv: tuple[str, ...] = ("oc", "whoami")
    else:
        argv = ("kubectl", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    result = session.run(Command(argv), timeout=30)
    if not result.ok:
        raise classify_failure(f"`{session.cli} {' '.join(argv[1:])}`", result)
    return result.stdout.strip()


def discover_values(
    session: Session, lab: Lab, plan: Iterable[Stage], platform: str, overrides: Mapping[str, str]
) -> dict[str, str]:
    """Read from the cluster the variables the plan uses that have a discover command for ``platform``."""
    needed: set[str] = set()
    for stage in plan:
        needed.update(lab.variables_for(stage))
    discovered: dict[str, str] = {}
    for name in lab.variables.closure(needed):
        variable = lab.variables.variables[name]
        if name in overrides or platform not in variable.discover:
            continue
        result = session.run(Command(variable.discover[platform]), timeout=30)
        if not result.ok or not result.stdout.strip():
            stderr = (result.stderr or "").strip()
            reason = stderr.splitlines()[0] if stderr else "empty output"
            raise VariableError(
                f"could not read {name} from the cluster ({reason}); pass it yourself, e.g. "
                f"--set {name}=<value> ({variable.description})"
            )
        discovered[name] = result.stdout.strip()
    return discovered


def served_apis(session: Session) -> set[tuple[str, str]]:
    """(apiVersion, kind) pairs the cluster serves, from `api-resources`, which any logged-in user may read."""
    result = session.run(Command(("oc", "api-resources", "--no-headers")), timeout=60)
    if not result.ok:
        raise classify_failure(f"`{session.cli} api-resources`", result)
    served: set[tuple[str, str]] = set()
    for line in result.stdout.splitlines():
        columns = line.split()
        # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND: SHORTNAMES may be empty, so read from the right.
        if len(columns) >= 4:
            served.add((columns[-3], columns[-1]))
    return served


def required_apis(plan: Iterable[Stage], platform: str, values: Values) -> list[ApiRef]:
    """What the cluster must serve before the plan runs.

    An admin stage (stage 0) installs the operators that bring its own kinds (a Subscription or a
    `helm install` before its IstioCNI or Prometheus), so only its ``requires`` count, not its documents.
    """
    refs: dict[tuple[str, str], ApiRef] = {}
    for stage in plan:
        for ref in stage.requires:
            refs.setdefault((ref.api_version, ref.kind), ref)
        if stage.audience == "admin":
            continue
        for document in stage.documents(platform):  # every object sent, even one a later step deletes
            obj = parse_document(document, values)
            ref = ApiRef(str(obj.get("apiVersion")), str(obj.get("kind")))
            refs.setdefault((ref.api_version, ref.kind), ref)
    return list(refs.values())


def check_apis(session: Session, required: list[ApiRef]) -> None:
    served = served_apis(session)
    missing = [ref for ref in required if (ref.api_version, ref.kind) not in served]
    if missing:
        lines = []
        for ref in missing:
            hint = _INSTALL_HINTS.get(ref.group, "install the operator or CRD that provides it")
            lines.append(f"  - the {ref.kind} resource ({ref.api_version}) is not installed: {hint}")
        raise MissingApiError("the cluster does not serve what these stages need:\n" + "\n".join(lines))
