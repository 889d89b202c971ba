"""Which application may call which, read from the AuthorizationPolicies that stage 8 applies.

The tests of stage 8 compare what this module derives with ``manifests/call-graph.yaml``:
every declared call must be allowed, and nothing else. Calls are between *applications*, the
value of the pods' ``app`` label: Sock Shop's Deployments carry their own name there, and a
second version of a service (another Deployment with the same ``app``) is the same caller and
the same callee.

The model understands exactly the shapes the lab uses and reports anything else as a problem
instead of guessing what Istio would do with it:

- ``spec: {}`` (no selector, no rules): allow nothing, so every workload of the namespace denies
  by default;
- an ALLOW policy whose ``selector.matchLabels`` picks the pods of one application, with rules
  whose only condition is ``from[].source.principals`` (the callers' service accounts);
- a rule without ``from``: any source may call, shown as the source :data:`OUTSIDE`.

Deployments and their service accounts come from ``handbook.replay``, following a catch-up run
(demonstrations are skipped, as a catch-up run does not execute them). The diagram of what the
policies allow is ``handbook.diagrams.authorization``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .plan import executable_steps
from .platforms import DEFAULT_PLATFORM
from .replay import end_state as replay_end
from .replay import step_moves
from .stages import Stage

OUTSIDE = "(any source)"
TRUST_DOMAIN = "cluster.local"
SECURITY_API = "security.istio.io/v1"
APP_LABEL = "app"


@dataclass(frozen=True)
class Workload:
    """A Deployment as the mesh sees it: its pods' labels and the identity they run with."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    service_account: str

    @property
    def app(self) -> str:
        return self.labels.get(APP_LABEL, "")

    @property
    def principal(self) -> str:
        return f"{TRUST_DOMAIN}/ns/{self.namespace}/sa/{self.service_account}"


@dataclass
class AccessModel:
    """What the policies of one namespace allow, and what this module could not understand."""

    calls: set[tuple[str, str]] = field(default_factory=set)  # (source app or OUTSIDE, target app)
    deny_by_default: bool = False
    policy_of: dict[str, str] = field(default_factory=dict)  # target app -> policy name
    problems: list[str] = field(default_factory=list)


@dataclass
class EndState:
    """The Deployments of one namespace after a catch-up run, every object applied, and what went wrong."""

    workloads: dict[str, Workload]
    objects: list[dict]
    problems: list[str]


def end_state(stages: Iterable[Stage], values: Mapping[str, str], namespace: str,
              platform: str = DEFAULT_PLATFORM) -> EndState:
    """The Deployments of ``namespace`` after a catch-up run of ``stages`` (``handbook.replay``).

    ``values`` are substituted into manifests and commands (pass each variable mapped to
    ``${NAME}`` to keep them symbolic); ``namespace`` is compared after substitution. What the
    replay could not follow (such as setting the service account of a Deployment that no earlier
    step creates) is a problem: the real command would fail.
    """
    snapshot = replay_end(step_moves(executable_steps(list(stages), platform)), values)
    found = {key[2]: workload_of(held.doc, namespace) for key, held in snapshot.present.items()
             if key[1] == namespace and _is_deployment(held.doc)}
    return EndState(found, snapshot.objects(), list(snapshot.problems))


def _is_deployment(obj: Mapping) -> bool:
    return obj.get("kind") == "Deployment" and obj.get("apiVersion") == "apps/v1"


def workload_of(obj: Mapping, namespace: str, account: str | None = None) -> Workload:
    """The Workload that a Deployment manifest describes, with `account` instead of its serviceAccountName."""
    template = (obj.get("spec") or {}).get("template") or {}
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    pod_spec = template.get("spec") or {}
    name = str((obj.get("metadata") or {}).get("name"))
    return Workload(name, namespace, labels, str(account or pod_spec.get("serviceAccountName") or "default"))


def identity_problems(found: Mapping[str, Workload], apps: Iterable[str]) -> list[str]:
    """Why the workloads of ``apps`` could not be told apart by their certificates.

    Each application must run as a service account of its own, not ``default``, and every
    Deployment of one application (versions included) as the same one.
    """
    problems: list[str] = []
    accounts_of: dict[str, set[str]] = {}
    apps_of: dict[str, set[str]] = {}
    for workload in found.values():
        if not workload.app:
            problems.append(f"Deployment {workload.name}: its pods have no {APP_LABEL!r} label")
            continue
        accounts_of.setdefault(workload.app, set()).add(workload.service_account)
        apps_of.setdefault(workload.service_account, set()).add(workload.app)
    for app in sorted(set(apps)):
        accounts = accounts_of.get(app)
        if not accounts:
            problems.append(f"application {app}: no Deployment in the namespace runs it")
            continue
        runners = sorted(w.name for w in found.values() if w.app == app)
        if len(accounts) != 1:
            problems.append(f"application {app}: its Deployments {runners} run as {sorted(accounts)}; give them one")
            continue
        account = next(iter(accounts))
        if account == "default":
            problems.append(f"application {app}: runs as the namespace's default service account")
        elif apps_of[account] != {app}:
            problems.append(f"service account {account}: shared by applications {sorted(apps_of[account])}")
    return problems


