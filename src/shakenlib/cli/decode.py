"""``shakenlib decode``: show an Identity header's parameters, JOSE header, claims and findings.

``shakenlib decode IDENTITY [--json]`` decodes one header value;
``shakenlib decode --sip FILE [--json]`` decodes every Identity header of a SIP message
(``-`` reads standard input). No network access. Exit status 1 when a value is not a
PASSporT (one-line error), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from shakenlib.errors import IdentityHeaderError, ShakenError, UsageError
from shakenlib.sip.message import SipMessage, parse_sip_message
from shakenlib.sip.passport import DecodedIdentity, b64url_decode, decode_identity, rebuild_compact

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``decode``."""
    parser = subparsers.add_parser(
        "decode",
        help="decode an Identity header (or every one in a SIP message); no network",
        description=__doc__,
    )
    parser.add_argument(
        "identity",
        nargs="?",
        metavar="IDENTITY",
        help="an Identity header value (with or without the 'Identity:' name)",
    )
    parser.add_argument("--sip", metavar="FILE", help="a SIP message file ('-' for stdin)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def _read_sip(path: str) -> SipMessage:
    if path == "-":
        data = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as fh:
            data = fh.read()
    return parse_sip_message(data)


def _entry(decoded: DecodedIdentity, sip: SipMessage | None) -> dict[str, Any]:
    entry = decoded.to_dict()
    if sip is not None and decoded.identity.form == "compact":
        data, findings = rebuild_compact(decoded.identity, sip)
        h64, c64 = data.decode("ascii").split(".")
        entry["header"] = json.loads(b64url_decode(h64))
        entry["claims"] = json.loads(b64url_decode(c64))
        entry["rebuilt_from_sip"] = True
        have = {f["code"] for f in entry["findings"]}
        entry["findings"].extend(f.to_dict() for f in findings if f.code not in have)
    return entry


def _print_human(entry: dict[str, Any], out: Any) -> None:
    print(f"Identity header ({entry['form']} form)", file=out)
    for name, value in entry["params"].items():
        print(f"  {name}: {value}", file=out)
    for title, key in (("JOSE header", "header"), ("Claims", "claims")):
        if entry.get(key) is None:
            continue
        suffix = " (rebuilt from the SIP request)" if entry.get("rebuilt_from_sip") else ""
        print(f"{title}{suffix}", file=out)
        for name, value in entry[key].items():
            shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            print(f"  {name}: {shown}", file=out)
    findings = entry["findings"]
    print("Findings" + ("" if findings else ": none"), file=out)
    for f in findings:
        print(f"  {f['severity']:<6} {f['code']}: {f['message']}", file=out)


def run(args: argparse.Namespace) -> int:
    """Decode and print; returns the exit status."""
    if (args.identity is None) == (args.sip is None):
        raise UsageError("usage", "give either IDENTITY or --sip FILE")
    out = sys.stdout
    if args.identity is not None:
        decoded = decode_identity(args.identity)
        if decoded.error is not None:
            raise decoded.error
        entry = _entry(decoded, None)
        if args.json:
            print(json.dumps(entry, indent=2, sort_keys=False), file=out)
        else:
            _print_human(entry, out)
        return 0

    sip = _read_sip(args.sip)
    if not sip.identity:
        raise IdentityHeaderError("identity_missing", "the SIP message has no Identity header")
    entries = []
    errors: list[ShakenError] = []
    for value in sip.identity:
        decoded = decode_identity(value)
        if decoded.error is not None:
            errors.append(decoded.error)
        entries.append(_entry(decoded, sip))
    if args.json:
        print(json.dumps({"identities": entries}, indent=2), file=out)
    else:
        for i, entry in enumerate(entries, 1):
            print(f"=== Identity {i} of {len(entries)}", file=out)
            if entry["error"] is not None:
                print(
                    f"  not a PASSporT: {entry['error']['code']}: {entry['error']['message']}",
                    file=out,
                )
                continue
            _print_human(entry, out)
    if errors:
        err = errors[0]
        print(f"shakenlib: {err.code}: {err.message}", file=sys.stderr)
        return 1
    return 0
