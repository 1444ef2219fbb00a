//! Orders: create-order, order data, paying, expiry, callbacks and the records' formats.

use super::*;

#[test]
fn create_order_answers_in_bank_format_and_enforces_rules() {
    let f = fixture();
    let s = f.authorize();
    let request = CreateOrder::builder()
        .merchant_id(MERCHANT)
        .amount(Kopecks::new(125_050))
        .customer("cust-1")
        .success_url("https://shop/ok")
        .fail_url("https://shop/fail")
        .build()
        .unwrap();
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
        ..CreateOrder::builder()
            .merchant_id(MERCHANT)
            .amount(Kopecks::new(1))
            .customer("c")
            .success_url("https://s/ok")
            .fail_url("https://s/f")
            .build()
            .unwrap()
    };
    assert_eq!(
        code(&f.call(&other, &s).response),
        (400, "b_user_merchant_request_mismatch".into())
    );
    // null and "" for optional members, straight on the wire.
    let headers = f.session_headers(&s);
    let mut body = serde_json::to_value(
        CreateOrder::builder()
            .merchant_id(MERCHANT)
            .amount(Kopecks::new(1))
            .customer("c")
            .success_url("https://s/ok")
            .fail_url("https://s/f")
            .build()
            .unwrap(),
    )
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
        let mut request = CreateOrder::builder()
            .merchant_id(MERCHANT)
            .amount(Kopecks::new(300))
            .customer("c")
            .success_url("https://s/ok")
            .fail_url("https://s/f")
            .build()
            .unwrap();
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
    let answer = f.done(
        &Refund::builder()
            .merchant_id(MERCHANT)
            .operation_id(op_id)
            .amount(Kopecks::new(2_500))
            .build()
            .unwrap(),
        &s,
    );
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
