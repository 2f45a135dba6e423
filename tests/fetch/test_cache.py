"""RFC 9111 caching decisions and the shared LRU cache (pure: no network, no clock)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from shakenlib.errors import RepositoryError, UsageError
from shakenlib.fetch import Fetched
from shakenlib.fetch.cache import (
    Cache,
    cache_expiry,
    freshness_lifetime,
    has_caching_directive,
    parse_cache_control,
)

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def _fetched(url: str, ttl: timedelta, at: datetime = AT) -> Fetched:
    return Fetched(url, b"body:" + url.encode(), None, 200, at, at + ttl, False, ())


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("max-age=60", {"max-age": "60"}),
        ("MAX-AGE=60 , no-cache", {"max-age": "60", "no-cache": None}),
        ('private="a, b", max-age="7"', {"private": "a, b", "max-age": "7"}),
        ("max-age=1, max-age=2", {"max-age": "1"}),  # first occurrence wins
        (",, public ,", {"public": None}),
        ("", {}),
    ],
)
def test_parse_cache_control(value: str, parsed: dict[str, str | None]) -> None:
    assert parse_cache_control(value) == parsed


@pytest.mark.parametrize(
    ("headers", "lifetime"),
    [
        ({"Cache-Control": "max-age=3600"}, timedelta(hours=1)),
        ({"cache-control": "s-maxage=60, max-age=3600"}, timedelta(seconds=60)),
        (
            {"Cache-Control": "max-age=3600", "Expires": "Thu, 01 Jan 1970 00:00:00 GMT"},
            timedelta(hours=1),
        ),
        ({"Cache-Control": "no-store"}, timedelta(0)),
        ({"Cache-Control": "no-cache, max-age=3600"}, timedelta(0)),
        ({"Cache-Control": "private, max-age=3600"}, timedelta(0)),  # we are a shared cache
        ({"Cache-Control": "max-age=soon"}, timedelta(0)),  # invalid -> stale
        ({"Cache-Control": "max-age=3600", "Age": "600"}, timedelta(minutes=50)),
        ({"Cache-Control": "max-age=60", "Age": "600"}, timedelta(0)),
        ({"Cache-Control": "public"}, None),  # a directive, but no lifetime: ATIS default
        (
            {"Date": "Sun, 01 Jun 2025 10:00:00 GMT", "Expires": "Sun, 01 Jun 2025 13:00:00 GMT"},
            timedelta(hours=3),
        ),
        ({"Expires": "Sun, 01 Jun 2025 13:00:00 GMT"}, timedelta(hours=1)),  # no Date: `at`
        ({"Expires": "0"}, timedelta(0)),  # invalid date = already expired
        (
            {"Date": "Sun, 01 Jun 2025 14:00:00 GMT", "Expires": "Sun, 01 Jun 2025 13:00:00 GMT"},
            timedelta(0),
        ),
        ({}, None),
        ({"Pragma": "no-cache"}, None),  # Pragma is not a response directive (RFC 9111 §5.4)
    ],
)
def test_freshness_lifetime(headers: dict[str, str], lifetime: timedelta | None) -> None:
    assert freshness_lifetime(headers, at=AT) == lifetime


def test_has_caching_directive() -> None:
    assert has_caching_directive({"Cache-Control": "no-store"})
    assert has_caching_directive({"Expires": "Sun, 01 Jun 2025 13:00:00 GMT"})
    assert not has_caching_directive({"Cache-Control": " , "})
    assert not has_caching_directive({"Pragma": "no-cache"})


def test_cache_expiry_defaults_and_caps() -> None:
    assert cache_expiry({}, at=AT) == AT + DAY
    assert cache_expiry({"Cache-Control": "public"}, at=AT) == AT + DAY
    assert cache_expiry({}, at=AT, default_ttl=timedelta(hours=2)) == AT + timedelta(hours=2)
    week = {"Cache-Control": "max-age=604800"}
    assert cache_expiry(week, at=AT) == AT + timedelta(days=7)
    assert cache_expiry(week, at=AT, max_ttl=DAY) == AT + DAY
    assert cache_expiry(week, at=AT, not_after=AT + timedelta(minutes=1)) == AT + timedelta(
        minutes=1
    )
    assert cache_expiry(week, at=AT, not_after=AT - DAY) == AT  # expired: not cached


@settings(max_examples=200, deadline=None)
@given(
    max_age=st.one_of(st.none(), st.integers(min_value=0, max_value=2**33)),
    age=st.one_of(st.none(), st.integers(min_value=0, max_value=10**7)),
    max_ttl=st.one_of(st.none(), st.integers(min_value=0, max_value=10**7)),
    not_after=st.one_of(st.none(), st.integers(min_value=-(10**7), max_value=10**8)),
    no_store=st.booleans(),
)
def test_expiry_is_bounded(
    max_age: int | None, age: int | None, max_ttl: int | None, not_after: int | None, no_store: bool
) -> None:
    headers: dict[str, str] = {}
    directives = [f"max-age={max_age}"] if max_age is not None else []
    if no_store:
        directives.append("no-store")
    if directives:
        headers["Cache-Control"] = ", ".join(directives)
    if age is not None:
        headers["Age"] = str(age)
    na = AT + timedelta(seconds=not_after) if not_after is not None else None
    expiry = cache_expiry(
        headers,
        at=AT,
        max_ttl=timedelta(seconds=max_ttl) if max_ttl is not None else None,
        not_after=na,
    )
    assert expiry >= AT
    if na is not None:
        assert expiry <= max(na, AT)
    if max_ttl is not None:
        assert expiry <= AT + timedelta(seconds=max_ttl)
    if no_store:
        assert expiry == AT
    elif max_age is not None and age is None and max_ttl is None and na is None:
        assert expiry == AT + timedelta(seconds=min(max_age, 2**31))


# ------------------------------------------------------------------------------ Cache
def test_cache_hit_until_expiry_and_marks_from_cache() -> None:
    cache = Cache()
    cache.put(_fetched("u", timedelta(minutes=5)))
    hit = cache.get("u", at=AT + timedelta(minutes=4, seconds=59))
    assert hit is not None
    assert hit.from_cache
    assert hit.body == b"body:u"
    assert cache.get("u", at=AT + timedelta(minutes=5)) is None  # expired: evicted
    assert len(cache) == 0
    assert cache.get("u", at=AT) is None


def test_uncacheable_responses_are_not_stored_and_kinds_are_separate() -> None:
    cache = Cache()
    cache.put(_fetched("u", timedelta(0)))
    assert len(cache) == 0
    cache.put(_fetched("u", DAY), kind="crl")
    assert cache.get("u", at=AT) is None
    assert cache.get("u", at=AT, kind="crl") is not None


def test_lru_is_bounded_and_recency_counts() -> None:
    cache = Cache(max_entries=3)
    for name in "abc":
        cache.put(_fetched(name, DAY))
    assert cache.get("a", at=AT) is not None  # a becomes most recent
    cache.put(_fetched("d", DAY))
    assert len(cache) == 3
    assert cache.get("b", at=AT) is None  # least recently used went first
    assert all(cache.get(n, at=AT) is not None for n in "acd")
    disabled = Cache(max_entries=0)
    disabled.put(_fetched("a", DAY))
    assert len(disabled) == 0
    with pytest.raises(UsageError):
        Cache(max_entries=-1)


def test_failures_are_raised_again_until_they_expire() -> None:
    cache = Cache()
    cache.put_failure(
        "u", RepositoryError("x5u_http_status", "HTTP 404"), until=AT + timedelta(seconds=60)
    )
    for _ in range(2):
        with pytest.raises(RepositoryError) as info:
            cache.get("u", at=AT + timedelta(seconds=59))
        assert (info.value.code, info.value.message) == ("x5u_http_status", "HTTP 404")
    assert cache.get("u", at=AT + timedelta(seconds=60)) is None
    cache.put_failure("v", RepositoryError("x5u_timeout"), until=AT + DAY)
    cache.put(_fetched("v", DAY))  # a later success replaces the failure
    assert cache.get("v", at=AT) is not None


def test_naive_times_are_refused() -> None:
    with pytest.raises(UsageError):
        Cache().get("u", at=datetime(2025, 1, 1))


def test_per_url_lock_serialises_one_url_only_and_drains() -> None:
    cache = Cache()
    inside: list[str] = []
    overlap = threading.Event()
    max_same = [0]
    active: dict[str, int] = {"a": 0, "b": 0}
    guard = threading.Lock()

    def worker(url: str) -> None:
        with cache.lock(url):
            with guard:
                active[url] += 1
                max_same[0] = max(max_same[0], active[url])
                if active["a"] and active["b"]:
                    overlap.set()
            inside.append(url)
            time.sleep(0.02)
            with guard:
                active[url] -= 1

    threads = [threading.Thread(target=worker, args=(u,)) for u in "abababab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert len(inside) == 8
    assert max_same[0] == 1  # never two holders of one URL's lock
    assert overlap.is_set()  # but different URLs proceed in parallel
    assert cache._key_locks == {}
