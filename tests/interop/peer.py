#!/usr/bin/env python3
"""Interop peer built on jwcrypto, the library the bank's own documentation uses.

Same commands and I/O conventions as `cargo run -p alliancepay-jose --example jose`:

    peer.py keygen                          new private P-384 JWK on stdout
    peer.py public                          private JWK on stdin -> public JWK on stdout
    peer.py thumbprint FILE                 RFC 7638 SHA-256 thumbprint of the JWK in FILE
    peer.py encrypt [--alg A] [--enc E] [--apu T] [--apv T] PUBLIC_JWK_FILE
                                            plaintext on stdin -> compact JWE; --apu/--apv
                                            put the UTF-8 bytes of T into the Concat KDF
    peer.py decrypt [--allow-all] PRIVATE_JWK_FILE        compact JWE on stdin -> plaintext
    peer.py version                         library name and version (an availability probe)

Exit status 0 on success, 1 on failure, 2 on bad arguments; errors are one line on stderr.
"""

import argparse
import json
import sys
from importlib import metadata

from jwcrypto import jwe, jwk
from jwcrypto.common import base64url_encode

BANK_ALG = "ECDH-ES+A256KW"
BANK_ENC = "A256GCM"
ALGS = ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"]
ENCS = ["A128GCM", "A192GCM", "A256GCM"]


def read_key(path):
    with open(path, "rb") as f:
        return jwk.JWK.from_json(f.read().decode("utf-8"))


def emit_line(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main(argv):
    parser = argparse.ArgumentParser(prog="peer.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("keygen")
    commands.add_parser("public")
    commands.add_parser("version")
    thumb = commands.add_parser("thumbprint")
    thumb.add_argument("file")
    enc = commands.add_parser("encrypt")
    enc.add_argument("--alg", default=BANK_ALG, choices=ALGS)
    enc.add_argument("--enc", default=BANK_ENC, choices=ENCS)
    enc.add_argument("--apu")
    enc.add_argument("--apv")
    enc.add_argument("file")
    dec = commands.add_parser("decrypt")
    dec.add_argument("--allow-all", action="store_true")
    dec.add_argument("file")
    args = parser.parse_args(argv)

    if args.command == "version":
        emit_line("jwcrypto " + metadata.version("jwcrypto"))
    elif args.command == "keygen":
        # The bank documents its keys with use=enc and alg=ECDH-ES+A256KW.
        key = jwk.JWK.generate(kty="EC", crv="P-384", use="enc", alg=BANK_ALG)
        emit_line(key.export_private())
    elif args.command == "public":
        key = jwk.JWK.from_json(sys.stdin.buffer.read().decode("utf-8"))
        if not key.has_private:
            raise ValueError("stdin: not a private JWK")
        emit_line(key.export_public())
    elif args.command == "thumbprint":
        emit_line(read_key(args.file).thumbprint())
    elif args.command == "encrypt":
        key = read_key(args.file)
        if key.has_private:
            raise ValueError(f"{args.file}: expected a public JWK")
        plaintext = sys.stdin.buffer.read()
        header = {"alg": args.alg, "enc": args.enc}
        for member in ("apu", "apv"):
            text = getattr(args, member)
            if text is not None:
                header[member] = base64url_encode(text.encode("utf-8"))
        token = jwe.JWE(plaintext, protected=json.dumps(header))
        # jwcrypto's default allow-list may not hold every pair of the wider matrix.
        token.allowed_algs = ALGS + ENCS
        token.add_recipient(key)
        emit_line(token.serialize(compact=True))
    elif args.command == "decrypt":
        key = read_key(args.file)
        token = jwe.JWE()
        token.allowed_algs = ALGS + ENCS if args.allow_all else [BANK_ALG, BANK_ENC]
        token.deserialize(sys.stdin.buffer.read().decode("ascii").strip(), key=key)
        sys.stdout.buffer.write(token.payload)
        sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception as e:  # one line on stderr, like the Rust example
        print(f"peer.py: {type(e).__name__}: {e}".replace("\n", " "), file=sys.stderr)
        sys.exit(1)
