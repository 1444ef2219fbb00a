//! Property tests (proptest) for `alliancepay-jose`.
//!
//! - `round_trip_*`: every compiled (`alg`, `enc`) pair decrypts what it encrypts, with both
//!   `decrypt` and `decrypt_in_place`, for plaintexts of 0 to 64 KiB.
//! - `single_bit_flip_*`: any one bit changed anywhere in a valid token is refused, with the
//!   error a model of the checks predicts.
//! - `jwk_*`: writing a key and parsing it back gives the same key and the same thumbprint.
//! - `length_functions_*`: `token_len`, `EncryptOptions::token_len`, `plaintext_len` and
//!   `max_plaintext_len` agree with what `encrypt` really writes.
//! - `decrypt_never_panics_*`: arbitrary and token-shaped garbage gives an `Err`, not a panic.
//!
//! Each block sets its case count explicitly and says why; scalar multiplications (about one
//! per key generation, two per encrypt, one per decrypt) are what cost time, so the counts are
//! budgeted in those. Together the properties run in well under a minute in the debug test
//! profile on two cores (the workspace optimizes the curve and AES crates in dev builds).
//! A failing case is written to `proptest-regressions/` and replayed first on the next run.

use std::sync::OnceLock;

use alliancepay_jose::Part;
use alliancepay_jose::b64::{self, Base64Error};
use alliancepay_jose::{
    AllowList, ContentEncryptionAlg, EncryptOptions, Error, KeyManagementAlg, KeyParams,
    MAX_PARTY_INFO_LEN, PRIVATE_JWK_MAX_LEN, PUBLIC_JWK_MAX_LEN, PrivateJwk, ProtectedHeader,
    PublicJwk, decrypt, decrypt_in_place, encrypt, max_plaintext_len, plaintext_len, token_len,
};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use rand_core::TryRng;

use crate::vectors::{b64d, b64e};

/// Largest plaintext the round-trip and length properties use.
const MAX_PLAINTEXT: usize = 64 * 1024;

/// Plaintext lengths that sit on a boundary: empty, one byte, one AES block and its
/// neighbours, every remainder mod 3 (base64url's unused bits), the 48-byte block that
/// `encode_in_place` works in, and the top of the range.
const EDGE_LENS: &[usize] = &[
    0,
    1,
    2,
    3,
    15,
    16,
    17,
    47,
    48,
    49,
    MAX_PLAINTEXT - 1,
    MAX_PLAINTEXT,
];

/// The base64url alphabet, in value order.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

use crate::fuzz_regressions::checks::SeededRng;

fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// The recipient of every token here. Made once: a key generation is a scalar multiplication,
/// and no property depends on which key it is.
fn key() -> &'static PrivateJwk {
    static KEY: OnceLock<PrivateJwk> = OnceLock::new();
    KEY.get_or_init(|| PrivateJwk::generate(&mut os_rng()).expect("generate"))
}

/// Every (`alg`, `enc`) pair compiled in: 4 × 3 with `extra-algorithms`.
fn pairs() -> Vec<(KeyManagementAlg, ContentEncryptionAlg)> {
    KeyManagementAlg::ALL
        .iter()
        .flat_map(|&alg| ContentEncryptionAlg::ALL.iter().map(move |&enc| (alg, enc)))
        .collect()
}

fn options_for(alg: KeyManagementAlg, enc: ContentEncryptionAlg) -> EncryptOptions<'static> {
    EncryptOptions {
        alg,
        enc,
        ..EncryptOptions::BANK
    }
}

/// Plaintext bytes from a seed: storing a seed instead of a 64 KiB vector keeps proptest's
/// generation and shrinking cheap, and the length still shrinks on its own.
fn plaintext(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    let _ = SeededRng::new(seed).try_fill_bytes(&mut bytes);
    bytes
}

