"""Typed use of the public API, checked by ``mypy --strict`` (``nox -s typecheck``).

Not collected by pytest: a type error here fails the typecheck session. Its companion
``misspelt.py`` must *fail* mypy (a misspelt public name is a type error).
"""

from __future__ import annotations

import datetime as dt

import shakenlib
from shakenlib import (
    Analysis,
    FetchPolicy,
    MemoryRepository,
    Policy,
    RecordSource,
    TrustStore,
    VerificationResult,
    Verifier,
    VerifierConfig,
    decode_identity,
)
from shakenlib.analysis import analyze_source
from shakenlib.errors import ShakenError


def verify_one(verifier: Verifier, header: str) -> tuple[str, int | None, str | None]:
    result: VerificationResult = verifier.verify(
        header, orig="12155551212", dest="12155551213", at=dt.datetime.now(dt.UTC)
    )
    return result.verstat, result.sip_code, result.spc


def verify_several(verifier: Verifier, headers: list[str]) -> list[str | None]:
    at = dt.datetime.now(dt.UTC)
    orig, dest = "12155551212", "12155551213"
    calls = [{"identity": h, "orig": orig, "dest": dest, "at": at} for h in headers]
    results: list[VerificationResult] = verifier.verify_many(calls)
    return [r.error for r in results]


def build(trust_pem: bytes) -> Verifier:
    policy = Policy(freshness=dt.timedelta(seconds=60), revocation="require")
    return Verifier(TrustStore.from_pem(trust_pem), MemoryRepository(), policy=policy)


def batch(path: str, trust: str, mirror: str) -> Analysis:
    config = VerifierConfig(trust_files=(trust,), mirror=mirror, policy=Policy())
    return analyze_source(RecordSource(path=path), config, jobs=1)


def notebook(path: str, trust: str, mirror: str) -> tuple[int, str]:
    analysis: Analysis = shakenlib.analyze(path, trust=trust, mirror=mirror, jobs=1, progress=False)
    html: str = analysis.to_html(top=10)
    return analysis.calls, html


def decode(header: str) -> str | None:
    try:
        decoded = decode_identity(header)
    except ShakenError as exc:
        return exc.code
    return decoded.passport.header.x5u if decoded.passport else None


def policy_timeout() -> float:
    return FetchPolicy().total_timeout


VERSION: str = shakenlib.__version__
