//! Known answers published by others, read from `tests/vectors/` (origins in its README.md).
//!
//! - RFC 7518 Appendix C: the Concat KDF example.
//! - RFC 7520 §5.4: the one published ECDH-ES key-wrap example on P-384, decrypted, and
//!   re-encrypted with the ephemeral key, CEK and IV replayed through the RNG.
//! - RFC 3394 §4: AES key wrap, checked against the `aes-kw` crate that our encrypt calls; the
//!   test `our_encrypt_is_ecdh_kdf_aes_kw_aes_gcm` shows that every byte our encrypt writes is
//!   what those primitives produce, so vectors that pin `aes-kw` and `aes-gcm` pin our path.
//! - Wycheproof: P-384 ECDH (JWK and raw-point inputs), AES-GCM, AES-KW, whole JWE tokens and
//!   JWK sets.
//!
//! Each file-driven test prints `ran N, passed N, skipped N (reasons)` and, on failure, lists
//! every failing vector by its id with the reason, rather than stopping at the first.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Display;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, Nonce, Tag};
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use aes_gcm::{AesGcm, KeyInit};
use aes_kw::{KwAes128, KwAes192, KwAes256};
use alliancepay_jose::kdf::{OtherInfo, concat_kdf};
use alliancepay_jose::{
    AllowList, ContentEncryptionAlg, EncryptOptions, Error, KeyManagementAlg, PrivateJwk,
    PublicJwk, b64, decrypt, decrypt_in_place, encrypt, max_plaintext_len,
};
use p384::ecdh::diffie_hellman;
use p384::{FieldBytes, SecretKey};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Shared helpers (also used by `negative`).

/// Parses a JSON file under `tests/vectors/`.
pub(crate) fn load(name: &str) -> Value {
    let path = format!("{}/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

/// Canonical unpadded base64url, through our own encoder.
pub(crate) fn b64e(bytes: &[u8]) -> String {
    let mut out = vec![0u8; b64::encoded_len(bytes.len())];
    b64::encode(bytes, &mut out)
        .expect("buffer sized by encoded_len")
        .to_owned()
}

/// Strict base64url decoding through our own decoder; `None` if it refuses the text.
pub(crate) fn b64d(text: &str) -> Option<Vec<u8>> {
    let mut out = vec![0u8; b64::decoded_len(text.len())];
    let len = b64::decode(text.as_bytes(), &mut out).ok()?.len();
    out.truncate(len);
    Some(out)
}

/// A test RNG that hands out fixed bytes in order, so an encryption can be made to use a
/// published ephemeral key, CEK and IV. Running out is a test bug, hence the panic.
pub(crate) struct ReplayRng {
    bytes: Vec<u8>,
    at: usize,
}

impl ReplayRng {
    pub(crate) fn new(chunks: &[&[u8]]) -> Self {
        Self {
            bytes: chunks.concat(),
            at: 0,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }
}

impl rand_core::TryRng for ReplayRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut word = [0u8; 4];
        self.try_fill_bytes(&mut word)?;
        Ok(u32::from_le_bytes(word))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut word = [0u8; 8];
        self.try_fill_bytes(&mut word)?;
        Ok(u64::from_le_bytes(word))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let end = self.at + dst.len();
        assert!(
            end <= self.bytes.len(),
            "replay RNG exhausted: {} bytes asked at offset {} of {}",
            dst.len(),
            self.at,
            self.bytes.len()
        );
        dst.copy_from_slice(&self.bytes[self.at..end]);
        self.at = end;
        Ok(())
    }
}

// Only the bytes the test chose come out; "cryptographic" is the caller's claim to make.
impl rand_core::TryCryptoRng for ReplayRng {}

/// Outcome counts for one known-answer file.
#[derive(Default)]
struct Tally {
    ran: usize,
    passed: usize,
    skipped: BTreeMap<String, usize>,
    notes: Vec<String>,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, id: impl Display, outcome: Result<(), String>) {
        self.ran += 1;
        match outcome {
            Ok(()) => self.passed += 1,
            Err(reason) => self.failures.push(format!("{id}: {reason}")),
        }
    }

    fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }

    fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Prints the counts and fails with every failing vector listed.
    fn finish(self, name: &str) {
        let skipped: usize = self.skipped.values().sum();
        let reasons: Vec<String> = self
            .skipped
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        let reasons = if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join("; "))
        };
        println!(
            "{name}: ran {}, passed {}, skipped {skipped}{reasons}",
            self.ran, self.passed
        );
        for note in &self.notes {
            println!("  {name}: {note}");
        }
        assert!(
            self.failures.is_empty(),
            "{name}: {} of {} failed:\n  {}",
            self.failures.len(),
            self.ran,
            self.failures.join("\n  ")
        );
    }
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap_or_else(|e| panic!("bad hex in a vector file ({e}): {text}"))
}

