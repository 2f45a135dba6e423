"""HTTP caching decisions (RFC 9111) and the shared certificate/CRL cache.

Pure: nothing here does I/O or reads the clock. The time of a fetch is always the ``at``
the caller passes, so a capture from last March is verified against what the cache held
"as of" the times the caller names.

Freshness rules (RFC 9111 §4.2.1, for a *shared* cache, which a verification service is):

1. ``Cache-Control: no-store``, ``no-cache`` or ``private`` -> not reused (lifetime 0);
2. ``s-maxage=N`` (wins over ``max-age`` in a shared cache);
3. ``max-age=N``;
4. ``Expires`` minus ``Date`` (an invalid ``Expires`` means "already expired");
5. otherwise the ATIS-1000074 default of 24 hours ("if no recognised directive,
   cache 24 h").

An ``Age`` header is subtracted; the result is capped by ``max_ttl`` (if any) and never
reaches past the certificate's ``notAfter`` (or a CRL's ``nextUpdate``).

>>> from datetime import UTC, datetime, timedelta
>>> at = datetime(2025, 1, 1, tzinfo=UTC)
>>> freshness_lifetime({"Cache-Control": "max-age=3600, s-maxage=60"}, at=at)
datetime.timedelta(seconds=60)
>>> freshness_lifetime({}, at=at) is None
True
>>> cache_expiry({}, at=at, default_ttl=timedelta(hours=24)) - at
datetime.timedelta(days=1)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import attrs

from shakenlib.errors import RepositoryError, UsageError
from shakenlib.fetch.base import Fetched, Kind
from shakenlib.timeutil import require_aware

__all__ = [
    "ATIS_DEFAULT_TTL",
    "Cache",
    "Kind",
    "cache_expiry",
    "freshness_lifetime",
    "has_caching_directive",
    "parse_cache_control",
    "through_cache",
]

#: ATIS-1000074 §5.3.1 (STI-VS caching): cache 24 hours when no recognised directive.
ATIS_DEFAULT_TTL = timedelta(hours=24)

_NOT_REUSABLE = ("no-store", "no-cache", "private")


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


# RFC 9111 §5.2:
#   Cache-Control   = #cache-directive
#   cache-directive = token [ "=" ( token / quoted-string ) ]
# ("#" is the RFC 9110 §5.6.1 comma-separated list; empty elements are allowed.)
def parse_cache_control(value: str) -> dict[str, str | None]:
    """Parse a ``Cache-Control`` value into ``{directive: argument or None}``.

    Directive names are case-insensitive (lower-cased here); the first occurrence of a
    directive wins; commas inside quoted strings do not split.

    >>> parse_cache_control('max-age=60, No-Cache, private="set-cookie, x", s-maxage="5"')
    {'max-age': '60', 'no-cache': None, 'private': 'set-cookie, x', 's-maxage': '5'}
    """
    out: dict[str, str | None] = {}
    items: list[str] = []
    buf: list[str] = []
    quoted = escaped = False
    for ch in value:
        if escaped:
            buf.append(ch)
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
            buf.append(ch)
        elif ch == "," and not quoted:
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    items.append("".join(buf))
    for item in items:
        name, eq, arg = item.strip().partition("=")
        name = name.strip().lower()
        if not name or name in out:
            continue
        argument: str | None = arg.strip() if eq else None
        if argument is not None and len(argument) >= 2 and argument[0] == argument[-1] == '"':
            argument = argument[1:-1]
        out[name] = argument
    return out


#: RFC 9111 §1.2.2: "If a cache receives a delta-seconds value greater than the greatest
#: integer it can represent, or if any of its subsequent calculations overflows, the cache
#: MUST consider the value to be 2147483648 (2^31)". Every lifetime is capped there too.
_MAX_DELTA = 2**31
_MAX_LIFETIME = timedelta(seconds=_MAX_DELTA)


def _delta_seconds(arg: str | None) -> int | None:
    # RFC 9111 §1.2.2: delta-seconds = 1*DIGIT; a larger value than 2^31 means "2^31".
    if arg is None or not arg.isascii() or not arg.isdigit():
        return None
    if len(arg.lstrip("0")) > 10:  # past 2^31 (and int() refuses over 4300 digits)
        return _MAX_DELTA
    return min(int(arg), _MAX_DELTA)


def _http_date(value: str | None) -> datetime | None:
    # RFC 9110 §5.6.7 HTTP-date (IMF-fixdate / obsolete RFC 850 / asctime forms).
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):  # hostile years and offsets
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def has_caching_directive(headers: Mapping[str, str]) -> bool:
    """Whether the response carries a caching directive ATIS-1000074 recognises.

    The STI-CR "shall include at least one caching directive" (``Cache-Control`` with a
    directive, or ``Expires``).

    >>> has_caching_directive({"cache-control": "max-age=86400"})
    True
    >>> has_caching_directive({"Content-Type": "application/pem-certificate-chain"})
    False
    """
    lower = _lower_keys(headers)
    if lower.get("expires", "").strip():
        return True
    return bool(parse_cache_control(lower.get("cache-control", "")))


def freshness_lifetime(headers: Mapping[str, str], *, at: datetime) -> timedelta | None:
    """The RFC 9111 freshness lifetime the response headers give, or ``None`` if none.

    ``at`` stands in for the response time when there is no ``Date`` header. A
    response that must not be reused gives ``timedelta(0)``.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2025, 1, 1, tzinfo=UTC)
    >>> freshness_lifetime({"Cache-Control": "no-store, max-age=60"}, at=at)
    datetime.timedelta(0)
    >>> freshness_lifetime({"Date": "Wed, 01 Jan 2025 00:00:00 GMT",
    ...                     "Expires": "Wed, 01 Jan 2025 02:00:00 GMT"}, at=at)
    datetime.timedelta(seconds=7200)
    """
    lower = _lower_keys(headers)
    cc = parse_cache_control(lower.get("cache-control", ""))
    if any(d in cc for d in _NOT_REUSABLE):
        return timedelta(0)
    lifetime: timedelta | None = None
    for directive in ("s-maxage", "max-age"):  # RFC 9111 §4.2.1: s-maxage first (shared)
        if directive in cc:
            seconds = _delta_seconds(cc[directive])
            # An invalid value: RFC 9111 §4.2.1 "treat as stale" -> lifetime 0.
            lifetime = timedelta(seconds=seconds if seconds is not None else 0)
            break
    if lifetime is None and "expires" in lower:
        expires = _http_date(lower["expires"])
        if expires is None:  # RFC 9111 §5.3: an invalid date represents a time in the past
            lifetime = timedelta(0)
        else:
            date = _http_date(lower.get("date")) or at
            lifetime = min(max(timedelta(0), expires - date), _MAX_LIFETIME)
    if lifetime is None:
        return None
    age = _delta_seconds(lower.get("age"))  # RFC 9111 §5.1 Age = delta-seconds
    if age:
        lifetime = max(timedelta(0), lifetime - timedelta(seconds=age))
    return lifetime


def cache_expiry(
    headers: Mapping[str, str],
    *,
    at: datetime,
    default_ttl: timedelta = ATIS_DEFAULT_TTL,
    max_ttl: timedelta | None = None,
    not_after: datetime | None = None,
) -> datetime:
    """When a response fetched at ``at`` stops being reusable.

    ``not_after`` is the certificate's ``notAfter`` (or the CRL's ``nextUpdate``): the
    entry never outlives it. The result is never before ``at``.

    >>> from datetime import UTC, datetime, timedelta
    >>> at = datetime(2025, 1, 1, tzinfo=UTC)
    >>> cache_expiry({"Cache-Control": "max-age=86400"}, at=at,
    ...              not_after=at + timedelta(hours=1)) - at
    datetime.timedelta(seconds=3600)
    """
    lifetime = freshness_lifetime(headers, at=at)
    if lifetime is None:
        lifetime = default_ttl
    if max_ttl is not None:
        lifetime = min(lifetime, max_ttl)
    expires = at + max(lifetime, timedelta(0))
    if not_after is not None:
        expires = min(expires, not_after)
    return max(expires, at)


@attrs.frozen
class _Entry:
    fetched: Fetched | None
    error: tuple[str, str] | None  # (code, message) of a cached failure
    expires_at: datetime


class Cache:
    """A thread-safe, bounded LRU cache of repository responses, keyed by URL and kind.

    One ``Cache`` may be shared by several repositories and threads. Successful fetches
    stay until their ``expires_at``; failures (a dead repository, a 404) are remembered
    until the ``until`` given to :meth:`put_failure`, and :meth:`get` raises the same
    :class:`~shakenlib.errors.RepositoryError` again without touching the network.

    >>> from datetime import UTC, datetime, timedelta
    >>> from shakenlib.errors import RepositoryError
    >>> at = datetime(2025, 1, 1, tzinfo=UTC)
    >>> cache = Cache(max_entries=100)
    >>> cache.put_failure("https://cr.example/x.pem", RepositoryError("x5u_timeout", "slow"),
    ...                   until=at + timedelta(seconds=60))
    >>> cache.get("https://cr.example/x.pem", at=at)
    Traceback (most recent call last):
    ...
    shakenlib.errors.RepositoryError: x5u_timeout: slow
    >>> cache.get("https://cr.example/x.pem", at=at + timedelta(seconds=61)) is None
    True
    """

    def __init__(self, max_entries: int = 4096) -> None:
        if max_entries < 0:
            raise UsageError("usage", "max_entries must be >= 0")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        # Per-key locks with a reference count, so concurrent fetches of one URL collapse
        # into one request and the lock table does not grow without bound.
        self._key_locks: dict[tuple[str, str], tuple[threading.Lock, int]] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def get(self, url: str, *, at: datetime, kind: Kind = "certificate") -> Fetched | None:
        """The cached response for ``url`` still fresh at ``at`` (``from_cache=True``).

        Returns ``None`` on a miss; raises the cached ``RepositoryError`` for a remembered
        failure.
        """
        require_aware(at)
        key = (kind, url)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if at >= entry.expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        if entry.error is not None:
            raise RepositoryError(*entry.error)
        assert entry.fetched is not None
        return attrs.evolve(entry.fetched, from_cache=True)

    def put(self, fetched: Fetched, *, kind: Kind = "certificate") -> None:
        """Remember a successful fetch until its ``expires_at`` (if that is after
        ``fetched_at``; an uncacheable response is not stored)."""
        if fetched.expires_at <= fetched.fetched_at:
            return
        entry = _Entry(attrs.evolve(fetched, from_cache=False), None, fetched.expires_at)
        self._store((kind, fetched.url), entry)

    def put_failure(
        self, url: str, error: RepositoryError, *, until: datetime, kind: Kind = "certificate"
    ) -> None:
        """Remember a failed fetch: :meth:`get` raises it again until ``until``."""
        require_aware(until)
        self._store((kind, url), _Entry(None, (error.code, error.message), until))

    def _store(self, key: tuple[str, str], entry: _Entry) -> None:
        if self.max_entries == 0:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    @contextmanager
    def lock(self, url: str, kind: Kind = "certificate") -> Iterator[None]:
        """Hold the per-URL lock: one thread fetches, the others then find its result."""
        key = (kind, url)
        with self._lock:
            lock, count = self._key_locks.get(key, (threading.Lock(), 0))
            self._key_locks[key] = (lock, count + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, count = self._key_locks[key]
                if count <= 1:
                    del self._key_locks[key]
                else:
                    self._key_locks[key] = (lock, count - 1)


def through_cache(
    cache: Cache,
    url: str,
    *,
    at: datetime,
    kind: Kind,
    negative_ttl: timedelta,
    load: Callable[[], Fetched],
) -> Fetched:
    """The caching every repository with a :class:`~shakenlib.fetch.cache.Cache` shares.

    Under the per-URL lock (concurrent fetches of one URL collapse into one ``load``):
    a response fresh at ``at`` comes from the cache (``from_cache=True``) and a failure
    remembered there is raised again; otherwise ``load()`` runs and its response is
    stored until its ``expires_at``, or its ``RepositoryError`` until ``at +
    negative_ttl``. URL refusals happen before this and are never cached.
    """
    with cache.lock(url, kind):
        hit = cache.get(url, at=at, kind=kind)
        if hit is not None:
            return hit
        try:
            fetched = load()
        except RepositoryError as exc:
            cache.put_failure(url, exc, until=at + negative_ttl, kind=kind)
            raise
        cache.put(fetched, kind=kind)
        return fetched
