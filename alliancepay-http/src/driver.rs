//! The driver logic, written once for the blocking [`crate::Client`] and the async
//! `AsyncClient` (feature `tokio`): the call loop around [`Call`] and the session store's rule.
//!
//! Everything here is an `async fn` over a small [`Io`] seam: send a request, sleep, take the
//! single-flight lock, run a session-store command. The blocking driver implements it with
//! calls that finish before they return, so each of its futures is ready at the first poll
//! and [`block_on`] runs them without an executor; the async driver implements it on tokio
//! (an async mutex, tokio's timer, store commands on the blocking pool).
//!
//! The rule (see [`crate::sessions`]): when a session is missing, due, or rejected, take the
//! in-process lock; reload the store, and use a newer session if there is one; otherwise take
//! the store's lease, reload again, and only if nothing newer appeared, authorize and publish
//! the next generation. A worker that is merely due for renewal and finds the lease taken goes
//! on with its session until the holder publishes.
//!
//! When the store does not answer (Redis down or slow), calls go on with the process's own
//! session and in-process single flight; one warning per outage, and the process re-syncs
//! with the store when it answers again. No payment call fails because the store is down.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use alliancepay_jose::PrivateJwk;
use tracing::Instrument;

use crate::call::{Action, Call, Params};
use crate::config::ClientConfig;
use crate::crypto;
use crate::error::Error;
use crate::model::{
    CreateOrder, HppOrderId, MerchantRequestId, Operation, OperationQuery, Order, OrderQuery,
    Refund,
};
use crate::outcome::Outcome;
use crate::protocol::{self, Endpoint, HttpRequest, Kind, Received};
use crate::session::Session;
use crate::sessions::sealed::{self, Binding};
use crate::sessions::{self, Lease, Record, SessionStore, StoreError};
use crate::time::{Now, UtcTime};
use crate::transport::TransportError;

/// What a driver does that takes time: the only difference between the blocking and the
/// async client.
pub(crate) trait Io: Send + Sync + 'static {
    /// Proof of holding the in-process single-flight lock; dropping it releases the lock.
    type Flight<'a>
    where
        Self: 'a;

    /// One exchange with the bank (see [`crate::Transport::send`]).
    fn send<'a>(
        &'a self,
        base_url: &'a str,
        request: &'a HttpRequest,
    ) -> impl Future<Output = Result<Received, TransportError>> + Send + 'a;

    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;

    /// Takes the single-flight lock, waiting for the holder if there is one.
    fn single_flight(&self) -> impl Future<Output = Self::Flight<'_>>;

    /// Runs one (blocking, bounded) session-store command.
    fn store<R, F>(&self, store: &Arc<dyn SessionStore>, op: F) -> impl Future<Output = R> + Send
    where
        R: Send + 'static,
        F: FnOnce(&dyn SessionStore) -> R + Send + 'static;
}

/// Runs a future of the blocking driver to its end. Its every await is on a blocking call
/// that has already finished, so the first poll is `Ready`; polling again after `Pending`
/// (which no blocking [`Io`] returns) only keeps this total.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::yield_now();
    }
}

/// The host's clocks, as the client reads them: the wall clock (replaceable, so tests can put
/// the host hours off the bank) and a monotonic one.
pub(crate) type WallClock = Arc<dyn Fn() -> UtcTime + Send + Sync>;
pub(crate) type MonotonicClock = Arc<dyn Fn() -> Duration + Send + Sync>;

