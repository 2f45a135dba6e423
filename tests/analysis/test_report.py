"""The HTML report and the notebook's rich display: valid HTML, every signer-supplied
value escaped, self-contained; opened in a real (headless) Chromium."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import shakenlib
from shakenlib.analysis.leads import Analysis
from shakenlib.analysis.providers import Provider, ProviderDirectory
from shakenlib.analysis.records import CallRecord, UnreadableRecord
from shakenlib.analysis.report import render_html
from shakenlib.findings import Finding
from shakenlib.verify.result import CertificateSummary, IdentityResult, VerificationResult

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
#: What a hostile signer puts in origid, subject O, numbers, display names ...
EVIL = "<img src=x onerror=alert(1)>\"'&<script>alert(2)</script>$x$ {}"
VOID = {"meta", "br", "img", "input", "link", "hr", "area", "base", "col", "source", "wbr"}


class Checker(HTMLParser):
    """Collects tags, attributes and text; checks that elements nest and close."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.scripts.append(data)
        else:
            self.text.append(data)


def check(page: str) -> Checker:
    """Parse ``page``; assert it is well formed and nothing hostile became markup."""
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.problems == []
    assert checker.stack == []
    assert "img" not in checker.tags
    assert not [name for name, _ in checker.attrs if name.startswith("on")]
    assert all("alert" not in script for script in checker.scripts)
    return checker


def hostile_analysis() -> tuple[Analysis, ProviderDirectory]:
    t0 = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
    analysis = Analysis()
    cert = CertificateSummary(spc=EVIL[:12], subject_o=EVIL, subject_cn=EVIL, issuer=EVIL)
    for i in range(40):
        record = CallRecord(
            line=i + 1,
            time=t0 + dt.timedelta(minutes=7 * i),
            orig=None,
            dest=f"1215555{i:04d}",
            identity=("x",),
            call_id=EVIL,
        )
        analysis.add(
            record,
            VerificationResult(
                verstat="TN-Validation-Passed",
                attest="A",
                origid=EVIL,
                orig=EVIL,
                certificate=cert,
                x5u="https://cr.example/" + EVIL,
            ),
        )
        analysis.add(
            record,
            VerificationResult.failure("x5u_fetch_failed", EVIL, x5u="https://evil.example/x"),
        )
    analysis.add(
        CallRecord(line=99, time=t0, orig="12155550123", dest="12155550199"),
        VerificationResult.failure("identity_missing"),
    )
    analysis.add_error(UnreadableRecord(7, EVIL, EVIL))
    directory = ProviderDirectory([Provider(spc=EVIL[:12], name=EVIL, source="directory")])
    return analysis, directory


def test_report_escapes_every_signer_supplied_value() -> None:
    analysis, directory = hostile_analysis()
    for page in (render_html(analysis, None), render_html(analysis, directory, charts=False)):
        parsed = check(page)
        text = "".join(parsed.text)
        assert EVIL in text  # shown, as text
        assert len(parsed.scripts) == 1  # ours
        assert parsed.tags.count("script") == 1


def test_report_is_self_contained() -> None:
    analysis, _ = hostile_analysis()
    page = render_html(analysis, None)
    parsed = check(page)
    names = {name for name, _ in parsed.attrs}
    assert "src" not in names  # no image, script or frame to fetch
    assert "link" not in parsed.tags
    hrefs = [v for name, v in parsed.attrs if name in ("href", "xlink:href")]
    assert all(v and v.startswith("#") for v in hrefs)
    # namespaces name the SVG vocabulary; nothing else says http
    assert not re.search(
        r"https?://(?!www\.w3\.org/)",
        page.replace("https://cr.example/", "").replace("https://evil.example/", ""),
    )
    assert "@import" not in page
    assert not re.search(r"url\((?!#)", page)  # only references inside the page
    assert "<svg" in page  # the charts are inline


def test_report_without_charts_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    analysis, _ = hostile_analysis()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    page = render_html(analysis, None)
    check(page)
    assert "<svg xmlns" not in page
    assert "No charts: charts needs matplotlib: pip install &quot;shakenlib[notebook]&quot;" in page


def test_repr_html_of_analysis_and_lead() -> None:
    analysis, _ = hostile_analysis()
    for obj in (analysis, analysis.leads()[0]):
        page = obj._repr_html_()
        parsed = check(page)
        assert EVIL in "".join(parsed.text)
        assert len(repr(obj)) < 200
    lead = analysis.leads()[0]
    card = lead._repr_html_()
    assert "Traceback ask" in card
    # the small chart: one bar per hour with calls (40 calls 7 minutes apart: 5 hours)
    assert [count for _, count in lead.per_hour] == [9, 9, 8, 9, 5]
    assert "<svg" in card
    assert card.count("<rect") == 5


def _token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(claims)}.{'A' * 86}"