fn str_of<'a>(value: &'a Value, member: &str) -> &'a str {
    value[member]
        .as_str()
        .unwrap_or_else(|| panic!("vector member {member:?} is not a string"))
}

/// AES key wrap with the `aes-kw` type the KEK length selects, as our `with_kw!` does.
fn kw_wrap(kek: &[u8], data: &[u8]) -> Result<Vec<u8>, aes_kw::Error> {
    let mut out = vec![0u8; data.len() + 8];
    let len = match kek.len() {
        16 => KwAes128::new_from_slice(kek).map(|kw| kw.wrap_key(data, &mut out).map(|w| w.len())),
        24 => KwAes192::new_from_slice(kek).map(|kw| kw.wrap_key(data, &mut out).map(|w| w.len())),
        32 => KwAes256::new_from_slice(kek).map(|kw| kw.wrap_key(data, &mut out).map(|w| w.len())),
        n => panic!("no AES-KW for a {n}-byte KEK"),
    }
    .expect("KEK length matches the cipher")?;
    out.truncate(len);
    Ok(out)
}

fn kw_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<Vec<u8>, aes_kw::Error> {
    let mut out = vec![0u8; wrapped.len()];
    let len = match kek.len() {
        16 => KwAes128::new_from_slice(kek)
            .map(|kw| kw.unwrap_key(wrapped, &mut out).map(|k| k.len())),
        24 => KwAes192::new_from_slice(kek)
            .map(|kw| kw.unwrap_key(wrapped, &mut out).map(|k| k.len())),
        32 => KwAes256::new_from_slice(kek)
            .map(|kw| kw.unwrap_key(wrapped, &mut out).map(|k| k.len())),
        n => panic!("no AES-KW for a {n}-byte KEK"),
    }
    .expect("KEK length matches the cipher")?;
    out.truncate(len);
    Ok(out)
}

fn seal_with<C: KeyInit + AeadInOut>(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    msg: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let cipher = C::new_from_slice(key).expect("key length matches the cipher");
    let nonce = Nonce::<C>::try_from(iv).expect("96-bit IV");
    let mut buf = msg.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into())
        .expect("AES-GCM seal");
    (buf, tag.to_vec())
}

fn open_with<C: KeyInit + AeadInOut>(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    ct: &[u8],
    tag: &[u8],
) -> Option<Vec<u8>> {
    let cipher = C::new_from_slice(key).expect("key length matches the cipher");
    let nonce = Nonce::<C>::try_from(iv).expect("96-bit IV");
    let tag = Tag::<C>::try_from(tag).ok()?;
    let mut buf = ct.to_vec();
    cipher
        .decrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into(), &tag)
        .ok()?;
    Some(buf)
}

/// AES-GCM with a 96-bit IV, the cipher chosen by key length as our `with_gcm!` does.
/// Returns (ciphertext, tag).
fn gcm_seal(key: &[u8], iv: &[u8], aad: &[u8], msg: &[u8]) -> (Vec<u8>, Vec<u8>) {
    match key.len() {
        16 => seal_with::<AesGcm<Aes128, U12>>(key, iv, aad, msg),
        24 => seal_with::<AesGcm<Aes192, U12>>(key, iv, aad, msg),
        32 => seal_with::<AesGcm<Aes256, U12>>(key, iv, aad, msg),
        n => panic!("no AES-GCM for a {n}-byte key"),
    }
}

fn gcm_open(key: &[u8], iv: &[u8], aad: &[u8], ct: &[u8], tag: &[u8]) -> Option<Vec<u8>> {
    match key.len() {
        16 => open_with::<AesGcm<Aes128, U12>>(key, iv, aad, ct, tag),
        24 => open_with::<AesGcm<Aes192, U12>>(key, iv, aad, ct, tag),
        32 => open_with::<AesGcm<Aes256, U12>>(key, iv, aad, ct, tag),
        n => panic!("no AES-GCM for a {n}-byte key"),
    }
}

/// A P-384 scalar from big-endian hex that may carry a leading zero byte or lack leading zeros.
fn scalar_48(text: &str) -> [u8; 48] {
    let bytes = unhex(text);
    let significant = &bytes[bytes.len().saturating_sub(48)..];
    assert!(
        bytes[..bytes.len() - significant.len()]
            .iter()
            .all(|&b| b == 0),
        "scalar longer than 48 bytes: {text}"
    );
    let mut out = [0u8; 48];
    out[48 - significant.len()..].copy_from_slice(significant);
    out
}

fn secret_from(d: [u8; 48]) -> SecretKey {
    SecretKey::from_bytes(&FieldBytes::from(d)).expect("scalar in [1, n-1]")
}

/// The shared secret as our decrypt's key agreement computes it: in the `hazmat` build with
/// `scalar_mul` (the Jacobian multiplication of `hazmat-scalar-mul`), checked against `p384`'s
/// own ECDH; in the default build `p384`'s ECDH is the key agreement itself.
#[cfg(not(feature = "hazmat"))]
fn shared_secret(private: &SecretKey, public: &PublicJwk) -> Vec<u8> {
    let peer = public.public_key().as_affine();
    diffie_hellman(private.to_nonzero_scalar(), peer)
        .raw_secret_bytes()
        .to_vec()
}

