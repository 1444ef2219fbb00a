//! A local AlliancePay bank for tests, demos and clients in other languages: a real HTTP/1.1
//! server on loopback with real cryptography (bank-api.md §6.1).
//!
//! What it is: the endpoints of bank-api.md §3 (device authorization, HPP create-order and
//! order data, refund, the two H2H lookups), the session policy of §1 and §4.2, the error
//! bodies and statuses of §4, an HPP order state machine whose customer you play with
//! [`Simulator::pay`] or in a browser on the order's `redirectUrl` (a card form with
//! [`TEST_CARDS`] and a simulated 3-D Secure challenge), callbacks with the bank's retry
//! schedule, and fault injection.
//! What it is not: a payment processor (no real cards, no A2A flow), nor the bank's test cipher
//! helpers, which it deliberately does not offer (§2.4).
//!
//! # Serving
//! hyper's HTTP/1.1 server on a tokio runtime thread of its own ([`Limits`]): keep-alive,
//! chunked bodies, `Expect: 100-continue`; at most 4,096 connections (more get `503`), request
//! heads within 10 s (also the idle timeout), bodies within 10 s and 64 KiB (`413`). The bank's
//! work runs on a small blocking pool, so idle or slow connections cost a socket, not a thread.
//!
//! ```no_run
//! use alliancepay_http::PrivateJwk;
//! use alliancepay_http::simulator::{MerchantRegistration, Simulator, SimulatorConfig};
//! use alliancepay_http::{Client, ClientConfig, CreateOrder, Kopecks};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let key: PrivateJwk = todo!();
//! let sim = Simulator::start(SimulatorConfig {
//!     merchants: vec![MerchantRegistration {
//!         service_code: "service-1".into(),
//!         merchant_id: "merchant-1".into(),
//!         public_key: *key.public_jwk(),
//!     }],
//!     ..SimulatorConfig::default()
//! })?;
//! let client = Client::new(ClientConfig::new(&sim.base_url(), "service-1"), key)?;
//! let order = CreateOrder::builder()
//!     .merchant_id("merchant-1")
//!     .amount(Kopecks::new(100))
//!     .customer("c-1")
//!     .success_url("https://s/ok")
//!     .fail_url("https://s/fail")
//!     .build()?;
//! let order = client.create_order(&order).into_result()?;
//! sim.pay(&order.hpp_order_id, alliancepay_http::simulator::PaymentOutcome::Success)?;
//! # Ok(()) }
//! ```
//!
//! # Behaviour worth knowing
//! - **Sessions.** Each authorization makes fresh UUIDs and a fresh P-384 server key; by
//!   default it supersedes the service code's previous session, whose tokens then answer
//!   `b_used_token` (or `b_previous_auth_token_expired`, see
//!   [`SimulatorConfig::superseded_code`]). Expiry follows the simulated clock.
//! - **Header tolerance**: authorize without `x-api_version` is accepted, as the live bank
//!   accepts the bank's own WordPress plugin (§3.1); [`SimulatorConfig::strict`] refuses it.
//! - **Orders** expire after `expirationTimeMinutes` (default 15 min, as every docs example
//!   shows) of simulated time while PENDING; then order data answers `b_hpp_order_expired`
//!   (HTTP 500).
//! - **Memory** is bounded: orders (with their operations) are forgotten
//!   [`SimulatorConfig::order_retention_secs`] after they expire and beyond
//!   [`SimulatorConfig::max_orders`]; ended sessions after
//!   [`SimulatorConfig::session_retention_secs`] and beyond [`SimulatorConfig::max_sessions`].
//!   `/__sim/stats` counts what was evicted.
//! - **Records** follow the docs' examples (§4.1): operation dates `2024.10.10 14:08:39.453`,
//!   `paymentSystem` `MasterCard`/`Visa`, `productType` `PURCHASE`, the refund answer's
//!   `createDateTime`, every documented operation member present (`null` when unknown).
//! - **Refunds** answer with the operation in status `PENDING`, and are settled at once:
//!   every later lookup shows `SUCCESS` (or `FAIL` for 17 or 18 kopecks, the bank's test
//!   table). A partial refund makes the order `PARTIAL_REFUND`, a full one `CANCELED`
//!   (inferred). A refund whose `date` is more than 10 minutes off the simulated clock is
//!   recorded as a `FAIL` operation with `errorDetails` `b_security_time_in_request_not_correct`.
//!   Refunds are idempotent by `merchantRequestId`: the same request again (any `date`)
//!   returns the same operation; a different one answers `b_duplicate_field_value`.
//! - **Callbacks** go to `notificationUrl` after a payment (the order, `operations` as one
//!   object, dates in the dotted form) or a refund (the operation record), as `{"jwe"}` to the
//!   merchant key when `notificationEncryption` is true; optionally each twice
//!   ([`SimulatorConfig::duplicate_callbacks`]) or followed by an earlier `PENDING` state
//!   ([`SimulatorConfig::out_of_order_callbacks`]).
//! - **Request log** ([`SimulatorConfig::request_log`]): a JSON line per request and per
//!   response, refresh tokens, auth tokens, private keys and card fields redacted.
//! - **Clock**: every answer the bank writes carries the simulated clock in its `Date` header,
//!   as a real server's does; clients measure their own clock's offset from it.
//! - **Faults** ([`FaultKind`]): latency, bare statuses, error codes, dropped connections before
//!   or after the write is applied, truncated, HTML, mistyped, `jwe`-less, empty-`jwe` and
//!   undecryptable answers, apply-then-`b_unknown_error`, and refunds stored as `FAIL` with a
//!   chosen `errorDetails`.
//! - **Counters**: [`Simulator::requests`] counts bank-API requests (faulted and refused
//!   ones included), not the `/__sim/` control routes. [`Simulator::refunds_of`] and
//!   [`Simulator::orders_with_request_id`] show what the bank holds, which is what tests of
//!   "exactly once" count.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use alliancepay_jose::PublicJwk;
use serde_json::json;

