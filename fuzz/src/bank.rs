//! The properties of the two bank-response targets: what `alliancepay-http` reads from the
//! network ([`bank_response`]) and from a decrypted session ([`session_payload`]).
//!
//! Like `checks.rs`, this file is compiled into the fuzz crate and, by `#[path]`, into the
//! stable suite (`tests/tests/suite/fuzz_regressions.rs`), so it uses only crates both have:
//! `alliancepay_http` (which re-exports `alliancepay_jose`) and `serde_json`.

use std::sync::OnceLock;

use std::sync::Arc;
use std::time::Duration;

use alliancepay_http::__private::call::{Action, Call, Params};
use alliancepay_http::__private::crypto::{self, InsecureSeededRng};
use alliancepay_http::__private::protocol::{
    HttpResponse, Received, Reply, SESSION_ERROR_CODES, read_authorize_response, read_call_response,
};
use alliancepay_http::PrivateJwk;
use alliancepay_http::REFUSAL_CODES;
use alliancepay_http::{
    CreateOrder, Kopecks, MerchantRequestId, Now, Outcome, Refusal, RenewalPolicy, Session,
    UtcTime, parse_callback,
};
use alliancepay_http::{Operation, Order};

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

/// A session in which the call state machine sends its order (its `serverPublic` is the
/// merchant's own key: the order travels as plain JSON, so no encryption slows the target).
fn session() -> Arc<Session> {
    static SESSION: OnceLock<Arc<Session>> = OnceLock::new();
    Arc::clone(SESSION.get_or_init(|| {
        let payload = format!(
            r#"{{"refreshToken":"rt","deviceId":"dev","serverPublic":{},"tokenExpirationDateTime":"2026-03-11 08:35:02.0000 +0000"}}"#,
            crypto::public_jwk_to_string(merchant().public_jwk())
        );
        let mut s = Session::from_payload(payload.as_bytes(), now()).expect("a valid payload");
        s.schedule(clocks(), 0, RenewalPolicy::default());
        Arc::new(s)
    }))
}

fn clocks() -> Now {
    Now {
        wall: now(),
        monotonic: Duration::ZERO,
    }
}

/// The answer to a create-order through the protocol core: a `Done` order comes only from an
/// HTTP 200 and carries what the bank documents as mandatory; a write's end is never an error
/// type outside Done/Refused/Unknown.
fn check_order_call(response: &HttpResponse) {
    let order = CreateOrder::builder()
        .merchant_request_id(MerchantRequestId::new("fuzz-order").expect("a valid id"))
        .merchant_id("m")
        .amount(Kopecks::new(4))
        .customer("c")
        .success_url("https://s/ok")
        .fail_url("https://s/no")
        .build()
        .expect("a valid order");
    let params = Params {
        merchant: merchant(),
        service_code: "svc",
        api_version: "v1",
        renewal: RenewalPolicy::default(),
    };
    let mut rng = InsecureSeededRng::new(1);
    let mut call = Call::new(&order, params);
    let Action::Send(_) = call.start(Some(session()), clocks(), &mut rng) else {
        panic!("a usable session must lead to a request")
    };
    let received = Received {
        response: response.clone(),
        date: None,
    };
    match call.handle_response(received, clocks(), &mut rng) {
        Action::Finish(Outcome::Done(o)) => {
            assert_eq!(response.status, 200, "Done from a non-200 answer");
            assert!(!o.hpp_order_id.trim().is_empty());
            assert_eq!(o.merchant_request_id.as_deref(), Some("fuzz-order"));
            assert!(
                o.redirect_url
                    .as_deref()
                    .is_some_and(|u| !u.trim().is_empty())
            );
        }
        Action::Finish(Outcome::Unknown(u)) => {
            assert_eq!(u.merchant_request_id.as_deref(), Some("fuzz-order"));
            assert!(!u.to_string().is_empty());
        }
        // "Nothing happened" only on a refusal the bank documents, named in the body it sent:
        // never an unrecognised code, a missing one, or anything this side made up.
        Action::Finish(Outcome::Refused(Refusal::Bank(e))) => {
            assert!(e.is_refusal(), "Refused on an undocumented code: {e}");
            assert!(REFUSAL_CODES.contains(&e.msg_code.as_str()));
            assert!(response.status < 500, "Refused from a {}", response.status);
            assert!(
                body_mentions(&response.body, &e.msg_code),
                "Refused with a code the body does not carry: {e}"
            );
            assert!(!e.to_string().is_empty());
        }
        Action::Finish(Outcome::Refused(other)) => {
            panic!("a create-order answer refused other than by a documented code: {other}")
        }
        Action::WaitForAuthorization => {}
        Action::Send(_) | Action::Authorize(_) => panic!("a request without a wait"),
    }
}

fn body_mentions(body: &[u8], code: &str) -> bool {
    body.windows(code.len()).any(|w| w == code.as_bytes())
}

/// Input layout: byte 0 picks the status, byte 1 the content type, the rest is the body.
///
/// Properties: authorization, a call answering an order, a call answering an operation and
/// callback parsing never panic; a session is only ever read from an HTTP 200 and has a device
/// id and a refresh token; a success (`Done`) is only ever read from an HTTP 200 that carried
/// no error body; a session rejection is either a 401 or one of the documented session codes;
/// through the call state machine a create-order is `Done` only with its mandatory members and
/// `Refused` only on a documented refusal code the body carries;
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
    check_order_call(&response);
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
