"""A STIR/SHAKEN test PKI, made at test time (like ``trustme`` for SHAKEN).

:class:`StiTestPki` makes the whole ecosystem in memory: an STI-PA root that signs the
"STI-PA CRL" signer, an STI-CA root and intermediate, service-provider (SP) leaf
certificates with an SPC in the TNAuthList, RFC 9060 delegate certificates with
telephone-number ranges, and indirect CRLs. Everything follows the ATIS-1000080 v005
profile by default; keyword arguments make deliberate deviations for negative tests.

Nothing here reads the clock: certificates are valid around a reference time ``now``
(default :data:`DEFAULT_NOW`) that tests also use as the verification time.

>>> pki = StiTestPki()
>>> leaf = pki.issue_sp_certificate("873J", organization="Example Telecom")
>>> leaf.certificate.subject.rfc4514_string()
'CN=SHAKEN 873J,O=Example Telecom,C=US'
>>> from shakenlib.pki.tnauthlist import TNAUTHLIST_OID, decode_tnauthlist
>>> decode_tnauthlist(leaf.certificate.extensions.get_extension_for_oid(
...     TNAUTHLIST_OID).value.value).spc
'873J'
>>> leaf.chain_pem().count(b"BEGIN CERTIFICATE")
2
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shakenlib.pki.tnauthlist import (
    TNAUTHLIST_OID,
    TNRange,
    encode_tnauthlist,
)

__all__ = [
    "CP_1_4_OID",
    "DEFAULT_CRL_URL",
    "DEFAULT_NOW",
    "Issued",
    "StiTestPki",
]

#: The reference time of a default test PKI (tests pass it as the verification time).
DEFAULT_NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
#: US SHAKEN Certificate Policy v1.4.
CP_1_4_OID = x509.ObjectIdentifier("2.16.840.1.114569.1.1.4")
#: Where the test STI-PA CRL is published (served by a mirror or the test HTTPS server).
DEFAULT_CRL_URL = "https://crl.sti-pa.test/download/v1/crl"


def _name(
    cn: str,
    org: str | None = None,
    country: str | None = "US",
    extra: Sequence[x509.NameAttribute[str]] = (),
) -> x509.Name:
    # DER order C, O, CN (as real STI certificates have it; RFC 4514 prints it reversed).
    attributes = []
    if country is not None:
        attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    if org is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attributes.extend(extra)
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attributes)


def _serial() -> int:
    # v005: a positive integer with at least 64 bits from a CSPRNG; force the top bit of
    # 9 bytes so zlint-style bit-length checks see >= 64 bits.
    return int.from_bytes(os.urandom(9), "big") | (1 << 71)


@attrs.frozen(eq=False)
class Issued:
    """A certificate with its private key and the chain of issuers above it."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    issuers: tuple[Issued, ...] = ()  # parent first, up to (and including) the root

    @property
    def pem(self) -> bytes:
        """This certificate alone, PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        """This certificate alone, DER."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        """The private key, unencrypted PKCS#8 PEM."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def chain_pem(self, *, include_root: bool = False) -> bytes:
        """This certificate then its issuers, PEM, as an STI-CR serves it (root left out)."""
        parts = [self]
        parts += [i for i in self.issuers if include_root or not _is_self_signed(i.certificate)]
        return b"".join(p.pem for p in parts)


def _is_self_signed(cert: x509.Certificate) -> bool:
    return cert.issuer == cert.subject


