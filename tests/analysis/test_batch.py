"""Batch verification: order, parallel == serial, real verifier on generated traffic."""

from __future__ import annotations

import concurrent.futures.process
import datetime as dt
import gc
import json
import os
from pathlib import Path
from typing import Any

import pytest

from shakenlib.analysis import batch
from shakenlib.analysis.batch import VerifierConfig, analyze_source, verify_source
from shakenlib.analysis.records import CallRecord, RecordSource, UnreadableRecord
from shakenlib.testing.traffic import generate
from shakenlib.verify.result import CertificateSummary, VerificationResult

ROOT = Path(__file__).resolve().parents[2]


class FakeVerifier:
    """Reads 'spc/origid/attest/ok' as the Identity value: no crypto, fast."""

    def verify(
        self, identity: Any, *, orig: Any = None, dest: Any = None, at: Any, sip: Any = None
    ) -> VerificationResult:
        if not identity:
            return VerificationResult.failure("identity_missing")
        value = identity if isinstance(identity, str) else identity[0]
        spc, origid, attest, ok = value.split("/")
        cert = CertificateSummary(spc=spc, subject_o=f"Org {spc}")
        if ok != "ok":
            return VerificationResult.failure(ok, certificate=cert, origid=origid, attest=attest)
        return VerificationResult(
            verstat="TN-Validation-Passed",
            attest=attest,
            origid=origid,
            certificate=cert,
            orig=orig,
        )


class FakeConfig:
    def build(self) -> FakeVerifier:
        return FakeVerifier()


def _fake_calls(tmp_path: Path, n: int = 400) -> Path:
    path = tmp_path / "calls.jsonl"
    with open(path, "w") as handle:
        for i in range(n):
            if i % 97 == 5:
                handle.write("garbage\n")
                continue
            ident = (
                ""
                if i % 10 == 0
                else f"{'999R' if i % 3 else '111A'}/o{i % 4}/A/"
                + ("ok" if i % 17 else "iat_stale")
            )
            handle.write(
                json.dumps(
                    {
                        "time": 1748779200 + i * 37,
                        "orig": f"1215{i:07d}",
                        "dest": f"1215{(i * 7) % 1000:07d}",
                        "identity": ident,
                    }
                )
                + "\n"
            )
    return path


def test_verify_source_keeps_input_order_in_parallel(tmp_path: Path) -> None:
    source = RecordSource(path=str(_fake_calls(tmp_path)))
    serial = list(verify_source(source, FakeConfig(), jobs=1, chunk_size=7))
    parallel = list(verify_source(source, FakeConfig(), jobs=2, chunk_size=7))
    lines = [i.line if isinstance(i, UnreadableRecord) else i[0].line for i in parallel]
    assert lines == list(range(1, 401))
    assert parallel == serial
    assert sum(isinstance(i, UnreadableRecord) for i in parallel) == 5


def test_parallel_and_serial_give_identical_leads(tmp_path: Path) -> None:
    source = RecordSource(path=str(_fake_calls(tmp_path)))
    done: list[tuple[int, int]] = []
    serial = analyze_source(source, FakeConfig(), jobs=1, chunk_size=50)
    parallel = analyze_source(
        source, FakeConfig(), jobs=2, chunk_size=13, progress=lambda n, f: done.append((n, f))
    )
    assert parallel == serial
    assert [lead.to_dict() for lead in parallel.leads()] == [
        lead.to_dict() for lead in serial.leads()
    ]
    assert (serial.calls, serial.unreadable, serial.unsigned) == (395, 5, 40)
    assert serial.errors[0][:2] == (6, "not a JSON object: Expecting value")
    assert done[-1][0] == 400  # progress saw every record


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("example")
    planted = generate(out, calls=300, seed=5)
    return out, planted


