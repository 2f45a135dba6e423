"""The exception tree and the one error-code table."""

from __future__ import annotations

import pickle
import re

import pytest

from shakenlib import errors
from shakenlib.errors import CODES, REASON_PHRASES, ShakenError


def test_every_code_is_lower_snake_case_and_maps_to_a_known_status() -> None:
    for code, info in CODES.items():
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", code), code
        assert info.code == code
        assert info.sip_code is None or info.sip_code in REASON_PHRASES


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("iat_stale", 403),
        ("identity_missing", 428),
        ("x5u_fetch_failed", 436),
        ("cert_untrusted", 437),
        ("alg_unsupported", 437),
        ("signature_invalid", 438),
        ("claim_missing", 438),
        ("tn_invalid", None),
    ],
)
def test_sip_mapping_follows_atis_1000074_table(code: str, status: int | None) -> None:
    assert errors.sip_code_for(code) == status


def test_unknown_code_is_rejected() -> None:
    with pytest.raises(KeyError):
        ShakenError("not_a_code")
    with pytest.raises(KeyError):
        errors.sip_code_for("not_a_code")


def test_every_exception_is_a_shaken_error_and_parse_errors_are_value_errors() -> None:
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert len(classes) >= 10
    for cls in classes:
        assert issubclass(cls, ShakenError)
        assert cls.default_code in CODES
    assert issubclass(errors.PassportError, ValueError)
    assert issubclass(errors.TelephoneNumberError, errors.ParseError)


def test_exception_carries_code_status_phrase_and_pickles() -> None:
    err = errors.RepositoryError("x5u_timeout", "no answer in 2 s")
    assert (err.code, err.sip_code, err.reason_phrase) == ("x5u_timeout", 436, "Bad Identity Info")
    assert str(err) == "x5u_timeout: no answer in 2 s"
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is errors.RepositoryError
    assert (again.code, again.message) == (err.code, err.message)


def test_default_message_is_the_table_description() -> None:
    err = errors.TrustError()
    assert err.code == "cert_untrusted"
    assert err.message == CODES["cert_untrusted"].description
