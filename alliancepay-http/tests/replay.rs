//! Byte-exact replay of a recorded session through the protocol core (issue 9): authorize,
//! create an order, read it, refund, the bank rejects the session, re-authorize, resend the
//! refund. The state machine runs with a seeded RNG and fixed clocks; every request it emits
//! must equal, byte for byte, the one recorded against the simulator.
//!
//! The fixture `tests/data/replay-session.json` was recorded by this file:
//! `ALLIANCEPAY_RECORD=1 cargo test -p alliancepay-http --all-features --test replay`.
//! Re-record only when the wire format is meant to change, and say so in the commit.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use alliancepay_http::__private::call::{Action, Call, Params};
use alliancepay_http::__private::crypto::{self, InsecureSeededRng};
use alliancepay_http::__private::protocol::{Endpoint, HttpRequest, HttpResponse, Received};
use alliancepay_http::PrivateJwk;
use alliancepay_http::{
    CreateOrder, Kopecks, MerchantRequestId, Now, Outcome, RenewalPolicy, Session, UtcTime,
};
use alliancepay_http::{OrderQuery, Refund};
use serde_json::{Value, json};

const SEED: u64 = 0x00a1_1a9c_e5e5_5107;
const SERVICE_CODE: &str = "replay-service";
const MERCHANT_ID: &str = "replay-merchant";

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/replay-session.json")
}

/// A request as text: method and path, `content-type`, the other headers in order, a blank
/// line, the body. What is compared byte for byte.
fn request_text(r: &HttpRequest) -> String {
    let mut text = format!("POST {}\ncontent-type: {}\n", r.path, r.content_type);
    for (name, value) in &r.headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&r.body));
    text
}

fn response_json(r: &Received) -> Value {
    json!({
        "status": r.response.status,
        "contentType": r.response.content_type,
        "requestId": r.response.request_id,
        "date": r.date,
        "body": String::from_utf8_lossy(&r.response.body),
    })
}

fn response_from(v: &Value) -> Received {
    let text = |name: &str| v[name].as_str().map(str::to_owned);
    Received {
        response: HttpResponse {
            status: u16::try_from(v["status"].as_u64().unwrap()).unwrap(),
            content_type: text("contentType"),
            request_id: text("requestId"),
            body: text("body").unwrap().into_bytes(),
        },
        date: text("date"),
    }
}

/// Where requests go: the simulator (recording) or the fixture (replaying).
trait Wire {
    fn exchange(&mut self, request: &HttpRequest) -> Received;
    /// Something the recording does at the bank between calls (pay, expire sessions).
    fn bank_side(&mut self, _what: &str, _arg: &str) {}
}

struct Replayer {
    exchanges: Vec<Value>,
    next: usize,
}

impl Wire for Replayer {
    fn exchange(&mut self, request: &HttpRequest) -> Received {
        let recorded = self
            .exchanges
            .get(self.next)
            .unwrap_or_else(|| panic!("request {} was not recorded", self.next));
        let expected = recorded["request"].as_str().unwrap();
        let actual = request_text(request);
        assert_eq!(
            actual.as_bytes(),
            expected.as_bytes(),
            "request {} differs from the recording:\n--- recorded\n{expected}\n--- now\n{actual}",
            self.next
        );
        self.next += 1;
        response_from(&recorded["response"])
    }
}

/// Runs one call to its outcome, the way the blocking driver does (minus lock and files).
fn drive<E: Endpoint>(
    endpoint: &E,
    params: Params<'_>,
    store: &mut Option<Arc<Session>>,
    wire: &mut dyn Wire,
    rng: &mut InsecureSeededRng,
    now: Now,
) -> Outcome<E::Output> {
    let mut call = Call::new(endpoint, params);
    let mut action = call.start(store.clone(), now, rng);
    loop {
        action = match action {
            Action::WaitForAuthorization => call.resume(store.clone(), now, rng),
            Action::Authorize(request) | Action::Send(request) => {
                let received = wire.exchange(&request);
                call.handle_response(received, now, rng)
            }
            Action::Finish(outcome) => return outcome,
        };
        if let Some(session) = call.take_new_session() {
            *store = Some(session);
        }
    }
}

/// The scripted session; returns what was done, in order.
fn script(merchant: &PrivateJwk, wire: &mut dyn Wire) -> Vec<&'static str> {
    let mut rng = InsecureSeededRng::new(SEED);
    let params = Params {
        merchant,
        service_code: SERVICE_CODE,
        api_version: "v1",
        renewal: RenewalPolicy::default(),
    };
    let mut step = 0;
    let mut now = move || {
        step += 1;
        Now {
            wall: UtcTime::from_unix(1_773_131_702),
            monotonic: Duration::from_secs(step),
        }
    };
    let mut store = None;
    let mut log = Vec::new();

    // Every id comes from the seeded RNG, as every ephemeral key and IV does.
    let order = CreateOrder::builder()
        .merchant_request_id(MerchantRequestId::generate_with(&mut rng))
        .merchant_id(MERCHANT_ID)
        .amount(Kopecks::new(125_050))
        .customer("customer-1")
        .success_url("https://shop.example/ok")
        .fail_url("https://shop.example/fail")
        .build()
        .unwrap();
    let created = drive(&order, params, &mut store, wire, &mut rng, now());
    let Outcome::Done(created) = created else {
        panic!("create-order: {created:?}")
    };
    log.push("create-order done");

    wire.bank_side("pay", &created.hpp_order_id);
    let query = OrderQuery {
        hpp_order_id: created.hpp_order_id.clone(),
    };
    let paid = drive(&query, params, &mut store, wire, &mut rng, now());
    let Outcome::Done(paid) = paid else {
        panic!("order data: {paid:?}")
    };
    log.push("order data done");
    let purchase = paid.operations[0].operation_id.clone().unwrap();

    let refund = Refund::builder()
        .merchant_request_id(MerchantRequestId::generate_with(&mut rng))
        .merchant_id(MERCHANT_ID)
        .operation_id(&purchase)
        .amount(Kopecks::new(25_000))
        .build()
        .unwrap();
    let refunded = drive(&refund, params, &mut store, wire, &mut rng, now());
    assert!(matches!(refunded, Outcome::Done(_)), "{refunded:?}");
    log.push("refund done");

    // The bank drops the session: the next refund is rejected, re-authorized and resent.
    wire.bank_side("expire-sessions", "");
    let device_before = store.as_ref().unwrap().device_id.clone();
    let second = Refund::builder()
        .merchant_request_id(MerchantRequestId::generate_with(&mut rng))
        .merchant_id(MERCHANT_ID)
        .operation_id(&purchase)
        .amount(Kopecks::new(5_000))
        .build()
        .unwrap();
    let resent = drive(&second, params, &mut store, wire, &mut rng, now());
    assert!(matches!(resent, Outcome::Done(_)), "{resent:?}");
    assert_ne!(store.as_ref().unwrap().device_id, device_before);
    log.push("refund after re-authorization done");
    log
}

