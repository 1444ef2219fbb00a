//! The bank's wire format as pure functions: how each request is built and what each response
//! means. No sockets, clock or OS randomness here: time and an RNG are parameters. The order
//! in which these are used (authorize first, renew, re-authorize once, resend once) is decided
//! by the state machine in [`crate::call`].

use core::fmt;

use alliancepay_jose::PrivateJwk;
use rand_core::CryptoRng;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::BankError;
use crate::model::{
    CreateOrder, MerchantRequestId, Operation, OperationQuery, Order, OrderQuery, Refund, Validate,
};
use crate::session::Session;
use crate::time::UtcTime;
use crate::{Error, crypto};

/// Path of device authorization.
pub const AUTHORIZE_PATH: &str = "/api-gateway/authorize_virtual_device";
/// Path of HPP order creation.
pub const CREATE_ORDER_PATH: &str = "/ecom/execute_request/hpp/v1/create-order";
/// Path of HPP order data.
pub const ORDER_DATA_PATH: &str = "/ecom/execute_request/hpp/v1/operations";
/// Path of refunds (HPP and H2H).
pub const REFUND_PATH: &str = "/ecom/execute_request/payments/v3/refund";
/// Path of the H2H lookup by operation id.
pub const OPERATION_BY_ID_PATH: &str = "/ecom/execute_request/payments/v1/operations";
/// Path of the H2H lookup by `merchantRequestId`.
pub const OPERATION_BY_REQUEST_ID_PATH: &str =
    "/ecom/execute_request/payments/v1/operation/by_merchant_request_id";

/// Error codes that mean "this session is no longer good": re-authorize once, retry once
/// (bank-api.md §4.2). `b_auth_token_expired` is here too: on a regular call it earns one
/// re-authorization; only on the authorization itself is it fatal.
pub const SESSION_ERROR_CODES: [&str; 7] = [
    "b_expired_token",
    "b_session_doesnt_exist",
    "b_used_token",
    "b_previous_auth_token_expired",
    "b_unknown_device",
    "b_virtual_device_not_found",
    "b_auth_token_expired",
];

/// The bank could not decrypt our body: after a session change, re-encrypt and retry once.
pub const STALE_ENCRYPTION_CODE: &str = "b_encryptor_failed_decrypt_message";

/// What the bank accepts for `x-api_version` (bank-api.md §5 item 5); ours is configurable.
pub const DEFAULT_API_VERSION: &str = "v1";

/// One request, ready for any transport. `Debug` lists header names only: values include the
/// refresh token.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Path below the base URL.
    pub path: &'static str,
    /// Headers besides `Content-Type`.
    pub headers: Vec<(&'static str, String)>,
    /// `application/json`, or `text/plain` for a JWE body.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("HttpRequest")
            .field("path", &self.path)
            .field("headers", &names)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpRequest {
    /// The value of header `name`, if set.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One response, as any transport received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The `x-request_id` header.
    pub request_id: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// A response together with the headers the flow reads beyond [`HttpResponse`]: the `Date`
/// header, from which an authorization learns the bank's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The response.
    pub response: HttpResponse,
    /// The raw `Date` header, if the server sent one.
    pub date: Option<String>,
}

impl From<HttpResponse> for Received {
    fn from(response: HttpResponse) -> Self {
        Self {
            response,
            date: None,
        }
    }
}

/// Whether a call changes anything at the bank. Decides how failures are reported: a write
/// whose answer is lost or unreadable has an unknown outcome; a read simply failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Creates an order or moves money; identified by its `merchantRequestId`.
    Write,
    /// Looks something up.
    Read,
}

