//! The blocking driver: one client per service code, shared by every thread of the process,
//! and, through a shared [`SessionStore`], by every process and host of the merchant.
//!
//! It owns the session, the transport, the clocks, the OS RNG and the store; the
//! [`crate::call`] state machine owns every decision about one call. [`Client::call`] is the
//! loop with one arm per action. When a session is missing, due, or rejected, the machine asks
//! to wait for authorization; the driver then applies the store's rule (see
//! [`crate::sessions`]): take the in-process lock; reload the store, and use a newer session
//! if there is one; otherwise take the store's lease, reload again, and only if nothing newer
//! appeared, authorize and publish the next generation. A worker that is merely due for
//! renewal and finds the lease taken goes on with its session until the holder publishes.
//!
//! When the store does not answer (Redis down or slow), calls go on with the process's own
//! session and in-process single flight; one warning per outage, and the process re-syncs
//! with the store when it answers again. No payment call fails because the store is down.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use alliancepay_jose::PrivateJwk;

use crate::call::{Action, Call, Params};
use crate::callback::{Callback, parse_callback};
use crate::error::{BaseUrlProblem, ConfigError};
use crate::model::{CreateOrder, Operation, OperationQuery, Order, OrderQuery, Refund};
use crate::outcome::Outcome;
use crate::protocol::{self, Endpoint, Kind};
use crate::secret::Secret;
use crate::session::{RenewalPolicy, Session};
use crate::sessions::sealed::{self, Binding};
use crate::sessions::{self, Lease, Record, SessionStore, StoreError, StoreSpec};
use crate::time::{Now, UtcTime};
use crate::transport::{Transport, UreqTransport};
use crate::{Error, crypto};

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
    /// Where the session lives: this process's memory (the default), a file shared by the
    /// processes of one host (`file:PATH`), or Redis for many hosts (`redis://…`, feature
    /// `redis`). See [`crate::sessions`].
    pub session_store: StoreSpec,
    /// Shorthand for `session_store = StoreSpec::File(path)`, kept for existing callers;
    /// ignored when `session_store` is not [`StoreSpec::Memory`].
    pub session_file: Option<PathBuf>,
    /// The Redis keys' prefix (default `alliancepay:`); the merchant key's thumbprint follows.
    pub store_prefix: String,
    /// How long the authorization lease lasts unless released (default 40 s); a holder that
    /// dies is replaced after it. Never shorter than [`ClientConfig::timeout`] plus 1 s, so a
    /// live holder's authorization exchange always fits inside its lease.
    pub lease_ttl: Duration,
    /// Timeout of each command to the session store (default 250 ms).
    pub store_timeout: Duration,
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
            session_store: StoreSpec::Memory,
            session_file: None,
            store_prefix: "alliancepay:".to_owned(),
            lease_ttl: Duration::from_secs(40),
            store_timeout: Duration::from_millis(250),
            timeout: Duration::from_secs(30),
            allow_plain_http: false,
        }
    }

    /// The store this configuration names, [`ClientConfig::session_file`] included.
    #[must_use]
    pub fn store_spec(&self) -> StoreSpec {
        match (&self.session_store, &self.session_file) {
            (StoreSpec::Memory, Some(path)) => StoreSpec::File(path.clone()),
            (spec, _) => spec.clone(),
        }
    }

    /// The lease's time to live actually used (see [`ClientConfig::lease_ttl`]).
    #[must_use]
    pub fn effective_lease_ttl(&self) -> Duration {
        self.lease_ttl.max(self.timeout + Duration::from_secs(1))
    }

    /// Checks the base URL: `https://`, or `http://` on a loopback host (the simulator), or
    /// `http://` anywhere with [`ClientConfig::allow_plain_http`].
    ///
    /// # Errors
    /// [`Error::Config`] saying what is wrong with the URL.
    pub fn check(&self) -> Result<(), Error> {
        let url = &self.base_url;
        let refuse = |problem| {
            Error::Config(ConfigError::BaseUrl {
                url: url.clone(),
                problem,
            })
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| refuse(BaseUrlProblem::NoScheme))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        let host = match host_port.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host_port.split(':').next().unwrap_or_default(),
        };
        if host.is_empty() {
            return Err(refuse(BaseUrlProblem::NoHost));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "https" => Ok(()),
            "http" if is_loopback(host) || self.allow_plain_http => Ok(()),
            "http" => Err(refuse(BaseUrlProblem::PlainHttp {
                host: host.to_owned(),
            })),
            other => Err(refuse(BaseUrlProblem::UnsupportedScheme {
                scheme: other.to_owned(),
            })),
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
    store: Box<dyn SessionStore>,
    binding: Binding,
    wall: WallClock,
    monotonic: MonotonicClock,
    current: Mutex<Current>,
    /// Held for the whole of an authorization, so only one thread of the process runs one.
    authorizing: Mutex<()>,
    authorizations: AtomicU64,
    /// Every request sent to the bank, authorizations included.
    requests: AtomicU64,
    clock_warned: AtomicBool,
    /// Whether the store failed last time: one warning per outage.
    store_down: AtomicBool,
    /// When the store last failed or came back, to count a flapping store as one outage.
    store_failed_at: Mutex<Option<Instant>>,
}

