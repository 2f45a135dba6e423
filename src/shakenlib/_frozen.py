"""Building frozen, dict-backed ``attrs`` instances without running their ``__init__``.

A frozen ``attrs`` ``__init__`` sets each field through ``object.__setattr__`` (about
0.05 µs a field); the verifier builds several such objects per call, so its hot path
installs the instance ``__dict__`` in one step instead. Only for classes declared
``@attrs.frozen(slots=False)`` whose fields have no converters or validators, and only
with every field given.

>>> import attrs
>>> @attrs.frozen(slots=False)
... class Point:
...     x: int
...     y: int
>>> build(Point, {"x": 1, "y": 2}) == Point(1, 2)
True
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["build"]

_T = TypeVar("_T")
_new = object.__new__
_setattr = object.__setattr__


def build(cls: type[_T], fields: dict[str, Any]) -> _T:
    """An instance of ``cls`` whose attributes are ``fields`` (which must name them all)."""
    obj = _new(cls)
    _setattr(obj, "__dict__", fields)
    return obj
