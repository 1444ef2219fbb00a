//! Arbitrary bytes as a public and as a private P-384 JWK; accepted keys must survive
//! write → parse unchanged. The properties: `alliancepay_jose_fuzz::checks::jwk_parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alliancepay_jose_fuzz::checks::jwk_parse(data));
