//! One suite, two drivers: every scenario of this file runs once on the blocking
//! `alliancepay_http::Client` and once on the async `alliancepay_http::AsyncClient`. The
//! scenarios call [`Client`], which has the library client's methods in blocking form; on the
//! async driver each call runs on a shared tokio runtime (`Runtime::block_on` from the calling
//! thread, so the scenarios' own threads call concurrently, as tasks would).

use std::cell::Cell;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use alliancepay_http::Endpoint;
use alliancepay_http::{AsyncClient, Callback, ClientConfig, Error, Outcome, Session, UtcTime};
use alliancepay_http::{CreateOrder, Operation, Order, Refund};
use alliancepay_jose::PrivateJwk;

/// Which client a scenario drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    Blocking,
    Tokio,
}

thread_local! {
    static DRIVER: Cell<Driver> = const { Cell::new(Driver::Blocking) };
}

impl Driver {
    /// Runs `scenario` with every client it makes on this driver.
    pub fn run(self, scenario: fn()) {
        DRIVER.with(|d| d.set(self));
        scenario();
    }

    /// The driver of the scenario running on this thread.
    pub fn current() -> Self {
        DRIVER.with(Cell::get)
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// The wall and monotonic clocks a scenario sets.
pub type Clock = Arc<dyn Fn() -> UtcTime + Send + Sync>;
pub type Monotonic = Arc<dyn Fn() -> Duration + Send + Sync>;

/// A client of either driver.
#[derive(Clone, Debug)]
pub enum Client {
    Blocking(alliancepay_http::Client),
    Tokio(AsyncClient),
}

/// Either call: on the blocking client as is, on the async one inside the runtime.
macro_rules! either {
    ($self:ident, $c:ident => $call:expr) => {
        match $self {
            Client::Blocking($c) => $call,
            Client::Tokio($c) => runtime().block_on(async { $call.await }),
        }
    };
}

impl Client {
    /// A client of the current driver with the default transport and store.
    pub fn new(config: ClientConfig, key: PrivateJwk) -> Result<Self, Error> {
        Self::with_clocks(config, key, None)
    }

    /// The same, reading `clocks` (the wall clock, the monotonic clock).
    pub fn with_clocks(
        config: ClientConfig,
        key: PrivateJwk,
        clocks: Option<(Clock, Monotonic)>,
    ) -> Result<Self, Error> {
        match Driver::current() {
            Driver::Blocking => {
                let mut b = alliancepay_http::Client::builder(config, key);
                if let Some((wall, mono)) = clocks {
                    b = b.clock(move || wall()).monotonic_clock(move || mono());
                }
                b.build().map(Self::Blocking)
            }
            Driver::Tokio => {
                let mut b = AsyncClient::builder(config, key);
                if let Some((wall, mono)) = clocks {
                    b = b.clock(move || wall()).monotonic_clock(move || mono());
                }
                b.build().map(Self::Tokio)
            }
        }
    }

    pub fn authorizations(&self) -> u64 {
        match self {
            Self::Blocking(c) => c.authorizations(),
            Self::Tokio(c) => c.authorizations(),
        }
    }

    pub fn parse_callback(&self, body: &[u8]) -> Result<Callback, Error> {
        match self {
            Self::Blocking(c) => c.parse_callback(body),
            Self::Tokio(c) => c.parse_callback(body),
        }
    }

    pub fn authorize(&self) -> Result<Arc<Session>, Error> {
        either!(self, c => c.authorize())
    }

    pub fn session(&self) -> Result<Arc<Session>, Error> {
        either!(self, c => c.session())
    }

    pub fn call<E: Endpoint + Sync>(&self, endpoint: &E) -> Outcome<E::Output> {
        either!(self, c => c.call(endpoint))
    }

    pub fn create_order(&self, order: &CreateOrder) -> Outcome<Order> {
        either!(self, c => c.create_order(order))
    }

    pub fn order_data(&self, hpp_order_id: &alliancepay_http::HppOrderId) -> Result<Order, Error> {
        either!(self, c => c.order_data(hpp_order_id))
    }

    pub fn refund(&self, refund: &Refund) -> Outcome<Operation> {
        either!(self, c => c.refund(refund))
    }

    pub fn operation_by_id(&self, id: &str) -> Result<Operation, Error> {
        either!(self, c => c.operation_by_id(id))
    }

    pub fn operation_by_merchant_request_id(
        &self,
        id: &alliancepay_http::MerchantRequestId,
    ) -> Result<Operation, Error> {
        either!(self, c => c.operation_by_merchant_request_id(id))
    }
}

/// For each scenario `name`, tests `name::blocking` and `name::tokio`.
macro_rules! both_drivers {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn blocking() {
                $crate::driver::Driver::Blocking.run(super::$name);
            }
            #[test]
            fn tokio() {
                $crate::driver::Driver::Tokio.run(super::$name);
            }
        }
    )*};
}
pub(crate) use both_drivers;