/// One client's state, shared by its clones, and its [`Io`].
pub(crate) struct Core<I> {
    pub(crate) io: I,
    pub(crate) config: ClientConfig,
    pub(crate) merchant: PrivateJwk,
    pub(crate) store: Arc<dyn SessionStore>,
    binding: Binding,
    wall: WallClock,
    monotonic: MonotonicClock,
    current: Mutex<Current>,
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

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves the data consistent: every write is a
    // single assignment.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The name of a call in traces (the paths of two reads end alike).
fn operation_of(path: &'static str) -> &'static str {
    match path {
        protocol::CREATE_ORDER_PATH => "create-order",
        protocol::ORDER_DATA_PATH => "order-data",
        protocol::REFUND_PATH => "refund",
        protocol::OPERATION_BY_ID_PATH => "operation-by-id",
        protocol::OPERATION_BY_REQUEST_ID_PATH => "operation-by-merchant-request-id",
        other => other,
    }
}

/// How an outcome is named in logs, and the bank's code, if it gave one.
fn outcome_fields<T>(outcome: &Outcome<T>) -> (&'static str, Option<&str>) {
    match outcome {
        Outcome::Done(_) => ("Done", None),
        Outcome::Refused(r) => ("Refused", r.code()),
        Outcome::Unknown(u) => ("Unknown", u.cause.bank_error().map(|b| b.msg_code.as_str())),
    }
}

/// What a [`Core`] is made of besides its [`Io`] (see `crate::client::Builder`).
pub(crate) struct Parts {
    pub(crate) config: ClientConfig,
    pub(crate) merchant: PrivateJwk,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) wall: Option<WallClock>,
    pub(crate) monotonic: Option<MonotonicClock>,
}

/// Opens the store `config` names, under the scope of this merchant, bank and service code.
pub(crate) fn open_store(
    config: &ClientConfig,
    merchant: &PrivateJwk,
) -> Result<Arc<dyn SessionStore>, Error> {
    let thumbprint = merchant
        .public_jwk()
        .thumbprint()
        .to_base64url()
        .to_string();
    let scope = format!(
        "{thumbprint}:{}",
        sessions::scope_tag(merchant, config.base_url(), config.service_code().expose())?
    );
    Ok(Arc::from(sessions::open(
        config.session_store(),
        config.store_prefix(),
        &scope,
        config.store_timeout(),
    )?))
}

impl<I: Io> Core<I> {
    /// A core over `io`; the caller then syncs it with the store ([`Core::sync`]).
    pub(crate) fn new(io: I, parts: Parts) -> Result<Self, Error> {
        let Parts {
            config,
            merchant,
            store,
            wall,
            monotonic,
        } = parts;
        config.check()?;
        let binding = Binding {
            base_url: config.base_url().to_owned(),
            service_code: config.service_code().as_secret().clone(),
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
        Ok(Self {
            io,
            config,
            merchant,
            store,
            binding,
            wall: wall.unwrap_or_else(|| Arc::new(UtcTime::now)),
            monotonic: monotonic.unwrap_or_else(|| Arc::new(move || origin.elapsed())),
            current: Mutex::new(Current::default()),
            authorizations: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            clock_warned: AtomicBool::new(false),
            store_down: AtomicBool::new(false),
            store_failed_at: Mutex::new(None),
        })
    }

    /// A client's `Debug`: where it goes and with which key, never a secret.
    pub(crate) fn describe(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("base_url", &self.config.base_url())
            .field("merchant_key", self.merchant.public_jwk())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }

    pub(crate) fn authorizations(&self) -> u64 {
        self.authorizations.load(Ordering::SeqCst)
    }

    pub(crate) fn bank_requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    pub(crate) fn generation(&self) -> u64 {
        lock(&self.current).generation
    }

    fn now(&self) -> Now {
        Now {
            wall: (self.wall)(),
            monotonic: (self.monotonic)(),
        }
    }

    fn params(&self) -> Params<'_> {
        Params {
            merchant: &self.merchant,
            service_code: self.config.service_code().expose(),
            api_version: self.config.api_version(),
            renewal: self.config.renewal(),
        }
    }

    /// Runs `op` on the session store through the [`Io`].
    async fn store<R, F>(&self, op: F) -> R
    where
        R: Send + 'static,
        F: FnOnce(&dyn SessionStore) -> R + Send + 'static,
    {
        self.io.store(&self.store, op).await
    }

