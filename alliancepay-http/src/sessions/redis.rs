//! The Redis store (feature `redis`): one session for every worker on every host.
//!
//! Keys, under a configurable prefix, the merchant key's thumbprint and a keyed digest of the
//! base URL and the service code (never the code itself; see [`super::scope_tag`]): `…:session`, a hash with the generation and the
//! sealed session, and `…:lease`, the lease, taken with `SET NX PX` and holding a random owner
//! token. Publishing
//! and releasing are Lua scripts, so that "is the lease still mine, and is the generation still
//! the one I saw" and the write are one atomic step on the server: a holder whose lease expired
//! while it was stalled cannot overwrite its successor's session. Waiters poll (every few
//! milliseconds, bounded by the lease's expiry), which needs no second connection.
//!
//! Every command has a timeout. After a failure the store answers "unavailable" at once for a
//! short while instead of trying again on every call, so a dead or slow Redis costs the calls
//! nothing but the first timeout; the client goes on with its own session meanwhile. Threads
//! waiting for the connection while another one's command times out do not try in turn: each
//! waits for that one command at most. Releasing a lease is tried even in the quiet period.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{Lease, Record, SessionStore, StoreError, StoreFault};
use crate::Error;
use crate::error::ConfigError;

/// How long the store stays "unavailable" after a failure before it tries Redis again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// Publishes ARGV[4] as generation ARGV[3] if KEYS[1] (the lease) holds ARGV[1] and the hash
/// KEYS[2] is at generation ARGV[2]. Returns 1, or -1 (lease lost) or -2 (generation moved).
const PUBLISH: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local current = tonumber(redis.call('HGET', KEYS[2], 'gen') or '0')
if current ~= tonumber(ARGV[2]) then return -2 end
redis.call('HSET', KEYS[2], 'gen', ARGV[3], 'sealed', ARGV[4])
return 1
";

