//! End-to-end: `alliancepay_http::Client` against the local bank simulator over real loopback
//! HTTP, one scenario per behaviour of the session flow (issue 3, item 10).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use alliancepay_http::__private::{crypto, protocol};
use alliancepay_http::simulator::{
    CallbackSink, Fault, FaultKind, MerchantRegistration, PaymentOutcome, Simulator,
    SimulatorConfig,
};
use alliancepay_http::{
    Callback, ClientConfig, CreateOrder, Error, HppOrderId, Kopecks, TransportError, UtcTime,
};
use alliancepay_http::{OrderStatus, Refund};
use alliancepay_jose::PrivateJwk;

#[path = "http_e2e/driver.rs"]
mod driver;
use driver::{Client, both_drivers};

#[path = "http_e2e/clock.rs"]
mod clock;
#[path = "http_e2e/fault_matrix.rs"]
mod fault_matrix;

struct Bank {
    sim: Simulator,
    key: PrivateJwk,
    service_code: String,
    merchant_id: String,
}

fn bank_with(config: SimulatorConfig) -> Bank {
    let key = PrivateJwk::generate(&mut rand_core::UnwrapErr(getrandom::SysRng)).unwrap();
    let (service_code, merchant_id) = (crypto::new_uuid(), crypto::new_uuid());
    let mut config = config;
    config.merchants.push(MerchantRegistration {
        service_code: service_code.clone(),
        merchant_id: merchant_id.clone(),
        public_key: *key.public_jwk(),
    });
    config.callback_retry_scale = 0.001;
    Bank {
        sim: Simulator::start(config).unwrap(),
        key,
        service_code,
        merchant_id,
    }
}

fn bank() -> Bank {
    bank_with(SimulatorConfig::default())
}

impl Bank {
    fn config(&self) -> ClientConfig {
        ClientConfig::new(&self.sim.base_url(), &self.service_code)
            .with_timeout(Duration::from_secs(5))
    }

    fn client(&self) -> Client {
        Client::new(self.config(), self.key.clone()).unwrap()
    }

    fn order(&self) -> CreateOrder {
        CreateOrder::builder()
            .merchant_id(&self.merchant_id)
            .amount(Kopecks::new(125_050))
            .customer("customer-1")
            .success_url("https://shop.example/ok")
            .fail_url("https://shop.example/fail")
            .build()
            .unwrap()
    }

    fn fault(&self, path: Option<&str>, times: u32, kind: FaultKind) {
        self.sim.inject(Fault {
            path: path.map(str::to_owned),
            times,
            kind,
        });
    }

    /// A paid order and its purchase operation id.
    fn paid_order(&self, client: &Client) -> (HppOrderId, String) {
        let order = client.create_order(&self.order()).into_result().unwrap();
        self.sim
            .pay(&order.hpp_order_id, PaymentOutcome::Success)
            .unwrap();
        let read = client.order_data(&order.hpp_order_id).unwrap();
        let op = read
            .operations
            .iter()
            .find(|o| o.kind.as_deref() == Some("PURCHASE"))
            .unwrap();
        (order.hpp_order_id, op.operation_id.clone().unwrap())
    }
}

fn full_hpp_flow_with_encrypted_and_plain_callbacks() {
    let bank = bank();
    let client = bank.client();
    let session = client.authorize().unwrap();
    assert!(session.expires_at > UtcTime::now());
    for encrypted in [true, false] {
        let sink = CallbackSink::start().unwrap();
        let mut order = bank.order();
        order.notification_url = Some(sink.url().to_owned());
        order.notification_encryption = encrypted.then_some(true);
        let created = client.create_order(&order).into_result().unwrap();
        assert_eq!(created.order_status, OrderStatus::Pending);
        assert_eq!(
            created.merchant_request_id.as_deref(),
            Some(order.merchant_request_id.as_str())
        );
        assert!(created.redirect_url.is_some());
        bank.sim
            .pay(&created.hpp_order_id, PaymentOutcome::Success)
            .unwrap();
        let body = sink.next(Duration::from_secs(10)).unwrap();
        assert_eq!(
            body.starts_with(b"{\"jwe\""),
            encrypted,
            "{}",
            String::from_utf8_lossy(&body)
        );
        let Callback::Order(notified) = client.parse_callback(&body).unwrap() else {
            panic!("not an order callback")
        };
        assert_eq!(notified.hpp_order_id, created.hpp_order_id);
        assert_eq!(notified.order_status, OrderStatus::Success);
        let read = client.order_data(&created.hpp_order_id).unwrap();
        assert_eq!(read.order_status, OrderStatus::Success);
        assert_eq!(read.coin_amount, Some(Kopecks::new(125_050)));
    }
    assert_eq!(client.authorizations(), 1);
    // The sink hands the body over before it answers, and the simulator counts a delivery when
    // it has read that answer: allow it a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while bank.sim.callbacks_delivered() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(bank.sim.callbacks_delivered() >= 2);
}