/// The session this process uses, and where it stands with the store.
#[derive(Clone, Default)]
struct Current {
    /// The store generation the session is (or would have been published as).
    generation: u64,
    session: Option<Arc<Session>>,
    /// Whether the store holds this session at `generation`; `false` for a session obtained
    /// while the store was unavailable, which is published (or given up for the store's) when
    /// the store answers again.
    published: bool,
}

/// The lease held between deciding to authorize and publishing the result.
struct Held {
    lease: Lease,
    /// The store's generation when the lease was taken: the publish's fence.
    expected: u64,
}

/// How long a worker that is due for renewal but cannot take the lease goes on with its
/// session before asking again: the holder normally publishes well within it.
const RENEWAL_RETRY: Duration = Duration::from_millis(250);

/// How long a call waits for the session of an authorization under way elsewhere before it
/// goes on with the session it has.
const PUBLISH_WAIT: Duration = Duration::from_millis(200);

/// Pause between two looks at the store while waiting for that session.
const PUBLISH_POLL: Duration = Duration::from_millis(2);

/// How long a renewing lease holder lets calls already sent in the current session finish
/// before authorizing: a renewal is planned, unlike a rejection, so nobody need be refused.
const RENEWAL_DRAIN: Duration = Duration::from_millis(50);

/// How long a call that must authorize waits for a store that does not answer before it
/// authorizes on its own, and how often it asks again meanwhile.
const STORE_GRACE: Duration = Duration::from_secs(1);
const STORE_RETRY: Duration = Duration::from_millis(50);

/// A store failing again within this time after it came back is the same outage.
const OUTAGE_MERGE: Duration = Duration::from_secs(5);

/// Pause between attempts to take a lease somebody else holds.
const LEASE_POLL: Duration = Duration::from_millis(5);

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
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

