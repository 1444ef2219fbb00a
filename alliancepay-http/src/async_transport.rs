//! The async driver's I/O seam (feature `tokio`): [`AsyncTransport`] moves an
//! [`HttpRequest`] to the bank and a [`Received`] back, like [`crate::Transport`] does for the
//! blocking client. [`HyperTransport`] is the default: hyper's HTTP/1 client (hyper-util's
//! connection pool) with rustls on the ring provider and the webpki roots, the same TLS stack
//! as the blocking `ureq` transport, so no OpenSSL and no second crypto library.
//!
//! Why hyper rather than `reqwest`: hyper, hyper-util and tokio are already in the graph for
//! the simulator, and hyper-rustls adds little more than tokio-rustls; `reqwest` without
//! default features still brings `url` with its IDNA tables, `tower` and `serde_urlencoded`
//! (about twice the crates). Failures map onto the same [`TransportError`], so a write's
//! outcome is classified exactly as with the blocking transport.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as Pool;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::protocol::{HttpRequest, HttpResponse, Received};
use crate::transport::{MAX_RESPONSE_BYTES, TransportError};

/// The future of one [`AsyncTransport::send`].
pub type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Received, TransportError>> + Send + 'a>>;

/// Sends one request to `base_url` + `request.path` and returns the response, whatever its
/// status, with the `Date` header; one call per request, as [`crate::Transport`]. Only
/// [`TransportError::Unreachable`] may say that not a byte of the request left.
pub trait AsyncTransport: Send + Sync {
    /// Sends `request` (see the trait's documentation).
    fn send<'a>(&'a self, base_url: &'a str, request: &'a HttpRequest) -> SendFuture<'a>;
}

/// The default async transport: hyper's pooled HTTP/1 client over rustls.
pub struct HyperTransport {
    pool: Pool<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperTransport")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HyperTransport {
    /// A transport whose every exchange must finish within `timeout` (connecting included).
    /// Must be called inside a tokio runtime only when used, not when made.
    ///
    /// # Errors
    /// [`TransportError::Failed`] if rustls refuses its own safe defaults (never in practice).
    pub fn new(timeout: Duration) -> Result<Self, TransportError> {
        let mut http = HttpConnector::new();
        // The scheme is checked by the client's configuration (https, or http to loopback).
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(|e| TransportError::Failed(format!("TLS configuration: {e}").into()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            pool: Pool::builder(TokioExecutor::new()).build(https),
            timeout,
        })
    }

    async fn exchange(
        &self,
        base_url: &str,
        request: &HttpRequest,
    ) -> Result<Received, TransportError> {
        let url = format!("{}{}", base_url.trim_end_matches('/'), request.path);
        let mut builder = hyper::Request::post(url)
            .header("content-type", request.content_type)
            .header(
                "user-agent",
                concat!("alliancepay-http/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in &request.headers {
            builder = builder.header(*name, value.as_str());
        }
        let outgoing = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            // Nothing was sent: the URL or a header value is not valid HTTP.
            .map_err(|e| TransportError::Unreachable(format!("invalid request: {e}").into()))?;
        let response = self.pool.request(outgoing).await.map_err(|e| {
            if e.is_connect() {
                TransportError::Unreachable(Box::new(e))
            } else {
                TransportError::Failed(Box::new(e))
            }
        })?;
        let (parts, body) = response.into_parts();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let limit = usize::try_from(MAX_RESPONSE_BYTES).unwrap_or(usize::MAX);
        let body = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|e| TransportError::Failed(format!("reading the response: {e}").into()))?
            .to_bytes();
        Ok(Received {
            response: HttpResponse {
                status: parts.status.as_u16(),
                content_type: header("content-type"),
                request_id: header("x-request_id"),
                body: body.to_vec(),
            },
            date: header("date"),
        })
    }
}

impl AsyncTransport for HyperTransport {
    fn send<'a>(&'a self, base_url: &'a str, request: &'a HttpRequest) -> SendFuture<'a> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.exchange(base_url, request))
                .await
                .unwrap_or_else(|_| {
                    Err(TransportError::Timeout(
                        format!("no complete answer within {:?}", self.timeout).into(),
                    ))
                })
        })
    }
}