mod bank;
mod callbacks;
mod control;
mod errors;
mod faults;
mod formats;
mod hpp;
mod http;
mod reqlog;
mod server;
mod sink;
mod validate;

pub use bank::{API_VERSIONS, DEFAULT_ORDER_MINUTES, Granted, MAX_DATE_SKEW_SECS};
pub use callbacks::RETRY_SCHEDULE_SECS;
pub use faults::{Fault, FaultKind};
pub use hpp::{CHALLENGE_CODE, TEST_CARDS};
pub use server::Limits;
pub use sink::CallbackSink;

use bank::{Bank, Policy, Retention};

/// Why the simulator refused something asked of it directly (not through the bank's API,
/// whose refusals are the bank's error bodies).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimulatorError {
    /// No order with this `hppOrderId`.
    #[error("no order {hpp_order_id}")]
    UnknownOrder {
        /// The id asked for.
        hpp_order_id: String,
    },
    /// The order is no longer PENDING: it was paid or failed already.
    #[error("order {hpp_order_id} is {status}, not PENDING")]
    NotPending {
        /// The order.
        hpp_order_id: String,
        /// Its status now.
        status: String,
    },
    /// The order's payment page has expired.
    #[error("order {hpp_order_id} has expired")]
    Expired {
        /// The order.
        hpp_order_id: String,
    },
    /// A fault description lacks a member or has a wrong one.
    #[error("{0}")]
    InvalidFault(&'static str),
    /// A fault description names a kind this simulator does not have.
    #[error("unknown fault kind {0:?}")]
    UnknownFaultKind(String),
    /// A bug in the simulator: what it found impossible.
    #[error("internal error of the simulator: {0}")]
    Internal(&'static str),
}
use callbacks::{CallbackSender, Delivery, Stop};
use faults::Faults;
use http::{Reply, Request, Response};
use reqlog::RequestLog;
use server::Server;

/// A merchant the simulated bank knows: its service code, merchant id and the public half of
/// its P-384 key, to which the bank encrypts sessions, answers and callbacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerchantRegistration {
    /// The service code the merchant authorizes with.
    pub service_code: String,
    /// The merchant id its orders must carry.
    pub merchant_id: String,
    /// The merchant's public key.
    pub public_key: PublicJwk,
}

