"""Analysis and verification on a real Dask cluster: a LocalCluster of 2 worker processes
(one thread each) started by this module. The results must equal the single-process run
exactly, in every input format; a worker that dies is replaced and its work redone, and a
partition that cannot be done fails the run naming it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from shakenlib.analysis.batch import VerifierConfig, VerifierLike, analyze_source, verify_source
from shakenlib.analysis.leads import Analysis
from shakenlib.analysis.records import RecordSource, parse_mapping
from shakenlib.cli import main
from shakenlib.errors import UsageError
from shakenlib.testing.traffic import generate

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from shakenlib.analysis import cluster  # noqa: E402
from shakenlib.analysis.cluster import (  # noqa: E402
    PartitionFailed,
    analyze_on_cluster,
    plan,
    verify_on_cluster,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CONFIG = VerifierConfig(trust_files=(str(EXAMPLES / "trust.pem"),), mirror=str(EXAMPLES / "mirror"))
CDR_MAPPING = (
    "time=Start Time,orig=Calling Number,dest=Called Number,"
    "identity=Identity Header,call_id=Call ID"
)
#: Small partitions: the example day (1.1 MB) in about 17 tasks, so partials merge in a tree.
SMALL = 64 * 1024

# The test's verifier factories below are sent to the workers by value (the workers
# cannot import this test module).
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    import dask

    # a task whose worker dies twice fails the run (KilledWorker) instead of 4 restarts
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,
        ) as local,
        distributed.Client(local, set_as_default=False) as client,
    ):
        yield client


def _single(source: RecordSource) -> dict[str, Any]:
    return analyze_source(source, CONFIG, jobs=1).to_dict()


@pytest.fixture(scope="module")
def jsonl_result() -> dict[str, Any]:
    return _single(RecordSource(path=str(EXAMPLES / "calls.jsonl")))


def _sources(tmp: Path) -> dict[str, RecordSource]:
    """The example day in every input format (and as a directory of mixed files)."""
    pq = pytest.importorskip("pyarrow.parquet")
    # Parquet with small row groups, so the file is cut into several partitions
    table = pq.read_table(EXAMPLES / "calls.parquet")
    pq.write_table(table, tmp / "groups.parquet", row_group_size=300)
    folder = tmp / "day"
    folder.mkdir()
    lines = (EXAMPLES / "calls.jsonl").read_text().splitlines(keepends=True)
    (folder / "a.jsonl").write_text("".join(lines[:900]))
    (folder / "b.jsonl").write_text("".join(lines[900:]) + "not json\n")
    (folder / "c.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00junk")  # unreadable: one record
    return {
        "jsonl": RecordSource(path=str(EXAMPLES / "calls.jsonl")),
        "csv": RecordSource(
            path=str(EXAMPLES / "calls-cdr.csv"),
            mapping=parse_mapping(CDR_MAPPING),
            tz="America/New_York",
        ),
        "parquet": RecordSource(path=str(tmp / "groups.parquet")),
        "pcap": RecordSource(path=str(EXAMPLES / "calls.pcap")),
        "dir": RecordSource(path=str(folder)),
    }


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RecordSource]:
    return _sources(tmp_path_factory.mktemp("formats"))


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "pcap", "dir"])
def test_cluster_equals_single_process_in_every_format(
    client: Any, sources: dict[str, RecordSource], jsonl_result: dict[str, Any], fmt: str
) -> None:
    if fmt == "pcap":
        pytest.importorskip("dpkt")
    source = sources[fmt]
    parts = plan(source, partition_bytes=SMALL, parts=2)
    if fmt != "pcap":  # a capture is one partition (TCP streams span it)
        assert len(parts) > 2
    analysis = analyze_on_cluster(source, CONFIG, client, partition_bytes=SMALL)
    single = _single(source)
    assert analysis.to_dict() == single  # exactly: totals, leads, samples, errors
    assert analysis.calls == 2000  # the dir: the same 2000 calls and 2 unreadable records
    if fmt in ("jsonl", "parquet", "pcap"):  # line, row and packet numbers agree too
        assert single == jsonl_result
    if fmt == "dir":
        assert analysis.unreadable == 2
        reasons = [e["reason"] for e in analysis.to_dict()["unreadable_records"]]
        assert any("gzip-compressed" in r for r in reasons)


def test_partitions_cover_each_file_once(sources: dict[str, RecordSource]) -> None:
    for fmt in ("jsonl", "csv", "parquet", "dir"):
        parts = plan(sources[fmt], partition_bytes=SMALL)
        records = [r for p in parts for r in cluster._records(p)]
        assert records == list(sources[fmt])  # same records, same order, same names


def test_a_relative_path_keeps_its_name(
    client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lines = (EXAMPLES / "calls.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "calls.jsonl").write_text("".join(lines[:300]) + "{}\n")
    monkeypatch.chdir(tmp_path)  # the workers started elsewhere: they get absolute paths
    source = RecordSource(path="calls.jsonl")
    analysis = analyze_on_cluster(source, CONFIG, client, partition_bytes=32768)
    assert analysis.to_dict() == analyze_source(source, CONFIG, jobs=1).to_dict()
    assert analysis.errors == [(301, "missing time (column 'time')", "calls.jsonl")]


def test_verify_on_cluster_yields_the_items_in_input_order(
    client: Any, sources: dict[str, RecordSource]
) -> None:
    source = sources["csv"]
    items = list(verify_on_cluster(source, CONFIG, client, partition_bytes=SMALL, window=3))
    assert items == list(verify_source(source, CONFIG, jobs=1))


def test_a_dask_dataframe_is_analysed_partition_by_partition(
    client: Any, jsonl_result: dict[str, Any]
) -> None:
    dd = pytest.importorskip("dask.dataframe")
    frame = dd.read_parquet(str(EXAMPLES / "calls.parquet")).repartition(npartitions=4)
    analysis = analyze_on_cluster(frame, CONFIG, client)
    data = analysis.to_dict()
    # lines count rows within a partition: compare all but where a sample call came from
    for key in (
        "calls",
        "passed",
        "failed",
        "unsigned",
        "unreadable",
        "failed_by_error",
        "failed_without_certificate",
        "unsigned_calls",
    ):
        assert data[key] == jsonl_result[key], key
    assert [_lead_facts(lead) for lead in data["leads"]] == [
        _lead_facts(lead) for lead in jsonl_result["leads"]
    ]
    items = list(verify_on_cluster(frame, CONFIG, client))
    assert len(items) == 2000
    assert {
        item[1].verstat
        for item in items
        if not isinstance(item, Exception)
        if isinstance(item, tuple)
    } >= {"TN-Validation-Passed", "No-TN-Validation"}


def _lead_facts(lead: dict[str, Any]) -> tuple[Any, ...]:
    return (
        lead["spc"],
        lead["origid"],
        lead["calls"],
        lead["distinct_orig"],
        lead["distinct_dest"],
        lead["attest"],
        lead["first_seen"],
        lead["last_seen"],
        lead["score"],
    )


# --- failures -------------------------------------------------------------------------------
@attrs.frozen
class _Dying:
    """A verifier recipe whose verifier kills its worker process mid-partition: once (a
    marker file says it happened), or every time (``always``)."""

    marker: str
    always: bool = False

    def build(self) -> VerifierLike:
        real = CONFIG.build()
        marker, always = self.marker, self.always

        class Verifier:
            calls = 0

            def verify(self, identity: Any, **kwargs: Any) -> Any:
                Verifier.calls += 1
                if Verifier.calls == 50:
                    try:
                        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                        first = True
                    except FileExistsError:
                        first = False
                    if first or always:
                        os._exit(1)  # as the OOM killer would: no cleanup, no answer
                return real.verify(identity, **kwargs)

        return Verifier()


@attrs.frozen
class _Broken:
    """A verifier recipe that cannot be built on the workers."""

    def build(self) -> VerifierLike:
        raise RuntimeError("no trust anchors on this worker")


def test_a_worker_killed_mid_run_loses_no_calls(
    client: Any, tmp_path: Path, jsonl_result: dict[str, Any]
) -> None:
    marker = tmp_path / "killed"
    source = RecordSource(path=str(EXAMPLES / "calls.jsonl"))
    analysis = analyze_on_cluster(source, _Dying(str(marker)), client, partition_bytes=256 * 1024)
    assert marker.exists()  # a worker did die
    assert analysis.to_dict() == jsonl_result
    client.wait_for_workers(2, timeout=60)


def test_a_partition_that_kills_every_worker_fails_the_run(client: Any, tmp_path: Path) -> None:
    source = RecordSource(path=str(EXAMPLES / "calls.jsonl"))
    with pytest.raises(PartitionFailed) as failed:
        analyze_on_cluster(
            source,
            _Dying(str(tmp_path / "m"), always=True),
            client,
            partition_bytes=2 * 1024 * 1024,
        )
    assert failed.value.code == "partition_failed"
    assert re.search(
        r"calls\.jsonl bytes \d+-\d+ \(from line \d+\): the worker running it "
        "died 2 times",
        str(failed.value),
    )
    client.wait_for_workers(2, timeout=60)


def test_a_failed_partition_fails_the_run_naming_it(client: Any) -> None:
    source = RecordSource(path=str(EXAMPLES / "calls.jsonl"))
    with pytest.raises(
        PartitionFailed,
        match=r"calls\.jsonl bytes \d+-\d+ \(from line \d+\): "
        "RuntimeError: no trust anchors on this worker",
    ):
        analyze_on_cluster(source, _Broken(), client, partition_bytes=SMALL)
    with pytest.raises(PartitionFailed, match="RuntimeError"):
        list(verify_on_cluster(source, _Broken(), client, partition_bytes=SMALL))


def test_inputs_the_workers_cannot_see_are_a_usage_error(client: Any, tmp_path: Path) -> None:
    (tmp_path / "calls.jsonl").write_text("")
    source = RecordSource(path=str(tmp_path / "calls.jsonl"))
    config = VerifierConfig(trust_files=(str(tmp_path / "gone.pem"),))
    with pytest.raises(UsageError, match=r"cannot see .*gone\.pem"):
        analyze_on_cluster(source, config, client)


def test_partials_fold_per_call_signers_on_the_workers(client: Any, tmp_path: Path) -> None:
    """Every signer puts a fresh origid on every call: each partial is surveyed and folded
    on its worker by the plan of all the surveys before the partials merge, and the report
    is exactly the single-process one. A repeating origid whose calls straddle partials
    (the campaign's) keeps its own lead."""
    generate(tmp_path, calls=1500, seed=3, origid_per_call=True)
    config = VerifierConfig(
        trust_files=(str(tmp_path / "trust.pem"),), mirror=str(tmp_path / "mirror")
    )
    path = tmp_path / "calls.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    repeated = next(line for line in lines if json.loads(line)["identity"])
    for at in range(len(lines), 0, -len(lines) // 20):  # 20 calls of one origid, spread out
        lines.insert(at, repeated)
    path.write_text("".join(lines))
    source = RecordSource(path=str(path))
    serial = analyze_source(source, config, jobs=1)
    assert len(plan(source, partition_bytes=100_000, parts=2)) > 4
    distributed_ = analyze_on_cluster(source, config, client, partition_bytes=100_000)
    assert distributed_.to_dict(top=None) == serial.to_dict(top=None)
    assert distributed_.signers_table() == serial.signers_table()
    assert distributed_.leads_total() == serial.leads_total()
    assert all(s.per_call for s in distributed_.signers.values())
    # folded on the workers: no small group reached the client, the folds count as spills
    assert not any(s.small for s in distributed_.signers.values())
    assert any(s.small for s in serial.signers.values())
    assert all(s.spills and not s.folds for s in distributed_.signers.values())
    kept = [lead for lead in distributed_.leads() if lead.origid is not None]
    assert [lead.calls for lead in kept] == [21]  # the repeated call, once and 20 more times


def test_empty_input_is_an_empty_analysis(client: Any, tmp_path: Path) -> None:
    (tmp_path / "calls.jsonl").write_text("")
    analysis = analyze_on_cluster(str(tmp_path / "calls.jsonl"), CONFIG, client)
    assert analysis == Analysis()


def test_missing_extra_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with (
        pytest.raises(UsageError, match=r'pip install "shakenlib\[dask\]"'),
        cluster.connect("tcp://127.0.0.1:1"),
    ):
        pass


def test_an_unreachable_scheduler_is_a_usage_error() -> None:
    unreachable = r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"
    with (
        pytest.raises(UsageError, match=unreachable),
        cluster.connect("tcp://127.0.0.1:9", timeout=1),
    ):
        pass


# --- CSV byte ranges --------------------------------------------------------------------------
_cell = st.text(alphabet=st.sampled_from(list('ab ,"\n\r')), max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(_cell, min_size=3, max_size=3), max_size=12),
    size=st.integers(1, 80),
    crlf=st.booleans(),
)
@example(rows=[["", "", "\r\r"], ["", "", "a"]], size=1, crlf=False)  # lone CRs in a row
def test_csv_byte_ranges_give_the_rows_of_the_file(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]], size: int, crlf: bool
) -> None:
    path = tmp_path_factory.mktemp("csv") / "calls.csv"
    out = io.StringIO(newline="")
    writer = csv_writer(out, crlf)
    writer.writerow(["time", "orig", "dest"])
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode())
    source = RecordSource(path=str(path))
    parts = plan(source, partition_bytes=size)
    assert [r for p in parts for r in cluster._records(p)] == list(source)
    assert [r for p in parts for r in cluster._items(p)] == list(source.with_csv_header().raw())


