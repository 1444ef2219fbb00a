//! Our JWK parsing and ECDH-ES key agreement against `p384`'s own API, on an arbitrary scalar
//! and point. Input layout, and exactly what is compared and why:
//! `alliancepay_jose_fuzz::checks::ecdh_differential`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alliancepay_jose_fuzz::checks::ecdh_differential(data));
