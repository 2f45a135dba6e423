"""Charts of an analysis (extra ``notebook``: matplotlib, imported here only).

Each function returns a :class:`matplotlib.figure.Figure` made without pyplot (so
nothing is shown, no global figure is left open, any backend works); a notebook shows
it as the cell's value, :func:`to_svg` turns it into inline SVG (the HTML report).
Colours are the Okabe-Ito palette (safe for colour-blind readers), every axis is
labelled and every title says what the picture shows. Text from the calls (origid,
provider names) is drawn as plain text, never as math or markup.

* :func:`lead_hours_chart`: a lead's calls per hour against the signer's other traffic;
* :func:`leads_chart`: leads by score, coloured by their main flag;
* :func:`neighbour_chart`: calling-number NPA-NXX against the called number's
  (neighbour spoofing lies on the diagonal);
* :func:`attestation_chart`: the attestation mix of each signer.

>>> from shakenlib.analysis.leads import Analysis
>>> figure = attestation_chart(Analysis())
>>> figure.axes[0].get_title()
'Attestation mix per signer (no signed calls)'
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shakenlib.analysis.frames import hourly
from shakenlib.analysis.leads import Analysis, Lead
from shakenlib.analysis.records import missing_extra

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FLAG_CODES",
    "FLAG_COLOURS",
    "OKABE_ITO",
    "attestation_chart",
    "lead_hours_chart",
    "leads_chart",
    "neighbour_chart",
    "to_svg",
]

#: Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
OKABE_ITO: tuple[str, ...] = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#000000",
)
#: The colour of a lead's main (first) flag; grey for none.
FLAG_COLOURS: dict[str, str] = {
    "likely_improper_attestation": "#D55E00",
    "neighbour_spoofing": "#E69F00",
    "invalid_calling_numbers": "#CC79A7",
    "failed_verification": "#0072B2",
    "origid_per_call": "#56B4E9",
    "origid_partial": "#009E73",
    "": "#999999",
}
#: Short codes of the flags (the leads chart writes them next to each bar).
FLAG_CODES: dict[str, str] = {
    "likely_improper_attestation": "IA",
    "neighbour_spoofing": "NS",
    "invalid_calling_numbers": "IN",
    "failed_verification": "FV",
    "origid_per_call": "PC",
    "origid_partial": "OP",
}
_ATTEST_COLOURS = {"A": "#0072B2", "B": "#56B4E9", "C": "#E69F00", "?": "#999999"}


def _figure(width: float = 7.0, height: float = 3.2) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise missing_extra("notebook", "matplotlib", "charts") from None
    figure = Figure(figsize=(width, height), layout="constrained")
    _show_in_ipython()
    return figure


_IPYTHON_READY: list[bool] = []


def _show_in_ipython() -> None:
    """In IPython/Jupyter, have figures made without pyplot display as PNG when they are
    a cell's value (what ``%matplotlib inline`` does for pyplot figures). Once; nothing
    outside IPython."""
    if _IPYTHON_READY:
        return
    _IPYTHON_READY.append(True)
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    if shell is None:
        return
    try:
        pylabtools: Any = importlib.import_module("IPython.core.pylabtools")
        pylabtools.select_figure_formats(shell, {"png"})
    except Exception:  # pragma: no cover - an IPython without it: figures show as text
        return


def text(value: str | None, limit: int = 40) -> str:
    """Signer-supplied text as a plain label: ``$`` (mathtext) escaped, control
    characters shown as ``?``, long values cut.

    >>> text("$x$\\n" + "a" * 50)
    '\\\\$x\\\\$?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…'
    """
    if value is None:
        return "-"
    shown = "".join(ch if ch.isprintable() else "?" for ch in value)
    if len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown.replace("$", r"\$")


def lead_label(lead: Lead) -> str:
    """``SPC origid`` (origid cut to 8 characters) or ``SPC (per call)``."""
    origid = "(per call)" if lead.origid_per_call else text(lead.origid, 9)
    return f"{text(lead.spc, 8)} {origid}"


def lead_hours_chart(analysis: Analysis, lead: Lead) -> Figure:
    """A lead's calls per hour (stacked on top) against the same signer's other calls: a
    campaign shows as a burst that the signer's ordinary traffic does not have."""
    figure = _figure()
    ax = figure.add_subplot()
    mine = dict(lead.per_hour)
    total = hourly(analysis, lead.spc)
    hours = sorted(set(total) | set(mine))
    if hours:
        hours = list(range(hours[0], hours[-1] + 1))
    starts = [h / 24 for h in hours]  # matplotlib dates: days since 1970-01-01
    own = [mine.get(h, 0) for h in hours]
    other = [max(total.get(h, 0) - mine.get(h, 0), 0) for h in hours]
    width = 50 / 1440
    ax.bar(
        starts,
        other,
        width=width,
        align="edge",
        color=OKABE_ITO[1],
        label=f"signer {text(lead.spc, 8)}: other calls",
    )
    ax.bar(
        starts, own, width=width, align="edge", bottom=other, color=OKABE_ITO[5], label="this lead"
    )
    ax.set_xlabel("hour (UTC)")
    ax.set_ylabel("calls per hour")
    ax.set_title(f"Calls per hour of lead {lead_label(lead)} against the signer's other traffic")
    if hours:
        mdates: Any = importlib.import_module("matplotlib.dates")
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=dt.UTC))
    ax.set_ylim(0, max([a + b for a, b in zip(own, other, strict=True)], default=1) * 1.3)
    ax.legend(loc="upper left", frameon=False, ncols=2, fontsize=8)
    return figure


