"""``shakenlib analyze``: traceback leads from a file of call records.

::

    shakenlib analyze CALLS [--trust PEM]... [--mirror DIR] [--providers CSV] [--jobs N]
                      [--map FIELD=COLUMN,...] [--format jsonl|csv|sip] [--top N|all]
                      [--json | --csv FILE | --html FILE]

CALLS is a JSON Lines or CSV file of call records (``time``, ``orig``, ``dest``,
``identity``, optional ``call_id``) or a SIP message file/directory. Every record is
verified as of its own time; signed calls are grouped by (signing SPC, origid), or by
SPC for a signer that puts a fresh origid on every call, and ranked most suspicious
first. Without an output flag a readable table of the top leads and the signers is
printed; ``--json`` prints one JSON object; ``--csv`` writes the leads and, next to
them, the signers table (``NAME-signers.csv``). ``--top`` (default 10 in the table, 100
otherwise; ``all`` for every lead) applies to every format; the totals say how many
leads there were.
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
from shakenlib.analysis.leads import Analysis, Lead, SignerSummary
from shakenlib.analysis.providers import ProviderDirectory
from shakenlib.analysis.records import FIELDS, FORMATS, RecordSource, parse_mapping
from shakenlib.cli.verify import add_verifier_options, positive_int
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
    p.add_argument("--top", metavar="N|all", type=_top, default=None,
                   help="leads to report (default: 10 in the table, 100 in JSON/CSV/HTML; "
                        "'all' for every lead)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--csv", metavar="FILE", help="write one CSV row per lead")
    out.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    p.set_defaults(run=run)


def add_batch_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``analyze`` and ``verify-batch``."""
    add_verifier_options(p)
    p.add_argument("--jobs", metavar="N", type=positive_int, default=None,
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
    p.add_argument("--chunk-size", metavar="N", type=positive_int, default=None,
                   help=argparse.SUPPRESS)


#: ``--top all``
ALL = -1
#: Leads reported by default in JSON, CSV and HTML (the table shows 10).
DEFAULT_TOP = 100


def _top(text: str) -> int:
    """``--top``: a positive number or ``all``."""
    if text.strip().lower() == "all":
        return ALL
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'all', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 (or 'all')")
    return value


def _limit(top: int | None, default: int) -> int | None:
    """The number of leads to build (``None``: all)."""
    if top is None:
        return default
    return None if top == ALL else top


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
    top = _limit(args.top, 10 if not (args.json or args.csv or args.html) else DEFAULT_TOP)
    if args.json:
        json.dump(analysis.to_dict(directory, top=top), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.csv:
        # backslashreplace: a lone surrogate in a signer's origid must not stop the report
        with open(args.csv, "w", encoding="utf-8", errors="backslashreplace",
                  newline="") as handle:
            write_csv(analysis.leads(directory, top=top), handle)
        with open(signers_csv_path(args.csv), "w", encoding="utf-8",
                  errors="backslashreplace", newline="") as handle:
            write_signers_csv(analysis.signers_table(directory), handle)
    elif args.html:
        Path(args.html).write_text(render_html(analysis, directory, top=top),
                                   encoding="utf-8")
    else:
        sys.stdout.write(render_table(analysis, directory, top=top))
    return 0


def signers_csv_path(path: str) -> Path:
    """Where ``--csv PATH`` writes the signers table: ``leads.csv`` -> ``leads-signers.csv``.

    >>> signers_csv_path("out/leads.csv").as_posix()
    'out/leads-signers.csv'
    """
    p = Path(path)
    return p.with_name(f"{p.stem}-signers{p.suffix or '.csv'}")


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


def _origid(lead: Lead) -> str:
    if lead.origid_per_call:
        return f"(per call: {lead.distinct_origids} origids)"
    return str(lead.origid)


def _signer_line(row: SignerSummary) -> str:
    attest = " ".join(f"{k}:{v}" for k, v in row.attest.items())
    itg = " [ITG]" if row.provider.itg_member else ""
    per_call = "  origid per call" if row.origid_per_call else ""
    approx = "" if row.distinct_origids_exact else "~"
    return (f"  {row.spc:<6} {(row.provider.name or '?')[:28]:<28}{itg}  calls {row.calls} "
            f"({row.share:.1%})  passed {row.passed}  failed {row.failed}  origids "
            f"{approx}{row.distinct_origids} ({row.origids_per_call:.3g}/call)  "
            f"attest {attest}{per_call}")


def render_table(analysis: Analysis, directory: ProviderDirectory | None, *,
                 top: int | None = 10) -> str:
    """The readable report: totals, the top leads with why and the traceback ask, then the
    signers."""
    lines = [_totals(analysis), ""]
    total = analysis.leads_total()
    leads = analysis.leads(directory, top=top)
    if not leads:
        lines.append("no signed calls with a known signer")
    for rank, lead in enumerate(leads, 1):
        provider = lead.provider.name or "?"
        itg = " [ITG member]" if lead.provider.itg_member else ""
        lines.append(f"#{rank}  score {lead.score:5.1f}  signer SPC {lead.spc}  {provider}{itg}")
        lines.append(f"    origid {_origid(lead)}  calls {lead.calls} "
                     f"(passed {lead.passed})  distinct orig {lead.distinct_orig}  "
                     f"dest {lead.distinct_dest}  attest {_attest(lead)}")
        lines.append(f"    seen {_when(lead.first_seen)} .. {_when(lead.last_seen)}  "
                     f"peak {lead.peak_per_hour}/h")
        lines.extend(f"    - {reason}" for reason in lead.why)
        if lead.samples:
            s = lead.samples[0]
            about = (f"the origid of each call, e.g. {s.origid}" if lead.origid_per_call
                     else f"origid {lead.origid}")
            lines.append(f"    traceback: ask the signer ({lead.spc}) about {about}, "
                         f"e.g. call {s.orig} -> {s.dest} at {_when(s.time)}")
        lines.append("")
    if total > len(leads):
        lines.append(f"... {total - len(leads)} more leads ({total} in all; --top N|all, "
                     "--json)")
    signers = analysis.signers_table(directory)
    if signers:
        lines.append(f"signers ({len(signers)}):")
        lines.extend(_signer_line(row) for row in signers[:SIGNER_ROWS])
        if len(signers) > SIGNER_ROWS:
            lines.append(f"  ... {len(signers) - SIGNER_ROWS} more signers (--json, --csv)")
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
    for line, source, message in analysis.internal_errors[:5]:
        lines.append(f"internal error (a shakenlib defect, please report): {source}:{line}: "
                     f"{message}")
    return "\n".join(_printable(line) for line in lines).rstrip() + "\n"


#: Signers the readable table lists (most calls first).
SIGNER_ROWS = 20


CSV_COLUMNS = ("rank", "score", "spc", "provider", "itg_member", "origid", "calls", "passed",
               "failed", "distinct_orig", "distinct_dest", "attest_A", "attest_B",
               "attest_C", "neighbour_calls", "invalid_orig_calls", "first_seen",
               "last_seen", "peak_per_hour", "flags", "why", "origid_per_call",
               "distinct_origids")
SIGNER_COLUMNS = ("spc", "provider", "itg_member", "calls", "share", "passed", "failed",
                  "distinct_origids", "distinct_origids_exact", "origids_per_call",
                  "origid_per_call", "attest_A", "attest_B", "attest_C")


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
            ";".join(lead.flags), _cell(" | ".join(lead.why)), lead.origid_per_call,
            lead.distinct_origids,
        ])


