"""Renderers of an :class:`~shakenlib.analysis.leads.Analysis`: the readable text table,
CSV, the self-contained HTML report and the notebook's rich display.

Every value that comes from the calls (origid, provider names, numbers, display names)
is attacker-controlled: the text table escapes control characters (:func:`printable`),
CSV cells cannot become spreadsheet formulas (:func:`_cell`), HTML escapes everything
(:func:`e`).

The HTML report (:func:`render_html`, ``shakenlib analyze --html``,
:meth:`Analysis.to_html`) is one file with nothing to fetch: inline CSS, inline SVG
charts (matplotlib, extra ``notebook``; without it the report says so and has no
charts) and a small inline script that sorts the leads table (click a column; a URL
ending in ``#sort=calls`` sorts by calls on load). It prints on paper as it reads on a
laptop.

>>> from shakenlib.analysis.leads import Analysis
>>> page = render_html(Analysis(), None, charts=False)
>>> page.startswith("<!DOCTYPE html>"), "<script>" in page, "http" in page
(True, True, False)
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import importlib.util
import unicodedata
from collections.abc import Sequence
from typing import Any, TextIO

from shakenlib.analysis.frames import SIGNER_COLUMNS, Origin, lead_calls
from shakenlib.analysis.leads import Analysis, Lead, SignerSummary
from shakenlib.analysis.providers import ProviderDirectory
from shakenlib.analysis.records import ExtraMissing
from shakenlib.errors import CODES, ShakenError

__all__ = [
    "CSV_COLUMNS",
    "SIGNER_COLUMNS",
    "SIGNER_ROWS",
    "analysis_html",
    "e",
    "lead_card_html",
    "printable",
    "render_html",
    "render_table",
    "sparkline_svg",
    "write_csv",
    "write_signers_csv",
]


def printable(text: str) -> str:
    """``text`` with control characters, lone surrogates and other non-printables escaped.

    origid, subject O and claimed numbers come from the signer: a newline would forge a
    line of the report, an escape sequence would drive the investigator's terminal.

    >>> printable("o\\n#1\\x1b[2J\\ud800 ok")
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
    return (
        f"{analysis.calls} calls: {analysis.passed} passed, {analysis.failed} failed, "
        f"{analysis.unsigned} unsigned; {analysis.unreadable} unreadable "
        f"record{'' if analysis.unreadable == 1 else 's'}"
    )


def _origid(lead: Lead) -> str:
    if lead.origid_per_call:
        return f"(per call: {lead.distinct_origids} origids)"
    return str(lead.origid)


def _signer_line(row: SignerSummary) -> str:
    attest = " ".join(f"{k}:{v}" for k, v in row.attest.items())
    itg = " [ITG]" if row.provider.itg_member else ""
    per_call = "  origid per call" if row.origid_per_call else ""
    approx = "" if row.distinct_origids_exact else "~"
    return (
        f"  {row.spc:<6} {(row.provider.name or '?')[:28]:<28}{itg}  calls {row.calls} "
        f"({row.share:.1%})  passed {row.passed}  failed {row.failed}  origids "
        f"{approx}{row.distinct_origids} ({row.origids_per_call:.3g}/call)  "
        f"attest {attest}{per_call}"
    )