fn failed_payment_and_unknown_order() {
    let bank = bank();
    let client = bank.client();
    let created = client.create_order(&bank.order()).into_result().unwrap();
    bank.sim
        .pay(&created.hpp_order_id, PaymentOutcome::Fail)
        .unwrap();
    assert_eq!(
        client
            .order_data(&created.hpp_order_id)
            .unwrap()
            .order_status,
        OrderStatus::Fail
    );
    let missing = client
        .order_data(&HppOrderId::new("no-such-order").unwrap())
        .unwrap_err();
    assert_eq!(
        missing
            .bank_error()
            .map(|e| (e.msg_code.as_str(), e.status)),
        Some(("b_hpp_order_not_found", 404))
    );
}

fn refund_and_lookups_are_encrypted_and_idempotent() {
    let bank = bank();
    let client = bank.client();
    let (hpp_order_id, purchase) = bank.paid_order(&client);
    let refund = Refund::builder()
        .merchant_id(&bank.merchant_id)
        .operation_id(&purchase)
        .amount(Kopecks::new(25_000))
        .build()
        .unwrap();
    let op = client.refund(&refund).into_result().unwrap();
    assert_eq!(op.kind.as_deref(), Some("REFUND"));
    assert_eq!(op.coin_amount, Some(Kopecks::new(25_000)));
    // The same refund again is the same operation, not a second refund.
    let again = client.refund(&refund).into_result().unwrap();
    assert_eq!(again.operation_id, op.operation_id);
    let by_request = client
        .operation_by_merchant_request_id(&refund.merchant_request_id)
        .unwrap();
    assert_eq!(by_request.operation_id, op.operation_id);
    let by_id = client
        .operation_by_id(op.operation_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(
        by_id.merchant_request_id.as_deref(),
        Some(refund.merchant_request_id.as_str())
    );
    assert_eq!(
        client.order_data(&hpp_order_id).unwrap().order_status,
        OrderStatus::PartialRefund
    );
    // More than what is left is refused by the bank, with its code.
    let too_much = client
        .refund(
            &Refund::builder()
                .merchant_id(&bank.merchant_id)
                .operation_id(&purchase)
                .amount(Kopecks::new(125_050))
                .build()
                .unwrap(),
        )
        .into_result()
        .unwrap_err();
    assert_eq!(
        too_much.bank_error().map(|e| e.msg_code.as_str()),
        Some("b_payment_invalid_refund_amount")
    );
    let unknown = client.operation_by_id("no-such-operation").unwrap_err();
    assert_eq!(
        unknown.bank_error().map(|e| e.msg_code.as_str()),
        Some("b_operation_not_found")
    );
}

/// A payment is found by the order's merchantRequestId once the customer has paid: how an
/// order whose creation ended Unknown is traced after payment.
fn payment_is_found_by_the_orders_merchant_request_id() {
    let bank = bank();
    let client = bank.client();
    let order = bank.order();
    let created = client.create_order(&order).into_result().unwrap();
    let before = client
        .operation_by_merchant_request_id(&order.merchant_request_id)
        .unwrap_err();
    assert_eq!(
        before.bank_error().map(|e| e.msg_code.as_str()),
        Some("b_operation_not_found")
    );
    bank.sim
        .pay(&created.hpp_order_id, PaymentOutcome::Success)
        .unwrap();
    let payment = client
        .operation_by_merchant_request_id(&order.merchant_request_id)
        .unwrap();
    assert_eq!(
        (payment.kind.as_deref(), payment.status.as_deref()),
        (Some("PURCHASE"), Some("SUCCESS"))
    );
}

/// Each session error: exactly one re-authorization and one retry, then success.
fn session_errors_reauthorize_once_and_retry_once() {
    let bank = bank();
    let client = bank.client();
    let created = client.create_order(&bank.order()).into_result().unwrap();
    type BreakSession<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, BreakSession)> = vec![
        ("expired", Box::new(|| bank.sim.expire_sessions())),
        ("forgotten", Box::new(|| bank.sim.forget_sessions())),
        (
            "401 without body",
            Box::new(|| bank.fault(Some(protocol::ORDER_DATA_PATH), 1, FaultKind::Unauthorized)),
        ),
        (
            "b_used_token",
            Box::new(|| {
                bank.fault(
                    Some(protocol::ORDER_DATA_PATH),
                    1,
                    FaultKind::ErrorCode {
                        status: 401,
                        code: "b_used_token".into(),
                    },
                )
            }),
        ),
        (
            "b_virtual_device_not_found at 200",
            Box::new(|| {
                bank.fault(
                    Some(protocol::ORDER_DATA_PATH),
                    1,
                    FaultKind::ErrorCode {
                        status: 200,
                        code: "b_virtual_device_not_found".into(),
                    },
                )
            }),
        ),
    ];
    for (name, break_session) in cases {
        let (ours, theirs) = (client.authorizations(), bank.sim.authorizations());
        let old_device = client.session().unwrap().device_id.clone();
        break_session();
        let read = client.order_data(&created.hpp_order_id);
        assert!(read.is_ok(), "{name}: {read:?}");
        assert_eq!(client.authorizations(), ours + 1, "{name}");
        assert_eq!(bank.sim.authorizations(), theirs + 1, "{name}");
        assert_ne!(client.session().unwrap().device_id, old_device, "{name}");
    }
}

