"""Times as the library takes them: aware datetimes, Unix seconds or ISO 8601 text.

Every check that depends on time takes it explicitly (design: "explicit time"); this is
the one place that turns what a user or a record gives into an aware UTC datetime.

>>> parse_time("2025-06-01T08:00:00-04:00").isoformat()
'2025-06-01T12:00:00+00:00'
>>> parse_time("1748779200.5").isoformat()
'2025-06-01T12:00:00.500000+00:00'
>>> parse_time("2025-06-01 12:00:00Z") == parse_time(1748779200) == parse_time("2025-06-01T12:00")
True
>>> parse_time("1748779200123").isoformat()  # Unix milliseconds
'2025-06-01T12:00:00.123000+00:00'
>>> parse_time("2025-06-01 12:00:00 UTC") == parse_time(1748779200)
True
>>> parse_time("yesterday")
Traceback (most recent call last):
...
shakenlib.errors.UsageError: usage: not ISO 8601 or Unix seconds: 'yesterday'
"""

from __future__ import annotations

import datetime as dt
import math

from shakenlib.errors import UsageError

__all__ = ["EARLIEST", "LATEST", "parse_time", "require_aware", "to_datetime"]

#: A Unix time this large (the year 5138 in seconds) is read as milliseconds.
_MILLISECONDS_FROM = 1e11
#: Times the library takes: from 1900 up to (not including) the year 9000. Outside this
#: range a time is a data error, and the expiry arithmetic (time + lifetime, time -
#: window) stays clear of datetime's year-9999 edge.
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def _in_range(when: dt.datetime, value: object) -> dt.datetime:
    if EARLIEST <= when < LATEST:
        return when
    raise UsageError("usage", f"time out of range (1900 to 9000): {value!r}"[:80])


def parse_time(value: object) -> dt.datetime:
    """Unix seconds (int, float or numeric text) or ISO 8601 text as an aware UTC datetime.

    A time without an offset is taken as UTC; ``Z`` and a trailing `` UTC``/`` GMT`` are
    accepted. Numbers of 1e11 and more are Unix milliseconds (as seconds they would be
    past the year 5000). Raises
    :class:`~shakenlib.errors.UsageError` (a ``ValueError``) for anything else.
    """
    if type(value) is str and len(value) == 20 and value[19] == "Z" and value[10] == "T":
        try:  # YYYY-MM-DDTHH:MM:SSZ, the usual form in call records: no more work
            return _in_range(dt.datetime.fromisoformat(value), value)  # "Z" is UTC
        except ValueError:
            pass  # the general path below reports it
    if isinstance(value, bool) or value is None:
        raise UsageError("usage", f"not a time: {value!r}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError as exc:
            raise UsageError("usage", f"time out of range: {value!r}"[:80]) from exc
    else:
        text = str(value).strip()
        if not text:
            raise UsageError("usage", "empty time")
        if text[4:5] == "-":  # YYYY-...: ISO 8601, not a number
            return _in_range(_iso(text), value)
        try:
            seconds = float(text)
        except ValueError:
            return _in_range(_iso(text), value)
    if not math.isfinite(seconds):
        raise UsageError("usage", f"not a time: {value!r}")
    if abs(seconds) >= _MILLISECONDS_FROM:
        seconds /= 1000  # Unix milliseconds, as Java-based CDR exports write them
    try:
        when = dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise UsageError("usage", f"time out of range: {value!r}"[:80]) from exc
    return _in_range(when, value)


def _iso(text: str) -> dt.datetime:
    """ISO 8601 text (``Z``, `` UTC``/`` GMT`` or no offset: UTC) as an aware UTC datetime."""
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    elif text[-4:].upper() in (" UTC", " GMT"):  # "2025-06-01 12:00:00 UTC"
        text = text[:-4] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError("usage", f"not ISO 8601 or Unix seconds: {text[:40]!r}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    if parsed.tzinfo is dt.UTC:  # fromisoformat gives this object for +00:00
        return parsed
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError as exc:  # 9999-12-31T23:00-05:00 is past datetime.max in UTC
        raise UsageError("usage", f"time out of range: {text[:40]!r}") from exc


def require_aware(at: object, name: str = "at") -> None:
    """Refuse anything but a timezone-aware datetime (``UsageError``): whose clock would
    a naive one be? The one check every time-taking function of the library makes.

    >>> require_aware(dt.datetime(2025, 6, 1))
    Traceback (most recent call last):
    ...
    shakenlib.errors.UsageError: usage: `at` must be a timezone-aware datetime ...
    """
    if not isinstance(at, dt.datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise UsageError(
            "usage", f"`{name}` must be a timezone-aware datetime (e.g. tzinfo=datetime.UTC)"
        )


def to_datetime(value: dt.datetime | float | int | str) -> dt.datetime:
    """A verification time: an aware datetime as it is, anything else via :func:`parse_time`.

    A naive datetime is refused (``UsageError``): whose clock would it be?

    >>> to_datetime(1700000000).isoformat()
    '2023-11-14T22:13:20+00:00'
    >>> to_datetime(dt.datetime(2025, 6, 1))
    Traceback (most recent call last):
    ...
    shakenlib.errors.UsageError: usage: `time` must be a timezone-aware datetime ...
    """
    if isinstance(value, dt.datetime):
        require_aware(value, "time")
        return _in_range(value, value)
    return parse_time(value)
