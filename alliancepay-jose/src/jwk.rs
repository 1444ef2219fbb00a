//! EC P-384 JSON Web Keys (RFC 7517; RFC 7518 §6.2): strict parsing, serialization into caller
//! buffers, generation, and the RFC 7638 thumbprint.
//!
//! Accepted: `kty` `"EC"`, `crv` `"P-384"`, `x`/`y` (and `d`) each exactly 48 bytes as 64
//! characters of canonical unpadded base64url, a point on the curve, a `d` in `[1, n-1]` that
//! belongs to that point. `use`, when present, must be `"enc"`; `alg`, when present, must be an
//! algorithm compiled in. Unknown members are ignored; duplicate members are refused (see
//! [`json`]). The bank's documentation prints keys with 63-character coordinates
//! and `alg` `"ECDH-ES+A25KW"`: both are refused with an error naming the member.

use p384::elliptic_curve::Generate;
use p384::elliptic_curve::rand_core::TryCryptoRng;
use p384::elliptic_curve::sec1::{FromSec1Point, ToSec1Point};
use p384::{FieldBytes, PublicKey, Sec1Point, SecretKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::alg::KeyManagementAlg;
use crate::b64;
use crate::error::{CoordinateProblem, Error, Excerpt, JwkError};
use crate::json::{self, Value};

/// Bytes in a P-384 coordinate or scalar.
pub const COORDINATE_LEN: usize = 48;
/// Characters of base64url for a coordinate or scalar.
const COORDINATE_CHARS: usize = b64::encoded_len(COORDINATE_LEN);

/// Longest JSON [`PublicJwk::write_json`] produces (with `use` and the longest `alg`).
pub const PUBLIC_JWK_MAX_LEN: usize =
    r#"{"kty":"EC","crv":"P-384","x":"","y":"","use":"enc","alg":"ECDH-ES+A256KW"}"#.len()
        + 2 * COORDINATE_CHARS;
/// Longest JSON [`PrivateJwk::write_json`] produces.
pub const PRIVATE_JWK_MAX_LEN: usize = PUBLIC_JWK_MAX_LEN + r#","d":"""#.len() + COORDINATE_CHARS;

/// The optional members `use` and `alg` of a key, as parsed or as they will be written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyParams {
    /// `"use":"enc"` is present.
    pub use_enc: bool,
    /// The `alg` member, if present.
    pub alg: Option<KeyManagementAlg>,
}

impl KeyParams {
    /// What the bank documents for its keys: `use` `enc`, `alg` `ECDH-ES+A256KW`.
    pub const BANK: Self = Self {
        use_enc: true,
        alg: Some(KeyManagementAlg::EcdhEsA256Kw),
    };
}

/// A P-384 public key as a JWK: the recipient of [`encrypt`](crate::encrypt).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicJwk {
    key: PublicKey,
    params: KeyParams,
}

/// A P-384 key pair as a JWK with `d`: the recipient of [`decrypt`](crate::decrypt).
///
/// The scalar is zeroized when the value is dropped; `Debug` shows only the public half.
#[derive(Clone)]
pub struct PrivateJwk {
    secret: SecretKey,
    public: PublicJwk,
}

/// An RFC 7638 JWK thumbprint: SHA-256 over the key's required members in canonical form.
/// `Display` gives the base64url text customarily used as `kid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Thumbprint(pub [u8; 32]);

impl Thumbprint {
    /// The base64url text (43 characters).
    #[must_use]
    pub fn to_base64url(&self) -> ThumbprintText {
        let mut buf = [0u8; 43];
        let mut text = heapless::String::new();
        if let Ok(encoded) = b64::encode(&self.0, &mut buf) {
            // 32 bytes encode to exactly 43 characters.
            let _ = text.push_str(encoded);
        }
        ThumbprintText(text)
    }
}

/// A [`Thumbprint`]'s base64url text, held without a heap: use it as a `&str` (it dereferences
/// to one) or through `Display`. Its own type, so the fixed-capacity string behind it stays an
/// implementation detail.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ThumbprintText(heapless::String<43>);

