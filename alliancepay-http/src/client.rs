//! The blocking driver: one client per service code, shared by every thread of the process,
//! and, through a shared [`SessionStore`], by every process and host of the merchant.
//!
//! [`Client`] owns the session, the transport, the clocks and the store; the [`crate::call`]
//! state machine owns every decision about one call, and the driver logic around it (the call
//! loop, the single flight, the session store's rule) is written once, in `driver.rs`, for
//! this client and the async one. Here it runs over blocking I/O: a [`Transport`], a std
//! mutex for the single flight, `thread::sleep`, store commands in the calling thread.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use alliancepay_jose::PrivateJwk;

use crate::Error;
use crate::callback::{Callback, parse_callback};
pub use crate::config::ClientConfig;
use crate::driver::{self, Core, Io, MonotonicClock, Parts, WallClock, block_on, lock};
use crate::model::{CreateOrder, HppOrderId, MerchantRequestId, Operation, Order, Refund};
use crate::outcome::Outcome;
use crate::protocol::{Endpoint, HttpRequest, Received};
use crate::session::Session;
use crate::sessions::SessionStore;
use crate::time::UtcTime;
use crate::transport::{Transport, TransportError, UreqTransport};

/// Everything a client is made of; [`Client::builder`] (or `AsyncClient::builder`, feature
/// `tokio`) starts one, [`ClientBuilder::build`] checks the configuration and opens the store.
/// The clocks are set here, before the client exists, so every clone reads the same ones.
///
/// ```no_run
/// use alliancepay_http::{Client, ClientConfig, UreqTransport, store};
/// use std::time::Duration;
///
/// # fn main() -> Result<(), alliancepay_http::Error> {
/// let key = store::load_private_key("merchant.jwk".as_ref())?;
/// let config = ClientConfig::new("https://api-ecom-prod.bankalliance.ua", "service-code");
/// let client = Client::builder(config, key)
///     .transport(UreqTransport::new(Duration::from_secs(10)))
///     .build()?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct ClientBuilder<T = Box<dyn Transport>> {
    config: ClientConfig,
    merchant: PrivateJwk,
    transport: Option<T>,
    store: Option<Arc<dyn SessionStore>>,
    wall: Option<WallClock>,
    monotonic: Option<MonotonicClock>,
}

impl<T> std::fmt::Debug for ClientBuilder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("merchant_key", self.merchant.public_jwk())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl<T> ClientBuilder<T> {
    pub(crate) fn new(config: ClientConfig, merchant: PrivateJwk) -> Self {
        Self {
            config,
            merchant,
            transport: None,
            store: None,
            wall: None,
            monotonic: None,
        }
    }

    /// Keeps the session in `store` instead of the one the configuration names.
    pub fn store(mut self, store: impl SessionStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Reads the host's wall clock from `clock` (tests put the host hours off the bank).
    pub fn clock(mut self, clock: impl Fn() -> UtcTime + Send + Sync + 'static) -> Self {
        self.wall = Some(Arc::new(clock));
        self
    }

    /// Reads the monotonic clock from `clock` (tests move time forward with it).
    pub fn monotonic_clock(mut self, clock: impl Fn() -> Duration + Send + Sync + 'static) -> Self {
        self.monotonic = Some(Arc::new(clock));
        self
    }

    pub(crate) fn set_transport(&mut self, transport: T) {
        self.transport = Some(transport);
    }

    /// The transport given, or `default` over the configured timeout; and the core's parts.
    pub(crate) fn into_parts(
        self,
        default: impl FnOnce(Duration) -> Result<T, Error>,
    ) -> Result<(T, Parts), Error> {
        self.config.check()?;
        let store = match self.store {
            Some(store) => store,
            None => driver::open_store(&self.config, &self.merchant)?,
        };
        let transport = match self.transport {
            Some(transport) => transport,
            None => default(self.config.timeout())?,
        };
        Ok((
            transport,
            Parts {
                config: self.config,
                merchant: self.merchant,
                store,
                wall: self.wall,
                monotonic: self.monotonic,
            },
        ))
    }
}

impl ClientBuilder<Box<dyn Transport>> {
    /// Sends requests over `transport` instead of a [`UreqTransport`] with the configured
    /// timeout.
    pub fn transport(mut self, transport: impl Transport + 'static) -> Self {
        self.set_transport(Box::new(transport));
        self
    }