def write_signers_csv(rows: list[SignerSummary], handle: TextIO) -> None:
    """One CSV row per signer (the signers table)."""
    writer = csv.writer(handle)
    writer.writerow(SIGNER_COLUMNS)
    for row in rows:
        writer.writerow([
            _cell(row.spc), _cell(row.provider.name), row.provider.itg_member, row.calls,
            round(row.share, 4), row.passed, row.failed, row.distinct_origids,
            row.distinct_origids_exact, round(row.origids_per_call, 4), row.origid_per_call,
            row.attest.get("A", 0), row.attest.get("B", 0), row.attest.get("C", 0),
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
            f"at {e(_when(s.time))}{' (' + e(s.call_id) + ')' if s.call_id else ''}"
            f"{' origid <code>' + e(s.origid) + '</code>' if s.origid else ''}</li>"
            for s in lead.samples)
        rows.append(
            f"<tr><td>{rank}</td><td class=score>{lead.score:.1f}</td>"
            f"<td><code>{e(lead.spc or '')}</code><br>{e(lead.provider.name or '?')}"
            f"{'<br>ITG member' if lead.provider.itg_member else ''}</td>"
            f"<td><code>{e(_origid(lead) if lead.origid_per_call else lead.origid or '')}"
            f"</code></td><td>{lead.calls}</td>"
            f"<td>{lead.distinct_orig}</td><td>{lead.distinct_dest}</td>"
            f"<td>{e(_attest(lead))}</td><td>{e(_when(lead.first_seen))}<br>"
            f"{e(_when(lead.last_seen))}</td><td class=why><ul>{why}</ul>"
            f"<b>Traceback</b> (signer, not necessarily the originator): "
            f"{e(lead.traceback.ask)}<ul>{samples}</ul></td></tr>")
    signers = "".join(
        f"<tr><td><code>{e(row.spc)}</code></td><td>{e(row.provider.name or '?')}"
        f"{'<br>ITG member' if row.provider.itg_member else ''}</td><td>{row.calls}</td>"
        f"<td>{row.share:.1%}</td><td>{row.passed}</td><td>{row.failed}</td>"
        f"<td>{'' if row.distinct_origids_exact else '~'}{row.distinct_origids}</td>"
        f"<td>{row.origids_per_call:.2f}{' (origid per call)' if row.origid_per_call else ''}"
        f"</td><td>{e(' '.join(f'{k}:{v}' for k, v in row.attest.items()))}</td></tr>"
        for row in analysis.signers_table(directory))
    signer_head = ("<tr><th>SPC</th><th>provider</th><th>calls</th><th>share</th>"
                   "<th>passed</th><th>failed</th><th>distinct origids</th>"
                   "<th>origids per call</th><th>attest</th></tr>")
    total = analysis.leads_total()
    shown = (f"<p>{len(rows)} of {total} leads (--top N|all)</p>" if total > len(rows)
             else "")
    head = ("<tr><th>#</th><th>score</th><th>signer (SPC, provider)</th><th>origid</th>"
            "<th>calls</th><th>distinct orig</th><th>distinct dest</th><th>attest</th>"
            "<th>first / last seen (UTC)</th><th>why</th></tr>")
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>shakenlib analyze</title><style>{_STYLE}</style></head><body>"
        f"<h1>Traceback leads</h1><p>{e(_totals(analysis))}</p>"
        f"<table>{head}{''.join(rows)}</table>{shown}"
        f"<h2>Signers</h2><table>{signer_head}{signers}</table></body></html>\n"
    )