def access_model(objects: Iterable[Mapping], found: Mapping[str, Workload], namespace: str) -> AccessModel:
    """Read every AuthorizationPolicy of ``namespace`` against the workloads in ``found``."""
    model = AccessModel()
    apps_by_principal: dict[str, set[str]] = {}
    for workload in found.values():
        apps_by_principal.setdefault(workload.principal, set()).add(workload.app)
    for obj in objects:
        if obj.get("kind") != "AuthorizationPolicy":
            continue
        meta = obj.get("metadata") or {}
        if meta.get("namespace") != namespace:
            continue
        name = str(meta.get("name"))
        where = f"AuthorizationPolicy {name}"
        if obj.get("apiVersion") != SECURITY_API:
            model.problems.append(f"{where}: apiVersion is {obj.get('apiVersion')!r}; the lab uses {SECURITY_API}")
        spec = obj.get("spec") or {}
        unknown = sorted(set(spec) - {"selector", "rules", "action"})
        if unknown:
            model.problems.append(f"{where}: spec.{unknown[0]} is not understood by this check")
            continue
        if spec.get("action", "ALLOW") != "ALLOW":
            model.problems.append(f"{where}: spec.action {spec.get('action')!r}; only ALLOW policies are modelled")
            continue
        if not spec.get("selector"):
            if spec.get("rules"):
                model.problems.append(f"{where}: rules without a selector would apply to every workload")
            else:
                model.deny_by_default = True
            continue
        target = _target(where, spec["selector"], found, model.problems)
        if target is None:
            continue
        if target in model.policy_of:
            model.problems.append(
                f"{where}: selects application {target}, which {model.policy_of[target]} already selects "
                "(one policy per callee)"
            )
            continue
        model.policy_of[target] = name
        rules = spec.get("rules") or []
        if not rules:
            model.problems.append(f"{where}: no rules; an ALLOW policy without rules allows nothing")
        for index, rule in enumerate(rules):
            for source in _sources(f"{where}: spec.rules[{index}]", rule, apps_by_principal, namespace,
                                   model.problems):
                model.calls.add((source, target))
    return model


def _target(where: str, selector: Mapping, found: Mapping[str, Workload], problems: list[str]) -> str | None:
    extra = sorted(set(selector) - {"matchLabels"})
    labels = selector.get("matchLabels") or {}
    if extra or not labels:
        problems.append(f"{where}: spec.selector must be matchLabels only, got {dict(selector)}")
        return None
    matches = [w for w in found.values() if all(w.labels.get(k) == v for k, v in labels.items())]
    apps = sorted({w.app for w in matches})
    if len(apps) != 1:
        problems.append(
            f"{where}: spec.selector.matchLabels {dict(labels)} selects the pods of {len(apps)} applications "
            f"({', '.join(apps) or 'none'}); it must select exactly one"
        )
        return None
    everyone = sorted(w.name for w in found.values() if w.app == apps[0])
    chosen = sorted(w.name for w in matches)
    if chosen != everyone:
        problems.append(
            f"{where}: spec.selector.matchLabels {dict(labels)} selects {chosen} but application {apps[0]} "
            f"also runs in {sorted(set(everyone) - set(chosen))}; select the application, not a version"
        )
        return None
    return apps[0]


def _sources(
    where: str, rule: Mapping, apps_by_principal: Mapping[str, set[str]], namespace: str, problems: list[str]
) -> list[str]:
    extra = sorted(set(rule) - {"from"})
    if extra:
        problems.append(f"{where}.{extra[0]}: not understood by this check (only from[].source.principals)")
        return []
    froms = rule.get("from")
    if not froms:
        return [OUTSIDE]
    sources: list[str] = []
    for index, item in enumerate(froms):
        source = (item or {}).get("source") or {}
        other = sorted(set(source) - {"principals"})
        if other or not source.get("principals"):
            problems.append(f"{where}.from[{index}].source: only principals are understood, got {dict(source)}")
            continue
        for principal in source["principals"]:
            sources.extend(_caller(f"{where}.from[{index}].source.principals", str(principal), apps_by_principal,
                                   namespace, problems))
    return sources


def _caller(where: str, principal: str, apps_by_principal: Mapping[str, set[str]], namespace: str,
            problems: list[str]) -> list[str]:
    prefix = f"{TRUST_DOMAIN}/ns/{namespace}/sa/"
    if not principal.startswith(prefix):
        problems.append(f"{where}: {principal!r} is not a service account of {namespace} ({prefix}<name>)")
        return []
    apps = sorted(apps_by_principal.get(principal, set()))
    if len(apps) != 1:
        problems.append(
            f"{where}: {principal!r} is the identity of {len(apps)} applications "
            f"({', '.join(apps) or 'none'}); it must be exactly one"
        )
        return []
    return apps
