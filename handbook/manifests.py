"""Manifest files: their documents, the rules their text must follow, and rendering."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from . import yaml_load
from .steps import HEREDOC_DELIMITER
from .variables import REFERENCE, substitute

_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Document:
    """One YAML document of a manifest file, ${VAR} unresolved."""

    source: str  # repo-relative path of the file
    index: int  # 0-based position among the file's non-empty documents
    text: str


def split_documents(source: str, text: str) -> list[Document]:
    """The non-empty documents of a multi-document YAML text."""
    documents: list[Document] = []
    for chunk in _SEPARATOR.split(text):
        meaningful = [line for line in chunk.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if meaningful:
            documents.append(Document(source, len(documents), chunk.strip("\n") + "\n"))
    return documents


def text_problems(source: str, text: str, declared: Mapping[str, object]) -> list[str]:
    """Why ``text`` cannot be pasted into an unquoted heredoc and expanded safely, one problem per line.

    Only ${NAME} for declared names may appear: any other ``$``, a backtick or a backslash would be
    changed by the reader's shell and the cluster would receive something else than apply.py sends.
    """
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{source}:{number}"
        for name in REFERENCE.findall(line):
            if name not in declared:
                problems.append(f"{where}: ${{{name}}} is not declared; add it to manifests/variables.yaml")
        stripped = REFERENCE.sub("", line)
        if "$" in stripped:
            problems.append(
                f"{where}: a '$' that is not ${{NAME}}; the reader's shell would expand it. "
                "Use a declared ${NAME} or rephrase the value"
            )
        if "`" in line:
            problems.append(f"{where}: a backtick; the reader's shell would run it as a command")
        if "\\" in line:
            problems.append(f"{where}: a backslash; the reader's heredoc would change it")
        if line.strip() == HEREDOC_DELIMITER:
            problems.append(f"{where}: a line '{HEREDOC_DELIMITER}' would end the reader's heredoc early")
    return problems


def parse_document(document: Document, values: Mapping[str, str]) -> dict:
    """The document as a dict with values substituted. Raises ValueError naming file and document."""
    rendered = substitute(document.text, values)
    try:
        data = yaml_load.safe_load_copy(rendered)
    except yaml.YAMLError as exc:
        raise ValueError(f"{document.source}, document {document.index + 1}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{document.source}, document {document.index + 1}: expected a mapping (a Kubernetes object)")
    return data
