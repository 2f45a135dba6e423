"""pandas DataFrames of an :class:`~shakenlib.analysis.leads.Analysis` (extra ``notebook``).

pandas is imported here only, when a frame is asked for; without it a
:class:`~shakenlib.errors.UsageError` names ``pip install "shakenlib[notebook]"``.

Every frame is flat: one row per lead, signer or call; counts are integers (``int64``),
times timezone-aware UTC timestamps (``datetime64[ns, UTC]``), text the pandas
``string`` dtype (Arrow-backed when pyarrow is installed) and lists ``;``-joined strings.

:func:`leads_frame` columns (one row per lead, most suspicious first):

==================== ===================================================================
``rank``             1 for the most suspicious lead
``score``            the documented score (docs/investigating.md)
``spc``              the signing provider's SPC (the signer, not necessarily the
                     originator)
``provider``         its name (provider directory, else certificate subject O)
``itg_member``       whether the provider is an ITG member
``origid``           the origid (empty for a signer-level, origid-per-call lead)
``origid_per_call``  a signer-level lead: the signer's small origids together
``distinct_origids`` distinct origids of that signer (1 for an origid lead)
``calls``            calls of the lead; ``passed``/``failed`` of them
``attest_A/B/C``     calls per attestation level
``distinct_orig``    distinct calling numbers (``distinct_dest`` called numbers;
                     ``distinct_exact`` False once estimated by a sketch)
``orig_blocks``      distinct NPA-NXX blocks of the calling numbers
``neighbour_calls``  calls from the called number's own NPA-NXX (``neighbour_share``)
``invalid_orig_calls`` calls from numbers that cannot be valid NANP numbers
``first_seen``       first and last call (``last_seen``), UTC
``peak_per_hour``    calls in the busiest hour (``peak_hour``, UTC)
``flags``            ``;``-joined flags (``likely_improper_attestation`` …)
``failed_by_error``  ``code:count`` pairs, ``;``-joined
``why``              the reasons, `` | ``-joined
``traceback_ask``    what to ask the signer
==================== ===================================================================

:func:`signers_frame` has the columns of ``analyze --csv``'s signers table;
:func:`calls_frame` one row per call of a lead (re-read from the input).

>>> import datetime as dt
>>> from shakenlib.analysis.leads import Analysis
>>> from shakenlib.analysis.records import CallRecord
>>> from shakenlib.verify.result import CertificateSummary, VerificationResult
>>> a = Analysis()
>>> cert = CertificateSummary(spc="123A", subject_o="Robo Telecom LLC")
>>> for i in range(3):
...     a.add(CallRecord(line=i + 1, time=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
...                      orig=f"1215555{i:04d}", dest="12125550100", identity=("x",)),
...           VerificationResult(verstat="TN-Validation-Passed", attest="A", origid="o-1",
...                              certificate=cert))
>>> frame = a.leads_frame()
>>> row = frame.iloc[0]
>>> row["spc"], row["origid"], int(row["calls"]), int(row["attest_A"])
('123A', 'o-1', 3, 3)
>>> str(frame["first_seen"].dtype)
'datetime64[ns, UTC]'
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from shakenlib.analysis.batch import VerifierFactory, verify_source
from shakenlib.analysis.leads import Analysis, Lead, SignerSummary
from shakenlib.analysis.providers import ProviderDirectory
from shakenlib.analysis.records import RecordSource, UnreadableRecord, missing_extra
from shakenlib.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CALL_COLUMNS",
    "LEAD_COLUMNS",
    "SIGNER_COLUMNS",
    "Origin",
    "calls_frame",
    "hour_start",
    "hourly",
    "lead_calls",
    "leads_frame",
    "pandas",
    "signers_frame",
    "typed",
]


def pandas() -> Any:
    """The pandas module, or a UsageError naming the ``notebook`` extra."""
    try:
        import pandas as pd
    except ImportError:
        raise missing_extra("notebook", "pandas", "DataFrames") from None
    return pd


@attrs.frozen
class Origin:
    """What an :class:`Analysis` was made from, so its calls can be read again:
    the record sources (``None`` when the input could be read only once, e.g. a
    generator), the verifier settings and the provider directory."""

    sources: tuple[RecordSource, ...] | None
    config: VerifierFactory
    directory: ProviderDirectory | None = None
    jobs: int = 1


def _directory(analysis: Analysis) -> ProviderDirectory | None:
    origin = analysis.origin
    return origin.directory if isinstance(origin, Origin) else None


LEAD_COLUMNS: tuple[str, ...] = (
    "rank",
    "score",
    "spc",
    "provider",
    "itg_member",
    "origid",
    "origid_per_call",
    "distinct_origids",
    "calls",
    "passed",
    "failed",
    "attest_A",
    "attest_B",
    "attest_C",
    "distinct_orig",
    "distinct_dest",
    "distinct_exact",
    "orig_blocks",
    "neighbour_calls",
    "neighbour_share",
    "invalid_orig_calls",
    "first_seen",
    "last_seen",
    "peak_per_hour",
    "peak_hour",
    "flags",
    "failed_by_error",
    "why",
    "traceback_ask",
)
SIGNER_COLUMNS: tuple[str, ...] = (
    "spc",
    "provider",
    "itg_member",
    "calls",
    "share",
    "passed",
    "failed",
    "distinct_origids",
    "distinct_origids_exact",
    "origids_per_call",
    "origid_per_call",
    "attest_A",
    "attest_B",
    "attest_C",
)
CALL_COLUMNS: tuple[str, ...] = (
    "line",
    "source",
    "time",
    "orig",
    "dest",
    "call_id",
    "verstat",
    "error",
    "attest",
    "origid",
    "orig_npa_nxx",
    "dest_npa_nxx",
    "neighbour",
)

_TEXT = (
    "spc",
    "provider",
    "origid",
    "flags",
    "failed_by_error",
    "why",
    "traceback_ask",
    "source",
    "orig",
    "dest",
    "call_id",
    "verstat",
    "error",
    "attest",
    "orig_npa_nxx",
    "dest_npa_nxx",
    "reason",
    "message",
    "x5u",
    "findings",
)
_TIMES = ("first_seen", "last_seen", "peak_hour", "time")


def typed(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of ``rows`` with the documented dtypes."""
    pdm = pandas()
    frame = pdm.DataFrame(rows, columns=list(columns))
    for name in columns:
        if name in _TIMES:
            frame[name] = pdm.to_datetime(frame[name], utc=True).astype("datetime64[ns, UTC]")
        elif name in _TEXT:
            frame[name] = frame[name].astype(_string_dtype(pdm))
        elif rows and isinstance(rows[0].get(name), bool):
            frame[name] = frame[name].astype(bool)
        elif rows and isinstance(rows[0].get(name), int):
            frame[name] = frame[name].astype("Int64" if frame[name].isna().any() else "int64")
    result: pd.DataFrame = frame
    return result


