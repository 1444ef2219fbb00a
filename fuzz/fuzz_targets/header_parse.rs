//! Arbitrary bytes as a decoded JWE protected header; what is accepted must read the same to
//! `serde_json`. The properties: `alliancepay_jose_fuzz::checks::header_parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alliancepay_jose_fuzz::checks::header_parse(data));