fn another_process_authorizing_invalidates_our_session_and_we_recover() {
    let bank = bank();
    let (ours, other) = (bank.client(), bank.client());
    let created = ours.create_order(&bank.order()).into_result().unwrap();
    other.authorize().unwrap();
    assert!(ours.order_data(&created.hpp_order_id).is_ok());
    assert_eq!(ours.authorizations(), 2);
}

fn a_session_rejected_twice_is_an_error_not_a_loop() {
    let bank = bank();
    let client = bank.client();
    let created = client.create_order(&bank.order()).into_result().unwrap();
    bank.fault(
        Some(protocol::ORDER_DATA_PATH),
        5,
        FaultKind::ErrorCode {
            status: 401,
            code: "b_used_token".into(),
        },
    );
    let e = client.order_data(&created.hpp_order_id).unwrap_err();
    assert!(
        matches!(e, Error::SessionRejectedAfterReauthorization(_)),
        "{e:?}"
    );
    assert_eq!(client.authorizations(), 2, "exactly one re-authorization");
}

fn locked_service_code_is_fatal_without_retries() {
    let bank = bank();
    bank.sim.lock_service_code(&bank.service_code);
    let client = bank.client();
    let e = client
        .create_order(&bank.order())
        .into_result()
        .unwrap_err();
    assert!(matches!(e, Error::ServiceCodeLocked(_)), "{e:?}");
    assert!(e.to_string().contains("contact the bank"), "{e}");
    assert_eq!(client.authorizations(), 1);
    assert_eq!(bank.sim.authorizations(), 0);
}

fn wrong_merchant_key_is_a_decryption_error() {
    let bank = bank();
    let stranger = PrivateJwk::generate(&mut rand_core::UnwrapErr(getrandom::SysRng)).unwrap();
    let e = Client::new(bank.config(), stranger)
        .unwrap()
        .authorize()
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Decryption {
                what: "session",
                ..
            }
        ),
        "{e:?}"
    );
}

