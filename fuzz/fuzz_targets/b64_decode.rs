//! Arbitrary bytes as base64url text (decode → encode must give the text back) and as data
//! (encode → decode must give the data back), against a reference codec. The properties:
//! `alliancepay_jose_fuzz::checks::b64_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alliancepay_jose_fuzz::checks::b64_decode(data));
