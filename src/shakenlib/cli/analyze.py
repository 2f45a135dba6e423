"""``shakenlib analyze``: traceback leads from a file of call records.

::

    shakenlib analyze CALLS [--trust PEM]... [--mirror DIR] [--providers CSV] [--jobs N]
                      [--map FIELD=COLUMN,...] [--format jsonl|csv|sip] [--top N]
                      [--json | --csv FILE | --html FILE]

CALLS is a JSON Lines or CSV file of call records (``time``, ``orig``, ``dest``,
``identity``, optional ``call_id``) or a SIP message file/directory. Every record is
verified as of its own time; signed calls are grouped by (signing SPC, origid) and
ranked most suspicious first. Without an output flag a readable table of the top leads
is printed; ``--json`` prints everything as one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import html
import json
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any, TextIO

from shakenlib.analysis.batch import Progress, VerifierConfig, analyze_source
from shakenlib.analysis.leads import Analysis, Lead
from shakenlib.analysis.providers import ProviderDirectory
from shakenlib.analysis.records import FIELDS, FORMATS, RecordSource, parse_mapping
from shakenlib.cli.verify import add_verifier_options
from shakenlib.errors import UsageError

__all__ = ["add_batch_options", "add_parser", "make_progress", "run", "source_and_config"]


def add_parser(subparsers: Any) -> None:
    """Register the ``analyze`` sub-command."""
    p = subparsers.add_parser(
        "analyze",
        help="verify call records and rank (SPC, origid) traceback leads",
        description=__doc__.split("::")[0].strip(),
    )
    p.add_argument("calls", metavar="CALLS",
                   help="call records: JSON Lines, CSV, SIP, pcap/pcapng, Parquet; file or dir")
    add_batch_options(p)
    p.add_argument("--providers", metavar="CSV",
                   help="provider directory: spc,name[,ocn] or the OCN,Org Name,CN,Cert table")
    p.add_argument("--top", metavar="N", type=int, default=None,
                   help="leads to show (default: 10 in the table, all in JSON/CSV/HTML)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--csv", metavar="FILE", help="write one CSV row per lead")
    out.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    p.set_defaults(run=run)


def add_batch_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``analyze`` and ``verify-batch``."""
    add_verifier_options(p)
    p.add_argument("--jobs", metavar="N", type=int, default=None,
                   help="worker processes (default: the number of cores)")
    p.add_argument("--map", metavar="FIELD=COLUMN,...", default=None,
                   help="column mapping for CDR exports, e.g. \"time=Start Time,"
                        "orig=calling_number,pai=PAI,identity=IdentityA+IdentityB,"
                        "verstat=Verstat\"; dotted names reach into nested JSON "
                        "(fields: " + ", ".join(FIELDS) + ")")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="input format (default: from the content and name of each file)")
    p.add_argument("--tz", metavar="ZONE", default=None,
                   help="IANA time zone of record times without an offset (default UTC), "
                        "e.g. America/New_York")
    p.add_argument("--country-code", metavar="CC", default="1",
                   help="country code of record numbers written without one (default 1, "
                        "NANP); 'none' reads numbers as they are")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run on the Dask cluster of this scheduler, e.g. tcp://HOST:8786 "
                        "(extra dask; files must be reachable from every worker at the same "
                        "path; see docs/scaling.md)")
    p.add_argument("--chunk-size", metavar="N", type=int, default=None, help=argparse.SUPPRESS)


def source_and_config(args: argparse.Namespace) -> tuple[RecordSource, VerifierConfig]:
    """The record source and the picklable verifier settings from the options."""
    from shakenlib.verify import Policy

    path = Path(args.calls)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", args.calls)
    if not args.trust:
        raise UsageError("usage", "give at least one --trust PEM (the STI-PA trust anchors)")
    if args.mirror and not Path(args.mirror).is_dir():
        raise UsageError("usage", f"--mirror {args.mirror}: not a directory")
    if args.freshness <= 0:
        raise UsageError("usage", "--freshness must be positive")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("usage", "--jobs must be at least 1")
    for trust in args.trust:  # fail early, in this process, on a missing trust file
        if not Path(trust).exists():
            raise FileNotFoundError(2, "No such file or directory", trust)
    policy = Policy(freshness=dt.timedelta(seconds=args.freshness), revocation=args.revocation,
                    revocation_time="as_of" if args.revocation_as_of else "current",
                    allow_compact_form=args.allow_compact_form)
    country = None if args.country_code.lower() in ("none", "") else args.country_code
    source = RecordSource(path=str(path), fmt=args.format, mapping=parse_mapping(args.map),
                          tz=args.tz, country_code=country.lstrip("+") if country else None)
    config = VerifierConfig(trust_files=tuple(args.trust), mirror=args.mirror, policy=policy)
    return source, config


