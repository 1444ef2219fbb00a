#!/usr/bin/env python3
"""Measures Python jwcrypto (the bank's reference library) on the bank's JWE profile.

Reads the inputs `compare --write-fixture DIR` writes (or that `compare` writes for itself when it
runs this script): recipient.jwk, recipient.pub.jwk, payload.json and token.jwe (one of ours).
Prints `OP jwcrypto OPS_PER_S` per operation, the median over rounds, like `compare`, and leaves
its own token in DIR/jwcrypto.jwe so that `compare` can check that ours opens it.

    jwcrypto_bench.py --dir DIR [--rounds N] [--seconds S] [--ops keygen,encrypt,decrypt]
    jwcrypto_bench.py --dir DIR --serve

With --serve it prints `ready` once set up, then answers each stdin line `OP SECONDS` with one
line, the ops/s of OP measured for SECONDS: that is how `compare` gives it a turn in the same
rotation as the other implementations.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from jwcrypto import jwe, jwk

BANK_ALG = "ECDH-ES+A256KW"
BANK_ENC = "A256GCM"
NAME = "jwcrypto"


def measure(job, seconds):
    """Runs `job` for about `seconds`; returns operations per second."""
    start = time.perf_counter()
    count = 0
    while True:
        job()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=0.25)
    parser.add_argument("--ops", default="keygen,encrypt,decrypt")
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args(argv)

    private = jwk.JWK.from_json((args.dir / "recipient.jwk").read_text())
    public = jwk.JWK.from_json((args.dir / "recipient.pub.jwk").read_text())
    payload = (args.dir / "payload.json").read_bytes()
    ours = (args.dir / "token.jwe").read_text().strip()
    protected = json.dumps({"alg": BANK_ALG, "enc": BANK_ENC})

    def keygen():
        return jwk.JWK.generate(kty="EC", crv="P-384")

    def encrypt():
        token = jwe.JWE(payload, protected=protected)
        token.add_recipient(public)
        return token.serialize(compact=True)

    def decrypt():
        token = jwe.JWE()
        token.allowed_algs = [BANK_ALG, BANK_ENC]
        token.deserialize(ours, key=private)
        return token.payload

    # Same work as ours: our token opens here, and ours must open this one (compare checks).
    if decrypt() != payload:
        raise ValueError("jwcrypto decrypted our token to other bytes")
    (args.dir / f"{NAME}.jwe").write_text(encrypt())

    jobs = {"keygen": keygen, "encrypt": encrypt, "decrypt": decrypt}
    if args.serve:
        print("ready", flush=True)
        warm = set()
        for line in sys.stdin:
            op, seconds = line.split()
            if op not in warm:
                measure(jobs[op], min(float(seconds), 0.1))
                warm.add(op)
            print(f"{measure(jobs[op], float(seconds)):.3f}", flush=True)
        return 0
    for op in args.ops.split(","):
        job = jobs[op]
        measure(job, min(args.seconds, 0.1))  # warm up
        rates = [measure(job, args.seconds) for _ in range(args.rounds)]
        print(f"{op} {NAME} {statistics.median(rates):.1f}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception as e:  # one line on stderr; compare reports the peer as not measured
        print(f"jwcrypto_bench.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