def _string_dtype(pd: Any) -> Any:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return pd.StringDtype()
    return pd.StringDtype("pyarrow")


def _lead_row(rank: int, lead: Lead) -> dict[str, Any]:
    return {
        "rank": rank,
        "score": float(lead.score),
        "spc": lead.spc,
        "provider": lead.provider.name,
        "itg_member": bool(lead.provider.itg_member),
        "origid": lead.origid,
        "origid_per_call": lead.origid_per_call,
        "distinct_origids": lead.distinct_origids,
        "calls": lead.calls,
        "passed": lead.passed,
        "failed": sum(lead.failed.values()),
        "attest_A": lead.attest.get("A", 0),
        "attest_B": lead.attest.get("B", 0),
        "attest_C": lead.attest.get("C", 0),
        "distinct_orig": lead.distinct_orig,
        "distinct_dest": lead.distinct_dest,
        "distinct_exact": lead.distinct_exact,
        "orig_blocks": lead.orig_blocks,
        "neighbour_calls": lead.neighbour_calls,
        "neighbour_share": float(lead.neighbour_share),
        "invalid_orig_calls": lead.invalid_orig_calls,
        "first_seen": lead.first_seen,
        "last_seen": lead.last_seen,
        "peak_per_hour": lead.peak_per_hour,
        "peak_hour": lead.peak_hour,
        "flags": ";".join(lead.flags),
        "failed_by_error": ";".join(f"{k}:{v}" for k, v in lead.failed.items()),
        "why": " | ".join(lead.why),
        "traceback_ask": lead.traceback.ask,
    }


def leads_frame(
    analysis: Analysis, *, top: int | None = None, directory: ProviderDirectory | None = None
) -> pd.DataFrame:
    """The ``top`` leads (default all) as a flat DataFrame (columns: :data:`LEAD_COLUMNS`,
    documented above), most suspicious first. ``directory`` defaults to the one the
    analysis was made with."""
    leads = analysis.leads(directory or _directory(analysis), top=top)
    return typed([_lead_row(rank, lead) for rank, lead in enumerate(leads, 1)], LEAD_COLUMNS)