/// Issue 3, item 3: N threads meet an expired session at once; one authorization serves all.
fn concurrent_requests_share_one_reauthorization() {
    const THREADS: usize = 48;
    let bank = bank();
    let client = bank.client();
    let created = client.create_order(&bank.order()).into_result().unwrap();
    for round in 0..3 {
        bank.sim.expire_sessions();
        let before = (client.authorizations(), bank.sim.authorizations());
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (client, barrier, id) = (
                    client.clone(),
                    barrier.clone(),
                    created.hpp_order_id.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    client.order_data(&id).map(|o| o.hpp_order_id)
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), created.hpp_order_id);
        }
        assert_eq!(
            client.authorizations() - before.0,
            1,
            "round {round}: client authorizations"
        );
        assert_eq!(
            bank.sim.authorizations() - before.1,
            1,
            "round {round}: simulator authorizations"
        );
        println!("round {round}: {THREADS} threads met an expired session; 1 authorization");
    }
}

/// The async driver with tasks rather than threads: 48 tasks spawned on a runtime of two
/// worker threads meet an expired session at once. The single flight is an async lock, so
/// the tasks waiting for the authorization yield their threads to the one authorizing (a
/// blocking lock held across the exchange would stall both workers); one authorization
/// serves all.
#[test]
fn spawned_tasks_share_one_reauthorization() {
    const TASKS: usize = 48;
    let bank = bank();
    let client = alliancepay_http::AsyncClient::new(bank.config(), bank.key.clone()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let created = runtime
        .block_on(client.create_order(&bank.order()))
        .into_result()
        .unwrap();
    bank.sim.expire_sessions();
    let before = bank.sim.authorizations();
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let (client, id) = (client.clone(), created.hpp_order_id.clone());
            runtime.spawn(async move { client.order_data(&id).await.map(|o| o.hpp_order_id) })
        })
        .collect();
    for h in handles {
        let read = runtime.block_on(h).unwrap();
        assert_eq!(read.unwrap(), created.hpp_order_id);
    }
    assert_eq!(bank.sim.authorizations() - before, 1);
    assert_eq!(client.authorizations(), 2);
}

/// The host's clocks as a test sets them: the wall clock `wall_offset` seconds off the real
/// one, and a monotonic clock that moves only when told (both through [`Clocks::advance`]).
#[derive(Clone, Default)]
struct Clocks {
    wall_offset: Arc<AtomicI64>,
    monotonic_secs: Arc<AtomicI64>,
}

impl Clocks {
    fn skewed(secs: i64) -> Self {
        let clocks = Self::default();
        clocks.wall_offset.store(secs, Ordering::SeqCst);
        clocks
    }

    fn client(&self, bank: &Bank) -> Client {
        self.drive(bank.config(), bank.key.clone())
    }

    /// A client on `config` reading these clocks.
    fn drive(&self, config: ClientConfig, key: PrivateJwk) -> Client {
        let (wall, mono) = (self.wall_offset.clone(), self.monotonic_secs.clone());
        let wall: driver::Clock =
            Arc::new(move || UtcTime::now().plus(wall.load(Ordering::SeqCst)));
        let mono: driver::Monotonic = Arc::new(move || {
            Duration::from_secs(1000 + mono.load(Ordering::SeqCst).unsigned_abs())
        });
        Client::with_clocks(config, key, Some((wall, mono))).unwrap()
    }

    /// Time passes for the host (both clocks); `sim` moves the bank's clock by as much.
    fn advance(&self, secs: i64, sim: &Simulator) {
        self.wall_offset.fetch_add(secs, Ordering::SeqCst);
        self.monotonic_secs.fetch_add(secs, Ordering::SeqCst);
        sim.advance_clock(secs);
    }
}

fn sessions_are_renewed_ahead_of_expiry() {
    let bank = bank_with(SimulatorConfig {
        token_ttl_secs: 3600,
        ..SimulatorConfig::default()
    });
    let clocks = Clocks::default();
    let client = clocks.client(&bank);
    // The order must outlive the 51 minutes (the bank's default lifetime is 15).
    let mut order = bank.order();
    order.expiration_time_minutes = Some(120);
    let created = client.create_order(&order).into_result().unwrap();
    let requests = bank.sim.requests();
    // 51 minutes later the session is within the 10-minute margin: renewed before the call.
    clocks.advance(51 * 60, &bank.sim);
    client.order_data(&created.hpp_order_id).unwrap();
    assert_eq!(client.authorizations(), 2);
    assert_eq!(
        bank.sim.requests() - requests,
        2,
        "one authorization and one call, no rejected call"
    );
}

