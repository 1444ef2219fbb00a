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

/// The cause under a [`TransportError`]: the HTTP client's own error (for [`UreqTransport`],
/// a `ureq::Error`), or a message from a transport that has none.
pub type TransportCause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a request did not produce a response. The variants matter for writes: only
/// [`TransportError::Unreachable`] proves that the bank never saw the request. Each holds the
/// underlying error as its [`source`](std::error::Error::source); the message names the
/// class only, so that a chain of causes does not repeat it ([`Error`]'s message has both).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// No connection could be opened (name resolution, connection refused, a connect
    /// timeout): not a byte of the request left. A TLS failure is not here but
    /// [`TransportError::Failed`]: `ureq` does not tell a failed handshake from a TLS error
    /// later in the exchange, so a write that meets one is Unknown.
    #[error("no connection could be opened")]
    Unreachable(#[source] TransportCause),
    /// A configured timeout expired after the connection was open.
    #[error("timed out")]
    Timeout(#[source] TransportCause),
    /// Anything else: reset, closed before the answer, an unreadable response.
    #[error("the exchange failed")]
    Failed(#[source] TransportCause),
}

impl TransportError {
    /// The underlying error: the HTTP client's, or a transport's message.
    #[must_use]
    pub fn cause(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        match self {
            Self::Unreachable(c) | Self::Timeout(c) | Self::Failed(c) => c.as_ref(),
        }
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Timeout(_) => Self::Timeout(e),
            _ => Self::Transport(e),
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

/// Sorts `ureq`'s error by what it proves about the request, keeping it as the cause.
fn classify(e: ureq::Error) -> TransportError {
    use std::io::ErrorKind;
    let never_connected = matches!(
        &e,
        ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
    ) || matches!(&e, ureq::Error::Io(io) if matches!(
        io.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::AddrNotAvailable
    ));
    let timed_out = matches!(&e, ureq::Error::Timeout(_))
        || matches!(&e, ureq::Error::Io(io) if io.kind() == ErrorKind::TimedOut);
    if never_connected {
        TransportError::Unreachable(Box::new(e))
    } else if timed_out {
        TransportError::Timeout(Box::new(e))
    } else {
        TransportError::Failed(Box::new(e))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> HttpRequest {
        HttpRequest {
            path: "/ecom/execute_request/hpp/v1/create-order",
            headers: Vec::new(),
            content_type: "text/plain",
            body: b"x".to_vec(),
        }
    }

    /// The messages of `e` and of every error under it.
    fn chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
        let mut messages = vec![e.to_string()];
        let mut next = e.source();
        while let Some(cause) = next {
            messages.push(cause.to_string());
            next = cause.source();
        }
        messages
    }

    /// A port nobody listens on: Unreachable (the write was not sent), with `ureq`'s error
    /// (and the operating system's under it) reachable through `source()`.
    #[test]
    fn a_refused_connection_is_unreachable_and_keeps_its_cause() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let transport = UreqTransport::new(Duration::from_secs(5));
        let e = transport
            .send(&format!("http://127.0.0.1:{port}"), &request())
            .unwrap_err();
        assert!(matches!(e, TransportError::Unreachable(_)), "{e:?}");
        let ureq_error = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<ureq::Error>())
            .unwrap_or_else(|| panic!("no ureq::Error under {e:?}"));
        assert!(
            matches!(ureq_error, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
                || matches!(ureq_error, ureq::Error::ConnectionFailed),
            "{ureq_error:?}"
        );
        let ureq_message = ureq_error.to_string();

        // The crate's error keeps the chain: Error -> TransportError -> ureq::Error -> ...
        let e = Error::from(e);
        assert!(matches!(
            e,
            Error::Transport(TransportError::Unreachable(_))
        ));
        let messages = chain(&e);
        assert!(messages.len() >= 3, "{messages:?}");
        assert_eq!(messages[1], "no connection could be opened");
        assert_eq!(messages[2], ureq_message);
        // The one-line message has the class and the cause.
        assert!(
            messages[0].starts_with(&format!(
                "could not reach the bank: no connection could be opened: {ureq_message}; "
            )),
            "{messages:?}"
        );
    }

    #[test]
    fn timeouts_become_the_timeout_error() {
        let e = Error::from(TransportError::Timeout("read timed out".into()));
        assert!(matches!(e, Error::Timeout(_)), "{e:?}");
        assert!(e.outcome_unknown());
        assert_eq!(chain(&e)[1..], ["timed out", "read timed out"]);
        assert_eq!(
            e.to_string(),
            "the bank did not answer in time (read timed out); look up any payment request before resending it"
        );
    }
}
