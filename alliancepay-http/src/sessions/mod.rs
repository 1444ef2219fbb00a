//! Where a service code's session lives, so that every thread, process and host of one
//! merchant uses the same one: the [`SessionStore`] seam.
//!
//! The bank keeps one live session per service code; a new authorization supersedes the
//! previous one. Workers that authorize on their own therefore knock each other's sessions out
//! in turn. A shared store prevents that with two things:
//!
//! - a **generation** per stored session, higher with every publish (the bank's clock in
//!   milliseconds when the session was obtained, or the previous generation plus one if that
//!   is higher), so a worker whose call was rejected under generation `g` can tell whether
//!   someone already replaced it, also after the store lost its record;
//! - an **authorization lease** (an owner token with an expiry), so that at most one worker
//!   authorizes at a time, and a fenced publish: a record is written only by the lease holder
//!   and only over the generation it saw.
//!
//! The rule every worker follows (in the drivers, [`crate::Client`] and the async client): a
//! call rejected under generation `g` first reloads the store; a newer generation is used at
//! once, without authorizing. Otherwise the worker takes the lease, reloads again, and only if
//! the store is still at `g` authorizes and publishes a generation above `g`.
//!
//! Stores see sessions only as sealed text: a compact JWE to the merchant's own key, so
//! whoever can read the file or the Redis keys cannot use the refresh token.
//!
//! | Store | For | Lease |
//! |---|---|---|
//! | [`MemoryStore`] | one process (the default) | a mutex with an expiry |
//! | [`FileStore`] | processes on one host | `flock` on a lock file beside the session file |
//! | `RedisStore` (feature `redis`) | processes on many hosts | `SET NX PX` with an owner token |
//!
//! A Redis store is always opened behind a host-local file store (`WithHostFallback`), which
//! takes over while Redis does not answer: the processes of each host then still authorize
//! once per event between them.
//!
//! Redis keys are `PREFIX` + the merchant key's thumbprint + a keyed digest of the base URL
//! and the service code ([`scope_tag`]) + `:session` / `:lease`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::Error;
use crate::error::{ConfigError, StoreSpecProblem};
use crate::secret::Secret;

#[cfg(feature = "redis")]
mod fallback;
mod file;
mod memory;
#[cfg(feature = "redis")]
mod redis;
pub(crate) mod sealed;

#[cfg(feature = "redis")]
pub use fallback::{WithHostFallback, fallback_path};
pub use file::FileStore;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;

/// One stored session: its generation and its sealed text.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    /// Higher with every publish (see the module's documentation); 0 means "nothing stored".
    pub generation: u64,
    /// The session sealed by [`sealed::seal`].
    pub sealed: String,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("generation", &self.generation)
            .field("sealed_len", &self.sealed.len())
            .finish()
    }
}

/// The right to authorize and publish, held by one worker until released or expired.
pub struct Lease {
    /// A random owner token: only its holder can publish under it or release it.
    pub(crate) token: String,
    /// The locked file of a [`FileStore`] lease: closing it releases the lock, also when the
    /// process dies.
    pub(crate) file: Option<std::fs::File>,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lease")
    }
}

impl Lease {
    pub(crate) fn new(file: Option<std::fs::File>) -> Self {
        Self {
            token: crate::crypto::new_uuid(),
            file,
        }
    }
}

/// Why a store could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached or answered too slowly (Redis down, a timeout): calls go
    /// on with the process's own session.
    #[error("session store unavailable: {0}")]
    Unavailable(#[source] StoreFault),
    /// A publish was refused: the lease was lost or the generation moved meanwhile.
    #[error("publish refused: {0}")]
    Fenced(String),
    /// The store holds something that is not ours, or a file could not be used.
    #[error("session store unusable: {0}")]
    Invalid(#[source] StoreFault),
}

/// What went wrong in a store, and the error under it (the file's I/O error, Redis's error,
/// the session file's problem) when there is one.
#[derive(Debug)]
pub struct StoreFault {
    detail: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StoreFault {
    /// A fault with a message and no underlying error.
    #[must_use]
    pub fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
            source: None,
        }
    }

    /// A fault caused by `source`; `context` says where (the message goes on with the
    /// source's own text, so one line says everything).
    #[must_use]
    pub fn caused_by(
        context: impl fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            detail: format!("{context}: {source}"),
            source: Some(Box::new(source)),
        }
    }
}