/// The generation of a session obtained now over `base`: above `base`, and at least the
/// bank's clock in milliseconds (the host's, corrected by the offset the authorization
/// measured). Generations so follow the order in which the bank granted the sessions, also
/// across a store that lost its record: a session obtained later always has the higher one,
/// whichever worker obtained it, and an old one is never published over it.
fn next_generation(base: u64, session: &Session) -> u64 {
    let wall_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let bank_ms = wall_ms.saturating_add(session.clock_offset_secs().saturating_mul(1000));
    base.saturating_add(1)
        .max(u64::try_from(bank_ms).unwrap_or(0))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the data consistent: every write is a
    // single assignment.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Client {
    /// A client over the default blocking transport. Opens the session store and resumes the
    /// session stored there, if any and valid for this bank, service code and key, so a
    /// restart does not re-authorize.
    ///
    /// # Errors
    /// [`Error::Config`] for a base URL that is not `https://` (see [`ClientConfig::check`]),
    /// or a session store that cannot be used: a session path that is the key file or any
    /// other file that is not one of our session files is refused before anything is written.
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
        let thumbprint = merchant
            .public_jwk()
            .thumbprint()
            .to_base64url()
            .to_string();
        let scope = format!(
            "{thumbprint}:{}",
            sessions::scope_tag(&merchant, &config.base_url, config.service_code.expose())?
        );
        let store = sessions::open(
            &config.store_spec(),
            &config.store_prefix,
            &scope,
            config.store_timeout,
        )?;
        Self::with_store(config, merchant, transport, store)
    }

    /// A client over any [`Transport`] and any [`SessionStore`] (the configuration's
    /// `session_store` is then not used).
    ///
    /// # Errors
    /// [`Error::Config`] for a base URL that is not `https://` (see [`ClientConfig::check`]).
    pub fn with_store(
        config: ClientConfig,
        merchant: PrivateJwk,
        transport: Box<dyn Transport>,
        store: Box<dyn SessionStore>,
    ) -> Result<Self, Error> {
        config.check()?;
        let binding = Binding {
            base_url: config.base_url.clone(),
            service_code: config.service_code.clone(),
            key_thumbprint: merchant
                .public_jwk()
                .thumbprint()
                .to_base64url()
                .to_string(),
        };
        // One origin for the whole process: a session's renewal deadline and its bank-clock
        // anchor are monotonic readings, valid for every client of this process that uses it.
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        let origin = *ORIGIN.get_or_init(Instant::now);
        let client = Self {
            inner: Arc::new(Inner {
                config,
                merchant,
                transport,
                store,
                binding,
                wall: Arc::new(UtcTime::now),
                monotonic: Arc::new(move || origin.elapsed()),
                current: Mutex::new(Current::default()),
                authorizing: Mutex::new(()),
                authorizations: AtomicU64::new(0),
                requests: AtomicU64::new(0),
                clock_warned: AtomicBool::new(false),
                store_down: AtomicBool::new(false),
                store_failed_at: Mutex::new(None),
            }),
        };
        client.sync();
        Ok(client)
    }

    /// The same client reading the host's wall clock from `clock` (tests put the host hours
    /// off the bank with it). Call before cloning and before any call; the stored session, if
    /// any, is re-read against the new clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> UtcTime + Send + Sync + 'static) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.wall = Arc::new(clock);
        }
        self.reload();
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
        self.reload();
        self
    }

    /// Forgets the session in memory and reads the store again (after a clock change).
    fn reload(&self) {
        *lock(&self.inner.current) = Current::default();
        self.sync();
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

    /// How many requests this client has sent to the bank, authorizations and requests the
    /// bank refused included.
    #[must_use]
    pub fn bank_requests(&self) -> u64 {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// The store generation of the session this process uses (0: none yet).
    #[must_use]
    pub fn generation(&self) -> u64 {
        lock(&self.inner.current).generation
    }

    fn now(&self) -> Now {
        Now {
            wall: (self.inner.wall)(),
            monotonic: (self.inner.monotonic)(),
        }
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

    fn store_failed(&self, e: &StoreError) {
        if self.inner.store_down.swap(true, Ordering::SeqCst) {
            return;
        }
        // A store that flaps while coming back (a connection accepted, then reset) is still
        // the same outage: one warning for it.
        let mut last = lock(&self.inner.store_failed_at);
        let same_outage = last.is_some_and(|t| t.elapsed() < OUTAGE_MERGE);
        *last = Some(Instant::now());
        if same_outage {
            log::debug!("{e} (the same outage)");
        } else {
            log::warn!(
                "{e}; calls go on with this process's own session until the store answers again"
            );
        }
    }

    fn store_answered(&self) {
        if self.inner.store_down.swap(false, Ordering::SeqCst) {
            *lock(&self.inner.store_failed_at) = Some(Instant::now());
            log::info!("the session store answers again; re-synchronizing with it");
        }
    }

    /// Brings the process's session up to date with the store and returns it: a newer
    /// generation there is adopted; a session this process obtained while the store was
    /// unavailable is published when the store is behind it. Cheap when nothing changed (one
    /// `stat` or one Redis round trip).
    fn sync(&self) -> Option<Arc<Session>> {
        self.sync_with(false)
    }

    /// [`Client::sync`] before sending: when another worker is authorizing right now, the
    /// bank is about to refuse the current session, so wait (up to [`PUBLISH_WAIT`]) for its
    /// successor rather than send a request that would be refused.
    fn sync_before_sending(&self) -> Option<Arc<Session>> {
        self.sync_with(true)
    }

    fn sync_with(&self, before_sending: bool) -> Option<Arc<Session>> {
        let mine = lock(&self.inner.current).clone();
        let peeked = if before_sending {
            self.inner.store.peek()
        } else {
            self.inner.store.generation().map(|g| (g, false))
        };
        let (mut stored, leased) = match peeked {
            Ok(p) => {
                self.store_answered();
                p
            }
            Err(e) => {
                self.store_failed(&e);
                return mine.session;
            }
        };
        if leased && stored <= mine.generation && mine.session.is_some() {
            let deadline = Instant::now() + PUBLISH_WAIT;
            while Instant::now() < deadline {
                std::thread::sleep(PUBLISH_POLL);
                match self.inner.store.peek() {
                    Ok((g, still)) if g == stored && still => {}
                    Ok((g, _)) => {
                        stored = g;
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        if stored > mine.generation {
            return self.adopt(&mine).or(mine.session);
        }
        // A session of ours the store lacks: one obtained while the store was down (newer at
        // the bank than the generation it was based on), or one the store lost (a Redis
        // restarted empty). Publish it; whoever publishes first wins, the others adopt it.
        // Generations follow the bank's clock (see `next_generation`), so "behind" means
        // "older": a store that restarted empty and got a newer session from a fresh worker
        // is ahead of this process's old one, and is adopted above instead of overwritten.
        let target = mine.generation;
        if let Some(session) = mine.session.as_ref().filter(|_| stored < target) {
            self.seed(stored, target, session);
        }
        mine.session
    }

    /// Reads the store's record and makes it the process's session.
    fn adopt(&self, mine: &Current) -> Option<Arc<Session>> {
        let record = match self.inner.store.load() {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => {
                self.store_failed(&e);
                return None;
            }
        };
        let mut session = match sealed::unseal(
            &record.sealed,
            &self.inner.binding,
            record.generation,
            &self.inner.merchant,
        ) {
            Ok(s) => s,
            Err(e) => {
                log::warn!(
                    "ignoring the stored session (generation {}): {e}",
                    record.generation
                );
                // Not read again until a newer one is published. The process's own session,
                // if any, stays: the next rejection of it replaces the unusable record.
                let mut current = lock(&self.inner.current);
                if current.generation == mine.generation {
                    current.generation = record.generation;
                    current.published = true;
                }
                return current.session.clone();
            }
        };
        // The offset measured at authorization converts the wall clock to the bank's; from
        // here on the session is timed on this process's monotonic clock.
        let offset = session.clock_offset_secs();
        session.schedule(self.now(), offset, self.inner.config.renewal);
        let session = Arc::new(session);
        let mut current = lock(&self.inner.current);
        if current.generation > record.generation && current.published {
            // Another thread adopted something newer meanwhile.
            return current.session.clone();
        }
        log::info!(
            "using the stored session of device {} (generation {})",
            session.device_id,
            record.generation
        );
        *current = Current {
            generation: record.generation,
            session: Some(Arc::clone(&session)),
            published: true,
        };
        Some(session)
    }

    /// Publishes this process's session as `generation` over the store's older `stored`, if
    /// the lease is free right now; otherwise somebody else is at it and the next sync sees
    /// the result.
    fn seed(&self, stored: u64, generation: u64, session: &Session) {
        let Ok(Some(lease)) = self
            .inner
            .store
            .try_lease(self.inner.config.effective_lease_ttl())
        else {
            return;
        };
        let published = self.publish(
            Held {
                lease,
                expected: stored,
            },
            generation,
            session,
        );
        if published {
            log::info!("published this process's session as generation {generation}");
            let mut current = lock(&self.inner.current);
            if current
                .session
                .as_ref()
                .is_some_and(|s| s.device_id == session.device_id)
            {
                current.generation = generation;
                current.published = true;
            }
        }
    }

    /// Seals and publishes `session` as `generation` under `held`, then releases the lease.
    fn publish(&self, held: Held, generation: u64, session: &Session) -> bool {
        let result = sealed::seal(
            session,
            &self.inner.binding,
            generation,
            &self.inner.merchant,
        )
        .map_err(|e| StoreError::Invalid(e.into()))
        .and_then(|text| {
            self.inner.store.publish(
                &held.lease,
                held.expected,
                &Record {
                    generation,
                    sealed: text,
                },
            )
        });
        self.inner.store.release(held.lease);
        match result {
            Ok(()) => {
                self.store_answered();
                true
            }
            Err(e @ StoreError::Fenced(_)) => {
                log::warn!("the new session was not published ({e}); using it in this process");
                false
            }
            Err(e) => {
                self.store_failed(&e);
                false
            }
        }
    }

    /// The single-flight step: decides, with the store, between using a session someone else
    /// obtained and authorizing (holding the lease, if the store answers). `needs` tells
    /// whether a session would have to be replaced; `renewal_only` whether the caller could go
    /// on with its current session. Bounded: a lease that is not released within its time to
    /// live is treated as abandoned and the process authorizes on its own.
    fn prepare_authorization(
        &self,
        needs: &dyn Fn(Option<&Session>, Now) -> bool,
        renewal_only: bool,
    ) -> (Option<Arc<Session>>, Option<Held>) {
        let ttl = self.inner.config.effective_lease_ttl();
        let deadline = Instant::now() + ttl + Duration::from_secs(1);
        let mut unavailable_since = None;
        loop {
            let session = self.sync();
            let now = self.now();
            if !needs(session.as_deref(), now) {
                return (session, None);
            }
            let busy = match self.inner.store.try_lease(ttl) {
                Ok(Some(lease)) => {
                    // Reload under the lease: the previous holder may have published just
                    // before releasing it.
                    let session = self.sync();
                    if !needs(session.as_deref(), self.now()) {
                        self.inner.store.release(lease);
                        return (session, None);
                    }
                    if renewal_only {
                        // The bank still accepts the current session, and other workers see
                        // the lease and hold new calls back; let the calls they already sent
                        // come back before the authorization makes the bank refuse them.
                        std::thread::sleep(RENEWAL_DRAIN);
                    }
                    return match self.inner.store.generation() {
                        Ok(expected) => (session, Some(Held { lease, expected })),
                        Err(e) => {
                            self.store_failed(&e);
                            self.inner.store.release(lease);
                            (session, None)
                        }
                    };
                }
                Ok(None) => true,
                Err(e) => {
                    self.store_failed(&e);
                    false
                }
            };
            // Due for renewal but somebody else holds the lease (or nobody can, the store
            // being down): go on with the session until it is replaced, as long as the bank
            // still accepts it.
            if let Some(s) = session
                .as_ref()
                .filter(|s| renewal_only && s.unexpired(now))
            {
                let postponed = Arc::new(s.postponed(now, RENEWAL_RETRY));
                let mut current = lock(&self.inner.current);
                if current
                    .session
                    .as_ref()
                    .is_some_and(|c| c.device_id == s.device_id)
                {
                    current.session = Some(Arc::clone(&postponed));
                }
                return (Some(postponed), None);
            }
            if !busy {
                // The store did not answer. Authorizing without it ends every other worker's
                // session, so a call that must authorize first gives the store a moment (a
                // blip, or a store in its quiet period after a failure) to come back.
                let since = *unavailable_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= STORE_GRACE {
                    return (session, None);
                }
                std::thread::sleep(STORE_RETRY);
                continue;
            }
            if Instant::now() >= deadline {
                log::warn!(
                    "the session store's authorization lease was not released within {ttl:?}; authorizing without it"
                );
                return (session, None);
            }
            std::thread::sleep(LEASE_POLL);
        }
    }

    /// The current session, authorizing first when there is none or it is due for renewal.
    ///
    /// # Errors
    /// Those of [`Client::authorize`].
    pub fn session(&self) -> Result<Arc<Session>, Error> {
        let needs = |s: Option<&Session>, now: Now| s.is_none_or(|s| s.needs_renewal(now));
        if let Some(s) = self.sync().filter(|s| !s.needs_renewal(self.now())) {
            return Ok(s);
        }
        let _only_one = lock(&self.inner.authorizing);
        match self.prepare_authorization(&needs, false) {
            (Some(s), None) if !s.needs_renewal(self.now()) => Ok(s),
            (_, held) => self.authorize_locked(held),
        }
    }

    /// Authorizes now, replacing any session (in the store too, when its lease can be taken
    /// within its time to live).
    ///
    /// # Errors
    /// [`Error::ServiceCodeLocked`] when the bank has locked the service code, [`Error::Bank`],
    /// [`Error::Decryption`] when the key is not the one registered for the service code,
    /// transport errors, [`Error::MalformedResponse`].
    pub fn authorize(&self) -> Result<Arc<Session>, Error> {
        let _only_one = lock(&self.inner.authorizing);
        let always = |_: Option<&Session>, _: Now| true;
        let (_, held) = self.prepare_authorization(&always, false);
        self.authorize_locked(held)
    }

    fn authorize_locked(&self, held: Option<Held>) -> Result<Arc<Session>, Error> {
        let params = self.params();
        let request = protocol::authorize_request(
            params.service_code,
            params.api_version,
            &mut crypto::os_rng(),
        );
        self.inner.authorizations.fetch_add(1, Ordering::SeqCst);
        self.inner.requests.fetch_add(1, Ordering::SeqCst);
        let received = self
            .inner
            .transport
            .send(&self.inner.config.base_url, &request);
        let session = received.map_err(Error::from).and_then(|received| {
            protocol::read_authorization(&received, params.merchant, self.now(), params.renewal)
        });
        match session {
            Ok(session) => {
                let session = Arc::new(session);
                self.install(Arc::clone(&session), held);
                Ok(session)
            }
            Err(e) => {
                if let Some(held) = held {
                    self.inner.store.release(held.lease);
                }
                Err(e)
            }
        }
    }

    /// Makes a new session every caller's: publishes it as the next generation when `held`,
    /// else keeps it in this process only (to be published when the store answers again);
    /// warns once when the host's clock is off the bank's.
    fn install(&self, session: Arc<Session>, held: Option<Held>) {
        let offset = session.clock_offset_secs();
        if offset.abs() > protocol::CLOCK_WARNING_SECS
            && !self.inner.clock_warned.swap(true, Ordering::SeqCst)
        {
            log::warn!(
                "this host's clock is {offset} s off the bank's; refund dates are corrected for it, but please synchronize the clock (NTP)"
            );
        }
        // A session that could not be published gets its generation all the same, with
        // `published` false: the next sync publishes it over an older record, or adopts a
        // newer one (one obtained later, by the generations' clock).
        let mine = lock(&self.inner.current).generation;
        let (generation, published) = match held {
            Some(held) => {
                let next = next_generation(held.expected.max(mine), &session);
                (next, self.publish(held, next, &session))
            }
            None => (next_generation(mine, &session), false),
        };
        log::info!(
            "new session for device {} until {} (generation {generation}{})",
            session.device_id,
            session.expires_at,
            if published { "" } else { ", this process only" }
        );
        *lock(&self.inner.current) = Current {
            generation,
            session: Some(session),
            published,
        };
    }

    /// Stops every call of this process from sending the session the bank just rejected:
    /// they wait for its replacement instead of collecting rejections of their own.
    fn retire(&self, device_id: &str) {
        let mut current = lock(&self.inner.current);
        if current
            .session
            .as_ref()
            .is_some_and(|s| s.device_id == device_id)
        {
            current.session = None;
        }
    }

    /// Runs one call to its outcome: the driver loop around [`Call`]. It moves bytes, holds
    /// the single-flight lock (and the store's lease, when it authorizes) from
    /// [`Action::WaitForAuthorization`] until the next [`Action::Send`], and publishes new
    /// sessions; every decision about the call is the state machine's.
    pub fn call<E: Endpoint>(&self, endpoint: &E) -> Outcome<E::Output> {
        let mut rng = crypto::os_rng();
        let mut call = Call::new(endpoint, self.params());
        let base_url = &self.inner.config.base_url;
        let mut only_one = None;
        let mut held: Option<Held> = None;
        let mut action = call.start(self.sync_before_sending(), self.now(), &mut rng);
        loop {
            action = match action {
                Action::WaitForAuthorization => {
                    if let Some(device) = call.rejected_device() {
                        self.retire(device);
                    }
                    // Never held here (every Send releases it); dropped first all the same,
                    // since locking a held std mutex again would deadlock.
                    drop(only_one.take());
                    only_one = Some(lock(&self.inner.authorizing));
                    let needs = |s: Option<&Session>, now: Now| call.would_authorize(s, now);
                    let (session, lease) = self.prepare_authorization(&needs, call.renewal_only());
                    held = lease;
                    call.resume(session, self.now(), &mut rng)
                }
                Action::Authorize(request) => {
                    log::info!("authorizing the virtual device at {base_url}");
                    self.inner.authorizations.fetch_add(1, Ordering::SeqCst);
                    self.inner.requests.fetch_add(1, Ordering::SeqCst);
                    match self.inner.transport.send(base_url, &request) {
                        Ok(received) => call.handle_response(received, self.now(), &mut rng),
                        Err(e) => call.handle_transport_error(e),
                    }
                }
                Action::Send(request) => {
                    only_one = None;
                    self.inner.requests.fetch_add(1, Ordering::SeqCst);
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
                Action::Finish(outcome) => {
                    if let Some(h) = held.take() {
                        self.inner.store.release(h.lease);
                    }
                    return outcome;
                }
            };
            // Stored before the next Send releases the lock, so waiting callers find it.
            if let Some(session) = call.take_new_session() {
                self.install(session, held.take());
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
                .map_err(|e| TransportError::Failed(e.to_string().into()))?;
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
                matches!(e, Error::Config(ConfigError::BaseUrl { .. }))
                    && e.to_string().contains(says),
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
