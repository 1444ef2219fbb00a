//! The blocking driver: one client per service code, shared by every thread of the process.
//!
//! It owns the session, the transport, the clocks, the OS RNG and the session file; the
//! [`crate::call`] state machine owns every decision. [`Client::call`] is the loop with one
//! arm per action. When a session is missing, due, or rejected, the machine asks to wait for
//! authorization: the driver takes the single-flight lock, so exactly one thread authorizes
//! while the others wait and then use the session it obtained.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use alliancepay_jose::PrivateJwk;

use crate::call::{Action, Call, Params};
use crate::callback::{Callback, parse_callback};
use crate::model::{CreateOrder, Operation, OperationQuery, Order, OrderQuery, Refund};
use crate::outcome::Outcome;
use crate::protocol::{self, Endpoint, Kind};
use crate::secret::Secret;
use crate::session::{RenewalPolicy, SavedSession, Session};
use crate::time::{Now, UtcTime};
use crate::transport::{Transport, UreqTransport};
use crate::{Error, crypto, store};

/// What a client needs to know.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The bank (or the simulator), such as `https://api-ecom-prod.bankalliance.ua`.
    pub base_url: String,
    /// The merchant's service code: the one input of device authorization.
    pub service_code: Secret,
    /// The `x-api_version` header (default `v1`).
    pub api_version: String,
    /// When to renew sessions ahead of the bank.
    pub renewal: RenewalPolicy,
    /// Where to keep the session across restarts (none by default).
    pub session_file: Option<PathBuf>,
    /// Timeout of each HTTP exchange (default 30 s).
    pub timeout: Duration,
    /// Accept a plain `http://` base URL on a host other than loopback (default `false`):
    /// the service code and refresh token would cross the network unencrypted.
    pub allow_plain_http: bool,
}