impl ThumbprintText {
    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::ops::Deref for ThumbprintText {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ThumbprintText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Display for ThumbprintText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::fmt::Debug for ThumbprintText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl core::fmt::Display for Thumbprint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_base64url())
    }
}

/// What one parse found, before deciding whether it is a public or a private key.
struct ParsedJwk {
    key: PublicKey,
    params: KeyParams,
    secret: Option<SecretKey>,
}

fn plain_str<'a>(member: &'static str, value: Value<'a>) -> Result<&'a str, JwkError> {
    match value {
        Value::Str(s) => Ok(s),
        _ => Err(JwkError::NotAString(member)),
    }
}

fn expect_value(
    member: &'static str,
    value: Value<'_>,
    wanted: &'static str,
) -> Result<(), JwkError> {
    let found = plain_str(member, value)?;
    if found == wanted {
        Ok(())
    } else {
        Err(JwkError::UnsupportedValue {
            member,
            value: Excerpt::of(found),
            expected: wanted,
        })
    }
}

fn decode_coordinate(
    member: &'static str,
    value: Value<'_>,
    out: &mut [u8; COORDINATE_LEN],
) -> Result<(), JwkError> {
    let text = plain_str(member, value)?;
    if text.len() != COORDINATE_CHARS {
        return Err(JwkError::Coordinate {
            member,
            problem: CoordinateProblem::WrongLength { chars: text.len() },
        });
    }
    b64::decode_array(text.as_bytes(), out).map_err(|e| JwkError::Coordinate {
        member,
        problem: CoordinateProblem::Base64(e),
    })
}

/// The public key with affine coordinates `x`, `y`, if that point is on P-384.
/// `from_sec1_point` checks the curve equation, which is what stops invalid-curve attacks.
fn point_from_coordinates(
    x: &[u8; COORDINATE_LEN],
    y: &[u8; COORDINATE_LEN],
) -> Result<PublicKey, JwkError> {
    let point =
        Sec1Point::from_affine_coordinates(&FieldBytes::from(*x), &FieldBytes::from(*y), false);
    Option::from(PublicKey::from_sec1_point(&point)).ok_or(JwkError::NotOnCurve)
}

fn parse(json_text: &[u8]) -> Result<ParsedJwk, JwkError> {
    let mut saw = [false; 4]; // kty, crv, x, y
    let mut x = [0u8; COORDINATE_LEN];
    let mut y = [0u8; COORDINATE_LEN];
    let mut d: Option<Zeroizing<[u8; COORDINATE_LEN]>> = None;
    let mut params = KeyParams::default();
    json::for_each_member(json_text, |name, value| {
        match name {
            "kty" => {
                expect_value("kty", value, "EC")?;
                saw[0] = true;
            }
            "crv" => {
                expect_value("crv", value, "P-384")?;
                saw[1] = true;
            }
            "x" => {
                decode_coordinate("x", value, &mut x)?;
                saw[2] = true;
            }
            "y" => {
                decode_coordinate("y", value, &mut y)?;
                saw[3] = true;
            }
            "d" => {
                let mut scalar = Zeroizing::new([0u8; COORDINATE_LEN]);
                decode_coordinate("d", value, &mut scalar)?;
                d = Some(scalar);
            }
            "use" => {
                expect_value("use", value, "enc")?;
                params.use_enc = true;
            }
            "alg" => {
                let name = plain_str("alg", value)?;
                let alg = KeyManagementAlg::from_name(name).ok_or_else(|| {
                    JwkError::UnsupportedValue {
                        member: "alg",
                        value: Excerpt::of(name),
                        expected: "an ECDH-ES algorithm, such as \"ECDH-ES+A256KW\"",
                    }
                })?;
                params.alg = Some(alg);
            }
            _ => {} // RFC 7517 §4: unknown members are ignored.
        }
        Ok::<(), JwkError>(())
    })?;
    for (seen, member) in saw.iter().zip(["kty", "crv", "x", "y"]) {
        if !seen {
            return Err(JwkError::MissingMember(member));
        }
    }
    let key = point_from_coordinates(&x, &y)?;
    let secret = match d {
        None => None,
        Some(d) => {
            // From the zeroized buffer itself: no unwiped copy of `d` on the stack.
            let secret =
                SecretKey::from_slice(d.as_slice()).map_err(|_| JwkError::ScalarOutOfRange)?;
            if secret.public_key() != key {
                return Err(JwkError::KeyMismatch);
            }
            Some(secret)
        }
    };
    Ok(ParsedJwk {
        key,
        params,
        secret,
    })
}