/// Mostly short plaintexts (where the header and the base64 tail matter), the edges often,
/// and a few anywhere up to 64 KiB.
fn plaintext_len_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => select(EDGE_LENS),
        6 => 0..=300usize,
        1 => 0..=MAX_PLAINTEXT,
    ]
}

fn encrypt_to_string(options: &EncryptOptions<'_>, plaintext: &[u8]) -> String {
    let mut out = vec![0u8; options.token_len(plaintext.len()).expect("token_len")];
    encrypt(
        key().public_jwk(),
        plaintext,
        options,
        &mut os_rng(),
        &mut out,
    )
    .expect("encrypt")
    .to_owned()
}

/// Encrypts with one pair and checks that both decryption functions give the plaintext back.
fn check_round_trip(
    alg: KeyManagementAlg,
    enc: ContentEncryptionAlg,
    plaintext: &[u8],
) -> Result<(), TestCaseError> {
    let token = encrypt_to_string(&options_for(alg, enc), plaintext);
    let allow = AllowList::EMPTY.with(alg, enc);
    let mut out = vec![0u8; plaintext.len()];
    let decrypted = decrypt(key(), token.as_bytes(), allow, &mut out);
    prop_assert_eq!(
        decrypted.as_deref(),
        Ok(plaintext),
        "{}/{} decrypt",
        alg,
        enc
    );
    let mut in_place = token.into_bytes();
    let decrypted = decrypt_in_place(key(), &mut in_place, allow);
    prop_assert_eq!(
        decrypted.as_deref(),
        Ok(plaintext),
        "{}/{} decrypt_in_place",
        alg,
        enc
    );
    Ok(())
}

/// The edges on every pair, independent of what the random strategy happens to draw.
#[test]
fn round_trip_every_pair_at_every_edge_length() {
    for len in EDGE_LENS {
        let plaintext = plaintext(*len, *len as u64);
        for (alg, enc) in pairs() {
            check_round_trip(alg, enc, &plaintext).expect("round trip");
        }
    }
}