def make_progress(stream: TextIO | None = None) -> Progress | None:
    """A progress printer for long runs, only when ``stream`` (stderr) is a terminal."""
    stream = stream if stream is not None else sys.stderr
    if not stream.isatty():
        return None
    start = time.monotonic()
    last = [0.0]

    def progress(done: int, failures: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5:
            return
        last[0] = now
        rate = done / max(now - start, 1e-9)
        assert stream is not None
        stream.write(f"\r{done} records, {rate:,.0f}/s, {failures} failed so far ")
        stream.flush()

    return progress


def run(args: argparse.Namespace) -> int:
    """Run ``analyze``."""
    source, config = source_and_config(args)
    directory = ProviderDirectory.from_csv(args.providers) if args.providers else None
    progress = make_progress() if not args.scheduler else None
    if args.scheduler:  # on a Dask cluster (shakenlib.analysis.cluster)
        from shakenlib.analysis.cluster import analyze_on_cluster, connect

        with connect(args.scheduler) as client:
            analysis = analyze_on_cluster(source, config, client)
    else:
        analysis = analyze_source(source, config, jobs=args.jobs,
                                  chunk_size=args.chunk_size or 2048, progress=progress)
    if progress is not None:
        sys.stderr.write("\n")
    if args.json:
        json.dump(analysis.to_dict(directory, top=args.top), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.csv:
        # backslashreplace: a lone surrogate in a signer's origid must not stop the report
        with open(args.csv, "w", encoding="utf-8", errors="backslashreplace",
                  newline="") as handle:
            write_csv(analysis.leads(directory, top=args.top), handle)
    elif args.html:
        Path(args.html).write_text(render_html(analysis, directory, top=args.top),
                                   encoding="utf-8")
    else:
        sys.stdout.write(render_table(analysis, directory, top=args.top or 10))
    return 0


# --- output -------------------------------------------------------------------------------
def _printable(text: str) -> str:
    """``text`` with control characters, lone surrogates and other non-printables escaped.

    origid, subject O and claimed numbers come from the signer: a newline would forge a
    line of the report, an escape sequence would drive the investigator's terminal.

    >>> _printable("o\\n#1\\x1b[2J\\ud800 ok")
    'o\\\\n#1\\\\x1b[2J\\\\ud800 ok'
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    o = ord(ch)
    if ch in "\n\r\t":
        return repr(ch)[1:-1]
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def _attest(lead: Lead) -> str:
    return " ".join(f"{k}:{v}" for k, v in lead.attest.items())


def _totals(analysis: Analysis) -> str:
    return (f"{analysis.calls} calls: {analysis.passed} passed, {analysis.failed} failed, "
            f"{analysis.unsigned} unsigned; {analysis.unreadable} unreadable records")


def render_table(analysis: Analysis, directory: ProviderDirectory | None, *, top: int) -> str:
    """The readable report: totals, then the top leads with why and the traceback ask."""
    lines = [_totals(analysis), ""]
    leads = analysis.leads(directory)
    if not leads:
        lines.append("no signed calls with a known signer")
    for rank, lead in enumerate(leads[:top], 1):
        provider = lead.provider.name or "?"
        itg = " [ITG member]" if lead.provider.itg_member else ""
        lines.append(f"#{rank}  score {lead.score:5.1f}  signer SPC {lead.spc}  {provider}{itg}")
        lines.append(f"    origid {lead.origid}  calls {lead.calls} "
                     f"(passed {lead.passed})  distinct orig {lead.distinct_orig}  "
                     f"dest {lead.distinct_dest}  attest {_attest(lead)}")
        lines.append(f"    seen {_when(lead.first_seen)} .. {_when(lead.last_seen)}  "
                     f"peak {lead.peak_per_hour}/h")
        lines.extend(f"    - {reason}" for reason in lead.why)
        if lead.samples:
            s = lead.samples[0]
            lines.append(f"    traceback: ask the signer ({lead.spc}) about origid "
                         f"{lead.origid}, e.g. call {s.orig} -> {s.dest} at {_when(s.time)}")
        lines.append("")
    if len(leads) > top:
        lines.append(f"... {len(leads) - top} more leads (--top N, --json)")
    if analysis.failed_by_error:
        codes = ", ".join(f"{c} {n}" for c, n in analysis.failed_by_error.most_common(8))
        lines.append(f"failed verification by error: {codes}")
    if analysis.unattributed:
        lines.append(f"failed before a certificate was obtained: "
                     f"{sum(analysis.unattributed.values())} calls")
    if analysis.unsigned:
        u = analysis.unsigned_numbers
        lines.append(f"unsigned: {analysis.unsigned} calls from {u.orig.count()} calling "
                     f"numbers ({u.neighbour_calls} neighbour-pattern)")
    if analysis.upstream_compared:
        lines.append(f"upstream verdicts: {sum(analysis.upstream_disagree.values())} of "
                     f"{analysis.upstream_compared} calls disagree with ours: " + ", ".join(
                         f"{k} {n}" for k, n in analysis.upstream_disagree.most_common(6)))
    if analysis.national:
        lines.append(f"national numbers: {analysis.national} calls had numbers without a "
                     "country code (read with --country-code)")
    for line, reason, source in analysis.errors[:5]:
        lines.append(f"unreadable: {source}:{line}: {reason}")
    return "\n".join(_printable(line) for line in lines).rstrip() + "\n"


CSV_COLUMNS = ("rank", "score", "spc", "provider", "itg_member", "origid", "calls", "passed",
               "failed", "distinct_orig", "distinct_dest", "attest_A", "attest_B",
               "attest_C", "neighbour_calls", "invalid_orig_calls", "first_seen",
               "last_seen", "peak_per_hour", "flags", "why")


def _cell(text: str | None) -> str | None:
    """A text cell a spreadsheet will not run: values from the calls (origid, provider
    names) are attacker-controlled, and a leading = + - @ (or tab/CR/LF) starts a formula
    (CSV injection); such a value gets a leading apostrophe. Spreadsheets skip leading
    spaces and read fullwidth signs (＝ U+FF1D) as ASCII ones, so the first character
    that is not a space is checked after NFKC normalisation.

    >>> [_cell(v) for v in ("=1+1", " =1+1", "＝1+1", "\u3000@SUM(A1)", "a=1", "-")]
    ["'=1+1", "' =1+1", "'＝1+1", "'\u3000@SUM(A1)", 'a=1', "'-"]
    """
    if not text:
        return text
    if text[0] in "\t\r\n":
        return "'" + text
    head = text.lstrip(" \u00a0\u3000")[:1]
    if head and unicodedata.normalize("NFKC", head)[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


def write_csv(leads: list[Lead], handle: TextIO) -> None:
    """One CSV row per lead."""
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    for rank, lead in enumerate(leads, 1):
        d = lead.to_dict()
        writer.writerow([
            rank, lead.score, _cell(lead.spc), _cell(lead.provider.name),
            lead.provider.itg_member, _cell(lead.origid), lead.calls, lead.passed,
            sum(lead.failed.values()),
            lead.distinct_orig, lead.distinct_dest, lead.attest.get("A", 0),
            lead.attest.get("B", 0), lead.attest.get("C", 0), lead.neighbour_calls,
            lead.invalid_orig_calls, d["first_seen"], d["last_seen"], lead.peak_per_hour,
            ";".join(lead.flags), _cell(" | ".join(lead.why)),
        ])


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px 6px;
vertical-align:top;text-align:left}th{background:#eee}.score{font-weight:bold}
.why{font-size:90%}code{font-size:90%}"""


def render_html(analysis: Analysis, directory: ProviderDirectory | None, *,
                top: int | None = None) -> str:
    """A self-contained HTML page (no external assets; every value escaped)."""
    def e(text: str) -> str:
        return html.escape(_printable(text))

    rows = []
    for rank, lead in enumerate(analysis.leads(directory, top=top), 1):
        why = "".join(f"<li>{e(w)}</li>" for w in lead.why)
        samples = "".join(
            f"<li><code>{e(s.orig or '-')}</code> &rarr; <code>{e(s.dest or '-')}</code> "
            f"at {e(_when(s.time))}{' (' + e(s.call_id) + ')' if s.call_id else ''}</li>"
            for s in lead.samples)
        rows.append(
            f"<tr><td>{rank}</td><td class=score>{lead.score:.1f}</td>"
            f"<td><code>{e(lead.spc or '')}</code><br>{e(lead.provider.name or '?')}"
            f"{'<br>ITG member' if lead.provider.itg_member else ''}</td>"
            f"<td><code>{e(lead.origid or '')}</code></td><td>{lead.calls}</td>"
            f"<td>{lead.distinct_orig}</td><td>{lead.distinct_dest}</td>"
            f"<td>{e(_attest(lead))}</td><td>{e(_when(lead.first_seen))}<br>"
            f"{e(_when(lead.last_seen))}</td><td class=why><ul>{why}</ul>"
            f"<b>Traceback</b> (signer, not necessarily the originator): "
            f"{e(lead.traceback.ask)}<ul>{samples}</ul></td></tr>")
    head = ("<tr><th>#</th><th>score</th><th>signer (SPC, provider)</th><th>origid</th>"
            "<th>calls</th><th>distinct orig</th><th>distinct dest</th><th>attest</th>"
            "<th>first / last seen (UTC)</th><th>why</th></tr>")
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>shakenlib analyze</title><style>{_STYLE}</style></head><body>"
        f"<h1>Traceback leads</h1><p>{e(_totals(analysis))}</p>"
        f"<table>{head}{''.join(rows)}</table></body></html>\n"
    )