/// A typed bank endpoint: its path, whether its body is encrypted, what it returns, and what a
/// success must contain.
pub trait Endpoint: Validate {
    /// The decoded success response.
    type Output: DeserializeOwned;
    /// Write or read.
    const KIND: Kind;
    /// The path below the base URL.
    fn path(&self) -> &'static str;
    /// Whether the body travels as a JWE to the session's `serverPublic` (the `payments/*`
    /// paths).
    fn encrypted(&self) -> bool;
    /// Whether a success must come as `{"jwe"}` (refunds: bank-api.md §3.4); otherwise a plain
    /// JSON document is accepted too.
    fn answer_encrypted(&self) -> bool {
        false
    }
    /// Whether the body states the time (a refund's `date`, which the bank checks against its
    /// clock): then the request is not built before the bank's time was observed.
    fn dated(&self) -> bool {
        false
    }
    /// The JSON body at the bank's time `bank_now` (a refund states the time it was made).
    ///
    /// # Errors
    /// Serialization failure, which our types never cause.
    fn json_body(&self, bank_now: UtcTime) -> Result<Vec<u8>, Error>;
    /// The idempotency key of a write.
    fn merchant_request_id(&self) -> Option<&MerchantRequestId>;
    /// Checks a decoded success against this request: the members bank-api.md marks mandatory
    /// are present and the record is the one asked for. `Err` names what is missing or wrong.
    ///
    /// # Errors
    /// A sentence naming the member.
    fn check(&self, output: &Self::Output) -> Result<(), String>;
    /// The bank's refusal recorded inside a success (`status` `FAIL`), if any.
    fn refusal_in(&self, _output: &Self::Output) -> Option<crate::outcome::Refusal> {
        None
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(v).map_err(|e| Error::invalid("request", e.to_string()))
}

fn non_empty(member: &str, value: Option<&str>) -> Result<(), String> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(()),
        _ => Err(format!("the answer has no {member}")),
    }
}

fn echoes(member: &str, value: Option<&str>, expected: &str) -> Result<(), String> {
    non_empty(member, value)?;
    if value == Some(expected) {
        Ok(())
    } else {
        Err(format!(
            "the answer's {member} {:?} is not the requested {expected:?}",
            value.unwrap_or_default()
        ))
    }
}

/// An echo the contract marks nullable: a different value is refused (it is another record),
/// a missing one is accepted (bank-api.md §3.5: every member of an operation record is
/// nullable).
fn echoes_if_present(member: &str, value: Option<&str>, expected: &str) -> Result<(), String> {
    match value {
        None => Ok(()),
        Some(v) if v.trim().is_empty() => Ok(()),
        Some(_) => echoes(member, value, expected),
    }
}

/// What every operation record must carry to count as one (bank-api.md §3.5 makes every
/// member nullable, but a record without an id or a status says nothing).
fn check_operation(op: &Operation) -> Result<(), String> {
    non_empty("operationId", op.operation_id.as_deref())?;
    non_empty("status", op.status.as_deref())
}

/// A record with status `FAIL`: the bank recorded the request and declined it. Returns the
/// `errorDetails` code when there is one (a string, or the JSON text of anything else); a
/// `FAIL` without it is a decline all the same.
#[must_use]
pub fn operation_refusal(op: &Operation) -> Option<Option<String>> {
    if op.status.as_deref() != Some("FAIL") {
        return None;
    }
    let details = match op.other.get("errorDetails") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    Some(details)
}

fn declined(op: &Operation) -> Option<crate::outcome::Refusal> {
    operation_refusal(op).map(|code| crate::outcome::Refusal::Declined {
        code,
        operation: Box::new(op.clone()),
    })
}

impl Endpoint for CreateOrder {
    type Output = Order;
    const KIND: Kind = Kind::Write;
    fn path(&self) -> &'static str {
        CREATE_ORDER_PATH
    }
    fn encrypted(&self) -> bool {
        false
    }
    fn json_body(&self, _: UtcTime) -> Result<Vec<u8>, Error> {
        to_json(self)
    }
    fn merchant_request_id(&self) -> Option<&MerchantRequestId> {
        Some(&self.merchant_request_id)
    }
    /// `hppOrderId`, our `merchantRequestId` echoed, and the `redirectUrl` the customer needs.
    fn check(&self, order: &Order) -> Result<(), String> {
        non_empty("hppOrderId", Some(&order.hpp_order_id))?;
        echoes(
            "merchantRequestId",
            order.merchant_request_id.as_deref(),
            &self.merchant_request_id,
        )?;
        non_empty("redirectUrl", order.redirect_url.as_deref())
    }
}

