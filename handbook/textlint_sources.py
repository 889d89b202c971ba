"""The Japanese text of the pages and the manifests, as plain files textlint can read, with a map back.

textlint reads Markdown, not the handbook's Markdown: an admonition (``!!! note "title"``), a
collapsible block (``??? danger``) or a content tab (``=== "OpenShift"``) indents its body by four
spaces, which Markdown reads as a code block that textlint skips; macro calls (``{{ step("id") }}``)
read as text. ``page_text`` writes a copy in which each block's body is moved left, its title
becomes a heading, and every macro call becomes spaces. ``yaml_text`` takes the Japanese of a
manifest file: comments and scalar values that hold Japanese, one Markdown paragraph per value
(a title becomes a heading).

Every line of a copy remembers the file, line and column shift it came from (``Origin``), so a
finding or an automatic fix lands on the original line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff60]")
_BLOCK = re.compile(
    r'^(?P<indent> *)(?P<marker>!!!|\?\?\?\+?|===\+?)(?: +[\w-]+(?: +[\w-]+)*)?(?: +"(?P<title>[^"]*)")?\s*$'
)
_MACRO = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
# Values that are titles, not sentences (textlint checks them as headings).
_HEADINGS = {"title:", "- title:"}
_FENCE = re.compile(r"^ *(```|~~~)")
_YAML_VALUE = re.compile(
    r"""^(?P<prefix> *(?:- +)?(?:[A-Za-z0-9_.$/-]+: +)?)(?P<quote>["']?)(?P<text>.*?)(?P=quote) *$"""
)


@dataclass(frozen=True)
class Origin:
    """Where a line of a copy came from: ``column of the original = column of the copy + shift``."""

    path: Path
    line: int  # 1-based
    shift: int


@dataclass
class Copy:
    """One plain file for textlint: its text and, for each of its lines, the origin (None: filler)."""

    name: str
    lines: list[str]
    origins: list[Origin | None]

    def add(self, text: str, origin: Origin | None) -> None:
        self.lines.append(text)
        self.origins.append(origin)

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _blank_macros(line: str) -> str:
    return _MACRO.sub(lambda m: " " * len(m.group(0)), line)


def page_text(path: Path, name: str) -> Copy:
    """A Markdown copy of a page that textlint reads as a reader does (see the module docstring)."""
    copy = Copy(name, [], [])
    bodies: list[int] = []  # the indentation of each open block's body
    fenced = False
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        indent = len(raw) - len(raw.lstrip(" "))
        if raw.strip():
            while bodies and indent < bodies[-1]:
                bodies.pop()
        dedent = min(4 * len(bodies), indent) if raw.strip() else 0
        line = raw[dedent:]
        if _FENCE.match(line):
            fenced = not fenced
        block = None if fenced else _BLOCK.match(raw)
        if block:
            title = block.group("title") or ""
            if block.group("marker").startswith("===") or not title:
                copy.add("", None)  # a tab's name is a platform, not prose
            else:
                column = raw.index('"' + title + '"') + 1
                copy.add("#### " + title, Origin(path, number, column - 5))
            bodies.append(indent + 4)
            continue
        copy.add(line if fenced else _blank_macros(line), Origin(path, number, dedent))
    return copy


def yaml_text(path: Path, name: str) -> Copy:
    """The Japanese comments and values of a YAML file, one paragraph per comment run or value."""
    copy = Copy(name, [], [])
    previous_kind = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not JAPANESE.search(raw):
            previous_kind = ""
            continue
        stripped = raw.lstrip(" ")
        if stripped.startswith("#"):
            start = len(raw) - len(stripped) + 1
            start += len(raw[start:]) - len(raw[start:].lstrip(" "))
            kind, text, column = "comment", raw[start:], start
        else:
            comment = _trailing_comment(raw)
            if comment is not None and JAPANESE.search(raw[comment:]):
                start = comment + 1 + len(raw[comment + 1:]) - len(raw[comment + 1:].lstrip(" "))
                _paragraph(copy)
                copy.add(raw[start:], Origin(path, number, start))
                raw = raw[:comment].rstrip()
                if not JAPANESE.search(raw):
                    previous_kind = ""
                    continue
            match = _YAML_VALUE.match(raw)
            assert match is not None  # the pattern matches every line
            column = match.start("text")
            text = match.group("text")
            starts_value = bool(match.group("prefix").strip())
            kind = "value" if starts_value or previous_kind != "continued" else "continued"
        if kind != "continued" and not (kind == "comment" and previous_kind == "comment"):
            _paragraph(copy)
        if kind == "value" and match.group("prefix").strip() in _HEADINGS:
            copy.add("#### " + text, Origin(path, number, column - 5))  # a title is a heading: no 。
            copy.add("", None)
            previous_kind = ""
            continue
        copy.add(text, Origin(path, number, column))
        previous_kind = "comment" if kind == "comment" else "continued"
    return copy


def _paragraph(copy: Copy) -> None:
    if copy.lines and copy.lines[-1] != "":
        copy.add("", None)


def _trailing_comment(line: str) -> int | None:
    """The index of a `` #`` comment outside quotes, or None."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and index > 0 and line[index - 1] == " ":
            return index
    return None
