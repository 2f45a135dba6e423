"""``shakenlib lint-cert FILE... [--at TIME] [--json]``: lint STI certificates.

Lints every certificate in the given PEM/DER files (bundles too) against the
ATIS-1000080 / US SHAKEN CP / RFC 5280 rules of :mod:`shakenlib.pki.lint`. Exit status 0
when no finding has severity ``error``, 1 otherwise, 2 on usage errors.

>>> parse_time("1700000000").isoformat()
'2023-11-14T22:13:20+00:00'
>>> parse_time("2024-02-29T12:00:00Z").isoformat()
'2024-02-29T12:00:00+00:00'
>>> parse_time("2024-02-29").isoformat()
'2024-02-29T00:00:00+00:00'
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from shakenlib.errors import CertificateError, UsageError
from shakenlib.pki.certs import load_certificates
from shakenlib.pki.lint import lint_certificate
from shakenlib.timeutil import parse_time

__all__ = ["add_parser", "parse_time", "run"]


def _at(text: str) -> datetime:
    try:
        return parse_time(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(exc.message) from exc


def add_parser(subparsers: Any) -> None:
    """Register ``lint-cert``."""
    p = subparsers.add_parser(
        "lint-cert",
        help="lint STI certificates (ATIS-1000080, US SHAKEN CP, RFC 5280)",
        description="Lint every certificate in the given PEM/DER files against the STI "
        "certificate profile; exit 1 if any finding is an error.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="PEM or DER file (bundles too)")
    p.add_argument(
        "--at",
        type=_at,
        metavar="TIME",
        help="also report whether each certificate is valid at TIME (Unix seconds or ISO 8601)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Lint the files; print the report; return the exit status."""
    results: list[dict[str, Any]] = []
    for name in args.files:
        data = Path(name).read_bytes()
        try:
            certs = load_certificates(data)
        except CertificateError as exc:
            raise CertificateError(exc.code, f"{name}: {exc.message}") from exc
        for cert in certs:
            findings = lint_certificate(cert, at=args.at)
            results.append(
                {
                    "file": name,
                    "sha256": cert.sha256,
                    "subject": cert.subject,
                    "spc": cert.spc,
                    "findings": [
                        {
                            "code": f.code,
                            "severity": f.severity,
                            "source": f.source,
                            "message": f.message,
                        }
                        for f in findings
                    ],
                }
            )
    failed = any(f["severity"] == "error" for r in results for f in r["findings"])
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            n = len(r["findings"])
            status = "OK" if n == 0 else f"{n} finding{'s' if n != 1 else ''}"
            spc = f" SPC {r['spc']}" if r["spc"] else ""
            print(f"{r['file']}: {r['subject']}{spc} [{r['sha256'][:16]}]: {status}")
            for f in r["findings"]:
                print(f"  {f['severity']:<6} {f['code']} ({f['source']}): {f['message']}")
        errors = sum(1 for r in results for f in r["findings"] if f["severity"] == "error")
        print(f"{len(results)} certificate(s), {errors} error finding(s)")
    return 1 if failed else 0
