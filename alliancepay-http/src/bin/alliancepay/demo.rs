//! `alliancepay demo`: the whole flow against an embedded simulator, narrated.

use std::time::Duration;

use alliancepay_http::__private::crypto;
use alliancepay_http::Refund;
use alliancepay_http::simulator::{
    CallbackSink, MerchantRegistration, PaymentOutcome, Simulator, SimulatorConfig,
};
use alliancepay_http::{Callback, Client, ClientConfig, CreateOrder, Kopecks};
use alliancepay_jose::PrivateJwk;
use serde_json::{Value, json};

use crate::online::{order_text, session_summary};
use crate::output::Output;

/// The steps taken, for `--json`.
struct Narration<'o> {
    out: &'o Output,
    steps: Vec<Value>,
}

impl Narration<'_> {
    fn step(&mut self, title: &str, text: &str, value: Value) {
        let n = self.steps.len() + 1;
        self.out.step(&format!("\n{n}. {title}"));
        for line in text.lines() {
            self.out.step(&format!("   {line}"));
        }
        self.steps
            .push(json!({"step": n, "title": title, "result": value}));
    }
}

pub fn run(out: &Output) -> Result<(), String> {
    let mut n = Narration {
        out,
        steps: Vec::new(),
    };
    let fail = |e: alliancepay_http::Error| e.to_string();

    let key = PrivateJwk::generate(&mut rand_core::UnwrapErr(getrandom::SysRng))
        .map_err(|e| e.to_string())?;
    let public = crypto::public_jwk_to_string(key.public_jwk());
    let thumbprint = key.public_jwk().thumbprint().to_base64url();
    n.step(
        "The merchant makes its P-384 key pair and registers the public half with the bank",
        &format!("public JWK: {public}\nthumbprint: {thumbprint}"),
        json!({"publicJwk": serde_json::from_str::<Value>(&public).unwrap_or_default(), "thumbprint": thumbprint.as_str()}),
    );

    let (service_code, merchant_id) = (crypto::new_uuid(), crypto::new_uuid());
    let simulator = Simulator::start(SimulatorConfig {
        merchants: vec![MerchantRegistration {
            service_code: service_code.clone(),
            merchant_id: merchant_id.clone(),
            public_key: *key.public_jwk(),
        }],
        callback_retry_scale: 0.01,
        ..SimulatorConfig::default()
    })
    .map_err(|e| format!("cannot start the simulator: {e}"))?;
    n.step(
        "A local bank simulator starts on a free loopback port",
        &format!("base URL: {}\nservice code: {service_code}\nmerchant id: {merchant_id}", simulator.base_url()),
        json!({"baseUrl": simulator.base_url(), "serviceCode": service_code, "merchantId": merchant_id}),
    );

    let client =
        Client::new(ClientConfig::new(&simulator.base_url(), &service_code), key).map_err(fail)?;
    let session = client.authorize().map_err(fail)?;
    let (text, value) = session_summary(&session, false);
    n.step(
        "Device authorization: POST {serviceCode}; the bank answers a JWE that only our key opens",
        &format!("decrypted session (ECDH-ES+A256KW / A256GCM):\n{text}"),
        value,
    );

    let sink =
        CallbackSink::start().map_err(|e| format!("cannot start the callback endpoint: {e}"))?;
    let notification_url = sink.url().to_owned();
    let order = CreateOrder::builder()
        .merchant_id(&merchant_id)
        .amount(Kopecks::new(125_050))
        .customer("customer-48213")
        .success_url("https://shop.example/pay/ok")
        .fail_url("https://shop.example/pay/fail")
        .notification_url(&notification_url)
        .notification_encryption(true)
        .purpose("Order 48213")
        .build()
        .map_err(fail)?;
    let created = client.create_order(&order).into_result().map_err(fail)?;
    n.step(
        "Create an HPP order of 1250.50 UAH, with encrypted callbacks",
        &format!(
            "merchantRequestId {} (stored before sending)\n{}",
            order.merchant_request_id,
            order_text(&created)
        ),
        serde_json::to_value(&created).unwrap_or_default(),
    );

    simulator
        .pay(&created.hpp_order_id, PaymentOutcome::Success)
        .map_err(|e| e.to_string())?;
    n.step(
        "The customer pays on the bank's page (the simulator plays the customer)",
        "payment approved",
        json!({"hppOrderId": created.hpp_order_id, "outcome": "SUCCESS"}),
    );

    let body = sink
        .next(Duration::from_secs(15))
        .ok_or("no callback arrived within 15 s")?;
    let callback = client.parse_callback(&body).map_err(fail)?;
    let (text, value) = match &callback {
        Callback::Order(o) => (order_text(o), serde_json::to_value(o).unwrap_or_default()),
        Callback::Operation(op) => (
            format!("operation {:?}", op.operation_id),
            serde_json::to_value(op).unwrap_or_default(),
        ),
    };
    n.step(
        "The bank POSTs the callback to notificationUrl; we decrypt it (a hint, not proof)",
        &format!(
            "{} bytes received at {notification_url}\n{text}",
            body.len()
        ),
        value,
    );

    let status = client.order_data(&created.hpp_order_id).map_err(fail)?;
    n.step(
        "Read the order back through the API before trusting the callback",
        &order_text(&status),
        serde_json::to_value(&status).unwrap_or_default(),
    );
    let purchase = status
        .operations
        .iter()
        .find(|op| {
            op.kind.as_deref() == Some("PURCHASE") && op.status.as_deref() == Some("SUCCESS")
        })
        .and_then(|op| op.operation_id.clone())
        .ok_or("the paid order has no successful purchase operation")?;

    let refund = Refund::builder()
        .merchant_id(&merchant_id)
        .operation_id(purchase)
        .amount(Kopecks::new(25_000))
        .build()
        .map_err(fail)?;
    let refunded = client.refund(&refund).into_result().map_err(fail)?;
    n.step(
        "Refund 250.00 UAH: the body is a JWE to the session's serverPublic, the answer a JWE to us",
        &format!(
            "refund {} {} ({} kopecks)",
            refunded.operation_id.as_deref().unwrap_or("?"),
            refunded.status.as_deref().unwrap_or("?"),
            refunded.coin_amount.unwrap_or_default().get()
        ),
        serde_json::to_value(&refunded).unwrap_or_default(),
    );

    let before = (client.authorizations(), session.device_id.clone());
    simulator.expire_sessions();
    let after_expiry = client.order_data(&created.hpp_order_id).map_err(fail)?;
    let renewed = client.session().map_err(fail)?;
    n.step(
        "The bank expires the session; the next call meets b_expired_token and recovers by itself",
        &format!(
            "authorizations: {} before, {} after (one re-authorization, one retry)\ndevice {} replaced by {}\n{}",
            before.0,
            client.authorizations(),
            before.1,
            renewed.device_id,
            order_text(&after_expiry)
        ),
        json!({"authorizationsBefore": before.0, "authorizationsAfter": client.authorizations(), "oldDeviceId": before.1, "newDeviceId": renewed.device_id}),
    );

    if out.is_json() {
        println!("{}", json!({"demo": "ok", "steps": n.steps}));
    } else {
        println!(
            "\nDemo complete: {} steps against {}.",
            n.steps.len(),
            simulator.base_url()
        );
    }
    Ok(())
}
