//! The async driver (feature `tokio`): [`AsyncClient`], the same client as [`crate::Client`]
//! with `async` methods, for tokio services (axum, hyper...). It runs the same driver logic
//! (`driver.rs`) over the same [`crate::call`] state machine and the same session stores;
//! only the I/O differs:
//!
//! - requests go through an [`AsyncTransport`] ([`HyperTransport`] by default);
//! - the single flight is a `tokio::sync::Mutex`, so a task waiting for an authorization
//!   under way yields its worker thread instead of blocking it;
//! - waits are tokio timers;
//! - session-store commands (a `stat` and a read of the file store, a Redis round trip, each
//!   bounded by the store's timeout) run on tokio's blocking pool (`spawn_blocking`), never
//!   on a worker thread.
//!
//! Every method needs a tokio runtime with the `time` driver enabled (`Runtime::enable_time`
//! or `enable_all`); the futures are `Send`, so calls can be spawned.
//!
//! ```no_run
//! use alliancepay_http::{AsyncClient, ClientConfig, CreateOrder, Kopecks, Outcome, store};
//!
//! # async fn run() -> Result<(), alliancepay_http::Error> {
//! let key = store::load_private_key("merchant.jwk".as_ref())?;
//! let config = ClientConfig::new("https://api-ecom-prod.bankalliance.ua", "service-code");
//! let client = AsyncClient::new(config, key)?;
//! let order = CreateOrder::builder()
//!     .merchant_id("merchant-id")
//!     .amount(Kopecks::new(125_050))
//!     .customer("customer-1")
//!     .success_url("https://shop.example/ok")
//!     .fail_url("https://shop.example/fail")
//!     .build()?;
//! match client.create_order(&order).await {
//!     Outcome::Done(created) => println!("send the customer to {:?}", created.redirect_url),
//!     Outcome::Refused(why) => println!("not created: {why}"),
//!     Outcome::Unknown(u) => println!("{u}; send the same order again later"),
//! }
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use alliancepay_jose::PrivateJwk;

use crate::Error;
use crate::async_transport::{AsyncTransport, HyperTransport};
use crate::callback::{Callback, parse_callback};
use crate::client::{ClientBuilder, ClientConfig};
use crate::driver::{Core, Io};
use crate::model::{CreateOrder, HppOrderId, MerchantRequestId, Operation, Order, Refund};
use crate::outcome::Outcome;
use crate::protocol::{Endpoint, HttpRequest, Received};
use crate::session::Session;
use crate::sessions::SessionStore;
use crate::transport::TransportError;

/// The builder of an [`AsyncClient`]: [`ClientBuilder`] with an [`AsyncTransport`].
pub type AsyncClientBuilder = ClientBuilder<Box<dyn AsyncTransport>>;

impl ClientBuilder<Box<dyn AsyncTransport>> {
    /// Sends requests over `transport` instead of a [`HyperTransport`] with the configured
    /// timeout.
    pub fn transport(mut self, transport: impl AsyncTransport + 'static) -> Self {
        self.set_transport(Box::new(transport));
        self
    }

    /// The async client. Opens the session store (unless one was given); the session stored
    /// there is read at the first call (every call first brings the session up to date with
    /// the store), so building needs no runtime.
    ///
    /// # Errors
    /// As [`ClientBuilder::build`].
    pub fn build(self) -> Result<AsyncClient, Error> {
        let (transport, parts) = self.into_parts(|timeout| {
            Ok(Box::new(HyperTransport::new(timeout)?) as Box<dyn AsyncTransport>)
        })?;
        let io = Tokio {
            transport,
            authorizing: tokio::sync::Mutex::new(()),
        };
        Ok(AsyncClient {
            core: Arc::new(Core::new(io, parts)?),
        })
    }
}

/// The async driver's I/O, on tokio.
pub(crate) struct Tokio {
    transport: Box<dyn AsyncTransport>,
    /// Held for the whole of an authorization, so only one task of the process runs one.
    authorizing: tokio::sync::Mutex<()>,
}

impl Io for Tokio {
    type Flight<'a> = tokio::sync::MutexGuard<'a, ()>;

    fn send<'a>(
        &'a self,
        base_url: &'a str,
        request: &'a HttpRequest,
    ) -> impl Future<Output = Result<Received, TransportError>> + Send + 'a {
        self.transport.send(base_url, request)
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    fn single_flight(&self) -> impl Future<Output = Self::Flight<'_>> {
        self.authorizing.lock()
    }

    fn store<R, F>(&self, store: &Arc<dyn SessionStore>, op: F) -> impl Future<Output = R> + Send
    where
        R: Send + 'static,
        F: FnOnce(&dyn SessionStore) -> R + Send + 'static,
    {
        let store = Arc::clone(store);
        async move {
            match tokio::task::spawn_blocking(move || op(store.as_ref())).await {
                Ok(r) => r,
                Err(e) => match e.try_into_panic() {
                    // The store panicked: the same as it would in the blocking client.
                    Ok(panic) => std::panic::resume_unwind(panic),
                    // The runtime is shutting down and drops this task with it.
                    Err(_) => std::future::pending().await,
                },
            }
        }
    }
}