/// The JSON members we write, in the order the bank's own keys use.
#[derive(Serialize)]
struct JwkMembers<'a> {
    kty: &'a str,
    crv: &'a str,
    x: &'a str,
    y: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    d: Option<&'a str>,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    use_: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alg: Option<&'a str>,
}

fn write_members<'o>(
    members: &JwkMembers<'_>,
    out: &'o mut [u8],
    max_len: usize,
) -> Result<&'o str, Error> {
    let len = serde_json_core::to_slice(members, out)
        .map_err(|_| Error::BufferTooSmall { required: max_len })?;
    // serde-json-core writes UTF-8 (our members are ASCII); the fallback is unreachable.
    core::str::from_utf8(&out[..len]).map_err(|_| Error::BufferTooSmall { required: max_len })
}

impl PublicJwk {
    /// Parses a public JWK from JSON text.
    ///
    /// # Errors
    /// [`JwkError`] naming the member and defect; [`JwkError::UnexpectedPrivateKey`] if the text
    /// carries `d` (parse it with [`PrivateJwk::from_json`] and take
    /// [`PrivateJwk::public_jwk`] instead).
    pub fn from_json(json_text: &[u8]) -> Result<Self, JwkError> {
        let parsed = parse(json_text)?;
        if parsed.secret.is_some() {
            return Err(JwkError::UnexpectedPrivateKey);
        }
        Ok(Self {
            key: parsed.key,
            params: parsed.params,
        })
    }

    /// Wraps a `p384` public key; `params` says which optional members to write.
    #[must_use]
    pub const fn from_public_key(key: PublicKey, params: KeyParams) -> Self {
        Self { key, params }
    }

    /// The `p384` public key.
    #[must_use]
    pub const fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The optional `use` / `alg` members.
    #[must_use]
    pub const fn params(&self) -> KeyParams {
        self.params
    }

    /// The same key with other optional members.
    #[must_use]
    pub const fn with_params(self, params: KeyParams) -> Self {
        Self {
            key: self.key,
            params,
        }
    }

    /// The big-endian affine coordinates (`x`, `y`).
    #[must_use]
    pub fn coordinates(&self) -> ([u8; COORDINATE_LEN], [u8; COORDINATE_LEN]) {
        let point = self.key.to_sec1_point(false);
        let mut x = [0u8; COORDINATE_LEN];
        let mut y = [0u8; COORDINATE_LEN];
        // An uncompressed non-identity point always has both coordinates.
        if let (Some(px), Some(py)) = (point.x(), point.y()) {
            x.copy_from_slice(px);
            y.copy_from_slice(py);
        }
        (x, y)
    }

    fn encoded_coordinates(&self) -> ([u8; COORDINATE_CHARS], [u8; COORDINATE_CHARS]) {
        let (x, y) = self.coordinates();
        let mut x_text = [0u8; COORDINATE_CHARS];
        let mut y_text = [0u8; COORDINATE_CHARS];
        // 48 bytes encode to exactly 64 characters.
        let _ = b64::encode(&x, &mut x_text);
        let _ = b64::encode(&y, &mut y_text);
        (x_text, y_text)
    }