def csv_writer(out: io.StringIO, crlf: bool) -> Any:
    import csv

    return csv.writer(out, lineterminator="\r\n" if crlf else "\n")


# --- the command line -----------------------------------------------------------------------
def _run(*argv: str) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        status = main(list(argv))
    return status, buffer.getvalue()


def test_cli_scheduler_prints_the_same_json(
    client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    address = client.scheduler.address
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("*.ipynb"))
    monkeypatch.chdir(tmp_path)  # relative paths, as a user types them
    base = ["examples/calls.jsonl", "--trust", "examples/trust.pem", "--mirror", "examples/mirror"]
    here = _run("analyze", *base, "--json")
    there = _run("analyze", *base, "--json", "--scheduler", address)
    assert there == here
    assert json.loads(there[1])["calls"] == 2000
    local = _run("verify-batch", *base)
    remote = _run("verify-batch", *base, "--scheduler", address)
    assert remote == local
    assert len(remote[1].splitlines()) == 2000


def test_cli_unreachable_scheduler(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = cluster.connect
    monkeypatch.setattr(cluster, "connect", lambda address: real(address, timeout=1))
    status = main(
        [
            "analyze",
            str(EXAMPLES / "calls.jsonl"),
            "--trust",
            str(EXAMPLES / "trust.pem"),
            "--scheduler",
            "tcp://127.0.0.1:9",
        ]
    )
    assert status == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err


def test_a_worker_builds_its_verifier_once_per_configuration() -> None:
    built: list[int] = []

    @attrs.frozen
    class Counting:
        n: int

        def build(self) -> VerifierLike:
            built.append(self.n)
            return CONFIG.build()

    first = cluster.worker_verifier(Counting(1))
    assert cluster.worker_verifier(Counting(1)) is first  # an equal recipe: the same one
    assert cluster.worker_verifier(Counting(2)) is not first
    assert built == [1, 2]

    @attrs.define(eq=True)  # mutable, so unhashable: built each time, never cached
    class Unhashable:
        def build(self) -> VerifierLike:
            built.append(0)
            return CONFIG.build()

    cluster.worker_verifier(Unhashable())
    cluster.worker_verifier(Unhashable())
    assert built == [1, 2, 0, 0]


def test_parquet_partitions_read_the_rows_the_whole_file_gives(
    sources: dict[str, RecordSource],
) -> None:
    # a partition of row groups yields the rows (column-read tuples, not dicts) and row
    # numbers that reading the whole file gives for those groups
    from shakenlib.analysis.parquet import read_rows

    source = sources["parquet"]
    parts = cluster.plan(source, partition_bytes=1)
    assert len(parts) > 1
    assert all(p.kind == "rows" for p in parts)
    cut = [item for part in parts for item in cluster._items(part)]
    assert cut == list(read_rows(str(source.path), source.mapping))
    assert not isinstance(cut[0][1], dict)
