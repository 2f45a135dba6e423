"""Shared fixtures: a test PKI per module, and a real HTTPS certificate repository on
127.0.0.1 (with its TLS files) for the network tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from repo_fixtures import TlsFiles, make_tls_files
from shakenlib.testing.pki import StiTestPki
from shakenlib.testing.server import HttpsRepositoryServer

# Checked by mypy in `nox -s typecheck`, not run (misspelt.py must not even import).
collect_ignore = ["typing"]


@pytest.fixture(scope="module")
def pki() -> StiTestPki:
    """A fresh STI-PA / STI-CA test PKI for the module (valid around DEFAULT_NOW)."""
    return StiTestPki()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A test TLS CA and a server certificate for 127.0.0.1 (see repo_fixtures)."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_server(tls_files: TlsFiles) -> Iterator[HttpsRepositoryServer]:
    """A running HTTPS repository server on 127.0.0.1 for the module's tests."""
    with HttpsRepositoryServer(certfile=tls_files.certfile, keyfile=tls_files.keyfile) as server:
        yield server
