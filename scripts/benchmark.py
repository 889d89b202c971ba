#!/usr/bin/env python3
"""Measure the built handbook: page weight, build time, what the macros cost, and apply.py's speed.

    .venv/bin/python scripts/benchmark.py [--runs 3] [--json out.json] [--no-browser] [--no-cluster]

A benchmark, not a test: it prints numbers and fails only when something cannot be measured.

* bytes per page: each page loaded in a fresh Chromium context (empty cache) from a local
  server, summing response headers and bodies of every request (Playwright ``request.sizes()``);
  without Chromium, or with --no-browser, only the static estimate (the page plus every file its
  HTML names, plus the search worker and index that Material's JavaScript loads) is given.
* cold build: the first `mkdocs build` of this run, in a new process, into an empty directory;
  warm build: the median of the next --runs builds into the same directory.
* macros' share: every page is rendered once with the macros (a capture hook writes each page's
  Markdown after mkdocs-macros ran), the expanded pages go to a temporary docs folder, and that
  folder is built with the macros plugin removed. share = 1 - expanded / with_macros, medians of
  --runs builds each. The two builds' pages are compared, so the ratio compares equal output.
  build ratio = with_macros / expanded: the warm strict build against plain MkDocs building the
  same pages already expanded (goal: 1.3).
* apply.py's warm dry run of stage 8, and 30 users against 1 on a local API server: see
  scripts/benchmark_speed.py (--no-cluster leaves the users out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from benchmark_speed import measure_dry_run, measure_users, print_speed

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mkdocs.utils.yaml import get_yaml_loader  # noqa: E402

from tests.browser.harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    OPEN_SHADOW_ROOTS,
    browser_unavailable,
    mermaid_sources,
    page_url,
    serve,
    site_pages,
    wait_for_diagrams,
)

CAPTURE_HOOK = '''
"""Benchmark hook: write each page's Markdown as mkdocs-macros left it, with its front matter."""
import os
from pathlib import Path

import yaml


def on_page_markdown(markdown, page, config, files):
    out = Path(os.environ["HANDBOOK_CAPTURE_DIR"]) / page.file.src_path
    out.parent.mkdir(parents=True, exist_ok=True)
    head = "---\\n" + yaml.safe_dump(dict(page.meta), allow_unicode=True) + "---\\n\\n" if page.meta else ""
    out.write_text(head + markdown, encoding="utf-8")
    return markdown
