//! Arbitrary HTTP status, content type and body as the bank's answer to an authorization, to a
//! call and as a callback. Input layout and properties: `alliancepay_jose_fuzz::bank::bank_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alliancepay_jose_fuzz::bank::bank_response(data));