    async fn release(&self, lease: Lease) {
        self.store(move |s| s.release(lease)).await;
    }

    fn store_failed(&self, e: &StoreError) {
        if self.store_down.swap(true, Ordering::SeqCst) {
            return;
        }
        // A store that flaps while coming back (a connection accepted, then reset) is still
        // the same outage: one warning for it.
        let mut last = lock(&self.store_failed_at);
        let same_outage = last.is_some_and(|t| t.elapsed() < OUTAGE_MERGE);
        *last = Some(Instant::now());
        if same_outage {
            tracing::debug!(error = %e, "session store failed again (the same outage)");
        } else {
            tracing::warn!(
                error = %e,
                "{e}; calls go on with this process's own session until the store answers again"
            );
        }
    }

    fn store_answered(&self) {
        if self.store_down.swap(false, Ordering::SeqCst) {
            *lock(&self.store_failed_at) = Some(Instant::now());
            tracing::info!("the session store answers again; re-synchronizing with it");
        }
    }

    /// Brings the process's session up to date with the store and returns it: a newer
    /// generation there is adopted; a session this process obtained while the store was
    /// unavailable is published when the store is behind it. Cheap when nothing changed (one
    /// `stat` or one Redis round trip).
    pub(crate) async fn sync(&self) -> Option<Arc<Session>> {
        self.sync_with(false).await
    }

    /// [`Core::sync`] before sending: when another worker is authorizing right now, the
    /// bank is about to refuse the current session, so wait (up to [`PUBLISH_WAIT`]) for its
    /// successor rather than send a request that would be refused.
    async fn sync_before_sending(&self) -> Option<Arc<Session>> {
        self.sync_with(true).await
    }