    /// Writes the JWK (`kty`, `crv`, `x`, `y`, then `use` and `alg` if set) into `out`; returns
    /// the JSON text. [`PUBLIC_JWK_MAX_LEN`] bytes always suffice.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] if `out` is too short.
    pub fn write_json<'o>(&self, out: &'o mut [u8]) -> Result<&'o str, Error> {
        let (x, y) = self.encoded_coordinates();
        let members = JwkMembers {
            kty: "EC",
            crv: "P-384",
            x: ascii(&x),
            y: ascii(&y),
            d: None,
            use_: self.params.use_enc.then_some("enc"),
            alg: self.params.alg.map(KeyManagementAlg::name),
        };
        write_members(&members, out, PUBLIC_JWK_MAX_LEN)
    }

    /// The RFC 7638 thumbprint (SHA-256). Only `crv`, `kty`, `x`, `y` enter it, in that order,
    /// so the same key has the same thumbprint whatever optional members it carries.
    #[must_use]
    pub fn thumbprint(&self) -> Thumbprint {
        let (x, y) = self.encoded_coordinates();
        let mut hash = Sha256::new();
        hash.update(br#"{"crv":"P-384","kty":"EC","x":""#);
        hash.update(x);
        hash.update(br#"","y":""#);
        hash.update(y);
        hash.update(br#""}"#);
        Thumbprint(hash.finalize().into())
    }
}

/// Our base64url buffers hold ASCII only.
fn ascii(text: &[u8]) -> &str {
    core::str::from_utf8(text).unwrap_or("")
}

impl core::fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (x, y) = self.encoded_coordinates();
        f.debug_struct("PublicJwk")
            .field("crv", &"P-384")
            .field("x", &ascii(&x))
            .field("y", &ascii(&y))
            .field("params", &self.params)
            .finish()
    }
}

impl PrivateJwk {
    /// Parses a private JWK (with `d`) from JSON text; checks that `d` matches `x`/`y`.
    ///
    /// # Errors
    /// [`JwkError`] naming the member and defect; [`JwkError::MissingMember`]`("d")` for a
    /// public key.
    pub fn from_json(json_text: &[u8]) -> Result<Self, JwkError> {
        let parsed = parse(json_text)?;
        let secret = parsed.secret.ok_or(JwkError::MissingMember("d"))?;
        Ok(Self {
            secret,
            public: PublicJwk {
                key: parsed.key,
                params: parsed.params,
            },
        })
    }

    /// Generates a key pair from `rng`, with the bank's `use` and `alg` ([`KeyParams::BANK`]).
    ///
    /// # Errors
    /// [`Error::Rng`] if the generator fails.
    pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, Error> {
        let secret = SecretKey::try_generate_from_rng(rng).map_err(|_| Error::Rng)?;
        Ok(Self::from_secret_key(secret, KeyParams::BANK))
    }

    /// Wraps a `p384` secret key.
    #[must_use]
    pub fn from_secret_key(secret: SecretKey, params: KeyParams) -> Self {
        let public = PublicJwk {
            key: secret.public_key(),
            params,
        };
        Self { secret, public }
    }

    /// The public half.
    #[must_use]
    pub const fn public_jwk(&self) -> &PublicJwk {
        &self.public
    }

    /// The `p384` secret key.
    #[must_use]
    pub const fn secret_key(&self) -> &SecretKey {
        &self.secret
    }

    /// Writes the JWK with `d` into `out`; returns the JSON text. [`PRIVATE_JWK_MAX_LEN`]
    /// bytes always suffice. The text contains the secret: the caller owns wiping `out`.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] if `out` is too short.
    pub fn write_json<'o>(&self, out: &'o mut [u8]) -> Result<&'o str, Error> {
        let (x, y) = self.public.encoded_coordinates();
        let scalar = Zeroizing::new(self.secret.to_bytes());
        let mut d = Zeroizing::new([0u8; COORDINATE_CHARS]);
        let _ = b64::encode(scalar.as_slice(), d.as_mut_slice());
        let members = JwkMembers {
            kty: "EC",
            crv: "P-384",
            x: ascii(&x),
            y: ascii(&y),
            d: Some(ascii(d.as_slice())),
            use_: self.public.params.use_enc.then_some("enc"),
            alg: self.public.params.alg.map(KeyManagementAlg::name),
        };
        write_members(&members, out, PRIVATE_JWK_MAX_LEN)
    }
}

impl core::fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PrivateJwk")
            .field("public", &self.public)
            .field("d", &"<redacted>")
            .finish()
    }
}
