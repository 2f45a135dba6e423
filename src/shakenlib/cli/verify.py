"""``shakenlib verify``: verify Identity headers as an ATIS-1000074 verification service.

::

    shakenlib verify [IDENTITY ...] [--sip FILE] [--orig TN] [--dest TN] [--at TIME]
                     [--trust PEM]... [--mirror DIR] [--revocation require|prefer|off]
                     [--revocation-as-of] [--allow-compact-form] [--freshness SECONDS]
                     [--json]

Exit status: 0 when ``verstat`` is ``TN-Validation-Passed``, 1 otherwise, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from shakenlib.errors import UsageError
from shakenlib.fetch import CertificateRepository, HttpRepository, MirrorRepository
from shakenlib.pki.trust import TrustStore
from shakenlib.verify import Policy, Verifier, to_datetime
from shakenlib.verify.result import VerificationResult

__all__ = ["add_parser", "build_verifier", "policy_from_args", "run"]


def add_parser(subparsers: Any) -> None:
    """Register the ``verify`` sub-command."""
    p = subparsers.add_parser(
        "verify",
        help="verify Identity headers (certificate, chain, revocation, signature, numbers)",
        description=__doc__.split("::")[0].strip(),
    )
    p.add_argument(
        "identity", nargs="*", metavar="IDENTITY", help="Identity header value(s) of one call"
    )
    p.add_argument(
        "--sip",
        metavar="FILE",
        help="a SIP request ('-' for stdin): headers and numbers come from it",
    )
    p.add_argument("--orig", metavar="TN", help="the calling number (PAI/From)")
    p.add_argument(
        "--dest",
        metavar="TN",
        action="append",
        help="the called number (To/Request-URI); repeatable",
    )
    p.add_argument(
        "--at",
        metavar="TIME",
        help="verification time: Unix seconds or ISO 8601 (default: the SIP Date, else now)",
    )
    add_verifier_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


#: The largest --freshness accepted: ten years (historical analysis may need a wide
#: window; beyond this a time difference is no freshness check at all).
MAX_FRESHNESS = 10 * 365 * 86400.0


def seconds(text: str) -> float:
    """``--freshness``: a positive, finite number of seconds up to :data:`MAX_FRESHNESS`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= MAX_FRESHNESS:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a number of seconds greater than 0, at most {MAX_FRESHNESS:.0f}"
        )
    return value


def positive_int(text: str) -> int:
    """A count that must be at least 1 (``--chunk-size``, ``--jobs``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def add_verifier_options(p: argparse.ArgumentParser) -> None:
    """The options that build a verifier (shared with the batch commands)."""
    p.add_argument(
        "--trust",
        metavar="PEM",
        action="append",
        default=[],
        help="PEM file or directory of trust anchors (STI-CA roots, STI-PA CRL "
        "signer); repeatable; required",
    )
    p.add_argument(
        "--mirror",
        metavar="DIR",
        help="offline certificate repository: https://HOST/PATH is DIR/HOST/PATH",
    )
    p.add_argument(
        "--revocation",
        choices=("require", "prefer", "off"),
        default="prefer",
        help="CRL policy (default: prefer = soft-fail when no CRL is available)",
    )
    p.add_argument(
        "--revocation-as-of",
        action="store_true",
        help="historical revocation: accept a CRL issued after the call and count a "
        "revocation only if dated at or before the call (Policy.revocation_time='as_of')",
    )
    p.add_argument(
        "--allow-compact-form",
        action="store_true",
        help="verify compact-form shaken PASSporTs over the text rebuilt from the SIP "
        "request (ATIS-1000074 requires the full form; reported as a warning)",
    )
    p.add_argument(
        "--freshness",
        metavar="SECONDS",
        type=seconds,
        default=60.0,
        help="largest accepted |time - iat| (default 60)",
    )


def build_verifier(args: argparse.Namespace) -> Verifier:
    """A :class:`Verifier` from the shared command-line options."""
    if not args.trust:
        raise UsageError("usage", "give at least one --trust PEM (the STI-PA trust anchors)")
    trust = TrustStore.from_pem_files(args.trust)
    repository: CertificateRepository
    if args.mirror:
        if not Path(args.mirror).is_dir():
            raise UsageError("usage", f"--mirror {args.mirror}: not a directory")
        repository = MirrorRepository(args.mirror)
    else:
        repository = HttpRepository()
    return Verifier(trust, repository, policy=policy_from_args(args))


def policy_from_args(args: argparse.Namespace) -> Policy:
    """The :class:`Policy` the shared command-line options describe."""
    return Policy(
        freshness=dt.timedelta(seconds=args.freshness),
        revocation=args.revocation,
        revocation_time="as_of" if getattr(args, "revocation_as_of", False) else "current",
        allow_compact_form=bool(getattr(args, "allow_compact_form", False)),
    )


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()


def run(args: argparse.Namespace) -> int:
    """Run ``verify``; returns the exit status."""
    if not args.identity and not args.sip:
        raise UsageError("usage", "give IDENTITY values or --sip FILE")
    verifier = build_verifier(args)
    at = to_datetime(args.at) if args.at else None
    if args.sip:
        from shakenlib.sip.message import parse_sip_message

        sip = parse_sip_message(_read(args.sip))
        when = at or sip.date_time() or dt.datetime.now(dt.UTC)
        identities = list(args.identity) or list(sip.identity)
        result = verifier.verify(identities, orig=args.orig, dest=args.dest, at=when, sip=sip)
    else:
        result = verifier.verify(
            args.identity, orig=args.orig, dest=args.dest, at=at or dt.datetime.now(dt.UTC)
        )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_result(result))
    return 0 if result.passed else 1


def format_result(result: VerificationResult) -> str:
    """A readable report of a verification result."""
    lines = [f"verstat: {result.verstat}"]
    if result.error:
        lines.append(
            f"error:   {result.sip_code} {result.reason} [{result.error}] {result.message}"
        )
    for label, value in (
        ("attest", result.attest),
        ("origid", result.origid),
        ("spc", result.spc),
        ("signer", result.provider),
        ("x5u", result.x5u),
        ("iat", result.iat),
        ("name", result.display_name),
        ("reason", result.call_reason),
        ("orig", result.orig),
        ("dest", ", ".join(result.dest) or None),
    ):
        if value is not None:
            lines.append(f"{label + ':':<8} {value}")
    if len(result.identities) > 1:
        for ident in result.identities:
            state = "passed" if ident.passed else f"{ident.sip_code} [{ident.error}]"
            lines.append(f"  identity {ident.index} ({ident.ppt}): {state}")
    for f in result.findings:
        lines.append(f"finding: {f.severity} {f.code}: {f.message}")
    for ident in result.identities:
        for f in ident.findings:
            lines.append(f"finding: identity {ident.index}: {f.severity} {f.code}: {f.message}")
    return "\n".join(lines)
