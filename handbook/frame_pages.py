"""Where a stage's teaching frame is rendered: the goal box under the H1 (``stage_intro()``) and the end
of the page (``stage_outro()``): まとめ, 確認問題, やってみよう and うまくいかないとき.

Everything comes from the stage's ``frame`` (handbook/frame.py). Solution and look blocks are built by
``blocks.step_block`` and wrapped by ``pages.block_markdown``, exactly as step blocks are; a block whose
text differs by platform is shown as linked tabs, the non-default platform's block with the ref
``<stage>/<id>@<platform>`` (``page_block_for`` finds a platform's block among them). A field a stage
does not give yet is left out: tests/unit/test_frame.py names every stage and field still missing.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import replace

from .blocks import Block, step_block
from .lab import Lab
from .pages import block_markdown, content_tabs
from .platforms import DEFAULT_CLI, DEFAULT_PLATFORM
from .prose import manual_markdown, step_anchor
from .stage_map import join_lines, stage_link
from .stages import Stage
from .steps import Step

Link = Callable[[str, str], str]
INTRO_CLASS = "lab-frame-intro"
OUTRO_CLASS = "lab-frame-outro"


def _indent(text: str, spaces: int = 4) -> str:
    pad = " " * spaces
    return "\n".join(f"{pad}{line}" if line.strip() else "" for line in text.splitlines())


def _text(text: str, link: Link) -> str:
    """Text from stage.yaml as Markdown: escaped outside code, values and step links as on manual steps."""
    return manual_markdown(join_lines(text) if "\n\n" not in text else text, link)


def platform_ref(ref: str, platform: str) -> str:
    """The ref of a frame block on the page: the default platform's keeps ``ref``; others get ``@<platform>``."""
    return ref if platform == DEFAULT_PLATFORM else f"{ref}@{platform}"


def page_block_for(shown: Mapping[str, dict], ref: str, platform: str) -> dict | None:
    """A platform's block of ``ref`` among a built page's blocks (its own tab, else the one shared block)."""
    return shown.get(platform_ref(ref, platform)) or shown.get(ref)


def platform_blocks(lab: Lab, step: Step) -> dict[str, Block]:
    """The block of ``step`` for each platform it applies to, each with that platform's CLI."""
    return {p: step_block(step, DEFAULT_CLI[p], lab, p) for p in step.platforms}


def step_markdown(lab: Lab, step: Step, link: Link, user: str) -> str:
    """A step's block, or linked tabs OpenShift / Kubernetes when its text differs by platform (``user``:
    whose values the sample outputs show)."""
    blocks = platform_blocks(lab, step)
    if len({b.text for b in blocks.values()}) == 1:
        block = blocks.get(DEFAULT_PLATFORM) or next(iter(blocks.values()))
        return block_markdown(block, link=link, sample_user=user)
    tabs = [  # one id for the set: two tabs with the same id would make a copy button copy the other tab
        (platform, block_markdown(replace(block, ref=platform_ref(block.ref, platform)), in_tab=True, link=link,
                                  sample_user=user, anchor=False))
        for platform, block in blocks.items()
    ]
    return content_tabs(tabs, anchor=step_anchor(step.id))


def intro_markdown(lab: Lab, stage: Stage, pages: Mapping[str, str], from_page: str, link: Link) -> str:
    """The goal box: goal, time, the stages to do first, what the learner sees at the end, core or optional."""
    frame = stage.frame
    by_id = {s.id: s for s in lab.stages}
    before = [stage_link(by_id[b], pages, f"ステージ {by_id[b].number}: {html.escape(by_id[b].title, quote=False)}",
                         from_page) for b in stage.before if b in by_id]
    facts = []
    if frame.goal:
        facts.append(f"- **目標**: {_text(frame.goal, link)}")
    if stage.minutes:
        facts.append(f"- **所要時間**: 約 {stage.minutes} 分")
    facts.append(f"- **先に済ませるステージ**: {'、'.join(before) if before else 'なし'}")
    if frame.outcome:
        facts.append(f"- **終わると**: {_text(frame.outcome, link)}")
    if frame.core is not None:
        facts.append("- **区分**: " + ("コア (半日コースで扱います)" if frame.core else "オプション (時間があれば)"))
    box = '!!! abstract "このステージのゴール"\n\n' + _indent("\n".join(facts))
    return f'<div class="{INTRO_CLASS}" data-stage="{stage.id}" markdown>\n\n{box}\n\n</div>\n'


