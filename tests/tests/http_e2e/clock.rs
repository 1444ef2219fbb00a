//! A host clock far off the bank's (issue 9, item 4): the client measures the offset from the
//! authorization answer's `Date` header, schedules renewal on its monotonic clock, and dates
//! refunds by the bank's clock. Before, a host 24 h ahead authorized before every call and a
//! host 10+ minutes off had its refunds stored as FAIL (`b_security_time_in_request_not_correct`)
//! while the library reported success.

use alliancepay_http::{Kopecks, Outcome};

use super::*;

/// Offsets of the host's clock from the bank's: behind by a day and more, behind and ahead by
/// more than the bank's 10-minute window for refund dates, ahead by a day.
const OFFSETS: [i64; 4] = [-25 * 3600, -11 * 60, 11 * 60, 24 * 3600];

fn skewed_hosts_authorize_once_per_session_and_refund() {
    for offset in OFFSETS {
        let bank = bank_with(SimulatorConfig {
            token_ttl_secs: 3600,
            ..SimulatorConfig::default()
        });
        let clocks = Clocks::skewed(offset);
        let client = clocks.client(&bank);
        let (_, purchase) = bank.paid_order(&client);
        let mut refunded = 0;
        // Four refunds over 45 minutes of the session's hour, each settled SUCCESS.
        for step in 0..4 {
            let refund = Refund::builder()
                .merchant_id(&bank.merchant_id)
                .operation_id(&purchase)
                .amount(Kopecks::new(100))
                .build()
                .unwrap();
            match client.refund(&refund) {
                Outcome::Done(op) => assert_eq!(op.status.as_deref(), Some("PENDING")),
                other => panic!("offset {offset}, step {step}: {other:?}"),
            }
            let settled = client
                .operation_by_merchant_request_id(&refund.merchant_request_id)
                .unwrap();
            assert_eq!(
                settled.status.as_deref(),
                Some("SUCCESS"),
                "offset {offset}"
            );
            refunded += 1;
            if step < 3 {
                clocks.advance(15 * 60, &bank.sim);
            }
        }
        assert_eq!(
            bank.sim.authorizations(),
            1,
            "offset {offset}: one authorization for 45 minutes of a 60-minute session"
        );
        let refunds = bank.sim.refunds_of(&purchase);
        assert_eq!(refunds.len(), refunded, "offset {offset}");
        assert!(
            refunds.iter().all(|r| r["status"] == "SUCCESS"),
            "offset {offset}: {refunds:?}"
        );
        // Six minutes later the session is inside the 10-minute margin: renewed ahead, once.
        clocks.advance(6 * 60, &bank.sim);
        let late = Refund::builder()
            .merchant_id(&bank.merchant_id)
            .operation_id(&purchase)
            .amount(Kopecks::new(100))
            .build()
            .unwrap();
        assert!(
            matches!(client.refund(&late), Outcome::Done(_)),
            "offset {offset}"
        );
        assert_eq!(bank.sim.authorizations(), 2, "offset {offset}");
        let session = client.session().unwrap();
        assert!(
            (session.clock_offset_secs() + offset).abs() <= 2,
            "offset {offset}: measured {}",
            session.clock_offset_secs()
        );
        println!(
            "host clock {offset:+} s: {} authorizations on the simulator for 2 session lifetimes; {} refunds settled SUCCESS, 1 more done after the renewal",
            bank.sim.authorizations(),
            refunds.len()
        );
    }
}

/// Refunds `purchase` once and checks that the simulator settled it SUCCESS, not FAIL with
/// `b_security_time_in_request_not_correct` (a refund dated far from the bank's clock).
fn refund_settles(bank: &Bank, client: &Client, purchase: &str, what: &str) {
    let refund = Refund::builder()
        .merchant_id(&bank.merchant_id)
        .operation_id(purchase)
        .amount(Kopecks::new(100))
        .build()
        .unwrap();
    match client.refund(&refund) {
        Outcome::Done(op) => assert_eq!(op.status.as_deref(), Some("PENDING"), "{what}"),
        other => panic!("{what}: {other:?}"),
    }
    let settled = client
        .operation_by_merchant_request_id(&refund.merchant_request_id)
        .unwrap();
    assert_eq!(settled.status.as_deref(), Some("SUCCESS"), "{what}");
    let refunds = bank.sim.refunds_of(purchase);
    assert!(
        refunds.iter().all(|r| r["status"] == "SUCCESS"),
        "{what}: {refunds:?}"
    );
}

/// A host boots a day ahead and authorizes (offset -24 h); NTP then steps its wall clock to
/// the right time. Its refunds are still dated by the bank's clock: bank time runs on the
/// monotonic clock from the last `Date` seen, so the offset measured at authorization, now
/// stale, does not date them a day early.
fn a_wall_clock_step_after_authorization_keeps_refunds_dated_right() {
    let bank = bank();
    let clocks = Clocks::skewed(24 * 3600);
    let client = clocks.client(&bank);
    let (_, purchase) = bank.paid_order(&client);
    let offset = client.session().unwrap().clock_offset_secs();
    assert!((offset + 24 * 3600).abs() <= 2, "measured {offset}");
    // NTP corrects the wall clock; the monotonic clock does not move.
    clocks.wall_offset.store(0, Ordering::SeqCst);
    refund_settles(&bank, &client, &purchase, "after the step");
    clocks.advance(5 * 60, &bank.sim);
    refund_settles(&bank, &client, &purchase, "five minutes on");
    assert_eq!(bank.sim.refunds_of(&purchase).len(), 2);
    assert_eq!(bank.sim.authorizations(), 1);
}

/// The same step while the process is down: the saved offset is stale when the session file
/// is read again. The restarted client does not trust it: before its first refund it learns
/// the bank's time from the answer to a lookup, and the refund settles SUCCESS.
fn a_restart_after_a_wall_clock_step_does_not_trust_the_saved_offset() {
    let bank = bank();
    let dir_tmp = tempfile::tempdir().unwrap();
    let dir = dir_tmp.path().to_owned();
    let clocks = Clocks::skewed(24 * 3600);
    let client = |clocks: &Clocks| {
        let config = bank.config().with_session_file(dir.join("session.json"));
        clocks.drive(config, bank.key.clone())
    };
    let first = client(&clocks);
    let (_, purchase) = bank.paid_order(&first);
    drop(first);
    clocks.wall_offset.store(0, Ordering::SeqCst);
    let restarted = client(&clocks);
    let requests = bank.sim.requests();
    refund_settles(&bank, &restarted, &purchase, "after a restart");
    // The lookup, the refund and the settling lookup; no authorization.
    assert_eq!(bank.sim.requests() - requests, 3);
    assert_eq!(restarted.authorizations(), 0);
    assert_eq!(bank.sim.authorizations(), 1);
}

both_drivers!(
    skewed_hosts_authorize_once_per_session_and_refund,
    a_wall_clock_step_after_authorization_keeps_refunds_dated_right,
    a_restart_after_a_wall_clock_step_does_not_trust_the_saved_offset,
);
