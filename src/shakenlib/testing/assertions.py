"""Assertion helpers for conformance tests: failures say what was wrong in SHAKEN terms.

>>> from shakenlib.verify.result import VerificationResult
>>> assert_failed(VerificationResult.failure("iat_stale"), "iat_stale", sip_code=403)
>>> assert_passed(VerificationResult.failure("iat_stale"))
Traceback (most recent call last):
...
AssertionError: expected TN-Validation-Passed, got TN-Validation-Failed: 403 Stale Date ...
"""

from __future__ import annotations

from shakenlib.verify.result import VerificationResult

__all__ = ["assert_failed", "assert_passed"]


def _describe(result: VerificationResult) -> str:
    if result.passed:
        return f"{result.verstat} (attest {result.attest}, spc {result.spc})"
    return f"{result.verstat}: {result.sip_code} {result.reason} [{result.error}] {result.message}"


def assert_passed(
    result: VerificationResult,
    *,
    attest: str | None = None,
    spc: str | None = None,
    origid: str | None = None,
) -> None:
    """Assert the call verified (and, when given, its attest, SPC and origid)."""
    if not result.passed:
        raise AssertionError(f"expected TN-Validation-Passed, got {_describe(result)}")
    for name, want in (("attest", attest), ("spc", spc), ("origid", origid)):
        got = getattr(result, name)
        if want is not None and got != want:
            raise AssertionError(f"expected {name} {want!r}, got {got!r}")


def assert_failed(
    result: VerificationResult, code: str | None = None, *, sip_code: int | None = None
) -> None:
    """Assert the call failed verification (with this error code / SIP status if given)."""
    if result.passed:
        raise AssertionError(f"expected a failure, got {_describe(result)}")
    if code is not None and result.error != code:
        raise AssertionError(f"expected error {code!r}, got {_describe(result)}")
    if sip_code is not None and result.sip_code != sip_code:
        raise AssertionError(f"expected SIP {sip_code}, got {_describe(result)}")