def test_repr_html_of_decoded_identity_and_result() -> None:
    header = {
        "alg": "ES256",
        "ppt": "shaken",
        "typ": "passport",
        "x5u": "https://cr.example/" + EVIL,
    }
    claims = {
        "attest": "A",
        "origid": EVIL,
        "orig": {"tn": EVIL},
        "dest": {"tn": [EVIL]},
        "iat": 1748779200,
        "rcd": {"nam": EVIL},
    }
    decoded = shakenlib.decode_identity(
        _token(header, claims) + ";info=<https://cr.example/a.pem>;alg=ES256;ppt=shaken"
    )
    parsed = check(decoded._repr_html_())
    text = "".join(parsed.text)
    assert json.dumps(EVIL) in text  # claim values shown as JSON text
    result = VerificationResult(
        verstat="TN-Validation-Failed",
        error="signature_invalid",
        message=EVIL,
        attest=EVIL,
        origid=EVIL,
        x5u=EVIL,
        orig=EVIL,
        dest=(EVIL,),
        certificate=CertificateSummary(spc=EVIL, subject_o=EVIL, subject_cn=EVIL, issuer=EVIL),
        identities=(IdentityResult(0, False, error="signature_invalid", ppt=EVIL),),
        findings=(Finding(EVIL, "error", EVIL),),
    )
    parsed = check(result._repr_html_())
    text = "".join(parsed.text)
    assert text.count(EVIL) >= 8
    assert "438" in text
    assert len(repr(VerificationResult.failure("iat_stale"))) < 400


# --- in a real browser -------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium; .ci/run installs it)",
)


@pytest.fixture(scope="module")
def example_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    analysis = shakenlib.analyze(
        str(EX / "calls.jsonl"),
        trust=str(EX / "trust.pem"),
        mirror=str(EX / "mirror"),
        providers=str(EX / "providers.csv"),
        progress=False,
    )
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(analysis.to_html(), encoding="utf-8")
    return path


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _rows(dom: str) -> list[dict[str, Any]]:
    table = dom[dom.index('id="leads"') :]
    table = table[: table.index("</table>")]
    rows = []
    for row in re.findall(r'<tr data-rank="(\d+)">(.*?)</tr>', table, re.S):
        values = re.findall(r'data-v="([^"]*)"', row[1])
        rows.append({"rank": int(row[0]), "calls": int(values[2])})
    return rows


@needs_chromium
def test_report_in_chromium_renders_charts_and_sorts(example_report: Path, tmp_path: Path) -> None:
    url = example_report.as_uri()
    done = _chromium(
        tmp_path / "p1", "--virtual-time-budget=2000", "--dump-dom", url + "#sort=calls-asc"
    )
    dom = done.stdout
    assert "</html>" in dom, done.stderr[-2000:]
    check(dom)
    assert dom.count("<svg") >= 6  # leads, attestation, hours x3, NPA-NXX spread
    assert len(re.findall(r"<path|<rect", dom)) > 100
    assert 'data-sorted="calls-asc"' in dom  # the inline script ran
    rows = _rows(dom)
    assert len(rows) == 8
    calls = [r["calls"] for r in rows]
    assert calls == sorted(calls)
    assert rows[-1]["rank"] == 1  # the campaign, 600 calls, last
    done = _chromium(
        tmp_path / "p2", "--virtual-time-budget=2000", "--dump-dom", url + "#sort=calls"
    )
    rows = _rows(done.stdout)
    assert [r["calls"] for r in rows] == sorted(calls, reverse=True)
    assert 'data-sorted="calls"' in done.stdout
    # without a sort in the URL the table is in rank order
    done = _chromium(tmp_path / "p3", "--virtual-time-budget=2000", "--dump-dom", url)
    assert [r["rank"] for r in _rows(done.stdout)] == list(range(1, 9))
    assert 'id="leads" data-sorted' not in done.stdout


@needs_chromium
def test_report_screenshot(example_report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = _chromium(
        tmp_path / "p",
        "--virtual-time-budget=2000",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        example_report.as_uri(),
    )
    assert shot.exists(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG")
    assert len(data) > 50_000


def test_html_escape_helper() -> None:
    from shakenlib.analysis.report import e

    assert html.unescape(e(EVIL)) == EVIL
    assert e("a\nb\x1b") == "a\\nb\\x1b"


@pytest.mark.parametrize(
    ("unreadable", "said"),
    [(0, "0 unreadable records"), (1, "1 unreadable record"), (2, "2 unreadable records")],
)
def test_the_totals_line_counts_unreadable_records_in_english(unreadable: int, said: str) -> None:
    from shakenlib.analysis.report import render_table

    analysis = Analysis()
    for line in range(unreadable):
        analysis.add_error(UnreadableRecord(line + 1, "not a JSON object"))
    first = render_table(analysis, None).splitlines()[0]
    assert first.endswith(f"unsigned; {said}")