impl Endpoint for OrderQuery {
    type Output = Order;
    const KIND: Kind = Kind::Read;
    fn path(&self) -> &'static str {
        ORDER_DATA_PATH
    }
    fn encrypted(&self) -> bool {
        false
    }
    fn json_body(&self, _: UtcTime) -> Result<Vec<u8>, Error> {
        to_json(self)
    }
    fn merchant_request_id(&self) -> Option<&MerchantRequestId> {
        None
    }
    /// The order asked for. Its operations are not checked member by member: bank-api.md §3.5
    /// makes every member of an operation nullable (a purchase attempt may have no
    /// `operationId` yet), and one such attempt must not hide the order.
    fn check(&self, order: &Order) -> Result<(), String> {
        echoes("hppOrderId", Some(&order.hpp_order_id), &self.hpp_order_id)
    }
}

impl Endpoint for Refund {
    type Output = Operation;
    const KIND: Kind = Kind::Write;
    fn path(&self) -> &'static str {
        REFUND_PATH
    }
    fn encrypted(&self) -> bool {
        true
    }
    fn answer_encrypted(&self) -> bool {
        true
    }
    fn dated(&self) -> bool {
        true
    }
    /// Adds `date`: the bank refuses a refund whose stated time is far from its clock, so a
    /// resent refund is rebuilt with a fresh date (and the same `merchantRequestId`).
    ///
    /// Serialized straight from the struct, never through `serde_json::Value`: a `Value`'s
    /// member order depends on serde_json's `preserve_order` feature, which any other crate in
    /// an application's build can turn on, and the bytes on the wire must not (the replay test
    /// compares them).
    fn json_body(&self, bank_now: UtcTime) -> Result<Vec<u8>, Error> {
        #[derive(serde::Serialize)]
        struct Dated<'a> {
            #[serde(flatten)]
            refund: &'a Refund,
            date: String,
        }
        to_json(&Dated {
            refund: self,
            date: bank_now.to_request_date(),
        })
    }
    fn merchant_request_id(&self) -> Option<&MerchantRequestId> {
        Some(&self.merchant_request_id)
    }
    /// An operation id and a status, and not another request's record: a `merchantRequestId`
    /// that differs is refused, a missing one accepted (nullable in bank-api.md §3.5).
    fn check(&self, op: &Operation) -> Result<(), String> {
        check_operation(op)?;
        echoes_if_present(
            "merchantRequestId",
            op.merchant_request_id.as_deref(),
            &self.merchant_request_id,
        )
    }
    fn refusal_in(&self, op: &Operation) -> Option<crate::outcome::Refusal> {
        declined(op)
    }
}

impl Endpoint for OperationQuery {
    type Output = Operation;
    const KIND: Kind = Kind::Read;
    fn path(&self) -> &'static str {
        match self {
            Self::ById { .. } => OPERATION_BY_ID_PATH,
            Self::ByMerchantRequestId { .. } => OPERATION_BY_REQUEST_ID_PATH,
        }
    }
    fn encrypted(&self) -> bool {
        true
    }
    fn json_body(&self, _: UtcTime) -> Result<Vec<u8>, Error> {
        to_json(self)
    }
    fn merchant_request_id(&self) -> Option<&MerchantRequestId> {
        None
    }
    fn check(&self, op: &Operation) -> Result<(), String> {
        check_operation(op)?;
        match self {
            Self::ById { id } => echoes("operationId", op.operation_id.as_deref(), id),
            Self::ByMerchantRequestId {
                merchant_request_id,
            } => echoes_if_present(
                "merchantRequestId",
                op.merchant_request_id.as_deref(),
                merchant_request_id,
            ),
        }
    }
    fn refusal_in(&self, op: &Operation) -> Option<crate::outcome::Refusal> {
        declined(op)
    }
}

