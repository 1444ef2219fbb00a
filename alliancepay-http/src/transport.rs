//! Moving an [`HttpRequest`] to the bank and a [`Received`] response back: the only I/O of the
//! client. [`UreqTransport`] is the blocking default; anything implementing [`Transport`]
//! (a test double, a recorder, a terminal's modem) can replace it.
//!
//! Why `ureq`: blocking HTTP/1.1 without an async runtime, rustls instead of OpenSSL, a small
//! dependency tree, and bounded bodies and timeouts that are easy to set. The async client has
//! its own seam, `AsyncTransport` (feature `tokio`), feeding the same
//! [`crate::call::Call`] state machine.

use std::time::Duration;

use crate::Error;
use crate::protocol::{HttpRequest, HttpResponse, Received};

/// Why a request did not produce a response. The variants matter for writes: only
/// [`TransportError::Unreachable`] proves that the bank never saw the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No connection could be opened (name resolution, connection refused, a connect
    /// timeout): not a byte of the request left. A TLS failure is not here but
    /// [`TransportError::Failed`]: `ureq` does not tell a failed handshake from a TLS error
    /// later in the exchange, so a write that meets one is Unknown.
    Unreachable(String),
    /// A configured timeout expired after the connection was open.
    Timeout(String),
    /// Anything else: reset, closed before the answer, an unreadable response.
    Failed(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(d) => write!(f, "bank unreachable: {d}"),
            Self::Timeout(d) => write!(f, "timed out: {d}"),
            Self::Failed(d) => write!(f, "exchange failed: {d}"),
        }
    }
}

impl std::error::Error for TransportError {}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Timeout(d) => Self::Timeout(d),
            TransportError::Unreachable(d) | TransportError::Failed(d) => Self::Transport(d),
        }
    }
}

/// Sends one request to `base_url` + `request.path` and returns the response, whatever its
/// status, with the `Date` header. One call per request; the caller decides about retries.
pub trait Transport: Send + Sync {
    /// # Errors
    /// [`TransportError`] when no complete response arrived.
    fn send(&self, base_url: &str, request: &HttpRequest) -> Result<Received, TransportError>;
}

/// Largest response body read; the bank's answers are a few KiB.
pub const MAX_RESPONSE_BYTES: u64 = 1 << 20;

/// The blocking default transport, over `ureq` with rustls.
#[derive(Debug)]
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl UreqTransport {
    /// A transport whose every call must finish within `timeout`.
    #[must_use]
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .user_agent(concat!("alliancepay-http/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

fn classify(e: ureq::Error) -> TransportError {
    use std::io::ErrorKind;
    match e {
        ureq::Error::Timeout(t @ (ureq::Timeout::Resolve | ureq::Timeout::Connect)) => {
            TransportError::Unreachable(format!("{t} timeout"))
        }
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            TransportError::Unreachable(e.to_string())
        }
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable
            ) =>
        {
            TransportError::Unreachable(io.to_string())
        }
        ureq::Error::Timeout(t) => TransportError::Timeout(format!("{t} timeout")),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            TransportError::Timeout(io.to_string())
        }
        other => TransportError::Failed(other.to_string()),
    }
}

impl Transport for UreqTransport {
    fn send(&self, base_url: &str, request: &HttpRequest) -> Result<Received, TransportError> {
        let url = format!("{}{}", base_url.trim_end_matches('/'), request.path);
        let mut builder = self
            .agent
            .post(&url)
            .header("Content-Type", request.content_type);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let mut response = builder.send(&request.body[..]).map_err(classify)?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (content_type, request_id) = (header("content-type"), header("x-request_id"));
        let date = header("date");
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(classify)?;
        Ok(Received {
            response: HttpResponse {
                status,
                content_type,
                request_id,
                body,
            },
            date,
        })
    }
}
