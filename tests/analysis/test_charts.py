"""Charts: matplotlib Figures (Agg backend, never shown), labelled, colour-blind-safe,
drawing exactly the data and surviving hostile labels."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import shakenlib  # noqa: E402
from shakenlib.analysis import charts  # noqa: E402
from shakenlib.analysis.leads import Analysis  # noqa: E402
from shakenlib.analysis.records import CallRecord  # noqa: E402
from shakenlib.errors import UsageError  # noqa: E402
from shakenlib.verify.result import CertificateSummary, VerificationResult  # noqa: E402

EX = Path(__file__).resolve().parents[2] / "examples"
EVIL = "$\\frac{1}{0}$ <b>\x1b[2J & ^_{"


@pytest.fixture(scope="module")
def example() -> Analysis:
    return shakenlib.analyze(
        str(EX / "calls.jsonl"),
        trust=str(EX / "trust.pem"),
        mirror=str(EX / "mirror"),
        providers=str(EX / "providers.csv"),
        progress=False,
    )


def _labelled(figure: charts.Figure) -> None:
    ax = figure.axes[0]
    assert ax.get_title()
    assert ax.get_xlabel()
    assert ax.get_ylabel()


def _heights(ax: object) -> list[float]:
    return [patch.get_height() for patch in ax.patches]  # type: ignore[attr-defined]


def test_lead_hours_against_the_signer(example: Analysis) -> None:
    lead = example.leads()[0]
    figure = charts.lead_hours_chart(example, lead)
    _labelled(figure)
    ax = figure.axes[0]
    assert "Calls per hour of lead 999R" in ax.get_title()
    heights = _heights(ax)
    hours = len(heights) // 2
    # the lead's own bars: its calls per hour, 190 + 189 + 221 = 600
    assert sum(heights[hours:]) == lead.calls == 600
    assert sum(heights[:hours]) == 0  # 999R signs nothing else
    other = example.leads()[2]  # 873J: the signer has other leads in the same hours
    heights = _heights(charts.lead_hours_chart(example, other).axes[0])
    signer = next(r for r in example.signers_table() if r.spc == other.spc)
    assert sum(heights) == signer.calls


def test_leads_chart_colours_by_flag(example: Analysis) -> None:
    figure = charts.leads_chart(example)
    _labelled(figure)
    ax = figure.axes[0]
    scores = [patch.get_width() for patch in ax.patches]
    assert scores == [lead.score for lead in example.leads()]
    first = matplotlib.colors.to_hex(ax.patches[0].get_facecolor())
    assert first == charts.FLAG_COLOURS["likely_improper_attestation"].lower()
    assert all(
        c.upper() in charts.OKABE_ITO or c == "#999999" for c in charts.FLAG_COLOURS.values()
    )


def test_neighbour_chart_puts_neighbour_calls_on_the_diagonal(example: Analysis) -> None:
    lead = example.leads()[0]
    figure = charts.neighbour_chart(example.calls_frame(lead), lead)
    _labelled(figure)
    ax = figure.axes[0]
    far, near = ax.collections
    assert len(near.get_offsets()) == lead.neighbour_calls == 582
    assert all(x == y for x, y in near.get_offsets())
    assert all(x != y for x, y in far.get_offsets())
    assert "582 of 600" in ax.get_title()
    empty = charts.neighbour_chart([])
    assert "0 of 0" in empty.axes[0].get_title()


def test_attestation_chart(example: Analysis) -> None:
    figure = charts.attestation_chart(example)
    _labelled(figure)
    ax = figure.axes[0]
    total = sum(patch.get_width() for patch in ax.patches)
    assert total == sum(row.calls for row in example.signers_table())
    top = max(ax.get_yticklabels(), key=lambda label: label.get_position()[1])
    assert top.get_text().startswith("999R Bluefin VoIP LLC")  # most calls at the top


def test_hostile_labels_are_plain_text() -> None:
    analysis = Analysis()
    cert = CertificateSummary(spc=EVIL, subject_o=EVIL)
    t0 = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    for i in range(3):
        analysis.add(
            CallRecord(line=i, time=t0, orig="12155550123", dest="12155550199", identity=("x",)),
            VerificationResult(
                verstat="TN-Validation-Passed", attest=EVIL, origid=EVIL, certificate=cert
            ),
        )
    lead = analysis.leads()[0]
    for index, figure in enumerate(
        (
            charts.lead_hours_chart(analysis, lead),
            charts.leads_chart(analysis),
            charts.attestation_chart(analysis),
            charts.neighbour_chart([], lead),
        )
    ):
        svg = charts.to_svg(figure, f"t{index}")  # draws: mathtext would raise here
        assert svg.startswith("<svg")
        assert "<b>" not in svg
        assert "\x1b" not in svg
    assert charts.text(EVIL).startswith("\\$")


def test_to_svg_is_deterministic_and_salted(example: Analysis) -> None:
    figure = charts.leads_chart(example)
    assert charts.to_svg(figure, "a") == charts.to_svg(figure, "a")
    assert charts.to_svg(figure, "a") != charts.to_svg(figure, "b")
    assert "<metadata>" not in charts.to_svg(figure)


def test_no_pyplot_figures_are_left_open(example: Analysis) -> None:
    charts.leads_chart(example)
    assert (
        "matplotlib.pyplot" not in sys.modules
        or not __import__("matplotlib.pyplot").pyplot.get_fignums()
    )


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(UsageError, match=r'pip install "shakenlib\[notebook\]"'):
        charts.attestation_chart(Analysis())
