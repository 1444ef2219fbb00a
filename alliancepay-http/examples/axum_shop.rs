//! A shop on axum with the async client (features `tokio` and `simulator`): it creates HPP
//! orders, serves the bank's callback endpoint, and marks an order paid only after reading
//! the order back from the bank. A callback is a claim, not proof: it can be forged (a plain
//! JSON body needs no key), replayed or arrive out of order, so the shop trusts the bank's
//! answer to `order_data`, which it asked for itself over TLS, in its own session.
//!
//! Run it against the local simulator:
//!
//! ```text
//! cargo run -p alliancepay-http --features cli -- keygen --out /tmp/shop
//! cargo run -p alliancepay-http --features cli -- simulate --merchant-key /tmp/shop/merchant.pub.jwk ...
//! ALLIANCEPAY_BASE_URL=http://127.0.0.1:PORT ALLIANCEPAY_SERVICE_CODE=... ALLIANCEPAY_KEY=/tmp/shop/merchant.jwk \
//!   ALLIANCEPAY_MERCHANT_ID=... cargo run -p alliancepay-http --features tokio,simulator --example axum_shop
//! ```
//!
//! `POST /orders` with the amount in kopecks as the body answers the payment link;
//! `GET /orders/{hppOrderId}` says whether the order is paid. The test
//! `tests/axum_shop.rs` runs the whole flow against the simulator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alliancepay_http::{
    AsyncClient, Callback, ClientConfig, CreateOrder, Kopecks, OrderStatus, Outcome,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};

/// The data behind a lock; a panic elsewhere leaves it consistent (every write is one
/// insert or one increment).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the shop knows about one of its orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payment {
    /// Created; the customer has not paid, as far as the bank says.
    Awaiting,
    /// The bank's own record says SUCCESS.
    Paid,
    /// The bank's own record says FAIL.
    Failed,
}

/// The shop: its bank client, its public URL (for the callback) and its orders.
pub struct Shop {
    client: AsyncClient,
    merchant_id: String,
    public_url: String,
    orders: Mutex<HashMap<String, Payment>>,
    /// Callbacks received, and how many of them the bank's record confirmed.
    pub callbacks: Mutex<(u32, u32)>,
}

impl Shop {
    /// A shop reachable at `public_url` (where the bank sends callbacks).
    pub fn new(client: AsyncClient, merchant_id: &str, public_url: &str) -> Arc<Self> {
        Arc::new(Self {
            client,
            merchant_id: merchant_id.to_owned(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            orders: Mutex::new(HashMap::new()),
            callbacks: Mutex::new((0, 0)),
        })
    }

    /// The state of an order, if it is one of ours.
    pub fn payment(&self, hpp_order_id: &str) -> Option<Payment> {
        lock(&self.orders).get(hpp_order_id).cloned()
    }

    /// Creates an order of `kopecks` and answers `(hppOrderId, payment link)`.
    ///
    /// # Errors
    /// The refusal, or the unknown outcome (then the same order is to be sent again).
    pub async fn create_order(&self, kopecks: u64) -> Result<(String, String), String> {
        let order = CreateOrder::builder()
            .merchant_id(&self.merchant_id)
            .amount(Kopecks::new(kopecks))
            .customer("customer-1")
            .success_url(format!("{}/thanks", self.public_url))
            .fail_url(format!("{}/sorry", self.public_url))
            .notification_url(format!("{}/alliancepay/callback", self.public_url))
            .build()
            .map_err(|e| e.to_string())?;
        // A real shop stores order.merchant_request_id before sending: on Unknown it sends the
        // same order again.
        match self.client.create_order(&order).await {
            Outcome::Done(created) => {
                lock(&self.orders)
                    .insert(created.hpp_order_id.as_str().to_owned(), Payment::Awaiting);
                Ok((
                    created.hpp_order_id.as_str().to_owned(),
                    created.redirect_url.unwrap_or_default(),
                ))
            }
            Outcome::Refused(why) => Err(format!("not created: {why}")),
            Outcome::Unknown(u) => Err(format!("{u}; send the same order again")),
        }
    }

    /// Handles a callback body: finds which of our orders it names, reads that order back
    /// from the bank, and records what the bank's record says.
    ///
    /// # Errors
    /// A body that is not a callback for us, or the re-read failed (the bank then retries).
    pub async fn callback(&self, body: &[u8]) -> Result<(), String> {
        lock(&self.callbacks).0 += 1;
        let hpp_order_id = match self
            .client
            .parse_callback(body)
            .map_err(|e| e.to_string())?
        {
            Callback::Order(order) => order.hpp_order_id,
            Callback::Operation(_) => return Ok(()),
        };
        if self.payment(hpp_order_id.as_str()).is_none() {
            return Err(format!(
                "{} is not one of our orders",
                hpp_order_id.as_str()
            ));
        }
        // The callback's own status is not used: the bank's record decides.
        let record = self
            .client
            .order_data(&hpp_order_id)
            .await
            .map_err(|e| e.to_string())?;
        let payment = match record.order_status {
            OrderStatus::Success => Payment::Paid,
            OrderStatus::Fail => Payment::Failed,
            _ => Payment::Awaiting,
        };
        if payment == Payment::Paid {
            lock(&self.callbacks).1 += 1;
        }
        lock(&self.orders).insert(hpp_order_id.as_str().to_owned(), payment);
        Ok(())
    }
}

async fn create(State(shop): State<Arc<Shop>>, body: String) -> (StatusCode, String) {
    let Ok(kopecks) = body.trim().parse::<u64>() else {
        return (
            StatusCode::BAD_REQUEST,
            "the body must be the amount in kopecks".into(),
        );
    };
    match shop.create_order(kopecks).await {
        Ok((id, link)) => (StatusCode::CREATED, format!("{id} {link}")),
        Err(e) => (StatusCode::BAD_GATEWAY, e),
    }
}

async fn callback(State(shop): State<Arc<Shop>>, body: Bytes) -> StatusCode {
    match shop.callback(&body).await {
        Ok(()) => StatusCode::OK,
        // The bank retries a callback that was not answered 200; a reading that failed is
        // worth retrying.
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn status(State(shop): State<Arc<Shop>>, Path(id): Path<String>) -> (StatusCode, String) {
    match shop.payment(&id) {
        Some(p) => (StatusCode::OK, format!("{p:?}")),
        None => (StatusCode::NOT_FOUND, "no such order".into()),
    }
}

/// The shop's routes.
pub fn router(shop: Arc<Shop>) -> Router {
    Router::new()
        .route("/orders", post(create))
        .route("/orders/{id}", get(status))
        .route("/alliancepay/callback", post(callback))
        .with_state(shop)
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

fn main() -> Result<(), String> {
    let key = alliancepay_http::store::load_private_key(env("ALLIANCEPAY_KEY")?.as_ref())
        .map_err(|e| e.to_string())?;
    let config = ClientConfig::new(
        &env("ALLIANCEPAY_BASE_URL")?,
        &env("ALLIANCEPAY_SERVICE_CODE")?,
    );
    let client = AsyncClient::new(config, key).map_err(|e| e.to_string())?;
    let listen = std::env::var("SHOP_LISTEN").unwrap_or_else(|_| "127.0.0.1:8088".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| e.to_string())?;
        let shop = Shop::new(
            client,
            &env("ALLIANCEPAY_MERCHANT_ID")?,
            &format!("http://{listen}"),
        );
        println!("shop listening on http://{listen}");
        axum::serve(listener, router(shop))
            .await
            .map_err(|e| e.to_string())
    })
}
