"""Verification results: plain, frozen data with the names of the standards.

A :class:`VerificationResult` answers "is this call's identity true?" for one call (one or
several Identity headers). Each header gets an :class:`IdentityResult`; the call-level
fields (``verstat``, ``sip_code``, ``attest``, ``origid``, ``spc`` …) come from the
SHAKEN PASSporT when there is one.

Results are returned for *any* input — verification never raises on bad input — and
carry what could be learned even when verification failed (the SPC of a certificate whose
signature did not verify is still a traceback lead).

>>> r = VerificationResult.failure("x5u_fetch_failed", "connection refused")
>>> r.verstat, r.sip_code, r.reason, r.passed
('TN-Validation-Failed', 436, 'Bad Identity Info', False)
>>> r.to_dict()["error"]
'x5u_fetch_failed'
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal

import attrs

from shakenlib.errors import CODES, VerificationFailed, reason_phrase_for
from shakenlib.findings import Finding
from shakenlib.sip.rcd import RichCallData

__all__ = [
    "NO_TN_VALIDATION",
    "TN_VALIDATION_FAILED",
    "TN_VALIDATION_PASSED",
    "CertificateSummary",
    "IdentityResult",
    "VerificationResult",
    "Verstat",
]

Verstat = Literal["TN-Validation-Passed", "TN-Validation-Failed", "No-TN-Validation"]
#: verstat values (3GPP TS 24.229 §7.2A.20).
TN_VALIDATION_PASSED: Final = "TN-Validation-Passed"
TN_VALIDATION_FAILED: Final = "TN-Validation-Failed"
NO_TN_VALIDATION: Final = "No-TN-Validation"


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@attrs.frozen
class CertificateSummary:
    """What a traceback needs from the signing certificate."""

    spc: str | None = None
    subject_o: str | None = None
    subject_cn: str | None = None
    issuer: str | None = None
    serial: str | None = None  # hex, lower case
    sha256: str | None = None
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "spc": self.spc,
            "subject_o": self.subject_o,
            "subject_cn": self.subject_cn,
            "issuer": self.issuer,
            "serial": self.serial,
            "sha256": self.sha256,
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after),
        }


class _Outcome:
    """What both result types derive from their ``error`` and ``certificate``."""

    error: str | None
    certificate: CertificateSummary | None

    @property
    def sip_code(self) -> int | None:
        """SIP status for :attr:`error` (RFC 8224 §6.2.2), ``None`` when passed."""
        return CODES[self.error].sip_code if self.error else None

    @property
    def reason(self) -> str | None:
        """Reason phrase for :attr:`sip_code` (RFC 8224 §13.2)."""
        return reason_phrase_for(self.sip_code)

    @property
    def spc(self) -> str | None:
        """The signing provider's SPC (from the certificate's TNAuthList), when known."""
        return self.certificate.spc if self.certificate else None


@attrs.frozen(slots=False)  # dict-backed: the verifier builds it in one step (shakenlib._frozen)
class IdentityResult(_Outcome):
    """The verification outcome of one Identity header."""

    index: int
    passed: bool
    error: str | None = None
    message: str | None = None
    ppt: str | None = None
    x5u: str | None = None
    attest: str | None = None
    origid: str | None = None
    iat: int | None = None
    orig: str | None = None
    dest: tuple[str, ...] = ()
    div: tuple[str, ...] = ()
    certificate: CertificateSummary | None = None
    findings: tuple[Finding, ...] = ()
    token: str | None = attrs.field(default=None, repr=False)  # the PASSporT as received
    #: Rich Call Data (RFC 9795) the PASSporT carries (``rcd``/``crn``/``rcdi`` claims).
    rcd: RichCallData | None = None

    @property
    def display_name(self) -> str | None:
        """The display name the PASSporT claims (RCD ``nam``, else its inline jCard
        ``fn``), whether or not it verified (see :attr:`passed`)."""
        return self.rcd.display_name if self.rcd is not None else None

    @property
    def call_reason(self) -> str | None:
        """The call reason the PASSporT claims (RFC 9795 ``crn``)."""
        return self.rcd.crn if self.rcd is not None else None

    @property
    def ppi(self) -> str | None:
        """RFC 9410 ``ppi`` for a ``Reason: STIR`` header: the PASSporT in compact form
        (``"..<signature>"``), naming which Identity header a failure is about.

        >>> IdentityResult(0, False, token="aGVhZA.Y2xhaW1z.c2ln").ppi
        '..c2ln'
        """
        if not self.token or self.token.count(".") != 2:
            return None
        return ".." + self.token.rpartition(".")[2]

    def reason_header(self) -> str | None:
        """RFC 9410 ``Reason: STIR`` value for this header's failure, with its ``ppi``.

        >>> r = IdentityResult(0, False, error="iat_stale", token="aGVhZA.Y2xhaW1z.c2ln")
        >>> r.reason_header()
        'STIR ;cause=403 ;text="Stale Date" ;ppi="..c2ln"'
        """
        if self.sip_code is None:
            return None
        ppi = f' ;ppi="{self.ppi}"' if self.ppi else ""
        return f'STIR ;cause={self.sip_code} ;text="{self.reason}"{ppi}'

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "index": self.index,
            "passed": self.passed,
            "error": self.error,
            "sip_code": self.sip_code,
            "reason": self.reason,
            "message": self.message,
            "ppt": self.ppt,
            "x5u": self.x5u,
            "attest": self.attest,
            "origid": self.origid,
            "iat": self.iat,
            "orig": self.orig,
            "dest": list(self.dest),
            "div": list(self.div),
            "spc": self.spc,
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "findings": [f.to_dict() for f in self.findings],
            "ppi": self.ppi,
            "display_name": self.display_name,
            "call_reason": self.call_reason,
            "rcd": self.rcd.to_dict() if self.rcd is not None else None,
        }


@attrs.frozen(slots=False)  # dict-backed: the verifier builds it in one step (shakenlib._frozen)
class VerificationResult(_Outcome):
    """The outcome of verifying one call.

    ``error`` is a stable code from :data:`shakenlib.errors.CODES` (``None`` when
    passed); ``sip_code``/``reason`` are what a verification service would send
    (403/428/436/437/438); ``verstat`` is the value for the P-Asserted-Identity/From.
    """

    verstat: Verstat
    error: str | None = None
    message: str | None = None
    ppt: str | None = None
    x5u: str | None = None
    attest: str | None = None
    origid: str | None = None
    iat: int | None = None
    orig: str | None = None
    dest: tuple[str, ...] = ()
    certificate: CertificateSummary | None = None
    identities: tuple[IdentityResult, ...] = ()
    verified_at: dt.datetime | None = None
    findings: tuple[Finding, ...] = ()

    @classmethod
    def failure(cls, code: str, message: str | None = None, **fields: Any) -> VerificationResult:
        """A failed result with ``code`` (no Identity header verified)."""
        verstat: Verstat = NO_TN_VALIDATION if code == "identity_missing" else TN_VALIDATION_FAILED
        return cls(
            verstat=verstat, error=code, message=message or CODES[code].description, **fields
        )

    @property
    def passed(self) -> bool:
        """Whether the call's identity was validated (``TN-Validation-Passed``)."""
        return self.verstat == TN_VALIDATION_PASSED

    def __bool__(self) -> bool:
        """Refused: a failed result would be truthy like any object. Ask ``.passed``.

        >>> bool(VerificationResult.failure("iat_stale"))
        Traceback (most recent call last):
        ...
        TypeError: the truth of a verification result is ambiguous: use result.passed
        """
        raise TypeError("the truth of a verification result is ambiguous: use result.passed")

    @property
    def display_name(self) -> str | None:
        """The *verified* display name (RFC 9795 ``nam``, else the inline jCard ``fn``):
        from the first passing PASSporT that carries one, the primary (shaken) first;
        ``None`` when no passing PASSporT names the caller."""
        rcd = self._verified_rcd()
        return rcd.display_name if rcd is not None else None

    @property
    def call_reason(self) -> str | None:
        """The verified call reason (RFC 9795 ``crn``), chosen like :attr:`display_name`."""
        for ident in self._passing():
            if ident.rcd is not None and ident.rcd.crn is not None:
                return ident.rcd.crn
        return None

    def _passing(self) -> list[IdentityResult]:
        passing = [i for i in self.identities if i.passed and i.rcd is not None]
        return sorted(passing, key=lambda i: i.ppt != self.ppt)  # stable: primary ppt first

    def _verified_rcd(self) -> RichCallData | None:
        for ident in self._passing():
            if ident.rcd is not None and ident.rcd.display_name is not None:
                return ident.rcd
        return None

    @property
    def provider(self) -> str | None:
        """The signing provider's legal name (certificate subject O)."""
        return self.certificate.subject_o if self.certificate else None

    def raise_for_failure(self) -> None:
        """Raise :class:`~shakenlib.errors.VerificationFailed` unless passed.

        >>> VerificationResult.failure("iat_stale").raise_for_failure()
        Traceback (most recent call last):
        ...
        shakenlib.errors.VerificationFailed: iat_stale: iat is older than the freshness window
        """
        if not self.passed:
            raise VerificationFailed(self.error or "identity_missing", self.message or "")

    def reason_header(self) -> str | None:
        """The SIP ``Reason`` header value (RFC 8224 / ATIS-1000074 §5.3.2), if failed.

        >>> VerificationResult.failure("signature_invalid").reason_header()
        'SIP ;cause=438 ;text="Invalid Identity Header"'
        """
        if self.sip_code is None:
            return None
        return f'SIP ;cause={self.sip_code} ;text="{self.reason}"'

    def _repr_html_(self) -> str:
        """A notebook view: status, SIP code, signer, attestation, origid, findings and
        each Identity header. Every value from the call is HTML-escaped."""
        import html

        def e(value: object) -> str:
            return html.escape("-" if value is None else str(value), quote=True)

        colour = "#009E73" if self.passed else "#D55E00"
        cert = self.certificate
        rows = [
            ("verstat", f'<b style="color:{colour}">{e(self.verstat)}</b>'),
            ("SIP", "-" if self.sip_code is None else f"{self.sip_code} {e(self.reason)}"),
            ("error", f"<code>{e(self.error)}</code> {e(self.message)}" if self.error else "-"),
            ("signer (SPC)", f"<code>{e(self.spc)}</code> {e(self.provider)}"),
            ("attestation", e(self.attest)),
            ("origid", f"<code>{e(self.origid)}</code>"),
            (
                "orig / dest",
                f"<code>{e(self.orig)}</code> &rarr; "
                f"<code>{e(', '.join(self.dest) or None)}</code>",
            ),
            ("x5u", f"<code>{e(self.x5u)}</code>"),
            ("certificate", f"{e(cert.subject_cn)} (issuer {e(cert.issuer)})" if cert else "-"),
        ]
        if self.display_name is not None:
            rows.append(("display name (verified)", e(self.display_name)))
        body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        findings = "".join(
            f"<li>{e(f.severity)} <code>{e(f.code)}</code>: {e(f.message)}</li>"
            for f in self.findings
        )
        idents = "".join(
            f"<li>#{i.index} {e(i.ppt)}: {'passed' if i.passed else 'failed'}"
            f"{' <code>' + e(i.error) + '</code>' if i.error else ''}"
            f"{' display name ' + e(i.display_name) if i.display_name else ''}</li>"
            for i in self.identities
        )
        return (
            f'<div class="shakenlib-result"><table>{body}</table>'
            f"{'<b>Findings</b><ul>' + findings + '</ul>' if findings else ''}"
            f"{'<b>Identity headers</b><ul>' + idents + '</ul>' if idents else ''}</div>"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``verify --json`` output)."""
        cert = self.certificate
        return {
            "verstat": self.verstat,
            "passed": self.passed,
            "sip_code": self.sip_code,
            "reason": self.reason,
            "error": self.error,
            "message": self.message,
            "ppt": self.ppt,
            "attest": self.attest,
            "origid": self.origid,
            "spc": self.spc,
            "provider": self.provider,
            "x5u": self.x5u,
            "iat": self.iat,
            "orig": self.orig,
            "dest": list(self.dest),
            "certificate": cert.to_dict() if cert else None,
            "verified_at": _iso(self.verified_at),
            "display_name": self.display_name,
            "call_reason": self.call_reason,
            "identities": [i.to_dict() for i in self.identities],
            "findings": [f.to_dict() for f in self.findings],
        }
