#!/usr/bin/env python3
"""Writes the seeds of the two bank targets, fuzz/seeds/bank_response/ and session_payload/.

The JWEs are made by the workspace's `jose` example, encrypted to the RFC 7520 §5.4 recipient
key that fuzz/src/bank.rs decrypts with, so encrypted seeds reach the payload parsers. Payloads
follow bank-api.md §1.2 and §3; the error bodies are the documented session and refusal codes.
Re-running changes the encrypted seeds (fresh randomness); the rest is reproducible.
Usage, from the repository root: python3 fuzz/seeds/generate_bank.py
"""
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

SEEDS = Path(__file__).resolve().parent
ROOT = SEEDS.parent.parent
X = "YU4rRUzdmVqmRtWOs2OpDE_T5fsNIodcG8G5FWPrTPMyxpzsSOGaQLpe2FpxBmu2"
Y = "A8-yxCHxkfBz3hKZfI1jUYMjUhsEveZ9THuwFjH2sCNdtksRJU7D5-SkgaFL1ETP"
PUBLIC = {"kty": "EC", "crv": "P-384", "x": X, "y": Y}

# Indices into STATUSES and CONTENT_TYPES of fuzz/src/bank.rs.
S200, S400, S401, S404, S500, S502, S503 = range(7)
JSON, JSON_UTF8, TEXT, HTML, OCTETS, NO_TYPE = range(6)


def encrypt(plaintext: bytes) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".jwk", delete=False) as f:
        json.dump(PUBLIC, f)
        key = f.name
    try:
        out = subprocess.run(
            ["cargo", "run", "-q", "-p", "alliancepay-jose", "--example", "jose", "--", "encrypt", key],
            input=plaintext, capture_output=True, check=True, cwd=ROOT,
        )
    finally:
        Path(key).unlink()
    return out.stdout.decode().strip()


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def session(**extra) -> dict:
    payload = {
        "refreshToken": "0b6f7d1e-3c2a-4e59-8f4d-9a1b2c3d4e5f",
        "authToken": "7c1e9a40-5b2d-4f86-a3e1-6d0c9b8a7f21",
        "deviceId": "e4d2c1b0-9a8f-47e6-b5d4-c3b2a1908f7e",
        "serverPublic": PUBLIC,
        "tokenExpirationDateTime": "2026-03-10 09:15:02.0081 +0000",
        "tokenExpiration": "2026-03-10 11:15:02.081+02:00",
    }
    payload.update(extra)
    return {k: v for k, v in payload.items() if v is not None}


def error(code: str) -> bytes:
    return compact({"requestId": "6f1d2c3b-4a59-4e68-9d7c-1b2a3c4d5e6f", "serviceId": "api-gateway",
                    "msgType": "ERROR", "msgCode": code, "msgText": "@Text", "isLocalized": False,
                    "msgAttrs": {}, "errorCauses": []})


ORDER = {"hppOrderId": "1773131702417Qm3vTz8_kLp", "merchantRequestId": "c0a8f3d2-6b1e-4c7a-9e55-3f2d1b0a9c84",
         "merchantId": "3e9b7c10-8d2f-4a61-b5c3-0f1e2d3c4b5a", "orderStatus": "SUCCESS", "coinAmount": 125050,
         "createDate": "2026.03.10 10:35:02.410",
         "operations": {"type": "PURCHASE", "status": "SUCCESS", "operationId": "1773131790112aZ4-pQr7WsX",
                        "coinAmount": "125050", "rrn": "-1"}}
REFUND = {"type": "REFUND", "status": "PENDING", "operationId": "1773131790999bQ5", "coinAmount": 25000,
          "transactionType": 76, "originalOperationId": "1773131790112aZ4-pQr7WsX"}


def main():
    payloads = {
        "session-bank-order": session(),
        "session-utc-only": session(tokenExpiration=None),
        "session-kyiv-only": session(tokenExpirationDateTime=None),
        "session-no-expiry": session(tokenExpirationDateTime=None, tokenExpiration=None),
        "session-server-public-key-alias": {**{k: v for k, v in session().items() if k != "serverPublic"},
                                            "serverPublicKey": PUBLIC},
        "session-missing-device": session(deviceId=None),
        "session-bad-expiry": session(tokenExpirationDateTime="soon"),
    }
    responses = {}
    for name, payload in payloads.items():
        responses[f"authorize-{name}"] = bytes([S200, JSON]) + compact({"jwe": encrypt(compact(payload))})
    responses["order-plain"] = bytes([S200, JSON_UTF8]) + compact(ORDER)
    responses["order-array-operations"] = bytes([S200, JSON]) + compact({**ORDER, "operations": [ORDER["operations"]]})
    responses["refund-encrypted"] = bytes([S200, JSON]) + compact({"jwe": encrypt(compact(REFUND))})
    responses["callback-bare-jwe"] = bytes([S200, TEXT]) + encrypt(compact(ORDER)).encode()
    responses["jwe-not-a-string"] = bytes([S200, JSON]) + b'{"jwe":42}'
    responses["jwe-three-parts"] = bytes([S200, JSON]) + b'{"jwe":"a.b.c"}'
    responses["missing-jwe"] = bytes([S200, JSON]) + b'{"token":"a.b.c.d.e"}'
    responses["html-gateway"] = bytes([S502, HTML]) + b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    responses["truncated"] = bytes([S200, JSON]) + compact(ORDER)[:40]
    responses["octet-stream"] = bytes([S200, OCTETS]) + compact(ORDER)
    responses["empty-401"] = bytes([S401, NO_TYPE])
    responses["empty-503"] = bytes([S503, JSON])
    codes = [("b_expired_token", S401), ("b_session_doesnt_exist", S401), ("b_used_token", S401),
             ("b_auth_token_expired", S401), ("b_virtual_device_not_found", S200),
             ("b_encryptor_failed_decrypt_message", S200), ("b_duplicate_field_value", S400),
             ("b_hpp_order_not_found", S404), ("b_hpp_order_expired", S500), ("b_server_is_overloaded", S503),
             # Refused only on a documented refusal; a business failure, or a code never seen, is Unknown.
             ("b_txn_not_allowed", S400), ("b_payment_invalid_refund_amount", S200),
             ("b_reverse_transaction_failed", S200), ("b_code_from_a_newer_bank_version", S400)]
    for code, status in codes:
        responses[f"error-{code}"] = bytes([status, JSON]) + error(code)
    responses["error-without-code"] = bytes([S400, JSON]) + b'{"msgType":"ERROR"}'

    timestamps = ["2025-02-14 22:45:24.0463 +0000", "2025-02-15 00:45:24.463+02:00", "2026-07-01 15:00:00.000+03:00",
                  "2024-02-29T23:59:59Z", "2026-03-11 09:02:17.00+02:00", "2025.02.14 22:45:24.0463 +0000"]
    for target, seeds in [
        ("bank_response", responses),
        ("session_payload", {**{k: compact(v) for k, v in payloads.items()},
                             **{f"time-{i}": t.encode() for i, t in enumerate(timestamps)}}),
    ]:
        shutil.rmtree(SEEDS / target, ignore_errors=True)
        (SEEDS / target).mkdir(parents=True)
        for name, data in seeds.items():
            (SEEDS / target / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
