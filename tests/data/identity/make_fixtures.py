"""Regenerate the decoding fixtures in tests/data/identity/ and tests/data/sip/ and the
examples in examples/: ``python tests/data/identity/make_fixtures.py`` from the repo root.

Everything is signed with the throw-away test key tests/data/identity/test-key.pem (made by
this script on first run). See tests/data/identity/README.md for what each file models.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from shakenlib.sip.passport import encode_passport

ROOT = Path(__file__).resolve().parents[3]
IDENT = ROOT / "tests" / "data" / "identity"
SIP = ROOT / "tests" / "data" / "sip"
X5U = "https://cr.example.org/873J/3f8a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c.pem"
DIV_X5U = "https://certificates.example.net/DIV1/cert.pem"
ORIGID = "4437c7eb-8f92-4b52-9b8f-3f3b3e7d3c1a"
IAT = 1700000000
DATE = "Tue, 14 Nov 2023 22:13:20 GMT"  # = IAT


def key() -> ec.EllipticCurvePrivateKey:
    path = IDENT / "test-key.pem"
    if not path.exists():
        k = ec.generate_private_key(ec.SECP256R1())
        path.write_bytes(
            k.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    loaded = serialization.load_pem_private_key(path.read_bytes(), None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    return loaded


def signer(k: ec.EllipticCurvePrivateKey):  # type: ignore[no-untyped-def]
    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(k.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def main() -> None:
    k = key()
    sign = signer(k)
    shaken = encode_passport(
        {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": X5U},
        {
            "attest": "A",
            "dest": {"tn": ["12155551213"]},
            "iat": IAT,
            "orig": {"tn": "12155551212"},
            "origid": ORIGID,
        },
        sign,
    )
    shaken_hdr = f"{shaken};info=<{X5U}>;alg=ES256;ppt=shaken"
    rfc8225 = encode_passport(
        {"alg": "ES256", "typ": "passport", "x5u": "https://cert.example.org/passport.cer"},
        {
            "dest": {"uri": ["sip:alice@example.com"]},
            "iat": "1443208345",
            "orig": {"tn": "12155551212"},
        },
        sign,
    )
    div = encode_passport(
        {"alg": "ES256", "ppt": "div", "typ": "passport", "x5u": DIV_X5U},
        {
            "dest": {"tn": ["12155551214"]},
            "div": {"tn": "12155551213"},
            "iat": IAT + 5,
            "orig": {"tn": "12155551212"},
        },
        sign,
    )
    http_info = f"{shaken};info=<{X5U.replace('https', 'http')}>;alg=ES256;ppt=shaken"
    (IDENT / "shaken-full.txt").write_text(shaken_hdr + "\n")
    (IDENT / "rfc8225-example.txt").write_text(
        f"{rfc8225};info=<https://cert.example.org/passport.cer>;alg=ES256\n"
    )
    (IDENT / "div.txt").write_text(f"{div};info=<{DIV_X5U}>;alg=ES256;ppt=div\n")
    (IDENT / "http-info.txt").write_text(http_info + "\n")
    (ROOT / "examples" / "identity-shaken.txt").write_text(shaken_hdr + "\n")

    invite = (
        "INVITE sip:+12155551213@sbc.example.net;user=phone SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n"
        "Max-Forwards: 70\r\n"
        'From: "Alice" <sip:+12155551212@example.com;user=phone>;tag=1928301774\r\n'
        "To: <sip:+12155551213@example.net;user=phone>\r\n"
        "P-Asserted-Identity: <sip:+12155551212@example.com;user=phone>, <tel:+12155551212>\r\n"
        "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
        "CSeq: 314159 INVITE\r\n"
        f"Date: {DATE}\r\n"
        f"Identity: {shaken_hdr}\r\n"
        "Content-Type: application/sdp\r\n"
        "Content-Length: 4\r\n"
        "\r\n"
        "v=0\n"
    )
    (SIP / "invite-shaken.sip").write_text(invite, newline="")
    (ROOT / "examples" / "invite.sip").write_text(invite, newline="")
    anon = (
        "INVITE sip:+12155551213@sbc.example.net SIP/2.0\r\n"
        'From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=x1\r\n'
        "To: <sip:+12155551213@example.net>\r\n"
        "P-Asserted-Identity: <sip:+12155551212@example.com;user=phone>\r\n"
        "Privacy: id\r\n"
        f"Date: {DATE}\r\n"
        f"Identity: {shaken_hdr}\r\n"
        "\r\n"
    )
    (SIP / "anonymous-from.sip").write_text(anon, newline="")
    compact = (
        "INVITE sip:+12155551213@sbc.example.net SIP/2.0\n"
        "f: <sip:+1-215-555-1212;verstat=TN-Validation-Passed@example.com;user=phone>;tag=9\n"
        "t: <tel:+1-215-555-1213>\n"
        "i: compact-123@host\n"
        f"date: {DATE}\n"
        f"y: {shaken_hdr}\n"
        "\n"
    )
    (SIP / "compact-lowercase.sip").write_text(compact, newline="")
    h, rest = shaken_hdr.split(";", 1)
    folded = (
        "INVITE sip:+12155551213@sbc.example.net SIP/2.0\r\n"
        "From: <sip:+12155551212@example.com>;tag=2\r\n"
        "To: <sip:+12155551213@example.net>\r\n"
        f"Date: {DATE}\r\n"
        f"Identity: {h};\r\n"
        + "".join(f"   {p};\r\n" for p in rest.split(";")[:-1])
        + f"\t{rest.split(';')[-1]}\r\n"
        "\r\n"
    )
    (SIP / "folded-identity.sip").write_text(folded, newline="")
    multi = (
        "INVITE sip:+12155551214@sbc.example.net SIP/2.0\r\n"
        "From: <sip:+12155551212@example.com>;tag=3\r\n"
        "To: <sip:+12155551213@example.net>\r\n"
        "Diversion: <sip:+12155551213@example.net>;reason=unconditional, "
        '"Desk, B" <sip:+12155551215@example.net>;reason=no-answer\r\n'
        "History-Info: <sip:+12155551213@example.net>;index=1\r\n"
        f"Date: {DATE}\r\n"
        f"Identity: {shaken_hdr}\r\n"
        f"Identity: {div};info=<{DIV_X5U}>;alg=ES256;ppt=div\r\n"
        "\r\n"
    )
    (SIP / "multi-identity.sip").write_text(multi, newline="")


if __name__ == "__main__":
    main()