def test_real_verifier_finds_planted_campaign(example: tuple[Path, dict[str, Any]]) -> None:
    out, planted = example
    config = VerifierConfig(trust_files=(str(out / "trust.pem"),), mirror=str(out / "mirror"))
    analysis = analyze_source(RecordSource(path=str(out / "calls.jsonl")), config, jobs=1)
    assert analysis.calls == 300
    assert analysis.unsigned == planted["unsigned"]
    assert analysis.failed_by_error["iat_stale"] == planted["stale"]
    assert analysis.failed_by_error["signature_invalid"] == planted["bad_signature"]
    assert analysis.failed_by_error["cert_revoked"] == planted["revoked"]
    assert analysis.unattributed == {"x5u_http_status": planted["unknown_x5u"]}
    top = analysis.leads()[0]
    assert top.spc == "999R"
    assert top.origid == "7c1d3a52-0b8e-4f0e-9d55-6a0f1e2c9b10"
    assert top.calls == planted["campaign_calls"] == 90
    assert top.passed == 90
    assert top.distinct_orig == planted["campaign_distinct_orig"]
    assert top.attest == {"A": 90}
    assert top.invalid_orig_calls == planted["campaign_invalid"]
    assert "likely_improper_attestation" in top.flags
    # the same numbers through worker processes
    parallel = analyze_source(
        RecordSource(path=str(out / "calls.jsonl")), config, jobs=2, chunk_size=40
    )
    assert parallel == analysis


def test_workers_fold_per_call_signers_to_the_serial_result(tmp_path: Path) -> None:
    # every signer puts a fresh origid on every call: each worker folds its small groups
    # into the signer-level leads by the plan made from both workers' surveys, and the
    # report is exactly the serial one
    generate(tmp_path, calls=1500, seed=3, origid_per_call=True)
    config = VerifierConfig(
        trust_files=(str(tmp_path / "trust.pem"),), mirror=str(tmp_path / "mirror")
    )
    source = RecordSource(path=str(tmp_path / "calls.jsonl"))
    serial = analyze_source(source, config, jobs=1)
    parallel = analyze_source(source, config, jobs=2, chunk_size=100)
    assert parallel.to_dict(top=None) == serial.to_dict(top=None)
    assert parallel.signers_table() == serial.signers_table()
    assert all(s.per_call for s in parallel.signers.values())
    # the parts came back folded: no small group crossed to this process
    assert not any(s.small for s in parallel.signers.values())
    assert any(s.small for s in serial.signers.values())


