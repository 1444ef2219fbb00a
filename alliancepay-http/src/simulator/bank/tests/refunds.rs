//! Refunds: the rules, the date window and the refusal statuses.

use super::*;

#[test]
fn refunds() {
    let f = fixture();
    let s = f.authorize();
    let (hpp_order_id, op_id) = f.paid_operation(&s, 10_000);
    // Partial refund: answered PENDING, settled SUCCESS, order PARTIAL_REFUND.
    let refund = Refund::builder()
        .merchant_id(MERCHANT)
        .operation_id(&op_id)
        .amount(Kopecks::new(2_500))
        .build()
        .unwrap();
    let answer = f.done(&refund, &s);
    assert_eq!(
        (
            answer.kind.as_deref(),
            answer.status.as_deref(),
            answer.coin_amount
        ),
        (Some("REFUND"), Some("PENDING"), Some(Kopecks::new(2_500)))
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
    let mut conflict = refund.clone();
    conflict.coin_amount = Kopecks::new(100);
    assert_eq!(
        code(&f.call(&conflict, &s).response),
        (400, "b_duplicate_field_value".into())
    );
    // More than what is left.
    assert_eq!(
        code(
            &f.call(
                &Refund::builder()
                    .merchant_id(MERCHANT)
                    .operation_id(&op_id)
                    .amount(Kopecks::new(7_501))
                    .build()
                    .unwrap(),
                &s
            )
            .response
        ),
        (200, "b_payment_invalid_refund_amount".into())
    );
    // A failing refund (17 kopecks) does not count against the total.
    let failing = f.done(
        &Refund::builder()
            .merchant_id(MERCHANT)
            .operation_id(&op_id)
            .amount(Kopecks::new(17))
            .build()
            .unwrap(),
        &s,
    );
    let failing = f.done(
        &OperationQuery::ById {
            id: failing.operation_id.unwrap(),
        },
        &s,
    );
    assert_eq!(failing.status.as_deref(), Some("FAIL"));
    // The rest: the order is fully refunded.
    f.done(
        &Refund::builder()
            .merchant_id(MERCHANT)
            .operation_id(&op_id)
            .amount(Kopecks::new(7_500))
            .build()
            .unwrap(),
        &s,
    );
    assert_eq!(f.bank.order_summary(&hpp_order_id).unwrap().1, "CANCELED");
    assert_eq!(
        code(
            &f.call(
                &Refund::builder()
                    .merchant_id(MERCHANT)
                    .operation_id(&op_id)
                    .amount(Kopecks::new(1))
                    .build()
                    .unwrap(),
                &s
            )
            .response
        ),
        (200, "b_payment_invalid_refund_amount".into())
    );
    // Refunding a refund, an unknown operation, a failed purchase.
    assert_eq!(
        code(
            &f.call(
                &Refund::builder()
                    .merchant_id(MERCHANT)
                    .operation_id(&refund_id)
                    .amount(Kopecks::new(1))
                    .build()
                    .unwrap(),
                &s
            )
            .response
        ),
        (200, "b_payment_invalid_refund_status".into())
    );
    assert_eq!(
        code(
            &f.call(
                &Refund::builder()
                    .merchant_id(MERCHANT)
                    .operation_id("nope")
                    .amount(Kopecks::new(1))
                    .build()
                    .unwrap(),
                &s
            )
            .response
        ),
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
        code(
            &f.call(
                &Refund::builder()
                    .merchant_id(MERCHANT)
                    .operation_id(&failed_op)
                    .amount(Kopecks::new(1))
                    .build()
                    .unwrap(),
                &s
            )
            .response
        ),
        (200, "b_payment_invalid_refund_status".into())
    );
    assert_eq!(
        code(
            &f.call(
                &Refund::builder()
                    .merchant_id("m-x")
                    .operation_id(&op_id)
                    .amount(Kopecks::new(1))
                    .build()
                    .unwrap(),
                &s
            )
            .response
        ),
        (400, "b_user_merchant_request_mismatch".into())
    );
}

#[test]
fn refund_date_far_from_the_clock_is_an_operation_error() {
    let f = fixture();
    let s = f.authorize();
    let (_, op_id) = f.paid_operation(&s, 1_000);
    let refund = Refund::builder()
        .merchant_id(MERCHANT)
        .operation_id(&op_id)
        .amount(Kopecks::new(100))
        .build()
        .unwrap();
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
        &Refund::builder()
            .merchant_id(MERCHANT)
            .operation_id(&op_id)
            .amount(Kopecks::new(100))
            .build()
            .unwrap(),
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
