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

mod records;
mod retention;

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

    /// `POST /api-gateway/authorize_virtual_device` (bank-api.md §3.1).
    fn authorize(&self, request: &Request, ctx: &Ctx<'_>) -> Response {
        let body = match parse_object(&request.body) {
            Ok(b) => b,
            Err(code) => return ctx.error(code),
        };
        let service_code = match body.get("serviceCode") {
            Some(Value::String(s)) if !s.trim().is_empty() && body.len() == 1 => s.clone(),
            Some(Value::String(_)) if body.len() > 1 => {
                let field = body
                    .keys()
                    .find(|k| *k != "serviceCode")
                    .cloned()
                    .unwrap_or_default();
                return errors::invalid(
                    "b_request_is_not_correct",
                    &field,
                    "is not part of the request",
                    ctx.request_id,
                    ctx.path,
                );
            }
            _ => {
                return errors::invalid(
                    "b_request_is_not_correct",
                    "serviceCode",
                    "is required",
                    ctx.request_id,
                    ctx.path,
                );
            }
        };
        let merchant_key = match lock(&self.state).merchants.get(&service_code) {
            None => return ctx.error("b_virtual_device_not_found"),
            Some(m) if m.locked => return ctx.error("b_auth_token_expired"),
            Some(m) => m.public_key,
        };
        let Ok(server_key) = PrivateJwk::generate(&mut os_rng()) else {
            return ctx.error("b_unknown_error");
        };
        // The bank's serverPublic carries only kty, crv, x and y.
        let server_public = crypto::public_jwk_to_string(
            &server_key.public_jwk().with_params(KeyParams::default()),
        );
        let (device_id, refresh_token, auth_token) = (new_uuid(), new_uuid(), new_uuid());
        let now_ms = self.now_ms();
        let now = utc(now_ms);
        let expires_at = now.plus(self.policy.token_ttl_secs);
        {
            let mut state = lock(&self.state);
            let superseded_age_ms = state
                .sessions
                .values()
                .filter(|s| {
                    s.service_code == service_code
                        && s.state == SessionState::Live
                        && now < s.expires_at
                })
                .map(|s| now_ms - s.issued_ms)
                .min();
            state.granted.push(Granted {
                at_ms: now_ms,
                superseded_age_ms,
            });
            if self.policy.new_authorization_invalidates_previous {
                for s in state
                    .sessions
                    .values_mut()
                    .filter(|s| s.service_code == service_code && s.state == SessionState::Live)
                {
                    s.state = SessionState::Superseded;
                    s.ended_ms = Some(now_ms);
                }
            }
            state.sessions.insert(
                device_id.clone(),
                Session {
                    service_code,
                    refresh_token: refresh_token.clone(),
                    server_key: Arc::new(server_key),
                    expires_at,
                    state: SessionState::Live,
                    ended_ms: None,
                    issued_ms: now_ms,
                },
            );
            state.session_queue.push_back(device_id.clone());
            state.evict_sessions(&self.policy.retention, now, now_ms);
        }
        self.authorizations.fetch_add(1, Ordering::SeqCst);
        // Members in the bank's order (bank-api.md §1.2), hence written by hand.
        let session_expiration = if self.policy.session_expiration_member {
            format!(
                r#","sessionExpiration":{}"#,
                json_quote(&expires_at.to_bank_kyiv())
            )
        } else {
            String::new()
        };
        let payload = format!(
            r#"{{"refreshToken":{},"authToken":{},"deviceId":{},"serverPublic":{server_public},"tokenExpirationDateTime":{},"tokenExpiration":{}{session_expiration}}}"#,
            json_quote(&refresh_token),
            json_quote(&auth_token),
            json_quote(&device_id),
            json_quote(&expires_at.to_bank_utc()),
            json_quote(&expires_at.to_bank_kyiv()),
        );
        match crypto::encrypt_to_string(&merchant_key, payload.as_bytes()) {
            Ok(token) => Response::json(200, &json!({ "jwe": token })),
            Err(_) => ctx.error("b_unknown_error"),
        }
    }

    /// Resolves the session headers (bank-api.md §1.3, §4.2) to the calling merchant.
    fn caller(&self, request: &Request) -> Result<Caller, &'static str> {
        let (Some(device_id), Some(refresh_token)) = (
            request.header("x-device_id"),
            request.header("x-refresh_token"),
        ) else {
            return Err("b_refresh_token_absent");
        };
        let now = self.now();
        let state = lock(&self.state);
        let session = state.sessions.get(device_id).ok_or("b_unknown_device")?;
        let merchant = state
            .merchants
            .get(&session.service_code)
            .ok_or("b_unknown_device")?;
        match session.state {
            SessionState::Forgotten => return Err("b_session_doesnt_exist"),
            SessionState::Superseded => {
                return Err(
                    if self.policy.superseded_code == "b_previous_auth_token_expired" {
                        "b_previous_auth_token_expired"
                    } else {
                        "b_used_token"
                    },
                );
            }
            SessionState::Live => {}
        }
        if session.refresh_token != refresh_token {
            return Err("b_used_token");
        }
        if merchant.locked {
            return Err("b_auth_token_expired");
        }
        if now >= session.expires_at {
            return Err("b_expired_token");
        }
        Ok(Caller {
            merchant_id: merchant.merchant_id.clone(),
            merchant_key: merchant.public_key,
            server_key: Arc::clone(&session.server_key),
        })
    }

    /// `POST …/hpp/v1/create-order` (bank-api.md §3.2).
    fn create_order(&self, request: &Request, caller: &Caller, ctx: &Ctx<'_>) -> Response {
        let body = match parse_object(&request.body) {
            Ok(b) => b,
            Err(code) => return ctx.error(code),
        };
        let order = match validate::order(&body) {
            Ok(o) => o,
            Err(e) => return ctx.invalid(&e),
        };
        if order.merchant_id != caller.merchant_id {
            return ctx.error("b_user_merchant_request_mismatch");
        }
        let now_ms = self.now_ms();
        let hpp_order_id = formats::bank_id(now_ms);
        let minutes = order.expiration_minutes.unwrap_or(DEFAULT_ORDER_MINUTES);
        let expires_ms =
            now_ms.saturating_add(i64::try_from(minutes).unwrap_or(0).saturating_mul(60_000));
        let document = self.order_document(&order, &hpp_order_id, now_ms, expires_ms);
        let text = serde_json::to_string(&document)
            .unwrap_or_default()
            .into_boxed_str();
        let mut state = lock(&self.state);
        if !state
            .order_request_ids
            .insert((order.merchant_id.clone(), order.merchant_request_id.clone()))
        {
            return errors::invalid(
                "b_duplicate_field_value",
                "merchantRequestId",
                "was used before",
                ctx.request_id,
                ctx.path,
            );
        }
        let record = Order {
            merchant_id: order.merchant_id,
            merchant_key: caller.merchant_key,
            merchant_request_id: order.merchant_request_id,
            document: text,
            status: "PENDING".into(),
            coin_amount: order.coin_amount,
            created_ms: now_ms,
            expires_ms,
            notification_url: order.notification_url,
            notification_encryption: order.notification_encryption,
            operation_ids: Vec::new(),
            success_url: order.success_url,
            fail_url: order.fail_url,
            status_page_type: order.status_page_type,
            purpose: order.purpose,
            challenge: None,
        };
        let mut answer = document;
        answer.insert("orderStatus".into(), json!("PENDING"));
        state.orders.insert(hpp_order_id.clone(), record);
        state.order_queue.push_back(hpp_order_id);
        state.evict_orders(&self.policy.retention, now_ms);
        Response::json(200, &Value::Object(answer))
    }

    fn order_document(
        &self,
        order: &OrderRequest,
        hpp_order_id: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Map<String, Value> {
        let page = format!("{}/__sim/hpp/{hpp_order_id}", self.base_url);
        let json = json!({
            "hppOrderId": hpp_order_id,
            "ecomOrderId": new_uuid(),
            "merchantRequestId": order.merchant_request_id,
            "merchantId": order.merchant_id,
            "hppPayType": order.hpp_pay_type,
            "paymentMethods": order.payment_methods,
            "coinAmount": order.coin_amount,
            "redirectUrl": page,
            "statusUrl": if order.hpp_pay_type == "A2A" { Value::Null } else { json!(format!("{page}/status")) },
            "createDate": formats::order_date(now_ms),
            "expiredOrderDate": formats::order_date(expires_ms),
            "nbuQrCode": if order.generate_qr_nbu { json!(format!("{page}/qr")) } else { Value::Null },
        });
        match json {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// `POST …/hpp/v1/operations` (bank-api.md §3.3).
    fn order_data(&self, request: &Request, caller: &Caller, ctx: &Ctx<'_>) -> Response {
        let body = match parse_object(&request.body) {
            Ok(b) => b,
            Err(code) => return ctx.error(code),
        };
        let id = match validate::lookup_key(&body, "hppOrderId") {
            Ok(id) => id,
            Err(e) => return ctx.invalid(&e),
        };
        let now_ms = self.now_ms();
        let state = lock(&self.state);
        let Some(order) = state
            .orders
            .get(&id)
            .filter(|o| o.merchant_id == caller.merchant_id)
        else {
            return ctx.error("b_hpp_order_not_found");
        };
        if order.status == "PENDING" && now_ms >= order.expires_ms {
            return ctx.error("b_hpp_order_expired");
        }
        let operations: Vec<Value> = order
            .operation_ids
            .iter()
            .filter_map(|id| state.operations.get(id))
            .map(|op| Value::Object(op.record.clone()))
            .collect();
        Response::json(200, &order.to_value(Value::Array(operations)))
    }

    /// Plays the customer: a PENDING order becomes SUCCESS or FAIL with a PURCHASE operation;
    /// returns the callback to send, if the order has a `notificationUrl`. `outcome` `None`
    /// follows the bank's test table: 5 and 6 kopecks fail, anything else succeeds.
    ///
    /// # Errors
    /// [`super::SimulatorError`] saying why the order cannot be paid.
    pub(crate) fn pay(
        &self,
        hpp_order_id: &str,
        outcome: Option<PaymentOutcome>,
        card: Option<CardUsed>,
    ) -> Result<Option<Delivery>, super::SimulatorError> {
        let now_ms = self.now_ms();
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        let order = state.orders.get_mut(hpp_order_id).ok_or_else(|| {
            super::SimulatorError::UnknownOrder {
                hpp_order_id: hpp_order_id.to_owned(),
            }
        })?;
        if order.status != "PENDING" {
            return Err(super::SimulatorError::NotPending {
                hpp_order_id: hpp_order_id.to_owned(),
                status: order.status.clone(),
            });
        }
        if now_ms >= order.expires_ms {
            return Err(super::SimulatorError::Expired {
                hpp_order_id: hpp_order_id.to_owned(),
            });
        }
        let outcome = outcome.unwrap_or(if matches!(order.coin_amount, 5 | 6) {
            PaymentOutcome::Fail
        } else {
            PaymentOutcome::Success
        });
        let (status, info) = match outcome {
            PaymentOutcome::Success => (
                "SUCCESS",
                json!({"actionCode":"0","responseCode":"00","description":"approved"}),
            ),
            PaymentOutcome::Fail => (
                "FAIL",
                json!({"actionCode":"116","responseCode":"51","description":"insufficient funds"}),
            ),
        };
        let operation_id = formats::bank_id(now_ms);
        let date = formats::operation_date(now_ms);
        let card = card.unwrap_or(CardUsed {
            mask: TEST_CARD_MASK.into(),
            payment_system: "MasterCard",
            challenged: false,
        });
        let record = json!({
            "type": "PURCHASE",
            "status": status,
            "operationId": operation_id,
            "ecomOperationId": new_uuid(),
            "merchantRequestId": order.merchant_request_id,
            "merchantId": order.merchant_id,
            "hppOrderId": hpp_order_id,
            "coinAmount": order.coin_amount,
            "transactionType": 35,
            "transactionCurrency": "980",
            // Test terminals answer rrn "-1" and no approval code (bank-api.md §5 item 14).
            "rrn": "-1",
            "transactionResponseInfo": info,
            "creationDateTime": date,
            "transactionCreateDateTime": date,
            "processingDateTime": date,
            "modificationDateTime": date,
            "paymentServiceType": "CARD",
            "paymentSystem": card.payment_system,
            "productType": "PURCHASE",
            "cardNumberMask": card.mask,
            "purpose": order.purpose,
            "notificationUrl": order.notification_url,
            "notificationEncryption": order.notification_url.as_ref().map(|_| order.notification_encryption),
            "threeDSMode": if card.challenged { "CHALLENGE" } else { "FRICTIONLESS" },
            // A challenge answered with a wrong code is a failed authentication.
            "statusThreeDs": if card.challenged && status == "SUCCESS" { "Y" } else { "N" },
        });
        let Value::Object(record) = record else {
            return Err(super::SimulatorError::Internal(
                "a payment record is not a JSON object",
            ));
        };
        let record = with_documented_members(record);
        order.status = status.into();
        order.operation_ids.push(operation_id.clone());
        let earlier = self.policy.out_of_order_callbacks.then(|| {
            let mut pending = record.clone();
            pending.insert("status".into(), json!("PENDING"));
            let mut doc = order.to_callback(Value::Object(pending));
            doc["orderStatus"] = json!("PENDING");
            doc
        });
        let callback = order.notification_url.clone().map(|url| {
            (
                url,
                order.notification_encryption,
                order.merchant_key,
                order.to_callback(Value::Object(record.clone())),
            )
        });
        let merchant_id = order.merchant_id.clone();
        let key = (merchant_id.clone(), order.merchant_request_id.clone());
        state
            .operation_request_ids
            .entry(key)
            .or_insert_with(|| operation_id.clone());
        state.operations.insert(
            operation_id,
            Operation {
                merchant_id,
                record,
                fingerprint: None,
            },
        );
        drop(guard);
        // In the HPP callback `operations` is one object, not an array (bank-api.md §3.6).
        Ok(callback.and_then(|(url, encrypt, key, doc)| {
            delivery(&url, encrypt, &key, &doc, earlier.as_ref())
        }))
    }

    /// `POST …/payments/v3/refund` (bank-api.md §3.4).
    fn refund(&self, request: &Request, caller: &Caller, ctx: &Ctx<'_>) -> Handled {
        let body = match Self::decrypt_body(request, caller) {
            Ok(b) => b,
            Err(code) => return ctx.error(code).into(),
        };
        let refund = match validate::refund(&body) {
            Ok(r) => r,
            Err(e) => return ctx.invalid(&e).into(),
        };
        if refund.merchant_id != caller.merchant_id {
            return ctx.error("b_user_merchant_request_mismatch").into();
        }
        let now_ms = self.now_ms();
        let forced = request.header(FORCED_ERROR_DETAILS_HEADER);
        let outcome = self.apply_refund(&refund, caller, now_ms, forced);
        match outcome {
            Ok((answer, settled)) => {
                let earlier = self.policy.out_of_order_callbacks.then_some(&answer);
                let deliveries = settled
                    .and_then(|doc| {
                        delivery(
                            refund.notification_url.as_deref()?,
                            refund.notification_encryption,
                            &caller.merchant_key,
                            &doc,
                            earlier,
                        )
                    })
                    .into_iter()
                    .collect();
                Handled {
                    response: encrypted(&caller.merchant_key, &answer, ctx),
                    deliveries,
                }
            }
            Err(code) => ctx.error(code).into(),
        }
    }

    /// The refund rules under one lock. Returns the answer (status PENDING for a new refund)
    /// and, for a new refund, the settled record for the callback.
    fn apply_refund(
        &self,
        refund: &RefundRequest,
        caller: &Caller,
        now_ms: i64,
        forced_error_details: Option<&str>,
    ) -> Result<(Value, Option<Value>), &'static str> {
        let mut state = lock(&self.state);
        let state = &mut *state;
        let key = (
            caller.merchant_id.clone(),
            refund.merchant_request_id.clone(),
        );
        if let Some(existing) = state
            .operation_request_ids
            .get(&key)
            .and_then(|id| state.operations.get(id))
        {
            // Idempotency: the same refund again is the same operation; anything else reusing
            // the merchantRequestId is a conflict.
            return if existing.fingerprint.as_deref() == Some(refund.fingerprint.as_str()) {
                Ok((Value::Object(existing.record.clone()), None))
            } else {
                Err("b_duplicate_field_value")
            };
        }
        let original = state
            .operations
            .get(&refund.operation_id)
            .filter(|op| op.merchant_id == caller.merchant_id)
            .ok_or("b_operation_not_found")?;
        if original.text("type") != Some("PURCHASE") || original.text("status") != Some("SUCCESS") {
            return Err("b_payment_invalid_refund_status");
        }
        let original_amount = original
            .record
            .get("coinAmount")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let hpp_order_id = original.text("hppOrderId").map(str::to_owned);
        let original_ecom_id = original
            .record
            .get("ecomOperationId")
            .cloned()
            .unwrap_or(Value::Null);
        let stale = UtcTime::parse_bank(&refund.date)
            .map_or(true, |d| d.since(utc(now_ms)).abs() > MAX_DATE_SKEW_SECS);
        let error_details = match (forced_error_details, stale) {
            (Some(code), _) => Some(code.to_owned()),
            (None, true) => Some("b_security_time_in_request_not_correct".to_owned()),
            (None, false) => None,
        };
        let stale = error_details.is_some();
        let refunded: u64 = state
            .operations
            .values()
            .filter(|op| {
                op.text("originalOperationId") == Some(refund.operation_id.as_str())
                    && op.text("status") != Some("FAIL")
            })
            .filter_map(|op| op.record.get("coinAmount").and_then(Value::as_u64))
            .sum();
        if !stale && refunded.saturating_add(refund.coin_amount) > original_amount {
            return Err("b_payment_invalid_refund_amount");
        }
        let operation_id = formats::bank_id(now_ms);
        let date = formats::operation_date(now_ms);
        let mut record = json!({
            "type": "REFUND",
            "status": "PENDING",
            "operationId": operation_id,
            "ecomOperationId": new_uuid(),
            "merchantRequestId": refund.merchant_request_id,
            "merchantId": caller.merchant_id,
            "coinAmount": refund.coin_amount,
            "transactionType": 76,
            "transactionCurrency": "980",
            "rrn": "-1",
            "originalOperationId": refund.operation_id,
            "originalCoinAmount": original_amount,
            "originalEcomOperationId": original_ecom_id,
            "rrnOriginal": "-1",
            "productType": "PURCHASE",
            "paymentServiceType": "CARD",
            // The docs' refund answer names its timestamp `createDateTime` (bank-api.md §4.1).
            "createDateTime": date,
            "modificationDateTime": date,
        });
        if let Some(comment) = &refund.merchant_comment {
            record["comment"] = json!(comment);
        }
        if let Some(url) = &refund.notification_url {
            record["notificationUrl"] = json!(url);
            record["notificationEncryption"] = json!(refund.notification_encryption);
        }
        if let Some(id) = &hpp_order_id {
            record["hppOrderId"] = json!(id);
        }
        let answer;
        if stale {
            record["status"] = json!("FAIL");
            record["errorDetails"] = json!(error_details);
            answer = record.clone();
        } else {
            answer = record.clone();
            // Settled at once: the answer says PENDING, every later read the outcome. The
            // bank's test table: refunds of 17 or 18 kopecks fail.
            let ok = !matches!(refund.coin_amount, 17 | 18);
            record["status"] = json!(if ok { "SUCCESS" } else { "FAIL" });
            record["transactionResponseInfo"] = if ok {
                json!({"actionCode":"0","responseCode":"00","description":"approved"})
            } else {
                json!({"actionCode":"909","responseCode":"96","description":"refund declined"})
            };
            if let (true, Some(order)) = (
                ok,
                hpp_order_id
                    .as_ref()
                    .and_then(|id| state.orders.get_mut(id)),
            ) {
                let total = refunded.saturating_add(refund.coin_amount);
                // A full refund leaves no documented status but CANCELED (inferred).
                order.status = if total < original_amount {
                    "PARTIAL_REFUND"
                } else {
                    "CANCELED"
                }
                .into();
            }
        }
        if let Some(order) = hpp_order_id
            .as_ref()
            .and_then(|id| state.orders.get_mut(id))
        {
            order.operation_ids.push(operation_id.clone());
        }
        let Value::Object(stored) = record.clone() else {
            return Err("b_unknown_error");
        };
        let stored = with_documented_members(stored);
        let answer = match answer {
            Value::Object(m) => Value::Object(with_documented_members(m)),
            other => other,
        };
        let record = Value::Object(stored.clone());
        state
            .operation_request_ids
            .insert(key, operation_id.clone());
        state.operations.insert(
            operation_id,
            Operation {
                merchant_id: caller.merchant_id.clone(),
                record: stored,
                fingerprint: Some(refund.fingerprint.clone()),
            },
        );
        Ok((answer, (!stale).then_some(record)))
    }

    /// `POST …/payments/v1/operations` and `…/operation/by_merchant_request_id` (§3.5).
    fn lookup(&self, request: &Request, caller: &Caller, ctx: &Ctx<'_>) -> Response {
        let body = match Self::decrypt_body(request, caller) {
            Ok(b) => b,
            Err(code) => return ctx.error(code),
        };
        let by_id = request.path == OPERATION_BY_ID_PATH;
        let key = match validate::lookup_key(&body, if by_id { "id" } else { "merchantRequestId" })
        {
            Ok(k) => k,
            Err(e) => return ctx.invalid(&e),
        };
        let record = {
            let state = lock(&self.state);
            let id = if by_id {
                Some(&key)
            } else {
                state
                    .operation_request_ids
                    .get(&(caller.merchant_id.clone(), key))
            };
            match id
                .and_then(|id| state.operations.get(id))
                .filter(|op| op.merchant_id == caller.merchant_id)
            {
                Some(op) => Value::Object(op.record.clone()),
                None => return ctx.error("b_operation_not_found"),
            }
        };
        encrypted(&caller.merchant_key, &record, ctx)
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

    /// The refund records whose `originalOperationId` is `operation_id`.
    pub(crate) fn refunds_of(&self, operation_id: &str) -> Vec<Value> {
        lock(&self.state)
            .operations
            .values()
            .filter(|op| {
                op.text("type") == Some("REFUND")
                    && op.text("originalOperationId") == Some(operation_id)
            })
            .map(|op| Value::Object(op.record.clone()))
            .collect()
    }

    /// How many orders carry `merchant_request_id`.
    pub(crate) fn orders_with_request_id(&self, merchant_request_id: &str) -> usize {
        lock(&self.state)
            .orders
            .values()
            .filter(|o| o.merchant_request_id == merchant_request_id)
            .count()
    }

    /// The amount and status of an order, or `None` if unknown.
    pub(crate) fn order_summary(&self, hpp_order_id: &str) -> Option<(u64, String)> {
        lock(&self.state)
            .orders
            .get(hpp_order_id)
            .map(|o| (o.coin_amount, o.status.clone()))
    }

    /// Records the 3-D Secure challenge the HPP page issued for an order (replacing an earlier
    /// one); `false` if the order is unknown.
    pub(crate) fn set_challenge(&self, hpp_order_id: &str, card: CardUsed) -> bool {
        lock(&self.state)
            .orders
            .get_mut(hpp_order_id)
            .map(|o| o.challenge = Some(Box::new(card)))
            .is_some()
    }

    /// Takes the pending 3-D Secure challenge of an order, if the page issued one: each
    /// challenge is answered once.
    pub(crate) fn take_challenge(&self, hpp_order_id: &str) -> Option<CardUsed> {
        lock(&self.state)
            .orders
            .get_mut(hpp_order_id)
            .and_then(|o| o.challenge.take())
            .map(|c| *c)
    }

    /// What the HPP page needs of an order, or `None` if unknown.
    pub(crate) fn order_view(&self, hpp_order_id: &str) -> Option<OrderView> {
        let now_ms = self.now_ms();
        lock(&self.state)
            .orders
            .get(hpp_order_id)
            .map(|o| OrderView {
                merchant_id: o.merchant_id.clone(),
                coin_amount: o.coin_amount,
                status: o.status.clone(),
                purpose: o.purpose.clone(),
                success_url: o.success_url.clone(),
                fail_url: o.fail_url.clone(),
                status_page_type: o.status_page_type.clone(),
                expired: o.status == "PENDING" && now_ms >= o.expires_ms,
            })
    }
}

#[cfg(test)]
mod tests;
