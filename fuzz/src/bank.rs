//! The properties of the two bank-response targets: what `alliancepay-http` reads from the
//! network ([`bank_response`]) and from a decrypted session ([`session_payload`]).
//!
//! Like `checks.rs`, this file is compiled into the fuzz crate and, by `#[path]`, into the
//! stable suite (`tests/tests/suite/fuzz_regressions.rs`), so it uses only crates both have:
//! `alliancepay_http` (which re-exports `alliancepay_jose`) and `serde_json`.

use std::sync::OnceLock;

use alliancepay_http::alliancepay_jose::PrivateJwk;
use alliancepay_http::model::{Operation, Order};
use alliancepay_http::protocol::{
    HttpResponse, Reply, SESSION_ERROR_CODES, read_authorize_response, read_call_response,
};
use alliancepay_http::{Session, UtcTime, parse_callback};

/// The merchant key responses are decrypted with: the RFC 7520 §5.4 recipient, as in
/// `checks.rs`, so seeds made with its public half decrypt and reach the payload parsers.
const MERCHANT_JWK: &str = concat!(
    r#"{"kty":"EC","crv":"P-384","#,
    r#""x":"YU4rRUzdmVqmRtWOs2OpDE_T5fsNIodcG8G5FWPrTPMyxpzsSOGaQLpe2FpxBmu2","#,
    r#""y":"A8-yxCHxkfBz3hKZfI1jUYMjUhsEveZ9THuwFjH2sCNdtksRJU7D5-SkgaFL1ETP","#,
    r#""d":"iTx2pk7wW-GqJkHcEkFQb2EFyYcO7RugmaW3mRrQVAOUiPommT0IdnYK2xDlZh-j"}"#
);

fn merchant() -> &'static PrivateJwk {
    static KEY: OnceLock<PrivateJwk> = OnceLock::new();
    KEY.get_or_init(|| PrivateJwk::from_json(MERCHANT_JWK.as_bytes()).expect("RFC 7520 key parses"))
}

/// A fixed "now" (2026-03-10 08:35:02 UTC), so every run replays.
fn now() -> UtcTime {
    UtcTime::from_unix(1_773_131_702)
}

/// Statuses the bank is seen to use (bank-api.md §4.1), and one it is not.
const STATUSES: [u16; 8] = [200, 400, 401, 404, 500, 502, 503, 302];
/// Content types: the bank's, a gateway's error page, none, and wrong ones.
const CONTENT_TYPES: [Option<&str>; 6] = [
    Some("application/json"),
    Some("application/json;charset=UTF-8"),
    Some("text/plain"),
    Some("text/html; charset=utf-8"),
    Some("application/octet-stream"),
    None,
];

/// Input layout: byte 0 picks the status, byte 1 the content type, the rest is the body.
///
/// Properties: authorization, a call answering an order, a call answering an operation and
/// callback parsing never panic; a session is only ever read from an HTTP 200 and has a device
/// id and a refresh token; a success (`Done`) is only ever read from an HTTP 200 that carried
/// no error body; a session rejection is either a 401 or one of the documented session codes;
/// every error renders as text (messages are what users see).
pub fn bank_response(data: &[u8]) {
    let [status, content_type, body @ ..] = data else {
        return;
    };
    let response = HttpResponse {
        status: STATUSES[usize::from(*status) % STATUSES.len()],
        content_type: CONTENT_TYPES[usize::from(*content_type) % CONTENT_TYPES.len()]
            .map(str::to_owned),
        request_id: Some("fuzz".into()),
        body: body.to_vec(),
    };
    match read_authorize_response(&response, merchant(), now()) {
        Ok(session) => {
            assert_eq!(response.status, 200, "a session from a non-200 answer");
            assert!(!session.device_id.trim().is_empty());
            assert!(!session.refresh_token.expose().trim().is_empty());
            assert!(format!("{session:?}").contains("[redacted]"));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    check_reply(
        &response,
        read_call_response::<Order>(&response, merchant()),
    );
    check_reply(
        &response,
        read_call_response::<Operation>(&response, merchant()),
    );
    if let Err(e) = parse_callback(body, merchant()) {
        assert!(!e.to_string().is_empty());
    }
}

fn check_reply<T>(response: &HttpResponse, reply: Result<Reply<T>, alliancepay_http::Error>) {
    match reply {
        Ok(Reply::Done(_)) => assert_eq!(response.status, 200, "success from a non-200 answer"),
        Ok(Reply::SessionRejected(e)) => assert!(
            response.status == 401 || SESSION_ERROR_CODES.contains(&e.msg_code.as_str()),
            "session rejection without 401 or a session code: {e}"
        ),
        Ok(Reply::StaleEncryption(e)) => {
            assert_eq!(e.msg_code, "b_encryptor_failed_decrypt_message")
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// Input: bytes as a decrypted authorization payload, and as a bank timestamp.
///
/// Properties: `Session::from_payload` never panics, and a session it accepts has a device id,
/// a refresh token and hidden tokens in `Debug`; a timestamp that parses writes back (RFC 3339,
/// the bank's UTC form and its Kyiv form) to text that parses to the same instant.
pub fn session_payload(data: &[u8]) {
    if let Ok(session) = Session::from_payload(data, now()) {
        assert!(!session.device_id.trim().is_empty());
        assert!(!session.refresh_token.expose().trim().is_empty());
        assert!(format!("{session:?}").contains("[redacted]"));
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = UtcTime::parse_bank(text) {
        for written in [
            t.to_rfc3339(),
            t.to_bank_utc(),
            t.to_bank_kyiv(),
            t.to_request_date(),
        ] {
            assert_eq!(
                UtcTime::parse_bank(&written),
                Ok(t),
                "{text:?} -> {written:?}"
            );
        }
    }
}
