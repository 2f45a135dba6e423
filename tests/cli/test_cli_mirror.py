"""``shakenlib mirror``: the certificates (and CRLs) a dataset names, fetched from a real
HTTPS repository on 127.0.0.1 into the layout ``--mirror`` reads, so that a run (on a
cluster, say) needs no network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from repo_fixtures import TlsFiles
from shakenlib.analysis.batch import VerifierConfig, analyze_source
from shakenlib.analysis.cluster import fill_mirror, x5u_urls
from shakenlib.analysis.records import RecordSource
from shakenlib.cli import main, mirror
from shakenlib.fetch import FetchPolicy, HttpRepository
from shakenlib.sip.sign import Signer
from shakenlib.testing.pki import StiTestPki
from shakenlib.testing.server import HttpsRepositoryServer, loopback_policy

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def dataset(
    https_server: HttpsRepositoryServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """Calls signed by two providers whose certificates the local server holds (and one
    whose certificate is not there), with the STI-PA CRL the certificates name."""
    server = https_server
    pki = StiTestPki(crl_url=server.url("/sti-pa/crl"))
    server.add("/sti-pa/crl", pki.make_crl(), content_type="application/pkix-crl")
    out = tmp_path_factory.mktemp("dataset")
    (out / "trust.pem").write_bytes(pki.trust_anchors_pem())
    iat = int(pki.now.timestamp())
    lines = []
    urls = []
    for n, spc in enumerate(["873J", "561C", "999R"]):
        leaf = pki.issue_sp_certificate(spc, organization=f"Provider {spc}")
        url = server.url(f"/{spc}/cert.pem")
        urls.append(url)
        if spc != "999R":
            server.add(f"/{spc}/cert.pem", leaf.chain_pem())
        for i in range(3):
            orig, dest = f"1215555{n}{i:03d}", "12155550199"
            identity = Signer(leaf.key, url).sign_shaken(
                orig=orig, dest=dest, attest="A", iat=iat, origid=f"o-{spc}"
            )
            lines.append(
                json.dumps({"time": iat, "orig": orig, "dest": dest, "identity": identity})
            )
    lines.append(json.dumps({"time": iat, "orig": "12155550100", "dest": "12155550199"}))
    (out / "calls.jsonl").write_text("\n".join(lines) + "\n")
    return {"dir": out, "urls": sorted(urls), "crl": server.url("/sti-pa/crl"), "server": server}


def _repository(tls_files: TlsFiles) -> HttpRepository:
    return HttpRepository(
        loopback_policy(
            tls_files.ca_file, base=FetchPolicy(connect_timeout=1, read_timeout=1, total_timeout=2)
        )
    )


def test_the_urls_of_a_dataset(dataset: dict[str, Any]) -> None:
    source = RecordSource(path=str(dataset["dir"] / "calls.jsonl"))
    assert x5u_urls([source]) == dataset["urls"]


def test_mirror_then_verify_offline(
    dataset: dict[str, Any], tls_files: TlsFiles, tmp_path: Path
) -> None:
    source = RecordSource(path=str(dataset["dir"] / "calls.jsonl"))
    report = fill_mirror(
        x5u_urls([source]), tmp_path / "mirror", _repository(tls_files), at=StiTestPki().now
    )
    missing = dataset["server"].url("/999R/cert.pem")
    assert report.certificates == tuple(u for u in dataset["urls"] if u != missing)
    assert report.crls == (dataset["crl"],)
    assert [url for url, _ in report.failed] == [missing]
    assert "x5u_http_status" in report.failed[0][1]
    port = dataset["server"].port
    assert (tmp_path / "mirror" / f"127.0.0.1:{port}" / "873J" / "cert.pem").is_file()
    assert (tmp_path / "mirror" / f"127.0.0.1:{port}" / "sti-pa" / "crl").is_file()
    # the mirror is all a run needs: no fetch policy, no server
    config = VerifierConfig(
        trust_files=(str(dataset["dir"] / "trust.pem"),), mirror=str(tmp_path / "mirror")
    )
    analysis = analyze_source(source, config, jobs=1)
    assert (analysis.calls, analysis.passed, analysis.unsigned) == (10, 6, 1)
    assert dict(analysis.failed_by_error) == {"x5u_http_status": 3}  # 999R: not mirrored


def test_cli_mirror(
    dataset: dict[str, Any],
    tls_files: TlsFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(mirror, "make_repository", lambda: _repository(tls_files))
    calls = str(dataset["dir"] / "calls.jsonl")
    out = tmp_path / "m"
    assert main(["mirror", calls, calls, "--out", str(out), "--json"]) == 1  # 999R failed
    data = json.loads(capsys.readouterr().out)
    assert len(data["certificates"]) == 2
    assert data["crls"] == [dataset["crl"]]
    assert data["failed"][0]["url"].endswith("/999R/cert.pem")
    assert main(["mirror", calls, "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert text.startswith(f"2 of 3 certificate URLs and 1 CRLs mirrored into {out}\n")
    assert "failed: https://127.0.0.1:" in text


def test_cli_mirror_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    assert main(["mirror", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)]) == 2
    assert main(["mirror", str(tmp_path / "file"), "--out", str(tmp_path / "file")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["mirror", str(tmp_path / "file")]) == 2  # --out is required


def test_default_repository_keeps_the_fetch_policy() -> None:
    repository = mirror.make_repository()
    assert isinstance(repository, HttpRepository)
    assert not repository.policy.allows_special_addresses