    /// The client. Opens the session store (unless one was given) and resumes the session
    /// stored there, if any and valid for this bank, service code and key, so a restart does
    /// not re-authorize.
    ///
    /// # Errors
    /// [`Error::Config`] for a base URL that is not `https://` (see [`ClientConfig::check`]),
    /// or a session store that cannot be used: a session path that is the key file or any
    /// other file that is not one of our session files is refused before anything is written.
    pub fn build(self) -> Result<Client, Error> {
        let (transport, parts) =
            self.into_parts(|timeout| Ok(Box::new(UreqTransport::new(timeout))))?;
        let io = Blocking {
            transport,
            authorizing: Mutex::new(()),
        };
        let core = Core::new(io, parts)?;
        block_on(core.sync());
        Ok(Client {
            core: Arc::new(core),
        })
    }
}

/// The blocking driver's I/O: each operation is done when its future is made.
pub(crate) struct Blocking {
    transport: Box<dyn Transport>,
    /// Held for the whole of an authorization, so only one thread of the process runs one.
    authorizing: Mutex<()>,
}

impl Io for Blocking {
    type Flight<'a> = MutexGuard<'a, ()>;

    fn send<'a>(
        &'a self,
        base_url: &'a str,
        request: &'a HttpRequest,
    ) -> impl Future<Output = Result<Received, TransportError>> + Send + 'a {
        std::future::ready(self.transport.send(base_url, request))
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        std::thread::sleep(duration);
        std::future::ready(())
    }

    fn single_flight(&self) -> impl Future<Output = Self::Flight<'_>> {
        std::future::ready(lock(&self.authorizing))
    }

    fn store<R, F>(&self, store: &Arc<dyn SessionStore>, op: F) -> impl Future<Output = R> + Send
    where
        R: Send + 'static,
        F: FnOnce(&dyn SessionStore) -> R + Send + 'static,
    {
        std::future::ready(op(store.as_ref()))
    }
}

/// The AlliancePay client. Cheap to clone; clones share the session.
#[derive(Clone)]
pub struct Client {
    core: Arc<Core<Blocking>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.describe("Client", f)
    }
}

impl Client {
    /// A client over the default blocking transport and the store the configuration names:
    /// `Client::builder(config, merchant).build()`.
    ///
    /// # Errors
    /// As [`ClientBuilder::build`].
    pub fn new(config: ClientConfig, merchant: PrivateJwk) -> Result<Self, Error> {
        Self::builder(config, merchant).build()
    }

    /// Starts a client with another transport, store or clocks.
    pub fn builder(config: ClientConfig, merchant: PrivateJwk) -> ClientBuilder {
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

    /// How many requests this client has sent to the bank, authorizations and requests the
    /// bank refused included.
    #[must_use]
    pub fn bank_requests(&self) -> u64 {
        self.core.bank_requests()
    }

    /// The store generation of the session this process uses (0: none yet).
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.core.generation()
    }

    /// The current session, authorizing first when there is none or it is due for renewal.
    ///
    /// # Errors
    /// Those of [`Client::authorize`].
    pub fn session(&self) -> Result<Arc<Session>, Error> {
        block_on(self.core.session())
    }

    /// Authorizes now, replacing any session (in the store too, when its lease can be taken
    /// within its time to live).
    ///
    /// # Errors
    /// [`Error::ServiceCodeLocked`] when the bank has locked the service code, [`Error::Bank`],
    /// [`Error::Decryption`] when the key is not the one registered for the service code,
    /// transport errors, [`Error::MalformedResponse`].
    pub fn authorize(&self) -> Result<Arc<Session>, Error> {
        block_on(self.core.authorize())
    }

