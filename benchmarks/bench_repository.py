"""Certificate repository costs, as ratios to raw ECDSA verification.

- a cache hit in ``HttpRepository`` (the path almost every call of a batch takes);
- a ``MemoryRepository`` fetch (content check + parsing the first certificate's notAfter);
- an uncached HTTPS fetch from the local test server over a kept-alive connection.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from run import Bench

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

AT = datetime(2025, 6, 1, tzinfo=UTC)
URL = "https://cr.example.com/1234/cert.pem"


def _cache_hit():  # type: ignore[no-untyped-def]
    from repo_fixtures import cert_pem
    from shakenlib.fetch import Fetched, HttpRepository
    from shakenlib.fetch.cache import Cache

    repo = HttpRepository(cache=Cache())
    body = cert_pem()
    repo.cache.put(Fetched(URL, body, None, 200, AT, datetime(2026, 1, 1, tzinfo=UTC)))
    return lambda: repo.fetch(URL, at=AT)


def _memory():  # type: ignore[no-untyped-def]
    from repo_fixtures import cert_pem
    from shakenlib.fetch import MemoryRepository

    repo = MemoryRepository({URL: cert_pem()})
    return lambda: repo.fetch(URL, at=AT)


def _https():  # type: ignore[no-untyped-def]
    from repo_fixtures import cert_pem, make_tls_files
    from shakenlib.fetch import HttpRepository
    from shakenlib.fetch.cache import Cache
    from shakenlib.testing.server import HttpsRepositoryServer, loopback_policy

    files = make_tls_files(Path(tempfile.mkdtemp()))
    server = HttpsRepositoryServer(certfile=files.certfile, keyfile=files.keyfile).start()
    url = server.add("/1234/cert.pem", cert_pem(), headers={"Cache-Control": "no-store"})
    policy = loopback_policy(files.ca_file)
    repo = HttpRepository(policy, cache=Cache(max_entries=0))
    return lambda: repo.fetch(url, at=AT)


BENCHMARKS = [
    Bench("repository: HttpRepository cache hit", _cache_hit),
    Bench("repository: MemoryRepository fetch", _memory),
    Bench("repository: HTTPS fetch, local server, no cache", _https),
]
