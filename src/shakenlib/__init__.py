"""shakenlib: STIR/SHAKEN attestation analysis.

Parse SIP Identity headers and PASSporTs, verify them as an ATIS-1000074 verification
service would, and turn many signed calls into traceback leads.
"""

from __future__ import annotations

from shakenlib.errors import (
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

__version__ = "0.1.0"

__all__ = [
    "CertificateError",
    "Finding",
    "IdentityHeaderError",
    "ParseError",
    "PassportError",
    "RepositoryError",
    "RevocationError",
    "ShakenError",
    "SipMessageError",
    "TelephoneNumberError",
    "TrustError",
    "UsageError",
    "VerificationFailed",
    "__version__",
]
