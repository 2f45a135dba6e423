"""Findings: deviations that are reported rather than raised.

Parsing is lenient and reporting is strict: a header that real carriers send parses,
and each way it departs from the standard comes back as a :class:`Finding`. The
certificate linter reports its rule results the same way.

>>> from shakenlib.findings import Finding
>>> f = Finding("identity_malformed", "warn", "space before ';'", source="RFC 8224 §4")
>>> f.to_dict()["code"], f.to_dict()["severity"]
('identity_malformed', 'warn')
"""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = ["SEVERITIES", "Finding", "Severity"]

Severity = Literal["error", "warn", "notice", "info"]
#: Severities from most to least serious.
SEVERITIES: tuple[Severity, ...] = ("error", "warn", "notice", "info")


@attrs.frozen
class Finding:
    """One reported deviation.

    ``code`` is a stable machine code: an error code from :data:`shakenlib.errors.CODES`
    for parsing and verification findings, or a conformance rule code (such as
    ``e_atis_subject_cn_spc``) for certificate lint findings.
    """

    code: str
    severity: Severity
    message: str
    source: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        """Plain JSON-ready dict."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "source": self.source,
        }