/// How to run the simulator.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// Where to listen (default `127.0.0.1:0`, a free loopback port).
    pub listen: SocketAddr,
    /// Session lifetime in seconds (default 86 400, the bank's 24 hours).
    pub token_ttl_secs: i64,
    /// The merchants known from the start; more with [`Simulator::register`].
    pub merchants: Vec<MerchantRegistration>,
    /// Multiplies the callback retry schedule of 5 s, 30 s, 5 min, 30 min and 1 h (default
    /// 1.0; tests use something like 0.001).
    pub callback_retry_scale: f64,
    /// Whether a new authorization ends the previous session of the same service code
    /// (default `true`, as the bank's error codes suggest); `false` keeps old sessions valid.
    pub new_authorization_invalidates_previous: bool,
    /// What a superseded session answers: `b_used_token` (default) or
    /// `b_previous_auth_token_expired`; other values mean `b_used_token`.
    pub superseded_code: String,
    /// Whether the session payload also carries `sessionExpiration` (the Kyiv-time expiry),
    /// which the docs omit but a 2025 bank module requires (default `false`).
    pub session_expiration_member: bool,
    /// Refuse what the docs call mandatory even where the live bank is lenient: authorize
    /// without `x-api_version` (the bank's WordPress plugin sends none; bank-api.md §3.1) and
    /// JSON bodies without `Content-Type: application/json` (default `false`).
    pub strict: bool,
    /// Orders (with their operations) are forgotten this many seconds after they expire or
    /// are paid (default 86 400), so memory stays bounded on long runs.
    pub order_retention_secs: i64,
    /// Most orders held; the oldest are forgotten first (default 50 000, which keeps the
    /// simulator under 200 MB resident; see the README's load figures).
    pub max_orders: usize,
    /// Superseded, forgotten and expired sessions are forgotten this many seconds after they
    /// stopped being usable (default 600); until then they answer their session error.
    pub session_retention_secs: i64,
    /// Most sessions held; the oldest are forgotten first (default 10 000).
    pub max_sessions: usize,
    /// Every callback is delivered twice (bank-api.md §3.6: the same callback may arrive more
    /// than once); default `false`.
    pub duplicate_callbacks: bool,
    /// After each final callback, an earlier state (`PENDING`) of the same order or refund is
    /// delivered too, as arrivals out of order look (bank-api.md §3.6); default `false`.
    pub out_of_order_callbacks: bool,
    /// Append one JSON line per request and per response to this file, secrets redacted.
    pub request_log: Option<PathBuf>,
    /// Connection, timeout and size limits of the HTTP server.
    pub limits: Limits,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            token_ttl_secs: 86_400,
            merchants: Vec::new(),
            callback_retry_scale: 1.0,
            new_authorization_invalidates_previous: true,
            superseded_code: "b_used_token".into(),
            session_expiration_member: false,
            strict: false,
            order_retention_secs: 86_400,
            max_orders: 50_000,
            session_retention_secs: 600,
            max_sessions: 10_000,
            duplicate_callbacks: false,
            out_of_order_callbacks: false,
            request_log: None,
            limits: Limits::default(),
        }
    }
}

/// The customer's choice on the payment page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The payment goes through: order and operation `SUCCESS`.
    Success,
    /// The payment is declined: order and operation `FAIL`.
    Fail,
}

/// How a test card plays out on the HPP page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardBehaviour {
    /// Approved at once.
    Approve,
    /// Declined at once.
    Decline,
    /// A 3-D Secure challenge page first; the right code approves, any other declines.
    Challenge,
}

/// Locks a mutex, ignoring poisoning: every critical section leaves the data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the request handlers share.
pub(crate) struct Shared {
    pub(crate) bank: Bank,
    pub(crate) faults: Faults,
    callbacks: Arc<CallbackSender>,
    requests: AtomicU64,
    stop: Arc<Stop>,
    log: Option<RequestLog>,
    /// The server's counters, set once it runs.
    server: std::sync::OnceLock<Arc<server::Counters>>,
}

