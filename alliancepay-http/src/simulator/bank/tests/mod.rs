//! The bank's rules, one test per concept, through [`Bank::handle`] with requests our own
//! protocol core builds (no sockets).

use super::*;
use crate::model::{CreateOrder, HppOrderId, Kopecks, MerchantRequestId, OperationQuery, Refund};
use crate::protocol::{self, HttpRequest, HttpResponse, Reply};
use crate::session::Session as ClientSession;
use crate::simulator::errors::code_of;

const CODE: &str = "a51e68aa-c6fa-11ed-afa1-0242ac120005";
const MERCHANT: &str = "3e9b7c10-8d2f-4a61-b5c3-0f1e2d3c4b5a";

struct Fixture {
    bank: Bank,
    key: PrivateJwk,
}

fn policy() -> Policy {
    Policy {
        token_ttl_secs: 86_400,
        new_authorization_invalidates_previous: true,
        superseded_code: "b_used_token".into(),
        session_expiration_member: false,
        strict: false,
        retention: Retention {
            order_secs: 86_400,
            max_orders: 100_000,
            session_secs: 600,
            max_sessions: 10_000,
        },
        out_of_order_callbacks: false,
    }
}

fn fixture_with(policy: Policy) -> Fixture {
    let bank = Bank::new(policy, "http://127.0.0.1:1");
    let key = PrivateJwk::generate(&mut os_rng()).unwrap();
    bank.register(MerchantRegistration {
        service_code: CODE.into(),
        merchant_id: MERCHANT.into(),
        public_key: *key.public_jwk(),
    });
    Fixture { bank, key }
}

fn fixture() -> Fixture {
    fixture_with(policy())
}

fn to_request(r: &HttpRequest) -> Request {
    let mut headers: Vec<(&str, &str)> = r.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    headers.push(("content-type", r.content_type));
    Request::post(r.path, &headers, &r.body)
}

fn to_response(r: &Response) -> HttpResponse {
    HttpResponse {
        status: r.status,
        content_type: r.content_type.clone(),
        request_id: r
            .headers
            .iter()
            .find(|(n, _)| n == "x-request_id")
            .map(|(_, v)| v.clone()),
        body: r.body.clone(),
    }
}

fn raw(bank: &Bank, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    bank.handle(&Request::post(path, headers, body.as_bytes()))
        .response
}

fn code(r: &Response) -> (u16, String) {
    (
        r.status,
        code_of(&r.json_body()).unwrap_or("none").to_owned(),
    )
}

impl Fixture {
    fn authorize_raw(&self) -> Response {
        let r = protocol::authorize_request(CODE, "v1", &mut os_rng());
        self.bank.handle(&to_request(&r)).response
    }

    fn authorize(&self) -> ClientSession {
        let response = self.authorize_raw();
        protocol::read_authorize_response(&to_response(&response), &self.key, self.bank.now())
            .unwrap()
    }

    fn call<C: protocol::Endpoint>(&self, call: &C, session: &ClientSession) -> Handled {
        let request =
            protocol::call_request(call, session, "v1", self.bank.now(), &mut os_rng()).unwrap();
        self.bank.handle(&to_request(&request))
    }

    fn done<C: protocol::Endpoint>(&self, call: &C, session: &ClientSession) -> C::Output {
        let handled = self.call(call, session);
        match protocol::read_call_response::<C::Output>(&to_response(&handled.response), &self.key)
        {
            Ok(Reply::Done(out)) => out,
            Ok(_) => panic!(
                "not done: {}",
                String::from_utf8_lossy(&handled.response.body)
            ),
            Err(e) => panic!("{e}: {}", String::from_utf8_lossy(&handled.response.body)),
        }
    }

    fn session_headers<'a>(&self, s: &'a ClientSession) -> Vec<(&'static str, &'a str)> {
        vec![
            ("x-api_version", "v1"),
            ("x-device_id", s.device_id.as_str()),
            ("x-refresh_token", s.refresh_token.expose()),
        ]
    }

    fn order(&self, session: &ClientSession, amount: u64) -> crate::model::Order {
        self.done(
            &CreateOrder::builder()
                .merchant_id(MERCHANT)
                .amount(Kopecks::new(amount))
                .customer("cust-1")
                .success_url("https://shop/ok")
                .fail_url("https://shop/fail")
                .build()
                .unwrap(),
            session,
        )
    }

    fn paid_operation(&self, session: &ClientSession, amount: u64) -> (String, String) {
        let order = self.order(session, amount);
        self.bank
            .pay(&order.hpp_order_id, Some(PaymentOutcome::Success), None)
            .unwrap();
        let data = self.done(
            &crate::model::OrderQuery {
                hpp_order_id: order.hpp_order_id.clone(),
            },
            session,
        );
        (
            order.hpp_order_id.to_string(),
            data.operations[0].operation_id.clone().unwrap(),
        )
    }
}

fn b64_decode(text: &str) -> Vec<u8> {
    let mut out = vec![0u8; text.len()];
    let n = alliancepay_jose::b64::decode(text.as_bytes(), &mut out)
        .unwrap()
        .len();
    out.truncate(n);
    out
}

/// An order of `amount` with a `notificationUrl`, paid: the order and its callback.
fn paid_with_callback(
    f: &Fixture,
    s: &ClientSession,
    amount: u64,
) -> (crate::model::Order, Delivery) {
    let mut request = CreateOrder::builder()
        .merchant_id(MERCHANT)
        .amount(Kopecks::new(amount))
        .customer("c")
        .success_url("https://s/ok")
        .fail_url("https://s/f")
        .build()
        .unwrap();
    request.notification_url = Some("http://127.0.0.1:9/hook".into());
    let order = f.done(&request, s);
    let delivery = f
        .bank
        .pay(&order.hpp_order_id, Some(PaymentOutcome::Success), None)
        .unwrap()
        .unwrap();
    (order, delivery)
}

mod orders;
mod refunds;
mod retention;
mod sessions;
