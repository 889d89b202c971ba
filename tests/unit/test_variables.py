"""Variables: resolution order, derivation, patterns, and the errors a reader sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.apply_cli import REPO

from handbook.errors import DefinitionError, VariableError
from handbook.variables import VariableCatalog, references, substitute

REAL = REPO / "manifests" / "variables.yaml"


@pytest.fixture(scope="module")
def catalog() -> VariableCatalog:
    return VariableCatalog.load(REAL)


def test_defaults_and_derivations(catalog: VariableCatalog) -> None:
    values = catalog.resolve()
    assert values["LAB_USER"] == "user1"
    assert values["APP_NS"] == "user1-sockshop"
    assert values["MESH_NS"] == "user1-istio-system"
    assert values.origin("APP_NS") == "derived"


def test_override_flows_into_derived_values(catalog: VariableCatalog) -> None:
    values = catalog.resolve({"LAB_USER": "alice"})
    assert values["APP_NS"] == "alice-sockshop"
    assert values.origin("LAB_USER") == "set"


def test_discovered_value_beats_default_but_not_override(catalog: VariableCatalog) -> None:
    assert catalog.resolve(discovered={"APPS_DOMAIN": "apps.a.example"})["APPS_DOMAIN"] == "apps.a.example"
    both = catalog.resolve({"APPS_DOMAIN": "apps.b.example"}, {"APPS_DOMAIN": "apps.a.example"})
    assert both["APPS_DOMAIN"] == "apps.b.example"


@pytest.mark.parametrize("bad", ["User1", "user_1", "1user", "-user", "a" * 21, ""])
def test_bad_user_is_refused_with_the_pattern(catalog: VariableCatalog, bad: str) -> None:
    with pytest.raises(VariableError) as info:
        catalog.resolve({"LAB_USER": bad})
    message = str(info.value)
    assert "LAB_USER=" in message and "--set/--user" in message
    assert "does not match" in message or "longer than" in message


def test_derived_value_is_checked_too(catalog: VariableCatalog) -> None:
    # An APP_NS set directly must still be a DNS label.
    with pytest.raises(VariableError, match=r"APP_NS='Shop\.NS'.*RFC 1123 label"):
        catalog.resolve({"APP_NS": "Shop.NS"})


def test_bad_domain_is_refused(catalog: VariableCatalog) -> None:
    with pytest.raises(VariableError, match="APPS_DOMAIN='apps_example.com'"):
        catalog.resolve({"APPS_DOMAIN": "apps_example.com"})


def test_unknown_set_names_the_declared_variables(catalog: VariableCatalog) -> None:
    with pytest.raises(VariableError, match="unknown variable; declared variables are LAB_USER"):
        catalog.parse_overrides(["NOPE=1"])
    with pytest.raises(VariableError, match="expected NAME=VALUE"):
        catalog.parse_overrides(["LAB_USER"])


def test_substitute_refuses_unknown_names() -> None:
    assert substitute("${A}-x", {"A": "a"}) == "a-x"
    with pytest.raises(VariableError, match=r"\$\{B\} has no value"):
        substitute("${B}", {"A": "a"})
    assert references("${A} and ${B_2}") == ["A", "B_2"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "variables.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_catalog_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "variables:\n"
        "  A:\n    description: a\n    default: x\n    derive: ${B}\n    pattern: dns-label\n"
        "  D:\n    default: Bad_Default\n    pattern: dns-label\n    colour: red\n",
    )
    with pytest.raises(DefinitionError) as info:
        VariableCatalog.load(path)
    text = "\n".join(info.value.problems)
    assert "variables.A: give exactly one of default or derive" in text
    assert "variables.D.colour: unknown field; allowed: default, derive, description" in text
    assert "variables.D.description: required; what the variable means" in text


def test_a_reference_to_an_undeclared_variable_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "variables:\n  C:\n    description: c\n    derive: ${MISSING}\n    pattern: dns-label\n")
    with pytest.raises(DefinitionError, match=r"variables.C refers to undeclared \$\{MISSING\}"):
        VariableCatalog.load(path)


def test_cycle_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "variables:\n"
        "  A:\n    description: a\n    derive: ${B}x\n    pattern: dns-label\n"
        "  B:\n    description: b\n    derive: ${A}y\n    pattern: dns-label\n",
    )
    with pytest.raises(DefinitionError, match="derives from itself"):
        VariableCatalog.load(path)


# --- values that differ per platform (variables.yaml `platforms:`) ------------------------------------------


def test_shop_host_on_kubernetes_is_what_the_browser_sends(catalog: VariableCatalog) -> None:
    """kind maps host port 80 to the gateway's NodePort, so http://localhost/ sends `Host: localhost`; Istio's
    gateway virtual host for a host H matches H only, not H:port (checked in istio.io/istio, see the report)."""
    kubernetes = catalog.resolve(platform="kubernetes")
    assert kubernetes["SHOP_HOST"] == "localhost"
    assert kubernetes.origin("SHOP_HOST") == "default"
    assert catalog.resolve()["SHOP_HOST"] == "sockshop-user1-sockshop.apps-crc.testing"
    assert catalog.resolve(platform="openshift")["SHOP_HOST"] == catalog.resolve()["SHOP_HOST"]
    assert catalog.resolve({"SHOP_HOST": "shop.localhost"}, platform="kubernetes")["SHOP_HOST"] == "shop.localhost"
    # On Kubernetes SHOP_HOST no longer derives from APPS_DOMAIN.
    assert "APPS_DOMAIN" not in catalog.for_platform("kubernetes").closure(["SHOP_HOST"])
    assert "APPS_DOMAIN" in catalog.closure(["SHOP_HOST"])


def test_only_shop_host_differs_per_platform(catalog: VariableCatalog) -> None:
    """The variables that need a Kubernetes value of their own: the report names them."""
    assert {n for n, v in catalog.variables.items() if v.on_platform} == {"SHOP_HOST"}


PER_PLATFORM = (
    "variables:\n"
    "  U:\n    description: u\n    default: user1\n    pattern: dns-label\n"
    "  H:\n    description: h\n    derive: ${U}.example\n    pattern: dns-subdomain\n"
    "    platforms:\n      kubernetes:\n        {rule}\n"
)


def test_a_platform_may_derive_instead(tmp_path: Path) -> None:
    catalog = VariableCatalog.load(write(tmp_path, PER_PLATFORM.replace("{rule}", "derive: ${U}.localhost")))
    assert catalog.resolve({"U": "ann"}, platform="kubernetes")["H"] == "ann.localhost"
    assert catalog.resolve({"U": "ann"}, platform="kubernetes").origin("H") == "derived"
    assert catalog.resolve({"U": "ann"})["H"] == "ann.example"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("default: Not_A_Host", "variables.H.platforms.kubernetes.default: H='Not_A_Host' does not match"),
        ("derive: ${NOPE}", r"variables.H.platforms.kubernetes refers to undeclared ${NOPE}"),
        ("colour: red", "variables.H.platforms.kubernetes"),
        ("{default: a, derive: b}", "give exactly one of default or derive for the platform"),
    ],
)
def test_a_bad_platform_value_is_refused_with_its_path(tmp_path: Path, rule: str, message: str) -> None:
    with pytest.raises(DefinitionError) as info:
        VariableCatalog.load(write(tmp_path, PER_PLATFORM.replace("{rule}", rule)))
    assert message in "\n".join(info.value.problems)


def test_an_unknown_platform_is_refused(tmp_path: Path) -> None:
    text = PER_PLATFORM.replace("{rule}", "default: a").replace("kubernetes:", "minikube:")
    with pytest.raises(DefinitionError, match="minikube"):
        VariableCatalog.load(write(tmp_path, text))


def test_export_block_and_form_data_per_platform() -> None:
    from handbook.blocks import export_block
    from handbook.lab import Lab
    from handbook.reader_form import reader_values

    lab = Lab.load()
    kubernetes = export_block(lab, lab.stage("stage-4"), "kubernetes").text
    assert "export SHOP_HOST=localhost" in kubernetes and "APPS_DOMAIN" not in kubernetes
    openshift = export_block(lab, lab.stage("stage-4"), "openshift").text
    assert "export SHOP_HOST=sockshop-${APP_NS}.${APPS_DOMAIN}" in openshift
    shop = next(v for v in reader_values()["variables"] if v["name"] == "SHOP_HOST")
    assert shop["on_platform"] == {"kubernetes": {"default": "localhost", "derive": None, "default_text": "localhost"}}
