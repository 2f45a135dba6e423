"""The verification service (ATIS-1000074): :class:`Verifier`, its :class:`Policy` and
its results. Orchestration only: parsing comes from :mod:`shakenlib.sip`, certificate
facts from :mod:`shakenlib.pki`, bytes from a :mod:`shakenlib.fetch` repository.
"""

from __future__ import annotations

from shakenlib.verify.result import (
    NO_TN_VALIDATION,
    TN_VALIDATION_FAILED,
    TN_VALIDATION_PASSED,
    CertificateSummary,
    IdentityResult,
    VerificationResult,
    Verstat,
)
from shakenlib.verify.verifier import (
    Policy,
    Verifier,
    to_datetime,
)

__all__ = [
    "NO_TN_VALIDATION",
    "TN_VALIDATION_FAILED",
    "TN_VALIDATION_PASSED",
    "CertificateSummary",
    "IdentityResult",
    "Policy",
    "VerificationResult",
    "Verifier",
    "Verstat",
    "to_datetime",
]