/// See the default build's `shared_secret` above.
#[cfg(feature = "hazmat")]
fn shared_secret(private: &SecretKey, public: &PublicJwk) -> Vec<u8> {
    use p384::elliptic_curve::point::AffineCoordinates;
    let scalar = private.to_nonzero_scalar();
    let peer = public.public_key().as_affine();
    let ours = alliancepay_jose::scalar_mul::mul(peer, &scalar)
        .expect("a valid public key times a non-zero scalar")
        .x()
        .to_vec();
    let theirs = diffie_hellman(scalar, peer).raw_secret_bytes().to_vec();
    assert_eq!(ours, theirs, "scalar_mul and p384 disagree");
    ours
}

// ---------------------------------------------------------------------------------------------
// RFC 7518 Appendix C and RFC 7520 §5.4.

/// RFC 7518 Appendix C: P-256, so only the KDF step applies to us; it is curve-independent and
/// takes a Z of any length.
#[test]
fn rfc7518_appendix_c_concat_kdf() {
    let v = load("rfc7518_appendix_c.json");
    let mut tally = Tally::default();
    let z = unhex(str_of(&v, "Z_hex"));
    let info = OtherInfo {
        algorithm_id: str_of(&v, "enc").as_bytes(),
        party_u_info: str_of(&v, "apu_utf8").as_bytes(),
        party_v_info: str_of(&v, "apv_utf8").as_bytes(),
    };
    let mut key = [0u8; 16];
    concat_kdf(&z, &info, &mut key);
    let expected = unhex(str_of(&v, "derived_key_hex"));
    tally.check(
        "Appendix C derived key",
        if key[..] == expected[..] && b64e(&key) == str_of(&v, "derived_key_b64u") {
            Ok(())
        } else {
            Err(format!(
                "got {}, want {}",
                hex::encode(key),
                hex::encode(&expected)
            ))
        },
    );
    tally.skip("ECDH step: the example is on P-256");
    tally.finish("RFC 7518 Appendix C");
}

struct Rfc7520 {
    v: Value,
    recipient: PrivateJwk,
    plaintext: Vec<u8>,
}

fn rfc7520() -> Rfc7520 {
    let v = load("rfc7520_5_4.json");
    let recipient = PrivateJwk::from_json(v["recipient_key"].to_string().as_bytes())
        .expect("RFC 7520 recipient key parses");
    let plaintext = unhex(str_of(&v, "plaintext_hex"));
    Rfc7520 {
        v,
        recipient,
        plaintext,
    }
}

const RFC7520_PAIR: AllowList = AllowList::BANK_PROFILE.with(
    KeyManagementAlg::EcdhEsA128Kw,
    ContentEncryptionAlg::A128Gcm,
);

#[test]
fn rfc7520_5_4_decrypts() {
    let r = rfc7520();
    let token = str_of(&r.v, "compact").as_bytes();
    let mut out = vec![0u8; max_plaintext_len(token.len())];

    assert_eq!(
        decrypt(&r.recipient, token, AllowList::default(), &mut out),
        Err(Error::NotAllowed {
            alg: KeyManagementAlg::EcdhEsA128Kw,
            enc: ContentEncryptionAlg::A128Gcm
        }),
        "the bank profile alone must refuse ECDH-ES+A128KW / A128GCM"
    );
    let plaintext = decrypt(&r.recipient, token, RFC7520_PAIR, &mut out).expect("decrypt");
    assert_eq!(plaintext, &r.plaintext[..]);
    let plaintext = decrypt(&r.recipient, token, AllowList::ALL, &mut out).expect("decrypt");
    assert_eq!(plaintext, &r.plaintext[..]);

    let mut in_place = token.to_vec();
    let plaintext = decrypt_in_place(&r.recipient, &mut in_place, RFC7520_PAIR).expect("in place");
    assert_eq!(plaintext, &r.plaintext[..]);
    println!("RFC 7520 5.4: ran 4 (refused by default, decrypt x2, decrypt_in_place), passed 4");
}