def render_table(
    analysis: Analysis, directory: ProviderDirectory | None, *, top: int | None = 10
) -> str:
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
        lines.append(
            f"    origid {_origid(lead)}  calls {lead.calls} "
            f"(passed {lead.passed})  distinct orig {lead.distinct_orig}  "
            f"dest {lead.distinct_dest}  attest {_attest(lead)}"
        )
        lines.append(
            f"    seen {_when(lead.first_seen)} .. {_when(lead.last_seen)}  "
            f"peak {lead.peak_per_hour}/h"
        )
        lines.extend(f"    - {reason}" for reason in lead.why)
        if lead.samples:
            s = lead.samples[0]
            about = (
                f"the origid of each call, e.g. {s.origid}"
                if lead.origid_per_call
                else f"origid {lead.origid}"
            )
            lines.append(
                f"    traceback: ask the signer ({lead.spc}) about {about}, "
                f"e.g. call {s.orig} -> {s.dest} at {_when(s.time)}"
            )
        lines.append("")
    if total > len(leads):
        lines.append(f"... {total - len(leads)} more leads ({total} in all; --top N|all, --json)")
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
        lines.append(
            f"failed before a certificate was obtained: {sum(analysis.unattributed.values())} calls"
        )
    if analysis.unsigned:
        u = analysis.unsigned_numbers
        lines.append(
            f"unsigned: {analysis.unsigned} calls from {u.orig.count()} calling "
            f"numbers ({u.neighbour_calls} neighbour-pattern)"
        )
    if analysis.upstream_compared:
        lines.append(
            f"upstream verdicts: {sum(analysis.upstream_disagree.values())} of "
            f"{analysis.upstream_compared} calls disagree with ours: "
            + ", ".join(f"{k} {n}" for k, n in analysis.upstream_disagree.most_common(6))
        )
    if analysis.national:
        lines.append(
            f"national numbers: {analysis.national} calls had numbers without a "
            "country code (read with --country-code)"
        )
    for line, reason, source in analysis.errors[:5]:
        lines.append(f"unreadable: {source}:{line}: {reason}")
    for line, source, message in analysis.internal_errors[:5]:
        lines.append(
            f"internal error (a shakenlib defect, please report): {source}:{line}: {message}"
        )
    return "\n".join(printable(line) for line in lines).rstrip() + "\n"


#: Signers the readable table lists (most calls first).
SIGNER_ROWS = 20


CSV_COLUMNS = (
    "rank",
    "score",
    "spc",
    "provider",
    "itg_member",
    "origid",
    "calls",
    "passed",
    "failed",
    "distinct_orig",
    "distinct_dest",
    "attest_A",
    "attest_B",
    "attest_C",
    "neighbour_calls",
    "invalid_orig_calls",
    "first_seen",
    "last_seen",
    "peak_per_hour",
    "flags",
    "why",
    "origid_per_call",
    "distinct_origids",
)
# the signers CSV has the columns of the signers DataFrame (shakenlib.analysis.frames)


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
        writer.writerow(
            [
                rank,
                lead.score,
                _cell(lead.spc),
                _cell(lead.provider.name),
                lead.provider.itg_member,
                _cell(lead.origid),
                lead.calls,
                lead.passed,
                sum(lead.failed.values()),
                lead.distinct_orig,
                lead.distinct_dest,
                lead.attest.get("A", 0),
                lead.attest.get("B", 0),
                lead.attest.get("C", 0),
                lead.neighbour_calls,
                lead.invalid_orig_calls,
                d["first_seen"],
                d["last_seen"],
                lead.peak_per_hour,
                ";".join(lead.flags),
                _cell(" | ".join(lead.why)),
                lead.origid_per_call,
                lead.distinct_origids,
            ]
        )


def write_signers_csv(rows: list[SignerSummary], handle: TextIO) -> None:
    """One CSV row per signer (the signers table)."""
    writer = csv.writer(handle)
    writer.writerow(SIGNER_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                _cell(row.spc),
                _cell(row.provider.name),
                row.provider.itg_member,
                row.calls,
                round(row.share, 4),
                row.passed,
                row.failed,
                row.distinct_origids,
                row.distinct_origids_exact,
                round(row.origids_per_call, 4),
                row.origid_per_call,
                row.attest.get("A", 0),
                row.attest.get("B", 0),
                row.attest.get("C", 0),
            ]
        )


# --- HTML ---------------------------------------------------------------------------------
def e(text: object) -> str:
    """``text`` for HTML text or an attribute value: non-printables escaped
    (:func:`printable`), then ``& < > " '`` as entities.

    >>> e('"><script>x</script>')
    '&quot;&gt;&lt;script&gt;x&lt;/script&gt;'
    """
    return html.escape(printable(str(text)), quote=True)


