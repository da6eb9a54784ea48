"""Certificates and kubeconfigs for a loopback control plane, the way envtest sets one up.

One CA signs the API server's serving certificate and a client certificate per identity (admin in
system:masters, the controller-manager and the scheduler as their system users); a separate RSA key
pair signs service-account tokens.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class Identity:
    """A client identity: file stem, user (CN) and groups (O)."""

    stem: str
    user: str
    groups: tuple[str, ...] = ()


ADMIN = Identity("admin", "portalis-admin", ("system:masters",))
CONTROLLER_MANAGER = Identity("controller-manager", "system:kube-controller-manager")
SCHEDULER = Identity("scheduler", "system:kube-scheduler")
# kwok writes node and pod status for every simulated node; a dev-only admin identity keeps it simple.
KWOK = Identity("kwok", "portalis-kwok", ("system:masters",))
IDENTITIES = (ADMIN, CONTROLLER_MANAGER, SCHEDULER, KWOK)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(key: rsa.RSAPrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _builder(subject: x509.Name, issuer: x509.Name, public_key: rsa.RSAPublicKey) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def generate(pki_dir: Path) -> None:
    """Write ca.crt/key, apiserver.crt/key, <identity>.crt/key and sa.key/sa.pub into pki_dir."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("portalis-local-ca")
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(ca_key, pki_dir / "ca.key")
    _write_cert(ca, pki_dir / "ca.crt")

    serving_key = _key()
    sans: list[x509.GeneralName] = [
        x509.DNSName(n)
        for n in (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
    ]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "10.0.0.1")]
    serving = (
        _builder(_name("kube-apiserver"), ca_name, serving_key.public_key())
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(serving_key, pki_dir / "apiserver.key")
    _write_cert(serving, pki_dir / "apiserver.crt")

    for ident in IDENTITIES:
        key = _key()
        cert = (
            _builder(_name(ident.user, ident.groups), ca_name, key.public_key())
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_key(key, pki_dir / f"{ident.stem}.key")
        _write_cert(cert, pki_dir / f"{ident.stem}.crt")

    sa_key = _key()
    _write_key(sa_key, pki_dir / "sa.key")
    (pki_dir / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def self_signed_serving(cert_dir: Path, cn: str, dns_names: tuple[str, ...] = ("localhost",)) -> None:
    """A self-signed serving certificate for loopback (127.0.0.1 and `dns_names`): tls.crt and tls.key
    in cert_dir, the file names controller-runtime's webhook server reads."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    key = _key()
    name = _name(cn)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key, cert_dir / "tls.key")
    _write_cert(cert, cert_dir / "tls.crt")


def write_kubeconfig(path: Path, server: str, pki_dir: Path, ident: Identity, context: str) -> None:
    """A kubeconfig that points at `server` with ident's client certificate (paths, not inline data)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": context, "cluster": {"server": server, "certificate-authority": str(pki_dir / "ca.crt")}}
        ],
        "users": [
            {
                "name": ident.user,
                "user": {
                    "client-certificate": str(pki_dir / f"{ident.stem}.crt"),
                    "client-key": str(pki_dir / f"{ident.stem}.key"),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": ident.user}}],
        "current-context": context,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
