//! The bank's rules, one test per concept, through [`Bank::handle`] with requests our own
//! protocol core builds (no sockets).

use super::*;
use crate::model::{CreateOrder, OperationQuery, Refund};
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
            &CreateOrder::purchase(
                MERCHANT,
                amount,
                "cust-1",
                "https://shop/ok",
                "https://shop/fail",
            ),
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
            order.hpp_order_id,
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

#[test]
fn authorization_payload_has_the_bank_members_order_and_header() {
    let f = fixture();
    let response = f.authorize_raw();
    assert_eq!(response.status, 200);
    let token = response.json_body()["jwe"].as_str().unwrap().to_owned();
    let header = String::from_utf8(b64_decode(token.split('.').next().unwrap())).unwrap();
    assert!(
        header.starts_with(r#"{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"kty":"EC","#),
        "{header}"
    );
    assert!(!header.contains("kid") && !header.contains("cty") && !header.contains("zip"));
    let plain = crypto::decrypt_to_vec(&f.key, &token).unwrap();
    let text = std::str::from_utf8(&plain).unwrap();
    let order: Vec<usize> = [
        "\"refreshToken\"",
        "\"authToken\"",
        "\"deviceId\"",
        "\"serverPublic\"",
        "\"tokenExpirationDateTime\"",
        "\"tokenExpiration\"",
    ]
    .iter()
    .map(|m| {
        text.find(m)
            .unwrap_or_else(|| panic!("{m} missing in {text}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    let value: Value = serde_json::from_str(text).unwrap();
    let public: Vec<&String> = value["serverPublic"].as_object().unwrap().keys().collect();
    assert_eq!(public.len(), 4, "{public:?}");
    let utc = value["tokenExpirationDateTime"].as_str().unwrap();
    let kyiv = value["tokenExpiration"].as_str().unwrap();
    assert_eq!(
        UtcTime::parse_bank(utc).unwrap(),
        UtcTime::parse_bank(kyiv).unwrap()
    );
    assert_eq!(UtcTime::parse_bank(utc).unwrap(), f.bank.now().plus(86_400));
    assert_eq!(f.bank.authorizations(), 1);
}

#[test]
fn authorization_refusals() {
    let f = fixture();
    let path = AUTHORIZE_PATH;
    for version in API_VERSIONS {
        assert_eq!(
            raw(
                &f.bank,
                path,
                &[("x-api_version", version)],
                &format!(r#"{{"serviceCode":"{CODE}"}}"#)
            )
            .status,
            200
        );
    }
    let v1 = [("x-api_version", "v1")];
    assert_eq!(
        code(&raw(&f.bank, path, &v1, r#"{"serviceCode":"nope"}"#)),
        (200, "b_virtual_device_not_found".into())
    );
    assert_eq!(
        code(&raw(
            &f.bank,
            path,
            &v1,
            r#"{"serviceCode":"x","clientPublicKey":"k"}"#
        )),
        (400, "b_request_is_not_correct".into())
    );
    assert_eq!(
        code(&raw(&f.bank, path, &v1, r#"{"serviceCode":""}"#)),
        (400, "b_request_is_not_correct".into())
    );
    assert_eq!(
        code(&raw(&f.bank, path, &v1, "{")),
        (400, "b_error_parse_json".into())
    );
    assert_eq!(
        code(&raw(&f.bank, path, &[("x-api_version", "v2")], "{}")),
        (200, "b_invalid_request".into())
    );
    // Without the header authorize is tolerated (bank-api.md §3.1): the body is checked.
    assert_eq!(
        code(&raw(&f.bank, path, &[], "{}")),
        (400, "b_request_is_not_correct".into())
    );
    let mut query = Request::post(
        path,
        &v1,
        format!(r#"{{"serviceCode":"{CODE}"}}"#).as_bytes(),
    );
    query.query = Some(format!("serviceCode={CODE}"));
    assert_eq!(
        code(&f.bank.handle(&query).response),
        (400, "b_request_is_not_correct".into())
    );
    assert_eq!(
        code(&raw(&f.bank, "/api-gateway/other", &v1, "{}")),
        (404, "b_service_unavailable".into())
    );
    f.bank.lock_service_code(CODE);
    assert_eq!(
        code(&f.authorize_raw()),
        (401, "b_auth_token_expired".into())
    );
    assert_eq!(f.bank.authorizations(), 3);
}

#[test]
fn request_id_is_echoed_or_generated() {
    let f = fixture();
    let r = raw(
        &f.bank,
        AUTHORIZE_PATH,
        &[("x-api_version", "v1"), ("x-request_id", "rid-7")],
        r#"{"serviceCode":"nope"}"#,
    );
    assert_eq!(r.json_body()["requestId"], "rid-7");
    assert!(r.headers.contains(&("x-request_id".into(), "rid-7".into())));
    let r = raw(
        &f.bank,
        AUTHORIZE_PATH,
        &[("x-api_version", "v1")],
        r#"{"serviceCode":"nope"}"#,
    );
    assert_eq!(r.json_body()["requestId"].as_str().unwrap().len(), 36);
}

#[test]
fn session_policy() {
    let f = fixture();
    let old = f.authorize();
    let new = f.authorize();
    let query = |s: &ClientSession| {
        code(&raw(
            &f.bank,
            ORDER_DATA_PATH,
            &f.session_headers(s),
            r#"{"hppOrderId":"1773131702417Qm3vTz8_kLp"}"#,
        ))
    };
    assert_eq!(query(&old), (401, "b_used_token".into()));
    assert_eq!(query(&new), (404, "b_hpp_order_not_found".into()));
    let mut wrong = f.session_headers(&new);
    wrong[2].1 = "0b6f7d1e-3c2a-4e59-8f4d-9a1b2c3d4e5f";
    assert_eq!(
        code(&raw(&f.bank, ORDER_DATA_PATH, &wrong, "{}")),
        (401, "b_used_token".into())
    );
    wrong[1].1 = "e4d2c1b0-9a8f-47e6-b5d4-c3b2a1908f7e";
    assert_eq!(
        code(&raw(&f.bank, ORDER_DATA_PATH, &wrong, "{}")),
        (401, "b_unknown_device".into())
    );
    assert_eq!(
        code(&raw(
            &f.bank,
            ORDER_DATA_PATH,
            &[("x-api_version", "V1")],
            "{}"
        )),
        (200, "b_refresh_token_absent".into())
    );
    // The simulated clock is the wall clock plus an offset, so leave the wall clock some
    // seconds to tick between authorizing and querying.
    f.bank.advance_clock(86_400 - 30);
    assert_eq!(query(&new), (404, "b_hpp_order_not_found".into()));
    f.bank.advance_clock(30);
    assert_eq!(query(&new), (401, "b_expired_token".into()));
    let fresh = f.authorize();
    f.bank.expire_sessions();
    assert_eq!(query(&fresh), (401, "b_expired_token".into()));
    let fresh = f.authorize();
    f.bank.forget_sessions();
    assert_eq!(query(&fresh), (401, "b_session_doesnt_exist".into()));
    let fresh = f.authorize();
    f.bank.lock_service_code(CODE);
    assert_eq!(query(&fresh), (401, "b_auth_token_expired".into()));
}

#[test]
fn session_expiration_member_is_optional() {
    let f = fixture_with(Policy {
        session_expiration_member: true,
        ..policy()
    });
    let token = f.authorize_raw().json_body()["jwe"]
        .as_str()
        .unwrap()
        .to_owned();
    let payload: Value =
        serde_json::from_slice(&crypto::decrypt_to_vec(&f.key, &token).unwrap()).unwrap();
    assert_eq!(payload["sessionExpiration"], payload["tokenExpiration"]);
    let plain = fixture().authorize_raw().json_body()["jwe"]
        .as_str()
        .unwrap()
        .to_owned();
    let payload: Value =
        serde_json::from_slice(&crypto::decrypt_to_vec(&f.key, &plain).unwrap_or_default())
            .unwrap_or_default();
    assert!(payload.get("sessionExpiration").is_none());
}

#[test]
fn superseding_is_configurable() {
    let f = fixture_with(Policy {
        new_authorization_invalidates_previous: false,
        ..policy()
    });
    let (a, b) = (f.authorize(), f.authorize());
    for s in [&a, &b] {
        assert_eq!(
            f.order(s, 100).order_status,
            crate::model::OrderStatus::Pending
        );
    }
    let f = fixture_with(Policy {
        superseded_code: "b_previous_auth_token_expired".into(),
        ..policy()
    });
    let old = f.authorize();
    f.authorize();
    assert_eq!(
        code(&raw(
            &f.bank,
            ORDER_DATA_PATH,
            &f.session_headers(&old),
            "{}"
        )),
        (401, "b_previous_auth_token_expired".into())
    );
}

#[test]
fn create_order_answers_in_bank_format_and_enforces_rules() {
    let f = fixture();
    let s = f.authorize();
    let request = CreateOrder::purchase(
        MERCHANT,
        125_050,
        "cust-1",
        "https://shop/ok",
        "https://shop/fail",
    );
    let response = f.call(&request, &s).response;
    assert_eq!(response.status, 200);
    let order = response.json_body();
    let id = order["hppOrderId"].as_str().unwrap();
    assert!(
        id.len() == 24 && id[..13].bytes().all(|b| b.is_ascii_digit()),
        "{id}"
    );
    assert_eq!(order["orderStatus"], "PENDING");
    assert_eq!(
        order["merchantRequestId"].as_str(),
        Some(request.merchant_request_id.as_str())
    );
    assert!(order["redirectUrl"].as_str().unwrap().ends_with(id));
    let created = UtcTime::parse_bank(order["createDate"].as_str().unwrap()).unwrap();
    let expires = UtcTime::parse_bank(order["expiredOrderDate"].as_str().unwrap()).unwrap();
    // No expirationTimeMinutes: 15 minutes, as every docs example shows (bank-api.md §3.2).
    assert_eq!(expires.since(created), 15 * 60);
    assert!(order.get("operations").is_none());
    // The same merchantRequestId again.
    assert_eq!(
        code(&f.call(&request, &s).response),
        (400, "b_duplicate_field_value".into())
    );
    // Another merchant's id.
    let other = CreateOrder {
        merchant_id: "someone-else".into(),
        ..CreateOrder::purchase(MERCHANT, 1, "c", "https://s/ok", "https://s/f")
    };
    assert_eq!(
        code(&f.call(&other, &s).response),
        (400, "b_user_merchant_request_mismatch".into())
    );
    // null and "" for optional members, straight on the wire.
    let headers = f.session_headers(&s);
    let mut body = serde_json::to_value(CreateOrder::purchase(
        MERCHANT,
        1,
        "c",
        "https://s/ok",
        "https://s/f",
    ))
    .unwrap();
    body["priorityBankCode"] = Value::Null;
    let r = raw(&f.bank, CREATE_ORDER_PATH, &headers, &body.to_string());
    assert_eq!(code(&r), (400, "b_request_is_not_correct".into()));
    assert_eq!(r.json_body()["msgAttrs"]["field"], "priorityBankCode");
    body["priorityBankCode"] = json!("");
    assert_eq!(
        code(&raw(
            &f.bank,
            CREATE_ORDER_PATH,
            &headers,
            &body.to_string()
        )),
        (400, "b_request_is_not_correct".into())
    );
    assert_eq!(
        code(&raw(&f.bank, CREATE_ORDER_PATH, &headers, "[1]")),
        (400, "b_request_is_not_correct".into())
    );
    assert_eq!(
        code(&raw(&f.bank, CREATE_ORDER_PATH, &headers, "{\"a\":")),
        (400, "b_error_parse_json".into())
    );
}

#[test]
fn order_data_pay_and_expiry() {
    let f = fixture();
    let s = f.authorize();
    let order = f.order(&s, 125_050);
    let query = crate::model::OrderQuery {
        hpp_order_id: order.hpp_order_id.clone(),
    };
    let data = f.call(&query, &s).response.json_body();
    assert_eq!(data["operations"], json!([]));
    assert_eq!(
        f.bank
            .pay(&order.hpp_order_id, Some(PaymentOutcome::Success), None),
        Ok(None)
    );
    let data = f.call(&query, &s).response.json_body();
    assert_eq!(data["orderStatus"], "SUCCESS");
    let op = &data["operations"][0];
    assert_eq!(
        (
            op["type"].as_str(),
            op["status"].as_str(),
            op["transactionType"].as_u64()
        ),
        (Some("PURCHASE"), Some("SUCCESS"), Some(35))
    );
    assert_eq!(
        (op["rrn"].as_str(), op["coinAmount"].as_u64()),
        (Some("-1"), Some(125_050))
    );
    assert!(
        f.bank
            .pay(&order.hpp_order_id, Some(PaymentOutcome::Fail), None)
            .unwrap_err()
            .to_string()
            .contains("not PENDING")
    );
    assert_eq!(
        f.bank.pay("nope", None, None),
        Err(crate::simulator::SimulatorError::UnknownOrder {
            hpp_order_id: "nope".into()
        })
    );
    // Amount 5 fails by the bank's test table.
    let five = f.order(&s, 5);
    f.bank.pay(&five.hpp_order_id, None, None).unwrap();
    assert_eq!(f.bank.order_summary(&five.hpp_order_id).unwrap().1, "FAIL");
    // A pending order expires by the simulated clock; a paid one stays readable.
    let pending = f.order(&s, 100);
    f.bank.advance_clock(86_400);
    let s = f.authorize();
    let r = f
        .call(
            &crate::model::OrderQuery {
                hpp_order_id: pending.hpp_order_id.clone(),
            },
            &s,
        )
        .response;
    assert_eq!(code(&r), (500, "b_hpp_order_expired".into()));
    assert!(matches!(
        f.bank.pay(&pending.hpp_order_id, None, None),
        Err(crate::simulator::SimulatorError::Expired { .. })
    ));
    assert_eq!(f.call(&query, &s).response.status, 200);
    // Another merchant cannot read it.
    let other = PrivateJwk::generate(&mut os_rng()).unwrap();
    f.bank.register(MerchantRegistration {
        service_code: "other".into(),
        merchant_id: "m-2".into(),
        public_key: *other.public_jwk(),
    });
    let r = f
        .bank
        .handle(&to_request(&protocol::authorize_request(
            "other",
            "v1",
            &mut os_rng(),
        )))
        .response;
    let s2 = protocol::read_authorize_response(&to_response(&r), &other, f.bank.now()).unwrap();
    assert_eq!(
        code(&f.call(&query, &s2).response),
        (404, "b_hpp_order_not_found".into())
    );
}

#[test]
fn callbacks_are_plain_or_encrypted_with_one_operation_object() {
    let f = fixture();
    let s = f.authorize();
    for encrypt in [false, true] {
        let mut request = CreateOrder::purchase(MERCHANT, 300, "c", "https://s/ok", "https://s/f");
        request.notification_url = Some("http://127.0.0.1:9/hook".into());
        request.notification_encryption = Some(encrypt);
        let order = f.done(&request, &s);
        let delivery = f
            .bank
            .pay(&order.hpp_order_id, Some(PaymentOutcome::Success), None)
            .unwrap()
            .unwrap();
        assert_eq!(delivery.url, "http://127.0.0.1:9/hook");
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        let doc: Value = if encrypt {
            serde_json::from_slice(
                &crypto::decrypt_to_vec(&f.key, body["jwe"].as_str().unwrap()).unwrap(),
            )
            .unwrap()
        } else {
            body
        };
        assert_eq!(
            doc["hppOrderId"].as_str(),
            Some(order.hpp_order_id.as_str())
        );
        assert_eq!(doc["orderStatus"], "SUCCESS");
        assert!(doc["operations"].is_object(), "{doc}");
        assert!(matches!(
            crate::callback::parse_callback(&delivery.body, &f.key),
            Ok(crate::Callback::Order(_))
        ));
    }
}

#[test]
fn refunds() {
    let f = fixture();
    let s = f.authorize();
    let (hpp_order_id, op_id) = f.paid_operation(&s, 10_000);
    // Partial refund: answered PENDING, settled SUCCESS, order PARTIAL_REFUND.
    let refund = Refund::new(MERCHANT, &op_id, 2_500);
    let answer = f.done(&refund, &s);
    assert_eq!(
        (
            answer.kind.as_deref(),
            answer.status.as_deref(),
            answer.coin_amount
        ),
        (Some("REFUND"), Some("PENDING"), Some(2_500))
    );
    assert_eq!(answer.other["transactionType"], 76);
    assert_eq!(
        answer.other["originalOperationId"].as_str(),
        Some(op_id.as_str())
    );
    let refund_id = answer.operation_id.clone().unwrap();
    let looked_up = f.done(
        &OperationQuery::ById {
            id: refund_id.clone(),
        },
        &s,
    );
    assert_eq!(looked_up.status.as_deref(), Some("SUCCESS"));
    let by_request = f.done(
        &OperationQuery::ByMerchantRequestId {
            merchant_request_id: refund.merchant_request_id.clone(),
        },
        &s,
    );
    assert_eq!(by_request.operation_id.as_deref(), Some(refund_id.as_str()));
    assert_eq!(
        f.bank.order_summary(&hpp_order_id).unwrap().1,
        "PARTIAL_REFUND"
    );
    // The same refund again (fresh date) is the same operation, not a second refund.
    f.bank.advance_clock(5);
    let again = f.done(&refund, &s);
    assert_eq!(again.operation_id.as_deref(), Some(refund_id.as_str()));
    // The same merchantRequestId with another body.
    let conflict = Refund {
        coin_amount: 100,
        ..refund.clone()
    };
    assert_eq!(
        code(&f.call(&conflict, &s).response),
        (400, "b_duplicate_field_value".into())
    );
    // More than what is left.
    assert_eq!(
        code(&f.call(&Refund::new(MERCHANT, &op_id, 7_501), &s).response),
        (200, "b_payment_invalid_refund_amount".into())
    );
    // A failing refund (17 kopecks) does not count against the total.
    let failing = f.done(&Refund::new(MERCHANT, &op_id, 17), &s);
    let failing = f.done(
        &OperationQuery::ById {
            id: failing.operation_id.unwrap(),
        },
        &s,
    );
    assert_eq!(failing.status.as_deref(), Some("FAIL"));
    // The rest: the order is fully refunded.
    f.done(&Refund::new(MERCHANT, &op_id, 7_500), &s);
    assert_eq!(f.bank.order_summary(&hpp_order_id).unwrap().1, "CANCELED");
    assert_eq!(
        code(&f.call(&Refund::new(MERCHANT, &op_id, 1), &s).response),
        (200, "b_payment_invalid_refund_amount".into())
    );
    // Refunding a refund, an unknown operation, a failed purchase.
    assert_eq!(
        code(&f.call(&Refund::new(MERCHANT, &refund_id, 1), &s).response),
        (200, "b_payment_invalid_refund_status".into())
    );
    assert_eq!(
        code(&f.call(&Refund::new(MERCHANT, "nope", 1), &s).response),
        (200, "b_operation_not_found".into())
    );
    let five = f.order(&s, 5);
    f.bank.pay(&five.hpp_order_id, None, None).unwrap();
    let five = f.done(
        &crate::model::OrderQuery {
            hpp_order_id: five.hpp_order_id,
        },
        &s,
    );
    let failed_op = five.operations[0].operation_id.clone().unwrap();
    assert_eq!(
        code(&f.call(&Refund::new(MERCHANT, &failed_op, 1), &s).response),
        (200, "b_payment_invalid_refund_status".into())
    );
    assert_eq!(
        code(&f.call(&Refund::new("m-x", &op_id, 1), &s).response),
        (400, "b_user_merchant_request_mismatch".into())
    );
}

#[test]
fn refund_date_far_from_the_clock_is_an_operation_error() {
    let f = fixture();
    let s = f.authorize();
    let (_, op_id) = f.paid_operation(&s, 1_000);
    let refund = Refund::new(MERCHANT, &op_id, 100);
    // Built 11 minutes in the past.
    let request =
        protocol::call_request(&refund, &s, "v1", f.bank.now().plus(-660), &mut os_rng()).unwrap();
    let response = f.bank.handle(&to_request(&request)).response;
    let Ok(Reply::Done(op)) =
        protocol::read_call_response::<crate::Operation>(&to_response(&response), &f.key)
    else {
        panic!()
    };
    assert_eq!(op.status.as_deref(), Some("FAIL"));
    assert_eq!(
        op.other["errorDetails"],
        "b_security_time_in_request_not_correct"
    );
    // 9 minutes is fine.
    let request = protocol::call_request(
        &Refund::new(MERCHANT, &op_id, 100),
        &s,
        "v1",
        f.bank.now().plus(-540),
        &mut os_rng(),
    )
    .unwrap();
    let response = f.bank.handle(&to_request(&request)).response;
    let Ok(Reply::Done(op)) =
        protocol::read_call_response::<crate::Operation>(&to_response(&response), &f.key)
    else {
        panic!()
    };
    assert_eq!(op.status.as_deref(), Some("PENDING"));
}

#[test]
fn encrypted_bodies_must_be_for_the_current_session_key() {
    let f = fixture();
    let old = f.authorize();
    let (_, op_id) = f.paid_operation(&old, 1_000);
    let new = f.authorize();
    // Encrypted to the old session's key, sent with the new session's headers.
    let stale = protocol::call_request(
        &Refund::new(MERCHANT, &op_id, 1),
        &old,
        "v1",
        f.bank.now(),
        &mut os_rng(),
    )
    .unwrap();
    let mut request = to_request(&stale);
    request
        .headers
        .retain(|(n, _)| n != "x-device_id" && n != "x-refresh_token");
    request
        .headers
        .push(("x-device_id".into(), new.device_id.clone()));
    request.headers.push((
        "x-refresh_token".into(),
        new.refresh_token.expose().to_owned(),
    ));
    assert_eq!(
        code(&f.bank.handle(&request).response),
        (200, "b_encryptor_failed_decrypt_message".into())
    );
    // Plain JSON where a JWE belongs.
    let headers = f.session_headers(&new);
    assert_eq!(
        code(&raw(
            &f.bank,
            REFUND_PATH,
            &headers,
            r#"{"merchantRequestId":"x"}"#
        )),
        (200, "b_encryptor_failed_decrypt_message".into())
    );
    assert_eq!(
        code(&raw(&f.bank, OPERATION_BY_ID_PATH, &headers, "a.b.c.d.e")),
        (200, "b_encryptor_failed_decrypt_message".into())
    );
    // Lookups of unknown operations.
    assert_eq!(
        code(
            &f.call(&OperationQuery::ById { id: "nope".into() }, &new)
                .response
        ),
        (200, "b_operation_not_found".into())
    );
    let by_request = OperationQuery::ByMerchantRequestId {
        merchant_request_id: "nope".into(),
    };
    assert_eq!(
        code(&f.call(&by_request, &new).response),
        (200, "b_operation_not_found".into())
    );
}

/// Issue 13: the bank's WordPress plugin authorizes without `x-api_version` and the live
/// bank gives it a session (bank-api.md §3.1); strict mode refuses, a wrong value is
/// refused either way, and other endpoints still need the header.
#[test]
fn authorize_without_api_version_is_tolerated_unless_strict() {
    let body = format!(r#"{{"serviceCode":"{CODE}"}}"#);
    let json = [("content-type", "application/json")];
    let f = fixture();
    let r = raw(&f.bank, AUTHORIZE_PATH, &json, &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let session =
        protocol::read_authorize_response(&to_response(&r), &f.key, f.bank.now()).unwrap();
    assert_eq!(
        code(&raw(
            &f.bank,
            AUTHORIZE_PATH,
            &[("x-api_version", "2")],
            &body
        )),
        (200, "b_invalid_request".into())
    );
    let headers = [
        ("x-device_id", session.device_id.as_str()),
        ("x-refresh_token", session.refresh_token.expose()),
    ];
    assert_eq!(
        code(&raw(
            &f.bank,
            ORDER_DATA_PATH,
            &headers,
            r#"{"hppOrderId":"x"}"#
        )),
        (200, "b_invalid_request".into())
    );
    let strict = fixture_with(Policy {
        strict: true,
        ..policy()
    });
    assert_eq!(
        code(&raw(&strict.bank, AUTHORIZE_PATH, &json, &body)),
        (200, "b_invalid_request".into())
    );
    // Strict mode also wants the documented Content-Type.
    assert_eq!(
        code(&raw(
            &strict.bank,
            AUTHORIZE_PATH,
            &[("x-api_version", "v1")],
            &body
        )),
        (200, "b_invalid_request".into())
    );
    strict.authorize();
}

/// An order of `amount` with a `notificationUrl`, paid: the order and its callback.
fn paid_with_callback(
    f: &Fixture,
    s: &ClientSession,
    amount: u64,
) -> (crate::model::Order, Delivery) {
    let mut request = CreateOrder::purchase(MERCHANT, amount, "c", "https://s/ok", "https://s/f");
    request.notification_url = Some("http://127.0.0.1:9/hook".into());
    let order = f.done(&request, s);
    let delivery = f
        .bank
        .pay(&order.hpp_order_id, Some(PaymentOutcome::Success), None)
        .unwrap()
        .unwrap();
    (order, delivery)
}

/// Issue 13: records answer the way the docs show (bank-api.md §4.1, §3.5, §3.6): callback
/// dates dotted local time with milliseconds, `MasterCard`, product `PURCHASE`, the refund
/// answer's `createDateTime`, and every documented operation member present.
#[test]
fn records_have_the_documented_formats_and_members() {
    let f = fixture();
    let s = f.authorize();
    let (order, delivery) = paid_with_callback(&f, &s, 10_000);
    assert!(delivery.earlier.is_none());
    let callback: Value = serde_json::from_slice(&delivery.body).unwrap();
    let dotted = |v: &Value| {
        let t = v.as_str().unwrap_or_default();
        // 2024.10.10 14:08:39.453
        t.len() == 23
            && t.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'.',
                10 => b == b' ',
                13 | 16 => b == b':',
                19 => b == b'.',
                _ => b.is_ascii_digit(),
            })
    };
    for member in ["createDate", "expiredOrderDate"] {
        assert!(dotted(&callback[member]), "{member}: {}", callback[member]);
    }
    let purchase = &callback["operations"];
    assert_eq!(purchase["paymentSystem"], "MasterCard");
    assert_eq!(purchase["productType"], "PURCHASE");
    assert!(dotted(&purchase["creationDateTime"]), "{purchase}");
    for member in OPERATION_MEMBERS {
        assert!(purchase.get(member).is_some(), "purchase lacks {member}");
    }
    // Order data keeps the order-date form of create-order.
    let data = f.call(
        &crate::model::OrderQuery {
            hpp_order_id: order.hpp_order_id.clone(),
        },
        &s,
    );
    let data = data.response.json_body();
    assert!(!dotted(&data["createDate"]), "{}", data["createDate"]);
    let op_id = purchase["operationId"].as_str().unwrap();
    let answer = f.done(&Refund::new(MERCHANT, op_id, 2_500), &s);
    assert!(
        answer.other.contains_key("createDateTime"),
        "{:?}",
        answer.other
    );
    assert!(!answer.other.contains_key("creationDateTime"));
    assert!(dotted(&answer.other["createDateTime"]));
    assert_eq!(answer.other["productType"], "PURCHASE");
    for member in OPERATION_MEMBERS {
        let present = match member {
            "type" => answer.kind.is_some(),
            "status" => answer.status.is_some(),
            "operationId" => answer.operation_id.is_some(),
            "merchantRequestId" => answer.merchant_request_id.is_some(),
            "coinAmount" => answer.coin_amount.is_some(),
            _ => answer.other.contains_key(member),
        };
        assert!(present, "refund lacks {member}");
    }
}

/// Issue 13: the three codes the bank's table lists as HTTP 200.
#[test]
fn refund_refusals_have_the_tables_statuses() {
    for (code, status) in [
        ("b_payment_invalid_refund_status", 200),
        ("b_payment_invalid_refund_amount", 200),
        ("b_operation_not_found", 200),
        ("payment_operation_not_found", 404),
        ("b_hpp_order_not_found", 404),
    ] {
        assert_eq!(errors::status_and_text(code).0, status, "{code}");
    }
}

/// Out-of-order delivery: the final callback, then an earlier (PENDING) state.
#[test]
fn out_of_order_mode_adds_an_earlier_state() {
    let f = fixture_with(Policy {
        out_of_order_callbacks: true,
        ..policy()
    });
    let s = f.authorize();
    let (_, delivery) = paid_with_callback(&f, &s, 300);
    let last: Value = serde_json::from_slice(&delivery.earlier.unwrap()).unwrap();
    let first: Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(first["orderStatus"], "SUCCESS");
    assert_eq!(last["orderStatus"], "PENDING");
    assert_eq!(last["operations"]["status"], "PENDING");
    assert_eq!(
        last["operations"]["operationId"],
        first["operations"]["operationId"]
    );
}

/// Memory stays bounded: orders beyond the cap or past their retention are forgotten with
/// their operations and ids; superseded sessions past their retention too.
#[test]
fn orders_and_sessions_are_evicted() {
    let f = fixture_with(Policy {
        retention: Retention {
            order_secs: 60,
            max_orders: 3,
            session_secs: 60,
            max_sessions: 100,
        },
        ..policy()
    });
    let s = f.authorize();
    let (first_order, first_op) = f.paid_operation(&s, 100);
    for _ in 0..3 {
        f.order(&s, 100);
    }
    assert_eq!(f.bank.sizes().1, 3);
    assert_eq!(f.bank.evicted().orders, 1);
    assert!(f.bank.order_summary(&first_order).is_none());
    assert_eq!(
        f.bank.sizes().2,
        0,
        "the paid order's operation went with it"
    );
    assert_eq!(
        code(&f.call(&OperationQuery::ById { id: first_op }, &s).response),
        (200, "b_operation_not_found".into())
    );
    // 15 min lifetime + 60 s retention later, the next order evicts all the others.
    f.bank.advance_clock(15 * 60 + 61);
    let s = f.authorize();
    f.order(&s, 100);
    assert_eq!(f.bank.sizes().1, 1);
    // The first session was superseded just now: kept for its retention, answering
    // `b_used_token`; a minute later the next authorization forgets it.
    assert_eq!((f.bank.sizes().0, f.bank.evicted().sessions), (2, 0));
    f.bank.advance_clock(61);
    f.authorize();
    assert_eq!((f.bank.sizes().0, f.bank.evicted().sessions), (2, 1));
}

/// Over the session cap, a superseded session is forgotten before a live one, however old.
#[test]
fn the_session_cap_evicts_ended_sessions_first() {
    let f = fixture_with(Policy {
        retention: Retention {
            order_secs: 60,
            max_orders: 100,
            session_secs: 600,
            max_sessions: 2,
        },
        ..policy()
    });
    let other = PrivateJwk::generate(&mut os_rng()).unwrap();
    f.bank.register(MerchantRegistration {
        service_code: "other".into(),
        merchant_id: "m-2".into(),
        public_key: *other.public_jwk(),
    });
    let r = f
        .bank
        .handle(&to_request(&protocol::authorize_request(
            "other",
            "v1",
            &mut os_rng(),
        )))
        .response;
    let oldest_live =
        protocol::read_authorize_response(&to_response(&r), &other, f.bank.now()).unwrap();
    let superseded = f.authorize();
    let live = f.authorize();
    assert_eq!((f.bank.sizes().0, f.bank.evicted().sessions), (2, 1));
    let query = crate::model::OrderQuery {
        hpp_order_id: "nope".into(),
    };
    for s in [&oldest_live, &live] {
        assert_eq!(
            code(&f.call(&query, s).response),
            (404, "b_hpp_order_not_found".into())
        );
    }
    assert_ne!(
        code(&f.call(&query, &superseded).response).1,
        "b_hpp_order_not_found"
    );
}