/// The device-authorization request: only `serviceCode`, in the body (never the query);
/// `rng` makes its `x-request_id`.
#[must_use]
pub fn authorize_request<R: CryptoRng + ?Sized>(
    service_code: &str,
    api_version: &str,
    rng: &mut R,
) -> HttpRequest {
    HttpRequest {
        path: AUTHORIZE_PATH,
        headers: vec![
            ("x-api_version", api_version.to_owned()),
            ("x-request_id", crypto::uuid_from(rng)),
        ],
        content_type: "application/json",
        body: serde_json::json!({ "serviceCode": service_code })
            .to_string()
            .into_bytes(),
    }
}

/// Reads the authorization response obtained at `now` into a session.
///
/// # Errors
/// [`Error::ServiceCodeLocked`] for `b_auth_token_expired`, [`Error::Bank`] for other refusals,
/// [`Error::Decryption`] if the JWE is not for `merchant`, [`Error::MalformedResponse`] for
/// anything not shaped like the contract.
pub fn read_authorize_response(
    response: &HttpResponse,
    merchant: &PrivateJwk,
    now: UtcTime,
) -> Result<Session, Error> {
    let value = json_body(response)?;
    if let Some(e) = bank_error(response, &value) {
        return Err(if e.msg_code == "b_auth_token_expired" {
            Error::ServiceCodeLocked(e)
        } else {
            Error::Bank(e)
        });
    }
    if response.status != 200 {
        return Err(Error::malformed(
            response.status,
            "an authorization answer that is neither a session nor an error body",
        ));
    }
    let token = jwe_member(response, &value)?.ok_or_else(|| {
        Error::malformed(
            response.status,
            "the authorization answer has no \"jwe\" member",
        )
    })?;
    let payload = crypto::decrypt_to_vec(merchant, token).map_err(|source| Error::Decryption {
        what: "session",
        source,
    })?;
    Session::from_payload(&payload, now)
}

/// How far the host's clock may be off the bank's before a warning (refund dates are checked
/// against the bank's clock within minutes).
pub const CLOCK_WARNING_SECS: i64 = 60;

/// The bank's clock minus the host's, from an authorization answer received when the host's
/// wall clock read `local`: the `Date` header when there is one; otherwise, if the stated
/// expiry is not within (0, 48 h] of the host's clock, the host's clock is the one that is
/// wrong, and the bank's time is taken as the expiry minus the usual 24 h; otherwise 0.
#[must_use]
pub fn clock_offset(date: Option<&str>, local: UtcTime, expires_at: UtcTime) -> i64 {
    if let Some(bank_now) = date.and_then(|d| UtcTime::parse_http_date(d).ok()) {
        return bank_now.since(local);
    }
    let left = expires_at.since(local);
    if left > 0 && left <= 2 * crate::session::DEFAULT_SESSION_SECS {
        0
    } else {
        expires_at
            .plus(-crate::session::DEFAULT_SESSION_SECS)
            .since(local)
    }
}

/// Reads an authorization answer received at `now` into a session whose renewal is scheduled
/// by `policy` on the monotonic clock, with the clock offset measured from the answer (see
/// [`clock_offset`]).
///
/// # Errors
/// As [`read_authorize_response`].
pub fn read_authorization(
    received: &Received,
    merchant: &PrivateJwk,
    now: crate::time::Now,
    policy: crate::session::RenewalPolicy,
) -> Result<Session, Error> {
    let date = received
        .date
        .as_deref()
        .and_then(|d| UtcTime::parse_http_date(d).ok());
    let mut session =
        read_authorize_response(&received.response, merchant, date.unwrap_or(now.wall))?;
    let offset = clock_offset(received.date.as_deref(), now.wall, session.expires_at);
    session.authorized_at = now.wall.plus(offset);
    session.schedule(now, offset, policy);
    // From here on the bank's time follows the monotonic clock (and each later `Date`), so a
    // wall clock stepped after this moment does not misdate refunds.
    session.observe_bank_time(session.authorized_at, now);
    Ok(session)
}

