//! Canonical unpadded base64url (RFC 7515 §2, RFC 4648 §5), the encoding of every JWE segment and
//! every JWK coordinate.
//!
//! Decoding is strict: no padding, no whitespace, no characters outside the URL-safe alphabet, no
//! length of the form `4k + 1`, and no set bits in the unused low bits of the last character.
//! Without the last rule one byte string would have up to sixteen spellings, and a token could be
//! altered without changing what it decodes to. Decoding goes through `base64ct`, whose alphabet
//! lookups are constant-time (the same code decodes the private `d`).

use base64ct::{Base64UrlUnpadded, Encoding};

/// Why a base64url string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Base64Error {
    /// A character outside `A-Z a-z 0-9 - _`: padding (`=`), whitespace or the `+` `/` of
    /// standard base64.
    InvalidCharacter,
    /// The length is `4k + 1`, which no byte string encodes to.
    InvalidLength,
    /// The unused low bits of the last character are not zero (a non-canonical spelling).
    NonCanonical,
    /// The decoded bytes do not fit the destination.
    OutputTooSmall {
        /// Bytes the input decodes to.
        required: usize,
    },
}

impl core::fmt::Display for Base64Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::InvalidCharacter => f.write_str(
                "invalid base64url: a character outside A-Z a-z 0-9 - _ (padding, whitespace or standard base64?)",
            ),
            Self::InvalidLength => f.write_str("invalid base64url: impossible length (4k+1 characters)"),
            Self::NonCanonical => {
                f.write_str("invalid base64url: non-zero unused bits in the last character (non-canonical)")
            }
            Self::OutputTooSmall { required } => {
                write!(f, "base64url input decodes to {required} bytes, more than the buffer holds")
            }
        }
    }
}

impl core::error::Error for Base64Error {}

/// Number of characters the unpadded base64url encoding of `len` bytes takes.
#[must_use]
pub const fn encoded_len(len: usize) -> usize {
    // Saturating: a length near usize::MAX has no encoding that fits in memory anyway, and the
    // callers compare it with a real buffer length.
    (len / 3).saturating_mul(4).saturating_add(match len % 3 {
        0 => 0,
        1 => 2,
        _ => 3,
    })
}

/// Number of bytes a valid unpadded base64url string of `len` characters decodes to.
///
/// For the impossible lengths `4k + 1` this is the length of the valid prefix; [`decode`] rejects
/// such inputs.
#[must_use]
pub const fn decoded_len(len: usize) -> usize {
    (len / 4) * 3
        + match len % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        }
}

/// Value of one alphabet character, or `None`. Used only on the last character, to check the
/// unused bits; the character is public (its position is fixed by the length).
fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Checks the length and the last character: everything `base64ct` does not check on every path.
fn check_shape(input: &[u8]) -> Result<(), Base64Error> {
    let unused_bits_mask = match input.len() % 4 {
        0 => return Ok(()),
        1 => return Err(Base64Error::InvalidLength),
        2 => 0b1111,
        _ => 0b0011,
    };
    // `len % 4` is 2 or 3 here, so the input is not empty.
    let last = input.last().copied().unwrap_or(b'A');
    match sextet(last) {
        None => Err(Base64Error::InvalidCharacter),
        Some(v) if v & unused_bits_mask != 0 => Err(Base64Error::NonCanonical),
        Some(_) => Ok(()),
    }
}

/// Decodes canonical unpadded base64url `input` into the front of `out`; returns the filled prefix.
///
/// # Errors
/// [`Base64Error`] for a non-canonical or invalid input, or an `out` shorter than
/// [`decoded_len`]`(input.len())`.
pub fn decode<'o>(input: &[u8], out: &'o mut [u8]) -> Result<&'o mut [u8], Base64Error> {
    check_shape(input)?;
    let required = decoded_len(input.len());
    let out = out
        .get_mut(..required)
        .ok_or(Base64Error::OutputTooSmall { required })?;
    match Base64UrlUnpadded::decode(input, out) {
        Ok(decoded) if decoded.len() == required => Ok(out),
        Ok(_) => Err(Base64Error::InvalidLength),
        Err(base64ct::Error::InvalidLength) => Err(Base64Error::InvalidLength),
        Err(base64ct::Error::InvalidEncoding) => Err(Base64Error::InvalidCharacter),
    }
}

/// Decodes into an array of exactly `N` bytes; any other decoded length is an error.
///
/// # Errors
/// [`Base64Error`] as for [`decode`]; a wrong length is reported as
/// [`Base64Error::OutputTooSmall`] when too long and [`Base64Error::InvalidLength`] otherwise.
/// Callers that need to name the expected length check [`decoded_len`] first.
pub fn decode_array<const N: usize>(input: &[u8], out: &mut [u8; N]) -> Result<(), Base64Error> {
    if decoded_len(input.len()) != N || input.len() != encoded_len(N) {
        return Err(Base64Error::InvalidLength);
    }
    decode(input, out).map(|_| ())
}