_STYLE = """
:root{--fg:#1b1b1b;--muted:#5a5a5a;--line:#d0d0d0;--head:#f0f0f0;--accent:#0072B2}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:1.2em;
max-width:1240px;color:var(--fg);line-height:1.4;font-size:15px}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin:1.4em 0 .5em;
border-bottom:2px solid var(--accent);padding-bottom:.15em}h3{font-size:1.05em;margin:.2em 0}
nav a{margin-right:1em;color:var(--accent)}
.totals{display:flex;flex-wrap:wrap;gap:.6em;margin:.8em 0}
.totals div{border:1px solid var(--line);border-radius:6px;padding:.4em .8em;min-width:7em}
.totals b{display:block;font-size:1.4em}
.wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92em}
td,th{border:1px solid var(--line);padding:3px 6px;vertical-align:top;text-align:left}
th{background:var(--head)}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
#leads th{cursor:pointer;user-select:none}
#leads th[aria-sort=descending]::after{content:" \\25BC"}
#leads th[aria-sort=ascending]::after{content:" \\25B2"}
.card{border:1px solid var(--line);border-radius:8px;padding:.8em 1em;margin:1em 0;
break-inside:avoid}
.card .facts{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em;margin:.4em 0}
.card .facts dt{color:var(--muted)}.card .facts dd{margin:0}
.charts{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.charts svg{max-width:100%;height:auto}
.ask{background:#eef6fb;border-left:4px solid var(--accent);padding:.4em .8em;margin:.5em 0}
.flag{display:inline-block;border:1px solid var(--line);border-radius:3px;padding:0 4px;
margin:1px;font-size:.85em}
.muted{color:var(--muted)}code{font-size:.92em;word-break:break-all}
@media print{nav,.noprint{display:none}body{max-width:none;font-size:10.5pt;padding:0}
h2{break-after:avoid}tr,.card,svg{break-inside:avoid}a{color:inherit}}
"""

# Sorts the leads table: click a header (again: the other way); "#sort=KEY" (descending)
# or "#sort=KEY-asc" in the URL sorts on load. Ties keep the rank order.
_SCRIPT = """
(function(){
var t=document.getElementById("leads");if(!t||!t.tHead)return;
var body=t.tBodies[0],ths=t.tHead.rows[0].cells;
function val(row,i,num){var c=row.cells[i],v=c.getAttribute("data-v");
if(v===null)v=c.textContent;return num?parseFloat(v):v;}
function sort(key,desc){var idx=-1,num=false;
for(var i=0;i<ths.length;i++){ths[i].removeAttribute("aria-sort");
if(ths[i].getAttribute("data-key")===key){idx=i;num=ths[i].getAttribute("data-type")==="num";}}
if(idx<0)return;
var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(a,b){var x=val(a,idx,num),y=val(b,idx,num);
var c=num?(x-y):String(x).localeCompare(String(y));if(desc)c=-c;
return c||(parseFloat(a.getAttribute("data-rank"))-parseFloat(b.getAttribute("data-rank")));});
for(var j=0;j<rows.length;j++)body.appendChild(rows[j]);
ths[idx].setAttribute("aria-sort",desc?"descending":"ascending");
t.setAttribute("data-sorted",key+(desc?"":"-asc"));}
for(var i=0;i<ths.length;i++)(function(th){th.addEventListener("click",function(){
var key=th.getAttribute("data-key"),was=th.getAttribute("aria-sort");
sort(key,was?was==="ascending":th.getAttribute("data-type")==="num");});})(ths[i]);
function fromHash(){var m=/sort=([a-z_]+)(-asc)?/.exec(location.hash);if(m)sort(m[1],!m[2]);}
fromHash();window.addEventListener("hashchange",fromHash);
})();
"""


