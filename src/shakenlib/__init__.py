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
    from shakenlib.batch import (
        VerifierConfig as VerifierConfig,
        analyze_source as analyze_source,
        verify_source as verify_source,
    )
    from shakenlib.cache import (
        Cache as Cache,
    )
    from shakenlib.certs import (
        CrlDistributionPoint as CrlDistributionPoint,
        StiCertificate as StiCertificate,
        load_certificates as load_certificates,
    )
    from shakenlib.crl import (
        CertificateRevoked as CertificateRevoked,
        RevocationChecker as RevocationChecker,
        RevocationStatus as RevocationStatus,
        crl_urls as crl_urls,
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
    from shakenlib.findings import (
        Finding as Finding,
    )
    from shakenlib.identity import (
        IdentityHeader as IdentityHeader,
        parse_identity as parse_identity,
    )
    from shakenlib.leads import (
        Analysis as Analysis,
        Lead as Lead,
        TracebackShortcut as TracebackShortcut,
    )
    from shakenlib.lint import (
        RULES as RULES,
        Rule as Rule,
        lint_certificate as lint_certificate,
    )
    from shakenlib.passport import (
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
    from shakenlib.providers import (
        Provider as Provider,
        ProviderDirectory as ProviderDirectory,
    )
    from shakenlib.records import (
        CallRecord as CallRecord,
        RecordError as RecordError,
        RecordSource as RecordSource,
        read_records as read_records,
    )
    from shakenlib.repository import (
        CertificateRepository as CertificateRepository,
        Fetched as Fetched,
        FetchPolicy as FetchPolicy,
        HttpRepository as HttpRepository,
        MemoryRepository as MemoryRepository,
        MirrorRepository as MirrorRepository,
    )
    from shakenlib.result import (
        CertificateSummary as CertificateSummary,
        IdentityResult as IdentityResult,
        VerificationResult as VerificationResult,
    )
    from shakenlib.sign import (
        Signer as Signer,
        origid_for as origid_for,
    )
    from shakenlib.sip import (
        SipMessage as SipMessage,
        parse_sip_message as parse_sip_message,
    )
    from shakenlib.tn import (
        canonical_tn as canonical_tn,
        tn_from_uri as tn_from_uri,
    )
    from shakenlib.tnauthlist import (
        TNAuthList as TNAuthList,
        TNRange as TNRange,
        decode_tnauthlist as decode_tnauthlist,
    )
    from shakenlib.trust import (
        ChainValidator as ChainValidator,
        TrustStore as TrustStore,
        ValidatedChain as ValidatedChain,
    )
    from shakenlib.verify import (
        Policy as Policy,
        Verifier as Verifier,
    )

__version__ = "0.1.0"

# Public name -> the module that defines it. Imported on first use (PEP 562), so
# `import shakenlib.errors` or the pytest plugin does not load the whole library.
_EXPORTS: dict[str, str] = {
    "Analysis": "shakenlib.leads",
    "CODES": "shakenlib.errors",
    "Cache": "shakenlib.cache",
    "CallRecord": "shakenlib.records",
    "CertificateError": "shakenlib.errors",
    "CertificateRepository": "shakenlib.repository",
    "CertificateRevoked": "shakenlib.crl",
    "CertificateSummary": "shakenlib.result",
    "ChainValidator": "shakenlib.trust",
    "Claims": "shakenlib.passport",
    "CrlDistributionPoint": "shakenlib.certs",
    "DecodedIdentity": "shakenlib.passport",
    "FetchPolicy": "shakenlib.repository",
    "Fetched": "shakenlib.repository",
    "Finding": "shakenlib.findings",
    "HttpRepository": "shakenlib.repository",
    "IdentityHeader": "shakenlib.identity",
    "IdentityHeaderError": "shakenlib.errors",
    "IdentityResult": "shakenlib.result",
    "JoseHeader": "shakenlib.passport",
    "Lead": "shakenlib.leads",
    "MemoryRepository": "shakenlib.repository",
    "MirrorRepository": "shakenlib.repository",
    "PASSporT": "shakenlib.passport",
    "ParseError": "shakenlib.errors",
    "PassportError": "shakenlib.errors",
    "Policy": "shakenlib.verify",
    "Provider": "shakenlib.providers",
    "ProviderDirectory": "shakenlib.providers",
    "RULES": "shakenlib.lint",
    "RecordError": "shakenlib.records",
    "RecordSource": "shakenlib.records",
    "RepositoryError": "shakenlib.errors",
    "RevocationChecker": "shakenlib.crl",
    "RevocationError": "shakenlib.errors",
    "RevocationStatus": "shakenlib.crl",
    "Rule": "shakenlib.lint",
    "ShakenError": "shakenlib.errors",
    "Signer": "shakenlib.sign",
    "SipMessage": "shakenlib.sip",
    "SipMessageError": "shakenlib.errors",
    "StiCertificate": "shakenlib.certs",
    "TNAuthList": "shakenlib.tnauthlist",
    "TNRange": "shakenlib.tnauthlist",
    "TelephoneNumberError": "shakenlib.errors",
    "TracebackShortcut": "shakenlib.leads",
    "TrustError": "shakenlib.errors",
    "TrustStore": "shakenlib.trust",
    "UsageError": "shakenlib.errors",
    "ValidatedChain": "shakenlib.trust",
    "VerificationFailed": "shakenlib.errors",
    "VerificationResult": "shakenlib.result",
    "Verifier": "shakenlib.verify",
    "VerifierConfig": "shakenlib.batch",
    "analyze_source": "shakenlib.batch",
    "canonical_json": "shakenlib.passport",
    "canonical_tn": "shakenlib.tn",
    "crl_urls": "shakenlib.crl",
    "decode_identity": "shakenlib.passport",
    "decode_passport": "shakenlib.passport",
    "decode_tnauthlist": "shakenlib.tnauthlist",
    "encode_passport": "shakenlib.passport",
    "lint_certificate": "shakenlib.lint",
    "load_certificates": "shakenlib.certs",
    "origid_for": "shakenlib.sign",
    "parse_identity": "shakenlib.identity",
    "parse_sip_message": "shakenlib.sip",
    "read_records": "shakenlib.records",
    "rebuild_compact": "shakenlib.passport",
    "tn_from_uri": "shakenlib.tn",
    "verify_source": "shakenlib.batch",
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
