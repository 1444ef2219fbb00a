#![doc = include_str!("../README.md")]
//!
//! # Layout
//! The public surface is the crate root (the clients, their configuration, the bank's
//! documents such as [`CreateOrder`], [`Order`] and [`Refund`], outcomes and errors) plus two
//! modules: [`sessions`] (where the session lives: the [`sessions::SessionStore`] seam with
//! generations and an authorization lease; memory, file and Redis stores) and [`store`] (key
//! files and atomic owner-only writes); `simulator` (feature `simulator`) is the local bank.
//! Everything else is internal:
//! - the protocol core, one call as a sans-IO state machine (authorize first, renew,
//!   re-authorize once, resend once, classify the outcome), with no socket, clock, thread or
//!   OS RNG, over the wire format written as pure functions;
//! - the drivers: [`Client`] (blocking) owns the session, the lock and the clocks; the driver
//!   logic (call loop, single flight, the store's rule) is written once as async code over a
//!   small I/O seam and run by [`Client`] without an executor, and on tokio by `AsyncClient`
//!   (feature `tokio`);
//! - the one I/O seam, [`Transport`], with [`UreqTransport`] as the blocking default. `ureq`
//!   because it is blocking HTTP/1.1 without an async runtime, uses rustls rather than
//!   OpenSSL, has a small dependency tree and makes body limits and timeouts explicit. The
//!   async client's seam is `AsyncTransport` (feature `tokio`), with `HyperTransport` as its
//!   default.
//!
//! [`Endpoint`] stays public and unsealed: [`Client::call`] runs any endpoint, so a request
//! this crate does not model yet (or one sent without our validation, as a test does) can be
//! described by the user.
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
mod async_client;
#[cfg(feature = "tokio")]
mod async_transport;
mod call;
mod callback;
#[cfg(test)]
mod capture;
mod client;
mod config;
mod crypto;
mod driver;
mod error;
mod model;
mod outcome;
mod protocol;
mod rules;
mod secret;
mod session;
pub mod sessions;
pub mod store;
mod time;
mod transport;

#[cfg(feature = "simulator")]
pub mod simulator;

pub use alliancepay_jose::{Error as JoseError, JwkError, PrivateJwk, PublicJwk};
#[cfg(feature = "tokio")]
pub use async_client::{AsyncClient, AsyncClientBuilder};
#[cfg(feature = "tokio")]
pub use async_transport::{AsyncTransport, HyperTransport, SendFuture};
pub use callback::{Callback, parse_callback};
pub use client::{Client, ClientBuilder, ClientConfig};
pub use error::{
    BankError, BaseUrlProblem, ConfigError, Error, REFUSAL_CODES, SessionFileProblem,
    StoreSpecProblem,
};
pub use model::{
    CreateOrder, CreateOrderBuilder, CustomerData, DirectType, HppOrderId, HppPayType, Kopecks,
    MerchantRequestId, Operation, OperationQuery, Order, OrderQuery, OrderStatus, PaymentMethod,
    Refund, RefundBuilder, StatusPageType, Validate,
};
pub use outcome::{Outcome, Refusal, Unknown};
pub use protocol::{Endpoint, HttpRequest, HttpResponse, Kind as EndpointKind, Received};
pub use secret::{Secret, ServiceCode};
pub use session::{RenewalPolicy, Session};
pub use time::{Now, TimeParseError, UtcTime};
pub use transport::{Transport, TransportCause, TransportError, UreqTransport};

/// Not part of the API: the internals this repository's own tests, fuzz targets and CLI drive
/// directly (the sans-IO state machine, the wire format, a seeded RNG, JWK and JWE helpers).
/// Hidden from the docs and the public-API snapshot; no semver promise, it changes at will.
#[doc(hidden)]
pub mod __private {
    /// The sans-IO call state machine.
    pub mod call {
        pub use crate::call::*;
    }
    /// The wire format as pure functions, and the bank's paths.
    pub mod protocol {
        pub use crate::protocol::*;
    }
    /// OS and seeded RNGs, UUIDs, JWE and JWK helpers.
    pub mod crypto {
        pub use crate::crypto::*;
    }
    /// A session record's sealing.
    pub mod sealed {
        pub use crate::sessions::sealed::*;
    }
    pub use crate::error::{DUPLICATE_CODE, MISSING_CODE};
}
