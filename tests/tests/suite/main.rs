//! One integration-test binary for the workspace (one link on two cores instead of many).
//!
//! - `features`: no crate of ours enables alliancepay-jose's `hazmat-scalar-mul`.
//! - `vectors`: known answers from others (RFC 7518, RFC 7520, RFC 3394, Wycheproof).
//! - `negative`: one test per rejection rule, each asserting the exact error.
//! - `stack_residue`: no copy of a secret left on the stack after encrypt and decrypt.
//! - `interop`: tokens and keys exchanged with Python jwcrypto and Node jose.
//! - `scalar_mul` (feature `hazmat`): alliancepay-jose's opt-in P-384 scalar multiplication
//!   against `p384`'s (differential).

mod features;
mod fuzz_regressions;
mod interop;
mod negative;
mod props;
#[cfg(feature = "hazmat")] // our multiplication exists only in the hazmat build
mod scalar_mul;
#[cfg(target_os = "linux")] // reads /proc/self/mem
mod stack_residue;
mod vectors;
