"""Step kinds, and the one command each step stands for.

A step's ``command()`` is the single source of what both the page shows and
``apply.py`` runs: an argument list (``${VAR}`` still in it) and, for steps that
send a manifest or a patch, the text for standard input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .platforms import CLUSTER_CLIS, PLATFORMS
from .variables import substitute

HEREDOC_DELIMITER = "EOF"
# Where a reader runs a step: "same" (the terminal of the export block) or "new" (a second terminal,
# for a command that keeps running, such as --watch or port-forward; its block starts with the
# export lines it needs, and catch-up runs never execute it).
TERMINALS = ("same", "new")


@dataclass(frozen=True)
class Command:
    """What runs: argv without a shell, plus optional standard input.

    ``argv[0]`` of ``oc`` or ``kubectl`` means "the cluster CLI" and is replaced by ``for_cli``.
    """

    argv: tuple[str, ...]
    stdin: str | None = None

    @property
    def uses_cluster_cli(self) -> bool:
        return bool(self.argv) and self.argv[0] in CLUSTER_CLIS

    @property
    def deletes_namespace(self) -> bool:
        """``oc delete project X`` or ``kubectl delete namespace X``: the step would remove a whole namespace."""
        words = [w for w in self.argv[1:] if not w.startswith("-")]
        return self.uses_cluster_cli and words[:1] == ["delete"] and words[1:2] in (
            ["project"], ["projects"], ["namespace"], ["namespaces"], ["ns"]
        )

    def for_cli(self, cli: str) -> Command:
        if not self.uses_cluster_cli:
            return self
        return replace(self, argv=(cli, *self.argv[1:]))

    def resolved(self, values: Mapping[str, str]) -> Command:
        return Command(
            argv=tuple(substitute(word, values) for word in self.argv),
            stdin=None if self.stdin is None else substitute(self.stdin, values),
        )

    def with_context(self, context: str | None) -> Command:
        """Insert ``--context`` right after the CLI name (apply.py only; pages use the current context)."""
        if not context or not self.uses_cluster_cli:
            return self
        return replace(self, argv=(self.argv[0], f"--context={context}", *self.argv[1:]))


@dataclass(frozen=True)
class Step:
    """One thing a reader does, in the order the stage lists it."""

    id: str
    stage_id: str
    platforms: tuple[str, ...] = PLATFORMS
    demo: bool = False
    terminal: str = "same"
    only_reason: str | None = None  # why a step of one platform has no partner on the other (shown in its tab)

    kind = "step"

    @property
    def executes(self) -> bool:
        """Whether a catch-up run (apply.py stage-N) executes it; checks run under `verify`.

        A step for a second terminal keeps running until the reader stops it: never run by apply.py.
        """
        return self.terminal == "same"

    @property
    def ref(self) -> str:
        return f"{self.stage_id}/{self.id}"

    def applies_to(self, platform: str) -> bool:
        return platform in self.platforms

    def command(self) -> Command | None:
        return None

    def files(self) -> tuple[str, ...]:
        """Files in the stage folder that this step reads."""
        return ()

    def texts(self) -> tuple[str, ...]:
        """Every command word this step carries (for the ${VAR} lint)."""
        command = self.command()
        return command.argv if command else ()


@dataclass(frozen=True)
class ApplyStep(Step):
    """Send a manifest file to the cluster: ``oc apply [-n NS] -f -`` with the file on stdin."""

    file: str = ""
    namespace: str | None = None
    body: str = ""  # the file's text, ${VAR} unresolved; filled in by the stage loader
    undo: tuple[str, ...] = ()  # what reset runs instead of deleting the file's objects
    focus: tuple[str, ...] = ()  # 注目点 shown above a folded manifest (Japanese)

    kind = "apply"

    def command(self) -> Command:
        argv: list[str] = ["oc", "apply"]
        if self.namespace:
            argv += ["-n", self.namespace]
        argv += ["-f", "-"]
        return Command(tuple(argv), stdin=self.body)

    def delete_command(self) -> Command:
        """What `apply.py reset` runs to remove what this step created.

        Deleting the file's objects, unless the step names its own ``undo`` (for a file that only
        changes objects someone else owns, such as labels on existing namespaces).
        """
        if self.undo:
            return Command(self.undo)
        argv: list[str] = ["oc", "delete"]
        if self.namespace:
            argv += ["-n", self.namespace]
        argv += ["--ignore-not-found", "-f", "-"]
        return Command(tuple(argv), stdin=self.body)

    def files(self) -> tuple[str, ...]:
        return (self.file,)

    def texts(self) -> tuple[str, ...]:
        return (*self.command().argv, *self.undo)


@dataclass(frozen=True)
class PatchStep(Step):
    """Change an object an earlier stage created: ``oc patch ... --patch-file=/dev/stdin``."""

    resource: str = ""
    namespace: str | None = None
    patch_type: str = "strategic"
    file: str = ""
    body: str = ""
    focus: tuple[str, ...] = ()  # 注目点 shown above a folded patch (Japanese)

    kind = "patch"

    def command(self) -> Command:
        argv: list[str] = ["oc", "patch", self.resource]
        if self.namespace:
            argv += ["-n", self.namespace]
        argv += [f"--type={self.patch_type}", "--patch-file=/dev/stdin"]
        return Command(tuple(argv), stdin=self.body)

    def files(self) -> tuple[str, ...]:
        return (self.file,)


@dataclass(frozen=True)
class RunStep(Step):
    """A command, as an argument list."""

    argv: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    undo: tuple[str, ...] = ()

    kind = "run"

    def command(self) -> Command:
        return Command(self.argv)

    def unless_command(self) -> Command | None:
        return Command(self.unless) if self.unless else None

    def undo_command(self) -> Command | None:
        return Command(self.undo) if self.undo else None

    def texts(self) -> tuple[str, ...]:
        return (*self.argv, *self.unless, *self.undo)


@dataclass(frozen=True)
class WaitStep(Step):
    """Wait for a rollout or a condition, always with a timeout."""

    rollout: str | None = None
    condition: str | None = None  # the value of kubectl wait --for
    resource: str | None = None
    name: str | None = None
    all: bool = False
    selector: str | None = None
    namespace: str | None = None
    timeout: str = "300s"

    kind = "wait"

    def command(self) -> Command:
        if self.rollout:
            argv: list[str] = ["oc", "rollout", "status", self.rollout]
        else:
            target = f"{self.resource}/{self.name}" if self.name else str(self.resource)
            argv = ["oc", "wait", f"--for={self.condition}", target]
            if self.all:
                argv.append("--all")
            if self.selector:
                argv += ["-l", self.selector]
        if self.namespace:
            argv += ["-n", self.namespace]
        argv.append(f"--timeout={self.timeout}")
        return Command(tuple(argv))

    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout)


@dataclass(frozen=True)
class Expectation:
    """How `verify` judges a check's standard output."""

    regex: str | None = None
    equals: str | None = None
    absent: str | None = None

    def failure(self, stdout: str) -> str | None:
        """Why ``stdout`` does not meet the expectation, or None when it does."""
        if self.equals is not None and stdout.strip() != self.equals:
            return f"expected exactly {self.equals!r}, got {stdout.strip()[:200]!r}"
        if self.regex is not None and not re.search(self.regex, stdout, re.MULTILINE):
            return f"expected a match for /{self.regex}/, got {stdout.strip()[:200]!r}"
        if self.absent is not None and (found := re.search(self.absent, stdout, re.MULTILINE)):
            return f"expected no match for /{self.absent}/, found {found.group(0)!r}"
        return None

    def substituted(self, values: Mapping[str, str]) -> Expectation:
        """Values put into the patterns; in regexes they match literally."""
        escaped = {k: re.escape(v) for k, v in values.items()}
        return Expectation(
            regex=None if self.regex is None else substitute(self.regex, escaped),
            equals=None if self.equals is None else substitute(self.equals, values),
            absent=None if self.absent is None else substitute(self.absent, escaped),
        )


@dataclass(frozen=True)
class CheckStep(Step):
    """A command, the output the reader should see, and a machine check of it."""

    argv: tuple[str, ...] = ()
    output: str = ""
    expect: Expectation = field(default_factory=Expectation)
    # Why the sample output could not be confirmed (Japanese, shown next to it on the page);
    # None when the output is confirmed.
    unconfirmed: str | None = None

    kind = "check"
    executes = False

    def command(self) -> Command:
        return Command(self.argv)


@dataclass(frozen=True)
class ManualStep(Step):
    """Something only a person does, such as looking at the shop in a browser."""

    text: str = ""

    kind = "manual"
    executes = False


def parse_duration(text: str) -> float:
    """Seconds in a kubectl-style duration such as ``90s``, ``10m`` or ``1h30m``."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not text or not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 10m or 1h")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)
