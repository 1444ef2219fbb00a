//! Arbitrary bytes as the decrypted session payload and as a bank timestamp. Properties:
//! `alliancepay_jose_fuzz::bank::session_payload`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| alliancepay_jose_fuzz::bank::session_payload(data));
