//! The simulated bank: its state and one function per endpoint, each taking a parsed
//! [`Request`] and answering a [`Response`] (plus any callbacks to send). No sockets here, so
//! every rule is unit-tested by calling [`Bank::handle`].
//!
//! Cryptography is real: every session has its own P-384 key pair, whose public half the
//! authorization answer carries as `serverPublic`; `payments/*` bodies must be compact JWEs to
//! it, and the answers (and encrypted callbacks) are JWEs to the merchant's registered key.
//! Key generation and JWE work happen outside the state lock.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use alliancepay_jose::{KeyParams, PrivateJwk, PublicJwk};
use serde_json::{Map, Value, json};

use super::callbacks::Delivery;
use super::http::{Request, Response};
use super::validate::{self, Invalid, OrderRequest, RefundRequest};
use super::{MerchantRegistration, PaymentOutcome, errors, formats, lock};
use crate::crypto::{self, new_uuid, os_rng};
use crate::protocol::{
    AUTHORIZE_PATH, CREATE_ORDER_PATH, OPERATION_BY_ID_PATH, OPERATION_BY_REQUEST_ID_PATH,
    ORDER_DATA_PATH, REFUND_PATH,
};
use crate::time::UtcTime;

mod lookups;
mod orders;
mod pay;
mod records;
mod refunds;
mod retention;
mod sessions;

pub(crate) use records::CardUsed;
#[cfg(test)]
use records::OPERATION_MEMBERS;
use records::with_documented_members;
pub(crate) use retention::{Evicted, Retention};

/// The `x-api_version` values the bank accepts (bank-api.md §5 item 5).
pub const API_VERSIONS: [&str; 3] = ["1", "v1", "V1"];
/// How far a refund's `date` may be from the bank's clock.
pub const MAX_DATE_SKEW_SECS: i64 = 600;
/// Order lifetime when `expirationTimeMinutes` is absent: every docs example without it shows
/// `expiredOrderDate` = `createDate` + 15 min (bank-api.md §3.2).
pub const DEFAULT_ORDER_MINUTES: u64 = 15;
/// Set by fault injection only (incoming copies are removed): the refund is recorded as `FAIL`
/// with this `errorDetails`.
pub(crate) const FORCED_ERROR_DETAILS_HEADER: &str = "x-simulator-error-details";
/// The card mask of the simulated customer's card (the bank's test-card style).
const TEST_CARD_MASK: &str = "537593••••••0141";

/// What the HPP page shows of an order and where it sends the customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OrderView {
    pub merchant_id: String,
    pub coin_amount: u64,
    pub status: String,
    pub purpose: Option<String>,
    pub success_url: String,
    pub fail_url: String,
    pub status_page_type: String,
    pub expired: bool,
}

/// The bank's policy knobs (a subset of [`super::SimulatorConfig`]).
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub token_ttl_secs: i64,
    pub new_authorization_invalidates_previous: bool,
    pub superseded_code: String,
    pub session_expiration_member: bool,
    pub strict: bool,
    pub retention: Retention,
    pub out_of_order_callbacks: bool,
}

/// What [`Bank::handle`] produced: the answer, and callbacks to send once it is on its way.
#[derive(Debug)]
pub(crate) struct Handled {
    pub response: Response,
    pub deliveries: Vec<Delivery>,
}