def _signer_row(row: SignerSummary) -> dict[str, Any]:
    return {
        "spc": row.spc,
        "provider": row.provider.name,
        "itg_member": bool(row.provider.itg_member),
        "calls": row.calls,
        "share": float(row.share),
        "passed": row.passed,
        "failed": row.failed,
        "distinct_origids": row.distinct_origids,
        "distinct_origids_exact": row.distinct_origids_exact,
        "origids_per_call": float(row.origids_per_call),
        "origid_per_call": row.origid_per_call,
        "attest_A": row.attest.get("A", 0),
        "attest_B": row.attest.get("B", 0),
        "attest_C": row.attest.get("C", 0),
    }


def signers_frame(
    analysis: Analysis, *, directory: ProviderDirectory | None = None
) -> pd.DataFrame:
    """One row per signing SPC, most calls first (columns: :data:`SIGNER_COLUMNS`)."""
    rows = analysis.signers_table(directory or _directory(analysis))
    return typed([_signer_row(row) for row in rows], SIGNER_COLUMNS)


def _block(tn: str | None) -> str | None:
    """The NPA-NXX of a NANP number (``"215555"``), else ``None``."""
    if not tn:
        return None
    national = tn[1:] if len(tn) == 11 and tn[0] == "1" else tn if len(tn) == 10 else None
    return national[:6] if national is not None and national.isdigit() else None


def lead_calls(
    analysis: Analysis,
    leads: Sequence[Lead],
    *,
    limit: int | None = None,
) -> list[list[dict[str, Any]]]:
    """The calls of each of ``leads``, read again from :attr:`Analysis.origin` in one
    pass (at most ``limit`` per lead): one dict per call with :data:`CALL_COLUMNS`.

    A signer-level lead (``origid_per_call``) gets the signer's calls whose origid is not
    a lead of its own. Raises :class:`~shakenlib.errors.UsageError` when the analysis
    does not know its input or the input could be read only once.
    """
    origin = analysis.origin
    if not isinstance(origin, Origin):
        raise UsageError(
            "usage",
            "this analysis does not know its input: make it with "
            "shakenlib.analyze(...) to drill into a lead's calls",
        )
    if origin.sources is None:
        raise UsageError(
            "usage",
            "the input was an iterator, read once: pass a path, a "
            "DataFrame or a list to shakenlib.analyze to drill into calls",
        )
    wanted: dict[tuple[str | None, str | None], int] = {}
    per_signer: dict[str | None, int] = {}
    for position, lead in enumerate(leads):
        if lead.origid_per_call:
            per_signer[lead.spc] = position
        else:
            wanted[(lead.spc, lead.origid)] = position
    out: list[list[dict[str, Any]]] = [[] for _ in leads]
    for source in origin.sources:
        for item in verify_source(source, origin.config, jobs=origin.jobs):
            if isinstance(item, UnreadableRecord):
                continue
            record, result = item
            spc, origid = result.spc, result.origid
            index: int | None = wanted.get((spc, origid))
            if index is None and spc in per_signer and (spc, origid) not in analysis.leads_by_key:
                index = per_signer[spc]
            if index is None or (limit is not None and len(out[index]) >= limit):
                continue
            orig = record.orig or result.orig
            dest = record.dest or (result.dest[0] if result.dest else None)
            a, b = _block(orig), _block(dest)
            out[index].append(
                {
                    "line": record.line,
                    "source": record.source,
                    "time": record.time,
                    "orig": orig,
                    "dest": dest,
                    "call_id": record.call_id,
                    "verstat": result.verstat,
                    "error": result.error,
                    "attest": result.attest,
                    "origid": origid,
                    "orig_npa_nxx": a,
                    "dest_npa_nxx": b,
                    "neighbour": a is not None and a == b,
                }
            )
    return out


def calls_frame(analysis: Analysis, lead: Lead) -> pd.DataFrame:
    """The calls of one lead as a DataFrame (columns: :data:`CALL_COLUMNS`), in input
    order. The input is read and verified again (one pass over it, with the verifier
    settings the analysis was made with); see :func:`lead_calls`."""
    pandas()
    return typed(lead_calls(analysis, [lead])[0], CALL_COLUMNS)


def hourly(analysis: Analysis, spc: str | None) -> Counter[int]:
    """All of a signer's calls per hour (hours since the epoch), every lead of it taken
    together: the background a lead's own hours are drawn against."""
    total: Counter[int] = Counter()
    for lead_spc, _origid, stats, _signer in analysis._candidates():
        if lead_spc == spc:
            total.update(stats.per_hour)
    return total


def hour_start(hour: int) -> dt.datetime:
    """The start (UTC) of hour number ``hour`` since the epoch."""
    return dt.datetime.fromtimestamp(hour * 3600, dt.UTC)