proptest! {
    // 24 cases × 12 pairs = 288 encryptions, each decrypted twice: about 1,150 scalar
    // multiplications, some 10 s in the debug profile, the largest share of the budget. The
    // edges are covered by the test above, so the random cases only need to spread over
    // lengths and contents, not hunt for boundaries.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_every_pair(len in plaintext_len_strategy(), seed in any::<u64>()) {
        let plaintext = plaintext(len, seed);
        for (alg, enc) in pairs() {
            check_round_trip(alg, enc, &plaintext)?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Single-bit flips.

/// Ten bytes of plaintext: its 14 characters of ciphertext end in unused bits.
const FLIP_PLAINTEXT: &[u8] = b"0123456789";

/// A valid token per pair, bare and with a `kid` (whose letters can change without breaking
/// the header, so header flips reach key agreement too). Made once.
fn flip_tokens() -> &'static [(KeyManagementAlg, ContentEncryptionAlg, String)] {
    static TOKENS: OnceLock<Vec<(KeyManagementAlg, ContentEncryptionAlg, String)>> =
        OnceLock::new();
    TOKENS.get_or_init(|| {
        let mut tokens = Vec::new();
        for (alg, enc) in pairs() {
            let bare = options_for(alg, enc);
            let with_kid = EncryptOptions {
                kid: Some("merchant-key-1"),
                ..bare
            };
            for options in [bare, with_kid] {
                tokens.push((alg, enc, encrypt_to_string(&options, FLIP_PLAINTEXT)));
            }
        }
        tokens
    })
}

const PARTS: [Part; 5] = [
    Part::ProtectedHeader,
    Part::EncryptedKey,
    Part::Iv,
    Part::Ciphertext,
    Part::Tag,
];

/// What decryption must say about a token whose protected header now decodes to `header`
/// (the rest unchanged). A header that no longer parses is refused with that parse error; one
/// that still parses with the same algorithms gets as far as authentication, which fails.
/// `None`: the header parses but names other algorithms, so only "some error" is certain.
fn expected_for_header(
    header: &[u8],
    alg: KeyManagementAlg,
    enc: ContentEncryptionAlg,
) -> Option<Error> {
    match ProtectedHeader::parse(header) {
        Err(e) => Some(Error::Header(e)),
        Ok(h) if (h.alg, h.enc) == (alg, enc) => Some(Error::DecryptionFailed),
        Ok(_) => None,
    }
}

/// Decrypts `token` both ways, checks that they agree, that it is refused as `expected` says,
/// and that the plaintext area is zeroed on `DecryptionFailed`.
fn check_refused(token: &[u8], expected: Option<Error>, what: &str) -> Result<(), TestCaseError> {
    let mut out = vec![0xa5u8; max_plaintext_len(token.len())];
    let result = decrypt(key(), token, AllowList::ALL, &mut out).map(|p| p.to_vec());
    prop_assert!(result.is_err(), "{}: flipped token accepted", what);
    if let Some(expected) = &expected {
        prop_assert_eq!(result.as_ref(), Err(expected), "{}", what);
    }
    if result == Err(Error::DecryptionFailed) {
        let len = plaintext_len(token).expect("five parts");
        prop_assert!(
            out[..len].iter().all(|&b| b == 0),
            "{}: plaintext area not zeroed",
            what
        );
    }
    let mut in_place = token.to_vec();
    let in_place_result =
        decrypt_in_place(key(), &mut in_place, AllowList::ALL).map(|p| p.to_vec());
    prop_assert_eq!(
        &in_place_result,
        &result,
        "{}: decrypt_in_place disagrees",
        what
    );
    Ok(())
}

fn replace_part(token: &str, index: usize, text: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = token.as_bytes().split(|&b| b == b'.').collect();
    parts[index] = text;
    parts.join(&b'.')
}

proptest! {
    // A flip that survives the structural checks costs two scalar multiplications (decrypt
    // and decrypt_in_place), about 10 ms in the debug profile. 500 cases of each kind hit
    // every part of every token many times over (24 tokens × 5 parts = 120 classes), in
    // about 5 s per block; negative.rs walks every bit of one bank token exhaustively.
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Flip a bit of one character of the base64url text. The new byte may be a `.` (one more
    /// part), outside the alphabet, a set unused bit in the last character (non-canonical),
    /// or another valid character: then the part decodes to different bytes and the token
    /// is well-formed but altered.
    #[test]
    fn single_bit_flip_in_text(
        which in any::<Index>(),
        part in 0..5usize,
        at in any::<Index>(),
        bit in 0..8u32,
    ) {
        let (alg, enc, token) = &flip_tokens()[which.index(flip_tokens().len())];
        let text = token.split('.').nth(part).expect("five parts").as_bytes();
        prop_assume!(!text.is_empty()); // direct ECDH-ES has no encrypted key
        let at = at.index(text.len());
        let mut flipped = text.to_vec();
        flipped[at] ^= 1 << bit;
        let new = flipped[at];
        let edited = replace_part(token, part, &flipped);
        let value = ALPHABET.iter().position(|&c| c == new);
        let unused_bits = match text.len() % 4 { 2 => 0b1111, 3 => 0b0011, _ => 0 };
        let expected = if new == b'.' {
            Some(Error::SegmentCount { found: 6 })
        } else if value.is_none() {
            Some(Error::Base64 { part: PARTS[part], error: Base64Error::InvalidCharacter })
        } else if at == text.len() - 1 && value.is_some_and(|v| v & unused_bits != 0) {
            Some(Error::Base64 { part: PARTS[part], error: Base64Error::NonCanonical })
        } else if part == 0 {
            let header = b64d(std::str::from_utf8(&flipped).expect("ASCII")).expect("canonical");
            expected_for_header(&header, *alg, *enc)
        } else {
            Some(Error::DecryptionFailed)
        };
        let what = format!("{alg}/{enc} part {part} char {at} bit {bit}");
        check_refused(&edited, expected, &what)?;
    }

    /// Flip a bit of the decoded bytes and re-encode canonically: always a well-formed token
    /// with one part altered, so after the header only authentication can catch it.
    #[test]
    fn single_bit_flip_in_decoded_bytes(
        which in any::<Index>(),
        part in 0..5usize,
        at in any::<Index>(),
        bit in 0..8u32,
    ) {
        let (alg, enc, token) = &flip_tokens()[which.index(flip_tokens().len())];
        let mut bytes = b64d(token.split('.').nth(part).expect("five parts")).expect("canonical");
        prop_assume!(!bytes.is_empty()); // direct ECDH-ES has no encrypted key
        let at = at.index(bytes.len());
        bytes[at] ^= 1 << bit;
        let edited = replace_part(token, part, b64e(&bytes).as_bytes());
        let expected = if part == 0 {
            expected_for_header(&bytes, *alg, *enc)
        } else {
            Some(Error::DecryptionFailed)
        };
        let what = format!("{alg}/{enc} part {part} byte {at} bit {bit}");
        check_refused(&edited, expected, &what)?;
    }
}

// ---------------------------------------------------------------------------------------------
// JWK serialization.

fn key_params() -> impl Strategy<Value = KeyParams> {
    (
        any::<bool>(),
        proptest::option::of(select(KeyManagementAlg::ALL)),
    )
        .prop_map(|(use_enc, alg)| KeyParams { use_enc, alg })
}

proptest! {
    // Two scalar multiplications per case (generation, and the parser's check that `d`
    // matches `x`/`y`), about 20 ms in the debug profile. The code under test formats and
    // parses fixed-width base64url with no branches on key values, so 128 random keys (with
    // every combination of `use`/`alg` many times) is plenty, in about 3 s.
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn jwk_write_then_parse_is_the_same_key(seed in any::<u64>(), params in key_params()) {
        let generated = PrivateJwk::generate(&mut SeededRng::new(seed)).expect("generate");
        let private = PrivateJwk::from_secret_key(generated.secret_key().clone(), params);
        let public = *private.public_jwk();

        let mut private_text = [0u8; PRIVATE_JWK_MAX_LEN];
        let private_text = private.write_json(&mut private_text).expect("write private");
        let parsed = PrivateJwk::from_json(private_text.as_bytes()).expect("parse private");
        prop_assert!(parsed.secret_key() == private.secret_key(), "d changed");
        prop_assert_eq!(parsed.public_jwk(), &public);
        let mut again = [0u8; PRIVATE_JWK_MAX_LEN];
        prop_assert_eq!(parsed.write_json(&mut again).expect("write"), private_text);

        let mut public_text = [0u8; PUBLIC_JWK_MAX_LEN];
        let public_text = public.write_json(&mut public_text).expect("write public");
        let parsed_public = PublicJwk::from_json(public_text.as_bytes()).expect("parse public");
        prop_assert_eq!(parsed_public, public);
        prop_assert_eq!(parsed_public.params(), params);
        let mut again = [0u8; PUBLIC_JWK_MAX_LEN];
        prop_assert_eq!(parsed_public.write_json(&mut again).expect("write"), public_text);

        // RFC 7638: only crv, kty, x, y enter the thumbprint, so `use`/`alg` do not change it.
        let thumbprint = public.thumbprint();
        prop_assert_eq!(parsed_public.thumbprint(), thumbprint);
        prop_assert_eq!(parsed.public_jwk().thumbprint(), thumbprint);
        prop_assert_eq!(public.with_params(KeyParams::default()).thumbprint(), thumbprint);
    }
}

// ---------------------------------------------------------------------------------------------
// Length functions.

/// Optional header text: any characters, including quotes, backslashes and control
/// characters that the writer must escape (and the reader must then accept).
fn header_string() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        "[a-zA-Z0-9._-]{0,40}",
        "[\"\\\\/\\x00-\\x1f\\x7f a-z\u{e9}\u{2028}\u{1f600}]{0,24}",
        ".{0,120}",
    ])
}