def sparkline_svg(
    per_hour: Sequence[tuple[int, int]], *, width: int = 240, height: int = 40
) -> str:
    """Calls per hour as a small bar chart in inline SVG (no matplotlib needed).

    >>> sparkline_svg([(10, 2), (12, 4)]).count("<rect")
    2
    """
    if not per_hour:
        return ""
    first, last = per_hour[0][0], per_hour[-1][0]
    hours = last - first + 1
    peak = max(count for _, count in per_hour) or 1
    step = width / hours
    bars = "".join(
        f'<rect x="{(hour - first) * step:.1f}" y="{height - count / peak * height:.1f}" '
        f'width="{max(step * 0.85, 0.8):.1f}" height="{count / peak * height:.1f}"/>'
        for hour, count in per_hour
    )
    start = dt.datetime.fromtimestamp(first * 3600, dt.UTC).strftime("%Y-%m-%d %H:00")
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} '
        f'{height}" role="img" aria-label="calls per hour from {start} UTC, peak '
        f'{peak}"><title>calls per hour from {start} UTC ({hours} h), peak {peak}</title>'
        f'<g fill="#D55E00">{bars}</g></svg>'
    )


def _flags(flags: Sequence[str]) -> str:
    return "".join(f'<span class="flag">{e(flag)}</span>' for flag in flags)


def _origid_html(lead: Lead) -> str:
    if lead.origid_per_call:
        return f"(per call: {lead.distinct_origids} origids)"
    return f"<code>{e(lead.origid or '-')}</code>"


def _sample(sample: Any) -> str:
    call_id = f" ({e(sample.call_id)})" if sample.call_id else ""
    origid = f" origid <code>{e(sample.origid)}</code>" if sample.origid else ""
    return (
        f"<li><code>{e(sample.orig or '-')}</code> &rarr; <code>{e(sample.dest or '-')}"
        f"</code> at {e(_when(sample.time))}{call_id}{origid}</li>"
    )


def lead_card_html(lead: Lead, *, rank: int | None = None, charts: str | None = None) -> str:
    """A lead as an HTML card: the facts, the reasons, the traceback ask with sample calls,
    and ``charts`` (HTML) or a small calls-per-hour chart. Everything escaped."""
    title = f"#{rank} " if rank is not None else ""
    itg = " (ITG member)" if lead.provider.itg_member else ""
    failed = ", ".join(f"{e(k)} {v}" for k, v in lead.failed.items()) or "none"
    facts = [
        (
            "signer (SPC)",
            f"<code>{e(lead.spc or '-')}</code> {e(lead.provider.name or '?')}"
            f"{itg} <span class=muted>(signer, not necessarily the "
            "originator)</span>",
        ),
        ("origid", _origid_html(lead)),
        ("calls", f"{lead.calls} ({lead.passed} passed; failed: {failed})"),
        (
            "numbers",
            f"{lead.distinct_orig} calling, {lead.distinct_dest} called"
            f"{'' if lead.distinct_exact else ' (estimated)'}; calling numbers in "
            f"{lead.orig_blocks} NPA-NXX blocks",
        ),
        ("neighbour pattern", f"{lead.neighbour_calls} calls ({lead.neighbour_share:.0%})"),
        ("attestation", e(_attest(lead)) or "-"),
        (
            "seen",
            f"{e(_when(lead.first_seen))} .. {e(_when(lead.last_seen))}, peak "
            f"{lead.peak_per_hour}/h",
        ),
        ("flags", _flags(lead.flags) or "none"),
    ]
    rows = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    why = "".join(f"<li>{e(reason)}</li>" for reason in lead.why)
    samples = "".join(_sample(s) for s in lead.samples)
    chart = (
        charts
        if charts is not None
        else (f'<div class="charts">{sparkline_svg(lead.per_hour)}</div>' if lead.per_hour else "")
    )
    return (
        f'<div class="card shakenlib-lead"><h3>{title}score {lead.score:.1f}: signer '
        f"{e(lead.spc or '-')} {e(lead.provider.name or '?')}</h3>"
        f'<dl class="facts">{rows}</dl><b>Why</b><ul>{why}</ul>'
        f'<div class="ask"><b>Traceback ask</b>: {e(lead.traceback.ask)}'
        f"<ul>{samples}</ul></div>{chart}</div>"
    )


def _directory(analysis: Analysis, directory: ProviderDirectory | None) -> ProviderDirectory | None:
    if directory is not None:
        return directory
    origin = analysis.origin
    return origin.directory if isinstance(origin, Origin) else None


