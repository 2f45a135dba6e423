"""Replay every saved fuzz finding (tests/data/fuzz/<target>/<hash>.bin) through its
target: the contract must hold now (parsers raise only ShakenError; verify and
verify_sip return a result), within a generous time bound.

A file lands here when ``nox -s fuzz`` finds a violation; it stays as a regression test
after the fix. The ``.txt`` next to each file holds the traceback it was found with.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fuzz_support import REGRESSIONS, fuzz_module

targets = fuzz_module("targets")

FILES = sorted(REGRESSIONS.glob("*/*.bin"))
#: Far above the driver's 1 s hang threshold: a loaded CI machine must not flake.
TIME_BOUND = 10.0


def test_regression_folders_name_known_targets() -> None:
    folders = (
        {p.name for p in REGRESSIONS.iterdir() if p.is_dir()} if REGRESSIONS.is_dir() else set()
    )
    assert folders <= set(targets.TARGETS), folders - set(targets.TARGETS)


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_fuzz_regression(path: Path) -> None:
    data = path.read_bytes()
    start = time.perf_counter()
    violation = targets.check(path.parent.name, data)
    took = time.perf_counter() - start
    assert violation is None, f"{violation.key}: {violation.message}\n{violation.trace}"
    assert took < TIME_BOUND, f"{path.name} took {took:.1f} s"


def test_check_reports_non_shaken_errors_and_accepts_shaken_errors() -> None:
    """The harness itself: a ShakenError from a parser is fine, anything else is not,
    and verify may raise nothing at all."""
    from shakenlib.errors import PassportError

    def boom(data: bytes) -> None:
        if data == b"shaken":
            raise PassportError("passport_json", "x")
        if data == b"other":
            raise KeyError("k")

    parser = targets.Target("t", boom, "text")
    strict = targets.Target("t", boom, "text", raises_ok=False)
    assert targets.check(parser, b"fine") is None
    assert targets.check(parser, b"shaken") is None
    v = targets.check(parser, b"other")
    assert v is not None
    assert v.exc_type == "KeyError"
    assert "test_fuzz_regressions.py" in v.location
    v = targets.check(strict, b"shaken")
    assert v is not None
    assert v.exc_type == "PassportError"


def test_violation_location_is_the_innermost_library_frame() -> None:
    from shakenlib.sip.passport import b64url_encode

    def call(data: bytes) -> None:
        b64url_encode(123)  # type: ignore[arg-type]  # TypeError raised inside base64

    v = targets.check(targets.Target("t", call, "text"), b"")
    assert v is not None
    assert v.location.startswith("shakenlib/sip/passport.py:")
    assert v.key == f"{v.exc_type} @ {v.location}"


def test_verify_target_passes_a_well_formed_call() -> None:
    """The verify harness is sound: a correctly signed call verifies (so a violation
    found through it is not an artefact of a broken set-up)."""
    seeds = fuzz_module("seeds")
    ctx = targets.context()
    scenario = targets.Scenario(identities=[seeds.signed_identity()])
    verifier = targets._scenario_verifier(scenario)
    result = verifier.verify(
        scenario.identities, orig=targets.ORIG, dest=[targets.DEST], at=targets.NOW
    )
    assert result.passed, (result.error, result.message)
    assert result.spc == "873J"
    assert targets.Scenario.parse(scenario.render()) == scenario
    assert ctx.x5u in scenario.identities[0]


def test_offline_refuses_connections() -> None:
    import socket

    with targets.offline():
        with pytest.raises(OSError, match="disabled"):
            socket.create_connection(("192.0.2.1", 443))
        with pytest.raises(UnicodeError):
            socket.getaddrinfo("a..b", 443)
    assert socket.getaddrinfo is not targets._fake_getaddrinfo
