"""shakenlib: STIR/SHAKEN attestation analysis.

Parse SIP Identity headers and PASSporTs, verify them as an ATIS-1000074 verification
service would, and turn many signed calls into traceback leads.

>>> import shakenlib
>>> shakenlib.canonical_tn("+1 (215) 555-1212")
'12155551212'
"""

from __future__ import annotations

from shakenlib.cache import Cache
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
from shakenlib.passport import (
    DecodedIdentity,
    PASSporT,
    canonical_json,
    decode_identity,
    decode_passport,
)
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
    "Cache",
    "CertificateError",
    "CertificateRepository",
    "CertificateSummary",
    "ChainValidator",
    "DecodedIdentity",
    "FetchPolicy",
    "Fetched",
    "Finding",
    "HttpRepository",
    "IdentityHeader",
    "IdentityHeaderError",
    "IdentityResult",
    "MemoryRepository",
    "MirrorRepository",
    "PASSporT",
    "ParseError",
    "PassportError",
    "Policy",
    "RepositoryError",
    "RevocationError",
    "ShakenError",
    "Signer",
    "SipMessage",
    "SipMessageError",
    "TNAuthList",
    "TNRange",
    "TelephoneNumberError",
    "TrustError",
    "TrustStore",
    "UsageError",
    "ValidatedChain",
    "VerificationFailed",
    "VerificationResult",
    "Verifier",
    "__version__",
    "canonical_json",
    "canonical_tn",
    "decode_identity",
    "decode_passport",
    "decode_tnauthlist",
    "origid_for",
    "parse_identity",
    "parse_sip_message",
    "tn_from_uri",
]
