//! Bounded memory: orders and sessions are evicted.

use super::*;

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
        hpp_order_id: HppOrderId::new("nope").unwrap(),
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
