#![doc = include_str!("../README.md")]
//!
//! # Layout
//! - [`call`]: the protocol core, one call as a sans-IO state machine (authorize first, renew,
//!   re-authorize once, resend once, classify the outcome). No socket, clock, thread or OS RNG.
//! - [`protocol`]: the wire format as pure functions (requests to send, what responses mean).
//! - [`outcome`]: [`Outcome`], what a write ends as.
//! - [`transport`]: the one I/O seam; [`UreqTransport`] is the blocking default. `ureq` because
//!   it is blocking HTTP/1.1 without an async runtime, uses rustls rather than OpenSSL, has a
//!   small dependency tree and makes body limits and timeouts explicit. The async client's seam
//!   is `AsyncTransport` (feature `tokio`), with `HyperTransport` as its default.
//! - [`client`]: [`Client`], the blocking driver: owns the session, the lock and the clocks;
//!   the driver logic (call loop, single flight, the store's rule) is written once as async
//!   code over a small I/O seam and run here without an executor, and on tokio by
//!   `async_client` (feature `tokio`).
//! - [`session`], [`model`], [`callback`]: the bank's documents.
//! - [`store`]: key files and atomic owner-only writes.
//! - [`sessions`]: where the session lives, shared by threads, processes and hosts: the
//!   [`sessions::SessionStore`] seam with generations and an authorization lease; memory
//!   (default), file (one host) and Redis (many hosts) stores.
//! - `simulator` (feature `simulator`): a local bank for tests, demos and other languages.
//!
//! # Features
//! The default build is a blocking client and nothing else: no server, no command-line parser,
//! no Redis client, no async runtime.
//! - `redis`: the Redis session store (`redis://`, `rediss://` with rustls), on the blocking
//!   `redis` client without default features.
//! - `simulator`: the local bank, served by hyper's HTTP/1 server on a single-threaded tokio
//!   runtime (tokio with `rt`, `net` and `time` only). See `README.md` for its limits, the HPP
//!   page and the load figures.
//! - `cli`: the `alliancepay` binary (implies `simulator`, which `simulate` and `demo` need);
//!   its diagnostics go to stderr through `tracing-subscriber`'s formatter.
//! - `tokio`: [`AsyncClient`], the same client with `async` methods, over the same state
//!   machine, single flight and session stores (the single flight is a tokio mutex; store
//!   commands run on the blocking pool). Its transport, [`HyperTransport`], is hyper's
//!   HTTP/1 client with rustls (ring, webpki roots): no OpenSSL. `examples/axum_shop.rs`
//!   shows it in an axum service.
//!
//! # Tracing
//! Diagnostics are `tracing` events; the library installs no subscriber. Each call runs in an
//! `alliancepay.call` span with the fields `operation` (`create-order`, `refund`,
//! `order-data`...), `merchant_request_id`, and, when it ends, `attempts`, `outcome`
//! (`Done`, `Refused`, `Unknown`) and the bank's `msg_code`; events inside it record each
//! answer (attempt, HTTP status, `x-request_id`), re-authorizations and session-store events
//! (adopted, published, store down or back). Nothing traced, nothing in `Debug` or
//! `Display`, carries a refresh token, auth token, service code, private key or decrypted
//! payload.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "tokio")]
pub mod async_client;
#[cfg(feature = "tokio")]
pub mod async_transport;
pub mod call;
pub mod callback;
#[cfg(test)]
mod capture;
pub mod client;
mod config;
pub mod crypto;
mod driver;
pub mod error;
pub mod model;
pub mod outcome;
pub mod protocol;
mod rules;
mod secret;
pub mod session;
pub mod sessions;
pub mod store;
pub mod time;
pub mod transport;

#[cfg(feature = "simulator")]
pub mod simulator;

pub use alliancepay_jose;
#[cfg(feature = "tokio")]
pub use async_client::{AsyncClient, AsyncClientBuilder};
#[cfg(feature = "tokio")]
pub use async_transport::{AsyncTransport, HyperTransport};
pub use callback::{Callback, parse_callback};
pub use client::{Client, ClientBuilder, ClientConfig};
pub use error::{BankError, ConfigError, Error};
pub use model::{
    CreateOrder, CreateOrderBuilder, CustomerData, HppOrderId, Kopecks, MerchantRequestId,
    Operation, OperationQuery, Order, OrderStatus, Refund, RefundBuilder, Validate,
};
pub use outcome::{Outcome, Refusal, Unknown};
pub use protocol::Endpoint;
pub use secret::{Secret, ServiceCode};
pub use session::{RenewalPolicy, Session};
pub use time::{Now, UtcTime};
pub use transport::{Transport, TransportError, UreqTransport};
