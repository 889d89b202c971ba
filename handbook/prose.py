"""Text from stage.yaml that a page shows as prose: manual steps, escaped, with links and the reader's values.

A manual step is Markdown written by a person. Three things in it are handled before Markdown sees it:

- ``<`` ``>`` ``&`` outside code become entities, so ``<SHOP_HOST の値>`` is text, never an element;
- ``<NAME の値>`` and ``${NAME}`` (outside code) become a ``span.lab-value`` that the reader's values
  form fills in (docs/assets/javascripts/handbook.js), with the placeholder itself as the fallback;
- ``[words](step:ID)`` links to the block of step ID of the same stage (``#step-ID``); an unknown ID
  is a definition error.

Indented code blocks and backtick code spans are left alone: Markdown escapes them itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable

from .variables import REFERENCE

STEP_LINK = re.compile(r"\[(?P<words>[^\]\n]+)\]\(step:(?P<id>[a-z0-9][a-z0-9-]*)\)")
PLACEHOLDER = re.compile(r"<(?P<name>[A-Z][A-Z0-9_]*) の値>")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.DOTALL)


def step_anchor(step_id: str) -> str:
    """The HTML id of a step's block on its page."""
    return f"step-{step_id}"


def linked_steps(text: str) -> list[str]:
    """The step ids that ``text`` links to with ``[words](step:ID)``."""
    return [m.group("id") for m in STEP_LINK.finditer(text)]


def plain_text(text: str) -> str:
    """``text`` with step links reduced to their words (for the comments of a dry run)."""
    return STEP_LINK.sub(lambda m: m.group("words"), text)


def value_span(name: str, fallback: str) -> str:
    """Where the values form shows the reader's value of ``name``; ``fallback`` (already escaped) until then."""
    return f'<span class="lab-value" data-var="{name}">{fallback}</span>'


def _prose(text: str, link: Callable[[str, str], str]) -> str:
    """One stretch of prose outside code: links, values, and everything else escaped."""
    out: list[str] = []
    position = 0
    tokens = sorted(
        [*STEP_LINK.finditer(text), *PLACEHOLDER.finditer(text), *REFERENCE.finditer(text)],
        key=lambda m: m.start(),
    )
    for match in tokens:
        if match.start() < position:
            continue  # inside a link's words
        out.append(html.escape(text[position : match.start()], quote=False))
        if match.re is STEP_LINK:
            out.append(link(match.group("id"), _prose(match.group("words"), link)))
        else:
            name = match.group("name") if match.re is PLACEHOLDER else match.group(1)
            out.append(value_span(name, html.escape(match.group(0), quote=False)))
        position = match.end()
    out.append(html.escape(text[position:], quote=False))
    return "".join(out)


def _line(line: str, link: Callable[[str, str], str]) -> str:
    out: list[str] = []
    position = 0
    for span in _CODE_SPAN.finditer(line):
        out.append(_prose(line[position : span.start()], link))
        out.append(span.group(0))
        position = span.end()
    out.append(_prose(line[position:], link))
    return "".join(out)


def _code_lines(lines: list[str]) -> set[int]:
    """Indices of the lines of indented code blocks (four spaces, after a blank line or more code)."""
    code: set[int] = set()
    for i, line in enumerate(lines):
        if line.startswith(("    ", "\t")) and (i == 0 or not lines[i - 1].strip() or (i - 1) in code):
            code.add(i)
    return code


def manual_markdown(text: str, link: Callable[[str, str], str]) -> str:
    """A manual step's text, safe for Markdown: see the module's docstring.

    ``link(step_id, words_markdown)`` returns the Markdown of a link to that step (it raises for an unknown id).
    """
    lines = text.splitlines()
    code = _code_lines(lines)
    return "\n".join(line if i in code else _line(line, link) for i, line in enumerate(lines))


def unknown_links(text: str, known: Iterable[str]) -> list[str]:
    ids = set(known)
    return [step_id for step_id in linked_steps(text) if step_id not in ids]
