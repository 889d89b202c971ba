"""The certificates and keys of one local control plane, made with the ``cryptography`` library.

Written into one folder, as the components' flags expect them:

* ``ca.crt``/``ca.key``: the cluster CA (EC P-256), which signs every other certificate; the
  API server trusts client certificates it signed, and kube-controller-manager signs CSRs with it.
* ``apiserver.crt``/``.key``: the serving certificate, for 127.0.0.1, the first Service address
  and the ``kubernetes.default.svc`` names.
* one client certificate per entry of ``CLIENTS``: the API server reads the user from the
  subject's CN and the groups from its O attributes.
* ``sa.key``/``sa.pub``: the RSA pair that signs and verifies service-account tokens.

Everything is valid for two days: a local cluster lives for one test run.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .common import SERVICE_IP

LIFETIME = datetime.timedelta(days=2)
CA_NAME = "local-cluster-ca"
SERVER_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local")
CLIENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    # file name: (user name, groups)
    "admin": ("lab-cluster-admin", ("system:masters",)),
    "controller-manager": ("system:kube-controller-manager", ()),
    "scheduler": ("system:kube-scheduler", ()),
    "kwok": ("kwok-controller", ("system:masters",)),
}

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _write_key(path: Path, key: PrivateKey) -> None:
    """PKCS#8 PEM, readable by its owner only from the moment it exists."""
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str, groups: tuple[str, ...] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
    return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
                         crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def _builder(subject: x509.Name, issuer: x509.Name, key: PrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + LIFETIME))


def make_ca(pki: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(CA_NAME)
    cert = (_builder(name, name, key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_key(pki / "ca.key", key)
    _write_cert(pki / "ca.crt", cert)
    return key, cert


def issue(pki: Path, name: str, subject: x509.Name, *, ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
          usage: x509.ObjectIdentifier, alt_names: list[x509.GeneralName] | None = None) -> x509.Certificate:
    """An EC P-256 key ``name.key`` and a certificate ``name.crt`` for ``usage``, signed by ``ca``."""
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (_builder(subject, ca_cert.subject, key)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_key_usage(cert_sign=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(pki / f"{name}.key", key)
    _write_cert(pki / f"{name}.crt", cert)
    return cert


def make_pki(pki: Path) -> None:
    """Every certificate and key of the module docstring, in ``pki``."""
    pki.mkdir(parents=True, exist_ok=True)
    ca = make_ca(pki)
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_NAMES]
    alt += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", SERVICE_IP)]
    issue(pki, "apiserver", _name("kube-apiserver"), ca=ca, usage=ExtendedKeyUsageOID.SERVER_AUTH, alt_names=alt)
    for name, (user, groups) in CLIENTS.items():
        issue(pki, name, _name(user, groups), ca=ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki / "sa.key", signing)
    (pki / "sa.pub").write_bytes(signing.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
