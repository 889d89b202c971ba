"""Each rendered document parsed once, as kubeconform reads YAML (handbook.validation.documents). No setup needed."""

from __future__ import annotations

import yaml

from handbook.validation.documents import StrictLoader, parse
from handbook.validation.model import RenderedDocument


def parsed(text: str):  # noqa: ANN201 - a ParsedDocument
    return parse(RenderedDocument("m.yaml", 0, text))


def test_libyaml_parses_when_it_is_installed() -> None:
    assert yaml.__with_libyaml__, "PyYAML without libyaml: reinstall it from the wheel (make setup)"
    assert issubclass(StrictLoader, yaml.CSafeLoader)


def test_one_parse_gives_data_kind_name_and_count() -> None:
    document = parsed("# a comment\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {when: 2024-01-02}\n")
    assert (document.count, document.error, document.duplicates) == (1, "", [])
    assert document.api_version_kind == ("v1", "ConfigMap") and document.kind_name == ("ConfigMap", "a")
    assert document.data["data"]["when"] == "2024-01-02", "a date stays a string, as in kubeconform"


def test_repeated_keys_are_recorded_with_their_line() -> None:
    document = parsed("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n")
    assert document.duplicates == [("name", 5)]
    assert document.kind_name == ("ConfigMap", "b"), "the data is still there, for the message"


def test_several_documents_empty_ones_and_syntax_errors() -> None:
    assert parsed("kind: A\n---\nkind: B\n---\n# nothing\n").count == 2
    assert parsed("# only a comment\n").count == 0
    broken = parsed("kind: [unclosed\n")
    assert (broken.count, broken.data) == (1, None)
    assert "\n" not in broken.error and "line 2" in broken.error
