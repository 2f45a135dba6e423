"""shakenlib: STIR/SHAKEN attestation analysis.

Parse SIP Identity headers and PASSporTs, verify them as an ATIS-1000074 verification
service would, and turn many signed calls into traceback leads.

>>> import shakenlib
>>> shakenlib.canonical_tn("+1 (215) 555-1212")
'12155551212'
"""

from __future__ import annotations

from shakenlib.batch import VerifierConfig, analyze_source, verify_source
from shakenlib.cache import Cache
from shakenlib.certs import CrlDistributionPoint, StiCertificate, load_certificates
from shakenlib.crl import CertificateRevoked, RevocationChecker, RevocationStatus, crl_urls
from shakenlib.errors import (
    CODES,
    CertificateError,
    IdentityHeaderError,
    ParseError,
    PassportError,
    RepositoryError,
    RevocationError,
    ShakenError,
    SipMessageError,
    TelephoneNumberError,
    TrustError,
    UsageError,
    VerificationFailed,
)
from shakenlib.findings import Finding
from shakenlib.identity import IdentityHeader, parse_identity
from shakenlib.leads import Analysis, Lead, TracebackShortcut
from shakenlib.lint import RULES, Rule, lint_certificate
from shakenlib.passport import (
    Claims,
    DecodedIdentity,
    JoseHeader,
    PASSporT,
    canonical_json,
    decode_identity,
    decode_passport,
    encode_passport,
    rebuild_compact,
)
from shakenlib.providers import Provider, ProviderDirectory
from shakenlib.records import CallRecord, RecordError, RecordSource, read_records
from shakenlib.repository import (
    CertificateRepository,
    Fetched,
    FetchPolicy,
    HttpRepository,
    MemoryRepository,
    MirrorRepository,
)
from shakenlib.result import CertificateSummary, IdentityResult, VerificationResult
from shakenlib.sign import Signer, origid_for
from shakenlib.sip import SipMessage, parse_sip_message
from shakenlib.tn import canonical_tn, tn_from_uri
from shakenlib.tnauthlist import TNAuthList, TNRange, decode_tnauthlist
from shakenlib.trust import ChainValidator, TrustStore, ValidatedChain
from shakenlib.verify import Policy, Verifier

__version__ = "0.1.0"

__all__ = [
    "CODES",
    "RULES",
    "Analysis",
    "Cache",
    "CallRecord",
    "CertificateError",
    "CertificateRepository",
    "CertificateRevoked",
    "CertificateSummary",
    "ChainValidator",
    "Claims",
    "CrlDistributionPoint",
    "DecodedIdentity",
    "FetchPolicy",
    "Fetched",
    "Finding",
    "HttpRepository",
    "IdentityHeader",
    "IdentityHeaderError",
    "IdentityResult",
    "JoseHeader",
    "Lead",
    "MemoryRepository",
    "MirrorRepository",
    "PASSporT",
    "ParseError",
    "PassportError",
    "Policy",
    "Provider",
    "ProviderDirectory",
    "RecordError",
    "RecordSource",
    "RepositoryError",
    "RevocationChecker",
    "RevocationError",
    "RevocationStatus",
    "Rule",
    "ShakenError",
    "Signer",
    "SipMessage",
    "SipMessageError",
    "StiCertificate",
    "TNAuthList",
    "TNRange",
    "TelephoneNumberError",
    "TracebackShortcut",
    "TrustError",
    "TrustStore",
    "UsageError",
    "ValidatedChain",
    "VerificationFailed",
    "VerificationResult",
    "Verifier",
    "VerifierConfig",
    "__version__",
    "analyze_source",
    "canonical_json",
    "canonical_tn",
    "crl_urls",
    "decode_identity",
    "decode_passport",
    "decode_tnauthlist",
    "encode_passport",
    "lint_certificate",
    "load_certificates",
    "origid_for",
    "parse_identity",
    "parse_sip_message",
    "read_records",
    "rebuild_compact",
    "tn_from_uri",
    "verify_source",
]
