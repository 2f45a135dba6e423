"""``shakenlib.analyze`` and ``shakenlib.verify_frame``: one call from a notebook, over
paths, DataFrames and dicts, and the leads/signers/calls frames."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

import shakenlib
from shakenlib.analysis.leads import Analysis
from shakenlib.analysis.notebook import ProgressBar, RowSource, estimate_records
from shakenlib.analysis.records import RecordSource
from shakenlib.errors import UsageError

pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "examples"
CALLS, TRUST, MIRROR = str(EX / "calls.jsonl"), str(EX / "trust.pem"), str(EX / "mirror")
CAMPAIGN = "7c1d3a52-0b8e-4f0e-9d55-6a0f1e2c9b10"


@pytest.fixture(scope="module")
def example() -> Analysis:
    return shakenlib.analyze(
        CALLS, trust=TRUST, mirror=MIRROR, providers=str(EX / "providers.csv"), progress=False
    )


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(CALLS).read_text().splitlines()]


def test_analyze_example_first_lead_is_the_campaign(example: Analysis) -> None:
    frame = example.leads_frame()
    first = frame.iloc[0]
    assert (first["rank"], first["spc"], first["provider"], first["origid"]) == (
        1,
        "999R",
        "Bluefin VoIP LLC",
        CAMPAIGN,
    )
    assert (first["calls"], first["attest_A"], first["distinct_orig"]) == (600, 600, 600)
    assert "likely_improper_attestation" in first["flags"].split(";")
    assert len(frame) == example.leads_total() == 8
    assert list(frame["score"]) == sorted(frame["score"], reverse=True)
    # flat, documented dtypes
    assert str(frame["calls"].dtype) == "int64"
    assert str(frame["first_seen"].dtype) == "datetime64[ns, UTC]"
    assert first["first_seen"] == pd.Timestamp("2025-06-01T16:00:23Z")
    assert frame["itg_member"].dtype == bool
    assert all(not isinstance(v, list | dict) for v in frame.iloc[0].tolist())
    assert len(example.leads_frame(top=2)) == 2


def test_signers_frame(example: Analysis) -> None:
    frame = example.signers_frame()
    assert list(frame["spc"]) == [row.spc for row in example.signers_table()]
    assert frame["calls"].sum() == example.passed + example.failed - sum(
        example.unattributed.values()
    )
    assert frame.loc[frame["spc"] == "730G", "attest_C"].item() == 273
    assert frame.loc[0, "provider"] == "Bluefin VoIP LLC"  # the directory of analyze()


def test_calls_frame_rereads_the_lead(example: Analysis) -> None:
    lead = example.leads()[0]
    calls = example.calls_frame(lead)
    assert len(calls) == lead.calls == 600
    assert set(calls["origid"]) == {CAMPAIGN}
    assert int(calls["neighbour"].sum()) == lead.neighbour_calls == 582
    assert calls["time"].min() == pd.Timestamp(lead.first_seen)
    assert list(calls["line"]) == sorted(calls["line"])


def test_dataframe_and_dicts_give_the_same_analysis_as_the_file(
    example: Analysis, rows: list[dict[str, Any]]
) -> None:
    from_file = example.leads_frame()
    frame = pd.read_json(CALLS, lines=True, dtype=False)
    for source, jobs in ((frame, 1), (rows, 1), (frame, 2)):
        analysis = shakenlib.analyze(
            source,
            trust=[TRUST],
            mirror=MIRROR,
            jobs=jobs,
            providers=str(EX / "providers.csv"),
            progress=False,
        )
        assert (analysis.calls, analysis.passed, analysis.failed, analysis.unsigned) == (
            2000,
            1764,
            36,
            200,
        )
        pd.testing.assert_frame_equal(analysis.leads_frame(), from_file)


def test_several_paths_and_workers(tmp_path: Path, example: Analysis) -> None:
    lines = Path(CALLS).read_text().splitlines(keepends=True)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(lines[:700]))
    b.write_text("".join(lines[700:]))
    analysis = shakenlib.analyze(
        [a, b],
        trust=TRUST,
        mirror=MIRROR,
        jobs=2,
        progress=False,
        providers=str(EX / "providers.csv"),
    )
    assert analysis.calls == 2000
    pd.testing.assert_frame_equal(analysis.leads_frame(), example.leads_frame())


def test_a_generator_is_read_once_so_calls_frame_says_so(rows: list[dict[str, Any]]) -> None:
    analysis = shakenlib.analyze(iter(rows[:50]), trust=TRUST, mirror=MIRROR, progress=False)
    assert analysis.calls == 50
    with pytest.raises(UsageError, match="iterator, read once"):
        analysis.calls_frame(analysis.leads()[0])
    built = Analysis()
    with pytest.raises(UsageError, match="does not know its input"):
        built.calls_frame(analysis.leads()[0])


def test_client_without_cluster_engine_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.endswith(".cluster") else real(name, *a),
    )
    with pytest.raises(UsageError, match="cluster engine not installed"):
        shakenlib.analyze(CALLS, trust=TRUST, mirror=MIRROR, client=object())


def test_client_calls_the_cluster_engine_when_present(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util
    import types

    seen: list[Any] = []
    module = types.ModuleType("shakenlib.analysis.cluster")

    def analyze_on_cluster(source: Any, config: Any, client: Any) -> Analysis:
        seen.append((source, config, client))
        return Analysis(calls=7)

    module.analyze_on_cluster = analyze_on_cluster  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shakenlib.analysis.cluster", module)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: object() if name.endswith(".cluster") else real(name, *a),
    )
    client = object()
    assert shakenlib.analyze(CALLS, trust=TRUST, mirror=MIRROR, client=client).calls == 7
    assert seen[0][2] is client
    assert seen[0][0].path == CALLS


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="trust"):
        shakenlib.analyze(CALLS, trust=[])
    with pytest.raises(FileNotFoundError):
        shakenlib.analyze(CALLS, trust=str(tmp_path / "missing.pem"))
    with pytest.raises(UsageError, match="not a directory"):
        shakenlib.analyze(CALLS, trust=TRUST, mirror=tmp_path / "nope")
    with pytest.raises(UsageError, match="must be a dict"):
        shakenlib.analyze([1, 2], trust=TRUST, progress=False)
    with pytest.raises(UsageError, match="jobs"):
        shakenlib.analyze(CALLS, trust=TRUST, jobs=0)
    with pytest.raises(UsageError, match="expected a path"):
        shakenlib.analyze(42, trust=TRUST)


def test_trust_store_and_repository_objects() -> None:
    from shakenlib import MirrorRepository, TrustStore

    store = TrustStore.from_pem_files([TRUST])
    analysis = shakenlib.analyze(
        CALLS, trust=store, repository=MirrorRepository(MIRROR), progress=False
    )
    assert (analysis.calls, analysis.passed) == (2000, 1764)


def test_missing_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch, example: Analysis) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(UsageError, match=r'pip install "shakenlib\[notebook\]"'):
        example.leads_frame()
    with pytest.raises(UsageError, match=r"shakenlib\[notebook\]"):
        shakenlib.verify_frame([], trust=TRUST)


def test_verify_frame(rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows[:40])
    frame.index = [f"call{i}" for i in range(40)]
    frame.loc["call3", "time"] = None  # unreadable: no time
    frame.loc["call4", "identity"] = "garbage"  # a header that does not parse
    out = shakenlib.verify_frame(frame, trust=TRUST, mirror=MIRROR)
    assert list(out.index) == list(frame.index)
    assert out.loc["call3", "error"] == "record_malformed"
    assert "missing time" in out.loc["call3", "message"]
    assert out.loc["call4", "verstat"] == "TN-Validation-Failed"
    assert out.loc["call4", "sip_code"] in (436, 438)
    good = out[out["passed"]]
    assert len(good) > 20
    assert set(good["spc"]) <= {"561C", "873J", "412B", "730G", "999R"}
    assert (good["iat_offset"].abs() < 60).all()
    assert str(out["sip_code"].dtype) == "Int64"
    unsigned = out[out["verstat"] == "No-TN-Validation"]
    assert (unsigned["error"] == "identity_missing").all()


def test_verify_frame_reads_naive_times_in_tz() -> None:
    frame = pd.DataFrame(
        [
            {
                "time": pd.Timestamp("2025-06-01 08:00"),
                "orig": "2155550123",
                "dest": "2125550100",
                "identity": float("nan"),
            }
        ]
    )
    out = shakenlib.verify_frame(frame, trust=TRUST, tz="America/New_York")
    assert out.loc[0, "time"] == pd.Timestamp("2025-06-01T12:00:00Z")
    assert out.loc[0, "orig"] == "12155550123"
    assert out.loc[0, "error"] == "identity_missing"


_value = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.lists(st.text(max_size=6), max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["time", "orig", "dest", "identity", "call_id", "other"]),
            _value,
            max_size=6,
        ),
        max_size=5,
    )
)
def test_rows_in_memory_are_read_as_the_same_jsonl_rows(rows: list[dict[str, Any]]) -> None:
    """No second parser: a dict row gives exactly what its JSON line in a file gives."""

    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and value != value else value

    text = "".join(json.dumps({k: clean(v) for k, v in row.items()}) + "\n" for row in rows)
    from_text = [
        (r.line, r) if not hasattr(r, "reason") else (r.line, r.reason)
        for r in RecordSource.from_text(text)
    ]
    from_rows = []
    for r in RowSource(rows=rows):
        if hasattr(r, "reason"):
            from_rows.append((r.line, r.reason))
        else:
            from_rows.append((r.line, r.__class__(**{**r.__dict__, "source": "<text>"})))
    assert from_rows == from_text


def test_progress_callback_and_bar(rows: list[dict[str, Any]]) -> None:
    seen: list[tuple[int, int]] = []
    shakenlib.analyze(
        rows[:300],
        trust=TRUST,
        mirror=MIRROR,
        progress=lambda done, failed: seen.append((done, failed)),
    )
    assert seen[-1][0] == 300
    out = io.StringIO()
    ticks: Iterator[float] = iter([0.0, 1.0, 1.2, 3.0])
    bar = ProgressBar(out, total=400, clock=lambda: next(ticks))
    bar(100, 0)
    bar(150, 1)  # within 0.5 s: not drawn
    bar(300, 2)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 2
    assert "300 records   75%  100 calls/s  2 failed  ETA 0:00:01" in text
    assert text.endswith("\n")
    assert estimate_records([RecordSource(path=CALLS)]) in range(1800, 2300)
    assert estimate_records([RowSource(rows=iter([]))]) is None


def test_cli_progress_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from shakenlib.cli.analyze import make_progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert make_progress(io.StringIO()) is None
    assert make_progress(Tty(), RecordSource(path=CALLS), quiet=True) is None
    bar = make_progress(Tty(), RecordSource(path=CALLS))
    assert bar is not None
    assert bar.total in range(1800, 2300)


def test_analysis_repr_is_short(example: Analysis) -> None:
    assert repr(example) == (
        "<Analysis calls=2000 passed=1764 failed=36 unsigned=200 unreadable=0 leads=8>"
    )
    lead = example.leads()[0]
    assert repr(lead) == f"<Lead spc='999R' origid='{CAMPAIGN}' calls=600 score={lead.score}>"
    assert lead.per_hour[0] == (
        int(dt.datetime(2025, 6, 1, 16, tzinfo=dt.UTC).timestamp() // 3600),
        190,
    )
