//! The rule for tests that need a program from outside the Rust toolchain (Python `jwcrypto`,
//! Node `jose`, Chromium, OpenSSL through Python): a missing peer is a visible SKIPPED line and
//! the test passes, so `cargo test --workspace` passes on a machine with only Rust on it; with
//! `ALLIANCEPAY_REQUIRE_PEERS=1` (which `.ci/run` sets) a missing peer fails the test instead,
//! so CI cannot pass without having talked to every peer.

use std::io::Write as _;

/// The variable that makes peers mandatory.
pub const REQUIRE_PEERS: &str = "ALLIANCEPAY_REQUIRE_PEERS";

/// Whether a missing peer is a failure: `ALLIANCEPAY_REQUIRE_PEERS=1`.
#[must_use]
pub fn required() -> bool {
    std::env::var(REQUIRE_PEERS).is_ok_and(|v| v == "1")
}

/// Reports that `what` could not run for lack of a peer, and how to install it: a
/// `SKIPPED what (install)` line written straight to the process's stderr, past libtest's
/// output capture, so it shows in a plain `cargo test` run.
///
/// # Panics
/// When peers are [`required`]: the missing peer is then the test's failure.
pub fn missing(what: &str, install: &str) {
    assert!(
        !required(),
        "{REQUIRE_PEERS}=1, so a missing peer is a failure: {what} ({install})"
    );
    // One write, so that tests running in parallel do not interleave their lines.
    let line = format!("SKIPPED {what} ({install})\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
