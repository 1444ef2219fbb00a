//! Errors. Structural problems found before key agreement name the part, member and defect;
//! everything that fails after key agreement is the one opaque [`Error::DecryptionFailed`].

use crate::alg::{ContentEncryptionAlg, KeyManagementAlg};
use crate::b64::Base64Error;
use crate::json::JsonError;

/// Longest excerpt of an offending input value kept in an error.
pub(crate) const EXCERPT_LEN: usize = 32;

/// A short copy of a rejected, *public* input value, for error messages. Truncated to
/// 32 bytes on a character boundary. Never built from secret members.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Excerpt(heapless::String<EXCERPT_LEN>);

impl Excerpt {
    pub(crate) fn of(value: &str) -> Self {
        let mut end = value.len().min(EXCERPT_LEN);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        let mut text = heapless::String::new();
        // Cannot fail: `end <= EXCERPT_LEN`.
        let _ = text.push_str(&value[..end]);
        Self(text)
    }

    /// The excerpt text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.0.as_str(), f)
    }
}

/// One of the five parts of a compact JWE (RFC 7516 §7.1), in token order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// BASE64URL(UTF8(JWE Protected Header)).
    ProtectedHeader,
    /// BASE64URL(JWE Encrypted Key).
    EncryptedKey,
    /// BASE64URL(JWE Initialization Vector).
    Iv,
    /// BASE64URL(JWE Ciphertext).
    Ciphertext,
    /// BASE64URL(JWE Authentication Tag).
    Tag,
}

impl core::fmt::Display for Part {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::ProtectedHeader => "protected header",
            Self::EncryptedKey => "encrypted key",
            Self::Iv => "initialization vector",
            Self::Ciphertext => "ciphertext",
            Self::Tag => "authentication tag",
        })
    }
}

/// What is wrong with a JWK coordinate or private scalar (`x`, `y`, `d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordinateProblem {
    /// Not the 64 base64url characters that encode 48 bytes.
    WrongLength {
        /// Characters found.
        chars: usize,
    },
    /// Right length, but not canonical base64url.
    Base64(Base64Error),
}

/// Why a JWK was refused (RFC 7517, RFC 7518 §6.2, and our P-384-only profile).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwkError {
    /// The JSON text itself is invalid, or has duplicate or escaped member names.
    Json(JsonError),
    /// A required member is absent.
    MissingMember(&'static str),
    /// A member that must be a plain string is something else (or uses escapes).
    NotAString(&'static str),
    /// A member has a value we do not accept (`kty` other than `EC`, `crv` other than `P-384`,
    /// `use` other than `enc`, or an `alg` we do not implement).
    UnsupportedValue {
        /// The member name.
        member: &'static str,
        /// The start of the value found.
        value: Excerpt,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// `x`, `y` or `d` is not exactly 48 bytes of canonical base64url.
    Coordinate {
        /// The member name.
        member: &'static str,
        /// The defect.
        problem: CoordinateProblem,
    },
    /// (`x`, `y`) is not a point of P-384 (or is the point at infinity).
    NotOnCurve,
    /// `d` is zero or not below the group order.
    ScalarOutOfRange,
    /// `d` does not belong to (`x`, `y`).
    KeyMismatch,
    /// A private member `d` was found where only a public key is expected.
    UnexpectedPrivateKey,
}

impl core::fmt::Display for JwkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Json(e) => write!(f, "JWK: {e}"),
            Self::MissingMember(m) => write!(f, "JWK: required member \"{m}\" is missing"),
            Self::NotAString(m) => write!(f, "JWK: member \"{m}\" must be a plain JSON string"),
            Self::UnsupportedValue {
                member,
                value,
                expected,
            } => write!(
                f,
                "JWK: member \"{member}\" has unsupported value {value:?} (expected {expected})"
            ),
            Self::Coordinate {
                member,
                problem: CoordinateProblem::WrongLength { chars },
            } => write!(
                f,
                "JWK: member \"{member}\" must be 64 base64url characters (48 bytes), found {chars}"
            ),
            Self::Coordinate {
                member,
                problem: CoordinateProblem::Base64(e),
            } => {
                write!(f, "JWK: member \"{member}\": {e}")
            }
            Self::NotOnCurve => f.write_str("JWK: (x, y) is not a point on P-384"),
            Self::ScalarOutOfRange => {
                f.write_str("JWK: private scalar \"d\" is zero or not below the P-384 group order")
            }
            Self::KeyMismatch => {
                f.write_str("JWK: private scalar \"d\" does not match the public point (x, y)")
            }
            Self::UnexpectedPrivateKey => {
                f.write_str("JWK: private member \"d\" present where a public key is expected")
            }
        }
    }
}

impl core::error::Error for JwkError {}

impl From<JsonError> for JwkError {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}

