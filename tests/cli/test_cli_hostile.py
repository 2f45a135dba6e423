"""Every ``shakenlib`` subcommand on hostile input: no Python traceback, exit 0, 1 or 2.

Runs the in-process ``main(argv)`` (stderr captured, ``SystemExit`` caught) on garbage,
binary and empty files, directories where files are expected, missing and unreadable
paths, invalid options, hostile tokens and hostile certificate files. The network is
off (``fuzz.targets.offline``): a command without ``--mirror`` fails to fetch instead of
going out. An input still running after 60 s fails the test instead of hanging it.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

from fuzz_support import fuzz_module
from shakenlib.cli import main

targets = fuzz_module("targets")
seeds = fuzz_module("seeds")
mutate = fuzz_module("mutate")

AT = "1748779200"  # the test PKI's now (2025-06-01T12:00:00Z)
ORIG, DEST = targets.ORIG, targets.DEST


class _Stuck(BaseException):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Stuck


def _show(argv: list[str]) -> str:
    return " ".join(a if len(a) <= 60 else f"{a[:40]}...({len(a)} chars)" for a in argv)


def run_cli(
    argv: list[str], capsys: pytest.CaptureFixture[str], stdin: bytes | None = None
) -> tuple[int, str, str]:
    """Run the command line in-process; fail the test on an escaping exception."""
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(60)
    try:
        with targets.offline():
            try:
                code: Any = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except _Stuck:
        pytest.fail(f"shakenlib {_show(argv)} still running after 60 s")
    except Exception as exc:
        pytest.fail(
            f"shakenlib {_show(argv)}: a Python traceback escapes main(): "
            f"{type(exc).__name__}: {str(exc)[:200]}\n"
            + "".join(traceback.format_exception(exc))[-3000:]
        )
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        sys.stdin = old_stdin
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean(
    argv: list[str], capsys: pytest.CaptureFixture[str], stdin: bytes | None = None
) -> tuple[int, str, str]:
    code, out, err = run_cli(argv, capsys, stdin)
    assert "Traceback (most recent call last)" not in err + out, err[-2000:]
    assert code in (0, 1, 2), (code, err[-2000:])
    return code, out, err


# --------------------------------------------------------------------------- files
def _token(claims: dict[str, Any] | None = None, x5u: str | None = None) -> str:
    header = None
    if x5u is not None:
        header = {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": x5u}
    return seeds.signed_identity(claims, header)


def _claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "attest": "A",
        "dest": {"tn": [DEST]},
        "iat": int(AT),
        "orig": {"tn": ORIG},
        "origid": "hostile",
    }
    claims.update(changes)
    return claims


def _raw_claims_token(claims_json: bytes) -> str:
    """A token whose claims are these exact bytes (for JSON escapes such as \\ud800)."""
    ctx = targets.context()
    header = json.dumps(
        {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": ctx.x5u},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    return f"{ctx.sign_token(header, claims_json)};info=<{ctx.x5u}>;alg=ES256;ppt=shaken"


def _dup_extension_der(der: bytes) -> bytes:
    """The certificate with its last extension duplicated, re-signed by the test CA."""
    tree = mutate.parse_der(der)
    tbs = tree.children[0]
    exts = next(c for c in tbs.children if c.tag == 0xA3).children[0]
    exts.children.append(mutate._copy(exts.children[-1]))
    return targets.resign_der(der, tbs.encode(), targets.context().ca_key)


def _pem(der: bytes) -> bytes:
    return seeds._pem(der)


TOKENS = {
    "surrogate": _raw_claims_token(
        b'{"attest":"A","dest":{"tn":["12155551213"]},"iat":1748779200,'
        b'"orig":{"tn":"\\ud800"},"origid":"x"}'
    ),
    "attest_list": _token(_claims(attest=["A"])),
    "attest_dict": _token(_claims(attest={"A": 1})),
    "iat_9999": _token(_claims(iat=253402300799)),
    "iat_huge": _token(_claims(iat=10**40)),
    "deep": _raw_claims_token(b'{"attest":"A","x":' + b"[" * 5000 + b"]" * 5000 + b"}"),
    "early_fail": _token(_claims(iat=1)),
    "bad_host": _token(x5u="https://a..b/x.pem"),
    "long_label": _token(x5u="https://" + "a" * 64 + ".test/x.pem"),
    "garbage": "not a token at all",
    "surrogate_arg": "\udcff\udcfe.\udc80;info=<\udcff>",
    "huge": "a" * 200_000,
    "nul": "eyJ\x00.eyJ.\x00;info=<https://cr.test/\x00>",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("hostile")
    ctx = targets.context()
    f: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        path = tmp / name
        path.write_bytes(data)
        f[name] = path

    put("empty", b"")
    put("garbage", b"hello world\nthis is not anything,,,\n{\n")
    put("binary", bytes(range(256)) * 8 + b"\xff\xfe\x00\xed\xa0\x80")
    put("utf16", "time,orig,dest,identity\n1,2,3,4\n".encode("utf-16"))
    put("unreadable", b"secret")
    os.chmod(tmp / "unreadable", 0)
    (tmp / "dir").mkdir()
    (tmp / "dir" / "inside.txt").write_bytes(b"x")
    (tmp / "emptydir").mkdir()
    f["dir"], f["emptydir"], f["missing"] = tmp / "dir", tmp / "emptydir", tmp / "missing"
    put("trust", ctx.pki.trust_anchors_pem())
    # certificates
    tal = ctx.pki.issue_sp_certificate(
        "873J", tnauthlist=bytes.fromhex("3008a0061688ff00000000000000"), key=ctx.leaf_key
    )
    put("cert_tal_overflow", tal.pem)
    put("cert_dup_ext", _pem(_dup_extension_der(ctx.leaf_der)))
    put("cert_len_overflow", b"\x30\x89" + b"\x01" * 9 + b"\x30\x00")
    put("cert_len_index", b"\x30\x88\xff" + b"\x00" * 7)
    put("cert_truncated", ctx.leaf_der[: len(ctx.leaf_der) // 2])
    put("cert_bad_b64", b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
    put(
        "cert_pem_binary",
        b"-----BEGIN CERTIFICATE-----\n" + bytes(range(256)) + b"\n-----END CERTIFICATE-----\n",
    )
    put("cert_good", ctx.pki.ca_root.pem + ctx.leaf_der)
    real = seeds.real_cert_ders()
    if real:
        put("cert_real", b"".join(_pem(d) for d in real[:20]))
    # mirror repositories: the good chain, and hostile certificates at the x5u
    mirror = tmp / "mirror"
    for url, (body, _) in ctx.published.items():
        ctx.pki.publish(mirror, url, body)
    f["mirror"] = mirror
    for name, body in (
        ("tal", tal.chain_pem()),
        ("dup", _pem(_dup_extension_der(ctx.leaf_der)) + ctx.chain_tail_pem),
        ("selfsigned", _pem(real[0]) if real else ctx.pki.ca_root.pem),
        ("binary", bytes(range(256))),
    ):
        m = tmp / f"mirror_{name}"
        ctx.pki.publish(m, ctx.x5u, body)
        ctx.pki.publish(m, ctx.pki.crl_url, ctx.crl_der)
        f[f"mirror_{name}"] = m
    # SIP messages
    sip = seeds._sip_seeds()[-1]
    put("sip_good", sip)
    put(
        "sip_surrogate",
        sip.replace(sip.split(b"Identity: ")[1].split(b"\r\n")[0], TOKENS["surrogate"].encode()),
    )
    put(
        "sip_attest_list",
        sip.replace(sip.split(b"Identity: ")[1].split(b"\r\n")[0], TOKENS["attest_list"].encode()),
    )
    put("sip_no_date", sip.replace(b"Date: ", b"X-Date: "))
    put(
        "sip_binary_headers",
        b"INVITE sip:x SIP/2.0\r\nIdentity: \xff\xfe\x00\r\n"
        b"Date: \xff\r\nFrom: <sip:\xed\xa0\x80@x>\r\n\r\n",
    )
    sipdir = tmp / "sipdir"
    sipdir.mkdir()
    (sipdir / "good.sip").write_bytes(sip)
    (sipdir / "binary.sip").write_bytes(bytes(range(256)))
    (sipdir / "empty.sip").write_bytes(b"")
    (sipdir / "sub").mkdir()
    (sipdir / "sub" / "hostile.sip").write_bytes(f["sip_surrogate"].read_bytes())
    (sipdir / "unreadable.sip").write_bytes(sip)
    os.chmod(sipdir / "unreadable.sip", 0)
    os.symlink("/etc/passwd", sipdir / "outside.sip")
    os.symlink(sipdir / "loop.sip", sipdir / "loop.sip")
    os.symlink(sipdir / "missing-target", sipdir / "dangling.sip")
    f["sipdir"] = sipdir

    # call records
    def rec(identity: str, **kw: Any) -> bytes:
        row = {
            "time": "2025-06-01T12:00:00Z",
            "orig": ORIG,
            "dest": DEST,
            "identity": identity,
            **kw,
        }
        return json.dumps(row).encode() + b"\n"

    put("calls_good.jsonl", rec(seeds.signed_identity()) + rec(TOKENS["early_fail"]))
    lines = [rec(seeds.signed_identity())]
    lines += [rec(t) for t in TOKENS.values() if len(t) < 50_000]
    lines += [
        rec(seeds.signed_identity(), time=t)
        for t in ("9999-12-31T23:59:59Z", 1e300, 10**30, "1" * 5000, -1, None, [], {"a": 1}, True)
    ]
    lines += [rec(seeds.signed_identity(), orig=o) for o in (["x"], 5, None, "\ud800")]
    lines += [
        b"garbage\n",
        b"{}\n",
        b"[]\n",
        b"null\n",
        b"[" * 100_000 + b"\n",
        b'{"time": "\\ud800"}\n',
        b"\xff\xfe\n",
        b'{"identity": ["a", 5, null]}\n',
        b'{"a": 1e999}\n',
        b'{"time": 1' + b"0" * 5000 + b"}\n",
    ]
    put("calls.jsonl", b"".join(lines))
    csv_rows = [
        b"time,orig,dest,identity,call_id\n",
        b"2025-06-01T12:00:00Z,12155551212,12155551213,"
        + TOKENS["attest_list"].encode()
        + b",c1\n",
        b'"unterminated,12155551212\n',
        b"a,b\n",
        b"\x00,\x00,\x00,\x00,\x00\n",
        b'x,"' + b"y" * 200_000 + b'",z,w,v\n',
        b"9999-12-31T23:59:59Z,1,2," + TOKENS["surrogate"].encode() + b",c2\n",
    ]
    put("calls.csv", b"".join(csv_rows))
    put("calls_header_only.csv", b"time,orig,dest,identity\n")
    put("providers_binary.csv", b"spc,name\n873J,\xff\xfe\xfd\n")
    put("providers_garbage.csv", b"nothing,useful\n1,2\n")
    put("providers_ocn.csv", b'OCN,Org Name,CN,Cert\n\x00,"unterminated\n')
    return {k: str(v) for k, v in f.items()}


def _argv(template: list[str], files: dict[str, str]) -> list[str]:
    out = []
    for arg in template:
        if arg.startswith("@"):  # @name or @name/below/it
            name, _, below = arg[1:].partition("/")
            if name not in files:
                pytest.skip(f"no {name} file (the real certificate corpus is absent)")
            out.append(f"{files[name]}/{below}" if below else files[name])
        elif arg.startswith("%"):
            out.append(TOKENS[arg[1:]])
        else:
            out.append(arg)
    return out


def _opt_id(opt: list[str]) -> str:
    """A readable test id part for options (long values shortened)."""
    parts = [o.lstrip("@") if len(o) <= 30 else f"{o[:6]}x{len(o)}" for o in opt]
    return "-" + "=".join(parts).encode("ascii", "backslashreplace").decode()


BAD_FILES = ["empty", "garbage", "binary", "utf16", "unreadable", "dir", "emptydir", "missing"]
VERIFY = [
    "verify",
    "--trust",
    "@trust",
    "--mirror",
    "@mirror",
    "--at",
    AT,
    "--orig",
    ORIG,
    "--dest",
    DEST,
]
BATCH = ["--trust", "@trust", "--mirror", "@mirror", "--jobs", "1"]

CASES: list[tuple[str, list[str]]] = [
    # the top level
    ("none", []),
    ("bogus-option", ["--bogus"]),
    ("bogus-command", ["nosuch"]),
    ("version", ["--version"]),
    ("help", ["--help"]),
    ("verify-help", ["verify", "--help"]),
    # decode
    ("decode-nothing", ["decode"]),
    ("decode-both", ["decode", "x", "--sip", "@garbage"]),
    ("decode-bogus", ["decode", "--bogus"]),
    *[(f"decode-{t}", ["decode", f"%{t}"]) for t in TOKENS],
    *[(f"decode-json-{t}", ["decode", "--json", f"%{t}"]) for t in ("surrogate", "deep")],
    *[(f"decode-sip-{f}", ["decode", "--sip", f"@{f}"]) for f in BAD_FILES],
    *[
        (f"decode-sip-{f}", ["decode", "--json", "--sip", f"@{f}"])
        for f in ("sip_good", "sip_surrogate", "sip_attest_list", "sip_binary_headers")
    ],
    # verify
    ("verify-nothing", ["verify"]),
    ("verify-no-trust", ["verify", "%garbage"]),
    *[(f"verify-{t}", [*VERIFY, f"%{t}"]) for t in TOKENS],
    ("verify-several", [*VERIFY, "%attest_list", "%surrogate", "%early_fail"]),
    *[
        (f"verify-sip-{f}", [*VERIFY, "--sip", f"@{f}"])
        for f in (
            *BAD_FILES,
            "sip_good",
            "sip_surrogate",
            "sip_attest_list",
            "sip_no_date",
            "sip_binary_headers",
        )
    ],
    (
        "verify-sip-no-at",
        ["verify", "--trust", "@trust", "--mirror", "@mirror", "--sip", "@sip_no_date"],
    ),
    *[
        (
            f"verify-trust-{f}",
            ["verify", "--trust", f"@{f}", "--mirror", "@mirror", "--at", AT, "%early_fail"],
        )
        for f in (
            *BAD_FILES,
            "cert_tal_overflow",
            "cert_dup_ext",
            "cert_len_overflow",
            "cert_len_index",
            "cert_bad_b64",
            "cert_pem_binary",
            "cert_real",
        )
    ],
    *[
        (
            f"verify-mirror-{f}",
            ["verify", "--trust", "@trust", "--mirror", f"@{f}", "--at", AT, "%early_fail"],
        )
        for f in ("missing", "garbage")
    ],
    *[
        (
            f"verify-served-{m}-{t}",
            [
                "verify",
                "--trust",
                "@trust",
                "--mirror",
                f"@mirror_{m}",
                "--at",
                AT,
                "--orig",
                ORIG,
                "--dest",
                DEST,
                f"%{t}",
            ],
        )
        for m in ("tal", "dup", "selfsigned", "binary")
        for t in ("early_fail", "attest_list")
    ],
    *[
        (f"verify-network-{t}", ["verify", "--trust", "@trust", "--at", AT, f"%{t}"])
        for t in ("bad_host", "long_label", "early_fail")
    ],
    *[
        (f"verify-at-{_opt_id([at])}", [*VERIFY[:-6], "--at", at, "%early_fail"])
        for at in (
            (
                "garbage",
                "9999-12-31T23:59:59Z",
                "9999-12-31T23:59:00+00:00",
                "1e400",
                "-1",
                "1" * 5000,
                "nan",
                "inf",
                "253402300799",
                "0001-01-01",
            )
        )
    ],
    *[
        (f"verify-freshness{_opt_id([v])}", [*VERIFY, "--freshness", v, "%early_fail"])
        for v in (("0", "-1", "nan", "inf", "1e400", "abc", "1e-320"))
    ],
    ("verify-revocation", [*VERIFY, "--revocation", "bogus", "%early_fail"]),
    (
        "verify-numbers",
        [
            *VERIFY[:-4],
            "--orig",
            "\udcff",
            "--dest",
            "9" * 10_000,
            "--dest",
            "sip:\ud800@x",
            "%early_fail",
        ],
    ),
    # analyze and verify-batch
    *[
        (f"{cmd}-{f}", [cmd, f"@{f}", *BATCH])
        for cmd in ("analyze", "verify-batch")
        for f in (
            *BAD_FILES,
            "calls.jsonl",
            "calls.csv",
            "calls_header_only.csv",
            "sipdir",
            "sip_good",
            "sip_binary_headers",
        )
    ],
    *[
        (f"{cmd}-format-{fmt}", [cmd, "@calls.jsonl", *BATCH, "--format", fmt])
        for cmd in ("analyze", "verify-batch")
        for fmt in ("csv", "sip", "xyz")
    ],
    *[
        (
            f"{cmd}-jobs2",
            [cmd, "@calls.jsonl", "--trust", "@trust", "--mirror", "@mirror", "--jobs", "2"],
        )
        for cmd in ("analyze", "verify-batch")
    ],
    *[
        (f"analyze{_opt_id(opt)}", ["analyze", "@calls_good.jsonl", *BATCH, *opt])
        for opt in (
            (
                ["--jobs", "0"],
                ["--jobs", "abc"],
                ["--jobs", "-3"],
                ["--map", "garbage"],
                ["--map", "=,="],
                ["--map", "time=\udcff"],
                ["--top", "-1"],
                ["--top", "abc"],
                ["--top", "0"],
                ["--chunk-size", "0"],
                ["--chunk-size", "-5"],
                ["--freshness", "0"],
                ["--providers", "@binary"],
                ["--providers", "@dir"],
                ["--providers", "@missing"],
                ["--providers", "@providers_binary.csv"],
                ["--providers", "@providers_garbage.csv"],
                ["--providers", "@providers_ocn.csv"],
                ["--providers", "@empty"],
                ["--csv", "@dir"],
                ["--html", "@dir"],
                ["--csv", "@missing/x/y.csv"],
                ["--json"],
                ["--json", "--csv", "@garbage"],
                ["--trust", "@binary"],
                ["--mirror", "@garbage"],
            )
        )
    ],
    *[
        (f"verify-batch{_opt_id(opt)}", ["verify-batch", "@calls_good.jsonl", *BATCH, *opt])
        for opt in (
            (
                ["--out", "@dir"],
                ["--out", "@missing/x/y.jsonl"],
                ["--map", "garbage"],
                ["--chunk-size", "-1"],
                ["--trust", "@cert_len_overflow"],
            )
        )
    ],
    # lint-cert
    ("lint-nothing", ["lint-cert"]),
    *[
        (f"lint-{f}", ["lint-cert", f"@{f}"])
        for f in (
            *BAD_FILES,
            "cert_tal_overflow",
            "cert_dup_ext",
            "cert_len_overflow",
            "cert_len_index",
            "cert_truncated",
            "cert_bad_b64",
            "cert_pem_binary",
            "cert_good",
            "cert_real",
        )
    ],
    *[
        (f"lint-json-{f}", ["lint-cert", "--json", f"@{f}"])
        for f in ("cert_tal_overflow", "cert_dup_ext", "cert_real")
    ],
    ("lint-many", ["lint-cert", "@cert_good", "@garbage", "@cert_len_overflow"]),
    *[
        (f"lint-at{_opt_id([at])}", ["lint-cert", "@cert_good", "--at", at])
        for at in (
            ("garbage", "9999-12-31T23:59:59Z", "1e400", "1" * 5000, "-99999999999999", "nan")
        )
    ],
]


@pytest.mark.parametrize(("name", "template"), CASES, ids=[c[0] for c in CASES])
def test_cli_on_hostile_input(
    name: str, template: list[str], files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert_clean(_argv(template, files), capsys)


@pytest.mark.parametrize(
    "data", [b"", bytes(range(256)), b"INVITE\r\n\r\n\xff"], ids=["empty", "binary", "truncated"]
)
def test_decode_and_verify_read_hostile_stdin(
    data: bytes, files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert_clean(["decode", "--sip", "-"], capsys, stdin=data)
    assert_clean(_argv([*VERIFY, "--sip", "-"], files), capsys, stdin=data)


def test_usage_errors_exit_2_with_one_line(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = assert_clean(["decode"], capsys)
    assert code == 2
    assert err.startswith("shakenlib: error:")
    code, _, err = assert_clean(_argv(["lint-cert", "@missing"], files), capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1


def test_a_good_call_still_verifies(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The hostile set-up is sound: the mirror and trust files verify a good call."""
    code, out, err = assert_clean(_argv([*VERIFY, seeds.signed_identity()], files), capsys)
    assert code == 0, out + err
    assert "TN-Validation-Passed" in out