/// The request for `call` within `session` at the bank's time `bank_now`: the session
/// headers, an `x-request_id` from `rng`, and the body, encrypted to the session's
/// `serverPublic` (ephemeral key and IV from `rng`) when the call requires it. Validates first.
///
/// # Errors
/// [`Error::InvalidInput`] naming the field that fails the documented limits;
/// [`Error::Encryption`] if the body cannot be encrypted.
pub fn call_request<C: Endpoint, R: CryptoRng + ?Sized>(
    call: &C,
    session: &Session,
    api_version: &str,
    bank_now: UtcTime,
    rng: &mut R,
) -> Result<HttpRequest, Error> {
    call.validate()?;
    let json = call.json_body(bank_now)?;
    let (content_type, body) = if call.encrypted() {
        let token =
            crypto::encrypt_with(&session.server_public, &json, rng).map_err(Error::Encryption)?;
        ("text/plain", token.into_bytes())
    } else {
        ("application/json", json)
    };
    Ok(HttpRequest {
        path: call.path(),
        headers: vec![
            ("x-api_version", api_version.to_owned()),
            ("x-device_id", session.device_id.clone()),
            ("x-refresh_token", session.refresh_token.expose().to_owned()),
            ("x-request_id", crypto::uuid_from(rng)),
        ],
        content_type,
        body,
    })
}

/// What a response to a call means.
#[derive(Debug)]
pub enum Reply<T> {
    /// Success.
    Done(T),
    /// The bank no longer accepts the session: re-authorize once and send the call again.
    SessionRejected(BankError),
    /// The bank could not decrypt the body: if the session changed since it was encrypted,
    /// rebuild it with the current session and send it once more.
    StaleEncryption(BankError),
}

/// Reads the response to a call. Errors are classified by `msgCode`, not by status: many
/// arrive with HTTP 200 (bank-api.md §4.1).
///
/// # Errors
/// [`Error::Bank`] for refusals other than session ones, [`Error::Decryption`] for a `jwe`
/// that is not for `merchant`, [`Error::MalformedResponse`] for anything else off-contract.
pub fn read_call_response<T: DeserializeOwned>(
    response: &HttpResponse,
    merchant: &PrivateJwk,
) -> Result<Reply<T>, Error> {
    read_reply(response, merchant, false)
}

/// [`read_call_response`], refusing a success without a `jwe` member when `jwe_required`.
///
/// # Errors
/// As [`read_call_response`].
pub fn read_reply<T: DeserializeOwned>(
    response: &HttpResponse,
    merchant: &PrivateJwk,
    jwe_required: bool,
) -> Result<Reply<T>, Error> {
    let value = match json_body(response) {
        // A 401 is a session error even without a readable body.
        Err(_) if response.status == 401 => {
            return Ok(Reply::SessionRejected(unauthorized(response)));
        }
        other => other?,
    };
    if let Some(e) = bank_error(response, &value) {
        return Ok(if SESSION_ERROR_CODES.contains(&e.msg_code.as_str()) {
            Reply::SessionRejected(e)
        } else if e.msg_code == STALE_ENCRYPTION_CODE {
            Reply::StaleEncryption(e)
        } else {
            return Err(Error::Bank(e));
        });
    }
    if response.status == 401 {
        return Ok(Reply::SessionRejected(unauthorized(response)));
    }
    if response.status != 200 {
        return Err(Error::malformed(
            response.status,
            "a non-200 answer without an error body",
        ));
    }
    let decoded = match jwe_member(response, &value)? {
        Some(token) => {
            let plain =
                crypto::decrypt_to_vec(merchant, token).map_err(|source| Error::Decryption {
                    what: "response",
                    source,
                })?;
            serde_json::from_slice(&plain)
        }
        None if jwe_required => {
            return Err(Error::malformed(
                response.status,
                "a success without the \"jwe\" member this endpoint answers with",
            ));
        }
        None => serde_json::from_value(value),
    };
    decoded.map(Reply::Done).map_err(|e| {
        Error::malformed(
            response.status,
            format!("the answer does not have the documented shape: {e}"),
        )
    })
}

fn unauthorized(response: &HttpResponse) -> BankError {
    BankError {
        status: response.status,
        msg_type: "ERROR".into(),
        msg_code: "http_401".into(),
        message: "unauthorized".into(),
        request_id: response.request_id.clone(),
    }
}

