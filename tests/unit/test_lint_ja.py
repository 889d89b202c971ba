"""scripts/lint_ja.py: the Japanese of pages and manifests reaches textlint, and findings map back to file:line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from handbook.textlint_sources import page_text, yaml_text

REPO = Path(__file__).resolve().parents[2]
TEXTLINT = REPO / "node_modules" / ".bin" / "textlint"

PAGE = """# 見出し

{{ step("create-project") }}

!!! note "コンテナーの話"
    admonition の中の文です。ブラウザーで開きます。

本文の文です。
"""

MANIFEST = """title: コンテナーを動かす
summary: >-
  一行目の文は
  二行目で終わります。
steps:
  # ブラウザーで確かめます。
  - id: x
    run: [oc, get, pods]  # メモリの話です。
"""


def test_a_page_copy_reads_admonition_bodies_and_drops_macros(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(PAGE, encoding="utf-8")
    copy = page_text(page, "page.md")
    assert copy.lines[2].strip() == "", "a macro call becomes spaces"
    assert copy.lines[4] == "#### コンテナーの話"
    assert copy.lines[5] == "admonition の中の文です。ブラウザーで開きます。", "the body is no longer a code block"
    origin = copy.origins[5]
    assert origin is not None and origin.line == 6 and origin.shift == 4
    title = copy.origins[4]
    assert title is not None and PAGE.splitlines()[3 + 1][title.shift + 5:].startswith("コンテナー")


def test_a_manifest_copy_holds_its_japanese_only_with_origins(tmp_path: Path) -> None:
    manifest = tmp_path / "stage.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    copy = yaml_text(manifest, "stage.yaml.md")
    text = [line for line in copy.lines if line]
    assert text == ["#### コンテナーを動かす", "一行目の文は", "二行目で終わります。",
                    "ブラウザーで確かめます。", "メモリの話です。"]
    lines = MANIFEST.splitlines()
    for line, origin in zip(copy.lines, copy.origins, strict=True):
        if origin is not None:
            shown = line.removeprefix("#### ")
            column = origin.shift + len(line) - len(shown)
            assert lines[origin.line - 1][column:].startswith(shown), (line, origin)
    # The two lines of the folded value are one paragraph (no blank line between them).
    index = copy.lines.index("一行目の文は")
    assert copy.lines[index + 1] == "二行目で終わります。"


needs_textlint = pytest.mark.skipif(not TEXTLINT.exists(), reason="node_modules is missing: run `make setup` (npm ci)")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "lint_ja.py"), *args],  # noqa: S603
                          capture_output=True, text=True, check=False, timeout=300)


@needs_textlint
def test_a_planted_error_fails_at_its_line_and_the_fix_repairs_it(tmp_path: Path) -> None:
    page, manifest = tmp_path / "page.md", tmp_path / "stage.yaml"
    page.write_text(PAGE, encoding="utf-8")
    manifest.write_text(MANIFEST, encoding="utf-8")
    result = _run(str(page), str(manifest))
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert f"{page}:5:11: prh: コンテナー => コンテナ" in out, out
    assert f"{page}:6:23: prh: ブラウザー => ブラウザ" in out, out
    assert f"{manifest}:1:8: prh: コンテナー => コンテナ" in out, out
    assert f"{manifest}:6:5: prh: ブラウザー => ブラウザ" in out, out
    assert f"{manifest}:8:29: prh: メモリ => メモリー" in out, out
    fixed = _run("--fix", str(page), str(manifest))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    fixed_page = page.read_text(encoding="utf-8")
    assert "コンテナの話" in fixed_page and "ブラウザで開きます" in fixed_page
    assert manifest.read_text(encoding="utf-8") == MANIFEST.replace("コンテナー", "コンテナ").replace(
        "ブラウザー", "ブラウザ").replace("メモリの", "メモリーの")
    again = _run(str(page), str(manifest))
    assert again.returncode == 0, again.stdout


@needs_textlint
def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = _run(str(tmp_path / "nothing.md"))
    assert result.returncode != 0 and "no such file" in result.stderr