/// Why a JWE protected header was refused (RFC 7516 §4, RFC 7518 §4.6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// Invalid JSON, or duplicate or escaped member names.
    Json(JsonError),
    /// A required member (`alg`, `enc`, `epk`) is absent.
    MissingMember(&'static str),
    /// A member that must be a plain string (or, for `epk`, an object) is something else.
    WrongType(&'static str),
    /// `alg` names no algorithm compiled into this build.
    UnsupportedAlg(Excerpt),
    /// `enc` names no algorithm compiled into this build.
    UnsupportedEnc(Excerpt),
    /// The ephemeral public key is not a valid P-384 JWK (invalid-curve attacks end here).
    Epk(JwkError),
    /// `zip` is present; compression before encryption leaks plaintext through lengths, and
    /// decompression is a memory-exhaustion vector, so we never accept it.
    Zip,
    /// `crit` is present; we implement no extensions, so by RFC 7515 §4.1.11 any listed
    /// extension is one we do not understand and the token must be refused.
    Crit,
    /// `apu` or `apv` is not canonical base64url, or is longer than we accept.
    PartyInfo {
        /// `apu` or `apv`.
        member: &'static str,
        /// Decoded-length limit, if that was the problem; otherwise the base64 error applies.
        error: Base64Error,
    },
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Json(e) => write!(f, "JWE header: {e}"),
            Self::MissingMember(m) => write!(f, "JWE header: required member \"{m}\" is missing"),
            Self::WrongType(m) => write!(f, "JWE header: member \"{m}\" has the wrong JSON type"),
            Self::UnsupportedAlg(v) => write!(f, "JWE header: unsupported \"alg\" {v:?}"),
            Self::UnsupportedEnc(v) => write!(f, "JWE header: unsupported \"enc\" {v:?}"),
            Self::Epk(e) => write!(f, "JWE header: ephemeral key \"epk\": {e}"),
            Self::Zip => f.write_str("JWE header: \"zip\" (compression) is not accepted"),
            Self::Crit => f.write_str("JWE header: \"crit\" names extensions we do not implement"),
            Self::PartyInfo { member, error } => {
                write!(f, "JWE header: member \"{member}\": {error}")
            }
        }
    }
}

impl core::error::Error for HeaderError {}

impl From<JsonError> for HeaderError {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}

/// The error type of this crate.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A key was refused.
    Jwk(JwkError),
    /// A JWE protected header was refused.
    Header(HeaderError),
    /// The token is not five `.`-separated parts.
    SegmentCount {
        /// Parts found.
        found: usize,
    },
    /// A part of the token is not canonical base64url.
    Base64 {
        /// Which part.
        part: Part,
        /// The defect.
        error: Base64Error,
    },
    /// A part of the token has the wrong decoded length for its algorithm (for example an IV
    /// that is not 12 bytes or a truncated tag).
    PartLength {
        /// Which part.
        part: Part,
        /// Bytes the algorithm requires.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// The protected header is longer than [`MAX_HEADER_LEN`](crate::MAX_HEADER_LEN) bytes.
    HeaderTooLong {
        /// Decoded bytes found.
        found: usize,
    },
    /// The token's (`alg`, `enc`) pair is valid but not in the caller's [`AllowList`](crate::AllowList).
    NotAllowed {
        /// The token's `alg`.
        alg: KeyManagementAlg,
        /// The token's `enc`.
        enc: ContentEncryptionAlg,
    },
    /// An encryption option is invalid (a header value too long to fit, for example).
    InvalidOption(&'static str),
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes the operation needs.
        required: usize,
    },
    /// The random number generator failed.
    Rng,
    /// A key agreement of [`encrypt`](crate::encrypt) produced the point at infinity, which
    /// valid keys never do: the multiplication was faulted. Nothing was written. (Decryption
    /// reports the same condition as [`Error::DecryptionFailed`].)
    KeyAgreementFault,
    /// The token did not decrypt with this key. Returned for every failure after key agreement
    /// (wrong key, altered encrypted key, IV, ciphertext, tag or header), always the same value,
    /// so an attacker learns nothing about which step failed. The output buffer is zeroed.
    DecryptionFailed,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Jwk(e) => e.fmt(f),
            Self::Header(e) => e.fmt(f),
            Self::SegmentCount { found } => {
                write!(
                    f,
                    "compact JWE must have 5 parts separated by '.', found {found}"
                )
            }
            Self::Base64 { part, error } => write!(f, "JWE {part}: {error}"),
            Self::PartLength {
                part,
                expected,
                found,
            } => {
                write!(f, "JWE {part} must be {expected} bytes, found {found}")
            }
            Self::HeaderTooLong { found } => write!(
                f,
                "JWE protected header is {found} bytes, more than the {} we accept",
                crate::MAX_HEADER_LEN
            ),
            Self::NotAllowed { alg, enc } => {
                write!(f, "JWE algorithms {alg} / {enc} are not in the allow-list")
            }
            Self::InvalidOption(what) => write!(f, "invalid encryption option: {what}"),
            Self::BufferTooSmall { required } => {
                write!(f, "output buffer too small: {required} bytes required")
            }
            Self::Rng => f.write_str("the random number generator failed"),
            Self::KeyAgreementFault => {
                f.write_str("the key agreement gave the point at infinity (a computation fault)")
            }
            Self::DecryptionFailed => f.write_str("JWE decryption failed"),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Jwk(e) => Some(e),
            Self::Header(e) => Some(e),
            _ => None,
        }
    }
}

impl From<JwkError> for Error {
    fn from(e: JwkError) -> Self {
        Self::Jwk(e)
    }
}

impl From<HeaderError> for Error {
    fn from(e: HeaderError) -> Self {
        Self::Header(e)
    }
}
