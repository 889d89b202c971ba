"""Where a stage is rendered: Markdown for the macros that the pages call.

Each page names its stage in front matter (``stage: stage-1``) and calls
``export_block()``, ``step("id")`` for every step in order, and ``catch_up()``.
``PageRenderer.finish()`` refuses a page that skips or reorders steps.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property

from .blocks import Block, catch_up_block, export_block, group_block, step_block
from .errors import UsageError
from .lab import Lab
from .platforms import DEFAULT_CLI, DEFAULT_PLATFORM, PLATFORM_LABELS, PLATFORMS
from .prose import manual_markdown, step_anchor
from .stages import Stage
from .steps import Step

PATTERN_LABELS = {
    "dns-label": "DNS ラベル (英小文字・数字・ハイフン、63 文字以内)",
    "dns-subdomain": "DNS サブドメイン (ドット区切りの DNS ラベル)",
}


def _fence(text: str, *, language: str, title: str | None = None) -> str:
    """A fenced block whose fence is longer than any run of backticks inside ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    attrs = f' title="{html.escape(title)}"' if title else ""
    return f"{ticks}{language}{attrs}\n{text}\n{ticks}"


def output_title(sample_user: str | None) -> str:
    """The title of a check's sample output: an example, for the default learner's values."""
    return f"出力の例 ({sample_user} の場合)" if sample_user else "出力の例"


def unconfirmed_note(reason: str) -> str:
    """The note next to a sample output that could not be confirmed on a cluster."""
    return f'<p class="lab-unconfirmed">未確認の出力例: {html.escape(reason, quote=False)}</p>'


def block_markdown(
    block: Block, *, in_tab: bool = False, link: Callable[[str, str], str] | None = None,
    sample_user: str | None = None, platform: str | None = None, anchor: bool = True,
) -> str:
    """A block wrapped in a div that names it, so tests can find it in the built HTML.

    A step's block has the id ``step-<id>``, for links from the prose (``step_link``), unless ``anchor``
    is False (its tab set carries the id); a group's block carries the anchors of all its steps. ``link``
    makes the Markdown of a link from a manual step's text (or a 注目点 line) to another step of its stage.
    A block with a long manifest folds behind its title, its 注目点 above it (``Block.folds``).
    ``platform``: the block is that platform's tab (``data-platform``).
    """
    classes = f"lab-step lab-{block.kind}" + (" lab-terminal-new" if block.terminal == "new" else "")
    classes += " lab-folded" if block.folds else ""
    attrs = f'class="{classes}" data-ref="{block.ref}" data-kind="{block.kind}"'
    if block.group:
        attrs += f' data-group="{" ".join(block.group)}"'
    if block.repeat_of:
        attrs += f' data-repeat-of="{block.repeat_of}"'
    if platform is not None:
        attrs += f' data-platform="{platform}"'
    if anchor and block.kind not in ("export", "reset") and "/" in block.ref and not block.ref.endswith("/catch-up"):
        attrs += f' id="{step_anchor(block.step_id)}"'
    parts: list[str] = []
    notes = []
    if block.terminal == "new":
        notes.append(
            "別の端末で実行します。先頭の <code>export</code> で、その端末にも変数を設定します。"
            "追いつき用の <code>apply.py</code> はこの手順を実行しません"
        )
    elif block.demo:
        notes.append("見るだけ: 追いつき用の <code>apply.py</code> はこの手順を飛ばします")
    if block.repeat_of:
        notes.append(
            f'<a href="#{step_anchor(block.repeat_of)}">前のブロック</a>と同じコマンドです。'
            "状態が変わった後にもう一度実行して、結果を比べます"
        )
    if block.platforms and set(block.platforms) != set(PLATFORM_LABELS) and not in_tab:
        notes.append(" / ".join(PLATFORM_LABELS[p] for p in block.platforms) + " のみ")
    if notes:
        parts.append('<p class="lab-step-note">' + "。".join(notes) + "</p>")
    if block.group and anchor:
        # Links to any step of the group land on the group's block.
        anchors = "".join(f'<span id="{step_anchor(i)}"></span>' for i in block.group[1:])
        parts.append(f'<div class="lab-anchors">{anchors}</div>')
    if block.kind == "manual":
        text = manual_markdown(block.text, link or _no_links(block))
        parts.append('!!! example "あなたが操作します"\n\n' + _indent(text))
    elif block.folds:
        if block.focus:
            lines = "\n".join(f"- {manual_markdown(line, link or _no_links(block))}" for line in block.focus)
            parts.append('<div class="lab-focus" markdown>\n\n**注目点**\n\n' + lines + "\n\n</div>")
        if block.group:
            summary = html.escape(block.title or f"{len(block.group)} 個の手順をまとめたブロック")
        else:  # the file name is not prose (tests/support/site_html.py skips .filename)
            summary = f'<span class="filename">{html.escape(block.title or "")}</span> ({block.manifest_lines} 行)'
        fence = _fence(block.text, language="bash")
        parts.append(f'<details class="abstract" markdown>\n<summary>{summary}</summary>\n\n{fence}\n\n</details>')
    else:
        parts.append(_fence(block.text, language="bash", title=block.title))
    if block.output is not None:
        note = "\n\n" + unconfirmed_note(block.unconfirmed) if block.unconfirmed else ""
        parts.append(
            '<div class="lab-output" markdown>\n\n'
            + _fence(block.output, language="text", title=output_title(sample_user))
            + note
            + "\n\n</div>"
        )
    return f"<div {attrs} markdown>\n\n" + "\n\n".join(parts) + "\n\n</div>\n"


