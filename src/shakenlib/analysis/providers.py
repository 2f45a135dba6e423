"""Provider directory: SPC (OCN) -> provider name, and ITG membership.

A SHAKEN certificate names its holder by SPC (the TNAuthList service provider code,
in the US the OCN) and by subject O (its legal name). A :class:`ProviderDirectory` maps
an SPC to a :class:`Provider` from a table the investigator trusts; without one, the
name comes from the certificate's subject O (:meth:`ProviderDirectory.provider_for`).

Two table formats load (:meth:`ProviderDirectory.from_csv` tells them apart by header):

* a simple CSV: ``spc,name`` and optionally ``ocn`` and other columns;
* the OCN table of the public SHAKEN PKI reports: ``OCN,Org Name,CN,Cert`` with one row
  per certificate (several rows per OCN are merged; the certificate URLs are kept).

The USTelecom Industry Traceback Group (ITG) member list ships with the package
(``shakenlib/data/itg_members.json``, with its source and date). A provider is marked
as an ITG member when its normalised name (:func:`normalise_name`) starts with the
normalised member name, word by word (:func:`itg_member_for`).

>>> d = ProviderDirectory.from_rows([{"spc": "873J", "name": "AT&T Services, Inc."}])
>>> p = d.provider_for("873J")
>>> p.name, p.itg_member, p.itg_name, p.source
('AT&T Services, Inc.', True, 'AT&T', 'directory')
>>> d.provider_for("999Z", subject_o="Robo Dialer LLC").source
'certificate subject O'
"""

from __future__ import annotations

import csv
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import attrs

from shakenlib.errors import UsageError

__all__ = [
    "ItgMembers",
    "Provider",
    "ProviderDirectory",
    "itg_member_for",
    "itg_members",
    "normalise_name",
]

# Legal-form words dropped from the END of a name (repeatedly) before comparing; the
# seed list names brands ("AT&T", "Cox Communications") while certificates and the OCN
# table carry legal names ("AT&T Services, Inc.", "Cox Communications Inc").
_SUFFIXES = frozenset(
    {
        "inc",
        "incorporated",
        "llc",
        "lc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "co",
        "company",
        "plc",
        "pllc",
    }
)
# "Communication(s)" is dropped only when the rest is the whole other name ("Cox" is
# "Cox Communications"), never to widen a prefix ("Consolidated Telcom" is not
# "Consolidated Communications").
_WEAK_SUFFIXES = frozenset({"communication", "communications"})


def normalise_name(name: str) -> tuple[str, ...]:
    """A provider name as comparable words.

    Lower case; ``&`` joins its neighbours (``AT & T`` -> ``att``, so "AT&T" and
    "AT&T Corp." agree but neither matches "AT Telecom"); apostrophes and hyphens join
    (``T-Mobile`` -> ``tmobile``); other punctuation separates words; legal-form suffixes
    (Inc, LLC, Corp, Co, Ltd ...) are dropped from the end, keeping at least one word.

    >>> normalise_name("AT&T Corp.")
    ('att',)
    >>> normalise_name("Bandwidth.com CLEC, LLC")
    ('bandwidth', 'com', 'clec')
    >>> normalise_name("T-Mobile USA, Inc.")
    ('tmobile', 'usa')
    >>> normalise_name("Cox Communications Inc")
    ('cox', 'communications')
    """
    text = name.lower()
    text = re.sub(r"\s*&\s*", "&", text)
    text = re.sub(r"[&'’\-]", "", text)
    words = [w for w in re.split(r"[^0-9a-z]+", text) if w]
    while len(words) > 1 and words[-1] in _SUFFIXES:
        words.pop()
    return tuple(words)


def _strip_weak(words: tuple[str, ...]) -> tuple[str, ...]:
    while len(words) > 1 and words[-1] in _WEAK_SUFFIXES:
        words = words[:-1]
    return words


@attrs.frozen
class ItgMembers:
    """The ITG member list with its provenance."""

    members: tuple[str, ...]
    source: str
    url: str | None = None
    as_of: str | None = None

    def match(self, name: str | None) -> str | None:
        """The member (as the ITG lists it) that ``name`` belongs to, or ``None``."""
        if not name:
            return None
        return _match(self.members, name)


@functools.lru_cache(maxsize=4096)  # the same few signer names, lead after lead
def _match(members: tuple[str, ...], name: str) -> str | None:
    words = _strip_weak(normalise_name(name))
    best: tuple[int, str] | None = None
    for member, key, weak in _member_keys(members):
        hit = words[: len(key)] == key or words == weak
        if key and hit and (best is None or len(key) > best[0]):
            best = (len(key), member)
    return best[1] if best else None


@functools.cache
def _member_keys(
    members: tuple[str, ...],
) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    """Each member with its normalised name, with and without weak suffixes (once)."""
    return tuple(
        (member, key, _strip_weak(key)) for member in members for key in (normalise_name(member),)
    )


@functools.cache
def itg_members() -> ItgMembers:
    """The ITG member list shipped with shakenlib (``data/itg_members.json``).

    >>> m = itg_members()
    >>> len(m.members), m.source
    (29, 'USTelecom Industry Traceback Group, active members')
    """
    text = resources.files("shakenlib").joinpath("data/itg_members.json").read_text("utf-8")
    data = json.loads(text)
    return ItgMembers(tuple(data["members"]), data["source"], data.get("url"), data.get("as_of"))