fn saved_session_survives_a_restart() {
    let bank = bank();
    let dir_tmp = tempfile::tempdir().unwrap();
    let dir = dir_tmp.path().to_owned();
    let config = bank.config().with_session_file(dir.join("session.json"));
    let first = Client::new(config.clone(), bank.key.clone()).unwrap();
    let created = first.create_order(&bank.order()).into_result().unwrap();
    drop(first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("session.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let restarted = Client::new(config.clone(), bank.key.clone()).unwrap();
    restarted.order_data(&created.hpp_order_id).unwrap();
    assert_eq!(restarted.authorizations(), 0);
    assert_eq!(bank.sim.authorizations(), 1);
    // Another key must not pick the file up.
    let stranger = PrivateJwk::generate(&mut rand_core::UnwrapErr(getrandom::SysRng)).unwrap();
    let other = Client::new(config, stranger).unwrap();
    assert!(
        other.session().is_err(),
        "the stranger had to authorize (and cannot decrypt)"
    );
}

/// A host a day ahead keeps its session across a restart: the saved offset converts its wall
/// clock to the bank's, so the saved session is not mistaken for an expired one.
fn saved_session_survives_a_restart_on_a_skewed_host() {
    let bank = bank();
    let dir_tmp = tempfile::tempdir().unwrap();
    let dir = dir_tmp.path().to_owned();
    let clocks = Clocks::skewed(24 * 3600);
    let client = |clocks: &Clocks| {
        let config = bank.config().with_session_file(dir.join("session.json"));
        clocks.drive(config, bank.key.clone())
    };
    let first = client(&clocks);
    let created = first.create_order(&bank.order()).into_result().unwrap();
    drop(first);
    let restarted = client(&clocks);
    restarted.order_data(&created.hpp_order_id).unwrap();
    assert_eq!(restarted.authorizations(), 0);
    assert_eq!(bank.sim.authorizations(), 1);
}

fn invalid_input_is_refused_before_sending() {
    let bank = bank();
    let client = bank.client();
    client.authorize().unwrap();
    let requests = bank.sim.requests();
    let mut order = bank.order();
    order.customer_data.sender_email = Some("not-an-address".into());
    let e = client.create_order(&order).into_result().unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput { ref field, .. } if field == "customerData.senderEmail"),
        "{e:?}"
    );
    assert_eq!(bank.sim.requests(), requests);
}

fn reused_merchant_request_id_is_refused_by_the_bank() {
    let bank = bank();
    let client = bank.client();
    let order = bank.order();
    client.create_order(&order).into_result().unwrap();
    let e = client.create_order(&order).into_result().unwrap_err();
    assert_eq!(
        e.bank_error().map(|b| (b.msg_code.as_str(), b.status)),
        Some(("b_duplicate_field_value", 400))
    );
    // The earlier order exists: an unknown-kind outcome to look up, not a refusal.
    assert!(matches!(e, Error::AlreadyExists(_)), "{e:?}");
    assert!(e.outcome_unknown());
}

