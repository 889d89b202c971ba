"""The blocks a reader copies, built once for both the pages and ``apply.py --dry-run``."""

from __future__ import annotations

from dataclasses import dataclass

from . import yaml_load
from .errors import UsageError
from .lab import Lab
from .manifests import split_documents
from .plan import reset_commands
from .platforms import DEFAULT_CLI, DEFAULT_PLATFORM
from .prose import plain_text
from .shell import command_text, quote_word
from .stages import Stage
from .steps import ApplyStep, CheckStep, Command, ManualStep, PatchStep, RunStep, Step
from .variables import Values, references

BLOCK_MARK = "# >>> "  # starts the comment line before each block of a dry-run
# A block whose manifest text is longer than this folds behind its title on the page, with the
# step's ``focus`` lines (注目点) shown above it.
FOLD_LINES = 25
# What a group of steps in one block may hold: commands that run one after another and print no
# sample output (checks, manual steps, observation and second-terminal steps keep their own blocks).
GROUP_KINDS = ("apply", "patch", "run", "wait")


@dataclass(frozen=True)
class Block:
    ref: str  # "stage-1/create-project", or "stage-1/export"
    kind: str  # export, apply, patch, run, wait, check, manual
    text: str  # what the reader copies; for manual steps, the instruction itself
    title: str | None = None  # the manifest's file name for apply and patch
    output: str | None = None  # what a check should print
    unconfirmed: str | None = None  # why that output is only an example (checks)
    platforms: tuple[str, ...] = ()
    demo: bool = False
    terminal: str = "same"  # "new": the block is pasted into a second terminal and sets its own variables
    focus: tuple[str, ...] = ()  # 注目点 (apply and patch): what to look at in the folded manifest
    manifest_lines: int = 0  # lines of manifest text the block carries (apply and patch steps)
    group: tuple[str, ...] = ()  # the step ids a grouped block runs, in order (see group_block)
    repeat_of: str | None = None  # an earlier step on the page with the same commands (run again to compare)

    @property
    def step_id(self) -> str:
        return self.ref.rpartition("/")[2]

    @property
    def folds(self) -> bool:
        """Whether the page shows the block folded behind its title."""
        return self.manifest_lines > FOLD_LINES


# What bash prints when a value read from the cluster is empty: "bash: APPS_DOMAIN: <this>".
EMPTY_VALUE_MESSAGE = (
    "クラスターから読み取れませんでした。講師から値を受け取り、「あなたの値」の欄に保存するか、"
    "export {name}= の行に書き入れてから、このブロックを貼り直してください"
)


def _export_lines(lab: Lab, names: list[str], platform: str, values: Values | None) -> tuple[list[str], list[str]]:
    """``export NAME=...`` for ``names``, and the names that a cluster can supply (each gets a guard).

    Without values (the pages), derived variables show their derivation and discoverable ones
    the command that reads them from the cluster; values given with --set show literally. The
    guards do not depend on the values, so that the values form (handbook.js), which rewrites
    only the ``export`` lines, shows exactly what ``apply.py --dry-run --set`` prints.
    """
    catalog = lab.variables.for_platform(platform)
    defaults = values or catalog.resolve(platform=platform)
    lines: list[str] = []
    for name in names:
        variable = catalog.variables[name]
        origin = defaults.origin(name)
        if origin in ("set", "discovered"):
            rhs = quote_word(defaults[name])
        elif origin == "derived":
            rhs = str(variable.derive)
        elif platform in variable.discover:
            rhs = "$(" + " ".join(quote_word(w) for w in variable.discover[platform]) + ")"
        else:
            rhs = quote_word(defaults[name])
        lines.append(f"export {name}={rhs}")
    return lines, [name for name in names if catalog.variables[name].discover]


def _guarded(discoverable: list[str], then: str) -> list[str]:
    """``then``, run only when no value that a cluster supplies is empty.

    ``: "${NAME:?message}"`` prints the message and stops: a script exits, an interactive shell
    drops the rest of the command, and ``&&`` makes ``then`` part of that command.
    """
    guards = [f': "${{{name}:?{EMPTY_VALUE_MESSAGE.format(name=name)}}}" &&' for name in discoverable]
    return [*guards, ("  " if guards else "") + then]


def export_block(lab: Lab, stage: Stage, platform: str, values: Values | None = None) -> Block:
    """``export NAME=...`` lines for every variable the stage uses, a stop on an empty value, and the values."""
    names = lab.variables_for(stage, platform)
    lines, discoverable = _export_lines(lab, names, platform, values)
    shown = " ".join(f'"{name}=${{{name}}}"' for name in names)
    lines += _guarded(discoverable, f"printf '%s\\n' {shown}")
    return Block(ref=f"{stage.id}/export", kind="export", text="\n".join(lines))


