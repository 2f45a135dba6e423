"""``shakenlib decode`` through ``shakenlib.cli.main``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from shakenlib.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SHAKEN = (ROOT / "examples" / "identity-shaken.txt").read_text().strip()


def test_decode_human(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", SHAKEN]) == 0
    out = capsys.readouterr().out
    assert "Identity header (full form)" in out
    assert "  ppt: shaken" in out
    assert "  attest: A" in out
    assert '  orig: {"tn":"12155551212"}' in out
    assert "Findings: none" in out


def test_decode_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", SHAKEN, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"params", "header", "claims", "findings"}
    assert out["claims"]["attest"] == "A"
    assert out["header"]["typ"] == "passport"
    assert out["params"]["ppt"] == "shaken"
    assert out["findings"] == []


def test_decode_findings_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    value = (DATA / "identity" / "rfc8225-example.txt").read_text().strip()
    assert main(["decode", value]) == 0
    out = capsys.readouterr().out
    assert "error  iat_invalid:" in out


def test_not_a_passport_exits_1_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "hello;info=<https://x/c>"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("shakenlib: passport_malformed:")
    assert "Traceback" not in captured.err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode"]) == 2
    assert "IDENTITY or --sip" in capsys.readouterr().err
    assert main(["decode", SHAKEN, "--sip", "x.sip"]) == 2
    assert main(["decode", "--bogus"]) == 2


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--sip", str(DATA / "sip" / "nope.sip")]) == 2
    assert "nope.sip" in capsys.readouterr().err


def test_decode_sip_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--sip", str(DATA / "sip" / "multi-identity.sip"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [i["header"]["ppt"] for i in out["identities"]] == ["shaken", "div"]
    assert out["identities"][1]["claims"]["div"] == {"tn": "12155551213"}


def test_decode_sip_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (ROOT / "examples" / "invite.sip").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["decode", "--sip", "-"]) == 0
    out = capsys.readouterr().out
    assert "=== Identity 1 of 1" in out
    assert "origid: 4437c7eb-8f92-4b52-9b8f-3f3b3e7d3c1a" in out


def test_decode_sip_without_identity(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "m.sip"
    path.write_text("INVITE sip:a@b SIP/2.0\r\nFrom: <sip:a@b>\r\n\r\n")
    assert main(["decode", "--sip", str(path)]) == 1
    assert "identity_missing" in capsys.readouterr().err
    path.write_text("not sip")
    assert main(["decode", "--sip", str(path)]) == 1
    assert "sip_malformed" in capsys.readouterr().err


def test_decode_sip_with_bad_and_compact_headers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "m.sip"
    path.write_text(
        "INVITE sip:+12155551213@b SIP/2.0\r\nFrom: <tel:+12155551212>\r\n"
        "To: <tel:+12155551213>\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
        "Identity: ..c2ln;info=<https://x/c.pem>;ppt=shaken\r\n"
        "Identity: garbage;info=<https://x/c.pem>\r\n\r\n"
    )
    assert main(["decode", "--sip", str(path)]) == 1
    captured = capsys.readouterr()
    assert "JOSE header (rebuilt from the SIP request)" in captured.out
    assert "iat: 1700000000" in captured.out
    assert "not a PASSporT: passport_malformed" in captured.out
    assert captured.err.startswith("shakenlib: passport_malformed")
    assert main(["decode", "--sip", str(path), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    first, second = out["identities"]
    assert first["rebuilt_from_sip"] is True
    assert first["claims"]["orig"] == {"tn": "12155551212"}
    assert any(f["code"] == "identity_compact_form" for f in first["findings"])
    assert second["error"]["code"] == "passport_malformed"
