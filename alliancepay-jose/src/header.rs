//! The JWE protected header (RFC 7516 §4; ECDH-ES members from RFC 7518 §4.6.1): reading the one
//! a token carries and writing the one we send.
//!
//! We write members in the order the bank's own tokens use, without whitespace:
//! `{"alg":…,"enc":…,"epk":{"kty":"EC","crv":"P-384","x":…,"y":…}}`, then `apu`, `apv`, `kid`,
//! `typ`, `cty` when the caller sets them.

use p384::PublicKey;
use serde::Serialize;

use crate::alg::{ContentEncryptionAlg, KeyManagementAlg};
use crate::b64;
use crate::error::{Error, Excerpt, HeaderError};
use crate::json::{self, Value};
use crate::jwk::{COORDINATE_LEN, PublicJwk};

/// Longest protected header, in decoded bytes, that we read or write. The bank's header is 215
/// bytes; the bound keeps the stack buffer that holds it small.
pub const MAX_HEADER_LEN: usize = 512;

/// Longest decoded `apu` or `apv` value we read or write.
pub const MAX_PARTY_INFO_LEN: usize = 64;

/// A protected header that passed every structural check. String members borrow from the
/// decoded header bytes.
#[derive(Clone, Copy, Debug)]
pub struct ProtectedHeader<'a> {
    /// `alg`.
    pub alg: KeyManagementAlg,
    /// `enc`.
    pub enc: ContentEncryptionAlg,
    /// `epk`, the sender's ephemeral public key, validated as a P-384 point.
    pub epk: PublicKey,
    /// `apu` as base64url text, canonical and at most [`MAX_PARTY_INFO_LEN`] bytes decoded.
    pub apu: Option<&'a str>,
    /// `apv` as base64url text, canonical and at most [`MAX_PARTY_INFO_LEN`] bytes decoded.
    pub apv: Option<&'a str>,
    /// `kid`, as the raw JSON string text (escape sequences are not decoded).
    pub kid: Option<&'a str>,
    /// `typ`, raw JSON string text.
    pub typ: Option<&'a str>,
    /// `cty`, raw JSON string text.
    pub cty: Option<&'a str>,
}

fn string_member<'a>(member: &'static str, value: Value<'a>) -> Result<&'a str, HeaderError> {
    match value {
        Value::Str(s) | Value::EscapedStr(s) => Ok(s),
        _ => Err(HeaderError::WrongType(member)),
    }
}

fn party_info<'a>(member: &'static str, value: Value<'a>) -> Result<&'a str, HeaderError> {
    let Value::Str(text) = value else {
        return Err(HeaderError::WrongType(member));
    };
    let mut scratch = [0u8; MAX_PARTY_INFO_LEN];
    b64::decode(text.as_bytes(), &mut scratch)
        .map_err(|error| HeaderError::PartyInfo { member, error })?;
    Ok(text)
}

/// The ephemeral key: a public P-384 JWK. A `d` here would mean the sender leaked its secret;
/// refusing it keeps confused senders from being "compatible".
fn ephemeral_key(value: Value<'_>) -> Result<PublicKey, HeaderError> {
    let Value::Object(text) = value else {
        return Err(HeaderError::WrongType("epk"));
    };
    PublicJwk::from_json(text)
        .map(|jwk| *jwk.public_key())
        .map_err(HeaderError::Epk)
}

impl<'a> ProtectedHeader<'a> {
    /// Reads a decoded protected header.
    ///
    /// # Errors
    /// [`HeaderError`] for invalid JSON, a missing or malformed member, an algorithm not
    /// compiled in, an invalid `epk`, or any `zip` or `crit`.
    pub fn parse(json_text: &'a [u8]) -> Result<Self, HeaderError> {
        let mut alg = None;
        let mut enc = None;
        let mut epk = None;
        let (mut apu, mut apv, mut kid, mut typ, mut cty) = (None, None, None, None, None);
        json::for_each_member(json_text, |name, value| {
            match name {
                "alg" => {
                    let Value::Str(text) = value else {
                        return Err(HeaderError::WrongType("alg"));
                    };
                    alg = Some(
                        KeyManagementAlg::from_name(text)
                            .ok_or(HeaderError::UnsupportedAlg(Excerpt::of(text)))?,
                    );
                }
                "enc" => {
                    let Value::Str(text) = value else {
                        return Err(HeaderError::WrongType("enc"));
                    };
                    enc = Some(
                        ContentEncryptionAlg::from_name(text)
                            .ok_or(HeaderError::UnsupportedEnc(Excerpt::of(text)))?,
                    );
                }
                "epk" => epk = Some(ephemeral_key(value)?),
                "apu" => apu = Some(party_info("apu", value)?),
                "apv" => apv = Some(party_info("apv", value)?),
                "kid" => kid = Some(string_member("kid", value)?),
                "typ" => typ = Some(string_member("typ", value)?),
                "cty" => cty = Some(string_member("cty", value)?),
                "zip" => return Err(HeaderError::Zip),
                "crit" => return Err(HeaderError::Crit),
                _ => {} // RFC 7516 §4: members we do not understand are ignored.
            }
            Ok(())
        })?;
        Ok(Self {
            alg: alg.ok_or(HeaderError::MissingMember("alg"))?,
            enc: enc.ok_or(HeaderError::MissingMember("enc"))?,
            epk: epk.ok_or(HeaderError::MissingMember("epk"))?,
            apu,
            apv,
            kid,
            typ,
            cty,
        })
    }
}

