//! The axum shop example against the simulator: create an order with the async client, the
//! simulator's customer pays, the callback reaches the shop over HTTP, the shop reads the
//! order back and only then marks it paid. A forged callback for an unpaid order is not
//! believed.
#![cfg(all(feature = "tokio", feature = "simulator"))]

#[allow(dead_code)]
#[path = "../examples/axum_shop.rs"]
mod shop;

use std::time::{Duration, Instant};

use alliancepay_http::__private::crypto;
use alliancepay_http::PrivateJwk;
use alliancepay_http::simulator::{
    MerchantRegistration, PaymentOutcome, Simulator, SimulatorConfig,
};
use alliancepay_http::{AsyncClient, ClientConfig};
use shop::{Payment, Shop};

#[test]
fn the_shop_marks_an_order_paid_after_reading_it_back() {
    let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
    let (service_code, merchant_id) = (crypto::new_uuid(), crypto::new_uuid());
    let sim = Simulator::start(SimulatorConfig {
        merchants: vec![MerchantRegistration {
            service_code: service_code.clone(),
            merchant_id: merchant_id.clone(),
            public_key: *key.public_jwk(),
        }],
        callback_retry_scale: 0.001,
        ..SimulatorConfig::default()
    })
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = AsyncClient::new(ClientConfig::new(&sim.base_url(), &service_code), key).unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let shop = Shop::new(client, &merchant_id, &format!("http://{addr}"));
    let served = std::sync::Arc::clone(&shop);
    runtime.spawn(async move {
        axum::serve(listener, shop::router(served)).await.unwrap();
    });
    // The shop's routes over real HTTP, as the customer's browser and the bank use them.
    let http = |method: &str, path: &str, body: &str| {
        let url = format!("http://{addr}{path}");
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        let mut response = match method {
            "POST" => agent.post(&url).send(body).unwrap(),
            _ => agent.get(&url).call().unwrap(),
        };
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap(),
        )
    };

    let (status, created) = http("POST", "/orders", "125050");
    assert_eq!(status, 201, "{created}");
    let (hpp_order_id, link) = created.split_once(' ').unwrap();
    assert!(link.starts_with("http"), "{link}");
    assert_eq!(
        http("GET", &format!("/orders/{hpp_order_id}"), ""),
        (200, "Awaiting".into())
    );

    // Forged: a plain JSON callback claiming SUCCESS for the unpaid order. The shop reads
    // the order back, the bank says PENDING, and the order stays unpaid.
    let forged = format!(r#"{{"hppOrderId":"{hpp_order_id}","orderStatus":"SUCCESS"}}"#);
    let (status, _) = http("POST", "/alliancepay/callback", &forged);
    assert_eq!(status, 200);
    assert_eq!(
        http("GET", &format!("/orders/{hpp_order_id}"), ""),
        (200, "Awaiting".into())
    );

    // The customer pays on the simulator; its callback reaches the shop, which re-reads.
    sim.pay(hpp_order_id, PaymentOutcome::Success).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, state) = http("GET", &format!("/orders/{hpp_order_id}"), "");
        if state == "Paid" {
            break;
        }
        assert!(Instant::now() < deadline, "never marked paid: {state}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(shop.payment(hpp_order_id), Some(Payment::Paid));
    let (received, confirmed) = *shop.callbacks.lock().unwrap();
    assert!(received >= 2, "the forged one and the bank's: {received}");
    assert!(
        confirmed >= 1 && confirmed < received,
        "{confirmed} of {received}"
    );
}
