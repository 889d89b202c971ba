"""Reading the built site: the blocks each page shows, by the ref the macros put on them."""

from __future__ import annotations

import html
import re
from pathlib import Path

import yaml

_BLOCK = re.compile(r'<div class="lab-step[^"]*"(?P<attrs>[^>]*)>')
_ATTR = re.compile(r'data-(?P<name>ref|kind)="(?P<value>[^"]+)"')
_UNCONFIRMED = re.compile(r'<p class="lab-unconfirmed">(?P<inner>.*?)</p>', re.DOTALL)
_CODE = re.compile(r"<pre[^>]*>(?:<span></span>)?<code[^>]*>(?P<inner>.*?)</code>", re.DOTALL)


def code_text(fragment: str) -> str:
    """What a copy button copies: the code element's text, without its trailing newline."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).rstrip("\n")


def page_blocks(page_html: str) -> dict[str, dict[str, str]]:
    """ref -> {"kind", "text", "output", "unconfirmed"} for every lab block on a built page."""
    blocks: dict[str, dict[str, str]] = {}
    starts = list(_BLOCK.finditer(page_html))
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(page_html)
        body = page_html[match.end() : end]
        codes = [code_text(m.group("inner")) for m in _CODE.finditer(body)]
        attrs = {m.group("name"): m.group("value") for m in _ATTR.finditer(match.group("attrs"))}
        entry = {"kind": attrs["kind"], "text": codes[0] if codes else "", "output": "", "unconfirmed": ""}
        if 'class="lab-output"' in body and len(codes) > 1:
            entry["output"] = codes[1]
            entry["output_block"] = body[body.index('class="lab-output"') :]
        if note := _UNCONFIRMED.search(body):
            entry["unconfirmed"] = code_text(note.group("inner"))
        blocks[attrs["ref"]] = entry
    return blocks


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