/// What goes into a header we write, besides the ephemeral key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeaderFields<'a> {
    pub alg: KeyManagementAlg,
    pub enc: ContentEncryptionAlg,
    pub apu: Option<&'a [u8]>,
    pub apv: Option<&'a [u8]>,
    pub kid: Option<&'a str>,
    pub typ: Option<&'a str>,
    pub cty: Option<&'a str>,
}

#[derive(Serialize)]
struct EpkMembers<'a> {
    kty: &'a str,
    crv: &'a str,
    x: &'a str,
    y: &'a str,
}

#[derive(Serialize)]
struct HeaderMembers<'a> {
    alg: &'a str,
    enc: &'a str,
    epk: EpkMembers<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apu: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apv: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cty: Option<&'a str>,
}

const PARTY_INFO_CHARS: usize = b64::encoded_len(MAX_PARTY_INFO_LEN);
const COORDINATE_CHARS: usize = b64::encoded_len(COORDINATE_LEN);

fn encode_party_info<'b>(
    data: Option<&[u8]>,
    buf: &'b mut [u8; PARTY_INFO_CHARS],
) -> Result<Option<&'b str>, Error> {
    match data {
        None => Ok(None),
        Some(data) if data.len() > MAX_PARTY_INFO_LEN => Err(Error::InvalidOption(
            "apu/apv longer than MAX_PARTY_INFO_LEN bytes",
        )),
        Some(data) => Ok(Some(
            b64::encode(data, buf).map_err(|_| Error::InvalidOption("apu/apv"))?,
        )),
    }
}

/// Writes the header JSON for `fields` and the ephemeral key with base64url coordinates
/// `x`, `y` into `out`; returns its length.
pub(crate) fn write_header(
    fields: &HeaderFields<'_>,
    x: &[u8; COORDINATE_CHARS],
    y: &[u8; COORDINATE_CHARS],
    out: &mut [u8; MAX_HEADER_LEN],
) -> Result<usize, Error> {
    let mut apu_text = [0u8; PARTY_INFO_CHARS];
    let mut apv_text = [0u8; PARTY_INFO_CHARS];
    let members = HeaderMembers {
        alg: fields.alg.name(),
        enc: fields.enc.name(),
        epk: EpkMembers {
            kty: "EC",
            crv: "P-384",
            x: core::str::from_utf8(x).map_err(|_| Error::InvalidOption("epk"))?,
            y: core::str::from_utf8(y).map_err(|_| Error::InvalidOption("epk"))?,
        },
        apu: encode_party_info(fields.apu, &mut apu_text)?,
        apv: encode_party_info(fields.apv, &mut apv_text)?,
        kid: fields.kid,
        typ: fields.typ,
        cty: fields.cty,
    };
    serde_json_core::to_slice(&members, out)
        .map_err(|_| Error::InvalidOption("kid/typ/cty make the header longer than MAX_HEADER_LEN"))
}

/// Length of the header JSON [`write_header`] produces for `fields` (the key coordinates are
/// always 64 characters, so their value does not matter). Out of line: its scratch buffer
/// must not stay in `encrypt`'s frame during the scalar multiplications.
#[inline(never)]
pub(crate) fn header_len(fields: &HeaderFields<'_>) -> Result<usize, Error> {
    let mut out = [0u8; MAX_HEADER_LEN];
    let placeholder = [b'A'; COORDINATE_CHARS];
    write_header(fields, &placeholder, &placeholder, &mut out)
}

/// Header JSON length of the bank's profile with no optional members.
pub(crate) const BANK_HEADER_LEN: usize =
    r#"{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"kty":"EC","crv":"P-384","x":"","y":""}}"#
        .len()
        + 2 * COORDINATE_CHARS;
