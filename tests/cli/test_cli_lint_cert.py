"""``shakenlib lint-cert`` through shakenlib.cli.main."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shakenlib.cli import main
from shakenlib.cli.lint_cert import parse_time
from shakenlib.errors import UsageError

sys.path.insert(0, str(Path(__file__).parents[1] / "data" / "certs"))
import builder as B

DATA = Path(__file__).parents[1] / "data" / "certs"


def test_clean_chain_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint-cert", str(DATA / "chain.pem")]) == 0
    out = capsys.readouterr().out
    assert "CN=SHAKEN 873J,O=Example Telecom,C=US SPC 873J" in out
    assert out.count(": OK") == 3
    assert "3 certificate(s), 0 error finding(s)" in out


def test_errors_exit_1_and_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint-cert", str(DATA / "leaf.pem"), str(DATA / "bad-leaf.pem")]) == 1
    out = capsys.readouterr().out
    assert "e_atis_subject_cn_spc (ATIS1000080): ATIS-1000080 v004 §6.4.1:" in out
    assert "e_incorrect_ku_encoding (RFC5280)" in out
    assert "2 certificate(s), 3 error finding(s)" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint-cert", "--json", str(DATA / "bad-leaf.pem"), str(DATA / "leaf.der")]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [d["spc"] for d in data] == ["873J", "873J"]
    assert data[1]["findings"] == []
    assert {"sha256", "subject", "spc", "findings"} <= set(data[0])
    f = data[0]["findings"][0]
    assert f == {
        "code": "e_atis_subject_cn_spc",
        "severity": "error",
        "source": "ATIS1000080",
        "message": f["message"],
    }


def test_warn_only_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "w.der"
    p.write_bytes(B.der(B.build(ski=None, not_before=datetime(2020, 12, 1, tzinfo=UTC))))
    assert main(["lint-cert", "--json", str(p)]) == 0
    [d] = json.loads(capsys.readouterr().out)
    assert [f["severity"] for f in d["findings"]] == ["warn"]


def test_at(capsys: pytest.CaptureFixture[str]) -> None:
    leaf = str(DATA / "leaf.pem")
    assert main(["lint-cert", "--at", "2025-06-01T00:00:00Z", leaf]) == 0
    capsys.readouterr()
    assert main(["lint-cert", "--json", "--at", "2208988800", leaf]) == 1  # 2040-01-01
    [d] = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in d["findings"]] == ["x_cert_expired_at"]


def test_usage_and_file_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint-cert"]) == 2
    assert main(["lint-cert", "--at", "yesterday", str(DATA / "leaf.pem")]) == 2
    assert "not ISO 8601 or Unix seconds" in capsys.readouterr().err
    assert main(["lint-cert", str(tmp_path / "missing.pem")]) == 2
    junk = tmp_path / "junk.txt"
    junk.write_text("hello")
    assert main(["lint-cert", str(junk)]) == 1
    err = capsys.readouterr().err
    assert "cert_malformed" in err
    assert "junk.txt" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
        ("1700000000.5", datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)),
        ("2024-02-29T12:00:00+01:00", datetime(2024, 2, 29, 11, tzinfo=UTC)),
        ("2024-02-29T12:00:00z", datetime(2024, 2, 29, 12, tzinfo=UTC)),
        ("2024-02-29 12:00", datetime(2024, 2, 29, 12, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "2024-13-01", "1e999"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_time(text)
