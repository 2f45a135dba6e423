"""shakenlib: STIR/SHAKEN attestation analysis.

Parse SIP Identity headers and PASSporTs, verify them as an ATIS-1000074 verification
service would, and turn many signed calls into traceback leads.

>>> import shakenlib
>>> shakenlib.canonical_tn("+1 (215) 555-1212")
'12155551212'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shakenlib.analysis.batch import (
        VerifierConfig as VerifierConfig,
        analyze_source as analyze_source,
        verify_source as verify_source,
    )
    from shakenlib.analysis.leads import (
        Analysis as Analysis,
        Lead as Lead,
        TracebackShortcut as TracebackShortcut,
    )
    from shakenlib.analysis.providers import (
        Provider as Provider,
        ProviderDirectory as ProviderDirectory,
    )
    from shakenlib.analysis.records import (
        CallRecord as CallRecord,
        RecordError as RecordError,
        RecordSource as RecordSource,
        read_records as read_records,
    )
    from shakenlib.errors import (
        CODES as CODES,
        CertificateError as CertificateError,
        IdentityHeaderError as IdentityHeaderError,
        ParseError as ParseError,
        PassportError as PassportError,
        RepositoryError as RepositoryError,
        RevocationError as RevocationError,
        ShakenError as ShakenError,
        SipMessageError as SipMessageError,
        TelephoneNumberError as TelephoneNumberError,
        TrustError as TrustError,
        UsageError as UsageError,
        VerificationFailed as VerificationFailed,
    )
    from shakenlib.fetch import (
        CertificateRepository as CertificateRepository,
        Fetched as Fetched,
        FetchPolicy as FetchPolicy,
        HttpRepository as HttpRepository,
        MemoryRepository as MemoryRepository,
        MirrorRepository as MirrorRepository,
    )
    from shakenlib.fetch.cache import (
        Cache as Cache,
    )
    from shakenlib.findings import (
        Finding as Finding,
    )
    from shakenlib.pki.certs import (
        CrlDistributionPoint as CrlDistributionPoint,
        StiCertificate as StiCertificate,
        load_certificates as load_certificates,
    )
    from shakenlib.pki.crl import (
        CertificateRevoked as CertificateRevoked,
        RevocationChecker as RevocationChecker,
        RevocationStatus as RevocationStatus,
        crl_urls as crl_urls,
    )
    from shakenlib.pki.lint import (
        RULES as RULES,
        Rule as Rule,
        lint_certificate as lint_certificate,
    )
    from shakenlib.pki.tnauthlist import (
        TNAuthList as TNAuthList,
        TNRange as TNRange,
        decode_tnauthlist as decode_tnauthlist,
    )
    from shakenlib.pki.trust import (
        ChainValidator as ChainValidator,
        TrustStore as TrustStore,
        ValidatedChain as ValidatedChain,
    )
    from shakenlib.sip.identity import (
        IdentityHeader as IdentityHeader,
        parse_identity as parse_identity,
    )
    from shakenlib.sip.message import (
        SipMessage as SipMessage,
        parse_sip_message as parse_sip_message,
    )
    from shakenlib.sip.passport import (
        Claims as Claims,
        DecodedIdentity as DecodedIdentity,
        JoseHeader as JoseHeader,
        PASSporT as PASSporT,
        canonical_json as canonical_json,
        decode_identity as decode_identity,
        decode_passport as decode_passport,
        encode_passport as encode_passport,
        rebuild_compact as rebuild_compact,
    )
    from shakenlib.sip.sign import (
        Signer as Signer,
        origid_for as origid_for,
    )
    from shakenlib.tn import (
        canonical_tn as canonical_tn,
        tn_from_uri as tn_from_uri,
    )
    from shakenlib.verify import (
        Policy as Policy,
        Verifier as Verifier,
    )
    from shakenlib.verify.result import (
        CertificateSummary as CertificateSummary,
        IdentityResult as IdentityResult,
        VerificationResult as VerificationResult,
    )

__version__ = "0.1.0"

# Public name -> the module that defines it. Imported on first use (PEP 562), so
# `import shakenlib.errors` or the pytest plugin does not load the whole library.
_EXPORTS: dict[str, str] = {
    "Analysis": "shakenlib.analysis.leads",
    "CODES": "shakenlib.errors",
    "Cache": "shakenlib.fetch.cache",
    "CallRecord": "shakenlib.analysis.records",
    "CertificateError": "shakenlib.errors",
    "CertificateRepository": "shakenlib.fetch",
    "CertificateRevoked": "shakenlib.pki.crl",
    "CertificateSummary": "shakenlib.verify.result",
    "ChainValidator": "shakenlib.pki.trust",
    "Claims": "shakenlib.sip.passport",
    "CrlDistributionPoint": "shakenlib.pki.certs",
    "DecodedIdentity": "shakenlib.sip.passport",
    "FetchPolicy": "shakenlib.fetch",
    "Fetched": "shakenlib.fetch",
    "Finding": "shakenlib.findings",
    "HttpRepository": "shakenlib.fetch",
    "IdentityHeader": "shakenlib.sip.identity",
    "IdentityHeaderError": "shakenlib.errors",
    "IdentityResult": "shakenlib.verify.result",
    "JoseHeader": "shakenlib.sip.passport",
    "Lead": "shakenlib.analysis.leads",
    "MemoryRepository": "shakenlib.fetch",
    "MirrorRepository": "shakenlib.fetch",
    "PASSporT": "shakenlib.sip.passport",
    "ParseError": "shakenlib.errors",
    "PassportError": "shakenlib.errors",
    "Policy": "shakenlib.verify",
    "Provider": "shakenlib.analysis.providers",
    "ProviderDirectory": "shakenlib.analysis.providers",
    "RULES": "shakenlib.pki.lint",
    "RecordError": "shakenlib.analysis.records",
    "RecordSource": "shakenlib.analysis.records",
    "RepositoryError": "shakenlib.errors",
    "RevocationChecker": "shakenlib.pki.crl",
    "RevocationError": "shakenlib.errors",
    "RevocationStatus": "shakenlib.pki.crl",
    "Rule": "shakenlib.pki.lint",
    "ShakenError": "shakenlib.errors",
    "Signer": "shakenlib.sip.sign",
    "SipMessage": "shakenlib.sip.message",
    "SipMessageError": "shakenlib.errors",
    "StiCertificate": "shakenlib.pki.certs",
    "TNAuthList": "shakenlib.pki.tnauthlist",
    "TNRange": "shakenlib.pki.tnauthlist",
    "TelephoneNumberError": "shakenlib.errors",
    "TracebackShortcut": "shakenlib.analysis.leads",
    "TrustError": "shakenlib.errors",
    "TrustStore": "shakenlib.pki.trust",
    "UsageError": "shakenlib.errors",
    "ValidatedChain": "shakenlib.pki.trust",
    "VerificationFailed": "shakenlib.errors",
    "VerificationResult": "shakenlib.verify.result",
    "Verifier": "shakenlib.verify",
    "VerifierConfig": "shakenlib.analysis.batch",
    "analyze_source": "shakenlib.analysis.batch",
    "canonical_json": "shakenlib.sip.passport",
    "canonical_tn": "shakenlib.tn",
    "crl_urls": "shakenlib.pki.crl",
    "decode_identity": "shakenlib.sip.passport",
    "decode_passport": "shakenlib.sip.passport",
    "decode_tnauthlist": "shakenlib.pki.tnauthlist",
    "encode_passport": "shakenlib.sip.passport",
    "lint_certificate": "shakenlib.pki.lint",
    "load_certificates": "shakenlib.pki.certs",
    "origid_for": "shakenlib.sip.sign",
    "parse_identity": "shakenlib.sip.identity",
    "parse_sip_message": "shakenlib.sip.message",
    "read_records": "shakenlib.analysis.records",
    "rebuild_compact": "shakenlib.sip.passport",
    "tn_from_uri": "shakenlib.tn",
    "verify_source": "shakenlib.analysis.batch",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shakenlib' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