impl Shared {
    /// Pays an order and sends its callback; returns the new order status.
    pub(crate) fn pay(
        &self,
        hpp_order_id: &str,
        outcome: Option<PaymentOutcome>,
        card: Option<bank::CardUsed>,
    ) -> Result<String, SimulatorError> {
        let delivery = self.bank.pay(hpp_order_id, outcome, card)?;
        self.deliver(delivery.into_iter().collect());
        Ok(self
            .bank
            .order_summary(hpp_order_id)
            .map(|(_, s)| s)
            .unwrap_or_default())
    }

    fn deliver(&self, deliveries: Vec<Delivery>) {
        for d in deliveries {
            self.callbacks.send(d);
        }
    }

    pub(crate) fn stats(&self) -> serde_json::Value {
        let (sessions, orders, operations) = self.bank.sizes();
        let evicted = self.bank.evicted();
        let server = self.server.get();
        let count = |f: fn(&server::Counters) -> u64| server.map_or(0, |c| f(c));
        json!({
            "requests": self.requests.load(Ordering::SeqCst),
            "authorizations": self.bank.authorizations(),
            "callbacksDelivered": self.callbacks.delivered.load(Ordering::SeqCst),
            "callbackAttempts": self.callbacks.attempts.load(Ordering::SeqCst),
            "sessions": sessions,
            "orders": orders,
            "operations": operations,
            "faultsPending": self.faults.pending(),
            "evictedSessions": evicted.sessions,
            "evictedOrders": evicted.orders,
            "openConnections": server.map_or(0, |c| c.open.load(Ordering::SeqCst)),
            "connectionsAccepted": count(|c| c.accepted.load(Ordering::SeqCst)),
            "connectionsRefused": count(|c| c.refused.load(Ordering::SeqCst)),
            "bodiesRefused": count(|c| c.bodies_refused.load(Ordering::SeqCst)),
            "writeStalls": count(|c| c.write_stalls.load(Ordering::SeqCst)),
            "maxConnections": server.map_or(0, |c| c.max_connections.load(Ordering::SeqCst)),
            "now": self.bank.now().to_rfc3339(),
        })
    }

    /// Answers one request, and logs both if a request log is open.
    fn serve(&self, request: &Request) -> Reply {
        let started = std::time::Instant::now();
        let reply = self.route(request);
        if let Some(log) = &self.log {
            log.record(request, &reply, started.elapsed());
        }
        reply
    }

