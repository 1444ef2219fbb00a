//! The properties the fuzz targets check: one public function per target, taking the raw fuzz
//! input and panicking (through `assert!`) when a property fails.
//!
//! This file is compiled twice. The fuzz crate builds it as `alliancepay_jose_fuzz::checks`, and
//! each `fuzz_targets/<name>.rs` is one call into it. The stable test suite includes the same
//! file by `#[path]` (`tests/tests/suite/fuzz_regressions.rs`) and replays every committed seed
//! and every crash reproducer through it, so `cargo test --workspace` exercises exactly what the
//! fuzzer checks without nightly. It may therefore use only crates both packages have:
//! `alliancepay_jose` (with feature `test-internals`, for `b64` and `kdf`), `p384`, `serde_json`
//! and `aes_gcm`.
//!
//! Inputs are raw bytes, with a small documented layout where a target needs structure
//! ([`roundtrip`], [`ecdh_differential`]), rather than `arbitrary`-derived types: the seeds are
//! written by `fuzz/seeds/generate.py` and replayed on stable, and a fixed layout is one both can
//! produce and read without depending on `arbitrary`'s encoding.

use std::convert::Infallible;
use std::sync::OnceLock;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, Nonce, Tag};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, KeyInit};
use alliancepay_jose::JwkError;
use alliancepay_jose::kdf::{OtherInfo, concat_kdf};
use alliancepay_jose::{
    AllowList, ContentEncryptionAlg, EncryptOptions, Error, HeaderError, KeyManagementAlg,
    MAX_HEADER_LEN, MAX_PARTY_INFO_LEN, PRIVATE_JWK_MAX_LEN, PUBLIC_JWK_MAX_LEN, PrivateJwk,
    ProtectedHeader, PublicJwk, b64, decrypt_in_place, max_plaintext_len, plaintext_len, token_len,
};
use p384::ecdh::diffie_hellman;
use p384::elliptic_curve::sec1::ToSec1Point;
use p384::{FieldBytes, PublicKey, SecretKey};
use serde_json::Value;

/// The private key the `decrypt` target decrypts with: the recipient key of RFC 7520 §5.4
/// (Figure 108), so the RFC's token (Figure 117) is a seed that decrypts successfully and the
/// fuzzer starts from a token that reaches AES-KW and AES-GCM.
pub const FIXED_PRIVATE_JWK: &str = concat!(
    r#"{"kty":"EC","crv":"P-384","#,
    r#""x":"YU4rRUzdmVqmRtWOs2OpDE_T5fsNIodcG8G5FWPrTPMyxpzsSOGaQLpe2FpxBmu2","#,
    r#""y":"A8-yxCHxkfBz3hKZfI1jUYMjUhsEveZ9THuwFjH2sCNdtksRJU7D5-SkgaFL1ETP","#,
    r#""d":"iTx2pk7wW-GqJkHcEkFQb2EFyYcO7RugmaW3mRrQVAOUiPommT0IdnYK2xDlZh-j"}"#
);

/// Longest plaintext [`roundtrip`] encrypts; longer inputs are truncated. A few KiB covers the
/// bank's session payloads and several 48-byte blocks of the in-place base64 encoder.
pub const MAX_ROUNDTRIP_PLAINTEXT: usize = 4096;

fn fixed_key() -> &'static PrivateJwk {
    static KEY: OnceLock<PrivateJwk> = OnceLock::new();
    KEY.get_or_init(|| {
        PrivateJwk::from_json(FIXED_PRIVATE_JWK.as_bytes()).expect("RFC 7520 key parses")
    })
}

// ---------------------------------------------------------------------------------------------
// Reference implementations, written here from the specifications so the core is compared with
// something that does not share its code.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url (RFC 4648 §5), bit by bit.
pub fn reference_encode(bytes: &[u8]) -> String {
    let mut text = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            text.push(char::from(ALPHABET[((acc >> bits) & 63) as usize]));
        }
    }
    if bits > 0 {
        text.push(char::from(ALPHABET[((acc << (6 - bits)) & 63) as usize]));
    }
    text
}

/// Canonical unpadded base64url decoding: alphabet characters only, no length `4k + 1`, and the
/// bits left over after the last whole byte all zero (RFC 4648 §3.5 lets a decoder require it;
/// RFC 7515 §2 wants one spelling per value). `None` when any rule fails.
pub fn reference_decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        let sextet = ALPHABET.iter().position(|&a| a == c)?;
        acc = ((acc << 6) | u32::try_from(sextet).ok()?) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    // 0, 2 or 4 bits remain; they must be zero.
    (acc & ((1 << bits) - 1) == 0).then_some(bytes)
}

/// Parses with `serde_json`, the reference JSON reader, and checks it agrees that `text` is JSON
/// whenever our strict reader accepted it. Returns the value, or `None` when `serde_json` refuses
/// it for a reason RFC 8259 leaves to implementations: a number outside `f64` (§6 lets a reader
/// limit the range) or an escaped lone surrogate (§8.2: "unpredictable" behaviour). Any other
/// refusal means our reader accepted text that is not JSON.
fn reference_json(text: &[u8]) -> Option<Value> {
    match serde_json::from_slice::<Value>(text) {
        Ok(value) => Some(value),
        Err(e) => {
            let message = e.to_string();
            let tolerated = [
                "number out of range",
                "surrogate",
                "hex escape",
                "unicode code point",
            ];
            assert!(
                tolerated.iter().any(|t| message.contains(t)),
                "our JSON reader accepted text serde_json refuses: {message}"
            );
            None
        }
    }
}

