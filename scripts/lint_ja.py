#!/usr/bin/env python3
"""textlint over the handbook's Japanese: every docs/*.md page and every Japanese
comment and value in manifests/**/*.yaml, with each finding reported at file:line:column of the
original (handbook/textlint_sources.py writes the copies textlint reads and maps them back).

    python3 scripts/lint_ja.py              # findings; exit 1 when there is one
    python3 scripts/lint_ja.py --summary    # ... and how many per rule
    python3 scripts/lint_ja.py --fix        # apply textlint's automatic fixes (prh and others) to the originals
    python3 scripts/lint_ja.py FILE...      # only these files

textlint and its rules are pinned in package.json / package-lock.json (``npm ci``, run by ``make setup``);
the rules and the reasons for each setting are in .textlintrc.json, the lab's terms in tools/textlint/prh.yml.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from handbook.textlint_sources import Copy, Origin, page_text, yaml_text  # noqa: E402

TEXTLINT = REPO / "node_modules" / ".bin" / "textlint"
CONFIG = REPO / ".textlintrc.json"


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    column: int
    rule: str
    message: str
    fix: tuple[int, int, str] | None  # (start column, end column, text) on the original line, 1-based columns

    def __str__(self) -> str:
        where = self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path
        return f"{where}:{self.line}:{self.column}: {self.rule}: {self.message.splitlines()[0]}"


def default_files() -> list[Path]:
    pages = sorted((REPO / "docs").glob("*.md"))
    manifests = sorted(p for p in (REPO / "manifests").rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    return pages + manifests


def copies(files: list[Path]) -> list[Copy]:
    made = []
    for index, path in enumerate(files):
        if path.suffix == ".md":
            made.append(page_text(path, f"{index:03d}-{path.stem}.md"))
        elif path.suffix in (".yaml", ".yml"):
            made.append(yaml_text(path, f"{index:03d}-{path.stem}.yaml.md"))
        else:
            raise SystemExit(f"lint_ja: {path}: only .md, .yaml and .yml files are linted")
    return [c for c in made if any(c.origins)]


def run_textlint(workdir: Path, made: list[Copy]) -> list[dict]:
    if not TEXTLINT.exists():
        raise SystemExit(f"lint_ja: {TEXTLINT.relative_to(REPO)} is missing: run `make setup` (it runs `npm ci`)")
    for copy in made:
        (workdir / copy.name).write_text(copy.text, encoding="utf-8")
    result = subprocess.run(  # noqa: S603 - fixed argv
        [str(TEXTLINT), "--config", str(CONFIG), "--format", "json", *(copy.name for copy in made)],
        cwd=workdir, capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "NODE_PATH": str(REPO / "node_modules")},
    )
    if result.returncode not in (0, 1) or not result.stdout.strip().startswith("["):
        raise SystemExit(f"lint_ja: textlint failed (exit {result.returncode}):\n{result.stderr or result.stdout}")
    return json.loads(result.stdout)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _position(copy: Copy, offset: int) -> tuple[int, int]:
    """textlint's offset into the copy (JavaScript counts UTF-16 units) as (0-based line, 0-based column)."""
    for line, text in enumerate(copy.lines):
        if offset <= _utf16(text):
            column = 0
            while column < len(text) and _utf16(text[:column + 1]) <= offset:
                column += 1
            return line, column
        offset -= _utf16(text) + 1
    return len(copy.lines) - 1, 0


def findings(made: list[Copy], reports: list[dict]) -> list[Finding]:
    by_name = {copy.name: copy for copy in made}
    found: list[Finding] = []
    for report in reports:
        copy = by_name[Path(report["filePath"]).name]
        for message in report["messages"]:
            # The start of the reported range is exact; some rules' line/column point at the paragraph.
            start = (message.get("range") or [message.get("index", 0)])[0]
            line, column = _position(copy, start) if "range" in message or "index" in message else (
                message["line"] - 1, message["column"] - 1)
            origin: Origin | None = copy.origins[min(line, len(copy.origins) - 1)]
            if origin is None:  # a filler line: nothing of the original to point at
                continue
            fix = None
            if message.get("fix"):
                start, end = message["fix"]["range"]
                (line_a, col_a), (line_b, col_b) = _position(copy, start), _position(copy, end)
                if line_a == line_b and copy.origins[line_a] == origin:
                    fix = (col_a + origin.shift + 1, col_b + origin.shift + 1, message["fix"]["text"])
            found.append(Finding(origin.path, origin.line, column + origin.shift + 1,
                                 message["ruleId"], message["message"], fix))
    return sorted(found, key=lambda f: (str(f.path), f.line, f.column))


def apply_fixes(found: list[Finding]) -> int:
    """Write every single-line fix into its original file (right to left on a line); the number applied."""
    applied = 0
    for path in sorted({f.path for f in found if f.fix}):
        lines = path.read_text(encoding="utf-8").split("\n")
        fixes = sorted({(f.line, *f.fix) for f in found if f.path == path and f.fix}, reverse=True)
        last: tuple[int, int] = (0, 0)
        for line, start, end, text in fixes:
            if (line, end) > last and last[0] == line:
                continue  # overlaps a fix already applied on this line
            lines[line - 1] = lines[line - 1][: start - 1] + text + lines[line - 1][end - 1:]
            last = (line, start)
            applied += 1
        path.write_text("\n".join(lines), encoding="utf-8")
    return applied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="files to lint (default: docs, manifests)")
    parser.add_argument("--fix", action="store_true", help="apply textlint's automatic fixes to the originals")
    parser.add_argument("--summary", action="store_true", help="print the number of findings per rule")
    args = parser.parse_args(argv)
    files = [p.resolve() for p in args.files] or default_files()
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise SystemExit(f"lint_ja: no such file: {', '.join(missing)}")
    made = copies(files)
    with tempfile.TemporaryDirectory(prefix="lint-ja-") as workdir:
        found = findings(made, run_textlint(Path(workdir), made))
    if args.fix:
        applied = apply_fixes(found)
        print(f"lint_ja: applied {applied} automatic fix(es); run it again to see what is left")
        return 0
    for finding in found:
        print(finding)
    if args.summary or found:
        counts = Counter(f.rule for f in found)
        print(f"lint_ja: {len(found)} finding(s) in {len(files)} file(s)"
              + "".join(f"\n  {n:4d} {rule}" for rule, n in counts.most_common()))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