/// Each transport fault and malformed response: the right error, and no retry of a write.
fn faults_and_malformed_responses() {
    let bank = bank();
    let client = bank.client();
    client.authorize().unwrap();
    let path = Some(protocol::CREATE_ORDER_PATH);
    type Expected = fn(&Error) -> bool;
    let cases: Vec<(FaultKind, Expected)> = vec![
        (FaultKind::Status(503), |e| {
            matches!(e, Error::MalformedResponse { status: 503, .. })
        }),
        // Not Unreachable: the connection was open, so the write may have arrived. The
        // HTTP client's error stays reachable as the source.
        (FaultKind::DropConnection, |e| {
            matches!(e, Error::Transport(TransportError::Failed(_)))
                && std::error::Error::source(e).is_some_and(|t| t.source().is_some())
        }),
        (FaultKind::Latency(Duration::from_secs(8)), |e| {
            matches!(e, Error::Timeout(TransportError::Timeout(_)))
                && std::error::Error::source(e).is_some_and(|t| t.source().is_some())
        }),
        (
            FaultKind::Html,
            |e| matches!(e, Error::MalformedResponse { problem, .. } if problem.contains("HTML")),
        ),
        (
            FaultKind::Truncated,
            |e| matches!(e, Error::MalformedResponse { problem, .. } if problem.contains("truncated")),
        ),
        (
            FaultKind::WrongContentType,
            |e| matches!(e, Error::MalformedResponse { problem, .. } if problem.contains("content type")),
        ),
        (
            FaultKind::ErrorCode {
                status: 503,
                code: "b_server_is_overloaded".into(),
            },
            |e| matches!(e, Error::Bank(b) if b.msg_code == "b_server_is_overloaded"),
        ),
    ];
    for (kind, expected) in cases {
        let name = format!("{kind:?}");
        let requests = bank.sim.requests();
        bank.fault(path, 1, kind);
        let e = client
            .create_order(&bank.order())
            .into_result()
            .unwrap_err();
        assert!(expected(&e), "{name}: {e:?}");
        assert!(e.outcome_unknown() || matches!(e, Error::Bank(_)), "{name}");
        assert_eq!(
            bank.sim.requests() - requests,
            1,
            "{name}: the write was sent once"
        );
    }
    // The fault is spent: the next call works.
    client.create_order(&bank.order()).into_result().unwrap();
}

fn authorization_without_jwe_is_malformed() {
    let bank = bank();
    bank.fault(Some(protocol::AUTHORIZE_PATH), 1, FaultKind::MissingJwe);
    let e = bank.client().authorize().unwrap_err();
    assert!(
        matches!(&e, Error::MalformedResponse { problem, .. } if problem.contains("jwe")),
        "{e:?}"
    );
}

/// A refund applied by the bank whose answer is lost: look it up, and resending the same
/// request does not refund twice.
fn lost_refund_answer_is_reconciled_not_repeated() {
    let bank = bank();
    let client = bank.client();
    let (_, purchase) = bank.paid_order(&client);
    let refund = Refund::builder()
        .merchant_id(&bank.merchant_id)
        .operation_id(&purchase)
        .amount(Kopecks::new(10_000))
        .build()
        .unwrap();
    bank.fault(Some(protocol::REFUND_PATH), 1, FaultKind::ApplyThenFail);
    let e = client.refund(&refund).into_result().unwrap_err();
    assert!(e.outcome_unknown(), "{e:?}");
    let found = client
        .operation_by_merchant_request_id(&refund.merchant_request_id)
        .unwrap();
    assert_eq!(found.coin_amount, Some(Kopecks::new(10_000)));
    let resent = client.refund(&refund).into_result().unwrap();
    assert_eq!(resent.operation_id, found.operation_id);
    // Only one refund exists: the rest of the purchase can still be refunded exactly.
    client
        .refund(
            &Refund::builder()
                .merchant_id(&bank.merchant_id)
                .operation_id(&purchase)
                .amount(Kopecks::new(115_050))
                .build()
                .unwrap(),
        )
        .into_result()
        .unwrap();
}

both_drivers!(
    full_hpp_flow_with_encrypted_and_plain_callbacks,
    failed_payment_and_unknown_order,
    refund_and_lookups_are_encrypted_and_idempotent,
    payment_is_found_by_the_orders_merchant_request_id,
    session_errors_reauthorize_once_and_retry_once,
    another_process_authorizing_invalidates_our_session_and_we_recover,
    a_session_rejected_twice_is_an_error_not_a_loop,
    locked_service_code_is_fatal_without_retries,
    wrong_merchant_key_is_a_decryption_error,
    concurrent_requests_share_one_reauthorization,
    sessions_are_renewed_ahead_of_expiry,
    saved_session_survives_a_restart,
    saved_session_survives_a_restart_on_a_skewed_host,
    invalid_input_is_refused_before_sending,
    reused_merchant_request_id_is_refused_by_the_bank,
    faults_and_malformed_responses,
    authorization_without_jwe_is_malformed,
    lost_refund_answer_is_reconciled_not_repeated,
);