def analysis_html(analysis: Analysis, *, top: int = 5) -> str:
    """The notebook display of an analysis: totals and the ``top`` leads."""
    leads = analysis.leads(_directory(analysis, None), top=top)
    rows = "".join(
        f"<tr><td class=n>{rank}</td><td class=n>{lead.score:.1f}</td>"
        f"<td><code>{e(lead.spc or '-')}</code></td><td>{e(lead.provider.name or '?')}</td>"
        f"<td>{_origid_html(lead)}</td><td class=n>{lead.calls}</td>"
        f"<td>{e(_attest(lead))}</td><td>{_flags(lead.flags)}</td></tr>"
        for rank, lead in enumerate(leads, 1)
    )
    total = analysis.leads_total()
    more = (
        f"<p>{total - len(leads)} more leads: <code>analysis.leads_frame()</code>, "
        "<code>analysis.to_html()</code></p>"
        if total > len(leads)
        else ""
    )
    return (
        f'<div class="shakenlib-analysis"><p><b>{e(_totals(analysis))}</b>; '
        f"{total} leads</p>"
        "<table><thead><tr><th>#</th><th>score</th><th>SPC</th><th>provider</th>"
        "<th>origid</th><th>calls</th><th>attest</th><th>flags</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{more}</div>"
    )


def _chart_svgs(
    analysis: Analysis,
    leads: list[Lead],
    calls: list[list[dict[str, Any]]] | None,
) -> tuple[dict[str, str], list[str], str | None]:
    """(overview charts by name, per-lead chart HTML, why there are none)."""
    try:
        from shakenlib.analysis import charts
    except ExtraMissing as exc:  # pragma: no cover - charts imports matplotlib lazily
        return {}, ["" for _ in leads], exc.message
    try:
        overview = {
            "leads": charts.to_svg(charts.leads_chart(leads), "leads"),
            "attest": charts.to_svg(charts.attestation_chart(analysis), "attest"),
        }
        per_lead = []
        for index, lead in enumerate(leads[:TOP_CARDS]):
            parts = [charts.to_svg(charts.lead_hours_chart(analysis, lead), f"hours{index}")]
            if calls is not None and any(
                row["orig_npa_nxx"] and row["dest_npa_nxx"] for row in calls[index]
            ):
                parts.append(
                    charts.to_svg(charts.neighbour_chart(calls[index], lead), f"spread{index}")
                )
            per_lead.append(f'<div class="charts">{"".join(parts)}</div>')
    except ExtraMissing as exc:
        return {}, ["" for _ in leads], exc.message
    return overview, per_lead, None


#: Leads that get a card with charts in the HTML report.
TOP_CARDS = 3


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{title}</h2>{body}</section>'


def _table(
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[int] = (),
) -> str:
    cells = "".join(f"<th{' class=n' if i in numeric else ''}>{h}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i in numeric else ''}>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="wrap"><table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody>'
        "</table></div>"
    )


_LEAD_HEAD = (
    ("rank", "#", "num"),
    ("score", "score", "num"),
    ("spc", "SPC", "text"),
    ("provider", "provider", "text"),
    ("origid", "origid", "text"),
    ("calls", "calls", "num"),
    ("orig", "distinct calling", "num"),
    ("dest", "distinct called", "num"),
    ("neighbour", "neighbour %", "num"),
    ("attest", "attest", "text"),
    ("first", "first seen (UTC)", "text"),
    ("flags", "flags", "text"),
)


def _lead_row(rank: int, lead: Lead) -> str:
    first = lead.first_seen.timestamp() if lead.first_seen else 0
    cells = [
        (str(rank), str(rank)),
        (f"{lead.score:.1f}", str(lead.score)),
        (f"<code>{e(lead.spc or '-')}</code>", None),
        (e(lead.provider.name or "?") + (" (ITG)" if lead.provider.itg_member else ""), None),
        (_origid_html(lead), None),
        (str(lead.calls), str(lead.calls)),
        (str(lead.distinct_orig), str(lead.distinct_orig)),
        (str(lead.distinct_dest), str(lead.distinct_dest)),
        (f"{lead.neighbour_share:.0%}", f"{lead.neighbour_share:.4f}"),
        (e(_attest(lead)), None),
        (e(_when(lead.first_seen)), f"{first:.0f}"),
        (_flags(lead.flags), None),
    ]
    tds = "".join(
        f"<td{' class=n' if head[2] == 'num' else ''}"
        f"{'' if value is None else f' data-v={chr(34)}{value}{chr(34)}'}>{text}</td>"
        for (text, value), head in zip(cells, _LEAD_HEAD, strict=True)
    )
    return f'<tr data-rank="{rank}">{tds}</tr>'