    /// Runs one call to its outcome over the crate's sans-IO call state machine: the driver
    /// moves bytes, holds the single-flight lock (and the store's lease, when it authorizes)
    /// from the moment the state machine asks to wait for an authorization until the next
    /// send, and publishes new sessions.
    pub fn call<E: Endpoint + Sync>(&self, endpoint: &E) -> Outcome<E::Output> {
        block_on(self.core.call(endpoint))
    }

    /// Creates an HPP order (plain JSON). The order is not paid until its status says so.
    ///
    /// On [`Outcome::Unknown`], send the same `order` again: either it was not created and now
    /// is, or the bank answers `b_duplicate_field_value` because the first one exists, which is
    /// `Unknown` again with [`Error::AlreadyExists`] (see there: an unpaid order cannot be
    /// fetched by its `merchantRequestId`).
    pub fn create_order(&self, order: &CreateOrder) -> Outcome<Order> {
        block_on(self.core.create_order(order))
    }

    /// Reads an HPP order and its operations.
    ///
    /// # Errors
    /// `b_hpp_order_not_found` is [`Error::Bank`]; an answer without the order's mandatory
    /// members is [`Error::MalformedResponse`]; transport and session errors.
    pub fn order_data(&self, hpp_order_id: &HppOrderId) -> Result<Order, Error> {
        block_on(self.core.order_data(hpp_order_id))
    }

    /// Refunds (part of) an operation; the body is encrypted to the session key.
    ///
    /// On [`Outcome::Unknown`], look the refund up by its `merchantRequestId`
    /// ([`Client::operation_by_merchant_request_id`]); if the bank has no such operation yet,
    /// send the same `refund` again. The bank's documents do not say how it answers a repeated
    /// refund id (our simulator answers with the operation it already made); an answer that
    /// the id exists is `Unknown` with [`Error::AlreadyExists`]: look it up.
    pub fn refund(&self, refund: &Refund) -> Outcome<Operation> {
        block_on(self.core.refund(refund))
    }

    /// Looks an operation up by the bank's `operationId`.
    ///
    /// # Errors
    /// As [`Client::order_data`]; a record with status `FAIL` and `errorDetails` is
    /// [`Error::Declined`].
    pub fn operation_by_id(&self, operation_id: &str) -> Result<Operation, Error> {
        block_on(self.core.operation_by_id(operation_id))
    }

    /// Looks an operation up by our `merchantRequestId`: how to learn the outcome of a write
    /// that ended [`Outcome::Unknown`].
    ///
    /// # Errors
    /// As [`Client::operation_by_id`]; `b_operation_not_found` ([`Error::Bank`]) means the
    /// bank has no such operation yet: not proof that nothing was applied (a write still in
    /// flight, or an order nobody has paid, is not found either).
    pub fn operation_by_merchant_request_id(
        &self,
        merchant_request_id: &MerchantRequestId,
    ) -> Result<Operation, Error> {
        block_on(
            self.core
                .operation_by_merchant_request_id(merchant_request_id),
        )
    }

    /// Parses a callback body with this client's merchant key (see [`parse_callback`]).
    ///
    /// # Errors
    /// As [`parse_callback`].
    pub fn parse_callback(&self, body: &[u8]) -> Result<Callback, Error> {
        parse_callback(body, &self.core.merchant)
    }
}

