"""Leads: aggregation, bounded distinct counts, NANP rules, scoring and exact merge."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.analysis.leads import (
    Analysis,
    DistinctCounter,
    HyperLogLog,
    NumberStats,
    nanp_problem,
    neighbour,
)
from shakenlib.analysis.providers import ProviderDirectory
from shakenlib.analysis.records import CallRecord, RecordError
from shakenlib.verify.result import CertificateSummary, VerificationResult

T0 = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def call(line: int, orig: str, dest: str, *, spc: str | None = "111A", origid: str = "o",
         attest: str = "B", error: str | None = None, signed: bool = True,
         minutes: int = 0) -> tuple[CallRecord, VerificationResult]:
    record = CallRecord(line=line, time=T0 + dt.timedelta(minutes=minutes), orig=orig,
                        dest=dest, identity=("hdr",) if signed else (),
                        call_id=f"c{line}")
    if not signed:
        return record, VerificationResult.failure("identity_missing")
    cert = CertificateSummary(spc=spc, subject_o=f"Org {spc}", subject_cn=f"SHAKEN {spc}",
                              issuer="CN=Test CA") if spc else None
    x5u = f"https://cr.{(spc or 'none').lower()}.test/c.pem"
    if error:
        return record, VerificationResult.failure(error, attest=attest, origid=origid,
                                                  certificate=cert, x5u=x5u)
    return record, VerificationResult(verstat="TN-Validation-Passed", attest=attest,
                                      origid=origid, certificate=cert, x5u=x5u)


def traffic(seed: int = 1) -> list[tuple[CallRecord, VerificationResult]]:
    """Ordinary traffic from two providers plus a planted campaign (exact numbers known)."""
    rng = random.Random(seed)
    calls = []
    line = 0
    pool = [f"1215555{n:04d}" for n in range(2000, 2040)]  # 40 subscribers, one block
    for _ in range(200):
        line += 1
        calls.append(call(line, rng.choice(pool), f"1{rng.randrange(201, 989)}2345678",
                          spc="111A", origid="trunk-1", attest="A", minutes=rng.randrange(1440)))
    for _ in range(100):
        line += 1
        calls.append(call(line, f"44{rng.randrange(10**9, 10**10)}", "12125550100",
                          spc="222B", origid="gw", attest="C", minutes=rng.randrange(1440)))
    # campaign: 300 calls, 300 distinct spoofed numbers, each in the called number's NPA-NXX
    for i in range(300):
        line += 1
        npa = 201 + i  # 300 different NPA-NXX blocks
        calls.append(call(line, f"1{npa}555{2000 + i:04d}", f"1{npa}5559999", spc="999R",
                          origid="camp", attest="A", minutes=600 + i % 120))
    for i in range(50):
        line += 1
        calls.append(call(line, f"1610555{i:04d}", "16105550000", signed=False))
    for _ in range(7):
        line += 1
        calls.append(call(line, "12155552000", "12155550001", spc=None, error="x5u_fetch_failed"))
    for _ in range(4):
        line += 1
        calls.append(call(line, "12155552000", "12155550001", spc="111A", origid="trunk-1",
                          attest="A", error="iat_stale"))
    rng.shuffle(calls)
    return calls


def test_planted_campaign_ranks_first_with_exact_counts() -> None:
    analysis = Analysis()
    for record, result in traffic():
        analysis.add(record, result)
    assert (analysis.calls, analysis.passed, analysis.failed, analysis.unsigned) == (
        661, 600, 11, 50)
    leads = analysis.leads()
    top = leads[0]
    assert (top.spc, top.origid, top.calls, top.distinct_orig, top.distinct_dest) == (
        "999R", "camp", 300, 300, 300)
    assert top.attest == {"A": 300}
    assert top.neighbour_calls == 300
    assert top.orig_blocks == 300
    assert "likely_improper_attestation" in top.flags
    assert "neighbour_spoofing" in top.flags
    assert top.why[0].startswith("300 calls from 300 distinct calling numbers under one origid")
    assert top.peak_per_hour == 180  # minutes 600 + i % 120: i % 120 < 60 for 180 of 300
    assert top.first_seen == T0 + dt.timedelta(minutes=600)
    assert top.last_seen == T0 + dt.timedelta(minutes=719)
    # the ordinary A-attested trunk: 40 numbers in one block -> not flagged improper
    trunk = next(lead for lead in leads if lead.origid == "trunk-1")
    assert trunk.calls == 204
    assert trunk.passed == 200
    assert trunk.failed == {"iat_stale": 4}
    assert trunk.distinct_orig == 40
    assert trunk.orig_blocks == 1
    assert "likely_improper_attestation" not in trunk.flags
    assert top.score > trunk.score
    # failures without a certificate and unsigned calls are summarised separately
    assert analysis.unattributed == {"x5u_fetch_failed": 7}
    assert analysis.unattributed_hosts == {"cr.none.test": 7}
    assert analysis.unsigned_numbers.orig.count() == 50
    assert analysis.unsigned_numbers.neighbour_calls == 50


def test_traceback_shortcut_names_signer_origid_and_calls() -> None:
    analysis = Analysis().add_all(traffic())
    top = analysis.leads()[0]
    tb = top.traceback
    assert tb.spc == "999R"
    assert tb.origid == "camp"
    assert tb.attest == "A"
    assert tb.role.startswith("signer")
    assert len(tb.calls) == 5
    # the earliest calls, by time then line, with the details a traceback request needs
    assert [c.time for c in tb.calls] == sorted(c.time for c in tb.calls)
    first = tb.calls[0].to_dict()
    assert first["time"] == "2025-06-01T10:00:00Z"
    assert first["orig"].startswith("1")
    assert first["dest"].endswith("5559999")
    assert first["call_id"].startswith("c")


def test_provider_from_directory_or_certificate() -> None:
    analysis = Analysis().add_all(traffic())
    directory = ProviderDirectory.from_rows([{"spc": "999R", "name": "Verizon Wireless"}])
    by_spc = {lead.spc: lead for lead in analysis.leads(directory)}
    assert by_spc["999R"].provider.name == "Verizon Wireless"
    assert by_spc["999R"].provider.itg_member
    assert by_spc["111A"].provider.name == "Org 111A"
    assert by_spc["111A"].provider.source == "certificate subject O"
    data = analysis.to_dict(directory)
    assert data["leads"][0]["provider"] == "Verizon Wireless"
    assert set(data) >= {"calls", "passed", "failed", "unsigned", "unreadable", "leads"}
    lead = data["leads"][0]
    assert set(lead) >= {"spc", "provider", "origid", "calls", "distinct_orig",
                         "distinct_dest", "attest", "first_seen", "last_seen", "score", "why"}


def test_unreadable_records_are_counted_with_line_and_reason() -> None:
    analysis = Analysis()
    analysis.add_error(RecordError(7, "missing time", "x.jsonl"))
    analysis.add_error(RecordError(3, "not a JSON object", "x.jsonl"))
    assert analysis.unreadable == 2
    assert analysis.errors == [(3, "not a JSON object", "x.jsonl"), (7, "missing time", "x.jsonl")]
    assert analysis.to_dict()["unreadable_records"][0] == {
        "line": 3, "reason": "not a JSON object", "source": "x.jsonl"}


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(0, 661), seed=st.integers(0, 3))
def test_merge_of_halves_equals_whole(cut: int, seed: int) -> None:
    calls = traffic(seed)
    whole = Analysis().add_all(calls)
    left = Analysis().add_all(calls[:cut])
    right = Analysis().add_all(calls[cut:])
    merged = left.merge(right)
    assert merged == whole
    assert [lead.to_dict() for lead in merged.leads()] == [
        lead.to_dict() for lead in whole.leads()]
    assert Analysis().add_all(calls[cut:]) == right  # merge left its inputs unchanged
    taken = Analysis()
    for part in (calls[:cut], calls[cut:]):  # parts handed over (as batch merges workers')
        taken.update(Analysis().add_all(part), take=True)
    assert taken == whole


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(0, 3000), max_size=400), cut=st.integers(0, 400),
       cap=st.integers(1, 200))
def test_distinct_counter_merges_exactly_across_the_cap(values: list[int], cut: int,
                                                        cap: int) -> None:
    whole, left, right = DistinctCounter(cap), DistinctCounter(cap), DistinctCounter(cap)
    for v in values:
        whole.add(str(v))
    for v in values[:cut]:
        left.add(str(v))
    for v in values[cut:]:
        right.add(str(v))
    left.update(right)
    assert left == whole
    if len(set(values)) <= cap:
        assert whole.exact
        assert whole.count() == len(set(values))
    else:
        assert not whole.exact


def test_hyperloglog_accuracy_and_bounded_memory() -> None:
    counter = DistinctCounter(cap=1000)
    for i in range(100_000):
        counter.add(f"1{i:010d}")
    assert not counter.exact
    assert abs(counter.count() - 100_000) < 100_000 * 0.05
    assert counter.hll is not None
    assert len(counter.hll.registers) == 4096
    h1, h2 = HyperLogLog(), HyperLogLog()
    for i in range(5000):
        (h1 if i % 2 else h2).add(str(i))
    h1.update(h2)
    assert abs(h1.estimate() - 5000) < 5000 * 0.05


@pytest.mark.parametrize(("tn", "problem"), [
    ("12155551234", None),
    ("2155551234", None),
    ("10155551234", "NPA starts with 0 or 1"),
    ("11155551234", "NPA starts with 0 or 1"),
    ("14115551234", "NPA 411 is an N11 service code"),
    ("12955551234", "NPA 295 (N9X) is reserved for expansion"),
    ("12150551234", "NXX starts with 0 or 1"),
    ("12151551234", "NXX starts with 0 or 1"),
    ("12159111234", "NXX 911 is an N11 service code"),
    ("12155550100", "555-01XX is reserved for fictional use"),
    ("12155550199", "555-01XX is reserved for fictional use"),
    ("12155550200", None),
    ("121555512", "country code 1 but not 10 digits after it"),
    ("1215555123", "NPA starts with 0 or 1"),  # 10 digits: read as a national number
    ("442079460000", None),
    ("", None),
])
def test_nanp_rules(tn: str, problem: str | None) -> None:
    assert nanp_problem(tn) == problem


def test_neighbour() -> None:
    assert neighbour("12155551234", "12155559999")
    assert neighbour("2155551234", "12155559999")
    assert not neighbour("12155561234", "12155559999")
    assert not neighbour("442079460000", "442079460001")
    assert not neighbour(None, "12155559999")


# --- review R3 -----------------------------------------------------------------------------
def test_merge_is_independent_of_order_when_counts_tie() -> None:
    # "every part of the state is a function of the set of calls": a tie between two
    # attestations (or two certificate subjects) must not be broken by which part came first
    a_part = [call(i, f"1215555{i:04d}", "12155559999", spc="777Q", origid="x", attest="A")
              for i in range(1, 4)]
    c_part = [call(i, f"1215555{i:04d}", "12155559999", spc="777Q", origid="x", attest="C")
              for i in range(4, 7)]
    first = Analysis().add_all(a_part).merge(Analysis().add_all(c_part))
    second = Analysis().add_all(c_part).merge(Analysis().add_all(a_part))
    assert [lead.to_dict() for lead in first.leads()] == [
        lead.to_dict() for lead in second.leads()]
    assert first.leads()[0].traceback.attest == "A"  # ties go to the first in sort order


def test_merge_of_parts_from_different_files_with_equal_sample_keys() -> None:
    # two files each have a line 1 at the same second; one record has no numbers at all
    rec1 = CallRecord(line=1, time=T0, orig=None, dest=None, identity=("h",), call_id=None)
    rec2 = CallRecord(line=1, time=T0, orig="12155551212", dest=None, identity=("h",),
                      call_id="abc")
    rec3 = CallRecord(line=1, time=T0, orig="12155551212", dest=None, identity=("h",),
                      call_id=None)
    result = call(1, "1", "1", spc="555S")[1]
    parts = [Analysis().add_all([(rec, result)]) for rec in (rec1, rec2, rec3)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    back = parts[2].merge(parts[1]).merge(parts[0])
    (lead,) = merged.leads()
    assert lead.calls == 3
    assert [(s.orig, s.call_id) for s in lead.samples] == [
        (None, None), ("12155551212", None), ("12155551212", "abc")]
    assert [lead.to_dict() for lead in back.leads()] == [lead.to_dict()]


def test_sketch_accepts_any_claimed_number() -> None:
    # PASSporT orig/dest are taken as received; a lone surrogate in JSON ("\ud800") is a str
    counter = DistinctCounter(cap=1)
    counter.add("1")
    counter.add("\ud800")
    counter.add("\udfff9")
    assert not counter.exact
    assert counter.count() == 3


numbers = st.one_of(st.none(), st.just(""), st.text("0123456789", min_size=1, max_size=12),
                    st.from_regex(r"1?[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))


@given(orig=numbers, dest=numbers)
@settings(max_examples=300, deadline=None)
def test_number_stats_counts_agree_with_the_public_rules(orig: str | None,
                                                         dest: str | None) -> None:
    # NumberStats.add computes the national part once; its counts must be what
    # neighbour() and nanp_problem() say of the same numbers
    stats = NumberStats()
    stats.add(orig, dest)
    assert stats.neighbour_calls == int(neighbour(orig, dest))
    assert stats.invalid_orig_calls == int(bool(orig) and nanp_problem(orig) is not None)
    assert stats.orig.count() == int(bool(orig))
    assert stats.dest.count() == int(bool(dest))
