//! One test per rejection rule of `alliancepay-jose`, each asserting the exact error.
//!
//! Tokens start from a valid one made by our own `encrypt` and are then edited: parts dropped,
//! added or re-encoded, or the header JSON rewritten and base64url-encoded again. Rewriting the
//! header changes the AAD, which does not matter for the structural rules: they fail before
//! key agreement. The opaque-error rule is tested the other way round: edits that survive every
//! structural check must all end in the one `DecryptionFailed`, with the output zeroed.
//!
//! Not covered: the bank's corrupt seed-002 example keys (`/work/shared/bank-api.md` §5.1
//! describes their defects but does not print the JSON). Their defects, a 63-character
//! coordinate with leftover bits and the `alg` typo `ECDH-ES+A25KW`, have their own tests here.

use std::sync::OnceLock;

use alliancepay_jose::b64::Base64Error;
use alliancepay_jose::json::JsonError;
use alliancepay_jose::{
    AllowList, ContentEncryptionAlg, EncryptOptions, Error, HeaderError, JwkError,
    KeyManagementAlg, MAX_HEADER_LEN, PrivateJwk, ProtectedHeader, PublicJwk, decrypt,
    decrypt_in_place, encrypt, max_plaintext_len, plaintext_len, token_len,
};
use alliancepay_jose::{CoordinateProblem, Part};
use serde_json::{Map, Value, json};

use crate::vectors::{b64d, b64e};

/// Ten bytes: the ciphertext part is 14 characters, so it has unused trailing bits.
const PLAINTEXT: &[u8] = b"0123456789";

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// The recipient of every token here (generation costs a scalar multiplication, so once).
fn key() -> &'static PrivateJwk {
    static KEY: OnceLock<PrivateJwk> = OnceLock::new();
    KEY.get_or_init(|| PrivateJwk::generate(&mut rng()).expect("generate"))
}

fn token_with(options: &EncryptOptions<'_>) -> String {
    let mut out = vec![0u8; options.token_len(PLAINTEXT.len()).expect("token_len")];
    encrypt(key().public_jwk(), PLAINTEXT, options, &mut rng(), &mut out)
        .expect("encrypt")
        .to_owned()
}

/// A fresh valid token with the bank's algorithms.
fn bank_token() -> String {
    token_with(&EncryptOptions::BANK)
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

fn with_part(token: &str, index: usize, text: &str) -> String {
    let mut parts = parts(token);
    parts[index] = text.to_owned();
    parts.join(".")
}

/// Decrypts with every algorithm allowed, so that only the rule under test can refuse.
fn decrypt_all(token: &str) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; max_plaintext_len(token.len())];
    decrypt(key(), token.as_bytes(), AllowList::ALL, &mut out).map(|p| p.to_vec())
}

fn refusal(token: &str) -> Error {
    decrypt_all(token).expect_err("token must be refused")
}

fn header_text(token: &str) -> String {
    let bytes = b64d(token.split('.').next().expect("header part")).expect("header base64url");
    String::from_utf8(bytes).expect("UTF-8 header")
}

fn with_header_text(token: &str, json: &str) -> String {
    with_part(token, 0, &b64e(json.as_bytes()))
}

/// The token with its header JSON rewritten by `edit` (members come out sorted by name).
fn with_header(token: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut header: Map<String, Value> =
        serde_json::from_str(&header_text(token)).expect("header JSON");
    edit(&mut header);
    with_header_text(token, &Value::Object(header).to_string())
}

fn header_error(token: &str) -> HeaderError {
    match refusal(token) {
        Error::Header(e) => e,
        other => panic!("expected a header error, got {other:?}"),
    }
}

/// Base64url text of a 48-byte big-endian number plus one.
fn plus_one(text: &str) -> String {
    let mut bytes = b64d(text).expect("coordinate");
    for byte in bytes.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            break;
        }
    }
    b64e(&bytes)
}