class StiTestPki:
    """An STI-PA / STI-CA hierarchy for tests, valid around ``now``.

    Attributes: ``sti_pa_root`` (signs ``crl_signer``), ``crl_signer`` (the indirect-CRL
    issuer "STI-PA CRL"), ``ca_root`` and ``ca_intermediate`` (the STI-CA issuing SP
    certificates), ``crl_url``.
    """

    def __init__(
        self,
        *,
        now: dt.datetime = DEFAULT_NOW,
        ca_name: str = "Test STI-CA",
        crl_url: str = DEFAULT_CRL_URL,
    ) -> None:
        self.now = now
        self.crl_url = crl_url
        self._not_before = now - dt.timedelta(days=30)
        self._not_after = now + dt.timedelta(days=3650)
        self.sti_pa_root = self._make_ca("STI-PA Test ROOT", "STI-PA", None)
        crl_key = ec.generate_private_key(ec.SECP256R1())
        self.crl_signer = self._sign(
            subject=self.crl_issuer_name,
            key=crl_key,
            issuer=self.sti_pa_root,
            ca=False,
            key_usage="crl",
            extensions=(),
            policies=False,
            crldp=False,
        )
        self.ca_root = self._make_ca(f"{ca_name} SHAKEN ROOT", ca_name, None)
        self.ca_intermediate = self._make_ca(
            f"{ca_name} SHAKEN Intermediate", ca_name, self.ca_root
        )

    # --- names ---------------------------------------------------------------------
    @property
    def crl_issuer_name(self) -> x509.Name:
        """The indirect CRL issuer's name (as in the real STI-PA CRL)."""
        return x509.Name(
            [
                x509.NameAttribute(NameOID.LOCALITY_NAME, "Bridgewater"),
                x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "NJ"),
                x509.NameAttribute(NameOID.COMMON_NAME, "STI-PA CRL"),
                x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "STI-PA"),
            ]
        )

    # --- building blocks -------------------------------------------------------------
    def _make_ca(self, cn: str, org: str, parent: Issued | None) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        return self._sign(
            subject=_name(cn, org),
            key=key,
            issuer=parent,
            ca=True,
            key_usage="ca",
            extensions=(),
            policies=parent is not None,
            crldp=parent is not None,
        )

    def _sign(
        self,
        *,
        subject: x509.Name,
        key: ec.EllipticCurvePrivateKey,
        issuer: Issued | None,
        ca: bool,
        key_usage: str,
        extensions: Iterable[tuple[x509.ExtensionType, bool]],
        policies: bool,
        crldp: bool,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        serial: int | None = None,
        path_length: int | None = None,
        key_usage_ext: x509.KeyUsage | None = None,
    ) -> Issued:
        signer_key = issuer.key if issuer else key
        issuer_name = issuer.certificate.subject if issuer else subject
        public = key.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(public)
            .serial_number(serial if serial is not None else _serial())
            .not_valid_before(not_before or self._not_before)
            .not_valid_after(not_after or self._not_after)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        usage = {
            "ca": dict(key_cert_sign=True, crl_sign=False, digital_signature=False),
            "ee": dict(key_cert_sign=False, crl_sign=False, digital_signature=True),
            "crl": dict(key_cert_sign=False, crl_sign=True, digital_signature=False),
            "delegate-ca": dict(key_cert_sign=True, crl_sign=False, digital_signature=False),
        }[key_usage]
        builder = builder.add_extension(
            key_usage_ext
            or x509.KeyUsage(
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
                **usage,
            ),
            critical=True,
        )
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                critical=False,
            )
        if policies:
            builder = builder.add_extension(
                x509.CertificatePolicies([x509.PolicyInformation(CP_1_4_OID, None)]),
                critical=False,
            )
        if crldp:
            builder = builder.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[x509.UniformResourceIdentifier(self.crl_url)],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=[x509.DirectoryName(self.crl_issuer_name)],
                        )
                    ]
                ),
                critical=False,
            )
        for ext, critical in extensions:
            builder = builder.add_extension(ext, critical=critical)
        cert = builder.sign(signer_key, hashes.SHA256())
        chain = (issuer, *issuer.issuers) if issuer else ()
        return Issued(cert, key, chain)

    # --- public API --------------------------------------------------------------------
    def issue_sp_certificate(
        self,
        spc: str = "873J",
        *,
        organization: str = "Example Telecom",
        common_name: str | None = None,
        issuer: Issued | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        serial: int | None = None,
        tnauthlist: bytes | None = None,
        spcs: Sequence[str] | None = None,
        key: ec.EllipticCurvePrivateKey | None = None,
        extra_extensions: Iterable[tuple[x509.ExtensionType, bool]] = (),
        omit_tnauthlist: bool = False,
        key_usage: x509.KeyUsage | None = None,
    ) -> Issued:
        """Issue a SHAKEN service-provider certificate (ATIS-1000080 v005 profile).

        ``CN = "SHAKEN <spc>"``, ``O = organization``, ``C = US``, TNAuthList with the one
        SPC. For negative tests: ``tnauthlist`` replaces the extension value with raw DER
        bytes, ``spcs`` lists several SPCs, ``omit_tnauthlist`` leaves it out, ``key``
        uses a given key (another curve, say), ``not_before``/``not_after`` move validity,
        ``key_usage`` replaces the keyUsage extension (digitalSignature only by default).
        Valid by default from 30 days before :attr:`now` to one year after it.
        """
        key = key or ec.generate_private_key(ec.SECP256R1())
        extensions = list(extra_extensions)
        if not omit_tnauthlist:
            value = (
                tnauthlist
                if tnauthlist is not None
                else encode_tnauthlist(spcs=spcs if spcs is not None else [spc])
            )
            extensions.append((x509.UnrecognizedExtension(TNAUTHLIST_OID, value), False))
        return self._sign(
            subject=_name(common_name or f"SHAKEN {spc}", organization),
            key=key,
            issuer=issuer or self.ca_intermediate,
            ca=False,
            key_usage="ee",
            extensions=extensions,
            policies=True,
            crldp=True,
            not_before=not_before,
            not_after=not_after or self.now + dt.timedelta(days=365),
            serial=serial,
            key_usage_ext=key_usage,
        )

    def issue_delegate_ca(
        self,
        *,
        spc: str | None = None,
        ranges: Sequence[TNRange | tuple[str, int]] = (),
        tns: Sequence[str] = (),
        organization: str = "Example Telecom",
    ) -> Issued:
        """Issue an SP's delegation CA certificate (RFC 9060: cA=TRUE, TNAuthList scope)."""
        key = ec.generate_private_key(ec.SECP256R1())
        value = encode_tnauthlist(spcs=[spc] if spc else [], ranges=ranges, tns=tns)
        return self._sign(
            subject=_name(f"SHAKEN Delegation CA {spc or organization}", organization),
            key=key,
            issuer=self.ca_intermediate,
            ca=True,
            key_usage="delegate-ca",
            extensions=[(x509.UnrecognizedExtension(TNAUTHLIST_OID, value), False)],
            policies=True,
            crldp=True,
            path_length=0,
        )

    def issue_delegate_certificate(
        self,
        parent: Issued,
        *,
        ranges: Sequence[TNRange | tuple[str, int]] = (),
        tns: Sequence[str] = (),
        organization: str = "Example Enterprise",
        not_after: dt.datetime | None = None,
    ) -> Issued:
        """Issue an RFC 9060 delegate end-entity certificate with TNs/ranges."""
        key = ec.generate_private_key(ec.SECP256R1())
        value = encode_tnauthlist(ranges=ranges, tns=tns)
        return self._sign(
            subject=_name(f"SHAKEN Delegate {organization}", organization),
            key=key,
            issuer=parent,
            ca=False,
            key_usage="ee",
            extensions=[(x509.UnrecognizedExtension(TNAUTHLIST_OID, value), False)],
            policies=True,
            crldp=True,
            not_after=not_after or self.now + dt.timedelta(days=365),
        )

    def make_crl(
        self,
        revoked: Iterable[Issued | x509.Certificate] = (),
        *,
        this_update: dt.datetime | None = None,
        next_update: dt.datetime | None = None,
        signer: Issued | None = None,
        certificate_issuer: bool = True,
    ) -> bytes:
        """An indirect STI-PA CRL (DER) listing ``revoked``, signed by ``crl_signer``.

        Each entry carries the certificateIssuer extension naming the certificate's CA
        (RFC 5280 §5.3.3) unless ``certificate_issuer=False``. The CRL is current from a
        day before :attr:`now` to a day after it unless told otherwise.
        """
        signer = signer or self.crl_signer
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(signer.certificate.subject)
            .last_update(this_update or self.now - dt.timedelta(days=1))
            .next_update(next_update or self.now + dt.timedelta(days=1))
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(
                x509.IssuingDistributionPoint(
                    full_name=[x509.UniformResourceIdentifier(self.crl_url)],
                    relative_name=None,
                    only_contains_user_certs=False,
                    only_contains_ca_certs=False,
                    only_some_reasons=None,
                    indirect_crl=True,
                    only_contains_attribute_certs=False,
                ),
                critical=True,
            )
        )
        for item in revoked:
            cert = item.certificate if isinstance(item, Issued) else item
            entry = (
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(self.now - dt.timedelta(hours=1))
            )
            if certificate_issuer:
                entry = entry.add_extension(
                    x509.CertificateIssuer([x509.DirectoryName(cert.issuer)]), critical=True
                )
            builder = builder.add_revoked_certificate(entry.build())
        crl = builder.sign(signer.key, hashes.SHA256())
        return crl.public_bytes(serialization.Encoding.DER)

    def trust_anchors_pem(self) -> bytes:
        """The trust bundle a verifier loads: the STI-CA root (the STI-PA trust list) and
        the "STI-PA CRL" signer certificate (trusted to sign the indirect CRL). The STI-PA
        root itself is not a trust anchor for service-provider chains."""
        return self.ca_root.pem + self.crl_signer.pem

    def publish(self, root: str | os.PathLike[str], url: str, body: bytes) -> Path:
        """Write ``body`` where a :class:`~shakenlib.fetch.MirrorRepository` at
        ``root`` serves ``url`` (``https://HOST/PATH`` -> ``ROOT/HOST/PATH``)."""
        rest = url.split("://", 1)[1]
        path = Path(root, *[p for p in rest.split("/") if p])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        return path
