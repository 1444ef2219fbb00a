//! Encrypt → decrypt of an arbitrary plaintext with arbitrary `alg`, `enc`, `apu`, `apv`, `kid`,
//! `typ` and `cty`, randomness seeded from the input; lengths must match the length functions.
//! Input layout and properties: `alliancepay_jose_fuzz::checks::roundtrip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alliancepay_jose_fuzz::checks::roundtrip(data));