/// The string value of a top-level member as `serde_json` reads it.
fn json_str<'v>(value: &'v Value, member: &str) -> Option<&'v str> {
    value.get(member).and_then(Value::as_str)
}

fn jwk_text(x: &[u8; 48], y: &[u8; 48], d: Option<&[u8; 48]>) -> String {
    let mut text = format!(
        r#"{{"kty":"EC","crv":"P-384","x":"{}","y":"{}""#,
        reference_encode(x),
        reference_encode(y)
    );
    if let Some(d) = d {
        text.push_str(&format!(r#","d":"{}""#, reference_encode(d)));
    }
    text.push('}');
    text
}

/// Big-endian affine coordinates (`x`, `y`) of a P-384 point.
type Affine = ([u8; 48], [u8; 48]);

fn affine(key: &PublicKey) -> Affine {
    let sec1 = key.to_sec1_point(false);
    // A public key is never the identity, so its uncompressed form has both coordinates.
    let (Some(px), Some(py)) = (sec1.x(), sec1.y()) else {
        panic!("public key without affine coordinates");
    };
    let mut x = [0u8; 48];
    let mut y = [0u8; 48];
    x.copy_from_slice(px);
    y.copy_from_slice(py);
    (x, y)
}

// ---------------------------------------------------------------------------------------------
// jwk_parse

/// Target `jwk_parse`: the input as a public and as a private JWK.
///
/// - Whatever is accepted is JSON to `serde_json` too, and `serde_json` sees the same `kty`,
///   `crv`, `x`, `y` (and `d`) text: the strict reader never reads a different value than a
///   mainstream one.
/// - Write then parse gives the same key (and the same params and, for a private key, the same
///   scalar); writing is deterministic and within the documented maximum length.
/// - Public and private parsing agree: text with `d` is refused as a public key with
///   `UnexpectedPrivateKey`, text without it as a private key with `MissingMember("d")`.
pub fn jwk_parse(data: &[u8]) {
    let public = PublicJwk::from_json(data);
    let private = PrivateJwk::from_json(data);

    if let Ok(key) = &public {
        assert_eq!(private.as_ref().err(), Some(&JwkError::MissingMember("d")));
        check_jwk_members(data, key, None);
        let mut buf = [0u8; PUBLIC_JWK_MAX_LEN];
        let written = key
            .write_json(&mut buf)
            .expect("PUBLIC_JWK_MAX_LEN suffices");
        let again = PublicJwk::from_json(written.as_bytes()).expect("our own JWK parses");
        assert_eq!(&again, key);
        assert_eq!(again.thumbprint(), key.thumbprint());
        let mut buf2 = [0u8; PUBLIC_JWK_MAX_LEN];
        assert_eq!(again.write_json(&mut buf2).ok(), Some(written));
    }
    if let Ok(key) = &private {
        assert_eq!(public.as_ref().err(), Some(&JwkError::UnexpectedPrivateKey));
        assert_eq!(
            key.secret_key().public_key(),
            *key.public_jwk().public_key()
        );
        let d: [u8; 48] = key.secret_key().to_bytes().into();
        check_jwk_members(data, key.public_jwk(), Some(&d));
        let mut buf = [0u8; PRIVATE_JWK_MAX_LEN];
        let written = key
            .write_json(&mut buf)
            .expect("PRIVATE_JWK_MAX_LEN suffices");
        let again = PrivateJwk::from_json(written.as_bytes()).expect("our own JWK parses");
        assert_eq!(again.public_jwk(), key.public_jwk());
        assert_eq!(again.secret_key().to_bytes(), key.secret_key().to_bytes());
        let mut buf2 = [0u8; PRIVATE_JWK_MAX_LEN];
        assert_eq!(again.write_json(&mut buf2).ok(), Some(written));
    }
}

/// What `serde_json` reads from an accepted JWK must be the key we hold.
fn check_jwk_members(data: &[u8], key: &PublicJwk, d: Option<&[u8; 48]>) {
    let Some(value) = reference_json(data) else {
        return;
    };
    let (x, y) = key.coordinates();
    assert_eq!(json_str(&value, "kty"), Some("EC"));
    assert_eq!(json_str(&value, "crv"), Some("P-384"));
    assert_eq!(json_str(&value, "x"), Some(reference_encode(&x).as_str()));
    assert_eq!(json_str(&value, "y"), Some(reference_encode(&y).as_str()));
    let d_text = d.map(|d| reference_encode(d));
    assert_eq!(json_str(&value, "d"), d_text.as_deref());
    let params = key.params();
    assert_eq!(params.use_enc, json_str(&value, "use") == Some("enc"));
    assert_eq!(
        params.alg.map(KeyManagementAlg::name),
        json_str(&value, "alg")
    );
}

// ---------------------------------------------------------------------------------------------
// header_parse

/// Target `header_parse`: the input as a decoded protected header.
///
/// Whatever is accepted is JSON to `serde_json`, whose reading of `alg`, `enc` and the `epk`
/// coordinates is what we parsed; `zip` and `crit` are absent; `apu`/`apv` are canonical
/// base64url of at most [`MAX_PARTY_INFO_LEN`] bytes; `kid`/`typ`/`cty` are present exactly when
/// `serde_json` sees string members of those names, and without escapes are the same text.
pub fn header_parse(data: &[u8]) {
    let Ok(header) = ProtectedHeader::parse(data) else {
        return;
    };
    let Some(value) = reference_json(data) else {
        return;
    };
    assert_eq!(json_str(&value, "alg"), Some(header.alg.name()));
    assert_eq!(json_str(&value, "enc"), Some(header.enc.name()));
    let (x, y) = affine(&header.epk);
    let epk = value.get("epk").expect("epk member");
    assert_eq!(json_str(epk, "x"), Some(reference_encode(&x).as_str()));
    assert_eq!(json_str(epk, "y"), Some(reference_encode(&y).as_str()));
    assert!(epk.get("d").is_none(), "an epk with d was accepted");
    assert!(value.get("zip").is_none() && value.get("crit").is_none());
    for (member, text) in [("apu", header.apu), ("apv", header.apv)] {
        assert_eq!(json_str(&value, member), text, "{member}");
        if let Some(text) = text {
            let decoded = reference_decode(text.as_bytes()).expect("canonical base64url");
            assert!(decoded.len() <= MAX_PARTY_INFO_LEN, "{member} too long");
        }
    }
    for (member, raw) in [
        ("kid", header.kid),
        ("typ", header.typ),
        ("cty", header.cty),
    ] {
        let seen = json_str(&value, member);
        assert_eq!(seen.is_some(), raw.is_some(), "{member}");
        // Raw text with escapes is compared only by presence: we do not unescape it.
        if let (Some(seen), Some(raw)) = (seen, raw)
            && !raw.contains('\\')
        {
            assert_eq!(seen, raw, "{member}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// b64_decode

/// Target `b64_decode`: the input as base64url text, and as bytes to encode.
///
/// - `decode` agrees with [`reference_decode`] on acceptance and output, and so do
///   `decode_in_place` and (for 64 characters) `decode_array::<48>`.
/// - decode → encode reproduces the input exactly (canonical: one spelling per value), and a
///   destination one byte short is refused with the exact size needed.
/// - encode → decode round-trips; `encode`, `encode_in_place`, `encoded_len` and
///   [`reference_encode`] agree.
pub fn b64_decode(data: &[u8]) {
    let reference = reference_decode(data);
    let mut out = vec![0u8; b64::decoded_len(data.len())];
    let ours = b64::decode(data, &mut out).map(|b| b.to_vec());
    assert_eq!(
        ours.as_ref().ok(),
        reference.as_ref(),
        "decode vs reference"
    );
    if data.len() % 4 == 1 {
        assert_eq!(ours, Err(b64::Base64Error::InvalidLength));
    }
    let mut in_place = data.to_vec();
    let in_place = b64::decode_in_place(&mut in_place).map(|b| b.to_vec());
    assert_eq!(in_place.ok(), reference, "decode_in_place vs reference");
    if data.len() == 64 {
        let mut array = [0u8; 48];
        let result = b64::decode_array(data, &mut array);
        assert_eq!(result.is_ok(), ours.is_ok(), "decode_array");
        if result.is_ok() {
            assert_eq!(Ok(array.to_vec()), ours);
        }
    }
    if let Ok(bytes) = &ours {
        let mut text = vec![0u8; b64::encoded_len(bytes.len())];
        let text = b64::encode(bytes, &mut text).expect("encoded_len suffices");
        assert_eq!(text.as_bytes(), data, "decode then encode changed the text");
        if let Some(short) = bytes.len().checked_sub(1) {
            let mut small = vec![0u8; short];
            assert_eq!(
                b64::decode(data, &mut small).map(|b| b.to_vec()),
                Err(b64::Base64Error::OutputTooSmall {
                    required: bytes.len()
                })
            );
        }
    }

    let expected = reference_encode(data);
    assert_eq!(b64::encoded_len(data.len()), expected.len());
    let mut text = vec![0u8; expected.len()];
    assert_eq!(b64::encode(data, &mut text), Ok(expected.as_str()));
    let mut buf = vec![0u8; expected.len().max(data.len())];
    buf[..data.len()].copy_from_slice(data);
    let n = b64::encode_in_place(&mut buf, data.len()).expect("buffer holds the encoding");
    assert_eq!(&buf[..n], expected.as_bytes(), "encode_in_place");
    let mut back = vec![0u8; data.len()];
    assert_eq!(
        b64::decode(expected.as_bytes(), &mut back).map(|b| b.to_vec()),
        Ok(data.to_vec()),
        "encode then decode"
    );
}

// ---------------------------------------------------------------------------------------------
// decrypt

/// Target `decrypt`: the input as a compact token for [`FIXED_PRIVATE_JWK`], with an allow-list
/// of every compiled pair.
///
/// - Never panics (the harness catches that), and a success returns exactly
///   `plaintext_len(token)` bytes (a forged success is what AES-GCM makes infeasible: only real
///   tokens, such as the RFC 7520 seed, get there).
/// - `plaintext_len` fails exactly when decrypt fails on the segment count, with the same error.
/// - After `DecryptionFailed` the plaintext area of the output is zeroed, as documented.
/// - `decrypt_in_place` gives the same result as `decrypt`.
/// - A successful token is refused with `BufferTooSmall { required }` for a buffer one byte short.
/// - With the default (bank) allow-list the result is the same, or `NotAllowed` for a pair other
///   than the bank's.
pub fn decrypt(token: &[u8]) {
    let key = fixed_key();
    let mut out = vec![0xa5u8; max_plaintext_len(token.len())];
    let result =
        alliancepay_jose::decrypt(key, token, AllowList::ALL, &mut out).map(|p| p.to_vec());
    let length = plaintext_len(token);
    match (&result, &length) {
        (_, Err(e)) => assert_eq!(result.as_ref().err(), Some(e)),
        (Ok(plaintext), Ok(n)) => assert_eq!(plaintext.len(), *n),
        (Err(Error::DecryptionFailed), Ok(n)) => {
            assert!(out[..*n].iter().all(|&b| b == 0), "output not wiped")
        }
        (Err(_), Ok(_)) => {}
    }

    let mut copy = token.to_vec();
    let in_place = decrypt_in_place(key, &mut copy, AllowList::ALL).map(|p| p.to_vec());
    assert_eq!(in_place, result, "decrypt_in_place disagrees with decrypt");

    if let (Ok(_), Ok(n)) = (&result, &length)
        && let Some(short) = n.checked_sub(1)
    {
        let mut small = vec![0u8; short];
        assert_eq!(
            alliancepay_jose::decrypt(key, token, AllowList::ALL, &mut small),
            Err(Error::BufferTooSmall { required: *n })
        );
    }

    let mut out = vec![0u8; max_plaintext_len(token.len())];
    let bank =
        alliancepay_jose::decrypt(key, token, AllowList::default(), &mut out).map(|p| p.to_vec());
    match bank {
        Err(Error::NotAllowed { alg, enc }) => {
            assert!(!AllowList::BANK_PROFILE.allows(alg, enc));
            assert!(!matches!(result, Err(Error::NotAllowed { .. })));
        }
        other => assert_eq!(other, result, "bank allow-list changed the outcome"),
    }
}

// ---------------------------------------------------------------------------------------------
// roundtrip

/// A deterministic generator (SplitMix64) for the encrypt calls of the fuzz targets. Not
/// cryptographic, and it need not be: a fuzz input must replay to the same run, so every
/// "random" byte (ephemeral key, CEK, IV) comes from the input. The stable test suite uses it
/// too (property and scalar-multiplication tests), through `fuzz_regressions`.
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator whose whole output is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 bits of the stream.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl alliancepay_jose::TryRng for SeededRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        // The high half; `>> 32` leaves a value that always fits.
        Ok(u32::try_from(self.next() >> 32).unwrap_or_default())
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

// Determinism, not secrecy, is what the targets need from it; see the type's docs.
impl alliancepay_jose::TryCryptoRng for SeededRng {}

/// A reader over the fuzz input: takes bytes from the front, zeros once it runs out.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let head = self.take(N);
        out[..head.len()].copy_from_slice(head);
        out
    }
}

/// The header members [`roundtrip`] asks for, decoded from its input.
struct RoundtripInput<'a> {
    alg: KeyManagementAlg,
    enc: ContentEncryptionAlg,
    apu: Option<&'a [u8]>,
    apv: Option<&'a [u8]>,
    kid: Option<String>,
    typ: Option<String>,
    cty: Option<String>,
    seed: u64,
    plaintext: &'a [u8],
}

/// Layout: `alg` selector, `enc` selector (each an index into the compiled algorithms, modulo
/// their count), a presence byte (bits 0 to 4: `apu`, `apv`, `kid`, `typ`, `cty`), 8 bytes of
/// RNG seed (little-endian), then for each present member in that order a length byte and that
/// many bytes (`kid`/`typ`/`cty` as lossy UTF-8), then the plaintext (the rest, truncated to
/// [`MAX_ROUNDTRIP_PLAINTEXT`]). Lengths up to 255 let the fuzzer cross the 64-byte `apu`/`apv`
/// limit and, with three such strings, the 512-byte header limit.
fn roundtrip_input(data: &[u8]) -> RoundtripInput<'_> {
    let mut input = Cursor(data);
    let alg = KeyManagementAlg::ALL[usize::from(input.byte()) % KeyManagementAlg::ALL.len()];
    let enc =
        ContentEncryptionAlg::ALL[usize::from(input.byte()) % ContentEncryptionAlg::ALL.len()];
    let present = input.byte();
    let seed = u64::from_le_bytes(input.array());
    let mut member = |bit: u8| {
        (present & (1 << bit) != 0).then(|| {
            let len = usize::from(input.byte());
            input.take(len)
        })
    };
    let (apu, apv) = (member(0), member(1));
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let kid = member(2).map(text);
    let typ = member(3).map(text);
    let cty = member(4).map(text);
    let plaintext = input.take(MAX_ROUNDTRIP_PLAINTEXT);
    RoundtripInput {
        alg,
        enc,
        apu,
        apv,
        kid,
        typ,
        cty,
        seed,
        plaintext,
    }
}

/// CEK bytes by `enc` name (RFC 7518 §5.3), independent of the core's table.
fn cek_len_of(enc: &str) -> usize {
    match enc {
        "A128GCM" => 16,
        "A192GCM" => 24,
        "A256GCM" => 32,
        other => panic!("unexpected enc {other}"),
    }
}

/// The header length our encrypt should write, built by hand with `serde_json` escaping the
/// free-text members, so the length functions are checked against an independent count.
fn expected_header_len(input: &RoundtripInput<'_>) -> usize {
    let coordinate = "A".repeat(64);
    let mut header = format!(
        r#"{{"alg":"{}","enc":"{}","epk":{{"kty":"EC","crv":"P-384","x":"{coordinate}","y":"{coordinate}"}}"#,
        input.alg.name(),
        input.enc.name()
    );
    for (member, bytes) in [("apu", input.apu), ("apv", input.apv)] {
        if let Some(bytes) = bytes {
            header.push_str(&format!(r#","{member}":"{}""#, reference_encode(bytes)));
        }
    }
    for (member, text) in [
        ("kid", &input.kid),
        ("typ", &input.typ),
        ("cty", &input.cty),
    ] {
        if let Some(text) = text {
            let quoted = serde_json::to_string(text).expect("a string serializes");
            header.push_str(&format!(r#","{member}":{quoted}"#));
        }
    }
    header.push('}');
    header.len()
}

/// Target `roundtrip`: encrypt an arbitrary plaintext with arbitrary options to the fixed key,
/// with a [`SeededRng`], then decrypt. See [`roundtrip_input`] for the layout.
///
/// - The options are valid exactly when `apu`/`apv` are at most [`MAX_PARTY_INFO_LEN`] bytes and
///   the header fits [`MAX_HEADER_LEN`]; otherwise `token_len` and `encrypt` both refuse them
///   with `InvalidOption`.
/// - `EncryptOptions::token_len` equals a length counted independently from RFC 7516 §7.1 and
///   the header built by hand; the token written has that length (and `token_len` for the bank
///   profile); a buffer one byte short is refused with that size.
/// - `plaintext_len` of the token is the plaintext length, `max_plaintext_len` bounds it.
/// - The header, read by `serde_json`, carries the requested `alg`, `enc`, `apu`, `apv`, `kid`,
///   `typ`, `cty` (so free text is escaped correctly) and our strict parser accepts it.
/// - `decrypt` and `decrypt_in_place`, with exactly this pair allowed, return the plaintext; an
///   empty allow-list gives `NotAllowed`; changing any one character of the token makes decrypt
///   fail.
pub fn roundtrip(data: &[u8]) {
    let input = roundtrip_input(data);
    let options = EncryptOptions {
        alg: input.alg,
        enc: input.enc,
        apu: input.apu,
        apv: input.apv,
        kid: input.kid.as_deref(),
        typ: input.typ.as_deref(),
        cty: input.cty.as_deref(),
    };
    let recipient = fixed_key();
    let plaintext = input.plaintext;
    let header_len = expected_header_len(&input);
    let valid = input.apu.is_none_or(|b| b.len() <= MAX_PARTY_INFO_LEN)
        && input.apv.is_none_or(|b| b.len() <= MAX_PARTY_INFO_LEN)
        && header_len <= MAX_HEADER_LEN;
    let mut rng = SeededRng::new(input.seed);

    if !valid {
        assert!(
            matches!(
                options.token_len(plaintext.len()),
                Err(Error::InvalidOption(_))
            ),
            "token_len accepted invalid options"
        );
        let mut out = vec![0u8; 4 * MAX_HEADER_LEN + 2 * plaintext.len() + 256];
        let result = alliancepay_jose::encrypt(
            recipient.public_jwk(),
            plaintext,
            &options,
            &mut rng,
            &mut out,
        );
        assert!(
            matches!(result, Err(Error::InvalidOption(_))),
            "encrypt accepted invalid options: {result:?}"
        );
        return;
    }

    let encrypted_key_len = match input.alg.name() {
        "ECDH-ES" => 0,
        _ => cek_len_of(input.enc.name()) + 8,
    };
    let expected_len = reference_encode(&vec![0; header_len]).len()
        + 1
        + reference_encode(&vec![0; encrypted_key_len]).len()
        + 1
        + 16 // 12-byte IV
        + 1
        + reference_encode(&vec![0; plaintext.len()]).len()
        + 1
        + 22; // 16-byte tag
    assert_eq!(options.token_len(plaintext.len()), Ok(expected_len));
    if options == EncryptOptions::BANK {
        assert_eq!(token_len(plaintext.len()), expected_len);
    }

    let mut short = vec![0u8; expected_len - 1];
    assert_eq!(
        alliancepay_jose::encrypt(
            recipient.public_jwk(),
            plaintext,
            &options,
            &mut rng,
            &mut short
        ),
        Err(Error::BufferTooSmall {
            required: expected_len
        })
    );
    let mut out = vec![0u8; expected_len];
    let token = alliancepay_jose::encrypt(
        recipient.public_jwk(),
        plaintext,
        &options,
        &mut rng,
        &mut out,
    )
    .expect("encrypt with valid options");
    assert_eq!(token.len(), expected_len);
    assert_eq!(plaintext_len(token.as_bytes()), Ok(plaintext.len()));
    assert!(max_plaintext_len(token.len()) >= plaintext.len());

    // The header as a mainstream JSON reader sees it.
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 5);
    let header_json = reference_decode(parts[0].as_bytes()).expect("header is base64url");
    assert_eq!(header_json.len(), header_len);
    let header = ProtectedHeader::parse(&header_json).expect("our parser reads our header");
    assert_eq!((header.alg, header.enc), (input.alg, input.enc));
    let value: Value = serde_json::from_slice(&header_json).expect("header is JSON");
    assert_eq!(json_str(&value, "alg"), Some(input.alg.name()));
    assert_eq!(json_str(&value, "enc"), Some(input.enc.name()));
    for (member, bytes) in [("apu", input.apu), ("apv", input.apv)] {
        let seen = json_str(&value, member).map(|t| reference_decode(t.as_bytes()));
        assert_eq!(seen, bytes.map(|b| Some(b.to_vec())), "{member}");
    }
    for (member, text) in [
        ("kid", &input.kid),
        ("typ", &input.typ),
        ("cty", &input.cty),
    ] {
        assert_eq!(json_str(&value, member), text.as_deref(), "{member}");
    }
    assert_eq!(
        parts[1].len(),
        reference_encode(&vec![0; encrypted_key_len]).len()
    );
    assert_eq!((parts[2].len(), parts[4].len()), (16, 22));

    let allow = AllowList::EMPTY.with(input.alg, input.enc);
    let mut decrypted = vec![0u8; plaintext.len()];
    assert_eq!(
        alliancepay_jose::decrypt(recipient, token.as_bytes(), allow, &mut decrypted)
            .map(|p| p.to_vec()),
        Ok(plaintext.to_vec())
    );
    let mut in_place = token.as_bytes().to_vec();
    assert_eq!(
        decrypt_in_place(recipient, &mut in_place, allow).map(|p| p.to_vec()),
        Ok(plaintext.to_vec())
    );
    assert_eq!(
        alliancepay_jose::decrypt(
            recipient,
            token.as_bytes(),
            AllowList::EMPTY,
            &mut decrypted
        ),
        Err(Error::NotAllowed {
            alg: input.alg,
            enc: input.enc
        })
    );

    // Change one character, at a position and to a value the seed picks, and expect a refusal.
    let mut tampered = token.as_bytes().to_vec();
    let at = usize::try_from(input.seed % u64::try_from(tampered.len()).unwrap_or(1)).unwrap_or(0);
    let original = tampered[at];
    let replacement = ALPHABET
        .iter()
        .copied()
        .chain([b'.'])
        .cycle()
        .skip(usize::from(input.seed.to_le_bytes()[7]))
        .find(|&c| c != original)
        .unwrap_or(b'A');
    tampered[at] = replacement;
    let mut out = vec![0u8; max_plaintext_len(tampered.len())];
    let result = alliancepay_jose::decrypt(recipient, &tampered, allow, &mut out);
    assert!(
        result.is_err(),
        "a token with byte {at} changed from {original:?} to {replacement:?} decrypted"
    );
}

// ---------------------------------------------------------------------------------------------
// ecdh_differential

/// An RNG that returns the given bytes, then fails: makes our encrypt use a chosen ephemeral
/// scalar and IV, and proves it asks for nothing more.
struct ReplayRng<'a>(&'a [u8]);

/// The replay RNG ran out.
#[derive(Debug)]
struct Exhausted;

impl core::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("replay RNG exhausted")
    }
}

impl core::error::Error for Exhausted {}

impl alliancepay_jose::TryRng for ReplayRng<'_> {
    type Error = Exhausted;

    fn try_next_u32(&mut self) -> Result<u32, Exhausted> {
        let mut word = [0u8; 4];
        self.try_fill_bytes(&mut word)?;
        Ok(u32::from_le_bytes(word))
    }

    fn try_next_u64(&mut self) -> Result<u64, Exhausted> {
        let mut word = [0u8; 8];
        self.try_fill_bytes(&mut word)?;
        Ok(u64::from_le_bytes(word))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Exhausted> {
        if dst.len() > self.0.len() {
            return Err(Exhausted);
        }
        let (head, rest) = self.0.split_at(dst.len());
        dst.copy_from_slice(head);
        self.0 = rest;
        Ok(())
    }
}

// Only the bytes the check chose come out; see the type's docs.
impl alliancepay_jose::TryCryptoRng for ReplayRng<'_> {}

const DIFFERENTIAL_PLAINTEXT: &[u8] = b"ecdh differential";
const DIFFERENTIAL_IV: [u8; 12] = *b"fuzz-ecdh-iv";

/// The CEK of ECDH-ES direct with `A256GCM`, no `apu`/`apv` (RFC 7518 §4.6.2), from `z`.
fn direct_cek(z: &[u8]) -> [u8; 32] {
    let mut cek = [0u8; 32];
    let info = OtherInfo {
        algorithm_id: b"A256GCM",
        party_u_info: b"",
        party_v_info: b"",
    };
    concat_kdf(z, &info, &mut cek);
    cek
}

type Aes256Gcm = AesGcm<Aes256, U12>;

/// Builds a compact `ECDH-ES` / `A256GCM` token by hand, with `aes-gcm` directly and the header
/// written here: the "other implementation" our decrypt must agree with.
fn reference_token(epk_x: &[u8; 48], epk_y: &[u8; 48], cek: &[u8; 32]) -> String {
    let header = format!(
        r#"{{"alg":"ECDH-ES","enc":"A256GCM","epk":{{"kty":"EC","crv":"P-384","x":"{}","y":"{}"}}}}"#,
        reference_encode(epk_x),
        reference_encode(epk_y)
    );
    let aad = reference_encode(header.as_bytes());
    let cipher = Aes256Gcm::new_from_slice(cek).expect("32-byte key");
    let mut buffer = DIFFERENTIAL_PLAINTEXT.to_vec();
    let nonce = Nonce::<Aes256Gcm>::from(DIFFERENTIAL_IV);
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad.as_bytes(), buffer.as_mut_slice().into())
        .expect("AES-GCM seal");
    format!(
        "{aad}..{}.{}.{}",
        reference_encode(&DIFFERENTIAL_IV),
        reference_encode(&buffer),
        reference_encode(tag.as_slice())
    )
}

/// Opens the ciphertext of one of our tokens with `aes-gcm` directly.
fn reference_open(token: &str, cek: &[u8; 32]) -> Option<Vec<u8>> {
    let parts: Vec<&str> = token.split('.').collect();
    let iv: [u8; 12] = reference_decode(parts.get(2)?.as_bytes())?
        .try_into()
        .ok()?;
    let mut buffer = reference_decode(parts.get(3)?.as_bytes())?;
    let tag: [u8; 16] = reference_decode(parts.get(4)?.as_bytes())?
        .try_into()
        .ok()?;
    let cipher = Aes256Gcm::new_from_slice(cek).ok()?;
    cipher
        .decrypt_inout_detached(
            &Nonce::<Aes256Gcm>::from(iv),
            parts.first()?.as_bytes(),
            buffer.as_mut_slice().into(),
            &Tag::<Aes256Gcm>::from(tag),
        )
        .ok()?;
    Some(buffer)
}

/// Target `ecdh_differential`: our JWK parsing and key agreement against `p384`'s own API.
///
/// Layout: 48 bytes scalar `d` (big-endian), a mode byte (modulo 3), then the peer point:
/// mode 0, 96 bytes `x || y` taken as they are (almost never on the curve: the invalid-curve
/// path); mode 1, any SEC1 encoding (compressed, uncompressed, identity, garbage) read by
/// `PublicKey::from_sec1_bytes`; mode 2, 48 bytes `k`, the point `k·G` (always valid when `k`
/// is, so the agreement path is reached on most inputs). Short inputs are zero-padded.
///
/// What is compared, and why that way: the core does not expose the ECDH shared secret `Z` (it
/// lives only inside `encrypt`/`decrypt`, zeroized), so `Z` is compared through ECDH-ES direct
/// tokens, where the CEK is `ConcatKDF(Z)` and nothing else (no key wrap to hide behind):
///
/// 1. Acceptance of the point: `PublicJwk::from_json` of `{x, y}` succeeds exactly when
///    `PublicKey::from_sec1_bytes(04 || x || y)` does, refuses with `NotOnCurve` otherwise, and
///    holds the same point.
/// 2. Acceptance of the scalar: when `SecretKey::from_bytes(d)` accepts `d`, a private JWK with
///    `d` and `p384`'s public key for it is accepted and holds `d`; when it refuses, a private JWK
///    with `d` (and the generator as its point) is refused with `ScalarOutOfRange`.
/// 3. Decrypt side: a token built here (header by hand, CEK = `ConcatKDF(Z_ref)` with
///    `Z_ref = p384::ecdh::diffie_hellman(d, P)`, sealed with `aes-gcm`) whose `epk` is the
///    input point `P` decrypts with our `PrivateJwk` for `d` to the plaintext when `p384`
///    accepts `P`, and is refused with `Epk(NotOnCurve)` before any agreement otherwise.
/// 4. Encrypt side: our `encrypt` to `P`, with `d` fed through the RNG as its ephemeral key, puts
///    `p384`'s public key for `d` in `epk`, uses the IV it was given, draws nothing more, and its
///    ciphertext opens with `aes-gcm` under `ConcatKDF(Z_ref)`.
///
/// The KDF is the core's own `kdf::concat_kdf` on both sides; it is pinned separately by the RFC
/// 7518 Appendix C and RFC 7520 §5.4 known answers in the test suite.
pub fn ecdh_differential(data: &[u8]) {
    let mut input = Cursor(data);
    let d: [u8; 48] = input.array();
    let mode = input.byte() % 3;
    // The coordinates to spell as a JWK (if the input has any), and the point p384 accepts.
    let (coordinates, reference): (Option<Affine>, Option<PublicKey>) = match mode {
        0 => {
            let x: [u8; 48] = input.array();
            let y: [u8; 48] = input.array();
            let sec1 = [&[4u8][..], &x, &y].concat();
            (Some((x, y)), PublicKey::from_sec1_bytes(&sec1).ok())
        }
        1 => {
            let sec1 = input.take(200);
            let reference = PublicKey::from_sec1_bytes(sec1).ok();
            let coordinates = match (sec1.first(), sec1.len()) {
                (Some(4), 97) => {
                    let mut x = [0u8; 48];
                    let mut y = [0u8; 48];
                    x.copy_from_slice(&sec1[1..49]);
                    y.copy_from_slice(&sec1[49..]);
                    Some((x, y))
                }
                // Other encodings have no JWK spelling; p384's point, if any, stands in.
                _ => reference.as_ref().map(affine),
            };
            (coordinates, reference)
        }
        _ => {
            let k: [u8; 48] = input.array();
            let reference = SecretKey::from_bytes(&FieldBytes::from(k))
                .ok()
                .map(|k| k.public_key());
            (reference.as_ref().map(affine), reference)
        }
    };

    // 1. The point.
    if let Some((x, y)) = &coordinates {
        let ours = PublicJwk::from_json(jwk_text(x, y, None).as_bytes());
        match (&ours, &reference) {
            (Ok(ours), Some(reference)) => {
                assert_eq!(ours.public_key(), reference);
                assert_eq!(ours.coordinates(), (*x, *y));
            }
            (Err(e), None) => assert_eq!(e, &JwkError::NotOnCurve),
            (ours, reference) => panic!(
                "point acceptance differs: ours {:?}, p384 {}",
                ours.as_ref().err(),
                reference.is_some()
            ),
        }
    }

    // 2. The scalar: with p384's public key for it when p384 accepts it (ours must accept), with
    // the generator otherwise (ours must refuse the scalar itself, not the pairing).
    let Some(secret) = SecretKey::from_bytes(&FieldBytes::from(d)).ok() else {
        let (gx, gy) = generator();
        let ours = PrivateJwk::from_json(jwk_text(gx, gy, Some(&d)).as_bytes());
        assert_eq!(
            ours.err(),
            Some(JwkError::ScalarOutOfRange),
            "p384 refuses the scalar"
        );
        return;
    };
    let own = affine(&secret.public_key());
    let private = PrivateJwk::from_json(jwk_text(&own.0, &own.1, Some(&d)).as_bytes())
        .expect("p384 accepts the scalar, so must we (with its own public key)");
    assert_eq!(private.secret_key().to_bytes(), FieldBytes::from(d));
    assert_eq!(*private.public_jwk().public_key(), secret.public_key());

    let Some((x, y)) = coordinates else {
        return;
    };

    // 3. Decrypt side.
    let z_ref = reference.map(|point| {
        diffie_hellman(secret.to_nonzero_scalar(), point.as_affine())
            .raw_secret_bytes()
            .to_vec()
    });
    let cek = z_ref.as_deref().map_or([0u8; 32], direct_cek);
    let token = reference_token(&x, &y, &cek);
    let mut out = [0u8; 64];
    let ours = alliancepay_jose::decrypt(&private, token.as_bytes(), AllowList::ALL, &mut out)
        .map(|p| p.to_vec());
    if z_ref.is_some() {
        assert_eq!(
            ours,
            Ok(DIFFERENTIAL_PLAINTEXT.to_vec()),
            "shared secrets differ"
        );
    } else {
        assert_eq!(
            ours,
            Err(Error::Header(HeaderError::Epk(JwkError::NotOnCurve)))
        );
        return;
    }

    // 4. Encrypt side.
    let recipient = PublicJwk::from_json(jwk_text(&x, &y, None).as_bytes()).expect("checked in 1");
    let options = EncryptOptions {
        alg: KeyManagementAlg::from_name("ECDH-ES").expect("extra-algorithms is on"),
        enc: ContentEncryptionAlg::A256Gcm,
        ..EncryptOptions::BANK
    };
    let randomness = [&d[..], &DIFFERENTIAL_IV].concat();
    let mut rng = ReplayRng(&randomness);
    let mut out = vec![
        0u8;
        options
            .token_len(DIFFERENTIAL_PLAINTEXT.len())
            .expect("valid")
    ];
    let token = alliancepay_jose::encrypt(
        &recipient,
        DIFFERENTIAL_PLAINTEXT,
        &options,
        &mut rng,
        &mut out,
    )
    .expect("encrypt to a valid point");
    assert!(rng.0.is_empty(), "encrypt left replayed randomness unused");
    let header = reference_decode(token.split('.').next().unwrap_or("").as_bytes())
        .expect("header is base64url");
    let header = ProtectedHeader::parse(&header).expect("our header parses");
    assert_eq!(header.epk, secret.public_key(), "epk is not d·G");
    assert_eq!(
        token.split('.').nth(2),
        Some(reference_encode(&DIFFERENTIAL_IV).as_str())
    );
    assert_eq!(
        reference_open(token, &cek),
        Some(DIFFERENTIAL_PLAINTEXT.to_vec()),
        "our encrypt's CEK is not ConcatKDF(p384's Z)"
    );
}

/// The affine coordinates of the P-384 generator (the public key of the scalar 1).
fn generator() -> &'static ([u8; 48], [u8; 48]) {
    static G: OnceLock<([u8; 48], [u8; 48])> = OnceLock::new();
    G.get_or_init(|| {
        let mut one = [0u8; 48];
        one[47] = 1;
        affine(
            &SecretKey::from_bytes(&FieldBytes::from(one))
                .expect("1 is a valid scalar")
                .public_key(),
        )
    })
}

