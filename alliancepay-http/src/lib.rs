//! The AlliancePay session flow over HTTP, on top of the `alliancepay-jose` core.
//!
//! The bank grants a merchant's "virtual device" a session when it POSTs its service code; the
//! answer is a JWE encrypted to the merchant's P-384 key. Every later call carries the
//! session's device id and refresh token as headers, and the `payments/*` calls encrypt their
//! bodies to the session's own bank key. Sessions expire; the bank may also drop them. This
//! crate keeps one session per service code, shared by all threads, renews it ahead of expiry,
//! and on a session error re-authorizes once (one thread for all) and retries the call once.
//!
//! ```no_run
//! use alliancepay_http::{Client, ClientConfig, CreateOrder, store};
//!
//! # fn main() -> Result<(), alliancepay_http::Error> {
//! let key = store::load_private_key("merchant.jwk".as_ref())?;
//! let client = Client::new(ClientConfig::new("https://api-ecom-prod.bankalliance.ua", "service-code"), key);
//!
//! // Store the merchantRequestId before sending: it is how a failed write is looked up.
//! let order = CreateOrder::purchase("merchant-id", 125_050, "customer-1", "https://shop.example/ok", "https://shop.example/fail");
//! let created = client.create_order(&order)?;
//! println!("send the customer to {:?}", created.redirect_url);
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`protocol`]: the flow as pure functions (requests to send, what responses mean). No I/O.
//! - [`transport`]: the one I/O seam; [`UreqTransport`] is the blocking default. `ureq` because
//!   it is blocking HTTP/1.1 without an async runtime, uses rustls rather than OpenSSL, has a
//!   small dependency tree and makes body limits and timeouts explicit; an async transport would
//!   implement the same seam and reuse [`protocol`] unchanged.
//! - [`client`]: [`Client`], which owns the session and drives the two.
//! - [`session`], [`model`], [`callback`]: the bank's documents.
//! - [`store`]: key and session files (atomic, owner-only).
//! - `simulator` (feature `simulator`): a local bank for tests, demos and other languages.
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

pub mod callback;
pub mod client;
pub mod crypto;
pub mod error;
pub mod model;
pub mod protocol;
mod secret;
pub mod session;
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
pub use secret::Secret;
pub use session::{RenewalPolicy, Session};
pub use time::UtcTime;
pub use transport::{Transport, TransportError, UreqTransport};
