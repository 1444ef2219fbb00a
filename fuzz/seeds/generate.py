#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/seeds/<target>/ from real inputs.

Sources:
  - tests/vectors/rfc7520_5_4.json: the RFC 7520 §5.4 keys, header and token (the recipient key
    is the fuzz targets' fixed key, so that token decrypts in the `decrypt` target);
  - tests/vectors/wycheproof/testvectors_v1/: JWK sets, JWE tokens, and the P-384 ECDH cases:
    their JWKs (webcrypto file, at most three per test comment and result) for jwk_parse, their
    scalar and SEC1 point (ecpoint file, one per comment and result) for ecdh_differential. The
    edge-case families, not 175 copies of one;
  - the workspace's own `jose` example program: a fresh key pair, and one token to the fixed key
    for every compiled algorithm pair, some with kid/apu/apv (fresh randomness on every run, so
    those files change when this script is re-run; everything else is reproducible);
  - a few hand-made inputs: layouts for `roundtrip` and `ecdh_differential` at their limits,
    and the bank documentation's two key defects (63-character coordinates, "ECDH-ES+A25KW").

Run from anywhere: python3 fuzz/seeds/generate.py. It needs python3 (standard library only)
and cargo; it clears and rewrites every fuzz/seeds/<target>/ directory. Files are named after
their origin and deduplicated by content.
"""

import base64
import hashlib
import json
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fuzz" / "seeds"
VECTORS = ROOT / "tests" / "vectors"
WYCHEPROOF = VECTORS / "wycheproof" / "testvectors_v1"
TARGETS = ["jwk_parse", "header_parse", "b64_decode", "decrypt", "roundtrip", "ecdh_differential"]

# Order of the P-384 group (SEC 2 §2.5.1 / FIPS 186-4 D.1.2.4).
P384_N = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81"
    "f4372ddf581a0db248b0a77aecec196accc52973",
    16,
)


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str):
    """Lenient decode (for reading vectors only); None if it is not base64url at all."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None


class Corpus:
    def __init__(self, target: str):
        self.dir = SEEDS / target
        self.seen = set()
        self.count = 0

    def add(self, name: str, data):
        if isinstance(data, str):
            data = data.encode()
        digest = hashlib.sha256(data).digest()
        if digest in self.seen:
            return
        self.seen.add(digest)
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:80]
        (self.dir / safe).write_bytes(data)
        self.count += 1


def compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def jose(*args: str, stdin: bytes = b"") -> bytes:
    command = ["cargo", "run", "-q", "-p", "alliancepay-jose", "--example", "jose", "--", *args]
    return subprocess.run(command, cwd=ROOT, input=stdin, check=True, capture_output=True).stdout


def sampled(tests, per_kind: int = 3):
    """At most `per_kind` cases per (comment, result), in file order."""
    counts = {}
    for case in tests:
        kind = (case.get("comment", ""), case.get("result", ""))
        counts[kind] = counts.get(kind, 0) + 1
        if counts[kind] <= per_kind:
            yield case


def scalar48(value: int) -> bytes:
    return value.to_bytes(48, "big")