/// Target `scalar_mul_differential`: `alliancepay_jose::scalar_mul` (our Jacobian, signed-window
/// multiplication of the `hazmat-scalar-mul` feature) against `p384`'s own.
///
/// Layout: a mode byte (modulo 3) choosing the scalar `k` — mode 0, the next 48 bytes as a
/// big-endian scalar (inputs that are 0 or at least `n` stop here: `NonZeroScalar` cannot hold
/// them); mode 1, `n − 1 − s`; mode 2, `1 + s`, for `s` the next two bytes, big-endian (the edges
/// of the recoding: small scalars and scalars near `n`, such as 38 and `n − 38`, where the last
/// addition doubles) — then 48 bytes `a` giving the point `a·G` (the generator itself when
/// `a` is 0 or at least `n`). Short inputs are zero-padded.
///
/// Checked: `scalar_mul::mul(P, k)` equals `p384`'s `ProjectivePoint::from(P) * k` in affine form,
/// its x-coordinate equals `p384::ecdh::diffie_hellman(k, P)`'s shared secret, and
/// `scalar_mul::mul_base(k)` equals `p384`'s `G * k`.
#[cfg(feature = "hazmat")]
pub fn scalar_mul_differential(data: &[u8]) {
    use alliancepay_jose::scalar_mul;
    use p384::elliptic_curve::point::AffineCoordinates;
    use p384::{AffinePoint, NonZeroScalar, ProjectivePoint, Scalar};

    let mut input = Cursor(data);
    let mode = input.byte() % 3;
    let k = match mode {
        0 => {
            let bytes: [u8; 48] = input.array();
            Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(FieldBytes::from(bytes)))
        }
        _ => {
            let s: [u8; 2] = input.array();
            let s = Scalar::from(u64::from(u16::from_be_bytes(s)));
            let k = if mode == 1 {
                -(Scalar::ONE + s)
            } else {
                Scalar::ONE + s
            };
            Option::<NonZeroScalar>::from(NonZeroScalar::new(k))
        }
    };
    let Some(k) = k else { return };
    let a: [u8; 48] = input.array();
    let point = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(FieldBytes::from(a)))
        .map_or(AffinePoint::GENERATOR, |a| {
            (ProjectivePoint::GENERATOR * *a).to_affine()
        });

    let ours = scalar_mul::mul(&point, &k).expect("k·P is never the identity here");
    assert!(
        ours == (ProjectivePoint::from(point) * *k).to_affine(),
        "scalar_mul::mul differs from p384"
    );
    assert_eq!(
        ours.x().as_slice(),
        diffie_hellman(k, point).raw_secret_bytes().as_slice(),
        "scalar_mul::mul's x differs from p384's ECDH shared secret"
    );
    assert!(
        scalar_mul::mul_base(&k).expect("k·G is never the identity")
            == (ProjectivePoint::GENERATOR * *k).to_affine(),
        "scalar_mul::mul_base differs from p384"
    );
}