/// The body as one JSON object, or why it is not.
fn json_body(response: &HttpResponse) -> Result<Value, Error> {
    let status = response.status;
    let body = response.body.trim_ascii();
    let content_type = response
        .content_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("text/html") || body.first() == Some(&b'<') {
        return Err(Error::malformed(
            status,
            "an HTML page instead of JSON (a proxy or gateway error page?)",
        ));
    }
    if body.is_empty() {
        return Err(Error::malformed(status, "an empty body"));
    }
    if !(content_type.is_empty()
        || content_type.contains("json")
        || content_type.starts_with("text/plain"))
    {
        return Err(Error::malformed(
            status,
            format!("content type {content_type:?} where JSON was expected"),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Error::malformed(status, "JSON that is not an object")),
        Err(e) if e.is_eof() => Err(Error::malformed(
            status,
            format!("a truncated JSON body ({} bytes)", body.len()),
        )),
        Err(e) => Err(Error::malformed(
            status,
            format!("a body that is not JSON: {e}"),
        )),
    }
}

/// The error in `value`, if it is the bank's error body.
fn bank_error(response: &HttpResponse, value: &Value) -> Option<BankError> {
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let msg_type = text("msgType")?;
    if !msg_type.eq_ignore_ascii_case("ERROR") {
        return None;
    }
    Some(BankError {
        status: response.status,
        msg_type,
        // No code says nothing about the money: a marker no refusal list contains.
        msg_code: text("msgCode")
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| crate::error::MISSING_CODE.into()),
        message: text("msgText").unwrap_or_default(),
        request_id: text("requestId").or_else(|| response.request_id.clone()),
    })
}