#[test]
fn recorded_session_replays_byte_for_byte() {
    if std::env::var_os("ALLIANCEPAY_RECORD").is_some() {
        record();
    }
    let fixture: Value =
        serde_json::from_slice(&std::fs::read(fixture_path()).expect("the fixture exists"))
            .unwrap();
    let merchant =
        PrivateJwk::from_json(fixture["merchantJwk"].as_str().unwrap().as_bytes()).unwrap();
    let exchanges = fixture["exchanges"].as_array().unwrap().clone();
    let total = exchanges.len();
    let mut replayer = Replayer { exchanges, next: 0 };
    let log = script(&merchant, &mut replayer);
    assert_eq!(
        replayer.next, total,
        "every recorded request was sent again"
    );
    // authorize, create, order data, refund, rejected refund, re-authorize, resent refund.
    assert_eq!(total, 7);
    let paths: Vec<String> = fixture["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["request"]
                .as_str()
                .unwrap()
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        paths,
        [
            "POST /api-gateway/authorize_virtual_device",
            "POST /ecom/execute_request/hpp/v1/create-order",
            "POST /ecom/execute_request/hpp/v1/operations",
            "POST /ecom/execute_request/payments/v3/refund",
            "POST /ecom/execute_request/payments/v3/refund",
            "POST /api-gateway/authorize_virtual_device",
            "POST /ecom/execute_request/payments/v3/refund",
        ]
    );
    assert_eq!(log.len(), 4);
    // The resend is a new request: new device headers and a body encrypted to the new key.
    let text = |i: usize| {
        fixture["exchanges"][i]["request"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let header = |i: usize, name: &str| {
        text(i)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
    };
    assert_ne!(header(4, "x-device_id"), header(6, "x-device_id"));
    assert_ne!(text(4).rsplit('\n').next(), text(6).rsplit('\n').next());
    println!("replayed {total} requests byte for byte");
}

/// Not a test: writes the fixture from a run against the simulator.
#[cfg(feature = "simulator")]
fn record() {
    use alliancepay_http::simulator::{
        MerchantRegistration, PaymentOutcome, Simulator, SimulatorConfig,
    };
    use alliancepay_http::{Transport, UreqTransport};

    struct Recorder {
        sim: Simulator,
        transport: UreqTransport,
        exchanges: Vec<Value>,
    }
    impl Wire for Recorder {
        fn exchange(&mut self, request: &HttpRequest) -> Received {
            let received = self
                .transport
                .send(&self.sim.base_url(), request)
                .expect("the simulator answers");
            self.exchanges.push(json!({
                "request": request_text(request),
                "response": response_json(&received),
            }));
            received
        }
        fn bank_side(&mut self, what: &str, arg: &str) {
            match what {
                "pay" => self.sim.pay(arg, PaymentOutcome::Success).unwrap(),
                "expire-sessions" => self.sim.expire_sessions(),
                other => panic!("{other}"),
            }
        }
    }

    let merchant = PrivateJwk::generate(&mut InsecureSeededRng::new(!SEED)).unwrap();
    let sim = Simulator::start(SimulatorConfig {
        merchants: vec![MerchantRegistration {
            service_code: SERVICE_CODE.into(),
            merchant_id: MERCHANT_ID.into(),
            public_key: *merchant.public_jwk(),
        }],
        ..SimulatorConfig::default()
    })
    .unwrap();
    let mut recorder = Recorder {
        sim,
        transport: UreqTransport::new(Duration::from_secs(10)),
        exchanges: Vec::new(),
    };
    script(&merchant, &mut recorder);
    let fixture = json!({
        "about": "A session recorded against the alliancepay simulator by alliancepay-http/tests/replay.rs (ALLIANCEPAY_RECORD=1); the merchant key is a test key made from a fixed seed.",
        "merchantJwk": crypto::private_jwk_to_string(&merchant).as_str(),
        "exchanges": recorder.exchanges,
    });
    let mut text = serde_json::to_string_pretty(&fixture).unwrap();
    text.push('\n');
    std::fs::write(fixture_path(), text).unwrap();
}

#[cfg(not(feature = "simulator"))]
fn record() {
    panic!("recording needs the simulator: add --features simulator");
}
