//! The blocking client: one per service code, shared by every thread of the process.
//!
//! It owns the session. Calls take the current one; when it is missing, near expiry, or
//! rejected by the bank, exactly one thread re-authorizes (single flight) while the others wait
//! and then use the session it obtained. A call rejected for its session is rebuilt (fresh
//! headers, a body re-encrypted to the new `serverPublic`, the same `merchantRequestId`) and
//! sent once more; never more, so nothing is charged twice and no loop can form.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use alliancepay_jose::PrivateJwk;

use crate::callback::{Callback, parse_callback};
use crate::model::{CreateOrder, Operation, OperationQuery, Order, OrderQuery, Refund};
use crate::protocol::{self, Call, HttpRequest, HttpResponse, Reply};
use crate::secret::Secret;
use crate::session::{RenewalPolicy, SavedSession, Session};
use crate::time::UtcTime;
use crate::transport::{Transport, TransportError, UreqTransport};
use crate::{Error, store};

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
        }
    }
}

type Clock = Arc<dyn Fn() -> UtcTime + Send + Sync>;

/// A session together with a counter that tells sessions apart: a thread whose session was
/// rejected compares counters to learn whether someone already replaced it.
#[derive(Clone)]
struct Current {
    session: Arc<Session>,
    generation: u64,
}

struct Inner {
    config: ClientConfig,
    merchant: PrivateJwk,
    transport: Box<dyn Transport>,
    clock: Clock,
    current: Mutex<Option<Current>>,
    /// Held for the whole of an authorization, so only one runs at a time.
    authorizing: Mutex<()>,
    authorizations: AtomicU64,
    generations: AtomicU64,
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
    #[must_use]
    pub fn new(config: ClientConfig, merchant: PrivateJwk) -> Self {
        let transport = UreqTransport::new(config.timeout);
        Self::with_transport(config, merchant, Box::new(transport))
    }

    /// A client over any [`Transport`].
    #[must_use]
    pub fn with_transport(
        config: ClientConfig,
        merchant: PrivateJwk,
        transport: Box<dyn Transport>,
    ) -> Self {
        let client = Self {
            inner: Arc::new(Inner {
                config,
                merchant,
                transport,
                clock: Arc::new(UtcTime::now),
                current: Mutex::new(None),
                authorizing: Mutex::new(()),
                authorizations: AtomicU64::new(0),
                generations: AtomicU64::new(0),
            }),
        };
        client.load_saved_session();
        client
    }