def _indent(text: str) -> str:
    """``text`` as the body of an admonition or a collapsible block (four spaces; blank lines stay empty)."""
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


def _no_links(block: Block) -> Callable[[str, str], str]:
    def refuse(step_id: str, words: str) -> str:
        raise UsageError(f"{block.ref}: a link to step {step_id!r} needs the page's stage to resolve it")

    return refuse


def content_tabs(tabs: list[tuple[str, str]], anchor: str | None = None, more: tuple[str, ...] = ()) -> str:
    """Material's linked content tabs, one per (platform, Markdown); ``anchor``: an id right before the set
    (``more``: further ids there, for the other steps of a group).

    The anchor is an empty element of its own: Markdown inside a ``<div markdown>`` loses its tabs.
    """
    parts = []
    for i, (platform, body) in enumerate(tabs):
        start = "===!" if i == 0 else "==="  # a set of its own, even right after another step's tabs
        parts.append(f'{start} "{PLATFORM_LABELS[platform]}"\n\n{_indent(body)}\n')
    inner = "\n".join(parts)
    if anchor is None:
        return inner
    spans = "".join(f'<span id="{extra}"></span>' for extra in more)
    return f'<div class="lab-platforms" id="{anchor}">{spans}</div>\n\n{inner}'


def only_note(step: Step, platform: str) -> str:
    """What the tab of ``platform`` says for a step that exists on other platforms only: its ``only_reason``."""
    where = " / ".join(PLATFORM_LABELS[p] for p in step.platforms)
    attrs = f'data-ref="{step.ref}" data-platform="{platform}"'
    if step.only_reason:
        reason = html.escape(step.only_reason.strip(), quote=False)
        text = f'<p class="lab-only-reason">{where} だけの手順です。{reason}</p>'
        return f'<div class="lab-only" {attrs}>\n{text}\n</div>\n'
    return f'<div class="lab-only lab-only-missing" {attrs}>\n<p>{where} だけの手順です。</p>\n</div>\n'


