//! The fault matrix (issue 9, "Done when"): every simulator fault against create-order,
//! refund and each read, over loopback HTTP. Each write must end as the expected
//! Done/Refused/Unknown; each Unknown is then resolved the documented way (look the refund up
//! by `merchantRequestId`, resend the same request with the same id), and the simulator's own
//! records are counted: exactly one applied operation per write, no double refund, no lost
//! write, no success reported for something the bank does not hold.

use alliancepay_http::OperationQuery;
use alliancepay_http::{Kopecks, MerchantRequestId, Outcome, Refusal, Unknown};

use super::*;

/// Client timeout of the matrix, and the latency that exceeds it.
const TIMEOUT: Duration = Duration::from_millis(2500);
const LATENCY: Duration = Duration::from_millis(3000);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Done,
    Refused,
    Unknown,
}

/// Every fault, and what a write meeting it must end as (create-order, refund).
fn faults() -> Vec<(FaultKind, Expect, Expect)> {
    use Expect::{Done, Refused, Unknown};
    vec![
        (FaultKind::Latency(LATENCY), Unknown, Unknown),
        (FaultKind::Status(500), Unknown, Unknown),
        (FaultKind::Status(503), Unknown, Unknown),
        (FaultKind::DropConnection, Unknown, Unknown),
        (FaultKind::ApplyThenDrop, Unknown, Unknown),
        (FaultKind::Truncated, Unknown, Unknown),
        (FaultKind::Html, Unknown, Unknown),
        (FaultKind::WrongContentType, Unknown, Unknown),
        (FaultKind::MissingJwe, Unknown, Unknown),
        (FaultKind::EmptyJwe, Unknown, Unknown),
        (FaultKind::UndecryptableJwe, Unknown, Unknown),
        (FaultKind::ApplyThenFail, Unknown, Unknown),
        (
            FaultKind::ErrorCode {
                status: 503,
                code: "b_server_is_overloaded".into(),
            },
            Unknown,
            Unknown,
        ),
        (
            FaultKind::ErrorCode {
                status: 400,
                code: "b_txn_not_allowed".into(),
            },
            Refused,
            Refused,
        ),
        // Only a refund carries errorDetails; an order is created normally.
        (
            FaultKind::ErrorDetails("b_security_time_in_request_not_correct".into()),
            Done,
            Refused,
        ),
    ]
}

fn kind_of<T>(outcome: &Outcome<T>) -> Expect {
    match outcome {
        Outcome::Done(_) => Expect::Done,
        Outcome::Refused(_) => Expect::Refused,
        Outcome::Unknown(_) => Expect::Unknown,
    }
}

/// What the simulator's side shows over the whole matrix.
#[derive(Debug, Default)]
struct Tally {
    writes: u32,
    unknown: u32,
    refused: u32,
    done: u32,
    recovered: u32,
    applied: u32,
    double_refunds: u32,
    lost_writes: u32,
    false_successes: u32,
}

impl Tally {
    /// A write ended Unknown: it must name the request to resolve; the recovery follows, and
    /// counts in `recovered` only once the simulator holds the write exactly once.
    fn unknown(&mut self, u: &Unknown, merchant_request_id: &str, kind: &FaultKind) {
        self.unknown += 1;
        assert_eq!(
            u.merchant_request_id.as_deref(),
            Some(merchant_request_id),
            "{kind:?}"
        );
        settle(kind);
    }
}

fn matrix_bank() -> (Bank, Client) {
    let bank = bank();
    let config = bank.config().with_timeout(TIMEOUT);
    let client = Client::new(config, bank.key.clone()).unwrap();
    client.authorize().unwrap();
    (bank, client)
}

/// Lets a delayed request reach the simulator before its records are counted.
fn settle(kind: &FaultKind) {
    if matches!(kind, FaultKind::Latency(_)) {
        std::thread::sleep(LATENCY.saturating_sub(TIMEOUT) + Duration::from_millis(300));
    }
}