/// The AlliancePay client for tokio. Cheap to clone; clones share the session.
#[derive(Clone)]
pub struct AsyncClient {
    core: Arc<Core<Tokio>>,
}

impl std::fmt::Debug for AsyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.describe("AsyncClient", f)
    }
}

impl AsyncClient {
    /// A client over [`HyperTransport`] and the store the configuration names.
    ///
    /// # Errors
    /// As [`ClientBuilder::build`].
    pub fn new(config: ClientConfig, merchant: PrivateJwk) -> Result<Self, Error> {
        Self::builder(config, merchant).build()
    }

    /// Starts a client with another transport, store or clocks.
    pub fn builder(config: ClientConfig, merchant: PrivateJwk) -> AsyncClientBuilder {
        ClientBuilder::new(config, merchant)
    }

    /// The merchant key this client decrypts with.
    #[must_use]
    pub fn merchant_key(&self) -> &PrivateJwk {
        &self.core.merchant
    }

    /// How many device authorizations this client has sent.
    #[must_use]
    pub fn authorizations(&self) -> u64 {
        self.core.authorizations()
    }

    /// How many requests this client has sent to the bank, authorizations included.
    #[must_use]
    pub fn bank_requests(&self) -> u64 {
        self.core.bank_requests()
    }

    /// The store generation of the session this process uses (0: none yet).
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.core.generation()
    }

    /// As [`crate::Client::session`].
    ///
    /// # Errors
    /// As [`crate::Client::authorize`].
    pub async fn session(&self) -> Result<Arc<Session>, Error> {
        self.core.session().await
    }

    /// As [`crate::Client::authorize`].
    ///
    /// # Errors
    /// As [`crate::Client::authorize`].
    pub async fn authorize(&self) -> Result<Arc<Session>, Error> {
        self.core.authorize().await
    }

    /// As [`crate::Client::call`].
    pub async fn call<E: Endpoint + Sync>(&self, endpoint: &E) -> Outcome<E::Output> {
        self.core.call(endpoint).await
    }

    /// As [`crate::Client::create_order`] (on `Unknown`, send the same order again).
    pub async fn create_order(&self, order: &CreateOrder) -> Outcome<Order> {
        self.core.create_order(order).await
    }

    /// As [`crate::Client::order_data`].
    ///
    /// # Errors
    /// As [`crate::Client::order_data`].
    pub async fn order_data(&self, hpp_order_id: &HppOrderId) -> Result<Order, Error> {
        self.core.order_data(hpp_order_id).await
    }

    /// As [`crate::Client::refund`] (on `Unknown`, look the refund up by its
    /// `merchantRequestId` first).
    pub async fn refund(&self, refund: &Refund) -> Outcome<Operation> {
        self.core.refund(refund).await
    }

    /// As [`crate::Client::operation_by_id`].
    ///
    /// # Errors
    /// As [`crate::Client::operation_by_id`].
    pub async fn operation_by_id(&self, operation_id: &str) -> Result<Operation, Error> {
        self.core.operation_by_id(operation_id).await
    }

    /// As [`crate::Client::operation_by_merchant_request_id`].
    ///
    /// # Errors
    /// As [`crate::Client::operation_by_merchant_request_id`].
    pub async fn operation_by_merchant_request_id(
        &self,
        merchant_request_id: &MerchantRequestId,
    ) -> Result<Operation, Error> {
        self.core
            .operation_by_merchant_request_id(merchant_request_id)
            .await
    }

    /// Parses a callback body with this client's merchant key (see [`parse_callback`]).
    ///
    /// # Errors
    /// As [`parse_callback`].
    pub fn parse_callback(&self, body: &[u8]) -> Result<Callback, Error> {
        parse_callback(body, &self.core.merchant)
    }
}

/// Compile-time proof that the client can be shared by tasks and its calls spawned.
const _: fn() = || {
    fn shared<T: Send + Sync + Clone>() {}
    fn spawnable<T: Send>(_: &T) {}
    shared::<AsyncClient>();
    let probe = |client: AsyncClient, order: CreateOrder, id: HppOrderId| async move {
        let _ = client.create_order(&order).await;
        let _ = client.order_data(&id).await;
        let _ = client.authorize().await;
    };
    let _ = |c: AsyncClient, o: CreateOrder, id: HppOrderId| spawnable(&probe(c, o, id));
};
