#!/usr/bin/env python3
"""Checks alliancepay-jose's hazmat scalar multiplication against OpenSSL (via `cryptography`).

Reads lines `k px py ours_x ours_y` (hex, big-endian) from stdin, as written by the test
`scalar_mul::adversarial_scalars_match_openssl`. For the generator, OpenSSL's public key of the
private scalar k is the whole product k·G, compared coordinate by coordinate; for any other
point, OpenSSL's ECDH of k with it gives the x-coordinate. Prints each mismatch and exits 1 if
there is one; otherwise prints "<count> products match".
"""

import sys

from cryptography.hazmat.primitives.asymmetric import ec

GX = int("aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a38"
         "5502f25dbf55296c3a545e3872760ab7", 16)
GY = int("3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c0"
         "0a60b1ce1d7e819d7a431d7c90ea0e5f", 16)


def main():
    curve = ec.SECP384R1()
    matches, mismatches = 0, []
    for line in sys.stdin:
        if not line.strip():
            continue
        k, px, py, ours_x, ours_y = (int(field, 16) for field in line.split())
        private = ec.derive_private_key(k, curve)
        if (px, py) == (GX, GY):
            numbers = private.public_key().public_numbers()
            theirs = (numbers.x, numbers.y)
            ours = (ours_x, ours_y)
        else:
            peer = ec.EllipticCurvePublicNumbers(px, py, curve).public_key()
            theirs = int.from_bytes(private.exchange(ec.ECDH(), peer), "big")
            ours = ours_x
        if theirs == ours:
            matches += 1
        else:
            mismatches.append(f"k={k:x} P=({px:x}, {py:x}): ours {ours}, OpenSSL {theirs}")
    if mismatches:
        print("\n".join(mismatches))
        return 1
    print(f"{matches} products match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