    /// The same client reading time from `clock` (tests and demos move time forward with it).
    /// Call before cloning.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> UtcTime + Send + Sync + 'static) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.clock = Arc::new(clock);
        }
        self
    }

    /// The merchant key this client decrypts with.
    #[must_use]
    pub fn merchant_key(&self) -> &PrivateJwk {
        &self.inner.merchant
    }

    /// How many device authorizations this client has performed.
    #[must_use]
    pub fn authorizations(&self) -> u64 {
        self.inner.authorizations.load(Ordering::SeqCst)
    }

    fn now(&self) -> UtcTime {
        (self.inner.clock)()
    }

    fn snapshot(&self) -> Option<Current> {
        lock(&self.inner.current).clone()
    }

    /// The current session, authorizing first when there is none or it is due for renewal.
    ///
    /// # Errors
    /// Those of [`Client::authorize`].
    pub fn session(&self) -> Result<Arc<Session>, Error> {
        self.current().map(|c| c.session)
    }

    /// Authorizes now, replacing any session.
    ///
    /// # Errors
    /// [`Error::ServiceCodeLocked`] when the bank has locked the service code, [`Error::Bank`],
    /// [`Error::Decryption`] when the key is not the one registered for the service code,
    /// transport errors, [`Error::MalformedResponse`].
    pub fn authorize(&self) -> Result<Arc<Session>, Error> {
        let stale = self.snapshot().map(|c| c.generation);
        self.renew(stale, true).map(|c| c.session)
    }

    fn current(&self) -> Result<Current, Error> {
        match self.snapshot() {
            Some(c)
                if !c
                    .session
                    .needs_renewal(self.now(), self.inner.config.renewal) =>
            {
                Ok(c)
            }
            Some(c) => self.renew(Some(c.generation), false),
            None => self.renew(None, false),
        }
    }

    /// Single flight: replaces the session whose generation is `stale` (or the missing one),
    /// unless another thread did so while this one waited for the lock; `always` skips that
    /// check (an explicit [`Client::authorize`]).
    fn renew(&self, stale: Option<u64>, always: bool) -> Result<Current, Error> {
        let _only_one = lock(&self.inner.authorizing);
        if let Some(c) = self.snapshot().filter(|_| !always) {
            let replaced_meanwhile = Some(c.generation) != stale;
            if replaced_meanwhile
                && !c
                    .session
                    .needs_renewal(self.now(), self.inner.config.renewal)
            {
                return Ok(c);
            }
        }
        let config = &self.inner.config;
        let request =
            protocol::authorize_request(config.service_code.expose(), &config.api_version);
        log::info!("authorizing the virtual device at {}", config.base_url);
        self.inner.authorizations.fetch_add(1, Ordering::SeqCst);
        let response = self.send(&request)?;
        let session =
            protocol::read_authorize_response(&response, &self.inner.merchant, self.now())?;
        log::info!(
            "new session for device {} until {}",
            session.device_id,
            session.expires_at
        );
        let current = Current {
            session: Arc::new(session),
            generation: self.inner.generations.fetch_add(1, Ordering::SeqCst) + 1,
        };
        *lock(&self.inner.current) = Some(current.clone());
        self.save_session(&current.session);
        Ok(current)
    }

    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, Error> {
        self.inner
            .transport
            .send(&self.inner.config.base_url, request)
            .map_err(|e| match e {
                TransportError::Timeout(d) => Error::Timeout(d),
                TransportError::Failed(d) => Error::Transport(d),
            })
    }

    fn send_call<C: Call>(&self, call: &C, session: &Session) -> Result<Reply<C::Output>, Error> {
        let request =
            protocol::call_request(call, session, &self.inner.config.api_version, self.now())?;
        let response = self.send(&request)?;
        log::debug!(
            "{} answered HTTP {} (x-request_id {:?})",
            request.path,
            response.status,
            response.request_id
        );
        protocol::read_call_response(&response, &self.inner.merchant)
    }

    /// Performs a typed call: validates it, sends it in the current session, and on a session
    /// error re-authorizes once and sends the same request (same `merchantRequestId`, rebuilt
    /// for the new session) once more.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before anything is sent; the bank's refusal; transport errors
    /// (for a write, look it up by `merchantRequestId` before resending);
    /// [`Error::SessionRejectedAfterReauthorization`] if the fresh session is rejected too.
    pub fn call<C: Call>(&self, call: &C) -> Result<C::Output, Error> {
        call.validate()?;
        let first = self.current()?;
        let retry_in = match self.send_call(call, &first.session)? {
            Reply::Done(output) => return Ok(output),
            Reply::SessionRejected(e) => {
                log::info!("session rejected ({e}); re-authorizing once");
                self.renew(Some(first.generation), false)?
            }
            Reply::StaleEncryption(e) => match self.current()? {
                newer if newer.generation != first.generation => newer,
                _ => return Err(Error::Bank(e)),
            },
        };
        match self.send_call(call, &retry_in.session)? {
            Reply::Done(output) => Ok(output),
            Reply::SessionRejected(e) => Err(Error::SessionRejectedAfterReauthorization(e)),
            Reply::StaleEncryption(e) => Err(Error::Bank(e)),
        }
    }

    /// Creates an HPP order (plain JSON). The order is not paid until its status says so.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn create_order(&self, order: &CreateOrder) -> Result<Order, Error> {
        self.call(order)
    }

    /// Reads an HPP order and its operations.
    ///
    /// # Errors
    /// As [`Client::call`]; `b_hpp_order_not_found` is [`Error::Bank`].
    pub fn order_data(&self, hpp_order_id: &str) -> Result<Order, Error> {
        self.call(&OrderQuery {
            hpp_order_id: hpp_order_id.to_owned(),
        })
    }

    /// Refunds (part of) an operation; the body is encrypted to the session key.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn refund(&self, refund: &Refund) -> Result<Operation, Error> {
        self.call(refund)
    }

    /// Looks an operation up by the bank's `operationId`.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn operation_by_id(&self, operation_id: &str) -> Result<Operation, Error> {
        self.call(&OperationQuery::ById {
            id: operation_id.to_owned(),
        })
    }

    /// Looks an operation up by our `merchantRequestId`: how to learn the outcome of a write
    /// that failed in transit.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub fn operation_by_merchant_request_id(
        &self,
        merchant_request_id: &str,
    ) -> Result<Operation, Error> {
        self.call(&OperationQuery::ByMerchantRequestId {
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
        match Session::from_saved(saved) {
            Ok(session) if !session.needs_renewal(self.now(), self.inner.config.renewal) => {
                log::info!("resuming the saved session of device {}", session.device_id);
                *lock(&self.inner.current) = Some(Current {
                    session: Arc::new(session),
                    generation: self.inner.generations.fetch_add(1, Ordering::SeqCst) + 1,
                });
            }
            Ok(_) => log::info!("the saved session is due for renewal; not resuming it"),
            Err(e) => log::warn!("ignoring session file {}: {e}", path.display()),
        }
    }
}

/// Compile-time proof that one client can be shared by threads.
const _: fn() = || {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Client>();
};