def step_link_markdown(stage: Stage, step_id: str, words: str, page: str, target: str = "") -> str:
    """A Markdown link to the block of ``step_id`` of ``stage``, on ``target`` (a page path; "" = this page).

    An unknown id stops the build, naming the page and the id.
    """
    if step_id not in {s.id for s in stage.steps}:
        known = ", ".join(s.id for s in stage.steps)
        raise UsageError(f"{page}: step_link to {stage.id}/{step_id!r}: no such step; the steps are: {known}")
    if not words.strip():
        raise UsageError(f"{page}: step_link to {stage.id}/{step_id}: give the words a reader follows")
    return f"[{words}]({target}#{step_anchor(step_id)})"


@dataclass
class PageRenderer:
    """Renders one page's blocks and remembers which steps it rendered, in which order."""

    lab: Lab
    stage: Stage
    page: str  # the page's source path, for messages
    platform: str = DEFAULT_PLATFORM
    rendered: list[str] = field(default_factory=list)
    # (platform, commands) -> the step whose block first showed them on this page (see _markdown)
    shown: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def cli(self) -> str:
        return DEFAULT_CLI[self.platform]

    def export_block(self) -> str:
        """The export block; one per platform, as linked tabs, where the platforms' blocks differ."""
        blocks = {p: export_block(self.lab, self.stage, p) for p in PLATFORMS}
        if len({b.text for b in blocks.values()}) == 1:
            return block_markdown(blocks[self.platform])
        return content_tabs([(p, block_markdown(b, platform=p)) for p, b in blocks.items()])

    def step(self, step_id: str) -> str:
        """A step's block for every platform, as linked tabs OpenShift / Kubernetes.

        A step of one platform only gets its ``only_reason`` in the other tab. A manual step, or a step
        whose text is the same on every platform (no cluster CLI in it), is shown once, without tabs: two
        tabs with the same text would say nothing, and the proof compares that block with every platform.
        """
        step = self._render(step_id)
        if set(step.platforms) != set(PLATFORMS):
            return self._tabs_of([step])
        blocks = {p: step_block(step, DEFAULT_CLI[p], self.lab, p) for p in PLATFORMS}
        if step.kind == "manual" or len({b.text for b in blocks.values()}) == 1:
            return self._markdown(blocks[self.platform])
        tabs = [(p, self._markdown(b, platform=p, anchor=False)) for p, b in blocks.items()]
        return content_tabs(tabs, anchor=step_anchor(step.id))

    def _render(self, step_id: str) -> Step:
        step = self.stage.step(step_id)
        if step.id in self.rendered:
            raise UsageError(f"{self.page}: step {step_id!r} of {self.stage.id} is rendered twice")
        self.rendered.append(step.id)
        return step

    def _markdown(self, block: Block, *, platform: str | None = None, anchor: bool = True) -> str:
        """A block of this page's body; a block with the commands of an earlier one says so and links it."""
        if block.kind != "manual" and "/" in block.ref:
            keys = [(p, block.text) for p in ([platform] if platform else PLATFORMS)]
            first = next((self.shown[k] for k in keys if k in self.shown), None)
            if first is not None and first != block.step_id:
                block = replace(block, repeat_of=first)
            for key in keys:
                self.shown.setdefault(key, block.step_id)
        return block_markdown(block, in_tab=platform is not None, link=self.link, sample_user=self.sample_user,
                              platform=platform, anchor=anchor)

    def _tabs_of(self, steps: list[Step]) -> str:
        """One tab per platform: the block of the step for it, or why no step exists there."""
        tabs = []
        for platform in PLATFORMS:
            step = next((s for s in steps if platform in s.platforms), None)
            if step is None:
                tabs.append((platform, only_note(steps[0], platform)))
            else:
                tabs.append((platform, self._markdown(step_block(step, DEFAULT_CLI[platform], self.lab, platform),
                                                      platform=platform)))
        return content_tabs(tabs)

    def steps(self, *step_ids: str, title: str | None = None) -> str:
        """Consecutive steps of the stage as one block, one command after another (``blocks.group_block``)."""
        steps = [self.stage.step(i) for i in step_ids]
        positions = [self.stage.steps.index(s) for s in steps]
        if positions != list(range(positions[0], positions[0] + len(positions))):
            raise UsageError(f"{self.page}: steps({', '.join(step_ids)}) must name consecutive steps of "
                             f"{self.stage.id}, in the order {self.stage.definition} lists them")
        for step in steps:
            self._render(step.id)
        try:
            blocks = {p: group_block(steps, DEFAULT_CLI[p], title) for p in PLATFORMS if p in steps[0].platforms}
        except UsageError as exc:
            raise UsageError(f"{self.page}: {exc}") from exc
        if len(blocks) == len(PLATFORMS) and len({b.text for b in blocks.values()}) == 1:
            return self._markdown(blocks[self.platform])
        tabs = [
            (p, self._markdown(blocks[p], platform=p, anchor=False) if p in blocks else only_note(steps[0], p))
            for p in PLATFORMS
        ]
        return content_tabs(tabs, anchor=step_anchor(steps[0].id), more=tuple(step_anchor(s.id) for s in steps[1:]))

    def link(self, step_id: str, words: str) -> str:
        """A link from this page's text to the block of one of its stage's steps."""
        return step_link_markdown(self.stage, step_id, words, self.page)

    @cached_property
    def sample_user(self) -> str:
        """The learner whose values the sample outputs show: LAB_USER's default (resolved once per page)."""
        return self.lab.variables.resolve()["LAB_USER"]

    def platform_tabs(self, *step_ids: str) -> str:
        """Steps that do the same thing on different platforms, as linked content tabs."""
        steps = [self.stage.step(i) for i in step_ids]
        platforms = [s.platforms for s in steps]
        if any(len(p) != 1 for p in platforms) or len({p[0] for p in platforms}) != len(platforms):
            raise UsageError(
                f"{self.page}: platform_tabs({', '.join(step_ids)}) needs steps limited to one platform each, "
                "each a different one; add `platforms: [<one of " + ", ".join(PLATFORMS) + ">]` to them in "
                f"{self.stage.definition}"
            )
        for step in steps:
            self._render(step.id)
        return self._tabs_of(steps)

    def catch_up(self) -> str:
        return block_markdown(catch_up_block(self.stage))

    def finish(self) -> None:
        """Every step of the stage rendered exactly once, in the stage's order."""
        expected = [s.id for s in self.stage.steps]
        missing = [s for s in expected if s not in self.rendered]
        if missing:
            raise UsageError(
                f"{self.page}: steps of {self.stage.id} never rendered: {', '.join(missing)}; "
                f"add {{{{ step(\"{missing[0]}\") }}}} where it belongs"
            )
        if self.rendered != expected:
            raise UsageError(
                f"{self.page}: steps of {self.stage.id} rendered in the order {', '.join(self.rendered)}, "
                f"but {self.stage.definition} lists {', '.join(expected)}"
            )


def variables_table(lab: Lab) -> str:
    """Every variable the lab uses: name, meaning, where its value comes from, and its form."""
    rows = ["| 変数 | 意味 | 値 | 形式 |", "|---|---|---|---|"]
    for variable in lab.variables.variables.values():
        if variable.derive is not None:
            value = f"`{variable.derive}` から作る"
        else:
            value = f"既定値 `{variable.default}`"
        if variable.discover:
            platforms = "、".join(PLATFORM_LABELS[p] for p in variable.discover)
            value += f" ({platforms} ではクラスターから読み取る)"
        for platform, (default, derive) in variable.on_platform.items():
            there = f"`{derive}` から作る" if derive else f"既定値 `{default}`"
            value += f"。{PLATFORM_LABELS[platform]} では {there}"
        form = PATTERN_LABELS.get(variable.pattern_name) or f"`{variable.pattern}`".replace("|", "\\|")
        rows.append(f"| `{variable.name}` | {variable.description} | {value} | {form} |")
    return "\n".join(rows) + "\n"