/// Compile-time proof that one client can be shared by threads.
const _: fn() = || {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Client>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Capture;
    use crate::crypto;
    #[cfg(feature = "simulator")]
    use crate::model::Refund;
    use crate::protocol::HttpResponse;

    /// A bank two hours ahead of the host: every authorization answers a fresh session and a
    /// `Date` header two hours on.
    struct AheadBank {
        merchant: alliancepay_jose::PublicJwk,
        server: String,
    }

    impl Transport for AheadBank {
        fn send(&self, _: &str, _: &HttpRequest) -> Result<Received, TransportError> {
            let bank_now = UtcTime::now().plus(7200);
            let payload = format!(
                r#"{{"refreshToken":"rt","deviceId":"dev","serverPublic":{},"tokenExpirationDateTime":"{}"}}"#,
                self.server,
                bank_now.plus(86_400).to_bank_utc()
            );
            let token = crypto::encrypt_to_string(&self.merchant, payload.as_bytes())
                .map_err(|e| TransportError::Failed(e.to_string().into()))?;
            Ok(Received {
                response: HttpResponse {
                    status: 200,
                    content_type: Some("application/json".into()),
                    request_id: None,
                    body: format!(r#"{{"jwe":"{token}"}}"#).into_bytes(),
                },
                date: Some(bank_now.to_http_date()),
            })
        }
    }

    #[test]
    fn a_skewed_host_is_warned_about_once() {
        let capture = Capture::default();
        let _default = tracing::subscriber::set_default(capture.clone());
        let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let server = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let bank = AheadBank {
            merchant: *key.public_jwk(),
            server: crypto::public_jwk_to_string(server.public_jwk()),
        };
        let client = Client::builder(config("https://bank.example"), key)
            .transport(bank)
            .build()
            .unwrap();
        for _ in 0..3 {
            let session = client.authorize().unwrap();
            assert!((session.clock_offset_secs() - 7200).abs() <= 2);
        }
        let warnings = capture
            .events()
            .iter()
            .filter(|e| e.starts_with("WARN") && e.contains("off the bank's"))
            .count();
        assert_eq!(warnings, 1, "{:?}", capture.events());
        assert_eq!(client.authorizations(), 3);
        let shown = format!("{client:?}");
        assert!(
            shown.starts_with("Client {") && shown.contains("bank.example"),
            "{shown}"
        );
        assert!(!shown.contains("svc"), "the service code in Debug: {shown}");
    }

    /// The builder's clocks are the client's from the start, and every clone reads them
    /// (`with_clock` on a built client used to be ignored once it was cloned).
    #[test]
    fn clocks_set_by_the_builder_are_read_by_every_clone() {
        let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let server = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let bank = AheadBank {
            merchant: *key.public_jwk(),
            server: crypto::public_jwk_to_string(server.public_jwk()),
        };
        // The host two hours ahead too: no offset to measure.
        let client = Client::builder(config("https://bank.example"), key)
            .transport(bank)
            .clock(|| UtcTime::now().plus(7200))
            .build()
            .unwrap();
        let clone = client.clone();
        let session = clone.authorize().unwrap();
        assert!(
            session.clock_offset_secs().abs() <= 2,
            "{}",
            session.clock_offset_secs()
        );
    }

    fn config(url: &str) -> ClientConfig {
        ClientConfig::new(url, "svc")
    }

    /// Each call's span names the operation and the merchantRequestId and ends with the
    /// attempts, the outcome and the bank's code; a rejected session and store events are
    /// traced too. No token, service code or key appears anywhere in what was traced.
    #[cfg(feature = "simulator")]
    #[test]
    fn calls_are_traced_with_their_fields_and_without_secrets() {
        use crate::simulator::{MerchantRegistration, PaymentOutcome, Simulator, SimulatorConfig};
        let capture = Capture::default();
        let _default = tracing::subscriber::set_default(capture.clone());
        let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let (service_code, merchant_id) = (crypto::new_uuid(), crypto::new_uuid());
        let sim = Simulator::start(SimulatorConfig {
            merchants: vec![MerchantRegistration {
                service_code: service_code.clone(),
                merchant_id: merchant_id.clone(),
                public_key: *key.public_jwk(),
            }],
            ..SimulatorConfig::default()
        })
        .unwrap();
        let dir = std::env::temp_dir().join(format!("alliancepay-trace-{}", crypto::new_uuid()));
        std::fs::create_dir_all(&dir).unwrap();
        let config =
            ClientConfig::new(&sim.base_url(), &service_code).with_session_file(dir.join("s.json"));
        let client = Client::new(config, key.clone()).unwrap();
        let order = CreateOrder::builder()
            .merchant_id(&merchant_id)
            .amount(crate::Kopecks::new(500))
            .customer("c")
            .success_url("https://s/ok")
            .fail_url("https://s/no")
            .build()
            .unwrap();
        let created = client.create_order(&order).into_result().unwrap();
        sim.pay(&created.hpp_order_id, PaymentOutcome::Success)
            .unwrap();
        let session = client.session().unwrap();
        // The bank drops the session: the read is refused once, re-authorized and resent.
        sim.forget_sessions();
        let read = client.order_data(&created.hpp_order_id).unwrap();
        let purchase = read.operations[0].operation_id.clone().unwrap();
        let too_much = Refund::builder()
            .merchant_id(&merchant_id)
            .operation_id(&purchase)
            .amount(crate::Kopecks::new(100_000))
            .build()
            .unwrap();
        assert!(matches!(client.refund(&too_much), Outcome::Refused(_)));
        let renewed = client.session().unwrap();

        let spans = capture.spans();
        let create = spans
            .iter()
            .find(|s| s.contains("operation=create-order"))
            .unwrap_or_else(|| panic!("{spans:#?}"));
        assert!(create.starts_with("span alliancepay.call"), "{create}");
        assert!(
            create.contains(&format!(
                "merchant_request_id={}",
                order.merchant_request_id
            )),
            "{create}"
        );
        assert!(
            create.contains("attempts=1") && create.contains("outcome=Done"),
            "{create}"
        );
        let reread = spans
            .iter()
            .find(|s| s.contains("operation=order-data") && s.contains("attempts=2"))
            .unwrap_or_else(|| panic!("{spans:#?}"));
        assert!(reread.contains("outcome=Done"), "{reread}");
        let refused = spans
            .iter()
            .find(|s| s.contains("operation=refund"))
            .unwrap_or_else(|| panic!("{spans:#?}"));
        assert!(
            refused.contains("outcome=Refused")
                && refused.contains("msg_code=b_payment_invalid_refund_amount")
                && refused.contains(&format!(
                    "merchant_request_id={}",
                    too_much.merchant_request_id
                )),
            "{refused}"
        );
        let events = capture.events();
        let has = |what: &str| events.iter().any(|e| e.contains(what));
        assert!(has("msg_code=b_"), "the rejection's code: {events:#?}");
        assert!(has("re-authorizing once"), "{events:#?}");
        assert!(has("status=200") && has("attempt=2"), "{events:#?}");
        assert!(has("session published"), "a store event: {events:#?}");
        let everything = format!("{spans:?}{events:?}");
        let private_key = crypto::private_jwk_to_string(&key);
        let d = private_key
            .split("\"d\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        for (name, secret) in [
            ("service code", service_code.as_str()),
            ("refresh token", session.refresh_token.expose()),
            ("auth token", session.auth_token.expose()),
            ("renewed refresh token", renewed.refresh_token.expose()),
            ("private key", d),
        ] {
            assert!(!secret.is_empty(), "{name}");
            assert!(!everything.contains(secret), "the {name} was traced");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn plain_http_only_to_loopback_or_when_asked() {
        for ok in [
            "https://api-ecom-prod.bankalliance.ua",
            "HTTPS://bank.example:8443/base",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://localhost:9000/",
            "http://[::1]:8080",
        ] {
            assert!(config(ok).check().is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("http://api-ecom-prod.bankalliance.ua", "plain http"),
            ("http://10.0.0.1:8080", "plain http"),
            ("http://localhost.evil.example", "plain http"),
            ("http://127.0.0.1@bank.example", "plain http"),
            ("http://[::2]:80", "plain http"),
            ("ftp://bank.example", "scheme"),
            ("bank.example", "no scheme"),
            ("https://:443", "no host"),
        ] {
            let e = config(bad).check().unwrap_err();
            assert!(
                matches!(e, Error::Config(crate::ConfigError::BaseUrl { .. }))
                    && e.to_string().contains(says),
                "{bad}: {e}"
            );
        }
        let opted_in = config("http://bank.internal:8080").with_plain_http_allowed(true);
        assert!(opted_in.check().is_ok());
        let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        assert!(matches!(
            Client::new(config("http://bank.example"), key),
            Err(Error::Config(_))
        ));
    }
}