impl From<Response> for Handled {
    fn from(response: Response) -> Self {
        Self {
            response,
            deliveries: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SessionState {
    Live,
    /// A newer authorization of the same service code replaced it.
    Superseded,
    /// [`Bank::forget_sessions`]: the bank lost it.
    Forgotten,
}

struct Merchant {
    merchant_id: String,
    public_key: PublicJwk,
    locked: bool,
}

struct Session {
    service_code: String,
    refresh_token: String,
    server_key: Arc<PrivateJwk>,
    expires_at: UtcTime,
    state: SessionState,
    /// When it stopped being usable (superseded or forgotten), in epoch ms.
    ended_ms: Option<i64>,
    /// When it was granted, in epoch ms.
    issued_ms: i64,
}

/// What a request's session headers resolved to.
struct Caller {
    merchant_id: String,
    merchant_key: PublicJwk,
    server_key: Arc<PrivateJwk>,
}

struct Order {
    merchant_id: String,
    /// The key of the service code that created it: callbacks are encrypted to it.
    merchant_key: PublicJwk,
    merchant_request_id: String,
    /// The members create-order answers with, except `orderStatus`.
    /// Kept as JSON text: a third of the memory of the parsed map, which matters with a
    /// hundred thousand orders held.
    document: Box<str>,
    status: String,
    coin_amount: u64,
    created_ms: i64,
    expires_ms: i64,
    notification_url: Option<String>,
    notification_encryption: bool,
    operation_ids: Vec<String>,
    success_url: String,
    fail_url: String,
    status_page_type: String,
    purpose: Option<String>,
    /// The card of a 3-D Secure challenge the HPP page has issued and not yet seen answered:
    /// the answer is taken from here, never from the browser's form. Boxed, since almost every
    /// order has none and a hundred thousand are held.
    challenge: Option<Box<CardUsed>>,
}

impl Order {
    fn to_value(&self, operations: Value) -> Value {
        let mut doc: Map<String, Value> = serde_json::from_str(&self.document).unwrap_or_default();
        doc.insert("orderStatus".into(), json!(self.status));
        if let Some(url) = &self.notification_url {
            doc.insert("notificationUrl".into(), json!(url));
        }
        doc.insert("operations".into(), operations);
        Value::Object(doc)
    }

    /// The HPP callback's document: the order with `operations` as one object, and its dates
    /// in the dotted local form the docs' callback example shows (bank-api.md §3.6).
    fn to_callback(&self, operation: Value) -> Value {
        let mut doc = self.to_value(operation);
        doc["createDate"] = json!(formats::operation_date(self.created_ms));
        doc["expiredOrderDate"] = json!(formats::operation_date(self.expires_ms));
        doc
    }
}

struct Operation {
    merchant_id: String,
    record: Map<String, Value>,
    /// For refunds: the request without `date`, to tell a replay from a conflicting reuse.
    fingerprint: Option<String>,
}

impl Operation {
    fn text(&self, member: &str) -> Option<&str> {
        self.record.get(member).and_then(Value::as_str)
    }
}

#[derive(Default)]
struct State {
    merchants: HashMap<String, Merchant>,
    sessions: HashMap<String, Session>,
    orders: HashMap<String, Order>,
    order_request_ids: HashSet<(String, String)>,
    operations: HashMap<String, Operation>,
    operation_request_ids: HashMap<(String, String), String>,
    /// Device ids oldest first, for eviction.
    session_queue: VecDeque<String>,
    /// Order ids oldest first, for eviction.
    order_queue: VecDeque<String>,
    evicted: Evicted,
    /// Every granted authorization, in order.
    granted: Vec<Granted>,
}

/// One granted authorization as the bank saw it: what it did to the service code's previous
/// session. Lets a test tell a renewal (it replaced a session the bank still accepted) from
/// an authorization after a loss (no usable session was left), without trusting the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Granted {
    /// When it was granted, in the simulator's epoch ms.
    pub at_ms: i64,
    /// The age in ms of the live, unexpired session of the same service code it superseded;
    /// `None` when there was none (the first authorization, or one after a loss).
    pub superseded_age_ms: Option<i64>,
}

/// The simulated bank.
pub(crate) struct Bank {
    policy: Policy,
    base_url: String,
    state: Mutex<State>,
    clock_offset_ms: AtomicI64,
    authorizations: AtomicU64,
}

/// Epoch milliseconds of the system clock.
fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The whole second containing `ms`.
fn utc(ms: i64) -> UtcTime {
    UtcTime::from_unix(ms.div_euclid(1000))
}

fn json_quote(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, &'static str> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("b_request_is_not_correct"),
        Err(_) => Err("b_error_parse_json"),
    }
}

/// Per-request context for building error bodies.
struct Ctx<'a> {
    request_id: &'a str,
    path: &'a str,
}