impl ClientConfig {
    /// A configuration with the defaults for everything but the bank and the service code.
    #[must_use]
    pub fn new(base_url: &str, service_code: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            service_code: Secret::new(service_code.to_owned()),
            api_version: protocol::DEFAULT_API_VERSION.to_owned(),
            renewal: RenewalPolicy::default(),
            session_file: None,
            timeout: Duration::from_secs(30),
            allow_plain_http: false,
        }
    }

    /// Checks the base URL: `https://`, or `http://` on a loopback host (the simulator), or
    /// `http://` anywhere with [`ClientConfig::allow_plain_http`].
    ///
    /// # Errors
    /// [`Error::Config`] saying what is wrong with the URL.
    pub fn check(&self) -> Result<(), Error> {
        let url = &self.base_url;
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            Error::Config(format!("base URL {url:?} has no scheme; use https://"))
        })?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        let host = match host_port.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host_port.split(':').next().unwrap_or_default(),
        };
        if host.is_empty() {
            return Err(Error::Config(format!("base URL {url:?} has no host")));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "https" => Ok(()),
            "http" if is_loopback(host) || self.allow_plain_http => Ok(()),
            "http" => Err(Error::Config(format!(
                "base URL {url:?} is plain http to {host}, which is not loopback: the service code and refresh token would travel unencrypted; use https:// (or opt in with allow_plain_http)"
            ))),
            other => Err(Error::Config(format!(
                "base URL {url:?} has scheme {other:?}; use https://"
            ))),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host's clocks, as the client reads them: the wall clock (replaceable, so tests can put
/// the host hours off the bank) and a monotonic one.
type WallClock = Arc<dyn Fn() -> UtcTime + Send + Sync>;
type MonotonicClock = Arc<dyn Fn() -> Duration + Send + Sync>;

struct Inner {
    config: ClientConfig,
    merchant: PrivateJwk,
    transport: Box<dyn Transport>,
    wall: WallClock,
    monotonic: MonotonicClock,
    current: Mutex<Option<Arc<Session>>>,
    /// Held for the whole of an authorization, so only one runs at a time.
    authorizing: Mutex<()>,
    authorizations: AtomicU64,
    clock_warned: AtomicBool,
}

/// The AlliancePay client. Cheap to clone; clones share the session.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.config.base_url)
            .field("merchant_key", self.inner.merchant.public_jwk())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the data consistent: every write is a
    // single assignment.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Client {
    /// A client over the default blocking transport. Loads the session file, if configured
    /// and valid for this bank and key, so a restart does not re-authorize.
    ///
    /// # Errors
    /// [`Error::Config`] for a base URL that is not `https://` (see [`ClientConfig::check`]).
    pub fn new(config: ClientConfig, merchant: PrivateJwk) -> Result<Self, Error> {
        let transport = UreqTransport::new(config.timeout);
        Self::with_transport(config, merchant, Box::new(transport))
    }

    /// A client over any [`Transport`].
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn with_transport(
        config: ClientConfig,
        merchant: PrivateJwk,
        transport: Box<dyn Transport>,
    ) -> Result<Self, Error> {
        config.check()?;
        // One origin for the whole process: a session's renewal deadline and its bank-clock
        // anchor are monotonic readings, valid for every client that uses the session.
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        let origin = *ORIGIN.get_or_init(Instant::now);
        let client = Self {
            inner: Arc::new(Inner {
                config,
                merchant,
                transport,
                wall: Arc::new(UtcTime::now),
                monotonic: Arc::new(move || origin.elapsed()),
                current: Mutex::new(None),
                authorizing: Mutex::new(()),
                authorizations: AtomicU64::new(0),
                clock_warned: AtomicBool::new(false),
            }),
        };
        client.load_saved_session();
        Ok(client)
    }

    /// The same client reading the host's wall clock from `clock` (tests put the host hours
    /// off the bank with it). Call before cloning and before any call; the saved session, if
    /// any, is re-read against the new clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> UtcTime + Send + Sync + 'static) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.wall = Arc::new(clock);
        }
        self.load_saved_session();
        self
    }

    /// The same client reading its monotonic clock from `clock` (tests move time forward
    /// with it). Call before cloning and before any call.
    #[must_use]
    pub fn with_monotonic_clock(
        mut self,
        clock: impl Fn() -> Duration + Send + Sync + 'static,
    ) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.monotonic = Arc::new(clock);
        }
        self.load_saved_session();
        self
    }

    /// The merchant key this client decrypts with.
    #[must_use]
    pub fn merchant_key(&self) -> &PrivateJwk {
        &self.inner.merchant
    }

    /// How many device authorizations this client has sent.
    #[must_use]
    pub fn authorizations(&self) -> u64 {
        self.inner.authorizations.load(Ordering::SeqCst)
    }

    fn now(&self) -> Now {
        Now {
            wall: (self.inner.wall)(),
            monotonic: (self.inner.monotonic)(),
        }
    }

    fn snapshot(&self) -> Option<Arc<Session>> {
        lock(&self.inner.current).clone()
    }

    fn params(&self) -> Params<'_> {
        let config = &self.inner.config;
        Params {
            merchant: &self.inner.merchant,
            service_code: config.service_code.expose(),
            api_version: &config.api_version,
            renewal: config.renewal,
        }
    }

    /// The current session, authorizing first when there is none or it is due for renewal.
    ///
    /// # Errors
    /// Those of [`Client::authorize`].
    pub fn session(&self) -> Result<Arc<Session>, Error> {
        if let Some(s) = self.snapshot().filter(|s| !s.needs_renewal(self.now())) {
            return Ok(s);
        }
        let _only_one = lock(&self.inner.authorizing);
        match self.snapshot().filter(|s| !s.needs_renewal(self.now())) {
            Some(s) => Ok(s),
            None => self.authorize_locked(),
        }
    }

    /// Authorizes now, replacing any session.
    ///
    /// # Errors
    /// [`Error::ServiceCodeLocked`] when the bank has locked the service code, [`Error::Bank`],
    /// [`Error::Decryption`] when the key is not the one registered for the service code,
    /// transport errors, [`Error::MalformedResponse`].
    pub fn authorize(&self) -> Result<Arc<Session>, Error> {
        let _only_one = lock(&self.inner.authorizing);
        self.authorize_locked()
    }

    fn authorize_locked(&self) -> Result<Arc<Session>, Error> {
        let params = self.params();
        let request = protocol::authorize_request(
            params.service_code,
            params.api_version,
            &mut crypto::os_rng(),
        );
        self.inner.authorizations.fetch_add(1, Ordering::SeqCst);
        let received = self
            .inner
            .transport
            .send(&self.inner.config.base_url, &request)?;
        let session = Arc::new(protocol::read_authorization(
            &received,
            params.merchant,
            self.now(),
            params.renewal,
        )?);
        self.install(Arc::clone(&session));
        Ok(session)
    }

    /// Stores a new session for every caller and in the session file; warns once when the
    /// host's clock is off the bank's.
    fn install(&self, session: Arc<Session>) {
        log::info!(
            "new session for device {} until {}",
            session.device_id,
            session.expires_at
        );
        let offset = session.clock_offset_secs();
        if offset.abs() > protocol::CLOCK_WARNING_SECS
            && !self.inner.clock_warned.swap(true, Ordering::SeqCst)
        {
            log::warn!(
                "this host's clock is {offset} s off the bank's; refund dates are corrected for it, but please synchronize the clock (NTP)"
            );
        }
        self.save_session(&session);
        *lock(&self.inner.current) = Some(session);
    }

    /// Runs one call to its outcome: the driver loop around [`Call`]. It moves bytes, holds
    /// the single-flight lock from [`Action::WaitForAuthorization`] until the next
    /// [`Action::Send`], and stores new sessions; every decision is the state machine's.
    pub fn call<E: Endpoint>(&self, endpoint: &E) -> Outcome<E::Output> {
        let mut rng = crypto::os_rng();
        let mut call = Call::new(endpoint, self.params());
        let base_url = &self.inner.config.base_url;
        let mut only_one = None;
        let mut action = call.start(self.snapshot(), self.now(), &mut rng);
        loop {
            action = match action {
                Action::WaitForAuthorization => {
                    // Never held here (every Send releases it); dropped first all the same,
                    // since locking a held std mutex again would deadlock.
                    drop(only_one.take());
                    only_one = Some(lock(&self.inner.authorizing));
                    call.resume(self.snapshot(), self.now(), &mut rng)
                }
                Action::Authorize(request) => {
                    log::info!("authorizing the virtual device at {base_url}");
                    self.inner.authorizations.fetch_add(1, Ordering::SeqCst);
                    match self.inner.transport.send(base_url, &request) {
                        Ok(received) => call.handle_response(received, self.now(), &mut rng),
                        Err(e) => call.handle_transport_error(e),
                    }
                }
                Action::Send(request) => {
                    only_one = None;
                    match self.inner.transport.send(base_url, &request) {
                        Ok(received) => {
                            log::debug!(
                                "{} answered HTTP {} (x-request_id {:?})",
                                request.path,
                                received.response.status,
                                received.response.request_id
                            );
                            call.handle_response(received, self.now(), &mut rng)
                        }
                        Err(e) => call.handle_transport_error(e),
                    }
                }
                Action::Finish(outcome) => return outcome,
            };
            // Stored before the next Send releases the lock, so waiting callers find it.
            if let Some(session) = call.take_new_session() {
                self.install(session);
            }
        }
    }

    fn read<E: Endpoint>(&self, endpoint: &E) -> Result<E::Output, Error> {
        debug_assert_eq!(E::KIND, Kind::Read);
        self.call(endpoint).into_result()
    }

    /// Creates an HPP order (plain JSON). The order is not paid until its status says so.
    ///
    /// On [`Outcome::Unknown`], send the same `order` again: either it was not created and now
    /// is, or the bank answers `b_duplicate_field_value` because the first one exists, which is
    /// `Unknown` again with [`Error::AlreadyExists`] (see there: an unpaid order cannot be
    /// fetched by its `merchantRequestId`).
    pub fn create_order(&self, order: &CreateOrder) -> Outcome<Order> {
        self.call(order)
    }

    /// Reads an HPP order and its operations.
    ///
    /// # Errors
    /// `b_hpp_order_not_found` is [`Error::Bank`]; an answer without the order's mandatory
    /// members is [`Error::MalformedResponse`]; transport and session errors.
    pub fn order_data(&self, hpp_order_id: &str) -> Result<Order, Error> {
        self.read(&OrderQuery {
            hpp_order_id: hpp_order_id.to_owned(),
        })
    }

    /// Refunds (part of) an operation; the body is encrypted to the session key.
    ///
    /// On [`Outcome::Unknown`], look the refund up by its `merchantRequestId`
    /// ([`Client::operation_by_merchant_request_id`]); if the bank has no such operation yet,
    /// send the same `refund` again. The bank's documents do not say how it answers a repeated
    /// refund id (our simulator answers with the operation it already made); an answer that
    /// the id exists is `Unknown` with [`Error::AlreadyExists`]: look it up.
    pub fn refund(&self, refund: &Refund) -> Outcome<Operation> {
        self.call(refund)
    }

    /// Looks an operation up by the bank's `operationId`.
    ///
    /// # Errors
    /// As [`Client::order_data`]; a record with status `FAIL` and `errorDetails` is
    /// [`Error::Declined`].
    pub fn operation_by_id(&self, operation_id: &str) -> Result<Operation, Error> {
        self.read(&OperationQuery::ById {
            id: operation_id.to_owned(),
        })
    }

    /// Looks an operation up by our `merchantRequestId`: how to learn the outcome of a write
    /// that ended [`Outcome::Unknown`].
    ///
    /// # Errors
    /// As [`Client::operation_by_id`]; `b_operation_not_found` ([`Error::Bank`]) means the
    /// bank has no such operation yet: not proof that nothing was applied (a write still in
    /// flight, or an order nobody has paid, is not found either).
    pub fn operation_by_merchant_request_id(
        &self,
        merchant_request_id: &str,
    ) -> Result<Operation, Error> {
        self.read(&OperationQuery::ByMerchantRequestId {
            merchant_request_id: merchant_request_id.to_owned(),
        })
    }

    /// Parses a callback body with this client's merchant key (see [`parse_callback`]).
    ///
    /// # Errors
    /// As [`parse_callback`].
    pub fn parse_callback(&self, body: &[u8]) -> Result<Callback, Error> {
        parse_callback(body, &self.inner.merchant)
    }

    fn thumbprint(&self) -> String {
        self.inner
            .merchant
            .public_jwk()
            .thumbprint()
            .to_base64url()
            .to_string()
    }

    fn save_session(&self, session: &Session) {
        let Some(path) = &self.inner.config.session_file else {
            return;
        };
        let saved = session.to_saved(&self.thumbprint(), &self.inner.config.base_url);
        let text = zeroize::Zeroizing::new(serde_json::to_vec_pretty(&saved).unwrap_or_default());
        if let Err(e) = store::write_private_file(path, &text) {
            log::warn!("could not save the session: {e}");
        }
    }

    fn load_saved_session(&self) {
        let Some(path) = &self.inner.config.session_file else {
            return;
        };
        let Ok(text) = std::fs::read(path).map(zeroize::Zeroizing::new) else {
            return;
        };
        if store::is_exposed(path) {
            log::warn!(
                "session file {} is readable by other users; run: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
        let saved: SavedSession = match serde_json::from_slice(&text) {
            Ok(s) => s,
            Err(e) => return log::warn!("ignoring session file {}: {e}", path.display()),
        };
        if saved.base_url != self.inner.config.base_url
            || saved.merchant_key_thumbprint != self.thumbprint()
        {
            return log::info!(
                "session file {} belongs to another bank or key; ignoring it",
                path.display()
            );
        }
        let now = self.now();
        match Session::from_saved(saved) {
            Ok(mut session) => {
                // The offset measured at authorization converts the wall clock to the bank's;
                // from here on the session is timed on this process's monotonic clock.
                let offset = session.clock_offset_secs();
                session.schedule(now, offset, self.inner.config.renewal);
                if session.needs_renewal(now) {
                    return log::info!("the saved session is due for renewal; not resuming it");
                }
                log::info!("resuming the saved session of device {}", session.device_id);
                *lock(&self.inner.current) = Some(Arc::new(session));
            }
            Err(e) => log::warn!("ignoring session file {}: {e}", path.display()),
        }
    }
}

/// Compile-time proof that one client can be shared by threads.
const _: fn() = || {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Client>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{HttpRequest, HttpResponse, Received};
    use crate::transport::TransportError;
    use std::sync::atomic::AtomicUsize;

    /// Counts warnings about the host's clock (the only logger of this test binary).
    struct ClockWarnings(AtomicUsize);

    impl log::Log for ClockWarnings {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            if record.level() == log::Level::Warn
                && record.args().to_string().contains("off the bank's")
            {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        fn flush(&self) {}
    }

    static WARNINGS: ClockWarnings = ClockWarnings(AtomicUsize::new(0));

    /// A bank two hours ahead of the host: every authorization answers a fresh session and a
    /// `Date` header two hours on.
    struct AheadBank {
        merchant: alliancepay_jose::PublicJwk,
        server: String,
    }

    impl Transport for AheadBank {
        fn send(&self, _: &str, _: &HttpRequest) -> Result<Received, TransportError> {
            let bank_now = UtcTime::now().plus(7200);
            let payload = format!(
                r#"{{"refreshToken":"rt","deviceId":"dev","serverPublic":{},"tokenExpirationDateTime":"{}"}}"#,
                self.server,
                bank_now.plus(86_400).to_bank_utc()
            );
            let token = crypto::encrypt_to_string(&self.merchant, payload.as_bytes())
                .map_err(|e| TransportError::Failed(e.to_string()))?;
            Ok(Received {
                response: HttpResponse {
                    status: 200,
                    content_type: Some("application/json".into()),
                    request_id: None,
                    body: format!(r#"{{"jwe":"{token}"}}"#).into_bytes(),
                },
                date: Some(bank_now.to_http_date()),
            })
        }
    }

    #[test]
    fn a_skewed_host_is_warned_about_once() {
        let _ = log::set_logger(&WARNINGS);
        log::set_max_level(log::LevelFilter::Warn);
        let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let server = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let bank = AheadBank {
            merchant: *key.public_jwk(),
            server: crypto::public_jwk_to_string(server.public_jwk()),
        };
        let client =
            Client::with_transport(config("https://bank.example"), key, Box::new(bank)).unwrap();
        for _ in 0..3 {
            let session = client.authorize().unwrap();
            assert!((session.clock_offset_secs() - 7200).abs() <= 2);
        }
        assert_eq!(WARNINGS.0.load(Ordering::SeqCst), 1);
        assert_eq!(client.authorizations(), 3);
    }

    fn config(url: &str) -> ClientConfig {
        ClientConfig::new(url, "svc")
    }

    #[test]
    fn plain_http_only_to_loopback_or_when_asked() {
        for ok in [
            "https://api-ecom-prod.bankalliance.ua",
            "HTTPS://bank.example:8443/base",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://localhost:9000/",
            "http://[::1]:8080",
        ] {
            assert!(config(ok).check().is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("http://api-ecom-prod.bankalliance.ua", "plain http"),
            ("http://10.0.0.1:8080", "plain http"),
            ("http://localhost.evil.example", "plain http"),
            ("http://127.0.0.1@bank.example", "plain http"),
            ("http://[::2]:80", "plain http"),
            ("ftp://bank.example", "scheme"),
            ("bank.example", "no scheme"),
            ("https://:443", "no host"),
        ] {
            let e = config(bad).check().unwrap_err();
            assert!(
                matches!(e, Error::Config(ref m) if m.contains(says)),
                "{bad}: {e}"
            );
        }
        let mut opted_in = config("http://bank.internal:8080");
        opted_in.allow_plain_http = true;
        assert!(opted_in.check().is_ok());
        let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        assert!(matches!(
            Client::new(config("http://bank.example"), key),
            Err(Error::Config(_))
        ));
    }
}