/// `apu`/`apv` bytes, now and then longer than the writer accepts.
fn party_info() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(prop_oneof![
        9 => proptest::collection::vec(any::<u8>(), 0..=MAX_PARTY_INFO_LEN),
        1 => proptest::collection::vec(
            any::<u8>(),
            MAX_PARTY_INFO_LEN + 1..=MAX_PARTY_INFO_LEN + 8
        ),
    ])
}

#[derive(Debug, Clone)]
struct OptionalMembers {
    apu: Option<Vec<u8>>,
    apv: Option<Vec<u8>>,
    kid: Option<String>,
    typ: Option<String>,
    cty: Option<String>,
}

fn optional_members() -> impl Strategy<Value = OptionalMembers> {
    (
        party_info(),
        party_info(),
        header_string(),
        header_string(),
        header_string(),
    )
        .prop_map(|(apu, apv, kid, typ, cty)| OptionalMembers {
            apu,
            apv,
            kid,
            typ,
            cty,
        })
}

proptest! {
    // Pure arithmetic, microseconds a case: many cases over the whole range of lengths a
    // slice can have (up to isize::MAX bytes).
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    #[test]
    fn length_functions_agree_on_any_length(n in 0..=isize::MAX as usize) {
        prop_assert_eq!(EncryptOptions::BANK.token_len(n), Ok(token_len(n)));
        prop_assert!(max_plaintext_len(token_len(n)) >= n);
    }
}