def main():
    for target in TARGETS:
        shutil.rmtree(SEEDS / target, ignore_errors=True)
        (SEEDS / target).mkdir(parents=True)
    c = {target: Corpus(target) for target in TARGETS}
    tokens = []  # (name, compact token)

    # RFC 7520 §5.4.
    rfc = json.loads((VECTORS / "rfc7520_5_4.json").read_text())
    recipient = rfc["recipient_key"]
    ephemeral = rfc["ephemeral_key"]
    c["jwk_parse"].add("rfc7520-recipient-private", compact(recipient))
    c["jwk_parse"].add(
        "rfc7520-recipient-public", compact({k: v for k, v in recipient.items() if k != "d"})
    )
    c["jwk_parse"].add("rfc7520-ephemeral-private", json.dumps(ephemeral, indent=2))
    c["header_parse"].add("rfc7520-header", rfc["protected_header_json"])
    tokens.append(("rfc7520-token", rfc["compact"]))
    # The bank documentation's two defects: a 63-character coordinate, alg "ECDH-ES+A25KW".
    bank_doc = dict(recipient, x=recipient["x"][1:], alg="ECDH-ES+A25KW")
    c["jwk_parse"].add("bankdoc-63-char-x-and-bad-alg", compact(bank_doc))

    # Our own keys and tokens, through the jose example program.
    private = jose("keygen")
    c["jwk_parse"].add("ours-keygen-private", private.strip())
    c["jwk_parse"].add("ours-keygen-public", jose("public", stdin=private).strip())
    fixed_public = {k: recipient[k] for k in ("kty", "crv", "x", "y")}
    with tempfile.NamedTemporaryFile("w", suffix=".jwk", delete=False) as f:
        f.write(compact(fixed_public))
        fixed_public_path = f.name
    try:
        pairs = [
            (alg, enc)
            for alg in ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"]
            for enc in ["A128GCM", "A192GCM", "A256GCM"]
        ]
        session = b'{"deviceId":"d-1","refreshToken":"r","authToken":"a","serverPublic":{}}'
        for i, (alg, enc) in enumerate(pairs):
            extra = ["--kid", "merchant-key-1", "--apu", "merchant", "--apv", "bank"] if i % 3 == 0 else []
            token = jose("encrypt", "--alg", alg, "--enc", enc, *extra, fixed_public_path, stdin=session)
            tokens.append((f"ours-{alg}-{enc}", token.decode().strip()))
        empty = jose("encrypt", fixed_public_path, stdin=b"").decode().strip()
        tokens.append(("ours-bank-empty-plaintext", empty))
    finally:
        os.unlink(fixed_public_path)

    # Wycheproof JWE: compact tokens only (the JSON serialization is not what we parse).
    jwe = json.loads((WYCHEPROOF / "json_web_encryption_test.json").read_text())
    for group in jwe["testGroups"]:
        for case in group["tests"]:
            if isinstance(case["jwe"], str):
                tokens.append((f"wycheproof-jwe-tc{case['tcId']}-{case['comment']}", case["jwe"]))

    # Wycheproof JWK sets: each key on its own.
    jwk = json.loads((WYCHEPROOF / "json_web_key_test.json").read_text())
    for group in jwk["testGroups"]:
        for side in ("private", "public"):
            for i, key in enumerate(group.get(side, {}).get("keys", [])):
                c["jwk_parse"].add(f"wycheproof-jwk-{group['comment']}-{side}{i}", compact(key))

    # Tokens feed decrypt, their headers header_parse, their parts b64_decode.
    for name, token in tokens:
        c["decrypt"].add(name, token)
        parts = token.split(".")
        header = b64d(parts[0])
        if header:
            c["header_parse"].add(name + "-header", header)
        for i, part in enumerate(parts[:5]):
            if part and len(c["b64_decode"].seen) < 120:
                c["b64_decode"].add(f"{name}-part{i}", part)
    for name, text in [("empty", ""), ("one-byte", "AQ"), ("noncanonical", "AR"), ("padded", "AQ=="),
                       ("std-alphabet", "+/+/"), ("length-4k1", "AAAAA")]:
        c["b64_decode"].add(name, text)

    # Wycheproof P-384 ECDH.
    webcrypto = json.loads((WYCHEPROOF / "ecdh_secp384r1_webcrypto_test.json").read_text())
    for group in webcrypto["testGroups"]:
        for case in sampled(group["tests"]):
            tc = case["tcId"]
            c["jwk_parse"].add(f"wycheproof-ecdh-webcrypto-tc{tc}-public", compact(case["public"]))
            c["jwk_parse"].add(f"wycheproof-ecdh-webcrypto-tc{tc}-private", compact(case["private"]))
    # One per (comment, result), from the SEC1 file only (the webcrypto file has the same keys
    # as JWKs, which feed jwk_parse above): each ECDH seed costs several scalar multiplications
    # when the stable suite replays it unoptimized, and vectors.rs already runs every case.
    ecpoint = json.loads((WYCHEPROOF / "ecdh_secp384r1_ecpoint_test.json").read_text())
    ecpoint_cases = [case for group in ecpoint["testGroups"] for case in group["tests"]]
    for case in sampled(ecpoint_cases, per_kind=1):
        d = int(case["private"], 16)
        if d < 2**384:
            point = bytes.fromhex(case["public"])
            c["ecdh_differential"].add(
                f"wycheproof-ecpoint-tc{case['tcId']}-sec1", scalar48(d) + b"\x01" + point
            )
    rd = b64d(recipient["d"])
    c["ecdh_differential"].add(
        "rfc7520-recipient-d-ephemeral-point",
        rd + b"\x00" + b64d(ephemeral["x"]) + b64d(ephemeral["y"]),
    )
    c["ecdh_differential"].add("rfc7520-recipient-d-times-ephemeral-d", rd + b"\x02" + b64d(ephemeral["d"]))
    for name, d in [("d-zero", 0), ("d-one", 1), ("d-n-minus-1", P384_N - 1), ("d-n", P384_N),
                    ("d-all-ff", 2**384 - 1)]:
        c["ecdh_differential"].add(f"{name}-k-two", scalar48(d) + b"\x02" + scalar48(2))
    c["ecdh_differential"].add("d-two-identity-sec1", scalar48(2) + b"\x01" + b"\x00")

    # roundtrip layouts: alg index, enc index, presence bits (apu, apv, kid, typ, cty), 8-byte
    # seed, then length-prefixed members, then the plaintext (see fuzz/src/checks.rs).
    def layout(alg, enc, seed, plaintext, apu=None, apv=None, kid=None, typ=None, cty=None):
        members = [apu, apv, kid, typ, cty]
        present = sum(1 << i for i, m in enumerate(members) if m is not None)
        out = bytes([alg, enc, present]) + struct.pack("<Q", seed)
        for m in members:
            if m is not None:
                m = m.encode() if isinstance(m, str) else m
                out += bytes([len(m)]) + m
        return out + plaintext

    plaintext_rfc = bytes.fromhex(rfc["plaintext_hex"])
    c["roundtrip"].add("bank-profile-session", layout(3, 2, 1, session))
    c["roundtrip"].add("bank-profile-empty", layout(3, 2, 2, b""))
    for alg in range(4):
        for enc in range(3):
            c["roundtrip"].add(f"pair-{alg}-{enc}-rfc7520-plaintext", layout(alg, enc, 10 + alg * 3 + enc, plaintext_rfc))
    c["roundtrip"].add("all-members", layout(3, 2, 3, b"{}", apu=b"merchant", apv=b"bank",
                                             kid="peregrin.took@tuckborough.example", typ="JWE",
                                             cty="application/json"))
    c["roundtrip"].add("party-info-at-limit", layout(1, 0, 4, b"x", apu=b"\xff" * 64, apv=b"\x00" * 64))
    c["roundtrip"].add("party-info-over-limit", layout(1, 0, 5, b"x", apu=b"\xff" * 65))
    c["roundtrip"].add("escapes-in-kid", layout(0, 2, 6, b"ab", kid='a"b\\c\n\x01\x7f\u00e9\u2013',
                                                typ="\t", cty="/"))
    c["roundtrip"].add("header-near-limit", layout(2, 1, 7, b"y", kid="k" * 200, typ="t" * 110))
    c["roundtrip"].add("header-over-limit", layout(2, 1, 8, b"y", kid="k" * 255, typ="t" * 255, cty="c" * 255))
    c["roundtrip"].add("plaintext-4096", layout(3, 2, 9, bytes(i % 251 for i in range(4096))))

    for target in TARGETS:
        print(f"{target}: {c[target].count} seeds")


if __name__ == "__main__":
    main()