/// Each step on its own: ECDH from both sides gives Z, Concat KDF gives the KEK, AES-KW and
/// AES-GCM reproduce the published encrypted key, ciphertext and tag.
#[test]
fn rfc7520_5_4_intermediates() {
    let r = rfc7520();
    let v = &r.v;
    let mid = &v["computed_intermediates"];
    let z = unhex(str_of(mid, "Z_hex"));
    let kek = unhex(str_of(mid, "kek_hex"));
    let cek = b64d(str_of(v, "cek_b64u")).expect("cek");
    let iv = b64d(str_of(v, "iv_b64u")).expect("iv");

    let ephemeral = PrivateJwk::from_json(v["ephemeral_key"].to_string().as_bytes())
        .expect("RFC 7520 ephemeral key parses");
    assert_eq!(
        shared_secret(r.recipient.secret_key(), ephemeral.public_jwk()),
        z,
        "Z, recipient side"
    );
    assert_eq!(
        shared_secret(ephemeral.secret_key(), r.recipient.public_jwk()),
        z,
        "Z, sender side"
    );

    let info = OtherInfo {
        algorithm_id: b"ECDH-ES+A128KW",
        party_u_info: b"",
        party_v_info: b"",
    };
    let mut derived = [0u8; 16];
    concat_kdf(&z, &info, &mut derived);
    assert_eq!(derived[..], kek[..], "KEK");

    let encrypted_key = kw_wrap(&kek, &cek).expect("wrap");
    assert_eq!(b64e(&encrypted_key), str_of(v, "encrypted_key_b64u"));
    assert_eq!(kw_unwrap(&kek, &encrypted_key).expect("unwrap"), cek);

    let aad = str_of(v, "protected_b64u").as_bytes();
    let (ciphertext, tag) = gcm_seal(&cek, &iv, aad, &r.plaintext);
    assert_eq!(b64e(&ciphertext), str_of(v, "ciphertext_b64u"));
    assert_eq!(b64e(&tag), str_of(v, "tag_b64u"));
    println!("RFC 7520 5.4 intermediates: ran 6 (Z x2, KEK, wrap, ciphertext, tag), passed 6");
}

/// Our encrypt with the RFC's ephemeral key, CEK and IV replayed through the RNG. p384 draws
/// the ephemeral scalar first (one 48-byte big-endian fill, kept if below the group order),
/// then encrypt fills the CEK, then the IV; the RNG must end up exactly drained.
///
/// Our header lists `alg`, `enc`, `epk` (and no `kid`) where the RFC has `alg`, `kid`, `epk`,
/// `enc`, so the header part and with it the AAD differ. The encrypted key does not depend on
/// the header and must match byte for byte; so must the GCM ciphertext (counter-mode keystream
/// from CEK and IV only). Only the tag, which covers the AAD, differs.
#[test]
fn rfc7520_5_4_deterministic_encrypt() {
    let r = rfc7520();
    let v = &r.v;
    let ephemeral_d = b64d(str_of(&v["ephemeral_key"], "d")).expect("d");
    let cek = b64d(str_of(v, "cek_b64u")).expect("cek");
    let iv = b64d(str_of(v, "iv_b64u")).expect("iv");
    let mut rng = ReplayRng::new(&[&ephemeral_d, &cek, &iv]);
    let options = EncryptOptions {
        alg: KeyManagementAlg::EcdhEsA128Kw,
        enc: ContentEncryptionAlg::A128Gcm,
        ..EncryptOptions::BANK
    };
    let mut out = vec![0u8; options.token_len(r.plaintext.len()).expect("token_len")];
    let token = encrypt(
        r.recipient.public_jwk(),
        &r.plaintext,
        &options,
        &mut rng,
        &mut out,
    )
    .expect("encrypt")
    .to_owned();
    assert_eq!(rng.remaining(), 0, "encrypt must draw exactly d, CEK, IV");

    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 5);
    let header: Value = serde_json::from_slice(&b64d(parts[0]).expect("header")).expect("JSON");
    assert_eq!(header["alg"], "ECDH-ES+A128KW");
    assert_eq!(header["enc"], "A128GCM");
    assert_eq!(header["epk"]["x"], v["ephemeral_key"]["x"], "epk x");
    assert_eq!(header["epk"]["y"], v["ephemeral_key"]["y"], "epk y");
    assert_eq!(parts[1], str_of(v, "encrypted_key_b64u"), "encrypted key");
    assert_eq!(parts[2], str_of(v, "iv_b64u"), "IV");
    assert_eq!(parts[3], str_of(v, "ciphertext_b64u"), "ciphertext");
    assert_ne!(parts[4], str_of(v, "tag_b64u"), "tag covers our own header");
    let (_, tag) = gcm_seal(&cek, &iv, parts[0].as_bytes(), &r.plaintext);
    assert_eq!(parts[4], b64e(&tag), "tag over our header");

    let mut plain = vec![0u8; r.plaintext.len()];
    let decrypted =
        decrypt(&r.recipient, token.as_bytes(), RFC7520_PAIR, &mut plain).expect("decrypt");
    assert_eq!(decrypted, &r.plaintext[..]);
    println!("RFC 7520 5.4 deterministic encrypt: encrypted key, IV, ciphertext equal the RFC's");
}

// ---------------------------------------------------------------------------------------------
// RFC 3394 and the tie between our encrypt and the primitives.