proptest! {
    // Three scalar multiplications a case (encrypt, then decrypt), about 4 s in all. The
    // header strings are where lengths could drift (escaping), and 128 cases of random
    // members spread over 12 pairs exercise every escape class many times.
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn length_functions_match_real_tokens(
        pair in select(pairs()),
        len in plaintext_len_strategy(),
        members in optional_members(),
    ) {
        let (alg, enc) = pair;
        let options = EncryptOptions {
            alg,
            enc,
            apu: members.apu.as_deref(),
            apv: members.apv.as_deref(),
            kid: members.kid.as_deref(),
            typ: members.typ.as_deref(),
            cty: members.cty.as_deref(),
        };
        let plaintext = vec![0x42u8; len];
        if options == EncryptOptions::BANK {
            prop_assert_eq!(options.token_len(len), Ok(token_len(len)));
        }
        let required = match options.token_len(len) {
            Ok(required) => required,
            Err(e) => {
                // The options are refused: encrypt must refuse them the same way.
                let mut out = vec![0u8; 2 * token_len(len)];
                let result =
                    encrypt(key().public_jwk(), &plaintext, &options, &mut os_rng(), &mut out);
                prop_assert_eq!(result.map(str::len), Err(e));
                return Ok(());
            }
        };
        let mut short = vec![0u8; required - 1];
        prop_assert_eq!(
            encrypt(key().public_jwk(), &plaintext, &options, &mut os_rng(), &mut short),
            Err(Error::BufferTooSmall { required })
        );
        let mut out = vec![0u8; required];
        let token = encrypt(key().public_jwk(), &plaintext, &options, &mut os_rng(), &mut out)
            .expect("encrypt");
        prop_assert_eq!(token.len(), required);
        prop_assert_eq!(plaintext_len(token.as_bytes()), Ok(len));
        prop_assert!(max_plaintext_len(token.len()) >= len);
        // Any header we write, we also read.
        let mut decrypted = vec![0u8; len];
        let decrypted = decrypt(key(), token.as_bytes(), AllowList::ALL, &mut decrypted);
        prop_assert_eq!(decrypted.as_deref(), Ok(&plaintext[..]));
    }
}

// ---------------------------------------------------------------------------------------------
// No panics on garbage.

