"""Leads: aggregation, bounded distinct counts, NANP rules, scoring and exact merge."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import math
import random
from collections import Counter
from typing import Any

import attrs
import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.analysis.leads import (
    SMALL,
    SURVEY_SKETCH_MIN,
    Analysis,
    DistinctCounter,
    FoldPlan,
    HyperLogLog,
    LeadStats,
    NumberStats,
    _hours,
    _not_small,
    _union_of,
    nanp_problem,
    neighbour,
)
from shakenlib.analysis.providers import ProviderDirectory
from shakenlib.analysis.records import CallRecord, UnreadableRecord
from shakenlib.verify.result import CertificateSummary, VerificationResult

T0 = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def call(
    line: int,
    orig: str,
    dest: str,
    *,
    spc: str | None = "111A",
    origid: str = "o",
    attest: str = "B",
    error: str | None = None,
    signed: bool = True,
    minutes: int = 0,
) -> tuple[CallRecord, VerificationResult]:
    record = CallRecord(
        line=line,
        time=T0 + dt.timedelta(minutes=minutes),
        orig=orig,
        dest=dest,
        identity=("hdr",) if signed else (),
        call_id=f"c{line}",
    )
    if not signed:
        return record, VerificationResult.failure("identity_missing")
    cert = (
        CertificateSummary(
            spc=spc, subject_o=f"Org {spc}", subject_cn=f"SHAKEN {spc}", issuer="CN=Test CA"
        )
        if spc
        else None
    )
    x5u = f"https://cr.{(spc or 'none').lower()}.test/c.pem"
    if error:
        return record, VerificationResult.failure(
            error, attest=attest, origid=origid, certificate=cert, x5u=x5u
        )
    return record, VerificationResult(
        verstat="TN-Validation-Passed", attest=attest, origid=origid, certificate=cert, x5u=x5u
    )


def traffic(seed: int = 1) -> list[tuple[CallRecord, VerificationResult]]:
    """Ordinary traffic from two providers plus a planted campaign (exact numbers known)."""
    rng = random.Random(seed)
    calls = []
    line = 0
    pool = [f"1215555{n:04d}" for n in range(2000, 2040)]  # 40 subscribers, one block
    for _ in range(200):
        line += 1
        calls.append(
            call(
                line,
                rng.choice(pool),
                f"1{rng.randrange(201, 989)}2345678",
                spc="111A",
                origid="trunk-1",
                attest="A",
                minutes=rng.randrange(1440),
            )
        )
    for _ in range(100):
        line += 1
        calls.append(
            call(
                line,
                f"44{rng.randrange(10**9, 10**10)}",
                "12125550100",
                spc="222B",
                origid="gw",
                attest="C",
                minutes=rng.randrange(1440),
            )
        )
    # campaign: 300 calls, 300 distinct spoofed numbers, each in the called number's NPA-NXX
    for i in range(300):
        line += 1
        npa = 201 + i  # 300 different NPA-NXX blocks
        calls.append(
            call(
                line,
                f"1{npa}555{2000 + i:04d}",
                f"1{npa}5559999",
                spc="999R",
                origid="camp",
                attest="A",
                minutes=600 + i % 120,
            )
        )
    for i in range(50):
        line += 1
        calls.append(call(line, f"1610555{i:04d}", "16105550000", signed=False))
    for _ in range(7):
        line += 1
        calls.append(call(line, "12155552000", "12155550001", spc=None, error="x5u_fetch_failed"))
    for _ in range(4):
        line += 1
        calls.append(
            call(
                line,
                "12155552000",
                "12155550001",
                spc="111A",
                origid="trunk-1",
                attest="A",
                error="iat_stale",
            )
        )
    rng.shuffle(calls)
    return calls


def test_planted_campaign_ranks_first_with_exact_counts() -> None:
    analysis = Analysis()
    for record, result in traffic():
        analysis.add(record, result)
    assert (analysis.calls, analysis.passed, analysis.failed, analysis.unsigned) == (
        661,
        600,
        11,
        50,
    )
    leads = analysis.leads()
    top = leads[0]
    assert (top.spc, top.origid, top.calls, top.distinct_orig, top.distinct_dest) == (
        "999R",
        "camp",
        300,
        300,
        300,
    )
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
    assert set(lead) >= {
        "spc",
        "provider",
        "origid",
        "calls",
        "distinct_orig",
        "distinct_dest",
        "attest",
        "first_seen",
        "last_seen",
        "score",
        "why",
    }


def test_unreadable_records_are_counted_with_line_and_reason() -> None:
    analysis = Analysis()
    analysis.add_error(UnreadableRecord(7, "missing time", "x.jsonl"))
    analysis.add_error(UnreadableRecord(3, "not a JSON object", "x.jsonl"))
    assert analysis.unreadable == 2
    assert analysis.errors == [(3, "not a JSON object", "x.jsonl"), (7, "missing time", "x.jsonl")]
    assert analysis.to_dict()["unreadable_records"][0] == {
        "line": 3,
        "reason": "not a JSON object",
        "source": "x.jsonl",
    }


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(0, 661), seed=st.integers(0, 3))
def test_merge_of_halves_equals_whole(cut: int, seed: int) -> None:
    calls = traffic(seed)
    whole = Analysis().add_all(calls)
    left = Analysis().add_all(calls[:cut])
    right = Analysis().add_all(calls[cut:])
    merged = left.merge(right)
    assert merged == whole
    assert [lead.to_dict() for lead in merged.leads()] == [lead.to_dict() for lead in whole.leads()]
    assert Analysis().add_all(calls[cut:]) == right  # merge left its inputs unchanged
    taken = Analysis()
    for part in (calls[:cut], calls[cut:]):  # parts handed over (as batch merges workers')
        taken.update(Analysis().add_all(part), take=True)
    assert taken == whole


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(0, 3000), max_size=400),
    cut=st.integers(0, 400),
    cap=st.integers(1, 200),
)
def test_distinct_counter_merges_exactly_across_the_cap(
    values: list[int], cut: int, cap: int
) -> None:
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


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 300), max_size=200),
    cut=st.integers(0, 200),
    cap=st.integers(1, 60),
)
def test_distinct_counter_add_all_is_add_one_by_one(values: list[int], cut: int, cap: int) -> None:
    one, bulk = DistinctCounter(cap), DistinctCounter(cap)
    for v in values:
        one.add(str(v))
    bulk.add_all([str(v) for v in values[:cut]])
    bulk.add_all(str(v) for v in values[cut:])
    assert bulk == one
    assert bulk.count() == one.count()


_CALL = st.tuples(
    st.integers(0, 5000),  # seconds after T0
    st.integers(1, 50),  # line
    st.sampled_from([None, "", "12155551212", "12155551213", "12125550101", "1911", "44207"]),
    st.sampled_from([None, "12155550000", "12155551299", "12125550000"]),
    st.sampled_from([None, "c1", "c2"]),
    st.sampled_from([(None, "A", None, "cr.test", 1), ("signature_invalid", "B", None, None, 2)]),
    st.sampled_from([None, "o1", "o2"]),  # the origid kept with a signer-level sample
)


@settings(max_examples=80, deadline=None)
@given(calls=st.lists(_CALL, max_size=30), cut=st.integers(0, 30))
def test_lead_stats_take_many_calls_as_one_by_one(calls: list[tuple[Any, ...]], cut: int) -> None:
    """A fold or a promotion adds many calls at once: the same statistics as adding
    them one by one."""
    made = [
        ((T0 + dt.timedelta(seconds=s), line, orig, dest, cid, profile), origid)
        for s, line, orig, dest, cid, profile, origid in calls
    ]
    one, bulk = LeadStats(), LeadStats()
    for item, origid in made:
        one.add_call(item, origid)
    for part in (made[:cut], made[cut:]):
        bulk._add_calls([item for item, _ in part], [origid for _, origid in part])
    assert bulk == one
    plain = LeadStats()
    for item, _ in made:
        plain.add_call(item)
    assert LeadStats.of_calls([item for item, _ in made]) == plain


@given(
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(8999, 12, 31)),
    st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5)), dt.timezone.max]),
)
def test_hour_of_a_time_is_its_timestamp_hour(when: dt.datetime, zone: dt.tzinfo) -> None:
    """The hour bucket from the day and hour of a UTC time equals the timestamp's; a time
    in another zone goes through its timestamp."""
    aware = when.replace(tzinfo=zone)
    assert _hours([aware]) == [int(aware.timestamp() // 3600)]


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


@pytest.mark.parametrize(
    "shape",
    [
        "{:010d}",  # national numbers, one after another
        "1215{:07d}",  # one NPA, block after block (the hash must mix every digit)
        "00000000-0000-4000-8000-{:012x}",  # fresh UUID origids that differ in the tail
    ],
)
def test_sketch_estimates_the_shapes_of_real_traffic(shape: str) -> None:
    """The sketch's hash spreads structured values (numbers that differ in their last
    digits, origids that differ in their tail): within three standard errors (1.6 % each)."""
    for n in (5_000, 60_000):
        sketch = HyperLogLog()
        sketch.add_all(shape.format(i) for i in range(n))
        assert abs(sketch.estimate() - n) < n * 3 * 0.0163


@given(
    st.lists(st.integers(0, 65), min_size=256, max_size=256),
    st.lists(st.integers(0, 65), min_size=256, max_size=256),
)
def test_hyperloglog_merge_is_the_registerwise_maximum(a: list[int], b: list[int]) -> None:
    """The merge compares all registers at once (in byte lanes of two big integers): the
    same as taking the larger of each pair, whichever side holds it."""
    h1, h2 = HyperLogLog(8, bytearray(a)), HyperLogLog(8, bytearray(b))
    h1.update(h2)
    # the estimate's sum of 2**-register, by its formula (the same additions, in order)
    merged = [max(x, y) for x, y in zip(a, b, strict=True)]
    m, zeros = 256, merged.count(0)
    raw = 0.7213 / (1 + 1.079 / m) * m * m / sum(2.0**-r for r in merged)
    expected = m * math.log(m / zeros) if raw <= 2.5 * m and zeros else raw
    assert list(h1.registers) == merged
    assert list(h2.registers) == b  # (the other sketch is left as it was)
    assert h1.estimate() == expected


@pytest.mark.parametrize(
    ("tn", "problem"),
    [
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
    ],
)
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
    a_part = [
        call(i, f"1215555{i:04d}", "12155559999", spc="777Q", origid="x", attest="A")
        for i in range(1, 4)
    ]
    c_part = [
        call(i, f"1215555{i:04d}", "12155559999", spc="777Q", origid="x", attest="C")
        for i in range(4, 7)
    ]
    first = Analysis().add_all(a_part).merge(Analysis().add_all(c_part))
    second = Analysis().add_all(c_part).merge(Analysis().add_all(a_part))
    assert [lead.to_dict() for lead in first.leads()] == [lead.to_dict() for lead in second.leads()]
    assert first.leads()[0].traceback.attest == "A"  # ties go to the first in sort order


def test_merge_of_parts_from_different_files_with_equal_sample_keys() -> None:
    # two files each have a line 1 at the same second; one record has no numbers at all
    rec1 = CallRecord(line=1, time=T0, orig=None, dest=None, identity=("h",), call_id=None)
    rec2 = CallRecord(
        line=1, time=T0, orig="12155551212", dest=None, identity=("h",), call_id="abc"
    )
    rec3 = CallRecord(line=1, time=T0, orig="12155551212", dest=None, identity=("h",), call_id=None)
    result = call(1, "1", "1", spc="555S")[1]
    parts = [Analysis().add_all([(rec, result)]) for rec in (rec1, rec2, rec3)]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    back = parts[2].merge(parts[1]).merge(parts[0])
    (lead,) = merged.leads()
    assert lead.calls == 3
    assert [(s.orig, s.call_id) for s in lead.samples] == [
        (None, None),
        ("12155551212", None),
        ("12155551212", "abc"),
    ]
    assert [lead.to_dict() for lead in back.leads()] == [lead.to_dict()]


def test_sketch_accepts_any_claimed_number() -> None:
    # PASSporT orig/dest are taken as received; a lone surrogate in JSON ("\ud800") is a str
    counter = DistinctCounter(cap=1)
    counter.add("1")
    counter.add("\ud800")
    counter.add("\udfff9")
    assert not counter.exact
    assert counter.count() == 3


numbers = st.one_of(
    st.none(),
    st.just(""),
    st.text("0123456789", min_size=1, max_size=12),
    st.from_regex(r"1?[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True),
)


@given(orig=numbers, dest=numbers)
@settings(max_examples=300, deadline=None)
def test_number_stats_counts_agree_with_the_public_rules(
    orig: str | None, dest: str | None
) -> None:
    # NumberStats.add computes the national part once; its counts must be what
    # neighbour() and nanp_problem() say of the same numbers
    stats = NumberStats()
    stats.add(orig, dest)
    assert stats.neighbour_calls == int(neighbour(orig, dest))
    assert stats.invalid_orig_calls == int(bool(orig) and nanp_problem(orig) is not None)
    assert stats.orig.count() == int(bool(orig))
    assert stats.dest.count() == int(bool(dest))


# --- issue 11: origid per call, signers, bounded memory, top N ------------------------------
def per_call_traffic(seed: int = 1) -> list[tuple[CallRecord, VerificationResult]]:
    """A signer (888P) that puts a fresh origid on every call carries a campaign and a few
    ordinary customers, and also one trunk origid of ordinary customers (a mixed signer);
    another per-call signer (777Q) carries ordinary traffic only; plus the ordinary
    traffic of test ``traffic`` without its campaign."""
    rng = random.Random(seed)
    calls = [c for c in traffic(seed) if c[1].spc != "999R"]
    line = 10_000
    pool = [f"1303777{n:04d}" for n in range(2000, 2040)]
    for i in range(300):  # the campaign: a fresh origid, a spoofed neighbour number each
        line += 1
        npa = 201 + i
        calls.append(
            call(
                line,
                f"1{npa}555{2000 + i:04d}",
                f"1{npa}5559999",
                spc="888P",
                origid=f"888-{rng.getrandbits(64):016x}",
                attest="A",
                minutes=600 + i % 120,
            )
        )
    for _ in range(50):  # the same signer's ordinary customers, also a fresh origid each
        line += 1
        calls.append(
            call(
                line,
                rng.choice(pool),
                f"1{rng.randrange(201, 989)}2345678",
                spc="888P",
                origid=f"888-{rng.getrandbits(64):016x}",
                attest="A",
                minutes=rng.randrange(1440),
            )
        )
    for _ in range(200):  # and its customers behind one trunk origid
        line += 1
        calls.append(
            call(
                line,
                rng.choice(pool),
                f"1{rng.randrange(201, 989)}2345678",
                spc="888P",
                origid="888-trunk",
                attest="A",
                minutes=rng.randrange(1440),
            )
        )
    other = [f"1614222{n:04d}" for n in range(3000, 3060)]
    for _ in range(400):  # another per-call signer, ordinary subscribers
        line += 1
        calls.append(
            call(
                line,
                rng.choice(other),
                f"1{rng.randrange(201, 989)}2345678",
                spc="777Q",
                origid=f"777-{rng.getrandbits(64):016x}",
                attest="A",
                minutes=rng.randrange(1440),
            )
        )
    rng.shuffle(calls)
    return calls


def test_campaign_through_a_per_call_origid_signer_ranks_first() -> None:
    analysis = Analysis().add_all(per_call_traffic())
    leads = analysis.leads()
    top = leads[0]
    assert (top.spc, top.origid, top.origid_per_call) == ("888P", None, True)
    assert "origid_per_call" in top.flags
    assert "likely_improper_attestation" in top.flags
    assert "neighbour_spoofing" in top.flags
    assert top.calls == 350  # the campaign and the customers with a fresh origid
    assert top.distinct_origids == 351  # ... and the trunk origid
    assert top.neighbour_calls == 300
    assert top.why[0].startswith(
        "origid per call: the signer put 351 distinct origids on 550 calls"
    )
    assert top.traceback.origid is None
    assert all(s.origid is not None and s.origid.startswith("888-") for s in top.samples)
    assert "each sample call's origid" in top.traceback.ask
    # the repeating origid of the same signer stays a lead of its own, below the campaign
    trunk = next(lead for lead in leads if lead.origid == "888-trunk")
    assert (trunk.spc, trunk.calls, trunk.origid_per_call) == ("888P", 200, False)
    assert trunk.score < top.score
    # the other per-call signer's ordinary traffic is one signer-level lead, far below
    other = next(lead for lead in leads if lead.spc == "777Q")
    assert (other.calls, other.origid, other.origid_per_call) == (400, None, True)
    assert other.distinct_orig == 60
    assert other.score < top.score / 2
    assert [lead.spc for lead in leads].count("777Q") == 1
    assert analysis.leads_total() == len(leads) == 5  # trunk-1, gw, 888P x2, 777Q
    assert sum(lead.calls for lead in leads) == analysis.passed + analysis.failed - 7


def test_the_planted_one_origid_campaign_still_ranks_first_next_to_per_call_signers() -> None:
    calls = per_call_traffic() + [c for c in traffic() if c[1].spc == "999R"]
    leads = Analysis().add_all(calls).leads()
    assert [(lead.spc, lead.origid) for lead in leads[:2]] == [("999R", "camp"), ("888P", None)]


def test_per_call_campaign_scores_as_the_same_campaign_under_one_origid() -> None:
    campaign = [c for c in traffic() if c[1].spc == "999R"]
    per_call = [(rec, attrs.evolve(res, origid=f"fresh-{rec.line}")) for rec, res in campaign]
    one = Analysis().add_all(campaign).leads()[0]
    each = Analysis().add_all(per_call).leads()[0]
    assert each.origid_per_call
    assert not one.origid_per_call
    assert each.score == one.score
    assert (each.calls, each.distinct_orig, each.neighbour_calls, each.attest) == (
        one.calls,
        one.distinct_orig,
        one.neighbour_calls,
        one.attest,
    )
    assert set(each.flags) - set(one.flags) == {"origid_per_call"}


@pytest.mark.parametrize(
    ("small", "each", "full", "per_call"),
    [
        (9, 1, 0, False),  # too few to tell
        (10, 1, 0, True),  # a fresh origid on every call
        (10, 3, 0, True),  # ... or every few calls
        (10, 1, 9, True),  # most origids are small: the others stay leads of their own
        (10, 1, 10, False),  # half: not most
    ],
)
def test_origid_per_call_rule(small: int, each: int, full: int, per_call: bool) -> None:
    analysis = Analysis()
    line = 0
    for i in range(small):
        for _ in range(each):
            line += 1
            analysis.add(*call(line, f"1215555{line:04d}", "12125550000", origid=f"s{i}"))
    for i in range(full):
        for _ in range(SMALL + 1):
            line += 1
            analysis.add(*call(line, "12155552000", "12125550000", origid=f"r{i}"))
    assert analysis.signers["111A"].per_call is per_call
    leads = analysis.leads()
    assert len(leads) == analysis.leads_total() == (full + 1 if per_call else small + full)
    assert sum(lead.calls for lead in leads) == line
    assert sum(lead.origid_per_call for lead in leads) == per_call
    assert {lead.origid for lead in leads if not lead.origid_per_call} >= {
        f"r{i}" for i in range(full)
    }


def test_signers_table() -> None:
    analysis = Analysis().add_all(per_call_traffic())
    directory = ProviderDirectory.from_rows([{"spc": "777Q", "name": "Verizon Wireless"}])
    rows = {row.spc: row for row in analysis.signers_table(directory)}
    assert list(rows) == ["888P", "777Q", "111A", "222B"]  # most calls first
    p = rows["888P"]
    assert (p.calls, p.passed, p.failed, p.distinct_origids, p.distinct_origids_exact) == (
        550,
        550,
        0,
        351,
        True,
    )
    assert p.origid_per_call
    assert p.origids_per_call == pytest.approx(351 / 550)
    assert p.attest == {"A": 550}
    assert p.share == pytest.approx(550 / analysis.calls)
    assert p.provider.name == "Org 888P"
    assert rows["777Q"].provider.itg_member
    t = rows["111A"]
    assert (t.calls, t.failed, t.distinct_origids, t.origid_per_call) == (204, 4, 1, False)
    data = analysis.to_dict(directory)
    assert data["signers"][0] == p.to_dict()
    assert data["signers"][0]["origids_per_call"] == round(351 / 550, 4)
    assert data["leads_total"] == len(data["leads"]) == 5


def test_top_builds_the_same_leads_as_the_full_ranking() -> None:
    analysis = Analysis().add_all(per_call_traffic() + traffic(2))
    everything = [lead.to_dict() for lead in analysis.leads()]
    for top in (1, 2, 3, len(everything), len(everything) + 5):
        assert [lead.to_dict() for lead in analysis.leads(top=top)] == everything[:top]
    data = analysis.to_dict(top=2)
    assert data["leads_total"] == len(everything)
    assert len(data["leads"]) == 2


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(0, 1300), seed=st.integers(0, 2), third=st.integers(0, 1300))
def test_merge_of_parts_equals_whole_with_per_call_signers(cut: int, seed: int, third: int) -> None:
    calls = per_call_traffic(seed)
    cut, third = sorted((cut, third))
    whole = Analysis().add_all(calls)
    parts = [
        Analysis().add_all(calls[a:b]) for a, b in ((0, cut), (cut, third), (third, len(calls)))
    ]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert merged == whole
    assert [lead.to_dict() for lead in merged.leads()] == [lead.to_dict() for lead in whole.leads()]
    assert merged.signers_table() == whole.signers_table()
    taken = Analysis()
    for part in reversed(parts):
        taken.update(part, take=True)
    assert taken == whole


def _straddling(calls: list[tuple[CallRecord, VerificationResult]]) -> None:
    """Add to ``calls`` a per-call signer's origids that repeat: one of 12 calls (small in
    any part), one of 24 (small in some parts, not in all of them together)."""
    for origid, n in (("twelve", 12), ("twenty-four", 24)):
        for i in range(n):
            line = 20_000 + len(calls)
            calls.append(call(line, f"1215555{i:04d}", "12125550000", spc="888P", origid=origid))


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 1400), max_size=3),
    seed=st.integers(0, 2),
    shuffle=st.booleans(),
)
def test_folded_parts_merge_to_the_whole(cuts: list[int], seed: int, shuffle: bool) -> None:
    # survey every part, plan, fold each part by the plan, merge, settle: the same leads,
    # signers table and totals as the whole analysed in one piece
    calls = per_call_traffic(seed)
    _straddling(calls)
    if shuffle:
        random.Random(seed).shuffle(calls)
    bounds = [0, *sorted(cuts), len(calls)]
    parts = [Analysis().add_all(calls[a:b]) for a, b in itertools.pairwise(bounds)]
    whole = Analysis().add_all(calls)
    plan = Analysis.fold_plan(part.survey() for part in parts)
    assert set(plan.fold) == {spc for spc, s in whole.signers.items() if s.per_call}
    # kept: what is small in some part but not in the whole
    small_somewhere = {
        o for part in parts if "888P" in part.signers for o in part.signers["888P"].small
    }
    assert plan.fold["888P"] == small_somewhere - set(whole.signers["888P"].small)
    assert "twelve" not in plan.fold["888P"]
    assert "twenty-four" in plan.fold["888P"] or "twenty-four" not in small_somewhere
    for part in parts:
        part.fold(plan)
        assert not any(part.signers[spc].small for spc in plan.fold if spc in part.signers)
    merged = Analysis()
    for part in parts:
        merged.update(part, take=True)
    merged.settle()
    assert merged.to_dict(top=None) == whole.to_dict(top=None)
    assert merged.signers_table() == whole.signers_table()
    assert merged.leads_total() == whole.leads_total()
    assert all(s.folds == 0 for s in merged.signers.values())
    # settled folds act as the memory bound's: a later merge still counts every call once
    more = Analysis().add_all(calls[:100])
    merged.update(more)
    assert sum(lead.calls for lead in merged.leads()) == whole.calls - whole.unsigned + sum(
        1 for _, r in calls[:100] if r.spc
    ) - sum(c for c in whole.unattributed.values())


def test_a_fold_plan_leaves_signers_with_repeating_origids_alone() -> None:
    # traffic() has no per-call signer: nothing is planned, folding changes nothing
    calls = traffic(1)
    parts = [Analysis().add_all(calls[:300]), Analysis().add_all(calls[300:])]
    plan = Analysis.fold_plan(part.survey() for part in parts)
    assert plan == FoldPlan()
    before = [copy.deepcopy(part) for part in parts]
    for part in parts:
        part.fold(plan)
    assert parts == before


@pytest.mark.parametrize("cuts", [(2_600,), (300, 2_700)])
def test_parts_whose_origids_pass_the_cap_together_are_sketched_before_the_merge(
    cuts: tuple[int, ...],
) -> None:
    # 5,000 fresh origids of one signer: each part holds fewer than the counter's cap, the
    # parts together more. The plan says so; each part hashes its own set (the survey
    # sent the sketch of a large one, a small one the plan hashes), and the merged
    # counter and report are the whole's.
    calls = [
        call(i + 1, f"1215{2000000 + i:07d}", "12125550000", spc="777F", origid=f"fresh-{i}")
        for i in range(5_000)
    ]
    bounds = [0, *cuts, len(calls)]
    parts = [Analysis().add_all(calls[a:b]) for a, b in itertools.pairwise(bounds)]
    whole = Analysis().add_all(calls)
    assert not whole.signers["777F"].origids.exact
    assert all(part.signers["777F"].origids.exact for part in parts)
    surveys = [part.survey() for part in parts]
    assert [survey["777F"][4] is not None for survey in surveys] == [
        b - a > SURVEY_SKETCH_MIN for a, b in itertools.pairwise(bounds)
    ]
    parts_of = [(survey["777F"][1], survey["777F"][4]) for survey in surveys]
    assert _union_of(parts_of) == whole.signers["777F"].origids  # what the plan counts
    plan = Analysis.fold_plan(surveys)
    assert plan.sketch == {"777F"}
    assert set(plan.fold) == {"777F"}
    for part, survey in zip(parts, surveys, strict=True):
        part.fold(plan, survey)  # a survey's sketch is used as it is
        assert not part.signers["777F"].origids.exact
    merged = Analysis()
    for part in parts:
        merged.update(part, take=True)
    merged.settle()
    assert merged.signers["777F"].origids == whole.signers["777F"].origids
    assert merged.to_dict(top=None) == whole.to_dict(top=None)
    assert merged.signers_table() == whole.signers_table()


@settings(max_examples=100, deadline=None)
@given(
    parts=st.lists(
        st.dictionaries(st.sampled_from("abcdefgh"), st.integers(1, SMALL), max_size=8),
        max_size=4,
    )
)
def test_origids_not_small_together_are_the_ones_past_small_in_the_sum(
    parts: list[dict[str, int]],
) -> None:
    total: Counter[str] = Counter()
    for part in parts:
        total.update(part)
    assert _not_small(parts) == {o for o, n in total.items() if n > SMALL}  # type: ignore[arg-type]


def test_parts_whose_origids_stay_under_the_cap_together_stay_exact() -> None:
    calls = [call(i + 1, "12155551212", "12125550000", origid=f"o{i % 700}") for i in range(1_400)]
    parts = [Analysis().add_all(calls[:700]), Analysis().add_all(calls[700:])]
    surveys = [part.survey() for part in parts]
    assert all(survey["111A"][4] is not None for survey in surveys)  # 700 > 512 each
    plan = Analysis.fold_plan(surveys)
    assert plan.sketch == frozenset()
    for part in parts:
        part.fold(plan)
    merged = parts[0]
    merged.update(parts[1])
    assert merged.signers["111A"].origids.exact
    assert merged.signers["111A"].origids.count() == 700


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(0, 3000), cap=st.integers(8, 200))
def test_bounded_small_groups_count_every_call_once(cut: int, cap: int) -> None:
    # a per-call signer with 2,000 calls, a trunk origid on every 10th call, and a second
    # trunk that starts late; pending small groups are folded once past `cap`
    rng = random.Random(cap)
    calls = []
    for i in range(3000):
        origid = "trunk" if i % 10 == 0 else "late" if i > 2000 and i % 5 == 1 else f"fresh-{i}"
        calls.append(
            call(
                i + 1,
                f"1215{rng.randrange(2000000, 9999999)}",
                "12125550000",
                spc="888P",
                origid=origid,
                minutes=i,
            )
        )
    rng.shuffle(calls)
    whole = Analysis(small_cap=cap).add_all(calls)
    merged = Analysis(small_cap=cap).add_all(calls[:cut])
    merged.update(Analysis(small_cap=cap).add_all(calls[cut:]), take=True)
    for analysis in (whole, merged):
        signer = analysis.signers["888P"]
        assert signer.pending == sum(len(c) for c in signer.small.values()) <= cap
        assert signer.spills > 0
        assert signer.per_call
        leads = analysis.leads()
        assert sum(lead.calls for lead in leads) == 3000  # every call, once
        assert analysis.leads_total() == len(leads)
        assert leads[0].origid_per_call
        # exact totals whatever the split
        assert (signer.calls, signer.passed, signer.origids.count()) == (
            3000,
            3000,
            whole.signers["888P"].origids.count(),
        )
        assert analysis.signers_table() == whole.signers_table()
        for lead in leads:  # a repeating origid's lead says when it may miss calls
            if (
                not lead.origid_per_call
                and lead.calls < {"trunk": 300, "late": 200}[lead.origid or ""]
            ):
                assert "origid_partial" in lead.flags


def test_small_groups_memory_does_not_grow_with_origids() -> None:
    analysis = Analysis(small_cap=256)
    for i in range(20_000):
        analysis.add(
            *call(i + 1, f"1215{2000000 + i:07d}", "12125550000", spc="888P", origid=f"fresh-{i}")
        )
    signer = analysis.signers["888P"]
    assert len(signer.small) <= 256
    assert not analysis.leads_by_key
    assert signer.origids.count() == pytest.approx(20_000, rel=0.05)
    assert not signer.origids.exact
    (lead,) = analysis.leads()
    assert (lead.calls, lead.origid_per_call) == (20_000, True)