fn every_fault_on_every_write_ends_with_exactly_one_applied_operation() {
    let (bank, client) = matrix_bank();
    let mut t = Tally::default();
    for (kind, expect_order, expect_refund) in faults() {
        // Create-order.
        let order = bank.order();
        bank.fault(Some(protocol::CREATE_ORDER_PATH), 1, kind.clone());
        let first = client.create_order(&order);
        assert_eq!(
            kind_of(&first),
            expect_order,
            "create-order, {kind:?}: {first:?}"
        );
        t.writes += 1;
        let mut resolving = false;
        let mut done = match first {
            Outcome::Done(o) => Some(o),
            Outcome::Refused(_) => {
                t.refused += 1;
                None
            }
            Outcome::Unknown(u) => {
                t.unknown(&u, &order.merchant_request_id, &kind);
                resolving = true;
                // The documented recovery: the same order again, same merchantRequestId. If
                // the first one exists the bank says so, which is not "nothing happened".
                match client.create_order(&order) {
                    Outcome::Done(o) => Some(o),
                    Outcome::Unknown(again) if again.already_exists() => None,
                    other => panic!("create-order resend after {kind:?}: {other:?}"),
                }
            }
        };
        if let Some(o) = done.take() {
            t.done += 1;
            if bank.sim.orders_with_request_id(&order.merchant_request_id) != 1
                || o.merchant_request_id.as_deref() != Some(order.merchant_request_id.as_str())
            {
                t.false_successes += 1;
            }
        }
        let orders = bank.sim.orders_with_request_id(&order.merchant_request_id);
        match expect_order {
            Expect::Refused => assert_eq!(orders, 0, "{kind:?}: a refused order exists"),
            _ if orders == 1 => {
                t.applied += 1;
                t.recovered += u32::from(resolving);
            }
            _ => t.lost_writes += 1,
        }

        // Refund, of its own paid purchase so the simulator's records are per case.
        let (_, purchase) = bank.paid_order(&client);
        let refund = Refund::builder()
            .merchant_id(&bank.merchant_id)
            .operation_id(&purchase)
            .amount(Kopecks::new(2_500))
            .build()
            .unwrap();
        bank.fault(Some(protocol::REFUND_PATH), 1, kind.clone());
        let first = client.refund(&refund);
        assert_eq!(
            kind_of(&first),
            expect_refund,
            "refund, {kind:?}: {first:?}"
        );
        t.writes += 1;
        let mut resolving = false;
        let reported = match first {
            Outcome::Done(op) => Some(op),
            Outcome::Refused(Refusal::Declined { code, operation }) => {
                t.refused += 1;
                assert_eq!(
                    code.as_deref(),
                    Some("b_security_time_in_request_not_correct")
                );
                assert_eq!(operation.status.as_deref(), Some("FAIL"));
                // The lookup says the same, as an error; resending changes nothing.
                let looked = client.operation_by_merchant_request_id(&refund.merchant_request_id);
                assert!(
                    matches!(looked, Err(Error::Declined { code: Some(ref code), .. }) if code == "b_security_time_in_request_not_correct"),
                    "{looked:?}"
                );
                assert!(matches!(
                    client.refund(&refund),
                    Outcome::Refused(Refusal::Declined { .. })
                ));
                None
            }
            Outcome::Refused(_) => {
                t.refused += 1;
                None
            }
            Outcome::Unknown(u) => {
                t.unknown(&u, &refund.merchant_request_id, &kind);
                resolving = true;
                // The documented recovery: look it up; if the bank has it, that is the refund;
                // if not, send the same refund with the same id.
                let found =
                    match client.operation_by_merchant_request_id(&refund.merchant_request_id) {
                        Ok(op) => Some(op),
                        Err(e)
                            if e.bank_error()
                                .is_some_and(|b| b.msg_code == "b_operation_not_found") =>
                        {
                            None
                        }
                        Err(e) => panic!("lookup after {kind:?}: {e}"),
                    };
                // Sent again all the same, the same id must not refund twice (the simulator
                // answers with the refund it made; the bank's documents do not say how the
                // bank answers, which is why the lookup comes first).
                match (client.refund(&refund), found) {
                    (Outcome::Done(op), Some(found)) => {
                        assert_eq!(found.operation_id, op.operation_id, "{kind:?}");
                        Some(found)
                    }
                    (Outcome::Done(op), None) => Some(op),
                    (other, _) => panic!("refund resend after {kind:?}: {other:?}"),
                }
            }
        };
        let refunds = bank.sim.refunds_of(&purchase);
        let succeeded: Vec<_> = refunds.iter().filter(|r| r["status"] != "FAIL").collect();
        if let Some(op) = reported {
            t.done += 1;
            let held = succeeded
                .iter()
                .any(|r| r["operationId"].as_str() == op.operation_id.as_deref());
            if !held || op.coin_amount != Some(Kopecks::new(2_500)) {
                t.false_successes += 1;
            }
        }
        match (expect_refund, succeeded.len()) {
            (Expect::Refused, 0) => {}
            (Expect::Refused, n) => panic!("{kind:?}: a refused refund applied {n} times"),
            (_, 1) => {
                t.applied += 1;
                t.recovered += u32::from(resolving);
            }
            (_, 0) => t.lost_writes += 1,
            (_, _) => t.double_refunds += 1,
        }
        assert!(
            refunds.len() <= 1,
            "{kind:?}: {} refund records for one merchantRequestId",
            refunds.len()
        );
    }
    println!("fault matrix (writes): {t:?}");
    assert_eq!(t.double_refunds, 0);
    assert_eq!(t.lost_writes, 0);
    assert_eq!(t.false_successes, 0);
    let faults = u32::try_from(faults().len()).unwrap();
    assert_eq!(t.writes, 2 * faults);
    // Every write not refused ends applied exactly once.
    assert_eq!(t.applied, t.writes - t.refused);
    // Every Unknown was resolved to exactly one applied write on the simulator's side.
    assert!(t.unknown > 0);
    assert_eq!(t.recovered, t.unknown);
}