def itg_member_for(name: str | None) -> str | None:
    """The ITG member a provider name matches (word-prefix after normalising).

    >>> itg_member_for("Cox Communications Inc"), itg_member_for("Google Voice Inc.")
    ('Cox Communications', 'Google')
    >>> itg_member_for("AT Telecom") is None, itg_member_for("Westside Networks") is None
    (True, True)
    """
    return itg_members().match(name)


@attrs.frozen
class Provider:
    """A signing provider as the directory (or the certificate) names it.

    ``source`` says where the name came from: ``"directory"`` (a table loaded by the
    investigator) or ``"certificate subject O"``. ``itg_name`` is the ITG member it
    matched, if any.
    """

    spc: str | None
    name: str | None
    ocn: str | None = None
    source: str = "directory"
    itg_name: str | None = None
    certificates: tuple[str, ...] = ()

    @property
    def itg_member(self) -> bool:
        """Whether the provider matches an ITG member name."""
        return self.itg_name is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "spc": self.spc,
            "name": self.name,
            "ocn": self.ocn,
            "source": self.source,
            "itg_member": self.itg_member,
            "itg_name": self.itg_name,
        }


class ProviderDirectory:
    """SPC -> :class:`Provider` (SPCs compared case-insensitively)."""

    def __init__(self, providers: Iterable[Provider] = ()) -> None:
        self._by_spc: dict[str, Provider] = {}
        self._from_certificate: dict[tuple[str | None, str | None], Provider] = {}
        for provider in providers:
            if provider.spc:
                self._by_spc.setdefault(provider.spc.upper(), provider)

    def __len__(self) -> int:
        return len(self._by_spc)

    def __contains__(self, spc: object) -> bool:
        return isinstance(spc, str) and spc.upper() in self._by_spc

    def get(self, spc: str | None) -> Provider | None:
        """The directory entry for ``spc``, or ``None``."""
        return self._by_spc.get(spc.upper()) if spc else None

    def provider_for(self, spc: str | None, subject_o: str | None = None) -> Provider:
        """The provider for a signer: the directory entry, else the certificate's subject O."""
        found = self.get(spc)
        if found is not None:
            return found
        key = (spc, subject_o)
        found = self._from_certificate.get(key)
        if found is None:
            if len(self._from_certificate) >= 65536:  # bounded: signers are few, but
                self._from_certificate.clear()  # the subject O comes from them
            found = self._from_certificate[key] = Provider(
                spc=spc,
                name=subject_o,
                ocn=None,
                source="certificate subject O",
                itg_name=itg_member_for(subject_o),
            )
        return found

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, str]],
        *,
        source: str = "directory",
    ) -> ProviderDirectory:
        """Build from rows of a simple table (``spc``, ``name``, optional ``ocn``)."""
        providers = []
        for row in rows:
            spc = (row.get("spc") or "").strip()
            if not spc:
                continue
            name = (row.get("name") or "").strip() or None
            providers.append(
                Provider(
                    spc=spc,
                    name=name,
                    ocn=(row.get("ocn") or "").strip() or None,
                    source=source,
                    itg_name=itg_member_for(name),
                )
            )
        return cls(providers)

    @classmethod
    def from_ocn_rows(
        cls,
        rows: Iterable[Mapping[str, str]],
        *,
        source: str = "directory",
    ) -> ProviderDirectory:
        """Build from the OCN table format (``OCN,Org Name,CN,Cert``; rows merged per OCN).

        The first non-empty ``Org Name`` of an OCN names it; every ``Cert`` URL is kept.
        """
        names: dict[str, str | None] = {}
        certs: dict[str, list[str]] = {}
        for row in rows:
            ocn = (row.get("OCN") or "").strip()
            if not ocn:
                continue
            name = (row.get("Org Name") or "").strip() or None
            if names.get(ocn) is None:
                names[ocn] = name
            url = (row.get("Cert") or "").strip()
            if url:
                certs.setdefault(ocn, []).append(url)
        return cls(
            Provider(
                spc=ocn,
                name=name,
                ocn=ocn,
                source=source,
                itg_name=itg_member_for(name),
                certificates=tuple(certs.get(ocn, ())),
            )
            for ocn, name in names.items()
        )

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> ProviderDirectory:
        """Load a simple ``spc,name`` CSV or an ``OCN,Org Name,CN,Cert`` table (UTF-8;
        anything else is a ``UsageError`` naming the file)."""
        try:
            return cls._from_csv(path)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise UsageError(
                "usage", f"{os.fspath(path)}: not a UTF-8 CSV provider table ({exc})"[:200]
            ) from exc

    @classmethod
    def _from_csv(cls, path: str | os.PathLike[str]) -> ProviderDirectory:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            fields = {f.strip() for f in reader.fieldnames or ()}
            label = f"directory {os.fspath(path)}"
            if {"OCN", "Org Name"} <= fields:
                return cls.from_ocn_rows(reader, source=label)
            if {"spc", "name"} <= {f.lower() for f in fields}:
                lowered = ({(k or "").strip().lower(): v for k, v in row.items()} for row in reader)
                return cls.from_rows(lowered, source=label)
        raise UsageError(
            "usage",
            f"{os.fspath(path)}: a provider directory needs columns "
            "spc,name or OCN,Org Name,CN,Cert",
        )