/// The `jwe` member: `None` when absent, an error when present but not a compact token.
fn jwe_member<'v>(response: &HttpResponse, value: &'v Value) -> Result<Option<&'v str>, Error> {
    match value.get("jwe") {
        None => Ok(None),
        Some(Value::String(s)) if s.split('.').count() == 5 => Ok(Some(s)),
        Some(_) => Err(Error::malformed(
            response.status,
            "\"jwe\" is not a compact JWE of five parts",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kopecks;

    fn merchant() -> PrivateJwk {
        PrivateJwk::generate(&mut crypto::os_rng()).unwrap()
    }

    fn now() -> UtcTime {
        UtcTime::parse_bank("2026-03-09T09:15:02Z").unwrap()
    }

    fn response(status: u16, content_type: &str, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            content_type: Some(content_type.into()),
            request_id: Some("rid-1".into()),
            body: body.as_bytes().to_vec(),
        }
    }

    fn session_payload(server: &PrivateJwk) -> String {
        format!(
            r#"{{"refreshToken":"rt-1","authToken":"at-1","deviceId":"dev-1","serverPublic":{},"tokenExpirationDateTime":"2026-03-10 09:15:02.0081 +0000"}}"#,
            crypto::public_jwk_to_string(server.public_jwk())
        )
    }

    fn session(server: &PrivateJwk) -> Session {
        Session::from_payload(session_payload(server).as_bytes(), now()).unwrap()
    }

    fn error_body(code: &str) -> String {
        format!(
            r#"{{"requestId":"r-9","serviceId":"api-gateway","msgType":"ERROR","msgCode":"{code}","msgText":"@Text","isLocalized":false,"msgAttrs":{{}},"errorCauses":[]}}"#
        )
    }

    #[test]
    fn authorize_sends_only_the_service_code() {
        let req = authorize_request("svc", "v1", &mut crypto::os_rng());
        assert_eq!(req.path, AUTHORIZE_PATH);
        assert_eq!(
            serde_json::from_slice::<Value>(&req.body).unwrap(),
            serde_json::json!({"serviceCode": "svc"})
        );
        assert!(req.header("x-refresh_token").is_none() && req.header("x-device_id").is_none());
        assert_eq!(req.header("x-api_version"), Some("v1"));
    }

    #[test]
    fn authorize_response_decrypts_to_a_session() {
        let (merchant, server) = (merchant(), merchant());
        let jwe =
            crypto::encrypt_to_string(merchant.public_jwk(), session_payload(&server).as_bytes())
                .unwrap();
        let ok = response(200, "application/json", &format!(r#"{{"jwe":"{jwe}"}}"#));
        let s = read_authorize_response(&ok, &merchant, now()).unwrap();
        assert_eq!(s.device_id, "dev-1");
        assert_eq!(s.server_public, *server.public_jwk());
        // Encrypted to somebody else: a decryption error, not a panic or a malformed one.
        let other = read_authorize_response(&ok, &server, now()).unwrap_err();
        assert!(
            matches!(
                other,
                Error::Decryption {
                    what: "session",
                    ..
                }
            ),
            "{other:?}"
        );
    }

    #[test]
    fn authorize_failures_are_classified() {
        let m = merchant();
        let locked = read_authorize_response(
            &response(401, "application/json", &error_body("b_auth_token_expired")),
            &m,
            now(),
        );
        assert!(
            matches!(locked, Err(Error::ServiceCodeLocked(_))),
            "{locked:?}"
        );
        let refused = read_authorize_response(
            &response(200, "application/json", &error_body("b_merchant_not_found")),
            &m,
            now(),
        );
        assert!(
            matches!(refused, Err(Error::Bank(ref e)) if e.msg_code == "b_merchant_not_found" && e.request_id.as_deref() == Some("r-9")),
            "{refused:?}"
        );
        for (body, what) in [
            (r#"{"token":"a.b.c.d.e"}"#, "no \"jwe\""),
            (r#"{"jwe":"a.b.c"}"#, "five parts"),
            (r#"{"jwe":42}"#, "five parts"),
            (r#"{"jwe":"eyJhbGciOi"#, "truncated"),
            ("<html><body>502 Bad Gateway</body></html>", "HTML"),
            ("", "empty"),
            ("[1,2]", "not an object"),
        ] {
            let e = read_authorize_response(&response(200, "application/json", body), &m, now())
                .unwrap_err();
            assert!(
                matches!(e, Error::MalformedResponse { .. }) && e.to_string().contains(what),
                "{body}: {e}"
            );
        }
        let wrong_type =
            read_authorize_response(&response(200, "application/octet-stream", "{}"), &m, now())
                .unwrap_err();
        assert!(
            wrong_type.to_string().contains("content type"),
            "{wrong_type}"
        );
    }

    #[test]
    fn clock_offset_from_date_or_from_the_expiry() {
        let local = now();
        let expiry = local.plus(86_400);
        let date = local.plus(-90_000).to_http_date();
        assert_eq!(clock_offset(Some(&date), local, expiry), -90_000);
        // No (readable) Date and a plausible expiry: the host clock is trusted.
        assert_eq!(clock_offset(None, local, expiry), 0);
        assert_eq!(clock_offset(Some("yesterday"), local, expiry), 0);
        // An expiry already past, or days away, by the host clock: the host is off.
        assert_eq!(clock_offset(None, local.plus(86_400), expiry), -86_400);
        assert_eq!(
            clock_offset(None, local.plus(-3 * 86_400), expiry),
            3 * 86_400
        );
    }

    #[test]
    fn call_request_carries_the_session_headers() {
        let server = merchant();
        let s = session(&server);
        let order = CreateOrder::builder()
            .merchant_id("m-1")
            .amount(Kopecks::new(100))
            .customer("c-1")
            .success_url("https://a.example/ok")
            .fail_url("https://a.example/no")
            .build()
            .unwrap();
        let req = call_request(&order, &s, "v1", now(), &mut crypto::os_rng()).unwrap();
        assert_eq!(
            (req.path, req.content_type),
            (CREATE_ORDER_PATH, "application/json")
        );
        assert_eq!(req.header("x-device_id"), Some("dev-1"));
        assert_eq!(req.header("x-refresh_token"), Some("rt-1"));
        assert_eq!(req.header("x-request_id").map(str::len), Some(36));
        assert!(!format!("{req:?}").contains("rt-1"));
    }

    #[test]
    fn encrypted_calls_go_to_the_session_key_with_a_date() {
        let server = merchant();
        let s = session(&server);
        let refund = Refund::builder()
            .merchant_id("m-1")
            .operation_id("op-1")
            .amount(Kopecks::new(2500))
            .build()
            .unwrap();
        let req = call_request(&refund, &s, "v1", now(), &mut crypto::os_rng()).unwrap();
        assert_eq!(req.content_type, "text/plain");
        let plain =
            crypto::decrypt_to_vec(&server, std::str::from_utf8(&req.body).unwrap()).unwrap();
        let body: Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(
            body["merchantRequestId"],
            refund.merchant_request_id.as_str()
        );
        assert_eq!(body["coinAmount"], "2500");
        assert_eq!(body["date"], "2026-03-09 11:15:02.00+02:00");
    }

    #[test]
    fn invalid_input_is_refused_before_anything_is_built() {
        let s = session(&merchant());
        let mut refund = Refund::builder()
            .merchant_id("m-1")
            .operation_id("op-1")
            .amount(Kopecks::new(2500))
            .build()
            .unwrap();
        // The builder refuses it too; a refund edited afterwards is checked again here.
        refund.operation_id.clear();
        assert!(
            matches!(call_request(&refund, &s, "v1", now(), &mut crypto::os_rng()), Err(Error::InvalidInput { ref field, .. }) if field == "operationId")
        );
    }

    #[test]
    fn call_responses_are_classified_by_msg_code() {
        let m = merchant();
        let read = |status, body: &str| {
            read_call_response::<Order>(&response(status, "application/json", body), &m)
        };
        for code in SESSION_ERROR_CODES {
            assert!(
                matches!(read(401, &error_body(code)), Ok(Reply::SessionRejected(ref e)) if e.msg_code == code),
                "{code}"
            );
        }
        assert!(matches!(
            read(200, &error_body("b_virtual_device_not_found")),
            Ok(Reply::SessionRejected(_))
        ));
        assert!(matches!(
            read(200, &error_body(STALE_ENCRYPTION_CODE)),
            Ok(Reply::StaleEncryption(_))
        ));
        assert!(
            matches!(read(401, ""), Ok(Reply::SessionRejected(ref e)) if e.msg_code == "http_401")
        );
        assert!(matches!(
            read(401, "<html>denied</html>"),
            Ok(Reply::SessionRejected(_))
        ));
        assert!(
            matches!(read(400, &error_body("b_duplicate_field_value")), Err(Error::Bank(ref e)) if e.status == 400)
        );
        // An error body with HTTP 200 is still an error.
        assert!(matches!(
            read(200, &error_body("b_invalid_request")),
            Err(Error::Bank(_))
        ));
        let e = read(503, "").unwrap_err();
        assert!(e.outcome_unknown(), "{e}");
        let plain = read(200, r#"{"hppOrderId":"h-1","orderStatus":"PENDING"}"#).unwrap();
        assert!(matches!(plain, Reply::Done(ref o) if o.hpp_order_id == "h-1"));
        let shape = read(200, r#"{"orderStatus":"PENDING"}"#).unwrap_err();
        assert!(shape.to_string().contains("hppOrderId"), "{shape}");
    }

    #[test]
    fn encrypted_responses_are_decrypted_with_the_merchant_key() {
        let m = merchant();
        let jwe = crypto::encrypt_to_string(
            m.public_jwk(),
            br#"{"type":"REFUND","status":"PENDING","operationId":"op-2"}"#,
        )
        .unwrap();
        let reply = read_call_response::<Operation>(
            &response(200, "application/json", &format!(r#"{{"jwe":"{jwe}"}}"#)),
            &m,
        )
        .unwrap();
        assert!(matches!(reply, Reply::Done(ref op) if op.operation_id.as_deref() == Some("op-2")));
        let wrong = read_call_response::<Operation>(
            &response(200, "application/json", &format!(r#"{{"jwe":"{jwe}"}}"#)),
            &merchant(),
        );
        assert!(matches!(
            wrong,
            Err(Error::Decryption {
                what: "response",
                ..
            })
        ));
    }
}