def command_block_text(step: Step, cli: str) -> str:
    """The bash for a step's command, with its ``unless`` guard when it has one (as apply.py runs it)."""
    command = step.command()
    assert command is not None, f"{step.ref}: a {step.kind} step always has a command"
    text = command_text(command.for_cli(cli))
    unless = step.unless_command() if isinstance(step, RunStep) else None
    if unless is None:
        return text
    return f"{command_text(unless.for_cli(cli))} >/dev/null 2>&1 || {text}"


def step_block(
    step: Step, cli: str, lab: Lab | None = None, platform: str = DEFAULT_PLATFORM, values: Values | None = None
) -> Block:
    """A step's block; a step for a new terminal starts with the export lines it uses (``lab`` required)."""
    common = {"ref": step.ref, "kind": step.kind, "platforms": step.platforms, "demo": step.demo,
              "terminal": step.terminal}
    if isinstance(step, ManualStep):
        return Block(text=step.text, **common)
    text = command_block_text(step, cli)
    if step.terminal == "new":
        assert lab is not None, f"{step.ref}: a block for a new terminal needs the lab for its export lines"
        names = lab.variables.for_platform(platform).closure(dict.fromkeys(references(" ".join(step.texts()))))
        lines, discoverable = _export_lines(lab, names, platform, values)
        text = "\n".join([*lines, *_guarded(discoverable, text)])
    output = step.output if isinstance(step, CheckStep) else None
    unconfirmed = step.unconfirmed if isinstance(step, CheckStep) else None
    if isinstance(step, ApplyStep | PatchStep):
        return Block(text=text, title=step.file, focus=step.focus, manifest_lines=manifest_lines(step), **common)
    return Block(text=text, output=output, unconfirmed=unconfirmed, **common)


def manifest_lines(step: Step) -> int:
    """Lines of the manifest (or patch) text a step sends; 0 for steps that send none."""
    return len(step.body.splitlines()) if isinstance(step, ApplyStep | PatchStep) else 0


def group_block(steps: list[Step], cli: str, title: str | None = None) -> Block:
    """Consecutive steps as one block, one command after another: the dry-run's blocks of ``steps`` joined.

    Only steps that print no sample output and run in the reader's terminal may share a block; the
    caller (the page) checks that they are consecutive in the stage.
    """
    refused = [s.id for s in steps if s.kind not in GROUP_KINDS or s.demo or s.terminal != "same"]
    names = ", ".join(s.id for s in steps)
    if refused:
        raise UsageError(
            f"steps({names}): {', '.join(refused)} cannot share a block; a group holds "
            f"{'/'.join(GROUP_KINDS)} steps that are neither `demo` nor `terminal: new`"
        )
    if len(steps) < 2:
        raise UsageError(f"steps({names}): a group needs two steps or more; use step() for one")
    if len({s.platforms for s in steps}) > 1:
        raise UsageError(f"steps({names}): its steps run on different platforms; group steps of the same platforms")
    first = steps[0]
    return Block(
        ref=first.ref, kind="group", text="\n".join(command_block_text(s, cli) for s in steps), title=title,
        platforms=first.platforms, manifest_lines=sum(manifest_lines(s) for s in steps),
        group=tuple(s.id for s in steps),
    )


def focus_problems(lab: Lab) -> list[str]:
    """Apply and patch steps whose manifest folds on the page but that say nothing about what to look at."""
    return [
        f"{stage.definition}: step {step.id}: {step.file} has {manifest_lines(step)} lines, more than "
        f"{FOLD_LINES}, so its page folds it; add `focus:` with 1-3 short lines (注目点) of what to look at"
        for stage in lab.stages
        for step in stage.steps
        if isinstance(step, ApplyStep | PatchStep) and manifest_lines(step) > FOLD_LINES and not step.focus
    ]


def catch_up_block(stage: Stage) -> Block:
    argv = ["python3", "scripts/apply.py", stage.id]
    if stage.audience == "user":
        argv += ["--user", "${LAB_USER}"]
    return Block(ref=f"{stage.id}/catch-up", kind="run", text=" ".join(quote_word(w) for w in argv))


def stage_blocks(lab: Lab, stage: Stage, platform: str, cli: str, values: Values | None = None) -> list[Block]:
    """What the stage's page shows for ``platform``, in order: the export block, then each step."""
    return [export_block(lab, stage, platform, values)] + [
        step_block(s, cli, lab, platform, values) for s in stage.steps_for(platform)
    ]