def leads_chart(leads: Sequence[Lead] | Analysis, top: int = 15) -> Figure:
    """The ``top`` leads by score (highest at the top), each bar coloured by the lead's
    main flag: which leads stand out, and why."""
    if isinstance(leads, Analysis):
        origin = leads.origin
        leads = leads.leads(getattr(origin, "directory", None), top=top)
    shown = list(leads)[:top]
    figure = _figure(7.0, max(2.2, 0.34 * len(shown) + 1.2))
    ax = figure.add_subplot()
    labels = [f"#{rank} {lead_label(lead)}" for rank, lead in enumerate(shown, 1)]
    colours = [FLAG_COLOURS.get(lead.flags[0] if lead.flags else "", "#999999") for lead in shown]
    positions = list(range(len(shown)))[::-1]
    ax.barh(positions, [lead.score for lead in shown], color=colours)
    ax.set_yticks(positions, labels)
    for position, lead in zip(positions, shown, strict=True):
        flags = " ".join(FLAG_CODES.get(flag, "?") for flag in lead.flags)
        ax.text(lead.score, position, f" {lead.calls} calls {flags}", va="center", fontsize=7)
    ax.set_xlabel("score (docs/investigating.md)")
    ax.set_ylabel("lead (signer SPC, origid)")
    ax.set_title("Traceback leads by score, coloured by their main flag")
    if shown:
        ax.set_xlim(0, max(lead.score for lead in shown) * 1.35 + 1)
    from matplotlib.patches import Patch

    used = dict.fromkeys(flag for lead in shown for flag in lead.flags or ("",))
    figure.legend(
        handles=[
            Patch(
                color=FLAG_COLOURS.get(f, "#999999"),
                label=f"{FLAG_CODES.get(f, '?')} {f}" if f else "no flag",
            )
            for f in used
        ],
        loc="outside lower center",
        fontsize=7,
        frameon=False,
        ncols=2,
    )
    return figure


def _block(value: Any) -> int | None:
    if value is None or value != value:  # None, NaN, pd.NA
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def neighbour_chart(calls: Any, lead: Lead | None = None) -> Figure:
    """Each call as a point: the called number's NPA-NXX across, the calling number's
    up. Calls from the called number's own NPA-NXX (neighbour spoofing) lie on the
    diagonal; a customer's own numbers form a few horizontal lines.

    ``calls``: :meth:`Analysis.calls_frame` (a DataFrame) or dicts with
    ``orig_npa_nxx``/``dest_npa_nxx``.
    """
    rows: Iterable[Mapping[str, Any]] = (
        calls.to_dict("records") if hasattr(calls, "to_dict") else calls
    )
    near_x, near_y, far_x, far_y = [], [], [], []
    for row in rows:
        a, b = _block(row.get("orig_npa_nxx")), _block(row.get("dest_npa_nxx"))
        if a is None or b is None:
            continue
        if a == b:
            near_x.append(b)
            near_y.append(a)
        else:
            far_x.append(b)
            far_y.append(a)
    figure = _figure(5.0, 4.2)
    ax = figure.add_subplot()
    ax.plot(
        [200000, 999999],
        [200000, 999999],
        color="#999999",
        linewidth=0.8,
        linestyle="--",
        label="same NPA-NXX",
    )
    ax.scatter(
        far_x, far_y, s=10, color=OKABE_ITO[4], marker="o", label=f"other calls ({len(far_x)})"
    )
    ax.scatter(
        near_x,
        near_y,
        s=14,
        color=OKABE_ITO[5],
        marker="x",
        label=f"neighbour pattern ({len(near_x)})",
    )
    ax.set_xlim(200000, 1000000)
    ax.set_ylim(200000, 1000000)
    ax.set_xlabel("called number NPA-NXX")
    ax.set_ylabel("calling number NPA-NXX")
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MultipleLocator(200000))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v) // 1000}-xxx"))
    about = f"lead {lead_label(lead)}: " if lead is not None else ""
    total = len(near_x) + len(far_x)
    ax.set_title(
        f"Calling vs called NPA-NXX\n{about}{len(near_x)} of {total} calls on the diagonal",
        fontsize=9,
    )
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    return figure


def attestation_chart(analysis: Analysis) -> Figure:
    """One stacked bar per signer (most calls at the top): its calls by attestation
    level A/B/C. Full attestation from a gateway-like signer stands out."""
    origin = analysis.origin
    rows = analysis.signers_table(getattr(origin, "directory", None))[:20]
    figure = _figure(7.0, max(2.2, 0.34 * len(rows) + 1.2))
    ax = figure.add_subplot()
    positions = list(range(len(rows)))[::-1]
    left = [0] * len(rows)
    levels = sorted({level for row in rows for level in row.attest})
    for level in levels:
        counts = [row.attest.get(level, 0) for row in rows]
        ax.barh(
            positions,
            counts,
            left=left,
            color=_ATTEST_COLOURS.get(level, "#CC79A7"),
            label=f"attestation {text(level, 3)}",
        )
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_yticks(positions, [f"{text(row.spc, 8)} {text(row.provider.name, 24)}" for row in rows])
    ax.set_xlabel("signed calls")
    ax.set_ylabel("signer (SPC, provider)")
    ax.set_title("Attestation mix per signer" + ("" if rows else " (no signed calls)"))
    if levels:
        ax.legend(loc="lower right", fontsize=7, frameon=False)
    return figure


def to_svg(figure: Figure, salt: str = "shakenlib") -> str:
    """The figure as an inline ``<svg>`` element: text kept as text, no metadata, ids
    salted (several charts on one page must not share clip-path ids)."""
    import matplotlib

    out = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    svg = out.getvalue()
    svg = svg[svg.index("<svg") :]
    # the RDF metadata block names vocabularies by URL and says nothing about the chart
    return re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
