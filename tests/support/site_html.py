"""Reading the built site: the blocks each page shows, by the ref the macros put on them."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import yaml

from handbook.platforms import DEFAULT_PLATFORM

_BLOCK = re.compile(r'<div class="lab-step[^"]*"(?P<attrs>[^>]*)>')
_ATTR = re.compile(r'data-(?P<name>ref|kind|group|platform|repeat-of)="(?P<value>[^"]+)"')
_UNCONFIRMED = re.compile(r'<p class="lab-unconfirmed">(?P<inner>.*?)</p>', re.DOTALL)
_CODE = re.compile(r"<pre[^>]*>(?:<span></span>)?<code[^>]*>(?P<inner>.*?)</code>", re.DOTALL)
_ONLY = re.compile(
    r'<div class="lab-only(?P<missing> lab-only-missing)?" (?P<attrs>[^>]*)>\s*<p[^>]*>(?P<inner>.*?)</p>', re.DOTALL
)


def code_text(fragment: str) -> str:
    """What a copy button copies: the code element's text, without its trailing newline."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).rstrip("\n")


def tabbed_blocks(page_html: str) -> list[dict[str, str]]:
    """Every lab block on a built page, in order: {"ref", "kind", "platform" ("" outside tabs), "text",
    "output", "unconfirmed", "group", "folded", "repeat_of"}. A group's block (``steps(...)``) has its first step's ref;
    "group" lists its step ids."""
    blocks: list[dict[str, str]] = []
    starts = list(_BLOCK.finditer(page_html))
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(page_html)
        body = page_html[match.end() : end]
        codes = [code_text(m.group("inner")) for m in _CODE.finditer(body)]
        attrs = {m.group("name"): m.group("value") for m in _ATTR.finditer(match.group("attrs"))}
        entry = {"ref": attrs["ref"], "kind": attrs["kind"], "platform": attrs.get("platform", ""),
                 "text": codes[0] if codes else "", "output": "", "unconfirmed": "",
                 "group": attrs.get("group", ""), "folded": "yes" if "lab-folded" in match.group(0) else "",
                 "repeat_of": attrs.get("repeat-of", "")}
        if 'class="lab-output"' in body and len(codes) > 1:
            entry["output"] = codes[1]
            entry["output_block"] = body[body.index('class="lab-output"') :]
        if note := _UNCONFIRMED.search(body):
            entry["unconfirmed"] = code_text(note.group("inner"))
        blocks.append(entry)
    return blocks


def page_blocks(page_html: str, platform: str = DEFAULT_PLATFORM) -> dict[str, dict[str, str]]:
    """ref -> {"kind", "text", "output", "unconfirmed"} for every lab block a reader of ``platform`` sees:
    the blocks outside tabs and those in ``platform``'s tab."""
    return {b["ref"]: b for b in tabbed_blocks(page_html) if b["platform"] in ("", platform)}


def only_notes(page_html: str) -> list[dict[str, str]]:
    """The tabs that show, instead of a block, why a step exists on another platform only."""
    found = []
    for match in _ONLY.finditer(page_html):
        attrs = {m.group("name"): m.group("value") for m in _ATTR.finditer(match.group("attrs"))}
        found.append({**attrs, "text": code_text(match.group("inner")), "missing": bool(match.group("missing"))})
    return found


def heredoc_lines(text: str) -> int:
    """Lines of manifest text inside a block's heredocs (``<<EOF`` ... ``EOF``)."""
    count, inside = 0, False
    for line in text.splitlines():
        if inside:
            inside = line != "EOF"
            count += inside
        elif line.rstrip().endswith("<<EOF"):
            inside = True
    return count


def visible_manifest_lines(page_html: str) -> int:
    """Lines of YAML a reader sees on a page without unfolding anything (lab blocks that are not folded)."""
    return sum(heredoc_lines(b["text"]) for b in page_blocks(page_html).values() if not b["folded"])


def stage_pages(docs: Path) -> dict[str, str]:
    """stage id -> the page's source name (without .md), from the pages' front matter."""
    pages: dict[str, str] = {}
    for path in sorted(docs.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        if text.startswith("---\n"):
            meta = yaml.safe_load(text.split("---\n", 2)[1]) or {}
            if meta.get("stage"):
                pages[meta["stage"]] = path.stem
    return pages


def built_page(site: Path, stem: str) -> str:
    path = site / ("index.html" if stem == "index" else f"{stem}/index.html")
    return path.read_text(encoding="utf-8")


# Every element a page may contain: HTML's (WHATWG living standard) and the SVG that Material inlines.
HTML_ELEMENTS = frozenset("""
a abbr address area article aside audio b base bdi bdo blockquote body br button canvas caption cite code col
colgroup data datalist dd del details dfn dialog div dl dt em embed fieldset figcaption figure footer form h1 h2
h3 h4 h5 h6 head header hgroup hr html i iframe img input ins kbd label legend li link main map mark menu meta
meter nav noscript object ol optgroup option output p picture pre progress q rp rt ruby s samp script search
section select slot small source span strong style sub summary sup table tbody td template textarea tfoot th
thead time title tr track u ul var video wbr
svg path g circle rect line polyline polygon ellipse defs use symbol title desc clippath lineargradient stop
""".split())


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def element_names(page_html: str) -> list[str]:
    parser = _Elements()
    parser.feed(page_html)
    return parser.tags


class _Prose(HTMLParser):
    """The text a reader reads as prose: no code blocks, scripts, attributes, comments or file names.

    Code spans (``<code>`` outside ``<pre>``) stay: a step id in backticks is still a step id in the prose.
    """

    SKIP = frozenset({"pre", "script", "style", "template", "svg", "head", "textarea"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skipping: str | None = None  # the tag of the element being skipped
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            self.depth += tag == self.skipping
            return
        classes = (dict(attrs).get("class") or "").split()
        if tag in self.SKIP or "filename" in classes:  # a block's title is the name of its manifest file
            self.skipping, self.depth = tag, 1

    def handle_endtag(self, tag: str) -> None:
        if self.skipping == tag:
            self.depth -= 1
            if self.depth == 0:
                self.skipping = None

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def prose_text(page_html: str) -> str:
    """The visible text of a built page outside code blocks (code spans included)."""
    parser = _Prose()
    parser.feed(page_html)
    return "".join(parser.parts)


_ID = re.compile(r'\sid="([^"]+)"')
_HREF = re.compile(r'<a\s[^>]*href="(?P<href>[^"]*#step-[^"]+)"')


def element_ids(page_html: str) -> set[str]:
    return set(_ID.findall(page_html))


def step_links(page_html: str) -> list[str]:
    """Every link to a step's block (``#step-...``), as written in the page."""
    return [html.unescape(m.group("href")) for m in _HREF.finditer(page_html)]