def dry_run_text(
    lab: Lab, stages: list[Stage], platform: str, cli: str | None = None, values: Values | None = None
) -> str:
    """Everything a reader would paste for ``stages``, as one bash script.

    Each block is preceded by a ``# >>> <stage>/<step>`` comment line, so the text can be pasted whole
    and compared block by block with the pages.
    """
    cli = cli or DEFAULT_CLI[platform]
    chunks: list[str] = []
    for stage in stages:
        chunks.append(f"# ===== {stage.id}: {stage.title}")
        for block in stage_blocks(lab, stage, platform, cli, values):
            header = f"{BLOCK_MARK}{block.ref}" + (" (demo)" if block.demo else "")
            if block.kind == "manual":
                body = "\n".join(f"#   {line}" if line else "#" for line in plain_text(block.text).splitlines())
                chunks.append(f"{BLOCK_MARK}{block.ref} (manual: a person does this)\n{body}")
            else:
                chunks.append(f"{header}\n{block.text}")
    return "\n\n".join(chunks) + "\n"


def reset_block(
    stages: list[Stage], platform: str, cli: str | None = None, *, delete_namespaces: bool = False
) -> Block:
    """The commands that remove what ``stages`` created, as one block (the clean-up page and reset --dry-run)."""
    cli = cli or DEFAULT_CLI[platform]
    commands = reset_commands(stages, platform, delete_namespaces=delete_namespaces)
    texts = [command_text(command.for_cli(cli)) for _, command in commands]
    ref = "reset/" + "+".join(s.id for s in stages) + ("+namespaces" if delete_namespaces else "")
    return Block(ref=ref, kind="reset", text="\n".join(texts))


# The learner's clean-up asks before it deletes anything (bash expands the names in the question).
CLEANUP_QUESTION = "{what} を中身ごと削除します。よろしければ yes と入力してください: "
CLEANUP_DECLINED = "削除を中止しました。何も変えていません"


def learner_cleanup_commands(lab: Lab, platform: str) -> list[tuple[Command, str]]:
    """What removes a learner's whole lab, each with the words that name it in the question (Japanese).

    Their cluster-scoped objects by name (the ``Istio``), then their namespaces: deleting a namespace
    deletes everything in it, labels included. Demonstrations clean up after themselves.
    """
    stages = [s for s in lab.stages if s.audience == "user"]
    commands: list[tuple[Command, str]] = []
    namespaces: set[str] = set()
    for stage in reversed(stages):
        for step in reversed(stage.steps_for(platform)):
            if isinstance(step, ApplyStep | PatchStep) and step.namespace:
                namespaces.add(step.namespace)
            if not isinstance(step, ApplyStep) or step.namespace or step.undo or step.demo:
                continue
            for document in reversed(split_documents(step.file, step.body)):
                data = yaml_load.safe_load(document.text)
                group = str(data["apiVersion"]).rpartition("/")[0]
                kind, name = str(data["kind"]), str(data["metadata"]["name"])
                resource = kind.lower() + (f".{group}" if group else "")
                commands.append((Command(("oc", "delete", resource, name, "--ignore-not-found")), f"{kind} {name}"))
    ordered = sorted(namespaces)  # ${APP_NS} before ${MESH_NS}: the mesh's namespace last
    word = "project" if platform == "openshift" else "namespace"
    commands.append((Command(("oc", "delete", word, *ordered, "--ignore-not-found")), "名前空間 " + "、".join(ordered)))
    return commands


def learner_cleanup_block(lab: Lab, platform: str, cli: str | None = None) -> Block:
    """The learner's clean-up: one block that sets its own values and asks before it deletes anything."""
    cli = cli or DEFAULT_CLI[platform]
    planned = learner_cleanup_commands(lab, platform)
    commands = [command.for_cli(cli) for command, _ in planned]
    names = lab.variables.closure(dict.fromkeys(references(" ".join(w for c in commands for w in c.argv))))
    exports, _ = _export_lines(lab, names, platform, None)
    question = CLEANUP_QUESTION.format(what=" と ".join(what for _, what in planned))
    lines = [
        *exports,
        f'read -r -p "{question}" answer; if [ "$answer" = yes ]; then',
        *(f"  {command_text(c)}" for c in commands),
        "else",
        f'  echo "{CLEANUP_DECLINED}"',
        "fi",
    ]
    return Block(ref=f"cleanup/{platform}", kind="cleanup", text="\n".join(lines), platforms=(platform,))


def split_dry_run(text: str) -> dict[str, str]:
    """The copyable blocks of a dry-run text, keyed by ref (the inverse of ``dry_run_text``)."""
    blocks: dict[str, str] = {}
    for chunk in text.split("\n\n" + BLOCK_MARK)[1:]:
        header, _, body = chunk.partition("\n")
        if "(manual" in header:
            continue
        ref = header.split(" ")[0]
        blocks[ref] = body.rstrip("\n")
    return blocks