    /// Control routes, else the bank with any armed fault applied.
    fn route(&self, request: &Request) -> Reply {
        if request.path.starts_with("/__sim/hpp/") {
            return Reply::Send(hpp::handle(self, request));
        }
        if request.path.starts_with("/__sim/") {
            return Reply::Send(control::handle(self, request));
        }
        self.requests.fetch_add(1, Ordering::SeqCst);
        let fault = self.faults.take(&request.path);
        // Only fault injection may force errorDetails, never a client's header.
        let mut cleaned;
        let request = if request.header(bank::FORCED_ERROR_DETAILS_HEADER).is_some() {
            cleaned = request.clone();
            cleaned
                .headers
                .retain(|(n, _)| n != bank::FORCED_ERROR_DETAILS_HEADER);
            &cleaned
        } else {
            request
        };
        let request_id = || {
            request
                .header("x-request_id")
                .map_or_else(crate::crypto::new_uuid, str::to_owned)
        };
        let response = match fault {
            None => self.process(request),
            Some(FaultKind::Latency(d)) => {
                std::thread::sleep(d);
                self.process(request)
            }
            Some(FaultKind::Status(status)) => Response::empty(status),
            Some(FaultKind::ErrorCode { status, code }) => errors::error_with(status, &code, None, &request_id(), &request.path),
            Some(FaultKind::DropConnection) => return Reply::Drop,
            Some(FaultKind::Unauthorized) => Response::empty(401),
            Some(FaultKind::Html) => Response::with_body(
                502,
                "text/html",
                b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n".to_vec(),
            ),
            Some(FaultKind::Truncated) => {
                let mut r = self.process(request);
                let cut = r.body.len() / 2;
                r.body.truncate(cut);
                r.status = 200;
                r.content_type = Some("application/json".into());
                r
            }
            Some(FaultKind::WrongContentType) => {
                let mut r = self.process(request);
                r.content_type = Some("application/octet-stream".into());
                r
            }
            Some(FaultKind::MissingJwe) => Response::json(200, &json!({ "token": crate::crypto::new_uuid() })),
            Some(FaultKind::ApplyThenFail) => {
                let _applied = self.process(request);
                errors::error("b_unknown_error", &request_id(), &request.path)
            }
            Some(FaultKind::ApplyThenDrop) => {
                let _applied = self.process(request);
                return Reply::Drop;
            }
            Some(FaultKind::EmptyJwe) => {
                let _applied = self.process(request);
                Response::json(200, &json!({ "jwe": "" }))
            }
            Some(FaultKind::UndecryptableJwe) => {
                let _applied = self.process(request);
                let nobody = alliancepay_jose::PrivateJwk::generate(&mut crate::crypto::os_rng());
                match nobody.map(|k| crate::crypto::encrypt_to_string(k.public_jwk(), b"{}")) {
                    Ok(Ok(token)) => Response::json(200, &json!({ "jwe": token })),
                    _ => Response::empty(500),
                }
            }
            Some(FaultKind::ErrorDetails(code)) => {
                cleaned = request.clone();
                cleaned
                    .headers
                    .push((bank::FORCED_ERROR_DETAILS_HEADER.to_owned(), code));
                self.process(&cleaned)
            }
        };
        Reply::Send(response)
    }

    /// The bank's answer; callbacks the request caused start now.
    fn process(&self, request: &Request) -> Response {
        let handled = self.bank.handle(request);
        self.deliver(handled.deliveries);
        handled.response
    }
}