def outro_markdown(lab: Lab, stage: Stage, link: Link) -> str:
    """まとめ, 確認問題 (answers folded), やってみよう (hint and solution folded), うまくいかないとき."""
    frame = stage.frame
    user = lab.variables.resolve()["LAB_USER"]  # the learner whose values the sample outputs show
    parts: list[str] = []
    if frame.recap:
        parts.append("## まとめ\n\n" + "\n".join(f"- {_text(point, link)}" for point in frame.recap))
    if frame.questions:
        section = ["## 確認問題"]
        for number, q in enumerate(frame.questions, start=1):
            section.append(f"**問 {number}.** {_text(q.question, link)}")
            section.append('??? note "答え"\n\n' + _indent(_text(q.answer, link)))
        parts.append("\n\n".join(section))
    if exercise := frame.exercise:
        section = [f"## やってみよう: {html.escape(exercise.title, quote=False)}", _text(exercise.task, link)]
        if exercise.hint:
            section.append('??? tip "ヒント"\n\n' + _indent(_text(exercise.hint, link)))
        solution = "\n".join(step_markdown(lab, step, link, user) for step in exercise.solution)
        section.append('??? example "解答例 (最後の手順でステージの終わりの状態に戻します)"\n\n' + _indent(solution))
        parts.append("\n\n".join(section))
    if frame.troubleshooting:
        section = ["## うまくいかないとき"]
        for trouble in frame.troubleshooting:
            symptom = html.escape(join_lines(trouble.symptom)).replace("`", "")
            body = (f"**よくある原因**: {_text(trouble.cause, link)}\n\n"
                    f"**確かめるコマンド** (読み取りだけです):\n\n{step_markdown(lab, trouble.look, link, user)}\n"
                    f"**対処**: {_text(trouble.fix, link)}")
            section.append(f'!!! failure "症状: {symptom}"\n\n{_indent(body)}')
        parts.append("\n\n".join(section))
    # A marker, not a wrapper: tabs inside a `markdown` div inside a tab or admonition do not render.
    marker = f'<div class="{OUTRO_CLASS}" data-stage="{stage.id}"></div>'
    return "\n\n".join([marker, *parts]) + "\n"


def placement_problem(page: str, markdown: str, intro: str | None, outro: str | None) -> str | None:
    """Why a stage page's frame is not where it belongs: ``stage_intro()`` right after the H1, ``stage_outro()``
    as the last thing on the page (``markdown`` is the page after its macros ran, front matter removed)."""
    if intro is None or outro is None:
        missing = " and ".join(f"{{{{ {name}() }}}}" for name, text in (("stage_intro", intro), ("stage_outro", outro))
                               if text is None)
        return (f"{page}: a stage page shows the teaching frame: add {missing} "
                "({{ stage_intro() }} right after the H1, {{ stage_outro() }} as the last line)")
    lines = markdown.lstrip("\n").split("\n", 1)
    if not lines[0].startswith("# ") or len(lines) < 2 or not lines[1].lstrip("\n").startswith(intro.strip()):
        return f"{page}: put {{{{ stage_intro() }}}} right after the page's H1 (the '# ...' line)"
    if not markdown.rstrip().endswith(outro.rstrip()):
        return f"{page}: put {{{{ stage_outro() }}}} as the last line of the page"
    return None