def render_html(
    analysis: Analysis,
    directory: ProviderDirectory | None = None,
    *,
    top: int | None = 100,
    charts: bool = True,
    calls: bool | None = None,
) -> str:
    """The self-contained HTML report: totals; cards with charts for the top
    :data:`TOP_CARDS` leads; the leads chart and the sortable table of the ``top`` leads;
    the signers with their attestation mix; failures by code; failures before a
    certificate; unsigned traffic; unreadable records. Every value is escaped.

    ``charts``: draw charts (needs matplotlib; without it the report says so).
    ``calls``: read the input again for the top leads' calls to draw their NPA-NXX
    spread (one more pass over the input; default: when the analysis knows its input,
    :attr:`Analysis.origin`).
    """
    directory = _directory(analysis, directory)
    leads = analysis.leads(directory, top=top)
    total = analysis.leads_total()
    origin = analysis.origin
    lead_rows: list[list[dict[str, Any]]] | None = None
    drawable = charts and importlib.util.find_spec("matplotlib") is not None
    if (
        drawable
        and leads
        and (calls or (calls is None and isinstance(origin, Origin) and origin.sources is not None))
    ):
        try:
            lead_rows = lead_calls(analysis, leads[:TOP_CARDS], limit=20000)
        except ShakenError:
            lead_rows = None
    overview: dict[str, str] = {}
    per_lead: list[str] = []
    missing = None
    if charts and leads:
        overview, per_lead, missing = _chart_svgs(analysis, leads, lead_rows)
    parts = [
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>shakenlib analyze: traceback leads</title><style>{_STYLE}</style></head>"
        "<body><header><h1>Traceback leads</h1>",
        f"<p class=muted>{e(_totals(analysis))}</p>",
        '<div class="totals">'
        + "".join(
            f"<div><b>{value}</b>{name}</div>"
            for name, value in (
                ("calls", analysis.calls),
                ("passed", analysis.passed),
                ("failed", analysis.failed),
                ("unsigned", analysis.unsigned),
                ("unreadable", analysis.unreadable),
                ("leads", total),
            )
        )
        + "</div>",
        '<nav class="noprint"><a href="#top-leads">top leads</a><a href="#leads-table">all '
        'leads</a><a href="#signers">signers</a><a href="#failures">failures</a>'
        '<a href="#unsigned">unsigned</a></nav></header>',
    ]
    if missing:
        parts.append(f"<p class=muted>No charts: {e(missing)}</p>")
    cards = "".join(
        lead_card_html(lead, rank=rank, charts=per_lead[rank - 1] if per_lead else "")
        for rank, lead in enumerate(leads[:TOP_CARDS], 1)
    )
    parts.append(
        _section("top-leads", "Top leads", cards or "<p>No signed calls with a known signer.</p>")
    )
    shown = (
        f"<p>{len(leads)} of {total} leads (<code>--top N|all</code>).</p>"
        if total > len(leads)
        else ""
    )
    head = "".join(
        f'<th data-key="{key}" data-type="{kind}"{" class=n" if kind == "num" else ""}>{title}</th>'
        for key, title, kind in _LEAD_HEAD
    )
    table = (
        f'<p class="noprint muted">Click a column to sort.</p><div class="wrap">'
        f'<table id="leads"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(_lead_row(rank, lead) for rank, lead in enumerate(leads, 1))
        + "</tbody></table></div>"
        + shown
    )
    parts.append(
        _section(
            "leads-table",
            "All leads",
            f'<div class="charts">{overview.get("leads", "")}</div>{table}',
        )
    )
    signers = analysis.signers_table(directory)
    signer_rows = [
        [
            f"<code>{e(row.spc)}</code>",
            e(row.provider.name or "?") + (" (ITG)" if row.provider.itg_member else ""),
            str(row.calls),
            f"{row.share:.1%}",
            str(row.passed),
            str(row.failed),
            f"{'' if row.distinct_origids_exact else '~'}{row.distinct_origids}",
            f"{row.origids_per_call:.3g}" + (" (origid per call)" if row.origid_per_call else ""),
            e(" ".join(f"{k}:{v}" for k, v in row.attest.items())),
        ]
        for row in signers
    ]
    parts.append(
        _section(
            "signers",
            "Signers",
            (
                f'<div class="charts">{overview.get("attest", "")}</div>'
                + _table(
                    (
                        "SPC",
                        "provider",
                        "calls",
                        "share",
                        "passed",
                        "failed",
                        "distinct origids",
                        "origids per call",
                        "attest",
                    ),
                    signer_rows,
                    numeric=(2, 3, 4, 5, 6),
                )
                if signers
                else "<p>No signed calls.</p>"
            ),
        )
    )
    failures = [
        [
            f"<code>{e(code)}</code>",
            str(count),
            str(CODES[code].sip_code) if code in CODES else "-",
            e(CODES[code].description) if code in CODES else "",
        ]
        for code, count in analysis.failed_by_error.most_common()
    ]
    body = (
        _table(("error", "calls", "SIP code", "meaning"), failures, numeric=(1, 2))
        if failures
        else "<p>No signed call failed verification.</p>"
    )
    if analysis.unattributed:
        body += "<h3>Failed before a certificate was obtained</h3>" + _table(
            ("error", "calls"),
            [[f"<code>{e(k)}</code>", str(v)] for k, v in analysis.unattributed.most_common()],
            numeric=(1,),
        )
        if analysis.unattributed_hosts:
            body += _table(
                ("x5u host", "calls"),
                [
                    [f"<code>{e(k)}</code>", str(v)]
                    for k, v in analysis.unattributed_hosts.most_common(20)
                ],
                numeric=(1,),
            )
    parts.append(_section("failures", "Failures by code", body))
    u = analysis.unsigned_numbers
    unsigned = (
        f"<p>{analysis.unsigned} unsigned calls from {u.orig.count()} calling numbers "
        f"to {u.dest.count()} called numbers; {u.neighbour_calls} from the called "
        f"number's own NPA-NXX (neighbour pattern); {u.invalid_orig_calls} from "
        "numbers that cannot be valid NANP numbers.</p>"
        if analysis.unsigned
        else "<p>No unsigned calls.</p>"
    )
    parts.append(_section("unsigned", "Unsigned traffic", unsigned))
    extra = []
    if analysis.errors:
        extra.append(
            "<h3>Unreadable records</h3>"
            + _table(
                ("source", "line", "reason"),
                [
                    [e(source or "-"), str(line), e(reason)]
                    for line, reason, source in analysis.errors[:20]
                ],
                numeric=(1,),
            )
        )
    if analysis.internal_errors:
        extra.append(
            "<h3>Internal errors (a shakenlib defect, please report)</h3>"
            + _table(
                ("source", "line", "message"),
                [
                    [e(source or "-"), str(line), e(message)]
                    for line, source, message in analysis.internal_errors[:20]
                ],
                numeric=(1,),
            )
        )
    if analysis.upstream_compared:
        extra.append(
            f"<h3>Upstream verdicts</h3><p>{sum(analysis.upstream_disagree.values())}"
            f" of {analysis.upstream_compared} calls disagree with ours.</p>"
            + _table(
                ("kind", "calls"),
                [[e(k), str(v)] for k, v in analysis.upstream_disagree.most_common()],
                numeric=(1,),
            )
        )
    if extra:
        parts.append(_section("records", "Records", "".join(extra)))
    parts.append(
        "<footer class=muted><p>shakenlib analyze. The SPC is the signer, not "
        "necessarily the originating provider.</p></footer>"
    )
    parts.append(f"<script>{_SCRIPT}</script></body></html>\n")
    return "".join(parts)