def test_sip_directory_through_real_verifier(
    example: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    out, _ = example
    records = [
        r
        for r in RecordSource(path=str(out / "calls.jsonl"))
        if isinstance(r, CallRecord) and r.identity
    ][:3]
    sipdir = tmp_path / "sip"
    sipdir.mkdir()
    for i, r in enumerate(records):
        date = r.time.strftime("%a, %d %b %Y %H:%M:%S GMT")
        (sipdir / f"{i}.sip").write_text(
            f"INVITE sip:+{r.dest}@example.com SIP/2.0\r\nFrom: <sip:+{r.orig}@a.example>"
            f";tag=1\r\nTo: <sip:+{r.dest}@example.com>\r\nCall-ID: c{i}\r\nDate: {date}"
            f"\r\nIdentity: {r.identity[0]}\r\n\r\n"
        )
    config = VerifierConfig(trust_files=(str(out / "trust.pem"),), mirror=str(out / "mirror"))
    items = list(verify_source(RecordSource(path=str(sipdir)), config, jobs=1))
    assert len(items) == 3
    for item, original in zip(items, records, strict=True):
        assert not isinstance(item, UnreadableRecord)
        record, result = item
        assert record.sip is not None
        assert (record.orig, record.dest) == (original.orig, original.dest)
        assert record.time == original.time.replace(microsecond=0)
        assert result.passed, result.error
        assert result.spc is not None


def test_bad_configuration_fails_before_workers_start(tmp_path: Path) -> None:
    # The configuration is built once in this process first: a missing trust file is a
    # plain FileNotFoundError here, not a broken worker pool.
    source = RecordSource(path=str(_fake_calls(tmp_path, 10)))
    config = VerifierConfig(trust_files=(str(tmp_path / "missing.pem"),))
    with pytest.raises(FileNotFoundError):
        analyze_source(source, config, jobs=2)


def test_workers_reading_byte_ranges_give_the_serial_result(tmp_path: Path) -> None:
    # A JSON Lines file is cut into byte ranges that the workers read themselves; order,
    # line numbers and aggregates must be exactly those of one serial pass.
    source = RecordSource(path=str(_fake_calls(tmp_path, 3000)))
    assert source.splittable
    assert len(list(source.spans(40 * 1024, parts=4))) >= 6
    serial = list(verify_source(source, FakeConfig(), jobs=1))
    parallel = list(verify_source(source, FakeConfig(), jobs=2, chunk_size=40))
    assert parallel == serial
    assert analyze_source(source, FakeConfig(), jobs=2, chunk_size=40) == analyze_source(
        source, FakeConfig(), jobs=1
    )


def test_more_workers_than_chunks_still_hand_over_once_each(tmp_path: Path) -> None:
    # each worker hands its analysis over once, also a worker that took no chunk at all
    source = RecordSource(path=str(_fake_calls(tmp_path, 30)))
    assert analyze_source(source, FakeConfig(), jobs=3) == analyze_source(
        source, FakeConfig(), jobs=1
    )


class CrashingVerifier(FakeVerifier):
    def verify(self, identity: Any, **kwargs: Any) -> VerificationResult:
        if identity and "o3" in identity:  # a worker process dies mid-batch
            os._exit(3)
        return super().verify(identity, **kwargs)


class CrashingConfig:
    def build(self) -> FakeVerifier:
        return CrashingVerifier()


def test_a_dying_worker_fails_the_batch_instead_of_hanging(tmp_path: Path) -> None:
    source = RecordSource(path=str(_fake_calls(tmp_path, 400)))
    with pytest.raises(concurrent.futures.process.BrokenProcessPool):
        analyze_source(source, CrashingConfig(), jobs=2)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_start_methods_that_start_workers_on_demand_hand_over_once_each(
    example: tuple[Path, dict[str, Any]],
    method: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With spawn/forkserver the pool starts workers only as work queues up; a small input
    # (fewer chunks than workers) must still give one hand-over per worker, not a hang.
    import multiprocessing

    import shakenlib.analysis.batch as batch

    monkeypatch.setattr(batch, "_HAND_OVER_TIMEOUT", 60)
    monkeypatch.setattr(batch, "_CONTEXT", multiprocessing.get_context(method))
    out, _ = example
    config = VerifierConfig(trust_files=(str(out / "trust.pem"),), mirror=str(out / "mirror"))
    small = out / f"small-{method}.jsonl"  # one byte range: one chunk for three workers
    small.write_text("".join((out / "calls.jsonl").read_text().splitlines(True)[:20]))
    source = RecordSource(path=str(small))
    assert len(list(source.spans(2048 * 1024, parts=6))) == 1
    assert analyze_source(source, config, jobs=3) == analyze_source(source, config, jobs=1)


def test_the_merge_runs_without_cyclic_gc_and_restores_it() -> None:
    assert gc.isenabled()
    seen = []

    def merge() -> None:
        with batch._no_cyclic_gc():
            seen.append(gc.isenabled())
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        merge()
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        with batch._no_cyclic_gc():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_records_verified_together_give_each_records_own_result() -> None:
    """verify_records checks a group's signatures together (Verifier.verify_many); a
    record whose values make that raise (a time out of range) fails alone, and every
    other record gets the result it gets verified by itself."""
    from shakenlib.testing.testbed import ShakenTestbed

    bed = ShakenTestbed()
    acme = bed.add_provider("873J")
    orig, dest = "12155551212", "12155551213"

    def record(line: int, **fields: Any) -> CallRecord:
        base: dict[str, Any] = {"line": line, "time": bed.now, "orig": orig, "dest": dest}
        return CallRecord(**{**base, "identity": (acme.sign(orig=orig, dest=dest),), **fields})

    far = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)  # out of the verifier's range: it raises
    records: list[CallRecord | UnreadableRecord] = [
        record(1),
        record(2, dest="12155550000"),
        UnreadableRecord(3, "not a JSON object", None),
        record(4, time=far),
        record(5, identity=()),
    ]
    together = list(batch.verify_records(records, bed.verifier()))
    alone_verifier = bed.verifier()
    alone = [
        r if isinstance(r, UnreadableRecord) else (r, batch.verify_record(alone_verifier, r))
        for r in records
    ]
    assert together == alone
    errors = [item if isinstance(item, UnreadableRecord) else item[1].error for item in together]
    assert errors[0] is None
    assert errors[1] == "dest_mismatch"
    assert errors[2] == records[2]
    assert errors[3] == "usage"
    assert errors[4] == "identity_missing"