/// Replaces the character at `index` of part `part`.
fn replace_char(token: &str, part: usize, index: usize, c: char) -> String {
    let mut text = parts(token)[part].clone();
    text.replace_range(index..=index, &c.to_string());
    with_part(token, part, &text)
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Part `part` with its last character changed to set the lowest unused bit (the part's
/// length must be 2 or 3 mod 4, so that there are unused bits).
fn with_trailing_bit(token: &str, part: usize) -> String {
    let text = parts(token)[part].clone();
    assert_ne!(text.len() % 4, 0, "part {part} has no unused bits");
    let last = text.as_bytes()[text.len() - 1];
    let value = ALPHABET.iter().position(|&c| c == last).expect("alphabet");
    let noisy = char::from(ALPHABET[value | 1]);
    replace_char(token, part, text.len() - 1, noisy)
}

const PART_NAMES: [Part; 5] = [
    Part::ProtectedHeader,
    Part::EncryptedKey,
    Part::Iv,
    Part::Ciphertext,
    Part::Tag,
];

// ---------------------------------------------------------------------------------------------
// Shape of the token.

#[test]
fn segment_count() {
    let token = bank_token();
    let four = parts(&token)[..4].join(".");
    assert_eq!(refusal(&four), Error::SegmentCount { found: 4 });
    let six = format!("{token}.AAAA");
    assert_eq!(refusal(&six), Error::SegmentCount { found: 6 });
    assert_eq!(refusal(""), Error::SegmentCount { found: 1 });
    assert_eq!(
        plaintext_len(four.as_bytes()),
        Err(Error::SegmentCount { found: 4 })
    );
    let mut in_place = six.into_bytes();
    assert_eq!(
        decrypt_in_place(key(), &mut in_place, AllowList::ALL),
        Err(Error::SegmentCount { found: 6 })
    );
}

/// Padding as a padded encoder would write it. Fixed-size parts check their length before
/// their alphabet, so padding there is a length error; the header and ciphertext, whose
/// lengths vary, report the `=` itself. A 12-byte IV never takes padding, so a `=` in place of
/// its last character stands in for it.
#[test]
fn base64_padding_in_each_part() {
    let token = bank_token();
    let p = parts(&token);
    assert_eq!(p[0].len() % 4, 3, "the bank header needs one '='");
    assert_eq!(
        refusal(&with_part(&token, 0, &format!("{}=", p[0]))),
        Error::Base64 {
            part: Part::ProtectedHeader,
            error: Base64Error::InvalidCharacter
        }
    );
    assert_eq!(
        refusal(&with_part(&token, 1, &format!("{}==", p[1]))),
        Error::PartLength {
            part: Part::EncryptedKey,
            expected: 40,
            found: 42
        }
    );
    assert_eq!(
        refusal(&replace_char(&token, 2, p[2].len() - 1, '=')),
        Error::Base64 {
            part: Part::Iv,
            error: Base64Error::InvalidCharacter
        }
    );
    assert_eq!(
        refusal(&with_part(&token, 3, &format!("{}==", p[3]))),
        Error::Base64 {
            part: Part::Ciphertext,
            error: Base64Error::InvalidCharacter
        }
    );
    assert_eq!(
        refusal(&with_part(&token, 4, &format!("{}==", p[4]))),
        Error::PartLength {
            part: Part::Tag,
            expected: 16,
            found: 18
        }
    );
}

#[test]
fn base64_whitespace_in_each_part() {
    let token = bank_token();
    for (index, part) in PART_NAMES.into_iter().enumerate() {
        let middle = parts(&token)[index].len() / 2;
        for c in [' ', '\n', '\t'] {
            assert_eq!(
                refusal(&replace_char(&token, index, middle, c)),
                Error::Base64 {
                    part,
                    error: Base64Error::InvalidCharacter
                },
                "{c:?} in the {part}"
            );
        }
    }
    // Surrounding whitespace is not trimmed: a trailing newline lengthens the tag.
    assert_eq!(
        refusal(&format!("{token}\n")),
        Error::PartLength {
            part: Part::Tag,
            expected: 16,
            found: 17
        }
    );
    assert_eq!(
        refusal(&format!(" {token}")),
        Error::Base64 {
            part: Part::ProtectedHeader,
            error: Base64Error::InvalidCharacter
        }
    );
}

#[test]
fn base64_standard_alphabet_in_each_part() {
    let token = bank_token();
    for (index, part) in PART_NAMES.into_iter().enumerate() {
        let middle = parts(&token)[index].len() / 2;
        for c in ['+', '/'] {
            assert_eq!(
                refusal(&replace_char(&token, index, middle, c)),
                Error::Base64 {
                    part,
                    error: Base64Error::InvalidCharacter
                },
                "{c:?} in the {part}"
            );
        }
    }
}

/// Without this rule one token would have several spellings. The IV (12 bytes, 16 characters)
/// has no unused bits, so it cannot be spelled non-canonically.
#[test]
fn base64_non_zero_trailing_bits_in_each_part() {
    let token = bank_token();
    assert_eq!(parts(&token)[2].len() % 4, 0);
    for index in [0, 1, 3, 4] {
        assert_eq!(
            refusal(&with_trailing_bit(&token, index)),
            Error::Base64 {
                part: PART_NAMES[index],
                error: Base64Error::NonCanonical
            },
            "trailing bits in the {}",
            PART_NAMES[index]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The protected header.

#[test]
fn header_not_json() {
    let token = bank_token();
    assert!(matches!(
        header_error(&with_header_text(&token, "not json")),
        HeaderError::Json(JsonError::Syntax { .. })
    ));
    assert_eq!(
        header_error(&with_header_text(&token, r#"["alg"]"#)),
        HeaderError::Json(JsonError::NotAnObject)
    );
}

#[test]
fn header_trailing_data() {
    let token = bank_token();
    let json = header_text(&token);
    assert_eq!(
        header_error(&with_header_text(&token, &format!("{json}x"))),
        HeaderError::Json(JsonError::Syntax { offset: json.len() })
    );
    assert_eq!(
        header_error(&with_header_text(&token, &format!("{json}{{}}"))),
        HeaderError::Json(JsonError::Syntax { offset: json.len() })
    );
}

/// Two `alg` members: which one a parser sees would be up to the parser, so none is accepted.
#[test]
fn header_duplicate_alg() {
    let token = bank_token();
    let json = header_text(&token);
    let doubled = json.replacen('{', r#"{"alg":"ECDH-ES+A256KW","#, 1);
    assert_eq!(
        header_error(&with_header_text(&token, &doubled)),
        HeaderError::Json(JsonError::DuplicateMember)
    );
}

#[test]
fn header_escaped_member_name() {
    let token = bank_token();
    let json = header_text(&token).replacen(r#""alg""#, r#""\u0061lg""#, 1);
    assert_eq!(
        header_error(&with_header_text(&token, &json)),
        HeaderError::Json(JsonError::EscapedMemberName)
    );
}

/// A header padded to `len` bytes with an unknown member.
fn header_of_len(token: &str, len: usize) -> String {
    let json = header_text(token);
    let filler = "x".repeat(len - json.len() - r#","pad":"""#.len());
    let padded = format!(r#"{},"pad":"{filler}"}}"#, &json[..json.len() - 1]);
    assert_eq!(padded.len(), len);
    with_header_text(token, &padded)
}

#[test]
fn header_longer_than_max() {
    let token = bank_token();
    assert_eq!(
        refusal(&header_of_len(&token, MAX_HEADER_LEN + 1)),
        Error::HeaderTooLong {
            found: MAX_HEADER_LEN + 1
        }
    );
    // At the limit the header is read; the changed AAD then fails authentication.
    assert_eq!(
        refusal(&header_of_len(&token, MAX_HEADER_LEN)),
        Error::DecryptionFailed
    );
}

#[test]
fn header_alg_unsupported() {
    let token = bank_token();
    let edited = with_header(&token, |h| {
        h.insert("alg".into(), json!("ECDH-ES+A25KW"));
    });
    assert!(matches!(
        header_error(&edited),
        HeaderError::UnsupportedAlg(v) if v.as_str() == "ECDH-ES+A25KW"
    ));
    let edited = with_header(&token, |h| {
        h.insert("alg".into(), json!("RSA-OAEP"));
    });
    assert!(matches!(
        header_error(&edited),
        HeaderError::UnsupportedAlg(v) if v.as_str() == "RSA-OAEP"
    ));
    // Names are matched exactly.
    let edited = with_header(&token, |h| {
        h.insert("alg".into(), json!("ecdh-es+a256kw"));
    });
    assert!(matches!(
        header_error(&edited),
        HeaderError::UnsupportedAlg(_)
    ));
}

#[test]
fn header_enc_unsupported() {
    let token = bank_token();
    let edited = with_header(&token, |h| {
        h.insert("enc".into(), json!("A128CBC-HS256"));
    });
    assert!(matches!(
        header_error(&edited),
        HeaderError::UnsupportedEnc(v) if v.as_str() == "A128CBC-HS256"
    ));
}

#[test]
fn header_alg_or_enc_of_wrong_type() {
    let token = bank_token();
    for member in ["alg", "enc", "epk"] {
        let edited = with_header(&token, |h| {
            h.insert(member.into(), json!(7));
        });
        assert_eq!(header_error(&edited), HeaderError::WrongType(member));
    }
}

#[test]
fn pair_valid_but_not_allowed_by_default() {
    let options = EncryptOptions {
        alg: KeyManagementAlg::EcdhEsA128Kw,
        enc: ContentEncryptionAlg::A128Gcm,
        ..EncryptOptions::BANK
    };
    let token = token_with(&options);
    let mut out = vec![0u8; PLAINTEXT.len()];
    let expected = Err(Error::NotAllowed {
        alg: KeyManagementAlg::EcdhEsA128Kw,
        enc: ContentEncryptionAlg::A128Gcm,
    });
    assert_eq!(
        decrypt(key(), token.as_bytes(), AllowList::default(), &mut out),
        expected
    );
    assert_eq!(
        decrypt(key(), token.as_bytes(), AllowList::EMPTY, &mut out),
        expected
    );
    let allowed = AllowList::default().with(options.alg, options.enc);
    let plaintext = decrypt(key(), token.as_bytes(), allowed, &mut out).expect("allowed");
    assert_eq!(plaintext, PLAINTEXT);
}

#[test]
fn header_missing_member() {
    let token = bank_token();
    for member in ["alg", "enc", "epk"] {
        let edited = with_header(&token, |h| {
            h.remove(member);
        });
        assert_eq!(
            header_error(&edited),
            HeaderError::MissingMember(member),
            "without {member}"
        );
    }
}

fn with_epk(token: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    with_header(token, |h| {
        edit(
            h.get_mut("epk")
                .and_then(Value::as_object_mut)
                .expect("epk object"),
        );
    })
}

/// An ephemeral key off the curve is the invalid-curve attack; it must stop at parsing.
#[test]
fn epk_off_curve() {
    let token = bank_token();
    let edited = with_epk(&token, |epk| {
        let x = plus_one(epk["x"].as_str().expect("x"));
        epk.insert("x".into(), json!(x));
    });
    assert_eq!(
        header_error(&edited),
        HeaderError::Epk(JwkError::NotOnCurve)
    );
    let zero = b64e(&[0u8; 48]);
    let edited = with_epk(&token, |epk| {
        epk.insert("x".into(), json!(zero));
        epk.insert("y".into(), json!(zero));
    });
    assert_eq!(
        header_error(&edited),
        HeaderError::Epk(JwkError::NotOnCurve)
    );
}

#[test]
fn epk_on_p256() {
    let token = bank_token();
    let edited = with_epk(&token, |epk| {
        epk.insert("crv".into(), json!("P-256"));
    });
    assert!(matches!(
        header_error(&edited),
        HeaderError::Epk(JwkError::UnsupportedValue { member: "crv", value, .. })
            if value.as_str() == "P-256"
    ));
}

#[test]
fn epk_coordinate_of_wrong_length() {
    let token = bank_token();
    let edited = with_epk(&token, |epk| {
        let x = epk["x"].as_str().expect("x")[..63].to_owned();
        epk.insert("x".into(), json!(x));
    });
    assert_eq!(
        header_error(&edited),
        HeaderError::Epk(JwkError::Coordinate {
            member: "x",
            problem: CoordinateProblem::WrongLength { chars: 63 }
        })
    );
    let edited = with_epk(&token, |epk| {
        let y = format!("{}A", epk["y"].as_str().expect("y"));
        epk.insert("y".into(), json!(y));
    });
    assert_eq!(
        header_error(&edited),
        HeaderError::Epk(JwkError::Coordinate {
            member: "y",
            problem: CoordinateProblem::WrongLength { chars: 65 }
        })
    );
}

/// A sender that puts its ephemeral `d` in the header has leaked it; refuse rather than
/// tolerate. The key here is a whole valid key pair, so only the presence of `d` is wrong.
#[test]
fn epk_carrying_d() {
    let token = bank_token();
    let other = PrivateJwk::generate(&mut rng()).expect("generate");
    let mut json = vec![0u8; alliancepay_jose::PRIVATE_JWK_MAX_LEN];
    let private: Value =
        serde_json::from_str(other.write_json(&mut json).expect("write")).expect("JSON");
    let edited = with_header(&token, |h| {
        h.insert("epk".into(), private);
    });
    assert_eq!(
        header_error(&edited),
        HeaderError::Epk(JwkError::UnexpectedPrivateKey)
    );
}

#[test]
fn header_zip_present() {
    let token = bank_token();
    let edited = with_header(&token, |h| {
        h.insert("zip".into(), json!("DEF"));
    });
    assert_eq!(header_error(&edited), HeaderError::Zip);
}

#[test]
fn header_crit_present() {
    let token = bank_token();
    for crit in [json!(["exp"]), json!([])] {
        let edited = with_header(&token, |h| {
            h.insert("crit".into(), crit);
        });
        assert_eq!(header_error(&edited), HeaderError::Crit);
    }
}

// ---------------------------------------------------------------------------------------------
// Part lengths.

#[test]
fn encrypted_key_of_wrong_length() {
    let token = bank_token();
    for found in [0, 24, 39, 41] {
        assert_eq!(
            refusal(&with_part(&token, 1, &b64e(&vec![0x5a; found]))),
            Error::PartLength {
                part: Part::EncryptedKey,
                expected: 40,
                found
            },
            "{found}-byte encrypted key"
        );
    }
    // Direct ECDH-ES has no wrapped key: the part must be empty.
    let direct = token_with(&EncryptOptions {
        alg: KeyManagementAlg::EcdhEs,
        ..EncryptOptions::BANK
    });
    assert_eq!(parts(&direct)[1], "");
    assert_eq!(
        refusal(&with_part(&direct, 1, &b64e(&[0x5a; 40]))),
        Error::PartLength {
            part: Part::EncryptedKey,
            expected: 0,
            found: 40
        }
    );
}

/// JWE fixes the GCM IV at 96 bits; Wycheproof's other IV sizes never reach AES-GCM.
#[test]
fn iv_of_wrong_length() {
    let token = bank_token();
    for found in [0, 8, 11, 13, 16] {
        assert_eq!(
            refusal(&with_part(&token, 2, &b64e(&vec![1; found]))),
            Error::PartLength {
                part: Part::Iv,
                expected: 12,
                found
            },
            "{found}-byte IV"
        );
    }
}

/// A truncated tag would weaken authentication; only the full 128 bits are accepted.
#[test]
fn tag_of_wrong_length() {
    let token = bank_token();
    for found in [0, 12, 15, 17] {
        assert_eq!(
            refusal(&with_part(&token, 4, &b64e(&vec![2; found]))),
            Error::PartLength {
                part: Part::Tag,
                expected: 16,
                found
            },
            "{found}-byte tag"
        );
    }
}

/// A part of `4k + 1` characters decodes to no byte string at all, so it has no length to
/// report: each fixed-length part calls it a base64 error instead.
#[test]
fn fixed_part_of_impossible_length() {
    let token = bank_token();
    for (index, part) in [(1, Part::EncryptedKey), (2, Part::Iv), (4, Part::Tag)] {
        let text = format!("{}A", parts(&token)[index]);
        let text = if text.len() % 4 == 1 {
            text
        } else {
            format!("{text}AA")
        };
        assert_eq!(text.len() % 4, 1);
        assert_eq!(
            refusal(&with_part(&token, index, &text)),
            Error::Base64 {
                part,
                error: Base64Error::InvalidLength
            },
            "{}-character {part}",
            text.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Buffers.

#[test]
fn encrypt_buffer_too_small() {
    let required = token_len(PLAINTEXT.len());
    let mut out = vec![0u8; required - 1];
    assert_eq!(
        encrypt(
            key().public_jwk(),
            PLAINTEXT,
            &EncryptOptions::BANK,
            &mut rng(),
            &mut out
        ),
        Err(Error::BufferTooSmall { required })
    );
    let options = EncryptOptions {
        alg: KeyManagementAlg::EcdhEs,
        enc: ContentEncryptionAlg::A128Gcm,
        kid: Some("merchant-key-1"),
        ..EncryptOptions::BANK
    };
    let required = options.token_len(PLAINTEXT.len()).expect("token_len");
    let mut out = vec![0u8; required - 1];
    assert_eq!(
        encrypt(
            key().public_jwk(),
            PLAINTEXT,
            &options,
            &mut rng(),
            &mut out
        ),
        Err(Error::BufferTooSmall { required })
    );
    assert_eq!(
        encrypt(key().public_jwk(), PLAINTEXT, &options, &mut rng(), &mut []),
        Err(Error::BufferTooSmall { required })
    );
}

#[test]
fn decrypt_buffer_too_small() {
    let token = bank_token();
    let mut out = vec![0u8; PLAINTEXT.len() - 1];
    assert_eq!(
        decrypt(key(), token.as_bytes(), AllowList::default(), &mut out),
        Err(Error::BufferTooSmall {
            required: PLAINTEXT.len()
        })
    );
    let mut out = vec![0u8; PLAINTEXT.len()];
    let plaintext =
        decrypt(key(), token.as_bytes(), AllowList::default(), &mut out).expect("exact size");
    assert_eq!(plaintext, PLAINTEXT);
}

// ---------------------------------------------------------------------------------------------
// After key agreement: one opaque error, output zeroed.

/// Decrypts into a buffer pre-filled with a marker; on `DecryptionFailed` checks that the
/// plaintext area was wiped. Returns the result.
fn decrypt_checking_wipe(key: &PrivateJwk, token: &str) -> Result<Vec<u8>, Error> {
    let mut out = vec![0xa5u8; max_plaintext_len(token.len())];
    let result = decrypt(key, token.as_bytes(), AllowList::ALL, &mut out).map(|p| p.to_vec());
    if result == Err(Error::DecryptionFailed) {
        let len = plaintext_len(token.as_bytes()).expect("five parts");
        assert!(
            out[..len].iter().all(|&b| b == 0),
            "output not zeroed after DecryptionFailed"
        );
    }
    result
}

/// Every bit of the encrypted key, IV, ciphertext and tag is flipped in turn (on the decoded
/// bytes, re-encoded canonically so that the structure stays valid).
#[test]
fn every_bit_flip_after_the_header_is_decryption_failed() {
    let token = bank_token();
    let mut flips = 0;
    for (index, part) in PART_NAMES.into_iter().enumerate().skip(1) {
        let bytes = b64d(&parts(&token)[index]).expect("part");
        for byte in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[byte] ^= 1 << bit;
                let edited = with_part(&token, index, &b64e(&flipped));
                assert_eq!(
                    decrypt_checking_wipe(key(), &edited),
                    Err(Error::DecryptionFailed),
                    "{part} byte {byte} bit {bit}"
                );
                flips += 1;
            }
        }
    }
    println!("negative: {flips} single-bit flips in key/IV/ciphertext/tag, all DecryptionFailed");
}

/// Every bit of the header JSON flipped in turn. Most flips break the JSON, a name or the key
/// and are refused structurally; every flip that leaves a header we read must fail
/// authentication instead. `kid` gives the header a string whose letters can change freely.
#[test]
fn every_bit_flip_in_the_header_is_refused() {
    let token = token_with(&EncryptOptions {
        kid: Some("merchant-key-1"),
        ..EncryptOptions::BANK
    });
    let header = header_text(&token).into_bytes();
    let (mut structural, mut opaque) = (0, 0);
    for byte in 0..header.len() {
        for bit in 0..8 {
            let mut flipped = header.clone();
            flipped[byte] ^= 1 << bit;
            let edited = with_part(&token, 0, &b64e(&flipped));
            let result = decrypt_checking_wipe(key(), &edited);
            assert!(result.is_err(), "header byte {byte} bit {bit} accepted");
            if ProtectedHeader::parse(&flipped).is_ok() {
                assert_eq!(
                    result,
                    Err(Error::DecryptionFailed),
                    "header byte {byte} bit {bit}"
                );
                opaque += 1;
            } else {
                structural += 1;
            }
        }
    }
    assert!(opaque > 0, "no header flip reached key agreement");
    println!(
        "negative: header bit flips: {structural} refused structurally, {opaque} DecryptionFailed"
    );
}

/// The AAD is the header text, not its meaning: the same JSON spelled differently, or a letter
/// changed in a member we do not interpret, must fail authentication.
#[test]
fn header_respelled_or_unknown_member_changed_is_decryption_failed() {
    let token = token_with(&EncryptOptions {
        kid: Some("merchant-key-1"),
        ..EncryptOptions::BANK
    });
    let json = header_text(&token);
    let spaced = json.replace(',', ", ").replace(':', ": ");
    // `alg` moved to the end: a different order whether serde_json's map is sorted or keeps
    // insertion order (josekit, a dependency of the benches, turns on `preserve_order` in a
    // `cargo test --workspace` build, which made an untouched round trip reproduce our order).
    let reordered = with_header(&token, |header| {
        let alg = header.remove("alg").expect("alg");
        header.insert("alg".to_owned(), alg);
    });
    let kid_changed = json.replace("merchant-key-1", "merchant-key-2");
    for (what, edited) in [
        ("whitespace", with_header_text(&token, &spaced)),
        ("member order", reordered),
        ("kid letter", with_header_text(&token, &kid_changed)),
        (
            "unknown member",
            with_header_text(&token, &json.replacen('{', r#"{"note":"a","#, 1)),
        ),
    ] {
        assert_ne!(edited, token, "{what}: edit had no effect");
        assert_eq!(
            decrypt_checking_wipe(key(), &edited),
            Err(Error::DecryptionFailed),
            "{what}"
        );
    }
}

/// A different but valid ephemeral key gives a different shared secret: same opaque error.
#[test]
fn other_valid_epk_is_decryption_failed() {
    let token = bank_token();
    let other = PrivateJwk::generate(&mut rng()).expect("generate");
    let mut json = vec![0u8; alliancepay_jose::PUBLIC_JWK_MAX_LEN];
    let mut public: Value = serde_json::from_str(
        other
            .public_jwk()
            .with_params(Default::default())
            .write_json(&mut json)
            .expect("write"),
    )
    .expect("JSON");
    let edited = with_header(&token, |h| {
        h.insert("epk".into(), public.take());
    });
    assert_eq!(
        decrypt_checking_wipe(key(), &edited),
        Err(Error::DecryptionFailed)
    );
}

#[test]
fn wrong_private_key_is_decryption_failed() {
    let token = bank_token();
    let other = PrivateJwk::generate(&mut rng()).expect("generate");
    assert_eq!(
        decrypt_checking_wipe(&other, &token),
        Err(Error::DecryptionFailed)
    );
    // In place, the ciphertext area of the token is what gets wiped.
    let mut in_place = token.clone().into_bytes();
    assert_eq!(
        decrypt_in_place(&other, &mut in_place, AllowList::default()),
        Err(Error::DecryptionFailed)
    );
    let start = token.rfind('.').expect("parts") - parts(&token)[3].len();
    assert!(
        in_place[start..start + PLAINTEXT.len()]
            .iter()
            .all(|&b| b == 0),
        "ciphertext area not zeroed by decrypt_in_place"
    );
}

// ---------------------------------------------------------------------------------------------
// JWK rules.

/// A valid private JWK (`kty`, `crv`, `x`, `y`, `d`, `use`, `alg`) as a JSON map.
fn private_members(key: &PrivateJwk) -> Map<String, Value> {
    let mut out = vec![0u8; alliancepay_jose::PRIVATE_JWK_MAX_LEN];
    serde_json::from_str(key.write_json(&mut out).expect("write")).expect("JSON")
}

fn public_members(key: &PrivateJwk) -> Map<String, Value> {
    let mut members = private_members(key);
    members.remove("d");
    members
}

fn jwk_error(members: Map<String, Value>) -> JwkError {
    let text = Value::Object(members).to_string();
    let public = PublicJwk::from_json(text.as_bytes());
    let private = PrivateJwk::from_json(text.as_bytes());
    match (public, private) {
        (Err(e), _) if !text.contains(r#""d":"#) => e,
        (_, Err(e)) => e,
        _ => panic!("JWK accepted: {text}"),
    }
}

fn edited(edit: impl FnOnce(&mut Map<String, Value>)) -> Map<String, Value> {
    let mut members = private_members(key());
    edit(&mut members);
    members
}

fn set(member: &'static str, value: Value) -> Map<String, Value> {
    edited(|m| {
        m.insert(member.into(), value);
    })
}

#[test]
fn jwk_base_is_valid() {
    let text = Value::Object(private_members(key())).to_string();
    PrivateJwk::from_json(text.as_bytes()).expect("private");
    let text = Value::Object(public_members(key())).to_string();
    PublicJwk::from_json(text.as_bytes()).expect("public");
}

#[test]
fn jwk_kty_rsa() {
    assert!(matches!(
        jwk_error(set("kty", json!("RSA"))),
        JwkError::UnsupportedValue { member: "kty", value, expected: "EC" } if value.as_str() == "RSA"
    ));
}

#[test]
fn jwk_crv_p256() {
    assert!(matches!(
        jwk_error(set("crv", json!("P-256"))),
        JwkError::UnsupportedValue { member: "crv", value, .. } if value.as_str() == "P-256"
    ));
}

#[test]
fn jwk_x_63_chars() {
    let x = private_members(key())["x"].as_str().expect("x")[..63].to_owned();
    assert_eq!(
        jwk_error(set("x", json!(x))),
        JwkError::Coordinate {
            member: "x",
            problem: CoordinateProblem::WrongLength { chars: 63 }
        }
    );
}

#[test]
fn jwk_y_65_chars() {
    let y = format!("{}A", private_members(key())["y"].as_str().expect("y"));
    assert_eq!(
        jwk_error(set("y", json!(y))),
        JwkError::Coordinate {
            member: "y",
            problem: CoordinateProblem::WrongLength { chars: 65 }
        }
    );
}

/// 48 bytes fill 64 characters exactly, so a coordinate of the right length has no unused
/// bits. The bank's corrupt keys have 63 characters whose leftover bits are not zero: the
/// length rule refuses them first. Non-canonical characters at the right length are refused
/// by the alphabet rule.
#[test]
fn jwk_non_canonical_coordinate() {
    let x = private_members(key())["x"].as_str().expect("x").to_owned();
    let mut leftover = x[..63].to_owned();
    leftover.replace_range(62.., "B"); // 62 % 4 == 2: the last character's low 4 bits are spare
    assert_eq!(
        jwk_error(set("x", json!(leftover))),
        JwkError::Coordinate {
            member: "x",
            problem: CoordinateProblem::WrongLength { chars: 63 }
        }
    );
    for c in ["=", "+", " "] {
        let mut bad = x.clone();
        bad.replace_range(63.., c);
        assert_eq!(
            jwk_error(set("x", json!(bad))),
            JwkError::Coordinate {
                member: "x",
                problem: CoordinateProblem::Base64(Base64Error::InvalidCharacter)
            },
            "{c:?} in x"
        );
    }
}

#[test]
fn jwk_point_off_curve() {
    let x = plus_one(private_members(key())["x"].as_str().expect("x"));
    let mut members = public_members(key());
    members.insert("x".into(), json!(x));
    assert_eq!(jwk_error(members), JwkError::NotOnCurve);
}

#[test]
fn jwk_point_zero_zero() {
    let zero = b64e(&[0u8; 48]);
    let mut members = public_members(key());
    members.insert("x".into(), json!(zero));
    members.insert("y".into(), json!(zero));
    assert_eq!(jwk_error(members), JwkError::NotOnCurve);
}

/// The P-384 group order n.
const ORDER_HEX: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";

#[test]
fn jwk_d_out_of_range() {
    let n = hex::decode(ORDER_HEX).expect("hex");
    let mut n_plus_one = n.clone();
    n_plus_one[47] += 1;
    for (what, d) in [
        ("zero", vec![0u8; 48]),
        ("n", n),
        ("n + 1", n_plus_one),
        ("all ones", vec![0xff; 48]),
    ] {
        assert_eq!(
            jwk_error(set("d", json!(b64e(&d)))),
            JwkError::ScalarOutOfRange,
            "d = {what}"
        );
    }
}

#[test]
fn jwk_d_not_matching() {
    let other = PrivateJwk::generate(&mut rng()).expect("generate");
    let d = private_members(&other)["d"].clone();
    assert_eq!(jwk_error(set("d", d)), JwkError::KeyMismatch);
}

#[test]
fn jwk_use_sig() {
    assert!(matches!(
        jwk_error(set("use", json!("sig"))),
        JwkError::UnsupportedValue { member: "use", value, expected: "enc" } if value.as_str() == "sig"
    ));
}

/// The typo from the bank's documentation: refused, and the message names member and value.
#[test]
fn jwk_alg_typo_from_bank_docs() {
    let error = jwk_error(set("alg", json!("ECDH-ES+A25KW")));
    assert!(matches!(
        &error,
        JwkError::UnsupportedValue { member: "alg", value, .. } if value.as_str() == "ECDH-ES+A25KW"
    ));
    let text = error.to_string();
    assert!(
        text.contains("\"alg\"") && text.contains("ECDH-ES+A25KW"),
        "message: {text}"
    );
    let text = Error::from(error).to_string();
    assert!(
        text.contains("\"alg\"") && text.contains("ECDH-ES+A25KW"),
        "message: {text}"
    );
}

#[test]
fn jwk_duplicate_member() {
    let text = Value::Object(public_members(key())).to_string();
    let x = public_members(key())["x"].clone();
    let doubled = text.replacen('{', &format!(r#"{{"x":{x},"#), 1);
    assert_eq!(
        PublicJwk::from_json(doubled.as_bytes()),
        Err(JwkError::Json(JsonError::DuplicateMember))
    );
}

#[test]
fn jwk_d_given_to_public_parser() {
    let text = Value::Object(private_members(key())).to_string();
    assert_eq!(
        PublicJwk::from_json(text.as_bytes()),
        Err(JwkError::UnexpectedPrivateKey)
    );
}

#[test]
fn jwk_missing_d_for_private_parser() {
    let text = Value::Object(public_members(key())).to_string();
    assert_eq!(
        PrivateJwk::from_json(text.as_bytes()).map(|_| ()),
        Err(JwkError::MissingMember("d"))
    );
}

#[test]
fn jwk_missing_or_mistyped_member() {
    for member in ["kty", "crv", "x", "y"] {
        let members = edited(|m| {
            m.remove(member);
        });
        assert_eq!(
            jwk_error(members),
            JwkError::MissingMember(member),
            "without {member}"
        );
    }
    assert_eq!(
        jwk_error(set("kty", json!(["EC"]))),
        JwkError::NotAString("kty")
    );
}

#[test]
fn private_jwk_debug_hides_d() {
    let d = private_members(key())["d"].as_str().expect("d").to_owned();
    let debug = format!("{:?}", key());
    let pretty = format!("{:#?}", key());
    let d_hex = hex::encode(b64d(&d).expect("d"));
    for text in [&debug, &pretty] {
        assert!(!text.contains(&d), "Debug shows d: {text}");
        assert!(
            !text.to_lowercase().contains(&d_hex),
            "Debug shows d in hex"
        );
    }
    assert!(debug.contains("redacted"), "{debug}");
}