    async fn sync_with(&self, before_sending: bool) -> Option<Arc<Session>> {
        let mine = lock(&self.current).clone();
        let peeked = if before_sending {
            self.store(|s| s.peek()).await
        } else {
            self.store(|s| s.generation().map(|g| (g, false))).await
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
                self.io.sleep(PUBLISH_POLL).await;
                match self.store(|s| s.peek()).await {
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
            return self.adopt(&mine).await.or(mine.session);
        }
        // A session of ours the store lacks: one obtained while the store was down (newer at
        // the bank than the generation it was based on), or one the store lost (a Redis
        // restarted empty). Publish it; whoever publishes first wins, the others adopt it.
        // Generations follow the bank's clock (see `next_generation`), so "behind" means
        // "older": a store that restarted empty and got a newer session from a fresh worker
        // is ahead of this process's old one, and is adopted above instead of overwritten.
        let target = mine.generation;
        if let Some(session) = mine.session.as_ref().filter(|_| stored < target) {
            self.seed(stored, target, session).await;
        }
        mine.session
    }

    /// Reads the store's record and makes it the process's session.
    async fn adopt(&self, mine: &Current) -> Option<Arc<Session>> {
        let record = match self.store(|s| s.load()).await {
            Ok(Some(r)) => r,
            Ok(None) => return None,
            Err(e) => {
                self.store_failed(&e);
                return None;
            }
        };
        let mut session = match sealed::unseal(
            &record.sealed,
            &self.binding,
            record.generation,
            &self.merchant,
        ) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(
                    generation = record.generation,
                    error = %e,
                    "ignoring the stored session (generation {}): {e}",
                    record.generation
                );
                // Not read again until a newer one is published. The process's own
                // session, if any, stays: the next rejection of it replaces the unusable
                // record.
                let mut current = lock(&self.current);
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
        session.schedule(self.now(), offset, self.config.renewal());
        let session = Arc::new(session);
        let mut current = lock(&self.current);
        if current.generation > record.generation && current.published {
            // Another thread adopted something newer meanwhile.
            return current.session.clone();
        }
        tracing::info!(
            device = %session.device_id,
            generation = record.generation,
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
    async fn seed(&self, stored: u64, generation: u64, session: &Session) {
        let ttl = self.config.effective_lease_ttl();
        let Ok(Some(lease)) = self.store(move |s| s.try_lease(ttl)).await else {
            return;
        };
        let held = Held {
            lease,
            expected: stored,
        };
        if self.publish(held, generation, session).await {
            tracing::info!(
                generation,
                "published this process's session as generation {generation}"
            );
            let mut current = lock(&self.current);
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
    async fn publish(&self, held: Held, generation: u64, session: &Session) -> bool {
        let sealed = sealed::seal(session, &self.binding, generation, &self.merchant)
            .map_err(|e| StoreError::Invalid(e.into()));
        let Held { lease, expected } = held;
        let result = self
            .store(move |s| {
                let result = sealed
                    .and_then(|sealed| s.publish(&lease, expected, &Record { generation, sealed }));
                s.release(lease);
                result
            })
            .await;
        match result {
            Ok(()) => {
                self.store_answered();
                tracing::debug!(generation, "session published");
                true
            }
            Err(e @ StoreError::Fenced(_)) => {
                tracing::warn!(
                    error = %e,
                    "the new session was not published ({e}); using it in this process"
                );
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
    async fn prepare_authorization(
        &self,
        needs: &(dyn Fn(Option<&Session>, Now) -> bool + Sync),
        renewal_only: bool,
    ) -> (Option<Arc<Session>>, Option<Held>) {
        let ttl = self.config.effective_lease_ttl();
        let deadline = Instant::now() + ttl + Duration::from_secs(1);
        let mut unavailable_since = None;
        loop {
            let session = self.sync().await;
            let now = self.now();
            if !needs(session.as_deref(), now) {
                return (session, None);
            }
            let busy = match self.store(move |s| s.try_lease(ttl)).await {
                Ok(Some(lease)) => {
                    // Reload under the lease: the previous holder may have published just
                    // before releasing it.
                    let session = self.sync().await;
                    if !needs(session.as_deref(), self.now()) {
                        self.release(lease).await;
                        return (session, None);
                    }
                    if renewal_only {
                        // The bank still accepts the current session, and other workers see
                        // the lease and hold new calls back; let the calls they already sent
                        // come back before the authorization makes the bank refuse them.
                        self.io.sleep(RENEWAL_DRAIN).await;
                    }
                    return match self.store(|s| s.generation()).await {
                        Ok(expected) => (session, Some(Held { lease, expected })),
                        Err(e) => {
                            self.store_failed(&e);
                            self.release(lease).await;
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
                let mut current = lock(&self.current);
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
                self.io.sleep(STORE_RETRY).await;
                continue;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    ?ttl,
                    "the session store's authorization lease was not released within {ttl:?}; authorizing without it"
                );
                return (session, None);
            }
            self.io.sleep(LEASE_POLL).await;
        }
    }

    /// The current session, authorizing first when there is none or it is due for renewal.
    pub(crate) async fn session(&self) -> Result<Arc<Session>, Error> {
        let needs = |s: Option<&Session>, now: Now| s.is_none_or(|s| s.needs_renewal(now));
        if let Some(s) = self.sync().await.filter(|s| !s.needs_renewal(self.now())) {
            return Ok(s);
        }
        let _only_one = self.io.single_flight().await;
        match self.prepare_authorization(&needs, false).await {
            (Some(s), None) if !s.needs_renewal(self.now()) => Ok(s),
            (_, held) => self.authorize_locked(held).await,
        }
    }

    /// Authorizes now, replacing any session (in the store too, when its lease can be taken
    /// within its time to live).
    pub(crate) async fn authorize(&self) -> Result<Arc<Session>, Error> {
        let _only_one = self.io.single_flight().await;
        let always = |_: Option<&Session>, _: Now| true;
        let (_, held) = self.prepare_authorization(&always, false).await;
        self.authorize_locked(held).await
    }

    async fn authorize_locked(&self, held: Option<Held>) -> Result<Arc<Session>, Error> {
        let params = self.params();
        let request = protocol::authorize_request(
            params.service_code,
            params.api_version,
            &mut crypto::os_rng(),
        );
        self.authorizations.fetch_add(1, Ordering::SeqCst);
        self.requests.fetch_add(1, Ordering::SeqCst);
        tracing::info!(
            base_url = self.config.base_url(),
            "authorizing the virtual device"
        );
        let received = self.io.send(self.config.base_url(), &request).await;
        let session = received.map_err(Error::from).and_then(|received| {
            protocol::read_authorization(&received, params.merchant, self.now(), params.renewal)
        });
        match session {
            Ok(session) => {
                let session = Arc::new(session);
                self.install(Arc::clone(&session), held).await;
                Ok(session)
            }
            Err(e) => {
                tracing::warn!(error = %e, "authorization failed");
                if let Some(held) = held {
                    self.release(held.lease).await;
                }
                Err(e)
            }
        }
    }

    /// Makes a new session every caller's: publishes it as the next generation when `held`,
    /// else keeps it in this process only (to be published when the store answers again);
    /// warns once when the host's clock is off the bank's.
    async fn install(&self, session: Arc<Session>, held: Option<Held>) {
        let offset = session.clock_offset_secs();
        if offset.abs() > protocol::CLOCK_WARNING_SECS
            && !self.clock_warned.swap(true, Ordering::SeqCst)
        {
            tracing::warn!(
                clock_offset_secs = offset,
                "this host's clock is {offset} s off the bank's; refund dates are corrected for it, but please synchronize the clock (NTP)"
            );
        }
        // A session that could not be published gets its generation all the same, with
        // `published` false: the next sync publishes it over an older record, or adopts a
        // newer one (one obtained later, by the generations' clock).
        let mine = lock(&self.current).generation;
        let (generation, published) = match held {
            Some(held) => {
                let next = next_generation(held.expected.max(mine), &session);
                (next, self.publish(held, next, &session).await)
            }
            None => (next_generation(mine, &session), false),
        };
        tracing::info!(
            device = %session.device_id,
            expires_at = %session.expires_at,
            generation,
            published,
            "new session for device {} until {} (generation {generation}{})",
            session.device_id,
            session.expires_at,
            if published { "" } else { ", this process only" }
        );
        *lock(&self.current) = Current {
            generation,
            session: Some(session),
            published,
        };
    }

    /// Stops every call of this process from sending the session the bank just rejected:
    /// they wait for its replacement instead of collecting rejections of their own.
    fn retire(&self, device_id: &str) {
        let mut current = lock(&self.current);
        if current
            .session
            .as_ref()
            .is_some_and(|s| s.device_id == device_id)
        {
            current.session = None;
        }
    }

    /// Runs one call to its outcome: the driver loop around [`Call`], inside a span naming
    /// the operation and the `merchantRequestId`, which ends with the outcome.
    pub(crate) async fn call<E: Endpoint + Sync>(&self, endpoint: &E) -> Outcome<E::Output> {
        let span = tracing::info_span!(
            "alliancepay.call",
            operation = operation_of(endpoint.path()),
            merchant_request_id = endpoint
                .merchant_request_id()
                .map(MerchantRequestId::as_str),
            attempts = tracing::field::Empty,
            outcome = tracing::field::Empty,
            msg_code = tracing::field::Empty,
        );
        self.drive(endpoint, &span).instrument(span.clone()).await
    }

    /// The loop of [`Core::call`]. It moves bytes, holds the single-flight lock (and the
    /// store's lease, when it authorizes) from [`Action::WaitForAuthorization`] until the next
    /// [`Action::Send`], and publishes new sessions; every decision about the call is the
    /// state machine's.
    async fn drive<E: Endpoint + Sync>(
        &self,
        endpoint: &E,
        span: &tracing::Span,
    ) -> Outcome<E::Output> {
        let mut rng = crypto::os_rng();
        let mut call = Call::new(endpoint, self.params());
        let base_url = self.config.base_url();
        let mut only_one = None;
        let mut held: Option<Held> = None;
        let mut attempt = 0u32;
        let session = self.sync_before_sending().await;
        let mut action = call.start(session, self.now(), &mut rng);
        loop {
            action = match action {
                Action::WaitForAuthorization => {
                    if let Some(device) = call.rejected_device() {
                        self.retire(device);
                    }
                    // Never held here (every Send releases it); dropped first all the same,
                    // since taking a held lock again would deadlock.
                    drop(only_one.take());
                    only_one = Some(self.io.single_flight().await);
                    let needs = |s: Option<&Session>, now: Now| call.would_authorize(s, now);
                    let (session, lease) = self
                        .prepare_authorization(&needs, call.renewal_only())
                        .await;
                    held = lease;
                    call.resume(session, self.now(), &mut rng)
                }
                Action::Authorize(request) => {
                    tracing::info!(base_url, "authorizing the virtual device");
                    self.authorizations.fetch_add(1, Ordering::SeqCst);
                    self.requests.fetch_add(1, Ordering::SeqCst);
                    match self.io.send(base_url, &request).await {
                        Ok(received) => call.handle_response(received, self.now(), &mut rng),
                        Err(e) => call.handle_transport_error(e),
                    }
                }
                Action::Send(request) => {
                    only_one = None;
                    attempt += 1;
                    self.requests.fetch_add(1, Ordering::SeqCst);
                    match self.io.send(base_url, &request).await {
                        Ok(received) => {
                            tracing::debug!(
                                attempt,
                                path = request.path,
                                status = received.response.status,
                                request_id = received.response.request_id.as_deref(),
                                "the bank answered"
                            );
                            call.handle_response(received, self.now(), &mut rng)
                        }
                        Err(e) => {
                            tracing::debug!(attempt, path = request.path, error = %e, "no answer");
                            call.handle_transport_error(e)
                        }
                    }
                }
                Action::Finish(outcome) => {
                    if let Some(h) = held.take() {
                        self.release(h.lease).await;
                    }
                    let (name, code) = outcome_fields(&outcome);
                    span.record("attempts", attempt);
                    span.record("outcome", name);
                    if let Some(code) = code {
                        span.record("msg_code", code);
                    }
                    tracing::info!(
                        outcome = name,
                        msg_code = code,
                        attempts = attempt,
                        "call finished"
                    );
                    return outcome;
                }
            };
            // Stored before the next Send releases the lock, so waiting callers find it.
            if let Some(session) = call.take_new_session() {
                self.install(session, held.take()).await;
            }
        }
    }

    async fn read<E: Endpoint + Sync>(&self, endpoint: &E) -> Result<E::Output, Error> {
        debug_assert_eq!(E::KIND, Kind::Read);
        self.call(endpoint).await.into_result()
    }

    pub(crate) async fn create_order(&self, order: &CreateOrder) -> Outcome<Order> {
        self.call(order).await
    }

    pub(crate) async fn order_data(&self, hpp_order_id: &HppOrderId) -> Result<Order, Error> {
        self.read(&OrderQuery {
            hpp_order_id: hpp_order_id.clone(),
        })
        .await
    }

    pub(crate) async fn refund(&self, refund: &Refund) -> Outcome<Operation> {
        self.call(refund).await
    }

    pub(crate) async fn operation_by_id(&self, operation_id: &str) -> Result<Operation, Error> {
        self.read(&OperationQuery::ById {
            id: operation_id.to_owned(),
        })
        .await
    }

    pub(crate) async fn operation_by_merchant_request_id(
        &self,
        merchant_request_id: &MerchantRequestId,
    ) -> Result<Operation, Error> {
        self.read(&OperationQuery::ByMerchantRequestId {
            merchant_request_id: merchant_request_id.clone(),
        })
        .await
    }
}
