"""handbook.local_cluster without a running cluster: the certificates, where the CRDs come from, the CLI."""

from __future__ import annotations

import ipaddress
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from support.apply_cli import REPO

from handbook.local_cluster import ClusterError, crds, pki


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError):
        return False
    return True


def test_pki_has_what_the_components_read(tmp_path: Path) -> None:
    pki.make_pki(tmp_path)
    ca = load(tmp_path / "ca.crt")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server = load(tmp_path / "apiserver.crt")
    assert signed_by(server, ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "kubernetes.default.svc"} <= set(names.get_values_for_type(x509.DNSName))
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.96.0.1")} <= set(
        names.get_values_for_type(x509.IPAddress))
    assert ExtendedKeyUsageOID.SERVER_AUTH in server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    for name, (user, groups) in pki.CLIENTS.items():
        cert = load(tmp_path / f"{name}.crt")
        assert signed_by(cert, ca), name
        # kube-apiserver takes the user from CN and the groups from O.
        assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [user]
        assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == list(groups)
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH], name
        key = serialization.load_pem_private_key((tmp_path / f"{name}.key").read_bytes(), password=None)
        assert key.public_key() == cert.public_key(), f"{name}.key is not the key of {name}.crt"
    signing = serialization.load_pem_private_key((tmp_path / "sa.key").read_bytes(), password=None)
    assert serialization.load_pem_public_key((tmp_path / "sa.pub").read_bytes()) == signing.public_key()
    for key_file in tmp_path.glob("*.key"):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, key_file


def test_a_certificate_of_another_ca_is_not_taken_for_ours(tmp_path: Path) -> None:
    pki.make_pki(tmp_path / "one")
    pki.make_pki(tmp_path / "two")
    assert not signed_by(load(tmp_path / "one" / "admin.crt"), load(tmp_path / "two" / "ca.crt"))


def test_crd_folder_comes_from_the_variable_or_beside_the_clone(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert crds.SHARED_CRDS == REPO.parent / "shared" / "crds"
    (tmp_path / "crds").mkdir()
    assert crds.crd_folder_paths({"HANDBOOK_CRDS": str(tmp_path / "crds")}) == ([tmp_path / "crds"], "HANDBOOK_CRDS")
    with pytest.raises(ClusterError, match="does not exist"):
        crds.crd_folder_paths({"HANDBOOK_CRDS": str(tmp_path / "nowhere")})
    monkeypatch.setattr(crds, "SHARED_CRDS", tmp_path / "absent")
    paths, why = crds.crd_folder_paths({})
    assert paths == [] and "HANDBOOK_CRDS is unset" in why and str(tmp_path / "absent") in why
    monkeypatch.setattr(crds, "SHARED_CRDS", tmp_path / "crds")
    assert crds.crd_folder_paths({}) == ([tmp_path / "crds"], str(tmp_path / "crds"))


CNI_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: istiocnis.sailoperator.io}
spec:
  group: sailoperator.io
  scope: Cluster
  names: {kind: IstioCNI, plural: istiocnis}
  versions: [{name: v1, served: true, storage: true}]
"""


def test_placeholders_only_for_kinds_the_folder_lacks(tmp_path: Path) -> None:
    (tmp_path / "cni.yaml").write_text(CNI_CRD, encoding="utf-8")
    (tmp_path / "README.md").write_text("not a CRD", encoding="utf-8")
    real = crds.folder_crds([tmp_path])
    assert [c["metadata"]["name"] for c in real] == ["istiocnis.sailoperator.io"]
    assert crds.served_kinds(real) == {("sailoperator.io/v1", "IstioCNI")}
    everything = {c["metadata"]["name"] for c in crds.placeholder_crds()}
    left = {c["metadata"]["name"] for c in crds.placeholder_crds(crds.served_kinds(real))}
    assert "istiocnis.sailoperator.io" in everything
    assert left == everything - {"istiocnis.sailoperator.io"}


def test_the_script_runs_from_any_python(tmp_path: Path) -> None:
    """`python3 scripts/local_cluster.py` (not the .venv's) still works: it re-runs itself with the .venv."""
    result = subprocess.run(["python3", str(REPO / "scripts" / "local_cluster.py"), "--help"],  # noqa: S603, S607
                            capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    for command in ("build", "start", "env", "crds", "stop"):
        assert command in result.stdout
    missing = subprocess.run([sys.executable, str(REPO / "scripts" / "local_cluster.py"), "status", "--dir",  # noqa: S603
                              str(tmp_path)], capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 1 and "no local cluster was started there" in missing.stderr
