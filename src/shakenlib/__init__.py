"""shakenlib: STIR/SHAKEN attestation analysis.

Parse SIP Identity headers and PASSporTs, verify them as an ATIS-1000074 verification
service would, and turn many signed calls into traceback leads.

The names here are the everyday API; everything else lives in its subpackage
(:mod:`shakenlib.sip`, :mod:`shakenlib.pki`, :mod:`shakenlib.fetch`,
:mod:`shakenlib.verify`, :mod:`shakenlib.analysis`; see docs/architecture.md).

>>> import shakenlib
>>> shakenlib.canonical_tn("+1 (215) 555-1212")
'12155551212'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shakenlib.analysis import (
        Analysis as Analysis,
        CallRecord as CallRecord,
        Lead as Lead,
        ProviderDirectory as ProviderDirectory,
        RecordSource as RecordSource,
        VerifierConfig as VerifierConfig,
        analyze_source as analyze_source,
        verify_source as verify_source,
    )
    from shakenlib.analysis.notebook import (
        analyze as analyze,
        verify_frame as verify_frame,
    )
    from shakenlib.errors import (
        CODES as CODES,
        CertificateError as CertificateError,
        ParseError as ParseError,
        PassportError as PassportError,
        RepositoryError as RepositoryError,
        RevocationError as RevocationError,
        ShakenError as ShakenError,
        TrustError as TrustError,
        UsageError as UsageError,
        VerificationFailed as VerificationFailed,
    )
    from shakenlib.fetch import (
        CertificateRepository as CertificateRepository,
        FetchPolicy as FetchPolicy,
        HttpRepository as HttpRepository,
        MemoryRepository as MemoryRepository,
        MirrorRepository as MirrorRepository,
    )
    from shakenlib.findings import (
        Finding as Finding,
    )
    from shakenlib.pki import (
        StiCertificate as StiCertificate,
        TNAuthList as TNAuthList,
        TrustStore as TrustStore,
        lint_certificate as lint_certificate,
        load_certificates as load_certificates,
    )
    from shakenlib.sip import (
        DecodedIdentity as DecodedIdentity,
        PASSporT as PASSporT,
        Signer as Signer,
        SipMessage as SipMessage,
        decode_identity as decode_identity,
        parse_sip_message as parse_sip_message,
    )
    from shakenlib.tn import (
        canonical_tn as canonical_tn,
    )
    from shakenlib.verify import (
        CertificateSummary as CertificateSummary,
        IdentityResult as IdentityResult,
        Policy as Policy,
        VerificationResult as VerificationResult,
        Verifier as Verifier,
    )

__version__ = "0.1.0"

# Public name -> the module that defines it. Imported on first use (PEP 562), so
# `import shakenlib.errors` or the pytest plugin does not load the whole library.
_EXPORTS: dict[str, str] = {
    "Analysis": "shakenlib.analysis",
    "CODES": "shakenlib.errors",
    "CallRecord": "shakenlib.analysis",
    "CertificateError": "shakenlib.errors",
    "CertificateRepository": "shakenlib.fetch",
    "CertificateSummary": "shakenlib.verify",
    "DecodedIdentity": "shakenlib.sip",
    "FetchPolicy": "shakenlib.fetch",
    "Finding": "shakenlib.findings",
    "HttpRepository": "shakenlib.fetch",
    "IdentityResult": "shakenlib.verify",
    "Lead": "shakenlib.analysis",
    "MemoryRepository": "shakenlib.fetch",
    "MirrorRepository": "shakenlib.fetch",
    "PASSporT": "shakenlib.sip",
    "ParseError": "shakenlib.errors",
    "PassportError": "shakenlib.errors",
    "Policy": "shakenlib.verify",
    "ProviderDirectory": "shakenlib.analysis",
    "RecordSource": "shakenlib.analysis",
    "RepositoryError": "shakenlib.errors",
    "RevocationError": "shakenlib.errors",
    "ShakenError": "shakenlib.errors",
    "Signer": "shakenlib.sip",
    "SipMessage": "shakenlib.sip",
    "StiCertificate": "shakenlib.pki",
    "TNAuthList": "shakenlib.pki",
    "TrustError": "shakenlib.errors",
    "TrustStore": "shakenlib.pki",
    "UsageError": "shakenlib.errors",
    "VerificationFailed": "shakenlib.errors",
    "VerificationResult": "shakenlib.verify",
    "Verifier": "shakenlib.verify",
    "VerifierConfig": "shakenlib.analysis",
    "analyze": "shakenlib.analysis.notebook",
    "analyze_source": "shakenlib.analysis",
    "canonical_tn": "shakenlib.tn",
    "decode_identity": "shakenlib.sip",
    "lint_certificate": "shakenlib.pki",
    "load_certificates": "shakenlib.pki",
    "parse_sip_message": "shakenlib.sip",
    "verify_frame": "shakenlib.analysis.notebook",
    "verify_source": "shakenlib.analysis",
}

__all__ = [*sorted(_EXPORTS), "__version__"]

if not TYPE_CHECKING:  # type checkers see the imports above, so a misspelt name fails

    def __getattr__(name: str) -> object:
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'shakenlib' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later look-ups skip this function
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
