//! Scrubbing the stack after a computation on secrets.
//!
//! Wiping named variables (`Zeroizing`, `zeroize()`) is not enough: the compiler moves values
//! between stack slots, spills registers, and `p384`'s multiplication keeps copies of the scalar
//! and of intermediate points in frames we do not control. All of those live below the frame
//! that called the computation. [`stack`], called from that same frame right after the
//! computation returns, occupies the same region with a zeroed buffer and so overwrites whatever
//! the computation left there. `tests/tests/suite/stack_residue.rs` checks the result: no
//! window of the private scalar, the ephemeral scalar or the shared secret remains after
//! [`crate::encrypt`] or [`crate::decrypt`].
//!
//! The buffer must be at least as deep as the computation's deepest call. Measured (see the
//! crate README): about 4.3 KiB for a key agreement on a Cortex-M4, and up to 9 KiB in an
//! unoptimized x86-64 build. Targets with 32-bit pointers (microcontrollers) get 5 KiB, which
//! stays within the firmware's stack budget; others 16 KiB, a few hundred nanoseconds of stores
//! next to hundreds of microseconds of scalar multiplication.

/// Bytes overwritten by [`stack`].
#[cfg(target_pointer_width = "64")]
const SCRUB_LEN: usize = 16 * 1024;
/// Bytes overwritten by [`stack`].
#[cfg(not(target_pointer_width = "64"))]
const SCRUB_LEN: usize = 5 * 1024;

/// Overwrites with zeros the `SCRUB_LEN` bytes of stack below the caller's frame.
#[inline(never)]
pub(crate) fn stack() {
    let mut dead = [0u8; SCRUB_LEN];
    // The buffer's address escapes into an opaque call, so the compiler must really write the
    // zeros; without it, it could drop the never-read array and its initialization.
    core::hint::black_box(&mut dead);
}