/// Deletes the lease KEYS[1] only if it still holds the owner token ARGV[1].
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// A session store on a Redis server.
pub struct RedisStore {
    client: redis::Client,
    connection: Mutex<Option<redis::Connection>>,
    /// Until when to answer "unavailable" without trying.
    retry_at: Mutex<Option<Instant>>,
    session_key: String,
    lease_key: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("session_key", &self.session_key)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes our own `ca=PATH` query parameter out of a Redis URL: the URL without it, and the
/// path.
fn split_ca(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let (mut ca, mut rest) = (None, Vec::new());
    for pair in query.split('&') {
        match pair.strip_prefix("ca=") {
            Some(path) => ca = Some(path.to_owned()),
            None => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    (url, ca)
}

impl RedisStore {
    /// A store at `url` (`redis://` or `rediss://`, with rustls) for keys under
    /// `prefix` + `scope`; every command times out after `timeout`. Does not connect yet.
    ///
    /// A `rediss://` server is verified against the bundled web PKI roots, or, when the URL
    /// has a `ca=PATH` query parameter (`rediss://cache:6380/0?ca=/etc/redis/ca.pem`),
    /// against the PEM certificates in that file only: the usual case of a Redis with a
    /// private CA.
    ///
    /// # Errors
    /// [`ConfigError::StoreUrl`] for a URL the `redis` crate does not accept (the URL itself
    /// is not repeated: it may hold a password), with the `redis` crate's error as its source;
    /// [`Error::Io`] for a CA file that cannot be read.
    pub fn open(url: &str, prefix: &str, scope: &str, timeout: Duration) -> Result<Self, Error> {
        let unusable = |e: redis::RedisError| {
            Error::Config(ConfigError::StoreUrl {
                category: e.category().to_owned(),
                source: Box::new(e),
            })
        };
        let (url, ca) = split_ca(url);
        let client = match ca {
            None => redis::Client::open(url.as_str()).map_err(unusable)?,
            Some(path) => {
                let root_cert = std::fs::read(&path).map_err(|source| Error::Io {
                    path: path.into(),
                    source,
                })?;
                redis::Client::build_with_tls(
                    url.as_str(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(root_cert),
                    },
                )
                .map_err(unusable)?
            }
        };
        Ok(Self {
            client,
            connection: Mutex::new(None),
            retry_at: Mutex::new(None),
            session_key: format!("{prefix}{scope}:session"),
            lease_key: format!("{prefix}{scope}:lease"),
            timeout: timeout.max(Duration::from_millis(1)),
        })
    }

    /// Runs `op` on the connection, connecting first if needed; a failure drops the
    /// connection and starts the quiet period.
    fn with<T>(
        &self,
        op: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        self.run(false, op)
    }

    /// [`RedisStore::with`]; `even_if_quiet` tries Redis once during the quiet period too.
    /// Releasing a lease does: a lease left in Redis holds every other worker back for its
    /// whole time to live, which costs far more than one more timeout here.
    fn run<T>(
        &self,
        even_if_quiet: bool,
        op: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let quiet = || !even_if_quiet && lock(&self.retry_at).is_some_and(|at| Instant::now() < at);
        if quiet() {
            return Err(StoreError::Unavailable(
                "Redis failed moments ago; not trying again yet".into(),
            ));
        }
        // The connection is held across a command, which may take a whole timeout. Threads
        // queued behind a failing one must not each try (and time out) in turn, so a busy
        // connection is waited for only as long as one command can take, and the quiet
        // period is checked again once it is ours.
        let mut slot = match self.connection.try_lock() {
            Ok(slot) => slot,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => self.wait_for_connection()?,
        };
        if quiet() {
            return Err(StoreError::Unavailable(
                "Redis failed moments ago; not trying again yet".into(),
            ));
        }
        let result = match slot.as_mut() {
            Some(connection) => op(connection),
            None => self.connect().and_then(|mut connection| {
                let result = op(&mut connection);
                *slot = Some(connection);
                result
            }),
        };
        match result {
            Ok(value) => {
                *lock(&self.retry_at) = None;
                Ok(value)
            }
            Err(e) => {
                *slot = None;
                *lock(&self.retry_at) = Some(Instant::now() + RETRY_AFTER);
                Err(StoreError::Unavailable(StoreFault::caused_by("Redis", e)))
            }
        }
    }

    /// The connection, once another thread's command on it is done; "unavailable" if that
    /// takes longer than a connect and a command could (the other thread is stuck on a
    /// failing Redis, and its failure will start the quiet period).
    fn wait_for_connection(&self) -> Result<MutexGuard<'_, Option<redis::Connection>>, StoreError> {
        let deadline = Instant::now() + self.timeout * 2;
        loop {
            match self.connection.try_lock() {
                Ok(slot) => return Ok(slot),
                Err(std::sync::TryLockError::Poisoned(p)) => return Ok(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Unavailable(
                    "the Redis connection is busy with a command that does not answer".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let connection = self.client.get_connection_with_timeout(self.timeout)?;
        connection.set_read_timeout(Some(self.timeout))?;
        connection.set_write_timeout(Some(self.timeout))?;
        Ok(connection)
    }
}

impl SessionStore for RedisStore {
    fn generation(&self) -> Result<u64, StoreError> {
        let g: Option<u64> = self.with(|c| {
            redis::cmd("HGET")
                .arg(&self.session_key)
                .arg("gen")
                .query(c)
        })?;
        Ok(g.unwrap_or(0))
    }

    fn leased(&self) -> Result<bool, StoreError> {
        self.with(|c| redis::cmd("EXISTS").arg(&self.lease_key).query(c))
    }

    fn peek(&self) -> Result<(u64, bool), StoreError> {
        let (generation, leased): (Option<u64>, bool) = self.with(|c| {
            redis::pipe()
                .cmd("HGET")
                .arg(&self.session_key)
                .arg("gen")
                .cmd("EXISTS")
                .arg(&self.lease_key)
                .query(c)
        })?;
        Ok((generation.unwrap_or(0), leased))
    }

    fn load(&self) -> Result<Option<Record>, StoreError> {
        let (generation, sealed): (Option<u64>, Option<String>) = self.with(|c| {
            redis::cmd("HMGET")
                .arg(&self.session_key)
                .arg("gen")
                .arg("sealed")
                .query(c)
        })?;
        Ok(match (generation, sealed) {
            (Some(generation), Some(sealed)) => Some(Record { generation, sealed }),
            _ => None,
        })
    }

    fn try_lease(&self, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let lease = Lease::new(None);
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let taken: Option<String> = self.with(|c| {
            redis::cmd("SET")
                .arg(&self.lease_key)
                .arg(&lease.token)
                .arg("NX")
                .arg("PX")
                .arg(millis)
                .query(c)
        })?;
        Ok(taken.map(|_| lease))
    }

    fn publish(&self, lease: &Lease, expected: u64, record: &Record) -> Result<(), StoreError> {
        let answer: i64 = self.with(|c| {
            redis::cmd("EVAL")
                .arg(PUBLISH)
                .arg(2)
                .arg(&self.lease_key)
                .arg(&self.session_key)
                .arg(&lease.token)
                .arg(expected)
                .arg(record.generation)
                .arg(&record.sealed)
                .query(c)
        })?;
        match answer {
            1 => Ok(()),
            -1 => Err(StoreError::Fenced(
                "the lease expired or was taken over".into(),
            )),
            _ => Err(StoreError::Fenced(format!(
                "the stored generation is no longer {expected}"
            ))),
        }
    }

    fn release(&self, lease: Lease) {
        let released: Result<i64, _> = self.run(true, |c| {
            redis::cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(&self.lease_key)
                .arg(&lease.token)
                .query(c)
        });
        // Unreleased, the lease lapses by itself after its time to live.
        if let Err(e) = released {
            tracing::debug!("lease not released ({e}); it expires by itself");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_ca;

    #[test]
    fn the_ca_parameter_is_ours_and_taken_out() {
        assert_eq!(split_ca("rediss://h:1/0"), ("rediss://h:1/0".into(), None));
        assert_eq!(
            split_ca("rediss://h:1/0?ca=/etc/ca.pem"),
            ("rediss://h:1/0".into(), Some("/etc/ca.pem".into()))
        );
        assert_eq!(
            split_ca("rediss://h:1/0?protocol=resp3&ca=/c.pem"),
            (
                "rediss://h:1/0?protocol=resp3".into(),
                Some("/c.pem".into())
            )
        );
    }
}
