"""The header of every `get <resource>` sample is the header the CLI prints for that resource.

For a custom resource the columns are NAME plus the CRD's `additionalPrinterColumns` of priority 0
(NAME and AGE when it has none); for a built-in kind they are the priority-0 columns of kubectl's
printers. `-L key` adds a column named after the label key. Only default output is checked: with
`-o` the step chooses its own columns.

CRDs are read from the shared CRD folder (the Sail operator's and Kiali's; HANDBOOK_CRDS, or
`<clone>/../shared/crds`, or /work/shared/crds; this lookup is local to this test until the
validation package offers its option) and from the pinned Go modules of tools/versions.env in
the local Go module cache. A resource whose CRD is in neither is skipped with the reason.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from handbook.crd_schema import iter_crds
from handbook.lab import Lab
from handbook.local_cluster.crds import crd_folder_paths
from handbook.schema_build import CRD_FILES
from handbook.schemas import go_modules, read_versions
from handbook.steps import CheckStep
from handbook.validation import extra_crds

# kubernetes pkg/printers/internalversion/printers.go, AddHandlers: the columns of priority 0.
BUILTIN_COLUMNS: dict[str, list[str]] = {
    # podColumnDefinitions
    "pods": ["Name", "Ready", "Status", "Restarts", "Age"],
    # daemonSetColumnDefinitions
    "daemonsets": ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"],
    # deploymentColumnDefinitions
    "deployments": ["Name", "Ready", "Up-to-date", "Available", "Age"],
    # namespaceColumnDefinitions
    "namespaces": ["Name", "Status", "Age"],
    # serviceColumnDefinitions
    "services": ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"],
    # mutatingWebhookColumnDefinitions
    "mutatingwebhookconfigurations": ["Name", "Webhooks", "Age"],
}
# kubectl's short names and singular forms of the built-in kinds above (kubectl api-resources).
BUILTIN_ALIASES = {
    "pod": "pods", "po": "pods", "daemonset": "daemonsets", "ds": "daemonsets",
    "deployment": "deployments", "deploy": "deployments", "namespace": "namespaces", "ns": "namespaces",
    "service": "services", "svc": "services",
    "mutatingwebhookconfiguration": "mutatingwebhookconfigurations",
}


def module_crd_files() -> list[Path]:
    """The CRD files of the pinned Go modules, if they are in the local module cache (no network)."""
    go = shutil.which("go")
    if go is None:
        return []
    cache = subprocess.run(  # noqa: S603 - fixed argv
        [go, "env", "GOMODCACHE"], capture_output=True, text=True, check=False
    ).stdout.strip()
    files: list[Path] = []
    for key, (module, version) in go_modules(read_versions()).items():
        escaped = re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), module)
        root = Path(cache) / f"{escaped}@{version}"
        for pattern in CRD_FILES.get(key, []):
            files.extend(p for p in root.glob(pattern) if p.is_file())
    return files


def load_crds() -> dict[str, dict]:
    """plural, plural.group, singular and short names -> CRD."""
    folders, _ = crd_folder_paths()  # HANDBOOK_CRDS, else ../shared/crds beside the clone
    files = extra_crds.crd_files(folders) + module_crd_files()
    crds: dict[str, dict] = {}
    for path in files:
        for crd in iter_crds(path):
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            names, group = crd["spec"]["names"], crd["spec"]["group"]
            for name in [names["plural"], names.get("singular", ""), *names.get("shortNames", [])]:
                if name:
                    crds[name] = crds[f"{name}.{group}"] = crd
    return crds


def crd_columns(crd: dict) -> list[str]:
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    columns = [c["name"] for c in version.get("additionalPrinterColumns") or [] if not c.get("priority")]
    return ["Name", *columns] if columns else ["Name", "Age"]


def get_command(argv: tuple[str, ...]) -> tuple[str, list[str]] | None:
    """(resource, label columns) of `oc get RESOURCE ...` with default output, else None."""
    if len(argv) < 3 or argv[0] not in ("oc", "kubectl") or argv[1] != "get":
        return None
    words, labels, i = list(argv[2:]), [], 0
    while i < len(words):
        word = words[i]
        if word in ("-o", "--output") or word.startswith(("-o", "--output=")):
            return None
        if word in ("-L", "--label-columns"):
            labels += words[i + 1].split(",")
            i += 1
        elif word in ("-n", "--namespace", "-l", "--selector"):
            i += 1
        i += 1
    resource = words[0].split("/")[0].lower()
    return resource, labels


def header(output: str) -> list[str]:
    return re.split(r"\s{2,}", output.splitlines()[0].strip())


def expected_header(resource: str, labels: list[str], crds: dict[str, dict]) -> list[str] | None:
    builtin = BUILTIN_ALIASES.get(resource, resource)
    if builtin in BUILTIN_COLUMNS:
        columns = BUILTIN_COLUMNS[builtin]
    elif resource in crds:
        columns = crd_columns(crds[resource])
    else:
        return None
    # kubectl upper-cases column names; a label column is named after the key's last segment.
    return [c.upper() for c in columns] + [label.rsplit("/", 1)[-1].upper() for label in labels]


def get_samples() -> list[CheckStep]:
    """Every check step whose command is `get <resource>` with default output."""
    return [s for stage in Lab.load().stages for s in stage.steps
            if isinstance(s, CheckStep) and get_command(s.argv)]


@pytest.fixture(scope="module")
def crds() -> dict[str, dict]:
    return load_crds()


def test_get_samples_are_found() -> None:
    assert len(get_samples()) >= 15, "the parser finds too few `get` samples"


@pytest.mark.parametrize("step", get_samples(), ids=lambda s: s.ref)
def test_get_sample_has_the_cli_s_columns(step: CheckStep, crds: dict[str, dict]) -> None:
    parsed = get_command(step.argv)
    assert parsed
    resource, labels = parsed
    expected = expected_header(resource, labels, crds)
    if expected is None:
        pytest.skip(f"{resource}: its CRD is neither in a shared CRD folder (HANDBOOK_CRDS, ../shared/crds) "
                    "nor in the local Go module cache (`make setup`)")
    assert header(step.output) == expected, f"{step.ref}: the sample's header is not the one the CLI prints"


def test_crd_columns_follow_the_printer_rules(tmp_path: Path) -> None:
    crd = yaml.safe_load(
        """
        kind: CustomResourceDefinition
        spec:
          group: example.io
          names: {plural: widgets, singular: widget, shortNames: [wd]}
          versions:
            - name: v1
              storage: true
              additionalPrinterColumns:
                - {name: Mode, jsonPath: .spec.mode}
                - {name: Detail, jsonPath: .spec.detail, priority: 1}
                - {name: Age, jsonPath: .metadata.creationTimestamp}
        """
    )
    assert crd_columns(crd) == ["Name", "Mode", "Age"]
    crd["spec"]["versions"][0].pop("additionalPrinterColumns")
    assert crd_columns(crd) == ["Name", "Age"]
    assert expected_header("po", ["app.kubernetes.io/version"], {}) == [
        "NAME", "READY", "STATUS", "RESTARTS", "AGE", "VERSION"]
    assert get_command(("oc", "get", "pods", "-o", "wide")) is None
    assert get_command(("oc", "get", "istios", "x", "-n", "ns", "-L", "a,b")) == ("istios", ["a", "b"])