impl Ctx<'_> {
    fn error(&self, code: &str) -> Response {
        errors::error(code, self.request_id, self.path)
    }

    fn invalid(&self, e: &Invalid) -> Response {
        errors::invalid(
            "b_request_is_not_correct",
            &e.field,
            &e.problem,
            self.request_id,
            self.path,
        )
    }
}

/// `{"jwe": …}` encrypting `value` to `key`.
fn encrypted(key: &PublicJwk, value: &Value, ctx: &Ctx<'_>) -> Response {
    match crypto::encrypt_to_string(key, value.to_string().as_bytes()) {
        Ok(token) => Response::json(200, &json!({ "jwe": token })),
        Err(_) => ctx.error("b_unknown_error"),
    }
}

/// A callback body: the document, or `{"jwe"}` to the merchant key when encryption was asked;
/// `earlier`, an earlier state to deliver after it, in the same form.
fn delivery(
    url: &str,
    encrypt: bool,
    key: &PublicJwk,
    document: &Value,
    earlier: Option<&Value>,
) -> Option<Delivery> {
    let body = |document: &Value| {
        if encrypt {
            let token = crypto::encrypt_to_string(key, document.to_string().as_bytes()).ok()?;
            Some(json!({ "jwe": token }).to_string().into_bytes())
        } else {
            Some(document.to_string().into_bytes())
        }
    };
    Some(Delivery {
        url: url.to_owned(),
        body: body(document)?,
        earlier: earlier.and_then(body),
    })
}

impl Bank {
    /// A bank with no merchants, whose pages live under `base_url`.
    pub(crate) fn new(policy: Policy, base_url: &str) -> Self {
        Self {
            policy,
            base_url: base_url.to_owned(),
            state: Mutex::new(State::default()),
            clock_offset_ms: AtomicI64::new(0),
            authorizations: AtomicU64::new(0),
        }
    }

