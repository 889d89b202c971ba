"""The kubeconform engine: every document to its own file, one kubeconform process, its verdicts final.

kubeconform runs ``-strict`` with local schema locations only (no network, no
``-ignore-missing-schemas``); kinds without a schema here are passed to ``-skip`` and
reported as not validated. Python only reads its JSON report (``output``) and words the
problems (``wording``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import schemas
from ..paths import REPO_ROOT
from .defaults import defaulted
from .documents import ParsedDocument
from .model import SETUP_HINT, ValidationProblem, ValidationReport, ValidationSetupError
from .output import findings_from_result, read_output
from .schema_set import SchemaSet
from .wording import notice, word

TIMEOUT_SECONDS = 300


def kubeconform_path() -> str | None:
    """``.tools/bin/kubeconform`` of this repository, else the first one on PATH, else None."""
    local = REPO_ROOT / ".tools" / "bin" / "kubeconform"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("kubeconform")


def identity(binary: str) -> str:
    """Which kubeconform this is, for the cache: the pinned version and the binary's size and time.

    ``kubeconform -v`` prints "development" for a binary built by ``go install``, so the pin
    (tools/versions.env) names the version, and the file's stat notices a replaced binary.
    """
    info = os.stat(binary)
    return f"{schemas.read_versions()['KUBECONFORM_VERSION']}:{binary}:{info.st_size}:{info.st_mtime_ns}"


def skip_value(schema_set: SchemaSet) -> str:
    """The ``-skip`` value: the kinds without a schema here, as ``apiVersion/Kind``, comma-separated.

    kubeconform v0.7.0 (pkg/config/config.go, pkg/validator/validator.go) splits the value at
    commas and skips a resource when ``<apiVersion>/<kind>`` or the bare kind is listed; only
    the full form is used, so another group's kind of the same name is still validated.
    """
    return ",".join(sorted(f"{api_version}/{kind}" for api_version, kind in schema_set.unvalidated))


def command(binary: str, target: str, schema_set: SchemaSet | None = None) -> list[str]:
    """The exact kubeconform invocation, offline: only local schema locations."""
    schema_set = schema_set or SchemaSet()
    argv = [binary, "-strict", "-output", "json", "-summary", "-verbose",
            "-kubernetes-version", schema_set.k8s_version]
    for location in schema_set.locations():
        argv += ["-schema-location", location]
    skip = skip_value(schema_set)
    if skip:
        argv += ["-skip", skip]
    return [*argv, target]


def text_to_send(parsed: ParsedDocument, schema_set: SchemaSet) -> tuple[str, Any]:
    """What kubeconform gets for a document: its text, or JSON of it with CRD defaults applied.

    The text is rewritten only when it parsed cleanly (so kubeconform still sees every
    duplicate key and syntax error itself), is not skipped, and defaulting changed it.
    Returns the text and the data it stands for.
    """
    data = parsed.data
    if parsed.error or parsed.duplicates or not isinstance(data, dict):
        return parsed.document.text, data
    type_key = parsed.api_version_kind
    if type_key in schema_set.unvalidated:
        return parsed.document.text, data
    schema_file = schema_set.file_for(type_key)
    if schema_file is None:
        return parsed.document.text, data
    changed = defaulted(data, schema_file, schema_set)
    if changed is data or changed == data:
        return parsed.document.text, data
    return json.dumps(changed, ensure_ascii=False), changed


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(  # noqa: S603 - fixed argument list, no shell
            argv, capture_output=True, text=True, check=False, timeout=TIMEOUT_SECONDS)
    except OSError as exc:
        raise ValidationSetupError(f"could not run {argv[0]}: {exc}; {SETUP_HINT}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ValidationSetupError(f"kubeconform did not finish in {TIMEOUT_SECONDS}s") from exc


def run(binary: str, documents: Sequence[ParsedDocument], schema_set: SchemaSet) -> ValidationReport:
    """Validate documents that each hold exactly one YAML document (see engine.single_documents)."""
    problems: list[ValidationProblem] = []
    notices = []
    if not documents:
        return ValidationReport(problems, notices)
    by_file: dict[str, ParsedDocument] = {}
    sent: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="handbook-kubeconform-") as folder:
        for number, parsed in enumerate(documents):
            file_name = f"{number:05d}.yaml"
            text, sent[file_name] = text_to_send(parsed, schema_set)
            Path(folder, file_name).write_text(text, encoding="utf-8")
            by_file[file_name] = parsed
        completed = _run(command(binary, folder, schema_set))
    output = read_output(completed.stdout, completed.returncode, completed.stderr)
    expected = sum(1 for parsed in documents if parsed.count == 1)
    if output.counted != expected:
        raise ValidationSetupError(f"kubeconform checked {output.counted} resources where {expected} were sent; "
                                   "its results cannot be matched to the documents")
    reported: set[str] = set()
    for result in output.results:
        file_name = Path(str(result.get("filename", ""))).name
        parsed = by_file.get(file_name)
        if parsed is None:
            raise ValidationSetupError(f"kubeconform reported an unknown file: {result.get('filename')}")
        status = result.get("status")
        if status in ("", None):  # an empty document (comments only): nothing to check
            continue
        if file_name in reported:
            raise ValidationSetupError(f"kubeconform reported {file_name} twice; its results cannot be "
                                       "matched to the documents")
        reported.add(file_name)
        if status == "statusValid":
            continue
        if status == "statusSkipped":
            reason = schema_set.unvalidated.get(parsed.api_version_kind or ("", ""))
            if reason is None:
                document = parsed.document
                raise ValidationSetupError(
                    f"kubeconform skipped {document.source} document {document.index + 1} "
                    f"({result.get('version')} {result.get('kind')}), which has a schema here")
            notices.append(notice(parsed, reason))
            continue
        for finding in findings_from_result(result):
            problems += word(finding, parsed, schema_set, sent[file_name])
    if len(reported) != expected:
        raise ValidationSetupError(f"kubeconform reported {len(reported)} resources where {expected} were sent; "
                                   "its results cannot be matched to the documents")
    return ValidationReport(problems, notices).sorted()
