"""The pytest plugin: its fixtures work in a user's test file (run with pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import datetime as dt

from shakenlib.testing.assertions import assert_failed, assert_passed

ORIG, DEST = "12155551212", "12155551213"


def test_signed_call_verifies(shaken_testbed, shaken_verifier):
    acme = shaken_testbed.add_provider("873J", organization="Acme Telecom")
    header = acme.sign(orig=ORIG, dest=DEST, attest="B")
    result = shaken_verifier.verify(header, orig=ORIG, dest=DEST, at=shaken_testbed.now)
    assert_passed(result, attest="B", spc="873J")
    assert result.provider == "Acme Telecom"


def test_revoked_is_refused(shaken_testbed):
    acme = shaken_testbed.add_provider("873J")
    header = acme.sign(orig=ORIG, dest=DEST)
    shaken_testbed.revoke(acme)
    result = shaken_testbed.verifier().verify(header, orig=ORIG, dest=DEST,
                                              at=shaken_testbed.now)
    assert_failed(result, "cert_revoked", sip_code=437)


def test_stale_is_403(shaken_testbed):
    acme = shaken_testbed.add_provider("873J")
    header = acme.sign(orig=ORIG, dest=DEST)
    later = shaken_testbed.now + dt.timedelta(seconds=90)
    assert_failed(shaken_testbed.verifier().verify(header, orig=ORIG, dest=DEST, at=later),
                  "iat_stale", sip_code=403)


def test_fixtures_share_one_testbed(shaken_testbed, sti_pki, sti_repository):
    assert sti_pki is shaken_testbed.pki
    assert sti_repository is shaken_testbed.repository
    assert sti_repository.fetch(sti_pki.crl_url, at=shaken_testbed.now, kind="crl").body


def test_assertion_messages_speak_shaken(shaken_testbed):
    acme = shaken_testbed.add_provider("873J")
    header = acme.sign(orig=ORIG, dest=DEST)
    result = shaken_testbed.verifier().verify(header, orig="12125550000", dest=DEST,
                                              at=shaken_testbed.now)
    try:
        assert_passed(result)
    except AssertionError as exc:
        assert "438 Invalid Identity Header [orig_mismatch]" in str(exc)
    else:
        raise AssertionError("assert_passed accepted a failed result")
"""


def test_plugin_fixtures_in_a_user_test_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_assert_failed_checks_code_and_status() -> None:
    from shakenlib.testing.assertions import assert_failed, assert_passed
    from shakenlib.verify.result import VerificationResult

    stale = VerificationResult.failure("iat_stale")
    assert_failed(stale)
    assert_failed(stale, "iat_stale", sip_code=403)
    with pytest.raises(AssertionError, match="expected error 'cert_revoked'"):
        assert_failed(stale, "cert_revoked")
    with pytest.raises(AssertionError, match="expected SIP 437"):
        assert_failed(stale, sip_code=437)
    with pytest.raises(AssertionError, match="expected TN-Validation-Passed"):
        assert_passed(stale)
