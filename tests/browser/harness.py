"""Helpers for the browser tests: the site build, a local server, and a page that records what it does.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright's Python API; Playwright's own
browser download is never used.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("HANDBOOK_CHROMIUM", "/usr/bin/chromium"))
# As the machine notes prescribe for root in this closed network: no background connections,
# no first-run work, no QUIC; Playwright adds a new empty profile (--user-data-dir) itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"

# Material renders each diagram into a *closed* shadow root; open them so the tests can read the SVG.
OPEN_SHADOW_ROOTS = """
(() => {
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    return attach.call(this, Object.assign({}, init, { mode: "open" }));
  };
})();
"""


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return (
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), "
            "or point HANDBOOK_CHROMIUM at a Chromium binary"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed in this environment (pip install playwright)"
    return None


def require_browser() -> None:
    """Skip with the reason locally; fail in CI (CI=true), where a missing browser is a setup bug."""
    reason = browser_unavailable()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def build_site(out: Path, *, offline: bool = False) -> Path:
    """`mkdocs build --strict` of the repository into ``out``; fails the test with mkdocs' output."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    env.pop("OFFLINE", None)
    if offline:
        env["OFFLINE"] = "true"
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml"), "-d", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"mkdocs build failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    if not (out / "assets" / "vendor" / "mermaid" / "mermaid.min.js").is_file():
        pytest.fail(
            "the built site has no assets/vendor/mermaid/mermaid.min.js: run `python3 scripts/fetch_assets.py` "
            "before building (it fills overrides/assets/vendor/)",
            pytrace=False,
        )
    return out


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 at a free port; yields the base URL (with a trailing slash)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"


@dataclass
class Recorder:
    """Every request, console error and uncaught exception of one browser context."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, context: Any) -> None:
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("console", self._console)
        context.on("weberror", lambda error: self.errors.append(f"uncaught: {error.error}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.errors.append(f"console.error: {message.text} ({where})")

    def foreign(self, allowed: set[str]) -> list[str]:
        """Requests that left the allowed origins (``data:`` and ``blob:`` never leave the page)."""
        return [u for u in self.requests if origin(u) not in allowed | {"data:", "blob:", "about:"}]

    def clear(self) -> None:
        self.requests.clear()
        self.errors.clear()


@contextmanager
def browser_context(browser: Any, base_url: str | None = None, **options: Any) -> Iterator[tuple[Any, Recorder]]:
    """A fresh context (empty storage) with shadow roots opened and everything recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP", **options)
    if base_url is not None:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url.rstrip("/"))
    context.add_init_script(OPEN_SHADOW_ROOTS)
    recorder = Recorder()
    recorder.attach(context)
    try:
        yield context, recorder
    finally:
        context.close()


# --- what the site should show, derived from the built pages and the handbook ---------------------

_MAIN = re.compile(r'<article class="md-content__inner md-typeset">(?P<body>.*?)</article>', re.DOTALL)
_MERMAID = re.compile(r'<pre class="mermaid"><code>(?P<source>.*?)</code></pre>', re.DOTALL)
_QUOTED = re.compile(r'"([^"]*)"')
_EDGE = re.compile(r"\|([^|]+)\|")
_PARTICIPANT = re.compile(r"\s*(?:participant|actor)\s+\S+\s+as\s+(?P<label>.+?)\s*$")
_MESSAGE = re.compile(r"\s*(?:Note\s+(?:over|left of|right of)\s+[^:]+|[^:]*?-[->)x]+\+?-?[^:]*):\s*(?P<text>.+?)\s*$")
_DIAGRAM_CALL = re.compile(r"""diagram\(\s*["']([^"']+)["']\s*(?:,\s*after\s*=\s*["']([^"']+)["']\s*)?\)""")


def page_text(page_html: str) -> str:
    """The article's visible text (tags dropped), for "does this page mention X"."""
    match = _MAIN.search(page_html)
    body = match.group("body") if match else page_html
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def mermaid_sources(page_html: str) -> list[str]:
    return [html.unescape(m.group("source")) for m in _MERMAID.finditer(page_html)]


def diagram_calls(markdown: str) -> list[tuple[str, str | None]]:
    """(name, after) of every diagram("name") or diagram("name", after="step-id") call; after is None when absent."""
    return [(name, after or None) for name, after in _DIAGRAM_CALL.findall(markdown)]


def mermaid_labels(source: str) -> list[str]:
    """The text a reader must see in the rendered diagram.

    Flowcharts: quoted node labels and |edge| labels. Sequence diagrams: participant aliases,
    message texts and notes.
    """
    labels: list[str] = []
    if source.lstrip().startswith("sequenceDiagram"):
        for line in source.splitlines():
            if alias := _PARTICIPANT.match(line):
                labels.append(alias.group("label"))
            elif text := _MESSAGE.match(line):
                labels.append(text.group("text"))
    else:
        labels += _QUOTED.findall(source)
        for line in source.splitlines():
            labels += [m for m in _EDGE.findall(line) if '"' not in m]
    lines = [_entities(part).strip() for label in labels for part in re.split(r"<br\s*/?>", label)]
    return [line for line in dict.fromkeys(lines) if line]


def _entities(text: str) -> str:
    """Mermaid's entity codes: #59; (decimal) and #quot; (an HTML entity name)."""
    text = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), text)
    return re.sub(r"#([A-Za-z]+);", lambda m: html.unescape(f"&{m.group(1)};"), text)


def site_pages(site: Path) -> dict[str, Path]:
    """Page stem ("index", "stage-1", ...) -> its built HTML file, for every page of a served build."""
    pages = {"index": site / "index.html"}
    for path in sorted(site.glob("*/index.html")):
        if path.parent.name not in ("assets", "search"):
            pages[path.parent.name] = path
    return pages


def page_url(base_url: str, stem: str) -> str:
    return base_url if stem == "index" else f"{base_url}{stem}/"


def save_screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_for_diagrams(page: Any, count: int, timeout: float = 30_000) -> None:
    """Until Material has replaced every ``pre.mermaid`` with a rendered SVG."""
    if count == 0:
        return
    page.wait_for_function(
        """(count) => document.querySelectorAll("pre.mermaid").length === 0 &&
            [...document.querySelectorAll("div.mermaid")].filter(
              (d) => d.shadowRoot && d.shadowRoot.querySelector("svg")).length === count""",
        arg=count,
        timeout=timeout,
    )