/// A running simulator. Dropping it (or [`Simulator::shutdown`]) stops the server, closes open
/// connections and abandons pending callback retries.
pub struct Simulator {
    shared: Arc<Shared>,
    server: Server,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.server.local_addr())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Binds `config.listen` and starts serving on a background thread.
    ///
    /// # Errors
    /// The operating system's error if the address cannot be bound, a thread not started or
    /// the request log not opened.
    pub fn start(config: SimulatorConfig) -> io::Result<Self> {
        // Bind first: the bank's page URLs need the port.
        let bound = Server::bind(config.listen, config.limits)?;
        let addr = bound.local_addr();
        let policy = Policy {
            token_ttl_secs: config.token_ttl_secs,
            new_authorization_invalidates_previous: config.new_authorization_invalidates_previous,
            superseded_code: config.superseded_code,
            session_expiration_member: config.session_expiration_member,
            strict: config.strict,
            retention: Retention {
                order_secs: config.order_retention_secs,
                max_orders: config.max_orders,
                session_secs: config.session_retention_secs,
                max_sessions: config.max_sessions,
            },
            out_of_order_callbacks: config.out_of_order_callbacks,
        };
        let log = config
            .request_log
            .as_deref()
            .map(RequestLog::open)
            .transpose()?;
        let stop = Arc::new(Stop::default());
        let shared = Arc::new(Shared {
            bank: Bank::new(policy, &format!("http://{addr}")),
            faults: Faults::default(),
            callbacks: Arc::new(CallbackSender::new(
                config.callback_retry_scale,
                config.duplicate_callbacks,
                Arc::clone(&stop),
            )),
            requests: AtomicU64::new(0),
            stop,
            log,
            server: std::sync::OnceLock::new(),
        });
        for m in config.merchants {
            shared.bank.register(m);
        }
        let worker = Arc::clone(&shared);
        let server = bound.serve(Arc::new(move |request| worker.serve(request)))?;
        let _ = shared.server.set(server.counters_arc());
        tracing::info!("simulator listening on http://{addr}");
        Ok(Self { shared, server })
    }

    /// The base URL clients use, `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.local_addr())
    }

    /// The address the server listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The registered service codes, sorted.
    #[must_use]
    pub fn service_codes(&self) -> Vec<String> {
        self.shared.bank.service_codes()
    }

    /// Registers a merchant (replacing any with the same service code).
    pub fn register(&self, m: MerchantRegistration) {
        self.shared.bank.register(m);
    }

    /// Successful device authorizations, over all service codes.
    #[must_use]
    pub fn authorizations(&self) -> u64 {
        self.shared.bank.authorizations()
    }

    /// Every granted authorization so far, oldest first, with what it did to the previous
    /// session (see [`Granted`]).
    #[must_use]
    pub fn granted(&self) -> Vec<Granted> {
        self.shared.bank.granted()
    }

    /// Bank-API requests received: faulted and refused ones included; control routes and
    /// requests the HTTP layer could not read (answered 400) not.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Client connections open right now.
    #[must_use]
    pub fn open_connections(&self) -> usize {
        self.server.counters().open.load(Ordering::SeqCst)
    }

    /// Every live session now answers `b_expired_token` (HTTP 401).
    pub fn expire_sessions(&self) {
        self.shared.bank.expire_sessions();
    }

    /// Every session now answers `b_session_doesnt_exist` (HTTP 401).
    pub fn forget_sessions(&self) {
        self.shared.bank.forget_sessions();
    }

    /// Moves the simulated clock by `secs` (sessions and orders expire by it; refund dates are
    /// checked against it).
    pub fn advance_clock(&self, secs: i64) {
        self.shared.bank.advance_clock(secs);
    }

    /// The simulated clock.
    #[must_use]
    pub fn now(&self) -> crate::time::UtcTime {
        self.shared.bank.now()
    }

    /// Locks a service code as the bank does after 200 idle days: authorization and calls in
    /// its sessions answer `b_auth_token_expired` (HTTP 401). Unknown codes are ignored.
    pub fn lock_service_code(&self, code: &str) {
        self.shared.bank.lock_service_code(code);
    }

    /// Arms a fault for the next matching request(s).
    pub fn inject(&self, fault: Fault) {
        self.shared.faults.inject(fault);
    }

    /// Plays the customer on the payment page of a PENDING order, then sends its callback (in
    /// the background) if the order has a `notificationUrl`.
    ///
    /// # Errors
    /// [`SimulatorError`] if the order is unknown, no longer PENDING, or expired.
    pub fn pay(&self, hpp_order_id: &str, outcome: PaymentOutcome) -> Result<(), SimulatorError> {
        self.shared.pay(hpp_order_id, Some(outcome), None).map(drop)
    }

    /// The refunds the bank holds of operation `operation_id` (as records, whatever their
    /// status): what tests count to prove that nothing was refunded twice.
    #[must_use]
    pub fn refunds_of(&self, operation_id: &str) -> Vec<serde_json::Value> {
        self.shared.bank.refunds_of(operation_id)
    }

    /// How many orders the bank holds with this `merchantRequestId` (0 or 1: the bank refuses
    /// a second): what tests count to prove that an order was neither lost nor doubled.
    #[must_use]
    pub fn orders_with_request_id(&self, merchant_request_id: &str) -> usize {
        self.shared.bank.orders_with_request_id(merchant_request_id)
    }

    /// Callbacks answered with HTTP 200.
    #[must_use]
    pub fn callbacks_delivered(&self) -> u64 {
        self.shared.callbacks.delivered.load(Ordering::SeqCst)
    }

    /// Callback POSTs made, answered or not.
    #[must_use]
    pub fn callback_attempts(&self) -> u64 {
        self.shared.callbacks.attempts.load(Ordering::SeqCst)
    }

    /// Stops the server: no new connections, idle ones closed at once, a request being
    /// answered given up to a second to finish, callback retries abandoned. Idempotent;
    /// dropping the simulator does the same.
    pub fn shutdown(&mut self) {
        self.shared.stop.stop();
        self.server.shutdown();
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}