'''

BUILD_RATIO_GOAL = 1.3
VALIDATION_LINE = re.compile(r"handbook: \d+ manifest documents \w+ \((?P<seconds>[0-9.]+)s\)")


def mkdocs_build(config: Path, site: Path, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Seconds for one `mkdocs build --strict` in a new process, and its log."""
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent, env=dict(os.environ, NO_MKDOCS_2_WARNING="1", **(env or {})),
        capture_output=True, text=True, timeout=900, check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"mkdocs build -f {config} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout + result.stderr


def project_copy(workdir: Path, *, docs: Path, plugins: list[Any] | None, hooks: list[str] | None) -> Path:
    """A config that inherits mkdocs.yml, with its own docs folder and plugin list.

    MkDocs resolves custom_dir and the macros module relative to the config file, so the theme
    overrides and macros are linked next to it.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    for name in ("overrides", "macros"):
        link = workdir / name
        if not link.exists():
            link.symlink_to(REPO / name, target_is_directory=True)
    config: dict[str, Any] = {"INHERIT": str(REPO / "mkdocs.yml"), "docs_dir": str(docs)}
    if plugins is not None:
        config["plugins"] = plugins
    if hooks:
        config["hooks"] = hooks
    path = workdir / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def plugins_without_macros() -> list[Any]:
    with (REPO / "mkdocs.yml").open(encoding="utf-8") as handle:
        config = yaml.load(handle, Loader=get_yaml_loader())  # noqa: S506 - mkdocs' own loader, our own file
    kept = []
    for entry in config.get("plugins", []):
        name = entry if isinstance(entry, str) else next(iter(entry))
        if name != "macros":
            kept.append(entry)
    return kept


def page_digests(site: Path) -> dict[str, str]:
    return {
        stem: hashlib.sha256(path.read_bytes()).hexdigest() for stem, path in site_pages(site).items()
    }


def measure_builds(runs: int, work: Path) -> dict[str, Any]:
    config = project_copy(work / "plain", docs=REPO / "docs", plugins=None, hooks=None)
    site = work / "site"
    cold, log = mkdocs_build(config, site)
    warm_runs = [mkdocs_build(config, site)[0] for _ in range(runs)]
    validation = [float(m.group("seconds")) for m in VALIDATION_LINE.finditer(log)]

    capture_dir = work / "expanded-md"
    hook = work / "capture_hook.py"
    hook.write_text(CAPTURE_HOOK, encoding="utf-8")
    capture_config = project_copy(work / "capture", docs=REPO / "docs", plugins=None, hooks=[str(hook)])
    mkdocs_build(capture_config, work / "capture-site", {"HANDBOOK_CAPTURE_DIR": str(capture_dir)})

    expanded_docs = work / "expanded-docs"
    shutil.copytree(REPO / "docs", expanded_docs, ignore=shutil.ignore_patterns("*.md"))
    for page in capture_dir.rglob("*.md"):
        target = expanded_docs / page.relative_to(capture_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, target)
    expanded_config = project_copy(work / "expanded", docs=expanded_docs, plugins=plugins_without_macros(), hooks=None)
    expanded_site = work / "expanded-site"
    expanded_runs = [mkdocs_build(expanded_config, expanded_site)[0] for _ in range(runs)]
    macro_runs = [mkdocs_build(config, site)[0] for _ in range(runs)]

    with_macros = statistics.median(macro_runs)
    expanded = statistics.median(expanded_runs)
    ours, theirs = page_digests(site), page_digests(expanded_site)
    return {
        "site": site,
        "cold_build_s": round(cold, 2),
        "warm_build_s": round(statistics.median(warm_runs), 2),
        "warm_build_runs_s": [round(t, 2) for t in warm_runs],
        "manifest_validation_s": validation[0] if validation else None,
        "with_macros_s": round(with_macros, 2),
        "expanded_without_macros_s": round(expanded, 2),
        "with_macros_runs_s": [round(t, 2) for t in macro_runs],
        "expanded_runs_s": [round(t, 2) for t in expanded_runs],
        "macros_share": round(1 - expanded / with_macros, 3),
        "build_ratio": round(with_macros / expanded, 2),
        "build_ratio_goal": BUILD_RATIO_GOAL,
        "identical_pages": sorted(s for s in ours if ours.get(s) == theirs.get(s)),
        "differing_pages": sorted(s for s in set(ours) | set(theirs) if ours.get(s) != theirs.get(s)),
    }


_REFERENCED = re.compile(r'<(?:script|img)[^>]*\bsrc="(?P<src>[^"]+)"|<link[^>]*\bhref="(?P<href>[^"]+)"')


def static_bytes(site: Path, page: Path) -> int:
    """The page plus the local files its HTML names, plus the search worker, lunr files and index."""
    total = page.stat().st_size
    seen: set[Path] = set()
    for match in _REFERENCED.finditer(page.read_text(encoding="utf-8")):
        ref = (match.group("src") or match.group("href") or "").split("#")[0].split("?")[0]
        if not ref or "://" in ref or ref.startswith(("data:", "mailto:")):
            continue
        target = (page.parent / ref).resolve()
        if target.is_file() and target not in seen and target.suffix in (".js", ".css", ".png", ".svg", ".ico"):
            seen.add(target)
            total += target.stat().st_size
    search = [*site.glob("assets/javascripts/workers/search.*.min.js"), site / "search" / "search_index.json"]
    lunr = site / "assets" / "javascripts" / "lunr"
    search += [lunr / "min" / "lunr.stemmer.support.min.js", lunr / "tinyseg.js", lunr / "min" / "lunr.ja.min.js"]
    return total + sum(p.stat().st_size for p in search if p.is_file())


def browser_bytes(site: Path) -> dict[str, dict[str, int]]:
    from playwright.sync_api import sync_playwright

    results: dict[str, dict[str, int]] = {}
    with serve(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for stem, path in site_pages(site).items():
                context = browser.new_context()
                context.add_init_script(OPEN_SHADOW_ROOTS)  # so wait_for_diagrams can see the SVGs
                requests: list[Any] = []
                context.on("requestfinished", lambda request, seen=requests: seen.append(request))
                page = context.new_page()
                page.goto(page_url(base, stem), wait_until="networkidle")
                wait_for_diagrams(page, len(mermaid_sources(path.read_text(encoding="utf-8"))))
                page.wait_for_load_state("networkidle")
                total = 0
                for request in requests:
                    sizes = request.sizes()
                    total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
                results[stem] = {"bytes": total, "requests": len(requests)}
                context.close()
        finally:
            browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="builds per measured configuration (default 3)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    parser.add_argument("--no-browser", action="store_true", help="static page weight only")
    parser.add_argument("--no-cluster", action="store_true", help="leave out 30 users against 1 on a local API server")
    args = parser.parse_args(argv)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)  # test-artifacts/ does not exist in a fresh clone

    with tempfile.TemporaryDirectory(prefix="handbook-bench-") as tmp:
        builds = measure_builds(args.runs, Path(tmp))
        site: Path = builds.pop("site")
        pages = {}
        for stem, path in site_pages(site).items():
            pages[stem] = {
                "diagrams": len(mermaid_sources(path.read_text(encoding="utf-8"))),
                "static_bytes": static_bytes(site, path),
            }
        reason = "--no-browser" if args.no_browser else browser_unavailable()
        if reason is None:
            for stem, measured in browser_bytes(site).items():
                pages[stem].update({"browser_bytes": measured["bytes"], "browser_requests": measured["requests"]})

    print("Page weight (bytes; browser = fresh cache, headers + bodies of every request)")
    print(f"  {'page':<12} {'diagrams':>8} {'browser':>12} {'requests':>8} {'static':>12}")
    for stem, row in pages.items():
        print(
            f"  {stem:<12} {row['diagrams']:>8} {row.get('browser_bytes', '-'):>12} "
            f"{row.get('browser_requests', '-'):>8} {row['static_bytes']:>12}"
        )
    key = "browser_bytes" if reason is None else "static_bytes"
    with_mermaid = [row[key] for row in pages.values() if row["diagrams"]]
    without = [row[key] for row in pages.values() if not row["diagrams"]]
    summary = {
        "measure": key,
        "median_with_mermaid": int(statistics.median(with_mermaid)) if with_mermaid else None,
        "median_without_mermaid": int(statistics.median(without)) if without else None,
    }
    if reason is not None:
        print(f"  (no browser measurement: {reason})")
    print(f"  median {key}: with Mermaid {summary['median_with_mermaid']}, without {summary['median_without_mermaid']}")
    print()
    print("Build (seconds, `mkdocs build --strict` in a new process)")
    for name in ("cold_build_s", "warm_build_s", "manifest_validation_s", "with_macros_s",
                 "expanded_without_macros_s", "macros_share", "build_ratio"):
        print(f"  {name:<28} {builds[name]}")
    print(f"  runs: warm {builds['warm_build_runs_s']}, with macros {builds['with_macros_runs_s']}, "
          f"expanded {builds['expanded_runs_s']}")
    if builds["differing_pages"]:
        print(f"  note: the expanded build's pages differ from the macro build for {builds['differing_pages']}")
    else:
        print(f"  the expanded build produced byte-identical pages ({len(builds['identical_pages'])} pages)")
    print(f"  build ratio (warm strict build / plain MkDocs on the expanded pages): {builds['build_ratio']} "
          f"(goal {BUILD_RATIO_GOAL}: {'met' if builds['build_ratio'] <= BUILD_RATIO_GOAL else 'NOT met'})")
    print()
    speed = measure_dry_run(args.runs)
    if not args.no_cluster:
        speed.update(measure_users())
    print_speed(speed)
    if args.json:
        report = {"pages": pages, "summary": summary, "builds": builds, "speed": speed}
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