/// Reads under every fault: an error (never an empty success), and the same read afterwards
/// answers the real record. Reads change nothing on the simulator.
fn every_fault_on_every_read_is_an_error_not_an_empty_record() {
    let (bank, client) = matrix_bank();
    let (hpp_order_id, purchase) = bank.paid_order(&client);
    let refund = Refund::builder()
        .merchant_id(&bank.merchant_id)
        .operation_id(&purchase)
        .amount(Kopecks::new(1_000))
        .build()
        .unwrap();
    let refund_id = client
        .refund(&refund)
        .into_result()
        .unwrap()
        .operation_id
        .unwrap();
    type Read<'a> = Box<dyn Fn() -> Result<String, Error> + 'a>;
    let reads: Vec<(&str, Read)> = vec![
        (
            protocol::ORDER_DATA_PATH,
            Box::new(|| {
                client
                    .order_data(&hpp_order_id)
                    .map(|o| o.hpp_order_id.to_string())
            }),
        ),
        (
            protocol::OPERATION_BY_ID_PATH,
            Box::new(|| {
                client
                    .operation_by_id(&refund_id)
                    .map(|o| o.operation_id.unwrap_or_default())
            }),
        ),
        (
            protocol::OPERATION_BY_REQUEST_ID_PATH,
            Box::new(|| {
                client
                    .operation_by_merchant_request_id(&refund.merchant_request_id)
                    .map(|o| o.operation_id.unwrap_or_default())
            }),
        ),
    ];
    let expected = [
        hpp_order_id.to_string(),
        refund_id.clone(),
        refund_id.clone(),
    ];
    let (mut count, mut errors, mut answered) = (0, 0, 0);
    for (kind, _, _) in faults() {
        let applies_to_reads = !matches!(kind, FaultKind::ErrorDetails(_));
        for ((path, read), want) in reads.iter().zip(&expected) {
            bank.fault(Some(path), 1, kind.clone());
            let result = read();
            count += 1;
            if applies_to_reads {
                assert!(result.is_err(), "{path} under {kind:?}: {result:?}");
                errors += 1;
            } else {
                // errorDetails is a refund's; a read under it answers normally.
                assert_eq!(result.as_ref().ok(), Some(want), "{path} under {kind:?}");
                answered += 1;
            }
            settle(&kind);
            assert_eq!(read().unwrap(), *want, "{path} after {kind:?}");
        }
    }
    assert_eq!(
        bank.sim.refunds_of(&purchase).len(),
        1,
        "reads applied nothing"
    );
    // The true split: every fault but errorDetails makes each read an error; under
    // errorDetails each read answers its real record.
    let faults = faults().len();
    assert_eq!(count, 3 * faults);
    assert_eq!(errors, 3 * (faults - 1));
    assert_eq!(answered, 3);
    println!(
        "fault matrix (reads): {count} faulted reads: {errors} errors, {answered} normal answers (errorDetails does not apply to reads), 0 empty successes"
    );
    // An unknown id is a typed error, not an empty record.
    let missing = client.operation_by_id("no-such-operation").unwrap_err();
    assert_eq!(
        missing.bank_error().map(|e| e.msg_code.as_str()),
        Some("b_operation_not_found")
    );
    let missing = client
        .call(&OperationQuery::ByMerchantRequestId {
            merchant_request_id: MerchantRequestId::new("no-such-request").unwrap(),
        })
        .into_result()
        .unwrap_err();
    assert!(missing.bank_error().is_some(), "{missing:?}");
}

both_drivers!(
    every_fault_on_every_write_ends_with_exactly_one_applied_operation,
    every_fault_on_every_read_is_an_error_not_an_empty_record,
);
