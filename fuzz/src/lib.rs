//! The fuzz harness of `alliancepay-jose` and of what `alliancepay-http` reads from the bank:
//! the properties live in [`checks`] and [`bank`], one function per target in `fuzz_targets/`, so the stable test suite can replay seeds and crashes through the
//! same code (it includes `checks.rs` by path; see that module's docs).

pub mod checks;
pub mod bank;
