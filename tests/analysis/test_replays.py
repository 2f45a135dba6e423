"""Replayed PASSporTs and iat offsets in an analysis: planted replays counted exactly,
whatever the split into parts; offsets bucketed as documented."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.analysis import leads
from shakenlib.analysis.leads import IAT_OFFSET_BUCKETS, REPLAY_WINDOW, Analysis
from shakenlib.analysis.records import CallRecord
from shakenlib.testing.testbed import ShakenTestbed
from shakenlib.verify.result import VerificationResult

BED = ShakenTestbed()
ACME = BED.add_provider("873J", organization="Acme Telecom")
ROBO = BED.add_provider("666R", organization="Robo Calls LLC")
VERIFIER = BED.verifier()
T0 = BED.now
IAT = int(T0.timestamp())


def _verified(
    header: str,
    line: int,
    *,
    dest: str,
    seconds: int,
    call_id: str | None,
    orig: str = "12155551212",
) -> tuple[CallRecord, VerificationResult]:
    when = T0 + dt.timedelta(seconds=seconds)
    record = CallRecord(
        line=line, time=when, orig=orig, dest=dest, identity=(header,), call_id=call_id
    )
    # verified as of the token's own time, so that replays far apart still verify and
    # only the analysis (not freshness) sees them
    result = VERIFIER.verify(header, orig=orig, dest=dest, at=T0 + dt.timedelta(seconds=2))
    assert result.passed, result.error
    return record, result


def _traffic(seed: int) -> tuple[list[tuple[CallRecord, VerificationResult]], int, int]:
    """Ordinary calls (a fresh token each) plus 3 replayed tokens on 4, 5 and 6 calls.

    Returns the calls (shuffled), the replayed tokens (3) and the calls carrying them.
    """
    rng = random.Random(seed)
    calls = []
    line = 0
    for i in range(60):
        line += 1
        dest = f"1212555{i:04d}"
        header = ACME.sign(orig="12155551212", dest=dest, iat=IAT, origid="trunk-1")
        calls.append(_verified(header, line, dest=dest, seconds=i, call_id=f"ok-{i}"))
    # one ordinary call seen twice (the same Call-ID, within the window): not a replay
    header = ACME.sign(orig="12155551212", dest="12125559999", iat=IAT, origid="trunk-1")
    for _ in range(2):
        line += 1
        calls.append(_verified(header, line, dest="12125559999", seconds=5, call_id="dup"))
    replay_calls = 0
    for k, copies in enumerate((4, 5, 6)):
        dest = f"1313555{k:04d}"
        header = ROBO.sign(orig="13135550000", dest=dest, iat=IAT, origid="robo-1")
        for j in range(copies):
            line += 1
            # other Call-IDs; the last copy also far later than the window
            seconds = j * 7 + (REPLAY_WINDOW * 10 if j == copies - 1 else 0)
            calls.append(
                _verified(
                    header,
                    line,
                    dest=dest,
                    seconds=seconds,
                    call_id=f"robo-{k}-{j}",
                    orig="13135550000",
                )
            )
            replay_calls += 1
    rng.shuffle(calls)
    return calls, 3, replay_calls


CALLS, TOKENS, REPLAY_CALLS = _traffic(1)


def test_planted_replays_are_counted_exactly() -> None:
    analysis = Analysis().add_all(CALLS)
    replays = analysis.to_dict()["replays"]
    assert (replays["tokens"], replays["calls"]) == (TOKENS, REPLAY_CALLS)
    assert [e["calls"] for e in replays["examples"]] == [6, 5, 4]
    lead = next(lead for lead in analysis.leads() if lead.spc == "666R")
    assert (lead.replayed_tokens, lead.replay_calls) == (3, 15)
    assert "replayed_passport" in lead.flags
    assert any("replayed" in why for why in lead.why)
    ordinary = next(lead for lead in analysis.leads() if lead.spc == "873J")
    assert "replayed_passport" not in ordinary.flags  # the duplicate record is one call
    assert ordinary.replayed_tokens == 0


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(0, len(CALLS)), min_size=1, max_size=4))
def test_replays_merge_exactly_across_parts(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(CALLS)]
    whole = Analysis().add_all(CALLS)
    merged = Analysis()
    for a, b in itertools.pairwise(bounds):
        merged.update(Analysis().add_all(CALLS[a:b]), take=True)
    assert merged.replays == whole.replays
    assert merged.to_dict()["replays"] == whole.to_dict()["replays"]
    assert merged.iat_offsets == whole.iat_offsets


def test_iat_offsets_are_bucketed_per_lead_and_in_totals() -> None:
    analysis = Analysis().add_all(CALLS)
    totals = analysis.to_dict()["iat_offsets"]
    assert sum(totals.values()) == len(CALLS)
    assert set(totals) <= set(IAT_OFFSET_BUCKETS)
    # ordinary calls: call time - iat = i seconds for i in 0..59
    ordinary = next(lead for lead in analysis.leads() if lead.spc == "873J")
    expected = {"0..2s": 2, "2..5s": 3, "5..10s": 5 + 2, "10..30s": 20, "30..60s": 30}
    assert ordinary.iat_offsets == expected
    assert ordinary.to_dict()["iat_offsets"] == expected


_SIGHTING = st.tuples(
    st.sampled_from("abcdefghij"),  # token keys: few, so the parts share some
    st.integers(0, 3),  # seconds apart: within the window or not
    st.sampled_from([0, 1, 2]),  # called number
    st.sampled_from(["873J", "666R"]),
)


def _sightings(items: list[tuple[str, int, int, str]]) -> dict[str, tuple[int, str, str | None]]:
    out: dict[str, tuple[int, str, str | None]] = {}
    for token, seconds, dest, spc in items:
        out.setdefault(token, ((seconds * REPLAY_WINDOW << 64) | (dest << 32), spc, "o"))
    return out


@settings(max_examples=200, deadline=None)
@given(
    mine=st.lists(_SIGHTING, max_size=8),
    theirs=st.lists(_SIGHTING, max_size=8),
    memory=st.sampled_from([3, 6, 50_000]),
    take=st.booleans(),
)
def test_sightings_merge_as_one_by_one(
    mine: list[tuple[str, int, int, str]],
    theirs: list[tuple[str, int, int, str]],
    memory: int,
    take: bool,
) -> None:
    """Another part's first sightings merge in one step (no eviction) or one by one
    (past TOKEN_MEMORY): the same sightings, order, replays and drops either way."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(leads, "TOKEN_MEMORY", memory)
        patch.setattr(leads, "REPLAY_TRACKED", 2)
        expected, merged = Analysis(), Analysis()
        for analysis in (expected, merged):
            for token, seen in _sightings(mine).items():
                analysis._sighting(token, seen)
        for token, seen in _sightings(theirs).items():
            expected._sighting(token, seen)
        merged._merge_sightings(_sightings(theirs), take)
    assert list(merged._tokens.items()) == list(expected._tokens.items())
    assert merged.replays == expected.replays
    assert merged.replayed_tokens_dropped == expected.replayed_tokens_dropped
