#![doc = include_str!("../README.md")]
//!
//! # Layout
//! - [`call`]: the protocol core, one call as a sans-IO state machine (authorize first, renew,
//!   re-authorize once, resend once, classify the outcome). No socket, clock, thread or OS RNG.
//! - [`protocol`]: the wire format as pure functions (requests to send, what responses mean).
//! - [`outcome`]: [`Outcome`], what a write ends as.
//! - [`transport`]: the one I/O seam; [`UreqTransport`] is the blocking default. `ureq` because
//!   it is blocking HTTP/1.1 without an async runtime, uses rustls rather than OpenSSL, has a
//!   small dependency tree and makes body limits and timeouts explicit; an async driver would
//!   implement the same seam and reuse [`call`] unchanged.
//! - [`client`]: [`Client`], the blocking driver: owns the session, the lock and the clocks.
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
//! - `cli`: the `alliancepay` binary (implies `simulator`, which `simulate` and `demo` need).
//!
//! # Logging
//! Diagnostics go through the `log` facade. Nothing logged, nothing in `Debug` or `Display`,
//! carries a refresh token, auth token, private key or decrypted payload.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod call;
pub mod callback;
pub mod client;
pub mod crypto;
pub mod error;
pub mod model;
pub mod outcome;
pub mod protocol;
mod secret;
pub mod session;
pub mod sessions;
pub mod store;
pub mod time;
pub mod transport;

#[cfg(feature = "simulator")]
pub mod simulator;

pub use alliancepay_jose;
pub use callback::{Callback, parse_callback};
pub use client::{Client, ClientConfig};
pub use error::{BankError, Error};
pub use model::{
    CreateOrder, CustomerData, Operation, OperationQuery, Order, OrderStatus, Refund, Validate,
};
pub use outcome::{Outcome, Refusal, Unknown};
pub use protocol::Endpoint;
pub use secret::Secret;
pub use session::{RenewalPolicy, Session};
pub use time::{Now, UtcTime};
pub use transport::{Transport, TransportError, UreqTransport};
