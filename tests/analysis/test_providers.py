"""Provider directory and ITG member matching."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shakenlib.analysis.providers import (
    ProviderDirectory,
    itg_member_for,
    itg_members,
    normalise_name,
)
from shakenlib.errors import UsageError

CORPUS = Path(
    os.environ.get("SHAKENLIB_CORPUS_DIR")
    or Path(__file__).resolve().parents[3] / "shared/data/real-sti-certs"
)


def test_itg_list_ships_with_source() -> None:
    members = itg_members()
    assert len(members.members) == 29
    assert members.members[0] == "Alliance Group Services"
    assert members.source == "USTelecom Industry Traceback Group, active members"
    assert members.url is not None
    assert members.as_of


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("AT&T", "AT&T"),
        ("AT&T Corp.", "AT&T"),
        ("AT & T Services, Inc.", "AT&T"),
        ("at&t enterprises llc", "AT&T"),
        ("T-Mobile USA, Inc.", "T-Mobile"),
        ("Bandwidth.com CLEC, LLC", "Bandwidth"),
        ("Cox Communications Inc", "Cox Communications"),
        ("Cox", "Cox Communications"),
        ("Verizon Data Services LLC", "Verizon"),
        ("YMAX Communications Corp.", "YMax"),
        ("O1 Communications, Inc.", "O1 Communications"),
        ("IDT Telecom, Inc.", "IDT Telecom"),
        ("AT Telecom", None),  # "AT&T" is not "AT"
        ("ATX Networks", None),
        ("Consolidated Telcom ND", None),  # only "Consolidated Communications" is a member
        ("Westside Networks", None),
        ("Bell", None),  # member is "Bell Canada"
        ("", None),
        (None, None),
    ],
)
def test_itg_matching(name: str | None, member: str | None) -> None:
    assert itg_member_for(name) == member


def test_normalise_name() -> None:
    assert normalise_name("AT&T Corp.") == normalise_name("AT&T") == ("att",)
    assert normalise_name("Inc") == ("inc",)  # keeps at least one word


def test_simple_csv(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("SPC,Name,OCN,notes\n873j,Example Telecom,873J,x\n999R,Comcast Cable,,\n\n")
    d = ProviderDirectory.from_csv(path)
    assert len(d) == 2
    p = d.provider_for("873J")  # SPCs compare case-insensitively
    assert (p.name, p.ocn, p.itg_member) == ("Example Telecom", "873J", False)
    assert p.source == f"directory {path}"
    assert d.provider_for("999R").itg_name == "Comcast"
    fallback = d.provider_for("000X", "T-Mobile USA, Inc.")
    assert (fallback.name, fallback.source, fallback.itg_name) == (
        "T-Mobile USA, Inc.",
        "certificate subject O",
        "T-Mobile",
    )


def test_ocn_table_rows_merge(tmp_path: Path) -> None:
    path = tmp_path / "ocn.csv"
    path.write_text(
        'OCN,Org Name,CN,Cert\n"006L","VoyageNetworks","a","https://x/1.pem"\n'
        '"006L","VoyageNetworks","b","https://y/2.pem"\n'
    )
    d = ProviderDirectory.from_csv(path)
    p = d.get("006L")
    assert p is not None
    assert p.certificates == ("https://x/1.pem", "https://y/2.pem")
    assert len(d) == 1


def test_unknown_csv_shape(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="spc,name"):
        ProviderDirectory.from_csv(path)


def test_real_ocn_table() -> None:
    table = CORPUS / "ocn.csv"
    if not table.exists():
        pytest.skip(f"real corpus not found at {table} (set SHAKENLIB_CORPUS_DIR)")
    d = ProviderDirectory.from_csv(table)
    assert len(d) > 400
    members = {p.itg_name for p in (d.get(s) for s in _spcs(table)) if p and p.itg_member}
    # the big ITG members are in the ecosystem table under their legal names
    assert {"AT&T", "T-Mobile", "Verizon", "Comcast", "Bandwidth"} <= members
    consolidated = [
        p for p in (d.get(s) for s in _spcs(table)) if p and p.name == "Consolidated Telcom ND"
    ]
    assert all(not p.itg_member for p in consolidated)


def _spcs(table: Path) -> set[str]:
    import csv

    with open(table, encoding="utf-8") as handle:
        return {row["OCN"] for row in csv.DictReader(handle)}


def test_provider_look_ups_are_cached_and_still_right() -> None:
    directory = ProviderDirectory.from_rows([{"spc": "873J", "name": "AT&T Services, Inc."}])
    first = directory.provider_for("111A", "Cox Communications Inc")
    assert first is directory.provider_for("111A", "Cox Communications Inc")
    assert (first.name, first.itg_name, first.source) == (
        "Cox Communications Inc",
        "Cox Communications",
        "certificate subject O",
    )
    other = directory.provider_for("111A", "Westside Networks")  # same SPC, another name
    assert (other.name, other.itg_name) == ("Westside Networks", None)
    assert directory.provider_for("873j").name == "AT&T Services, Inc."
