"""The one model of what the cluster holds: a plan's commands followed on paper, step by step.

``replay`` reads each command as the cluster CLI would carry it out and keeps the objects present
and deleted after every step. It understands exactly the commands the lab uses:

- ``apply -f -`` (the manifest on standard input): each document is created or replaced;
- ``delete`` by ``-f -``, by ``type name ...`` or ``type/name``; deleting a namespace (or project)
  deletes everything in it;
- ``patch`` (strategic or merge, from standard input or ``-p``), ``set serviceaccount``, ``scale``
  and ``label`` change an object that must be present;
- ``create namespace``, ``new-project`` and ``create configmap --from-literal`` create one;
- reading commands (``get``, ``wait``, ``rollout status``, ``exec``, ...) and commands other than the
  cluster CLI (``curl``) change nothing.

Anything else is a problem of the snapshot, never a guess: the model would otherwise be silently wrong.
A command that changes an object that is not present is a problem too, as the real command fails.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import yaml

from .manifests import split_documents
from .plan import Planned
from .steps import Command
from .yaml_load import safe_load_copy

Key = tuple[str, str, str]  # (kind, namespace or "" when cluster-scoped or unknown, name)

_READING = frozenset({"get", "describe", "wait", "exec", "logs", "auth", "whoami", "version", "api-resources",
                      "explain", "top", "port-forward", "cluster-info"})
_VALUE_FLAGS = frozenset({"-n", "--namespace", "-f", "--filename", "-p", "--patch", "--type", "-l", "--selector",
                          "-o", "--output", "-c", "--container", "--context", "--patch-file", "--replicas",
                          "--from-literal", "--for", "--timeout", "--as"})
_COMMON_KINDS = frozenset({"Namespace", "Deployment", "Service", "ConfigMap", "ServiceAccount", "Pod", "Job"})
_ALIASES = {"deploy": "deployment", "ns": "namespace", "project": "namespace", "projects": "namespace",
            "svc": "service", "cm": "configmap", "sa": "serviceaccount", "vs": "virtualservice",
            "dr": "destinationrule", "po": "pod"}


@dataclass(frozen=True)
class Held:
    """An object as the cluster holds it, and the step that last created it."""

    doc: dict
    made_by: str  # the ref of the step whose apply or create made this version
    demo: bool  # whether that step is a demonstration


@dataclass(frozen=True)
class Move:
    """One command of a plan, with the words that name it in messages."""

    ref: str
    command: Command | None
    demo: bool = False
    where: str = ""  # "manifests/stage-1-x/stage.yaml: step deploy"; defaults to the ref


@dataclass(frozen=True)
class Snapshot:
    """What the cluster holds after one move: objects in order of their last (re)creation."""

    ref: str
    present: Mapping[Key, Held]
    deleted: frozenset[Key]  # deleted by an earlier move and not created again
    problems: tuple[str, ...]  # every problem so far

    def objects(self) -> list[dict]:
        return [held.doc for held in self.present.values()]

    def demo_only(self) -> set[Key]:
        """The objects that only demonstrations made (a demo that forgot to clean up leaves them)."""
        return {key for key, held in self.present.items() if held.demo}


def step_moves(planned: Iterable[Planned]) -> list[Move]:
    return [Move(p.step.ref, p.step.command(), p.step.demo, f"{p.stage.definition}: step {p.step.id}")
            for p in planned]


def replay(moves: Iterable[Move], values: Mapping[str, str], start: Snapshot | None = None) -> list[Snapshot]:
    """A snapshot after each move, ``values`` substituted (map each name to ``${NAME}`` to keep them symbolic)."""
    state = _State(dict(start.present) if start else {}, set(start.deleted) if start else set(),
                   list(start.problems) if start else [])
    snapshots: list[Snapshot] = []
    for move in moves:
        if move.command is not None:
            state.run(move, move.command.resolved(values))
        snapshots.append(Snapshot(move.ref, dict(state.present), frozenset(state.deleted), tuple(state.problems)))
    return snapshots


def end_state(moves: Iterable[Move], values: Mapping[str, str]) -> Snapshot:
    """The snapshot after the last move (an empty one for no moves)."""
    snapshots = replay(moves, values)
    return snapshots[-1] if snapshots else Snapshot("", {}, frozenset(), ())


def key_of(doc: Mapping, namespace: str = "") -> Key:
    """(kind, namespace, name) of a manifest object; ``namespace`` when it names none."""
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return str(doc.get("kind")), str(meta.get("namespace") or namespace), str(meta.get("name"))


@dataclass
class _Words:
    """A cluster CLI's argument list: its positional words and its flags' values."""

    positional: list[str] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)
    literals: list[str] = field(default_factory=list)  # --from-literal, repeatable

    @classmethod
    def parse(cls, argv: tuple[str, ...]) -> _Words:
        words = cls()
        items = iter(argv)
        for word in items:
            name, eq, value = word.partition("=")
            if word.startswith("-") and name in _VALUE_FLAGS:
                value = value if eq else next(items, "")
                if name == "--from-literal":
                    words.literals.append(value)
                else:
                    words.flags[{"--namespace": "-n", "--filename": "-f", "--patch": "-p"}.get(name, name)] = value
            elif word.startswith("-"):
                words.flags[name] = value if eq else ""
            else:
                words.positional.append(word)
        return words


@dataclass
class _State:
    present: dict[Key, Held]
    deleted: set[Key]
    problems: list[str]

    def run(self, move: Move, command: Command) -> None:
        if not command.uses_cluster_cli:
            return
        words = _Words.parse(command.argv[1:])
        verb = words.positional[:1]
        rest = words.positional[1:]
        where = move.where or move.ref
        if not verb or verb[0] in _READING or (verb[0] == "rollout" and rest[:1] in (["status"], ["history"])):
            return
        if verb[0] == "set" and rest[:1] == ["env"] and "--list" in words.flags:
            return
        handler = {"apply": self._apply, "delete": self._delete, "patch": self._patch, "set": self._set,
                   "scale": self._scale, "label": self._label, "create": self._create,
                   "new-project": self._new_project}.get(verb[0])
        if handler is None:
            self.problems.append(f"{where}: `{' '.join(command.argv[:3])}` is not understood by handbook/replay.py; "
                                 "teach it what the command changes")
            return
        handler(move, where, words, rest, command.stdin)

    # --- creating -------------------------------------------------------------------------------

    def _put(self, move: Move, doc: dict) -> None:
        key = key_of(doc)
        self.present.pop(key, None)  # a new version goes last, in the order of application
        self.present[key] = Held(doc, move.ref, move.demo)
        self.deleted.discard(key)

    def _documents(self, move: Move, where: str, words: _Words, stdin: str | None) -> list[dict]:
        if words.flags.get("-f") != "-" or stdin is None:
            self.problems.append(f"{where}: only `-f -` with the manifest on standard input is understood")
            return []
        docs = []
        for document in split_documents(where, stdin):
            try:
                doc = safe_load_copy(document.text)  # libyaml, parsed once per process
            except yaml.YAMLError as exc:
                self.problems.append(f"{where}, document {document.index + 1}: not valid YAML: {exc}")
                continue
            if not isinstance(doc, dict):
                self.problems.append(f"{where}, document {document.index + 1}: expected a mapping (an object)")
                continue
            meta = doc.get("metadata")
            if words.flags.get("-n") and isinstance(meta, dict) and not meta.get("namespace"):
                meta["namespace"] = words.flags["-n"]  # as the cluster records it
            docs.append(doc)
        return docs

    def _apply(self, move: Move, where: str, words: _Words, rest: list[str], stdin: str | None) -> None:
        for doc in self._documents(move, where, words, stdin):
            self._put(move, doc)

    def _create(self, move: Move, where: str, words: _Words, rest: list[str], stdin: str | None) -> None:
        if rest[:1] == ["namespace"] and len(rest) == 2:
            self._new_project(move, where, words, rest[1:], stdin)
        elif rest[:1] == ["configmap"] and len(rest) == 2:
            data = dict(literal.partition("=")[::2] for literal in words.literals)
            self._put(move, {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": rest[1], "namespace": words.flags.get("-n", "")}, "data": data})
        else:
            self.problems.append(f"{where}: `create {' '.join(rest[:1])}` is not understood by handbook/replay.py")

    def _new_project(self, move: Move, where: str, words: _Words, rest: list[str], stdin: str | None) -> None:
        key = ("Namespace", "", rest[0])
        if key not in self.present:  # a step's `unless` skips it when the namespace exists
            self._put(move, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": rest[0]}})

    # --- finding ---------------------------------------------------------------------------------

    def _kind(self, word: str) -> str:
        lower = word.split(".", 1)[0].lower()
        lower = _ALIASES.get(lower, lower)
        for kind in {key[0] for key in self.present} | _COMMON_KINDS:
            if lower in (kind.lower(), kind.lower() + "s", kind.lower() + "es"):
                return kind
        return word

    def _targets(self, words: _Words, rest: list[str]) -> list[tuple[str, str]]:
        """(kind, name) for ``type name ...`` or ``type/name ...``."""
        if rest and "/" not in rest[0]:
            return [(self._kind(rest[0]), name) for name in rest[1:]]
        return [(self._kind(w.split("/", 1)[0]), w.split("/", 1)[1]) for w in rest if "/" in w]

    def _find(self, kind: str, namespace: str | None, name: str) -> Key | None:
        if kind == "Namespace":
            return ("Namespace", "", name) if ("Namespace", "", name) in self.present else None
        if namespace is not None:
            return (kind, namespace, name) if (kind, namespace, name) in self.present else None
        found = [key for key in self.present if key[0] == kind and key[2] == name]
        return found[0] if len(found) == 1 else None

    def _change(self, where: str, words: _Words, kind: str, name: str, what: str) -> Held | None:
        key = self._find(kind, words.flags.get("-n"), name)
        if key is None:
            self.problems.append(f"{where}: {what} {kind} {name}, which no earlier step creates (or a step deleted it)")
            return None
        return self.present[key]

    def _replace(self, held: Held, doc: dict) -> None:
        self.present[key_of(doc)] = Held(doc, held.made_by, held.demo)

    # --- deleting --------------------------------------------------------------------------------

    def _delete(self, move: Move, where: str, words: _Words, rest: list[str], stdin: str | None) -> None:
        namespace = words.flags.get("-n")
        if words.flags.get("-f") is not None:
            keys = [key_of(doc, namespace or "") for doc in self._documents(move, where, words, stdin)]
            found = [self._find(kind, ns, name) for kind, ns, name in keys]
        else:
            keys = [(kind, namespace or "", name) for kind, name in self._targets(words, rest)]
            found = [self._find(kind, namespace, name) for kind, _, name in keys]
        for wanted, key in zip(keys, found, strict=True):
            if key is None:
                if "--ignore-not-found" not in words.flags:
                    self.problems.append(f"{where}: deletes {wanted[0]} {wanted[2]}, which is not present")
                continue
            gone = [key] + ([k for k in self.present if k[1] == key[2]] if key[0] == "Namespace" else [])
            for k in gone:
                self.present.pop(k, None)
                self.deleted.add(k)

    # --- changing --------------------------------------------------------------------------------

    def _patch(self, move: Move, where: str, words: _Words, rest: list[str], stdin: str | None) -> None:
        targets = self._targets(words, rest)
        body = stdin if words.flags.get("--patch-file") == "/dev/stdin" else words.flags.get("-p")
        patch_type = words.flags.get("--type", "strategic")
        if len(targets) != 1 or body is None or patch_type not in ("strategic", "merge"):
            self.problems.append(f"{where}: only a strategic or merge patch of one object, from standard input "
                                 "or -p, is understood by handbook/replay.py")
            return
        held = self._change(where, words, *targets[0], "patches")
        if held is None:
            return
        try:
            patch = safe_load_copy(body) if words.flags.get("-p") is None else json.loads(body)
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            self.problems.append(f"{where}: the patch is not valid: {exc}")
            return
        doc = copy.deepcopy(held.doc)
        why = _merge(doc, patch, strategic=patch_type == "strategic")
        if why:
            self.problems.append(f"{where}: {why}")
            return
        self._replace(held, doc)

    def _set(self, move: Move, where: str, words: _Words, rest: list[str], stdin: str | None) -> None:
        if rest[:1] not in (["serviceaccount"], ["sa"]) or not 2 <= len(rest) - 1 <= 3:
            self.problems.append(f"{where}: `set {' '.join(rest[:1])}` is not understood by handbook/replay.py")
            return
        account = rest[-1]
        targets = self._targets(words, rest[1:-1])
        for kind, name in targets:
            if held := self._change(where, words, kind, name, "sets the service account of"):
                doc = copy.deepcopy(held.doc)
                doc.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})[
                    "serviceAccountName"] = account
                self._replace(held, doc)

    def _scale(self, move: Move, where: str, words: _Words, rest: list[str], stdin: str | None) -> None:
        for kind, name in self._targets(words, rest):
            if held := self._change(where, words, kind, name, "scales"):
                doc = copy.deepcopy(held.doc)
                doc.setdefault("spec", {})["replicas"] = int(words.flags.get("--replicas", "0"))
                self._replace(held, doc)

    def _label(self, move: Move, where: str, words: _Words, rest: list[str], stdin: str | None) -> None:
        changes = [w for w in rest[1:] if "=" in w or w.endswith("-")]
        for kind, name in self._targets(words, [w for w in rest if w not in changes]):  # type name or type/name
            if held := self._change(where, words, kind, name, "labels"):
                doc = copy.deepcopy(held.doc)
                labels = doc.setdefault("metadata", {}).setdefault("labels", {})
                for change in changes:
                    if change.endswith("-"):
                        labels.pop(change[:-1], None)
                    else:
                        label, _, value = change.partition("=")
                        labels[label] = value
                self._replace(held, doc)


def _merge(target: dict, patch: object, *, strategic: bool, path: str = "") -> str | None:
    """Apply a merge patch in place (null removes a field); why it cannot be modelled, or None."""
    if not isinstance(patch, dict):
        return f"the patch at {path or 'the top'} is not a mapping"
    for name, value in patch.items():
        at = f"{path}.{name}" if path else str(name)
        if value is None:
            target.pop(name, None)
        elif isinstance(value, dict):
            inner = target.get(name)
            if not isinstance(inner, dict):
                inner = target[name] = {}
            if why := _merge(inner, value, strategic=strategic, path=at):
                return why
        elif isinstance(value, list) and strategic:
            return f"{at}: a list in a strategic merge patch is merged by keys, which handbook/replay.py does not model"
        else:
            target[name] = value
    return None