impl From<String> for StoreFault {
    fn from(detail: String) -> Self {
        Self::new(detail)
    }
}

impl From<&str> for StoreFault {
    fn from(detail: &str) -> Self {
        Self::new(detail)
    }
}

impl fmt::Display for StoreFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for StoreFault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A place to keep one service code's session, shared by everyone who opens it.
///
/// Every method is bounded in time (no call blocks for longer than the store's own timeout);
/// waiting for a lease is the caller's loop around [`SessionStore::try_lease`].
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// The generation stored now (0: nothing). Called before every bank call, so it must be
    /// cheap.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the store does not answer.
    fn generation(&self) -> Result<u64, StoreError>;

    /// Whether somebody holds the lease right now: an authorization is under way, and its
    /// session will be published within moments.
    ///
    /// # Errors
    /// As [`SessionStore::generation`].
    fn leased(&self) -> Result<bool, StoreError>;

    /// [`SessionStore::generation`] and [`SessionStore::leased`] together (one round trip
    /// where the store allows).
    ///
    /// # Errors
    /// As [`SessionStore::generation`].
    fn peek(&self) -> Result<(u64, bool), StoreError> {
        Ok((self.generation()?, self.leased()?))
    }

    /// The stored record, if any.
    ///
    /// # Errors
    /// As [`SessionStore::generation`]; [`StoreError::Invalid`] for a record that is not ours.
    fn load(&self) -> Result<Option<Record>, StoreError>;

    /// Takes the lease for `ttl` if nobody holds it; `None` if somebody does.
    ///
    /// # Errors
    /// As [`SessionStore::generation`].
    fn try_lease(&self, ttl: Duration) -> Result<Option<Lease>, StoreError>;

    /// Stores `record` if `lease` is still held and the stored generation is `expected`.
    ///
    /// # Errors
    /// [`StoreError::Fenced`] when the lease was lost or the generation moved;
    /// [`StoreError::Unavailable`].
    fn publish(&self, lease: &Lease, expected: u64, record: &Record) -> Result<(), StoreError>;

    /// Gives the lease back (a no-op if it already expired and someone else holds it).
    fn release(&self, lease: Lease);
}

/// A short tag that names one service code's keys in a shared store: HMAC-SHA-256 over the
/// base URL and the service code, keyed by a value derived from the merchant's private key.
///
/// Keyed, because the service code is a credential and whoever can list the keys (Redis
/// `SCAN`) could otherwise test guesses of it offline against an unkeyed digest; every
/// worker holds the private key, nobody else does. The base URL is part of it so that the
/// sandbox and production never share a record.
///
/// # Errors
/// [`ConfigError::StoreKeyNames`] if the MAC cannot be keyed (it accepts keys of any length, so never in
/// practice).
pub fn scope_tag(
    merchant: &alliancepay_jose::PrivateJwk,
    base_url: &str,
    service_code: &str,
) -> Result<String, Error> {
    use hmac::{KeyInit, Mac};
    use sha2::Digest;
    use zeroize::Zeroizing;
    let scalar = Zeroizing::new(merchant.secret_key().to_bytes());
    let mut kdf = sha2::Sha256::new();
    kdf.update(b"alliancepay session store key names\0");
    kdf.update(scalar.as_slice());
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(kdf.finalize().as_slice());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_slice())
        .map_err(|_| Error::Config(ConfigError::StoreKeyNames))?;
    mac.update(base_url.as_bytes());
    mac.update(b"\0");
    mac.update(service_code.as_bytes());
    Ok(mac.finalize().into_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Which store a client uses: `memory`, `file:PATH` or a `redis://` / `rediss://` URL.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum StoreSpec {
    /// This process only (the default).
    #[default]
    Memory,
    /// A session file with a lock file beside it, for processes on one host.
    File(PathBuf),
    /// A Redis server, for processes on many hosts (feature `redis`). The URL may hold a
    /// password, so it is kept as a secret.
    Redis(Secret),
}

impl fmt::Debug for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("Memory"),
            Self::File(p) => f.debug_tuple("File").field(p).finish(),
            Self::Redis(_) => f.write_str("Redis([url redacted])"),
        }
    }
}

impl StoreSpec {
    /// Parses `memory`, `file:PATH`, `redis://…` or `rediss://…`.
    ///
    /// # Errors
    /// [`ConfigError::StoreSpec`] saying which forms are accepted.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text == "memory" {
            return Ok(Self::Memory);
        }
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err(ConfigError::StoreSpec(StoreSpecProblem::FileWithoutPath).into());
            }
            return Ok(Self::File(PathBuf::from(path)));
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("redis://") || lower.starts_with("rediss://") {
            return Ok(Self::Redis(Secret::new(text.to_owned())));
        }
        Err(ConfigError::StoreSpec(StoreSpecProblem::UnknownForm).into())
    }
}

/// Opens the store `spec` names. A file store checks its path now and refuses anything that
/// is not one of our session files; a Redis store connects on first use, so a Redis that is
/// down at start-up does not stop the client.
///
/// # Errors
/// [`Error::Config`] for a path or URL that cannot be used; [`Error::Io`].
pub fn open(
    spec: &StoreSpec,
    redis_prefix: &str,
    scope: &str,
    timeout: Duration,
) -> Result<Box<dyn SessionStore>, Error> {
    match spec {
        StoreSpec::Memory => Ok(Box::new(MemoryStore::default())),
        StoreSpec::File(path) => Ok(Box::new(FileStore::open(path)?)),
        #[cfg(feature = "redis")]
        StoreSpec::Redis(url) => {
            let redis = Box::new(RedisStore::open(
                url.expose(),
                redis_prefix,
                scope,
                timeout,
            )?);
            match FileStore::open(&fallback_path(scope)) {
                Ok(local) => Ok(Box::new(WithHostFallback::new(redis, local))),
                Err(e) => {
                    // Redis alone still works; only an outage would cost more authorizations.
                    tracing::warn!(
                        "no host-local fallback for the Redis session store ({e}); during a Redis outage each process keeps its own session"
                    );
                    Ok(redis)
                }
            }
        }
        #[cfg(not(feature = "redis"))]
        StoreSpec::Redis(_) => {
            let _ = (redis_prefix, scope, timeout);
            Err(ConfigError::StoreSpec(StoreSpecProblem::RedisNotBuiltIn).into())
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record with a recognisable sealed text, for the stores' tests.
    pub(crate) fn record(generation: u64) -> Record {
        Record {
            generation,
            sealed: format!("sealed-{generation}"),
        }
    }

    #[test]
    fn scope_tags_are_keyed_by_the_merchant_key_and_scoped_by_the_bank() {
        let mut rng = crate::crypto::os_rng();
        let (a, b) = (
            alliancepay_jose::PrivateJwk::generate(&mut rng).unwrap(),
            alliancepay_jose::PrivateJwk::generate(&mut rng).unwrap(),
        );
        let tag = |k, url, code| scope_tag(k, url, code).unwrap();
        let prod = tag(&a, "https://bank", "code");
        assert_eq!(prod, tag(&a, "https://bank", "code"), "stable");
        assert_eq!(prod.len(), 32);
        assert_ne!(prod, tag(&b, "https://bank", "code"), "keyed");
        assert_ne!(prod, tag(&a, "https://sandbox", "code"), "scoped by bank");
        assert_ne!(prod, tag(&a, "https://bank", "other"));
        // Not the unkeyed digest anyone could compute from a guessed code.
        use sha2::Digest;
        let mut plain = sha2::Sha256::new();
        plain.update(b"alliancepay session store\0code");
        let plain: String = plain.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(prod, plain);
    }

    #[test]
    fn specs_parse_and_hide_passwords() {
        assert_eq!(StoreSpec::parse("memory").unwrap(), StoreSpec::Memory);
        assert_eq!(
            StoreSpec::parse("file:/run/ap/session.json").unwrap(),
            StoreSpec::File("/run/ap/session.json".into())
        );
        let redis = StoreSpec::parse("rediss://:hunter2@cache:6380/1").unwrap();
        assert!(matches!(redis, StoreSpec::Redis(_)));
        assert!(!format!("{redis:?}").contains("hunter2"));
        for bad in ["", "file:", "http://x", "/tmp/session.json"] {
            assert!(
                matches!(
                    StoreSpec::parse(bad),
                    Err(Error::Config(ConfigError::StoreSpec(_)))
                ),
                "{bad}"
            );
        }
    }
}
