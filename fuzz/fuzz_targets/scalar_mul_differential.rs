//! Our Jacobian P-384 scalar multiplication (`alliancepay_jose::scalar_mul`) against `p384`'s,
//! on an arbitrary scalar and point. Input layout and what is compared:
//! `alliancepay_jose_fuzz::checks::scalar_mul_differential`.
#![no_main]

libfuzzer_sys::fuzz_target!(
    |data: &[u8]| alliancepay_jose_fuzz::checks::scalar_mul_differential(data)
);
