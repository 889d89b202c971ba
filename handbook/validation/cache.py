"""Validation cached by content, so that a build or a dry run with nothing changed skips kubeconform.

The key is a hash of everything a verdict depends on: every rendered document (source,
index, value-set label and text), the value sets, the schema tree's stamp with the extra
CRDs' digest, and which engine ran (for kubeconform: its pinned version and binary; with a
digest of the validation code, so that changed code never reuses an old verdict).
Only reports without problems are stored: a broken manifest is validated every time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..paths import REPO_ROOT
from .model import NotValidated, RenderedDocument, ValidationReport

CACHE_DIR = REPO_ROOT / ".cache" / "validation"


def key(documents: Sequence[RenderedDocument], value_sets: Mapping[str, Mapping[str, str]] | None,
        schemas_stamp: str, engine: str) -> str:
    parts: dict[str, Any] = {
        "documents": [[d.source, d.index, d.label, d.text] for d in documents],
        "values": {label: dict(values) for label, values in (value_sets or {}).items()},
        "schemas": schemas_stamp,
        "engine": engine,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def load(cache_key: str, folder: Path | None = None) -> ValidationReport | None:
    try:
        raw = json.loads(((folder or CACHE_DIR) / f"{cache_key}.json").read_text(encoding="utf-8"))
        return ValidationReport([], [NotValidated(**notice) for notice in raw["notices"]], cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(cache_key: str, report: ValidationReport, folder: Path | None = None) -> None:
    if report.problems:
        return
    folder = folder or CACHE_DIR
    temporary = folder / f"{cache_key}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps({"notices": [asdict(n) for n in report.notices]}), encoding="utf-8")
        os.replace(temporary, folder / f"{cache_key}.json")
    except OSError:  # a read-only checkout: validate every time rather than fail
        temporary.unlink(missing_ok=True)


def cached(cache_key: str, compute: Callable[[], ValidationReport], folder: Path | None = None) -> ValidationReport:
    """The stored report for ``cache_key``, else ``compute()`` (stored when it found no problem)."""
    report = load(cache_key, folder)
    if report is None:
        report = compute()
        store(cache_key, report, folder)
    return report


def clear(folder: Path | None = None) -> None:
    """Forget every stored report (for a cold measurement, e.g. scripts/benchmark.py)."""
    for path in (folder or CACHE_DIR).glob("*.json"):
        path.unlink(missing_ok=True)