#[test]
fn rfc3394_section4_aes_kw() {
    let v = load("rfc3394_section4.json");
    let mut tally = Tally::default();
    for case in v["tests"].as_array().expect("tests") {
        let kek = unhex(str_of(case, "kek"));
        let data = unhex(str_of(case, "key_data"));
        let expected = unhex(str_of(case, "ciphertext"));
        let outcome = match (kw_wrap(&kek, &data), kw_unwrap(&kek, &expected)) {
            (Ok(wrapped), Ok(unwrapped)) if wrapped == expected && unwrapped == data => Ok(()),
            (wrapped, unwrapped) => Err(format!(
                "wrap {:?}, unwrap {:?}",
                wrapped.map(hex::encode),
                unwrapped.map(hex::encode)
            )),
        };
        tally.check(format!("RFC 3394 §{}", str_of(case, "section")), outcome);
    }
    tally.finish("RFC 3394 section 4");
}

/// Every byte our encrypt writes, for every (`alg`, `enc`) pair, recomputed from the RustCrypto
/// primitives with the same ephemeral key, CEK and IV: p384 ECDH, our Concat KDF, `aes-kw`,
/// `aes-gcm`. This is what lets the RFC 3394 and Wycheproof AES vectors below speak for us.
#[test]
fn our_encrypt_is_ecdh_kdf_aes_kw_aes_gcm() {
    let r = rfc7520();
    let ephemeral_d = b64d(str_of(&r.v["ephemeral_key"], "d")).expect("d");
    let ephemeral =
        secret_from(<[u8; 48]>::try_from(&ephemeral_d[..]).expect("48-byte ephemeral d"));
    let cek_source: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37) ^ 0x5c).collect();
    let iv = unhex("000102030405060708090a0b");
    let plaintext = br#"{"amount":100,"currency":"UAH"}"#;
    let z = shared_secret(&ephemeral, r.recipient.public_jwk());
    let mut tally = Tally::default();
    for &alg in KeyManagementAlg::ALL {
        for &enc in ContentEncryptionAlg::ALL {
            let options = EncryptOptions {
                alg,
                enc,
                ..EncryptOptions::BANK
            };
            let cek_len = enc.key_len();
            let mut rng = match alg.kek_len() {
                Some(_) => ReplayRng::new(&[&ephemeral_d, &cek_source[..cek_len], &iv]),
                None => ReplayRng::new(&[&ephemeral_d, &iv]),
            };
            let mut out = vec![0u8; options.token_len(plaintext.len()).expect("token_len")];
            let token = encrypt(
                r.recipient.public_jwk(),
                plaintext,
                &options,
                &mut rng,
                &mut out,
            )
            .expect("encrypt")
            .to_owned();
            let parts: Vec<&str> = token.split('.').collect();

            let (cek, expected_key) = match alg.kek_len() {
                Some(kek_len) => {
                    let mut kek = vec![0u8; kek_len];
                    let info = OtherInfo {
                        algorithm_id: alg.name().as_bytes(),
                        party_u_info: b"",
                        party_v_info: b"",
                    };
                    concat_kdf(&z, &info, &mut kek);
                    let cek = cek_source[..cek_len].to_vec();
                    let wrapped = kw_wrap(&kek, &cek).expect("wrap");
                    (cek, wrapped)
                }
                None => {
                    let mut cek = vec![0u8; cek_len];
                    let info = OtherInfo {
                        algorithm_id: enc.name().as_bytes(),
                        party_u_info: b"",
                        party_v_info: b"",
                    };
                    concat_kdf(&z, &info, &mut cek);
                    (cek, Vec::new())
                }
            };
            let (ciphertext, tag) = gcm_seal(&cek, &iv, parts[0].as_bytes(), plaintext);
            let mut problems = Vec::new();
            if rng.remaining() != 0 {
                problems.push(format!("{} RNG bytes left over", rng.remaining()));
            }
            for (what, got, want) in [
                ("encrypted key", parts[1], b64e(&expected_key)),
                ("IV", parts[2], b64e(&iv)),
                ("ciphertext", parts[3], b64e(&ciphertext)),
                ("tag", parts[4], b64e(&tag)),
            ] {
                if got != want {
                    problems.push(format!("{what}: got {got}, want {want}"));
                }
            }
            tally.check(
                format!("{alg} / {enc}"),
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems.join("; "))
                },
            );
        }
    }
    tally.finish("encrypt vs primitives");
}

// ---------------------------------------------------------------------------------------------
// Wycheproof.

fn groups(file: &Value) -> &Vec<Value> {
    file["testGroups"].as_array().expect("testGroups")
}

fn cases(group: &Value) -> &Vec<Value> {
    group["tests"].as_array().expect("tests")
}

fn tc_id(case: &Value) -> String {
    format!(
        "tcId {} ({})",
        case["tcId"],
        case["comment"].as_str().unwrap_or("")
    )
}