/// Decrypts `token` every way there is and requires an error from each.
fn check_garbage(token: &[u8], allow: AllowList) -> Result<(), TestCaseError> {
    let _ = plaintext_len(token);
    let mut out = vec![0u8; max_plaintext_len(token.len())];
    let result = decrypt(key(), token, allow, &mut out);
    prop_assert!(
        result.is_err(),
        "garbage accepted: {:?}",
        String::from_utf8_lossy(token)
    );
    let mut in_place = token.to_vec();
    prop_assert!(decrypt_in_place(key(), &mut in_place, allow).is_err());
    // A buffer that is too small must be an error too, never an out-of-bounds slice.
    let mut tiny = [0u8; 3];
    prop_assert!(decrypt(key(), token, allow, &mut tiny).is_err());
    Ok(())
}

/// The real ephemeral-key coordinates of a token, so some garbage headers carry a point that
/// is on the curve and get as far as key agreement.
fn real_coordinates() -> &'static (String, String) {
    static COORDS: OnceLock<(String, String)> = OnceLock::new();
    COORDS.get_or_init(|| {
        let (x, y) = key().public_jwk().coordinates();
        (b64e(&x), b64e(&y))
    })
}

/// A JSON value as text: mostly things a header could hold, sometimes broken.
fn json_value() -> impl Strategy<Value = String> {
    let coordinate = prop_oneof![
        Just(real_coordinates().0.clone()),
        Just(real_coordinates().1.clone()),
        "[A-Za-z0-9_-]{62,66}",
    ];
    let epk = (
        coordinate.clone(),
        coordinate,
        select(vec!["EC", "OKP"]),
        select(vec!["P-384", "P-256"]),
    )
        .prop_map(|(x, y, kty, crv)| {
            format!(r#"{{"kty":"{kty}","crv":"{crv}","x":"{x}","y":"{y}"}}"#)
        });
    let names: Vec<&str> = KeyManagementAlg::ALL
        .iter()
        .map(|a| a.name())
        .chain(ContentEncryptionAlg::ALL.iter().map(|e| e.name()))
        .chain(["ECDH-ES+A25KW", "dir", "RSA-OAEP", "A128CBC-HS256", ""])
        .collect();
    let leaf = prop_oneof![
        select(names).prop_map(|n| format!("\"{n}\"")),
        epk,
        "[A-Za-z0-9_-]{0,90}".prop_map(|s| format!("\"{s}\"")),
        "[ -~]{0,12}".prop_map(|s| format!("\"{}\"", s.replace(['"', '\\'], ""))),
        r#""(\\[nt"]|\\u00[0-9a-f]{2}|[a-z]){0,6}""#,
        select(vec![
            "0", "-1.5e3", "true", "false", "null", "[]", "{}", "01", "tru", "\"", "{", "[1,]",
            "\"\\x\""
        ])
        .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(","))),
            proptest::collection::vec(("[a-z]{1,3}", inner), 0..4).prop_map(|members| {
                let body: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

/// A protected header as JSON text. Mostly shaped like a real one (`alg`, `enc` and `epk`
/// present and plausible, so the later checks and key agreement are reached), with each of
/// the three sometimes missing or replaced by a random value, plus random extra members
/// whose names the parser knows (so duplicates, `zip` and `crit` are frequent) or not, or
/// spelled with an escape. The members come in random order.
fn header_json() -> impl Strategy<Value = String> {
    let alg_names: Vec<String> = KeyManagementAlg::ALL
        .iter()
        .map(|a| quoted(a.name()))
        .collect();
    let enc_names: Vec<String> = ContentEncryptionAlg::ALL
        .iter()
        .map(|e| quoted(e.name()))
        .collect();
    // A real point most of the time; otherwise coordinates swapped, mixed or random.
    let (real_x, real_y) = real_coordinates().clone();
    let coordinate = prop_oneof![
        Just(real_x.clone()),
        Just(real_y.clone()),
        "[A-Za-z0-9_-]{62,66}",
    ];
    let epk = prop_oneof![
        4 => Just((real_x, real_y)),
        1 => (coordinate.clone(), coordinate),
    ]
    .prop_map(|(x, y)| format!(r#"{{"kty":"EC","crv":"P-384","x":"{x}","y":"{y}"}}"#));
    fn member(
        name: &'static str,
        value: impl Strategy<Value = String>,
    ) -> impl Strategy<Value = Option<(String, String)>> {
        prop_oneof![
            6 => value.prop_map(move |v| Some((name.to_owned(), v))),
            1 => json_value().prop_map(move |v| Some((name.to_owned(), v))),
            1 => Just(None),
        ]
    }
    let extra_name = prop_oneof![
        select(vec![
            "alg",
            "enc",
            "epk",
            "zip",
            "crit",
            "apu",
            "apv",
            "kid",
            "typ",
            "cty",
            "\\u0061lg"
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,4}",
    ];
    let extras = proptest::collection::vec((extra_name, json_value()), 0..3);
    (
        member("alg", select(alg_names)),
        member("enc", select(enc_names)),
        member("epk", epk),
        extras,
        select(vec!["", " ", "\n"]),
    )
        .prop_flat_map(|(alg, enc, epk, extras, space)| {
            let members: Vec<(String, String)> = [alg, enc, epk]
                .into_iter()
                .flatten()
                .chain(extras)
                .collect();
            (Just(members).prop_shuffle(), Just(space))
        })
        .prop_map(|(members, space)| {
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{space}\"{k}\"{space}:{space}{v}"))
                .collect();
            format!("{{{}}}", body.join(","))
        })
}

/// A part after the header: mostly canonical base64url of one of the byte lengths some
/// algorithm accepts there, otherwise random text that may not be base64url at all.
fn later_part(lens: &[usize]) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => select(lens.to_vec())
            .prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n))
            .prop_map(|bytes| b64e(&bytes)),
        1 => "[A-Za-z0-9_-]{0,70}",
        1 => "[A-Za-z0-9_=+/ -]{0,24}",
    ]
}