    /// The simulated clock in epoch milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        system_ms().saturating_add(self.clock_offset_ms.load(Ordering::SeqCst))
    }

    /// The simulated clock.
    pub(crate) fn now(&self) -> UtcTime {
        utc(self.now_ms())
    }

    /// Moves the simulated clock.
    pub(crate) fn advance_clock(&self, secs: i64) {
        self.clock_offset_ms
            .fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
    }

    /// Successful device authorizations.
    pub(crate) fn authorizations(&self) -> u64 {
        self.authorizations.load(Ordering::SeqCst)
    }

    /// Every granted authorization so far, oldest first.
    pub(crate) fn granted(&self) -> Vec<Granted> {
        lock(&self.state).granted.clone()
    }

    /// Registers (or replaces) a merchant.
    pub(crate) fn register(&self, m: MerchantRegistration) {
        let merchant = Merchant {
            merchant_id: m.merchant_id,
            public_key: m.public_key,
            locked: false,
        };
        lock(&self.state).merchants.insert(m.service_code, merchant);
    }

    /// The registered service codes, sorted.
    pub(crate) fn service_codes(&self) -> Vec<String> {
        let mut codes: Vec<String> = lock(&self.state).merchants.keys().cloned().collect();
        codes.sort();
        codes
    }

    /// Locks a service code: authorization and its sessions answer `b_auth_token_expired`.
    /// `false` if the code is not registered.
    pub(crate) fn lock_service_code(&self, code: &str) -> bool {
        lock(&self.state)
            .merchants
            .get_mut(code)
            .map(|m| m.locked = true)
            .is_some()
    }

    /// Every session expires now.
    pub(crate) fn expire_sessions(&self) {
        let past = self.now().plus(-1);
        for s in lock(&self.state).sessions.values_mut() {
            s.expires_at = s.expires_at.min(past);
        }
    }

    /// The bank forgets every session.
    pub(crate) fn forget_sessions(&self) {
        let now_ms = self.now_ms();
        for s in lock(&self.state).sessions.values_mut() {
            s.state = SessionState::Forgotten;
            s.ended_ms.get_or_insert(now_ms);
        }
    }

    /// What eviction has forgotten so far.
    pub(crate) fn evicted(&self) -> Evicted {
        lock(&self.state).evicted
    }

    /// Counts for `/__sim/stats`: (sessions, orders, operations).
    pub(crate) fn sizes(&self) -> (usize, usize, usize) {
        let state = lock(&self.state);
        (
            state.sessions.len(),
            state.orders.len(),
            state.operations.len(),
        )
    }

    /// Answers one bank request. `x-request_id` is echoed (or generated) in the answer and in
    /// any error body.
    pub(crate) fn handle(&self, request: &Request) -> Handled {
        let request_id = request
            .header("x-request_id")
            .filter(|v| !v.is_empty())
            .map_or_else(new_uuid, str::to_owned);
        let ctx = Ctx {
            request_id: &request_id,
            path: &request.path,
        };
        let mut handled = self.route(request, &ctx);
        handled
            .response
            .headers
            .push(("x-request_id".into(), request_id.clone()));
        // The simulated clock, as any HTTP server states its own (RFC 9110 §6.6.1): how
        // clients learn the bank's time.
        handled
            .response
            .headers
            .push(("Date".into(), self.now().to_http_date()));
        handled
    }

    fn route(&self, request: &Request, ctx: &Ctx<'_>) -> Handled {
        let path = request.path.as_str();
        let known = [
            AUTHORIZE_PATH,
            CREATE_ORDER_PATH,
            ORDER_DATA_PATH,
            REFUND_PATH,
            OPERATION_BY_ID_PATH,
            OPERATION_BY_REQUEST_ID_PATH,
        ];
        if !known.contains(&path) {
            return ctx.error("b_service_unavailable").into();
        }
        if request.method != "POST" {
            return errors::error_with(
                405,
                "b_invalid_request",
                Some(("method", "must be POST")),
                ctx.request_id,
                path,
            )
            .into();
        }
        if request.query.is_some() {
            // Never accept parameters (the serviceCode above all) in the query string.
            return errors::invalid(
                "b_request_is_not_correct",
                "query",
                "must be absent; send the body",
                ctx.request_id,
                path,
            )
            .into();
        }
        let api_version = request.header("x-api_version");
        // The bank's WordPress plugin authorizes without the header and the bank accepts it
        // (bank-api.md §3.1); strict mode refuses, as the docs call the header mandatory.
        let tolerated = api_version.is_none() && path == AUTHORIZE_PATH && !self.policy.strict;
        if !tolerated && !api_version.is_some_and(|v| API_VERSIONS.contains(&v)) {
            return errors::invalid(
                "b_invalid_request",
                "x-api_version",
                "must be 1, v1 or V1",
                ctx.request_id,
                path,
            )
            .into();
        }
        let json_path = [AUTHORIZE_PATH, CREATE_ORDER_PATH, ORDER_DATA_PATH].contains(&path);
        if self.policy.strict
            && json_path
            && !request
                .header("content-type")
                .is_some_and(|v| v.starts_with("application/json"))
        {
            return errors::invalid(
                "b_invalid_request",
                "Content-Type",
                "must be application/json",
                ctx.request_id,
                path,
            )
            .into();
        }
        if path == AUTHORIZE_PATH {
            return self.authorize(request, ctx).into();
        }
        let caller = match self.caller(request) {
            Ok(c) => c,
            Err(code) => return ctx.error(code).into(),
        };
        match path {
            CREATE_ORDER_PATH => self.create_order(request, &caller, ctx).into(),
            ORDER_DATA_PATH => self.order_data(request, &caller, ctx).into(),
            REFUND_PATH => self.refund(request, &caller, ctx),
            _ => self.lookup(request, &caller, ctx).into(),
        }
    }

    /// The JSON object inside an encrypted body: a compact JWE to the session's key.
    fn decrypt_body(
        request: &Request,
        caller: &Caller,
    ) -> Result<Map<String, Value>, &'static str> {
        let text =
            std::str::from_utf8(&request.body).map_err(|_| "b_encryptor_failed_decrypt_message")?;
        let plain = crypto::decrypt_to_vec(&caller.server_key, text)
            .map_err(|_| "b_encryptor_failed_decrypt_message")?;
        parse_object(&plain)
    }
}

#[cfg(test)]
mod tests;
