//! Arbitrary bytes as a compact JWE for a fixed private key (RFC 7520 §5.4's recipient), every
//! compiled algorithm pair allowed, through `decrypt` and `decrypt_in_place`. The properties:
//! `alliancepay_jose_fuzz::checks::decrypt`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alliancepay_jose_fuzz::checks::decrypt(data));