proptest! {
    // Raw bytes almost never get past the split and base64 checks, so a case costs
    // microseconds: 2,000 cases take under a second and still reach every early exit.
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn decrypt_never_panics_on_bytes(
        token in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..1024),
            // Dots are rare in random bytes; here they are common, so five parts happen.
            proptest::collection::vec(select(b".A_-=0+\xff\"{}".to_vec()), 0..64),
        ]
    ) {
        check_garbage(&token, AllowList::ALL)?;
    }
}

proptest! {
    // Some of these carry a point on the curve and so cost a scalar multiplication in each
    // decrypt; 1,000 cases take about 3 s and reach every header rule and the opaque error.
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn decrypt_never_panics_on_token_shaped_text(
        header in header_json(),
        encrypted_key in later_part(&[0, 24, 32, 40]),
        iv in later_part(&[12]),
        ciphertext in later_part(&[0, 1, 16, 17, 48]),
        tag in later_part(&[16]),
        allow in select(vec![AllowList::ALL, AllowList::BANK_PROFILE]),
    ) {
        let header_text = b64e(header.as_bytes());
        let token = format!("{header_text}.{encrypted_key}.{iv}.{ciphertext}.{tag}");
        check_garbage(token.as_bytes(), allow)?;
        // The header reader on its own, on the same JSON, also must not panic.
        let _ = ProtectedHeader::parse(header.as_bytes());
        let _ = PublicJwk::from_json(header.as_bytes());
        let _ = PrivateJwk::from_json(header.as_bytes());
    }
}

/// `b64` is used above to build tokens; keep it honest about canonical text so the flip
/// oracle's "valid character, different bytes" case stays right.
#[test]
fn flip_oracle_assumptions_hold() {
    for (_, _, token) in flip_tokens() {
        for part in token.split('.') {
            let bytes = b64d(part).expect("our tokens are canonical base64url");
            assert_eq!(b64::encoded_len(bytes.len()), part.len());
            assert_eq!(b64e(&bytes), part);
        }
    }
}
