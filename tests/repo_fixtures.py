"""Fixtures for the repository tests: a tiny TLS PKI for the local HTTPS server and
STI-like certificate/CRL bodies with chosen validity.

Everything is generated with ``cryptography`` at test time (no checked-in certificates
that expire). The TLS server certificate is the one place that follows the wall clock:
the TLS stack checks it against the system time, so it is valid from one day ago to
one day ahead. Certificate *bodies* use fixed dates; tests pass ``at`` explicitly.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: The verification time the tests use.
AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CERT_NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
CERT_NOT_AFTER = datetime(2026, 1, 1, tzinfo=UTC)


@attrs.frozen
class TlsFiles:
    ca_file: Path
    certfile: Path
    keyfile: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_tls_files(directory: Path) -> TlsFiles:
    """A test CA and a server certificate for 127.0.0.1 / localhost, written as PEM."""
    now = datetime.now(UTC)  # the TLS stack checks validity against the system clock
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("shakenlib test TLS CA"))
        .issuer_name(_name("shakenlib test TLS CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


_BODY_KEY = ec.generate_private_key(ec.SECP256R1())


def make_cert(not_after: datetime = CERT_NOT_AFTER, *, cn: str = "SHAKEN 1234") -> x509.Certificate:
    """A self-signed P-256 certificate standing in for an STI certificate body."""
    return (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(_BODY_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(CERT_NOT_BEFORE)
        .not_valid_after(not_after)
        .sign(_BODY_KEY, hashes.SHA256())
    )


def cert_pem(not_after: datetime = CERT_NOT_AFTER, *, chain: int = 2) -> bytes:
    """A PEM "chain" of ``chain`` certificates; the first one ends at ``not_after``."""
    certs = [make_cert(not_after)] + [make_cert(CERT_NOT_AFTER, cn="CA") for _ in range(chain - 1)]
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def cert_der(not_after: datetime = CERT_NOT_AFTER) -> bytes:
    return make_cert(not_after).public_bytes(serialization.Encoding.DER)


def crl_bytes(next_update: datetime, *, pem: bool = False) -> bytes:
    """A CRL signed by the body key with the given ``nextUpdate``."""
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name("STI-PA CRL"))
        .last_update(CERT_NOT_BEFORE)
        .next_update(next_update)
        .sign(_BODY_KEY, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.PEM if pem else serialization.Encoding.DER)