fn flags(case: &Value) -> Vec<String> {
    case["flags"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Per-flag (ran, passed) counts, printed as a note.
fn flag_note(counts: &BTreeMap<String, (usize, usize)>) -> String {
    let parts: Vec<String> = counts
        .iter()
        .map(|(flag, (ran, passed))| format!("{flag} {passed}/{ran}"))
        .collect();
    format!("per flag (passed/ran): {}", parts.join(", "))
}

fn count_flags(
    counts: &mut BTreeMap<String, (usize, usize)>,
    case: &Value,
    outcome: &Result<(), String>,
) {
    for flag in flags(case) {
        let entry = counts.entry(flag).or_default();
        entry.0 += 1;
        entry.1 += usize::from(outcome.is_ok());
    }
}

/// Both keys as JWKs: the closest Wycheproof comes to our parser's input. A valid case must
/// parse and agree on the shared secret; an invalid one (point off the curve, other curves)
/// must be refused by `PublicJwk::from_json` before any arithmetic.
#[test]
fn wycheproof_ecdh_secp384r1_webcrypto() {
    let file = load("wycheproof/testvectors_v1/ecdh_secp384r1_webcrypto_test.json");
    let mut tally = Tally::default();
    let mut per_flag = BTreeMap::new();
    for group in groups(&file) {
        for case in cases(group) {
            let outcome = (|| {
                let private = PrivateJwk::from_json(case["private"].to_string().as_bytes())
                    .map_err(|e| format!("private key refused: {e}"))?;
                let public = PublicJwk::from_json(case["public"].to_string().as_bytes());
                match (str_of(case, "result"), public) {
                    ("valid", Ok(public)) => {
                        let shared = shared_secret(private.secret_key(), &public);
                        if hex::encode(&shared) == str_of(case, "shared") {
                            Ok(())
                        } else {
                            Err(format!("shared secret {}", hex::encode(&shared)))
                        }
                    }
                    ("valid", Err(e)) => Err(format!("valid public key refused: {e}")),
                    (_, Err(_)) => Ok(()),
                    (_, Ok(public)) => {
                        // Tolerable only if the secret is not the one the test says leaks.
                        let shared = hex::encode(shared_secret(private.secret_key(), &public));
                        let expected = str_of(case, "shared");
                        if !expected.is_empty() && shared != expected {
                            Ok(())
                        } else {
                            Err("invalid public key accepted".to_owned())
                        }
                    }
                }
            })();
            count_flags(&mut per_flag, case, &outcome);
            tally.check(tc_id(case), outcome);
        }
    }
    tally.note(flag_note(&per_flag));
    tally.finish("Wycheproof ecdh_secp384r1_webcrypto");
}

/// The same curve cases with the peer key as a SEC1 point; uncompressed points become a JWK.
#[test]
fn wycheproof_ecdh_secp384r1_ecpoint() {
    let file = load("wycheproof/testvectors_v1/ecdh_secp384r1_ecpoint_test.json");
    let mut tally = Tally::default();
    let mut per_flag = BTreeMap::new();
    for group in groups(&file) {
        for case in cases(group) {
            let point = unhex(str_of(case, "public"));
            match point.first() {
                Some(0x04) if point.len() == 97 => {}
                Some(0x02 | 0x03) => {
                    tally.skip("compressed point: a JWK always carries both coordinates");
                    continue;
                }
                _ => {
                    tally.skip("malformed SEC1 encoding: no JWK equivalent");
                    continue;
                }
            }
            let jwk = format!(
                r#"{{"kty":"EC","crv":"P-384","x":"{}","y":"{}"}}"#,
                b64e(&point[1..49]),
                b64e(&point[49..])
            );
            let private = secret_from(scalar_48(str_of(case, "private")));
            let outcome = match (str_of(case, "result"), PublicJwk::from_json(jwk.as_bytes())) {
                ("valid" | "acceptable", Ok(public)) => {
                    let shared = hex::encode(shared_secret(&private, &public));
                    if shared == str_of(case, "shared") {
                        Ok(())
                    } else {
                        Err(format!("shared secret {shared}"))
                    }
                }
                ("valid", Err(e)) => Err(format!("valid public key refused: {e}")),
                (_, Err(_)) => Ok(()),
                (_, Ok(_)) => Err("invalid public key accepted".to_owned()),
            };
            count_flags(&mut per_flag, case, &outcome);
            tally.check(tc_id(case), outcome);
        }
    }
    tally.note(flag_note(&per_flag));
    tally.finish("Wycheproof ecdh_secp384r1_ecpoint");
}

/// AES-GCM as JWE uses it (96-bit IV, 128-bit tag) through `aes-gcm`, the crate our
/// `with_gcm!` calls. Other IV sizes cannot reach it: decrypt refuses any IV but 12 bytes and
/// any tag but 16 first (`negative::iv_of_wrong_length`, `negative::tag_of_wrong_length`).
#[test]
fn wycheproof_aes_gcm() {
    let file = load("wycheproof/testvectors_v1/aes_gcm_test.json");
    let mut tally = Tally::default();
    let mut other_iv_bits = std::collections::BTreeSet::new();
    for group in groups(&file) {
        let (iv_bits, tag_bits) = (&group["ivSize"], &group["tagSize"]);
        if iv_bits != 96 || tag_bits != 128 {
            let reason = if iv_bits != 96 {
                other_iv_bits.insert(iv_bits.as_u64().unwrap_or_default());
                "with an IV other than 96 bits: JWE uses 96 only"
            } else {
                "with a tag other than 128 bits: JWE uses 128 only"
            };
            for _ in cases(group) {
                tally.skip(reason);
            }
            continue;
        }
        for case in cases(group) {
            let key = unhex(str_of(case, "key"));
            let iv = unhex(str_of(case, "iv"));
            let aad = unhex(str_of(case, "aad"));
            let msg = unhex(str_of(case, "msg"));
            let ct = unhex(str_of(case, "ct"));
            let tag = unhex(str_of(case, "tag"));
            let opened = gcm_open(&key, &iv, &aad, &ct, &tag);
            let outcome = match str_of(case, "result") {
                "valid" => {
                    let (sealed_ct, sealed_tag) = gcm_seal(&key, &iv, &aad, &msg);
                    if sealed_ct != ct || sealed_tag != tag {
                        Err("seal differs".to_owned())
                    } else if opened.as_deref() != Some(&msg[..]) {
                        Err("open failed".to_owned())
                    } else {
                        Ok(())
                    }
                }
                _ if opened.is_some() => Err("forged ciphertext opened".to_owned()),
                _ => Ok(()),
            };
            tally.check(tc_id(case), outcome);
        }
    }
    tally.note(format!("skipped IV sizes in bits: {other_iv_bits:?}"));
    tally.finish("Wycheproof aes_gcm");
}

/// AES-KW through `aes-kw`, the crate our `with_kw!` calls, for the three KEK sizes we use.
/// Our decrypt hands the unwrap only an encrypted key of exactly CEK + 8 bytes (24, 32 or 40);
/// invalid cases of other lengths stop at that check, so they are skipped here (what `aes-kw`
/// alone does with them is printed as a note).
#[test]
fn wycheproof_aes_wrap() {
    let file = load("wycheproof/testvectors_v1/aes_wrap_test.json");
    let mut tally = Tally::default();
    let (mut other_lengths, mut other_lengths_refused) = (0, 0);
    let mut accepted_by_aes_kw = Vec::new();
    for group in groups(&file) {
        for case in cases(group) {
            let key = unhex(str_of(case, "key"));
            let msg = unhex(str_of(case, "msg"));
            let ct = unhex(str_of(case, "ct"));
            let result = str_of(case, "result");
            if result != "valid" && ![24, 32, 40].contains(&ct.len()) {
                other_lengths += 1;
                let refused = kw_unwrap(&key, &ct).is_err()
                    && (!ct.is_empty() || kw_wrap(&key, &msg).is_err());
                other_lengths_refused += usize::from(refused);
                if !refused {
                    accepted_by_aes_kw.push(format!("{} {:?}", case["tcId"], flags(case)));
                }
                tally.skip(format!(
                    "{result} with a wrapped length outside 24/32/40: refused by our length check"
                ));
                continue;
            }
            let outcome = match result {
                "valid" => match (kw_wrap(&key, &msg), kw_unwrap(&key, &ct)) {
                    (Ok(w), Ok(u)) if w == ct && u == msg => Ok(()),
                    (w, u) => Err(format!("wrap ok {}, unwrap ok {}", w.is_ok(), u.is_ok())),
                },
                _ if kw_unwrap(&key, &ct).is_ok() => Err("invalid wrapped key accepted".into()),
                _ => Ok(()),
            };
            tally.check(tc_id(case), outcome);
        }
    }
    tally.note(format!(
        "aes-kw on its own refuses {other_lengths_refused} of the {other_lengths} skipped cases; \
         it accepts tcId {}",
        accepted_by_aes_kw.join(", ")
    ));
    tally.finish("Wycheproof aes_wrap");
}

/// Why a Wycheproof JWE case is beyond what this crate implements, or `None` if it is within.
fn jwe_out_of_scope(token: &str, key: &Value) -> Option<String> {
    if token.trim_start().starts_with('{') || token.split('.').count() == 1 {
        return Some("JSON serialization: compact only".into());
    }
    let header: Value = token
        .split('.')
        .next()
        .and_then(b64d)
        .and_then(|h| serde_json::from_slice(&h).ok())?;
    let alg = header["alg"].as_str().unwrap_or_default();
    let enc = header["enc"].as_str().unwrap_or_default();
    if KeyManagementAlg::from_name(alg).is_none() {
        return Some(match alg {
            a if a.starts_with("RSA") => "RSA key management: not supported".into(),
            "dir" => "dir (shared content key): not supported".into(),
            a if a.ends_with("GCMKW") => "AxxxGCMKW: not supported".into(),
            a if a.ends_with("KW") => "AxxxKW with a shared key: not supported".into(),
            a => format!("alg {a}: not supported"),
        });
    }
    if ContentEncryptionAlg::from_name(enc).is_none() {
        return Some(if enc.contains("CBC-HS") {
            "AxxxCBC-HSxxx: only AES-GCM content encryption".into()
        } else {
            format!("enc {enc}: not supported")
        });
    }
    if header.get("zip").is_some() {
        return Some("zip: compression refused by design".into());
    }
    let epk_crv = header["epk"]["crv"].as_str().unwrap_or_default();
    let key_crv = key["crv"].as_str().unwrap_or_default();
    if epk_crv != "P-384" || key_crv != "P-384" {
        return Some(format!("{key_crv} key: P-384 only"));
    }
    None
}

/// Whole tokens. Valid cases within our scope must decrypt to `pt`; every invalid case must
/// be refused (with every algorithm allowed, so it is the token and not the allow-list that
/// fails). Valid cases beyond our scope are skipped, and must be refused too.
#[test]
fn wycheproof_json_web_encryption() {
    let file = load("wycheproof/testvectors_v1/json_web_encryption_test.json");
    // Groups whose key is not a P-384 JWK get this one: the invalid tokens must be refused
    // whatever key we hold.
    let fallback = rfc7520().recipient;
    let mut tally = Tally::default();
    let (mut out_of_scope, mut out_of_scope_refused) = (0, 0);
    for group in groups(&file) {
        let key_json = &group["private"];
        let key = PrivateJwk::from_json(key_json.to_string().as_bytes()).ok();
        let key = key.as_ref().unwrap_or(&fallback);
        for case in cases(group) {
            let token = case["jwe"]
                .as_str()
                .map_or_else(|| case["jwe"].to_string(), str::to_owned);
            let mut out = vec![0u8; max_plaintext_len(token.len())];
            let result =
                decrypt(key, token.as_bytes(), AllowList::ALL, &mut out).map(|p| p.to_vec());
            let valid = str_of(case, "result") == "valid";
            if valid && let Some(reason) = jwe_out_of_scope(&token, key_json) {
                out_of_scope += 1;
                out_of_scope_refused += usize::from(result.is_err());
                tally.skip(reason);
                continue;
            }
            let outcome = match (valid, result) {
                (true, Ok(pt)) if pt == unhex(str_of(case, "pt")) => Ok(()),
                (true, Ok(_)) => Err("wrong plaintext".to_owned()),
                (true, Err(e)) => Err(format!("refused: {e}")),
                (false, Ok(_)) => Err("invalid token accepted".to_owned()),
                (false, Err(_)) => Ok(()),
            };
            tally.check(tc_id(case), outcome);
        }
    }
    tally.note(format!(
        "out-of-scope valid tokens refused by decrypt: {out_of_scope_refused} of {out_of_scope}"
    ));
    assert_eq!(
        out_of_scope_refused, out_of_scope,
        "a token beyond our scope was accepted"
    );
    tally.finish("Wycheproof json_web_encryption");
}

/// This file checks JWS verification against key sets; none of its keys is a P-384 encryption
/// key, so no case is within our scope. What does apply: our parser must refuse every key in
/// it, and the EC ones still when `alg` and `use` are removed, so that the curve, coordinate
/// and point checks (not the `alg` check) are what refuse them.
#[test]
fn wycheproof_json_web_key() {
    let file = load("wycheproof/testvectors_v1/json_web_key_test.json");
    let mut tally = Tally::default();
    for group in groups(&file) {
        for set in ["private", "public"] {
            let Some(keys) = group[set]["keys"].as_array() else {
                continue;
            };
            for (index, key) in keys.iter().enumerate() {
                let kty = key["kty"].as_str().unwrap_or("?");
                let label = format!("{} {set} key {index} (kty {kty})", group["comment"]);
                let text = key.to_string();
                let mut outcome = match (
                    PublicJwk::from_json(text.as_bytes()),
                    PrivateJwk::from_json(text.as_bytes()),
                ) {
                    (Err(_), Err(_)) => Ok(()),
                    _ => Err("key accepted".to_owned()),
                };
                if key.get("x").is_some() && outcome.is_ok() {
                    let mut bare = key.clone();
                    let members = bare.as_object_mut().expect("JWK object");
                    members.remove("alg");
                    members.remove("use");
                    let text = bare.to_string();
                    outcome = match (
                        PublicJwk::from_json(text.as_bytes()),
                        PrivateJwk::from_json(text.as_bytes()),
                    ) {
                        (Err(e), Err(_)) => {
                            tally.note(format!("{label} without alg/use: {e}"));
                            Ok(())
                        }
                        _ => Err("EC key without alg/use accepted".to_owned()),
                    };
                }
                tally.check(label, outcome);
            }
        }
        for _ in cases(group) {
            tally.skip("JWS verification cases: this crate has no JWS (their keys are checked)");
        }
    }
    tally.finish("Wycheproof json_web_key (keys)");
}
