"""Hostile records never stop a batch, and workers never outlive their parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from shakenlib.analysis.batch import analyze_source, verify_record, verify_source
from shakenlib.analysis.records import CallRecord, RecordSource, UnreadableRecord
from shakenlib.verify.result import VerificationResult

ROOT = Path(__file__).resolve().parents[2]


class BuggyVerifier:
    """Raises an untyped exception for Identity values starting with 'boom'."""

    def verify(
        self, identity: Any, *, orig: Any = None, dest: Any = None, at: Any, sip: Any = None
    ) -> VerificationResult:
        value = identity if isinstance(identity, str) else (identity or [""])[0]
        if value.startswith("boom"):
            raise TypeError("unhashable type: 'list'")
        if not value:
            return VerificationResult.failure("identity_missing")
        return VerificationResult(verstat="TN-Validation-Passed")


class BuggyConfig:
    def build(self) -> BuggyVerifier:
        return BuggyVerifier()


def _calls(tmp_path: Path, n: int = 300) -> Path:
    path = tmp_path / "calls.jsonl"
    with open(path, "w") as handle:
        for i in range(n):
            ident = "boom" if i % 50 == 7 else ("" if i % 10 == 0 else "fine")
            handle.write(
                json.dumps(
                    {
                        "time": 1748779200 + i,
                        "orig": "12155551212",
                        "dest": "12155551213",
                        "identity": ident,
                    }
                )
                + "\n"
            )
    return path


def test_an_untyped_exception_becomes_an_internal_error_result() -> None:
    # Before: verify_record caught only ShakenError and the exception aborted the batch.
    import datetime as dt

    record = CallRecord(
        line=12,
        time=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
        identity=("boom",),
        source="calls.jsonl",
    )
    result = verify_record(BuggyVerifier(), record)
    assert result.error == "internal_error"
    assert not result.passed
    assert "TypeError" in (result.message or "")
    assert "line 12 of calls.jsonl" in (result.message or "")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_batch_goes_on_past_records_that_raise(tmp_path: Path, jobs: int) -> None:
    source = RecordSource(path=str(_calls(tmp_path)))
    items = list(verify_source(source, BuggyConfig(), jobs=jobs, chunk_size=16))
    assert len(items) == 300
    codes = [item[1].error for item in items if not isinstance(item, UnreadableRecord)]
    assert codes.count("internal_error") == 6
    analysis = analyze_source(source, BuggyConfig(), jobs=jobs, chunk_size=16)
    assert analysis.calls == 300
    assert analysis.failed_by_error["internal_error"] == 6
    assert [line for line, _, _ in analysis.internal_errors] == [8, 58, 108, 158, 208, 258]
    assert all("TypeError" in message for _, _, message in analysis.internal_errors)
    assert len(analysis.to_dict()["internal_errors"]) == 6
    assert analysis.passed == 300 - 30 - 6


def test_verify_batch_cli_writes_every_line_when_a_record_raises(tmp_path: Path) -> None:
    # A record whose time is out of range: a usage problem of that record, not of the run.
    path = tmp_path / "calls.jsonl"
    path.write_text(
        json.dumps(
            {
                "time": "9999-12-31T23:59:59Z",
                "orig": "1",
                "dest": "2",
                "identity": "a.b.c;info=<https://x/y>",
            }
        )
        + "\n"
        + json.dumps({"time": 1748779200, "orig": "1", "dest": "2", "identity": ""})
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "shakenlib",
            "verify-batch",
            str(path),
            "--trust",
            str(ROOT / "examples" / "trust.pem"),
            "--mirror",
            str(ROOT / "examples" / "mirror"),
            "--jobs",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 2


_PARENT = textwrap.dedent("""
    import sys, time
    from shakenlib.analysis.batch import analyze_source
    from shakenlib.analysis.records import RecordSource
    from shakenlib.verify.result import VerificationResult

    class Slow:
        def verify(self, identity, *, orig=None, dest=None, at, sip=None):
            time.sleep(0.05)
            return VerificationResult.failure("identity_missing")

    class SlowConfig:
        def build(self):
            return Slow()

    print("started", flush=True)
    analyze_source(RecordSource(path=sys.argv[1]), SlowConfig(), jobs=2, chunk_size=4)
""")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    # Before: two workers sat blocked on a pipe read for 57 minutes after a SIGKILL.
    path = _calls(tmp_path, 2000)
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = [p for p in _children(parent.pid) if _alive(p)]
            time.sleep(0.05)
        assert len(workers) >= 2
        time.sleep(0.3)  # the workers are busy with chunks
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = [p for p in workers if _alive(p)]
    finally:
        if parent.poll() is None:
            parent.kill()
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors == []
