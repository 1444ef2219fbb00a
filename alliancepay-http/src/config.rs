//! [`ClientConfig`]: what a client (blocking or async) needs to know about the bank, the
//! merchant and where the session lives. Built with [`ClientConfig::new`] and `with_*`
//! setters; read with getters, so fields can be added without breaking anyone.

use std::path::PathBuf;
use std::time::Duration;

use crate::Error;
use crate::error::{BaseUrlProblem, ConfigError};
use crate::protocol;
use crate::secret::ServiceCode;
use crate::session::RenewalPolicy;
use crate::sessions::StoreSpec;

/// What a client needs to know.
///
/// ```
/// use std::time::Duration;
/// use alliancepay_http::ClientConfig;
/// use alliancepay_http::sessions::StoreSpec;
///
/// let config = ClientConfig::new("https://api-ecom-prod.bankalliance.ua", "service-code")
///     .with_timeout(Duration::from_secs(10))
///     .with_session_store(StoreSpec::parse("file:/run/shop/session.json")?);
/// assert_eq!(config.timeout(), Duration::from_secs(10));
/// # Ok::<(), alliancepay_http::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    base_url: String,
    service_code: ServiceCode,
    api_version: String,
    renewal: RenewalPolicy,
    session_store: StoreSpec,
    store_prefix: String,
    lease_ttl: Duration,
    store_timeout: Duration,
    timeout: Duration,
    allow_plain_http: bool,
}

impl ClientConfig {
    /// A configuration with the defaults for everything but the bank and the service code.
    #[must_use]
    pub fn new(base_url: &str, service_code: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            service_code: ServiceCode::new(service_code),
            api_version: protocol::DEFAULT_API_VERSION.to_owned(),
            renewal: RenewalPolicy::default(),
            session_store: StoreSpec::Memory,
            store_prefix: "alliancepay:".to_owned(),
            lease_ttl: Duration::from_secs(40),
            store_timeout: Duration::from_millis(250),
            timeout: Duration::from_secs(30),
            allow_plain_http: false,
        }
    }

    /// The `x-api_version` header (default `v1`).
    #[must_use]
    pub fn with_api_version(mut self, version: &str) -> Self {
        version.clone_into(&mut self.api_version);
        self
    }

    /// When to renew sessions ahead of the bank.
    #[must_use]
    pub const fn with_renewal(mut self, renewal: RenewalPolicy) -> Self {
        self.renewal = renewal;
        self
    }

    /// Where the session lives: this process's memory (the default), a file shared by the
    /// processes of one host (`file:PATH`), or Redis for many hosts (`redis://…`, feature
    /// `redis`). See [`crate::sessions`].
    #[must_use]
    pub fn with_session_store(mut self, store: StoreSpec) -> Self {
        self.session_store = store;
        self
    }

    /// Shorthand for [`ClientConfig::with_session_store`] with [`StoreSpec::File`].
    #[must_use]
    pub fn with_session_file(self, path: impl Into<PathBuf>) -> Self {
        self.with_session_store(StoreSpec::File(path.into()))
    }

    /// The Redis keys' prefix (default `alliancepay:`); the merchant key's thumbprint follows.
    #[must_use]
    pub fn with_store_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.store_prefix);
        self
    }

    /// How long the authorization lease lasts unless released (default 40 s); a holder that
    /// dies is replaced after it. Never shorter than the HTTP timeout plus 1 s (see
    /// [`ClientConfig::effective_lease_ttl`]).
    #[must_use]
    pub const fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Timeout of each command to the session store (default 250 ms).
    #[must_use]
    pub const fn with_store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// Timeout of each HTTP exchange (default 30 s).
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Accept a plain `http://` base URL on a host other than loopback (default `false`):
    /// the service code and refresh token would cross the network unencrypted.
    #[must_use]
    pub const fn with_plain_http_allowed(mut self, allowed: bool) -> Self {
        self.allow_plain_http = allowed;
        self
    }

    /// The bank (or the simulator), such as `https://api-ecom-prod.bankalliance.ua`.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The merchant's service code: the one input of device authorization.
    pub(crate) const fn service_code(&self) -> &ServiceCode {
        &self.service_code
    }

    /// The `x-api_version` header.
    #[must_use]
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// When sessions are renewed ahead of the bank.
    #[must_use]
    pub const fn renewal(&self) -> RenewalPolicy {
        self.renewal
    }

    /// The store this configuration names.
    #[must_use]
    pub const fn session_store(&self) -> &StoreSpec {
        &self.session_store
    }

    /// The Redis keys' prefix.
    #[must_use]
    pub fn store_prefix(&self) -> &str {
        &self.store_prefix
    }

    /// The authorization lease's time to live as configured (see
    /// [`ClientConfig::effective_lease_ttl`] for the one used).
    #[must_use]
    pub const fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    /// Timeout of each command to the session store.
    #[must_use]
    pub const fn store_timeout(&self) -> Duration {
        self.store_timeout
    }

    /// Timeout of each HTTP exchange.
    #[must_use]
    pub const fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether a plain `http://` base URL is accepted on a host other than loopback.
    #[must_use]
    pub const fn allow_plain_http(&self) -> bool {
        self.allow_plain_http
    }

    /// The lease's time to live actually used: the configured one, but never shorter than the
    /// HTTP timeout plus 1 s, so a live holder's authorization exchange always fits inside it.
    #[must_use]
    pub fn effective_lease_ttl(&self) -> Duration {
        self.lease_ttl.max(self.timeout + Duration::from_secs(1))
    }

    /// Checks the base URL: `https://`, or `http://` on a loopback host (the simulator), or
    /// `http://` anywhere with [`ClientConfig::with_plain_http_allowed`].
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
