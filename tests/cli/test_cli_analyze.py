"""``shakenlib analyze`` and ``shakenlib verify-batch`` through ``shakenlib.cli.main``."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from shakenlib.cli import main
from shakenlib.testing.traffic import generate

CAMPAIGN = "7c1d3a52-0b8e-4f0e-9d55-6a0f1e2c9b10"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("cli-example")
    planted = generate(out, calls=200, seed=11)
    return out, planted


def _args(out: Path) -> list[str]:
    return [
        str(out / "calls.jsonl"),
        "--trust",
        str(out / "trust.pem"),
        "--mirror",
        str(out / "mirror"),
        "--providers",
        str(out / "providers.csv"),
        "--jobs",
        "1",
    ]


def test_analyze_json(
    example: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, planted = example
    assert main(["analyze", *_args(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["calls"] == 200
    assert data["unsigned"] == planted["unsigned"]
    assert data["unreadable"] == 0
    assert data["passed"] + data["failed"] + data["unsigned"] == 200
    lead = data["leads"][0]
    assert (lead["spc"], lead["provider"], lead["origid"]) == ("999R", "Bluefin VoIP LLC", CAMPAIGN)
    assert lead["calls"] == planted["campaign_calls"] == 60
    assert lead["distinct_orig"] == planted["campaign_distinct_orig"]
    assert lead["attest"] == {"A": 60}
    assert lead["first_seen"] <= lead["last_seen"]
    assert lead["score"] > data["leads"][1]["score"]
    assert lead["why"][0].startswith("60 calls from")
    assert lead["traceback"]["role"].startswith("signer")


def test_analyze_table_csv_html(
    example: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = example
    assert main(["analyze", *_args(out), "--top", "2"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("200 calls: ")
    assert "#1  score" in table
    assert "signer SPC 999R  Bluefin VoIP LLC" in table
    assert f"traceback: ask the signer (999R) about origid {CAMPAIGN}" in table
    assert "#3" not in table
    report = tmp_path / "leads.csv"
    assert main(["analyze", *_args(out), "--csv", str(report)]) == 0
    rows = list(csv.DictReader(report.open()))
    assert rows[0]["spc"] == "999R"
    assert rows[0]["origid"] == CAMPAIGN
    assert rows[0]["attest_A"] == "60"
    page = tmp_path / "leads.html"
    assert main(["analyze", *_args(out), "--html", str(page)]) == 0
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "Bluefin VoIP LLC" in html
    assert html.count("<script") == 1  # the inline sorter
    assert "<script src" not in html
    assert "http" not in html.split("<body>")[0]  # no external assets in the head


def test_html_escapes(tmp_path: Path) -> None:
    from shakenlib.analysis.leads import Analysis
    from shakenlib.analysis.records import CallRecord
    from shakenlib.cli.analyze import render_html
    from shakenlib.verify.result import CertificateSummary, VerificationResult

    t0 = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    analysis = Analysis()
    cert = CertificateSummary(spc="<b>", subject_o="<script>alert(1)</script>")
    analysis.add(
        CallRecord(line=1, time=t0, orig="1", dest="2", identity=("x",)),
        VerificationResult(verstat="TN-Validation-Passed", origid='"><img>', certificate=cert),
    )
    page = render_html(analysis, None)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '"><img>' not in page


def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    import csv
    import io

    from shakenlib.analysis.leads import Analysis
    from shakenlib.analysis.records import CallRecord
    from shakenlib.cli.analyze import write_csv
    from shakenlib.verify.result import CertificateSummary, VerificationResult

    analysis = Analysis()
    cert = CertificateSummary(spc="873J", subject_o="@SUM(A1:A9)")
    analysis.add(
        CallRecord(
            line=1, time=dt.datetime(2025, 6, 1, tzinfo=dt.UTC), orig="1", dest="2", identity=("x",)
        ),
        VerificationResult(
            verstat="TN-Validation-Passed", origid='=HYPERLINK("http://evil","x")', certificate=cert
        ),
    )
    out = io.StringIO()
    write_csv(analysis.leads(), out)
    row = next(r for r in csv.DictReader(io.StringIO(out.getvalue())))
    assert row["origid"] == '\'=HYPERLINK("http://evil","x")'
    assert row["provider"] == "'@SUM(A1:A9)"
    assert not any(v.startswith(("=", "+", "@")) for v in row.values())


def test_verify_batch_streams_one_line_per_record(
    example: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _ = example
    calls = tmp_path / "calls.jsonl"
    lines = (out / "calls.jsonl").read_text().splitlines()
    calls.write_text("\n".join([*lines[:20], "{broken", *lines[20:40]]) + "\n")
    results = tmp_path / "results.jsonl"
    assert (
        main(
            [
                "verify-batch",
                str(calls),
                "--trust",
                str(out / "trust.pem"),
                "--mirror",
                str(out / "mirror"),
                "--out",
                str(results),
                "--jobs",
                "2",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(rows) == 41
    assert [r["line"] for r in rows] == list(range(1, 42))
    assert rows[20]["error"] == "record_malformed"
    assert "not a JSON object" in rows[20]["reason"]
    signed = [r for r in rows if r.get("verstat") == "TN-Validation-Passed"]
    assert signed
    assert all(r["spc"] for r in signed)
    assert {
        "verstat",
        "sip_code",
        "error",
        "attest",
        "origid",
        "spc",
        "x5u",
        "call_id",
        "time",
    } <= set(signed[0])


def test_usage_errors(
    example: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = example
    assert main(["analyze", str(out / "calls.jsonl")]) == 2
    assert "--trust" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "nope.jsonl"), "--trust", "x"]) == 2
    assert "nope.jsonl" in capsys.readouterr().err
    assert main(["analyze", *_args(out), "--map", "bogus=x"]) == 2
    assert "unknown record field" in capsys.readouterr().err


def test_column_mapping_on_csv(
    example: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, planted = example
    cdr = tmp_path / "cdr.csv"
    with cdr.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["start", "calling_number", "called_number", "identity", "trunk"])
        for line in (out / "calls.jsonl").read_text().splitlines():
            r = json.loads(line)
            writer.writerow([r["time"], r["orig"], r["dest"], r["identity"], "t1"])
    args = [
        str(cdr),
        "--trust",
        str(out / "trust.pem"),
        "--mirror",
        str(out / "mirror"),
        "--map",
        "time=start,orig=calling_number,dest=called_number",
        "--json",
        "--jobs",
        "1",
    ]
    assert main(["analyze", *args]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["calls"] == 200
    assert data["unreadable"] == 0
    assert data["leads"][0]["origid"] == CAMPAIGN
    assert data["leads"][0]["calls"] == planted["campaign_calls"]
    assert data["leads"][0]["provider"] == "Bluefin VoIP LLC"  # from the certificate's O


def _hostile_analysis() -> Any:
    from shakenlib.analysis.leads import Analysis
    from shakenlib.analysis.records import CallRecord
    from shakenlib.verify.result import CertificateSummary, VerificationResult

    # origid and subject O are whatever the signer put in its PASSporT and certificate
    t0 = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    analysis = Analysis()
    cert = CertificateSummary(spc="666E", subject_o="Evil\x1b[2J Corp")
    analysis.add(
        CallRecord(line=1, time=t0, orig=None, dest="2", identity=("x",)),
        VerificationResult(
            verstat="TN-Validation-Passed",
            origid="o\n#1  score 99.9  signer SPC 873J  AT&T\ud800",
            orig="\ud800",
            certificate=cert,
        ),
    )
    return analysis


def test_table_escapes_control_characters_in_signer_values() -> None:
    from shakenlib.cli.analyze import render_table

    text = render_table(_hostile_analysis(), None, top=10)
    assert "\x1b" not in text
    assert not any(line.startswith("#1  score 99.9") for line in text.splitlines())
    assert "o\\n#1  score 99.9" in text
    text.encode("utf-8")  # printable on a UTF-8 terminal (the lone surrogate is escaped)


def test_html_and_csv_with_a_lone_surrogate_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shakenlib.cli import analyze

    page = analyze.render_html(_hostile_analysis(), None)
    page.encode("utf-8")
    assert "\x1b" not in page
    monkeypatch.setattr(analyze, "analyze_source", lambda *a, **k: _hostile_analysis())
    (tmp_path / "calls.jsonl").write_text("")
    (tmp_path / "trust.pem").write_text("")
    base = [str(tmp_path / "calls.jsonl"), "--trust", str(tmp_path / "trust.pem")]
    assert main(["analyze", *base, "--csv", str(tmp_path / "leads.csv")]) == 0
    with open(tmp_path / "leads.csv", encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["origid"].startswith("o\n#1  score 99.9")  # the CSV keeps the value, quoted
    assert main(["analyze", *base, "--html", str(tmp_path / "leads.html")]) == 0
    assert "666E" in (tmp_path / "leads.html").read_text(encoding="utf-8")


# --- issue 11: a signer that puts a fresh origid on every call ------------------------------
@pytest.fixture(scope="module")
def per_call_example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("cli-per-call")
    planted = generate(
        out, calls=400, seed=11, origid_per_call=("999R", "561C"), signer_customers=0.05
    )
    return out, planted


def test_analyze_json_with_per_call_origid_signers(
    per_call_example: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, planted = per_call_example
    assert planted["origid_per_call"] == ["561C", "999R"]
    assert main(["analyze", *_args(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    top = data["leads"][0]
    # the campaign (and the signer's few ordinary customers) is one signer-level lead
    assert (top["spc"], top["provider"], top["origid"]) == ("999R", "Bluefin VoIP LLC", None)
    assert top["origid_per_call"] is True
    assert "origid_per_call" in top["flags"]
    assert top["calls"] == planted["campaign_calls"] + planted["signer_customers"] == 140
    assert top["distinct_origids"] == 140
    assert top["why"][0].startswith("origid per call: the signer put 140 distinct origids")
    assert all(sample["origid"] for sample in top["samples"])
    assert data["leads_total"] == len(data["leads"])
    # the other per-call signer's ordinary traffic is one lead too, and ranks below
    northwind = [lead for lead in data["leads"] if lead["spc"] == "561C"]
    assert [lead["origid_per_call"] for lead in northwind] == [True]
    assert northwind[0]["score"] < top["score"] / 2
    signers = {row["spc"]: row for row in data["signers"]}
    assert set(signers) == {"873J", "412B", "561C", "730G", "999R"}
    row = signers["999R"]
    assert (
        row["calls"],
        row["distinct_origids"],
        row["origids_per_call"],
        row["origid_per_call"],
    ) == (140, 140, 1.0, True)
    assert row["share"] == round(140 / 400, 4)
    assert row["attest"] == {"A": planted["campaign_calls"], "B": planted["signer_customers"]}
    assert not signers["873J"]["origid_per_call"]
    assert sum(r["calls"] for r in signers.values()) == (
        data["passed"]
        + data["failed"]
        - data["failed_without_certificate"]["by_error"].get("x5u_http_status", 0)
    )


def test_top_applies_to_every_format(
    per_call_example: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, _ = per_call_example
    assert main(["analyze", *_args(out), "--json", "--top", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["leads"]) == 2
    total = data["leads_total"]
    assert total > 2
    assert main(["analyze", *_args(out), "--json", "--top", "all"]) == 0
    assert len(json.loads(capsys.readouterr().out)["leads"]) == total
    assert main(["analyze", *_args(out), "--top", "1"]) == 0
    table = capsys.readouterr().out
    assert "#1  score" in table
    assert "#2" not in table
    assert "origid (per call: 140 origids)" in table
    assert "about the origid of each call, e.g. " in table
    assert f"... {total - 1} more leads ({total} in all" in table
    assert "signers (5):" in table
    assert "999R   Bluefin VoIP LLC" in table
    report = tmp_path / "leads.csv"
    assert main(["analyze", *_args(out), "--csv", str(report), "--top", "1"]) == 0
    rows = list(csv.DictReader(report.open()))
    assert [(r["spc"], r["origid"], r["origid_per_call"]) for r in rows] == [("999R", "", "True")]
    signers = list(csv.DictReader((tmp_path / "leads-signers.csv").open()))
    assert signers[0]["spc"] == "999R"
    assert signers[0]["distinct_origids"] == "140"
    assert len(signers) == 5
    page = tmp_path / "leads.html"
    assert main(["analyze", *_args(out), "--html", str(page), "--top", "1"]) == 0
    html = page.read_text()
    assert html.count("<tr data-rank=") == 1
    assert f"1 of {total} leads" in html
    assert "<h2>Signers</h2>" in html


def test_top_must_be_a_positive_number_or_all(
    per_call_example: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = per_call_example
    for bad in ("0", "x", "-3"):
        assert main(["analyze", *_args(out), "--top", bad]) == 2
        assert "--top" in capsys.readouterr().err


def test_per_call_analysis_does_not_depend_on_jobs(
    per_call_example: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    # the workers' parts (small groups, signer totals) merge into the same analysis
    out, _ = per_call_example
    reports = []
    for jobs in ("1", "2"):
        args = [*_args(out)[:-1], jobs, "--json", "--top", "all", "--chunk-size", "16"]
        assert main(["analyze", *args]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0] == reports[1]
    assert reports[0]["leads"][0]["origid_per_call"]