/// Decodes `buf` in place; the decoded bytes are the returned prefix of `buf`.
///
/// # Errors
/// [`Base64Error`] for a non-canonical or invalid input.
pub fn decode_in_place(buf: &mut [u8]) -> Result<&mut [u8], Base64Error> {
    check_shape(buf)?;
    let len = Base64UrlUnpadded::decode_in_place(buf)
        .map_err(|_| Base64Error::InvalidCharacter)?
        .len();
    // `len <= buf.len()`: base64ct returned a prefix of `buf`.
    Ok(buf.get_mut(..len).unwrap_or_default())
}

/// Encodes `input` into the front of `out`; returns the text written.
///
/// # Errors
/// [`Base64Error::OutputTooSmall`] when `out` is shorter than [`encoded_len`]`(input.len())`.
pub fn encode<'o>(input: &[u8], out: &'o mut [u8]) -> Result<&'o str, Base64Error> {
    let required = encoded_len(input.len());
    Base64UrlUnpadded::encode(input, out).map_err(|_| Base64Error::OutputTooSmall { required })
}

/// Encodes, in place, the `len` bytes at the front of `buf` into the front of `buf`; returns the
/// number of characters written (`encoded_len(len)`).
///
/// Works backwards in blocks: the text of block `k` starts at `4k/3` of the data, never before its
/// own unread bytes, so each block is read into a scratch array before its text overwrites it.
/// This is how the JWE ciphertext is encrypted and encoded inside the caller's output buffer
/// without a second buffer.
///
/// # Errors
/// [`Base64Error::OutputTooSmall`] when `buf` cannot hold the encoding.
pub fn encode_in_place(buf: &mut [u8], len: usize) -> Result<usize, Base64Error> {
    const BLOCK: usize = 48; // bytes; encodes to exactly 64 characters
    let required = encoded_len(len);
    if buf.len() < required || len > buf.len() {
        return Err(Base64Error::OutputTooSmall { required });
    }
    let mut scratch_in = [0u8; BLOCK];
    let mut scratch_out = [0u8; BLOCK / 3 * 4];
    let mut block_start = (len / BLOCK) * BLOCK;
    let mut block_end = len;
    loop {
        let n = block_end - block_start;
        if n > 0 {
            scratch_in[..n].copy_from_slice(&buf[block_start..block_end]);
            let text = encode(&scratch_in[..n], &mut scratch_out)?;
            let at = block_start / 3 * 4;
            buf[at..at + text.len()].copy_from_slice(text.as_bytes());
        }
        if block_start == 0 {
            break;
        }
        block_end = block_start;
        block_start -= BLOCK;
    }
    Ok(required)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::ToOwned;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn rejects_non_canonical_trailing_bits() {
        let mut out = [0u8; 4];
        // "AQ" is the canonical spelling of [0x01]; "AR" sets an unused bit.
        assert_eq!(decode(b"AQ", &mut out).map(|b| b.to_vec()), Ok(vec![1]));
        assert_eq!(decode(b"AR", &mut out), Err(Base64Error::NonCanonical));
        assert_eq!(decode(b"AAB", &mut out), Err(Base64Error::NonCanonical));
        let mut buf = *b"AR";
        assert_eq!(decode_in_place(&mut buf), Err(Base64Error::NonCanonical));
    }

    #[test]
    fn rejects_padding_whitespace_and_standard_alphabet() {
        let mut out = [0u8; 8];
        assert_eq!(
            decode(b"AQ==", &mut out),
            Err(Base64Error::InvalidCharacter)
        );
        assert_eq!(
            decode(b"AQ\n", &mut out),
            Err(Base64Error::InvalidCharacter)
        );
        assert_eq!(
            decode(b"+/+/", &mut out),
            Err(Base64Error::InvalidCharacter)
        );
        assert_eq!(decode(b"AAAAA", &mut out), Err(Base64Error::InvalidLength));
    }

    #[test]
    fn in_place_encoding_matches_out_of_place_for_every_length() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3).to_le_bytes()[0]).collect();
        for len in 0..data.len() {
            let mut expected = vec![0u8; encoded_len(len)];
            let expected = encode(&data[..len], &mut expected).unwrap().to_owned();
            let mut buf = vec![0u8; encoded_len(len)];
            buf[..len].copy_from_slice(&data[..len]);
            let n = encode_in_place(&mut buf, len).unwrap();
            assert_eq!(
                core::str::from_utf8(&buf[..n]).unwrap(),
                expected,
                "len {len}"
            );
        }
    }
}
