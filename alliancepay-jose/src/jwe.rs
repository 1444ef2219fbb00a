//! Compact JWE (RFC 7516 §7.1) with ECDH-ES key agreement (RFC 7518 §4.6) and AES-GCM content
//! encryption (RFC 7518 §5.3), into caller buffers.
//!
//! ```text
//! token = B64(header) "." B64(encrypted key) "." B64(iv) "." B64(ciphertext) "." B64(tag)
//!
//! encrypt: ephemeral key e, Z = ECDH(e, recipient)            decrypt: Z = ECDH(d, epk)
//!          KEK = ConcatKDF(Z, alg)  --AES-KW-->  wrapped CEK           CEK = unwrap(KEK, ek)
//!          (direct ECDH-ES: CEK = ConcatKDF(Z, enc), no wrapped key)
//!          ciphertext, tag = AES-GCM(CEK, iv, aad = ASCII(B64(header)), plaintext)
//! ```
//!
//! Decryption checks everything it can before key agreement: five parts, canonical base64url,
//! header JSON and members, the allow-list, a P-384 `epk`, and the exact length of the encrypted
//! key, IV (12) and tag (16). Those failures say what is wrong. After key agreement every failure
//! is [`Error::DecryptionFailed`], and the output is zeroed.

use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::consts::U12;
use aes_gcm::{AesGcm, KeyInit};
use aes_kw::AesKw;
#[cfg(not(feature = "hazmat-scalar-mul"))]
use p384::ecdh::EphemeralSecret;
use p384::elliptic_curve::Generate;
use p384::elliptic_curve::rand_core::TryCryptoRng;
use zeroize::Zeroizing;

use crate::alg::{AllowList, ContentEncryptionAlg, KeyManagementAlg};
use crate::b64::{self, Base64Error};
use crate::error::{Error, Part};
use crate::header::{
    self, BANK_HEADER_LEN, HeaderFields, MAX_HEADER_LEN, MAX_PARTY_INFO_LEN, ProtectedHeader,
};
use crate::json::{self, JsonError, Value};
use crate::jwk::{PrivateJwk, PublicJwk};
use crate::kdf::{self, OtherInfo};

/// Bytes of the AES-GCM initialization vector (RFC 7518 §5.3: 96 bits).
pub const IV_LEN: usize = 12;
/// Bytes of the AES-GCM authentication tag (RFC 7518 §5.3: 128 bits).
pub const TAG_LEN: usize = 16;
/// Longest content encryption key (A256GCM).
const MAX_CEK_LEN: usize = 32;
/// Longest encrypted key (a 256-bit CEK wrapped: 32 + 8).
const MAX_ENCRYPTED_KEY_LEN: usize = MAX_CEK_LEN + 8;

/// How to encrypt: algorithms and optional header members. [`EncryptOptions::BANK`] (also the
/// `Default`) is the bank's profile with no optional members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncryptOptions<'a> {
    /// Key management algorithm (`alg`).
    pub alg: KeyManagementAlg,
    /// Content encryption algorithm (`enc`).
    pub enc: ContentEncryptionAlg,
    /// Agreement PartyUInfo (`apu`), raw bytes, at most
    /// [`MAX_PARTY_INFO_LEN`].
    pub apu: Option<&'a [u8]>,
    /// Agreement PartyVInfo (`apv`), raw bytes, at most
    /// [`MAX_PARTY_INFO_LEN`].
    pub apv: Option<&'a [u8]>,
    /// Key ID (`kid`) of the recipient key, for example its [`Thumbprint`](crate::Thumbprint).
    pub kid: Option<&'a str>,
    /// Media type of the whole token (`typ`).
    pub typ: Option<&'a str>,
    /// Media type of the plaintext (`cty`).
    pub cty: Option<&'a str>,
}

impl EncryptOptions<'_> {
    /// The bank's profile: `ECDH-ES+A256KW`, `A256GCM`, no optional header members.
    pub const BANK: Self = Self {
        alg: KeyManagementAlg::EcdhEsA256Kw,
        enc: ContentEncryptionAlg::A256Gcm,
        apu: None,
        apv: None,
        kid: None,
        typ: None,
        cty: None,
    };

    fn header_fields(&self) -> HeaderFields<'_> {
        HeaderFields {
            alg: self.alg,
            enc: self.enc,
            apu: self.apu,
            apv: self.apv,
            kid: self.kid,
            typ: self.typ,
            cty: self.cty,
        }
    }

    /// Exact length of the token [`encrypt`] writes for a plaintext of `plaintext_len` bytes.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if the options make a header we would not write.
    pub fn token_len(&self, plaintext_len: usize) -> Result<usize, Error> {
        let header_len = header::header_len(&self.header_fields())?;
        Ok(compact_len(
            header_len,
            self.alg.encrypted_key_len(self.enc.key_len()),
            plaintext_len,
        ))
    }
}

impl Default for EncryptOptions<'_> {
    fn default() -> Self {
        Self::BANK
    }
}

/// Saturates at `usize::MAX` for plaintexts no buffer could hold, so it never overflows.
const fn compact_len(header_len: usize, encrypted_key_len: usize, plaintext_len: usize) -> usize {
    let fixed = b64::encoded_len(header_len)
        + b64::encoded_len(encrypted_key_len)
        + b64::encoded_len(IV_LEN)
        + b64::encoded_len(TAG_LEN)
        + 4; // the four dots
    b64::encoded_len(plaintext_len).saturating_add(fixed)
}

/// Exact length of the token [`encrypt`] writes with [`EncryptOptions::BANK`] for a plaintext of
/// `plaintext_len` bytes. A `const fn`, so it can size a stack buffer:
///
/// ```
/// const SESSION_TOKEN_LEN: usize = alliancepay_jose::token_len(400);
/// let buffer = [0u8; SESSION_TOKEN_LEN];
/// assert_eq!(buffer.len(), 917); // the size of the bank's 400-byte session token
/// ```
#[must_use]
pub const fn token_len(plaintext_len: usize) -> usize {
    compact_len(BANK_HEADER_LEN, 40, plaintext_len)
}

/// An upper bound on the plaintext length of any token of `token_len` bytes: a buffer this
/// long is always enough for [`decrypt`]. A `const fn`, to size stack buffers.
#[must_use]
pub const fn max_plaintext_len(token_len: usize) -> usize {
    b64::decoded_len(token_len)
}

/// Exact plaintext length of `token` (the decoded length of its ciphertext part), after checking
/// that it has five parts. The token is not otherwise validated.
///
/// # Errors
/// [`Error::SegmentCount`] if the token does not have five parts.
pub fn plaintext_len(token: &[u8]) -> Result<usize, Error> {
    let parts = split(token)?;
    Ok(b64::decoded_len(parts[3].1 - parts[3].0))
}

/// Splits a compact token into five (start, end) byte ranges.
fn split(token: &[u8]) -> Result<[(usize, usize); 5], Error> {
    let mut ranges = [(0usize, 0usize); 5];
    let mut count = 0usize;
    let mut start = 0usize;
    for (i, &byte) in token.iter().enumerate() {
        if byte == b'.' {
            if let Some(range) = ranges.get_mut(count) {
                *range = (start, i);
            }
            count += 1;
            start = i + 1;
        }
    }
    if let Some(range) = ranges.get_mut(count) {
        *range = (start, token.len());
    }
    count += 1;
    if count == 5 {
        Ok(ranges)
    } else {
        Err(Error::SegmentCount { found: count })
    }
}

/// Decodes a part that must be exactly `expected` bytes into the front of `out`.
///
/// The length is checked on the text before decoding, so a wrong-length part is reported as
/// such; a length no base64url string can have (`4k + 1`) is a base64 error instead, because
/// there is no byte length to report for it.
fn decode_exact(part: Part, text: &[u8], expected: usize, out: &mut [u8]) -> Result<(), Error> {
    if text.len() % 4 == 1 {
        return Err(Error::Base64 {
            part,
            error: Base64Error::InvalidLength,
        });
    }
    if text.len() != b64::encoded_len(expected) {
        return Err(Error::PartLength {
            part,
            expected,
            found: b64::decoded_len(text.len()),
        });
    }
    b64::decode(text, out)
        .map(|_| ())
        .map_err(|error| Error::Base64 { part, error })
}

/// Runs `f` with the AES-GCM cipher for `enc` keyed with `cek`.
macro_rules! with_gcm {
    ($enc:expr, $cek:expr, |$cipher:ident| $body:expr) => {
        match $enc {
            #[cfg(feature = "extra-algorithms")]
            ContentEncryptionAlg::A128Gcm => {
                let $cipher =
                    AesGcm::<aes_gcm::aes::Aes128, U12>::new_from_slice($cek).map_err(|_| ())?;
                $body
            }
            #[cfg(feature = "extra-algorithms")]
            ContentEncryptionAlg::A192Gcm => {
                let $cipher =
                    AesGcm::<aes_gcm::aes::Aes192, U12>::new_from_slice($cek).map_err(|_| ())?;
                $body
            }
            ContentEncryptionAlg::A256Gcm => {
                let $cipher =
                    AesGcm::<aes_gcm::aes::Aes256, U12>::new_from_slice($cek).map_err(|_| ())?;
                $body
            }
        }
    };
}

/// Runs `f` with the AES key wrap for `alg` keyed with `kek`.
macro_rules! with_kw {
    ($alg:expr, $kek:expr, |$kw:ident| $body:expr) => {
        match $alg {
            #[cfg(feature = "extra-algorithms")]
            KeyManagementAlg::EcdhEs => Err(()),
            #[cfg(feature = "extra-algorithms")]
            KeyManagementAlg::EcdhEsA128Kw => {
                let $kw = AesKw::<aes_kw::aes::Aes128>::new_from_slice($kek).map_err(|_| ())?;
                $body
            }
            #[cfg(feature = "extra-algorithms")]
            KeyManagementAlg::EcdhEsA192Kw => {
                let $kw = AesKw::<aes_kw::aes::Aes192>::new_from_slice($kek).map_err(|_| ())?;
                $body
            }
            KeyManagementAlg::EcdhEsA256Kw => {
                let $kw = AesKw::<aes_kw::aes::Aes256>::new_from_slice($kek).map_err(|_| ())?;
                $body
            }
        }
    };
}

fn kw_wrap(alg: KeyManagementAlg, kek: &[u8], cek: &[u8], out: &mut [u8]) -> Result<(), ()> {
    with_kw!(alg, kek, |kw| kw
        .wrap_key(cek, out)
        .map(|_| ())
        .map_err(|_| ()))
}

fn kw_unwrap(alg: KeyManagementAlg, kek: &[u8], wrapped: &[u8], out: &mut [u8]) -> Result<(), ()> {
    with_kw!(alg, kek, |kw| kw
        .unwrap_key(wrapped, out)
        .map(|_| ())
        .map_err(|_| ()))
}

#[inline(never)]
fn gcm_seal(
    enc: ContentEncryptionAlg,
    cek: &[u8],
    iv: &[u8; IV_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; TAG_LEN], ()> {
    let nonce = (*iv).into();
    with_gcm!(enc, cek, |cipher| {
        let tag = cipher
            .encrypt_inout_detached(&nonce, aad, buf.into())
            .map_err(|_| ())?;
        Ok(tag.into())
    })
}

#[inline(never)]
fn gcm_open(
    enc: ContentEncryptionAlg,
    cek: &[u8],
    iv: &[u8; IV_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), ()> {
    let nonce = (*iv).into();
    let tag = (*tag).into();
    with_gcm!(enc, cek, |cipher| cipher
        .decrypt_inout_detached(&nonce, aad, buf.into(), &tag)
        .map_err(|_| ()))
}

/// Derives the key material of ECDH-ES for `alg`/`enc` from the shared secret: the CEK for
/// direct agreement, the KEK otherwise. Returns the derived length.
fn derive_key(
    z: &[u8],
    alg: KeyManagementAlg,
    enc: ContentEncryptionAlg,
    apu: &[u8],
    apv: &[u8],
    out: &mut [u8; MAX_CEK_LEN],
) -> usize {
    // RFC 7518 §4.6.2: AlgorithmID is `enc` in direct mode, `alg` when the key is wrapped.
    let (algorithm_id, len) = match alg.kek_len() {
        None => (enc.name(), enc.key_len()),
        Some(kek_len) => (alg.name(), kek_len),
    };
    let info = OtherInfo {
        algorithm_id: algorithm_id.as_bytes(),
        party_u_info: apu,
        party_v_info: apv,
    };
    kdf::concat_kdf(z, &info, &mut out[..len]);
    len
}

/// Encrypts `plaintext` to `recipient` as a compact JWE written into `out`; returns the token.
///
/// `out` must hold [`EncryptOptions::token_len`] bytes ([`token_len`] for the bank's profile).
/// `rng` supplies the ephemeral key, the CEK and the IV; on a microcontroller, pass the
/// hardware RNG through `rand_core`.
///
/// ```
/// # fn main() -> Result<(), alliancepay_jose::Error> {
/// # let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
/// use alliancepay_jose::{EncryptOptions, PrivateJwk, encrypt, token_len};
///
/// let recipient = PrivateJwk::generate(&mut rng)?;
/// let mut out = [0u8; token_len(5)];
/// let token = encrypt(recipient.public_jwk(), b"hello", &EncryptOptions::BANK, &mut rng, &mut out)?;
/// assert_eq!(token.split('.').count(), 5);
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::BufferTooSmall`] with the length needed, [`Error::InvalidOption`] for header values
/// that do not fit, [`Error::Rng`] if the generator fails.
pub fn encrypt<'o, R: TryCryptoRng + ?Sized>(
    recipient: &PublicJwk,
    plaintext: &[u8],
    options: &EncryptOptions<'_>,
    rng: &mut R,
    out: &'o mut [u8],
) -> Result<&'o str, Error> {
    let result = encrypt_phases(recipient, plaintext, options, rng, out);
    // Whatever the phases left below this frame (scalar copies, the shared point) is
    // overwritten here; see `crate::scrub`.
    crate::scrub::stack();
    result
}

/// [`encrypt`] without its final stack scrub.
#[inline(never)]
fn encrypt_phases<'o, R: TryCryptoRng + ?Sized>(
    recipient: &PublicJwk,
    plaintext: &[u8],
    options: &EncryptOptions<'_>,
    rng: &mut R,
    out: &'o mut [u8],
) -> Result<&'o str, Error> {
    let required = options.token_len(plaintext.len())?;
    if out.len() < required {
        return Err(Error::BufferTooSmall { required });
    }
    // Only the random draws happen here, in this order (ephemeral key, CEK, IV), which the
    // RFC 7520 test replays. The work is in two non-generic, out-of-line phases so that no
    // buffer of the second is on the stack during the scalar multiplications of the first.
    let ephemeral = Ephemeral::try_generate_from_rng(rng).map_err(|_| Error::Rng)?;
    #[cfg(feature = "hazmat-scalar-mul")]
    let ephemeral = Zeroizing::new(ephemeral);
    let mut z: SharedSecret = Zeroizing::new([0u8; 48]);
    let epk = ephemeral_agree(&ephemeral, recipient, &mut z);
    drop(ephemeral);
    let epk = epk?;
    let mut cek = Zeroizing::new([0u8; MAX_CEK_LEN]);
    if options.alg.kek_len().is_some() {
        rng.try_fill_bytes(&mut cek[..options.enc.key_len()])
            .map_err(|_| Error::Rng)?;
    }
    let mut iv = [0u8; IV_LEN];
    rng.try_fill_bytes(&mut iv).map_err(|_| Error::Rng)?;
    seal(options, &epk, &z, &mut cek, &iv, plaintext, out, required)
}

/// The ephemeral public key (fixed-base multiplication) and the shared secret with
/// `recipient` (variable-base), written to `z`.
#[cfg(not(feature = "hazmat-scalar-mul"))]
#[inline(never)]
fn ephemeral_agree(
    ephemeral: &Ephemeral,
    recipient: &PublicJwk,
    z: &mut [u8; 48],
) -> Result<PublicJwk, Error> {
    let shared = ephemeral.diffie_hellman(recipient.public_key());
    z.copy_from_slice(shared.raw_secret_bytes());
    Ok(PublicJwk::from_public_key(
        ephemeral.public_key(),
        Default::default(),
    ))
}

/// The ephemeral public key and the shared secret with `recipient`, written to `z`, both with
/// [`crate::scalar_mul`]: the fixed-base multiplication is the variable-base one applied to
/// the generator (see `benches/README.md` for why there is no basepoint table).
#[cfg(feature = "hazmat-scalar-mul")]
#[inline(never)]
fn ephemeral_agree(
    ephemeral: &Ephemeral,
    recipient: &PublicJwk,
    z: &mut [u8; 48],
) -> Result<PublicJwk, Error> {
    let shared = crate::scalar_mul::mul(recipient.public_key().as_affine(), ephemeral);
    if !shared_x(shared, z) {
        return Err(Error::KeyAgreementFault);
    }
    Ok(PublicJwk::from_public_key(
        ephemeral_public(ephemeral)?,
        Default::default(),
    ))
}

/// The ephemeral public key `e·G` with `p384`'s basepoint table, when it is compiled in: faster
/// than our variable-base multiplication applied to `G`.
#[cfg(all(feature = "hazmat-scalar-mul", feature = "precomputed-tables"))]
fn ephemeral_public(ephemeral: &Ephemeral) -> Result<p384::PublicKey, Error> {
    Ok(p384::PublicKey::from_secret_scalar(ephemeral))
}

/// The ephemeral public key `e·G`: our multiplication applied to `G` (no table, so no flash or
/// RAM cost on a microcontroller). `mul_base` of a non-zero scalar is never the identity; none
/// means a fault.
#[cfg(all(feature = "hazmat-scalar-mul", not(feature = "precomputed-tables")))]
fn ephemeral_public(ephemeral: &Ephemeral) -> Result<p384::PublicKey, Error> {
    Option::from(crate::scalar_mul::mul_base(ephemeral))
        .and_then(|point| p384::PublicKey::from_affine(point).ok())
        .ok_or(Error::KeyAgreementFault)
}

/// Writes the x-coordinate of `shared` to `z` and wipes the point; false (and `z` zero) when
/// the multiplication gave none. The only branch is on that outcome, which valid keys never
/// make depend on a secret.
#[cfg(feature = "hazmat-scalar-mul")]
fn shared_x(
    shared: p384::elliptic_curve::subtle::CtOption<p384::AffinePoint>,
    z: &mut [u8; 48],
) -> bool {
    use p384::elliptic_curve::point::AffineCoordinates;
    use zeroize::Zeroize;
    let valid = shared.is_some();
    let mut point = shared.unwrap_or(p384::AffinePoint::GENERATOR);
    let mut x = point.x();
    z.copy_from_slice(&x);
    x.zeroize();
    point.zeroize();
    if bool::from(valid) {
        true
    } else {
        z.fill(0);
        false
    }
}

/// Everything after key agreement: key derivation, key wrap (`cek` holds the random CEK
/// when the alg wraps one; direct agreement overwrites it with the derived one), the header,
/// content encryption, and the token text.
#[inline(never)]
#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn seal<'o>(
    options: &EncryptOptions<'_>,
    epk: &PublicJwk,
    z: &[u8; 48],
    cek: &mut [u8; MAX_CEK_LEN],
    iv: &[u8; IV_LEN],
    plaintext: &[u8],
    out: &'o mut [u8],
    required: usize,
) -> Result<&'o str, Error> {
    let alg = options.alg;
    let enc = options.enc;
    let cek_len = enc.key_len();
    let mut derived = Zeroizing::new([0u8; MAX_CEK_LEN]);
    derive_key(
        z,
        alg,
        enc,
        options.apu.unwrap_or_default(),
        options.apv.unwrap_or_default(),
        &mut derived,
    );
    let mut encrypted_key = [0u8; MAX_ENCRYPTED_KEY_LEN];
    let encrypted_key_len = alg.encrypted_key_len(cek_len);
    if let Some(kek_len) = alg.kek_len() {
        kw_wrap(
            alg,
            &derived[..kek_len],
            &cek[..cek_len],
            &mut encrypted_key,
        )
        .map_err(|()| Error::InvalidOption("key wrap"))?;
    } else {
        cek[..cek_len].copy_from_slice(&derived[..cek_len]);
    }
    drop(derived);

    // Header JSON, then the parts in token order.
    let mut header_json = [0u8; MAX_HEADER_LEN];
    let (epk_x, epk_y) = epk_text(epk);
    let header_len =
        header::write_header(&options.header_fields(), &epk_x, &epk_y, &mut header_json)?;
    let mut at = 0;
    at += b64::encode(&header_json[..header_len], &mut out[at..])
        .map_err(|_| Error::BufferTooSmall { required })?
        .len();
    let aad_len = at;
    out[at] = b'.';
    at += 1;
    at += b64::encode(&encrypted_key[..encrypted_key_len], &mut out[at..])
        .map_err(|_| Error::BufferTooSmall { required })?
        .len();
    out[at] = b'.';
    at += 1;
    at += b64::encode(iv, &mut out[at..])
        .map_err(|_| Error::BufferTooSmall { required })?
        .len();
    out[at] = b'.';
    at += 1;

    // The ciphertext is produced in place where its text goes, then encoded in place.
    let (head, rest) = out.split_at_mut(at);
    rest[..plaintext.len()].copy_from_slice(plaintext);
    let tag = gcm_seal(
        enc,
        &cek[..cek_len],
        iv,
        &head[..aad_len],
        &mut rest[..plaintext.len()],
    )
    .map_err(|()| Error::InvalidOption("content encryption"))?;
    at += b64::encode_in_place(rest, plaintext.len())
        .map_err(|_| Error::BufferTooSmall { required })?;
    out[at] = b'.';
    at += 1;
    at += b64::encode(&tag, &mut out[at..])
        .map_err(|_| Error::BufferTooSmall { required })?
        .len();
    debug_assert_eq!(at, required);
    core::str::from_utf8(&out[..at]).map_err(|_| Error::BufferTooSmall { required })
}

fn epk_text(epk: &PublicJwk) -> ([u8; 64], [u8; 64]) {
    let (x, y) = epk.coordinates();
    let mut x_text = [0u8; 64];
    let mut y_text = [0u8; 64];
    // 48 bytes encode to exactly 64 characters.
    let _ = b64::encode(&x, &mut x_text);
    let _ = b64::encode(&y, &mut y_text);
    (x_text, y_text)
}

/// Everything decrypt needs from the token besides the ciphertext, checked before key agreement.
///
/// Filled in place by [`check_token`] rather than returned: a returned value plus the local it
/// is moved into would put two copies of it on the stack under the key agreement.
struct CheckedToken {
    alg: KeyManagementAlg,
    enc: ContentEncryptionAlg,
    /// The peer's ephemeral key, validated on P-384 by the header parser.
    epk: p384::AffinePoint,
    /// The header has `apu` or `apv`. They are read again after key agreement (see
    /// [`party_info`]) instead of being carried here, which keeps 128 bytes off the stack
    /// under the scalar multiplication; the bank never sends them.
    has_party_info: bool,
    encrypted_key: [u8; MAX_ENCRYPTED_KEY_LEN],
    encrypted_key_len: usize,
    iv: [u8; IV_LEN],
    tag: [u8; TAG_LEN],
    /// End of the protected header's text: the AAD is `token[..aad_end]`.
    aad_end: usize,
    /// Where the ciphertext's text lies in the token.
    ciphertext: (usize, usize),
}

impl CheckedToken {
    /// Placeholder contents, all overwritten by a successful [`check_token`].
    const EMPTY: Self = Self {
        alg: KeyManagementAlg::EcdhEsA256Kw,
        enc: ContentEncryptionAlg::A256Gcm,
        epk: p384::AffinePoint::IDENTITY,
        has_party_info: false,
        encrypted_key: [0; MAX_ENCRYPTED_KEY_LEN],
        encrypted_key_len: 0,
        iv: [0; IV_LEN],
        tag: [0; TAG_LEN],
        aad_end: 0,
        ciphertext: (0, 0),
    };
}

/// Out of line: its 512-byte header buffer must be gone before key agreement starts.
#[inline(never)]
fn check_token(token: &[u8], allow: AllowList, checked: &mut CheckedToken) -> Result<(), Error> {
    let ranges = split(token)?;
    let text = |i: usize| &token[ranges[i].0..ranges[i].1];

    let header_text = text(0);
    let header_len = b64::decoded_len(header_text.len());
    if header_len > MAX_HEADER_LEN {
        return Err(Error::HeaderTooLong { found: header_len });
    }
    let mut header_json = [0u8; MAX_HEADER_LEN];
    let header_json =
        b64::decode(header_text, &mut header_json).map_err(|error| Error::Base64 {
            part: Part::ProtectedHeader,
            error,
        })?;
    let header = ProtectedHeader::parse(header_json)?;
    if !allow.allows(header.alg, header.enc) {
        return Err(Error::NotAllowed {
            alg: header.alg,
            enc: header.enc,
        });
    }

    checked.has_party_info = header.apu.is_some() || header.apv.is_some();
    checked.encrypted_key_len = header.alg.encrypted_key_len(header.enc.key_len());
    decode_exact(
        Part::EncryptedKey,
        text(1),
        checked.encrypted_key_len,
        &mut checked.encrypted_key,
    )?;
    decode_exact(Part::Iv, text(2), IV_LEN, &mut checked.iv)?;
    decode_exact(Part::Tag, text(4), TAG_LEN, &mut checked.tag)?;
    checked.alg = header.alg;
    checked.enc = header.enc;
    checked.epk = *header.epk.as_affine();
    checked.aad_end = ranges[0].1;
    checked.ciphertext = ranges[3];
    Ok(())
}

/// The ephemeral key of an encrypt: `p384`'s ECDH secret, or with `hazmat-scalar-mul` the bare
/// scalar that [`crate::scalar_mul`] takes (zeroized on drop by its `Zeroizing` wrapper). Both
/// draw from the RNG the same way.
#[cfg(not(feature = "hazmat-scalar-mul"))]
type Ephemeral = EphemeralSecret;
#[cfg(feature = "hazmat-scalar-mul")]
type Ephemeral = p384::NonZeroScalar;

/// The ECDH shared secret `Z` (the x-coordinate of the shared point), zeroized on drop.
type SharedSecret = Zeroizing<[u8; 48]>;

/// Variable-base key agreement with `peer`. Kept out of line, like the other phases of
/// [`open`] and [`encrypt`]: the scalar multiplication is the deepest call of the crate (about
/// 4.2 KiB of stack on a Cortex-M4), so no header or key buffer may share its frame chain.
/// False when the multiplication was faulted (hazmat build only; `p384`'s ECDH has no such
/// outcome to report).
#[inline(never)]
fn agree(secret: &p384::SecretKey, peer: &p384::AffinePoint, z: &mut [u8; 48]) -> bool {
    #[cfg(not(feature = "hazmat-scalar-mul"))]
    {
        let shared = p384::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer);
        z.copy_from_slice(shared.raw_secret_bytes());
        true
    }
    #[cfg(feature = "hazmat-scalar-mul")]
    {
        shared_x(crate::scalar_mul::mul(peer, &secret.to_nonzero_scalar()), z)
    }
}

/// Decodes `apu` and `apv` of a header that [`check_token`] accepted into `apu` and `apv`;
/// returns their lengths (0 when absent). Out of line, so that its header buffer costs stack
/// only when a token has party info.
#[inline(never)]
fn party_info(
    header_text: &[u8],
    apu: &mut [u8; MAX_PARTY_INFO_LEN],
    apv: &mut [u8; MAX_PARTY_INFO_LEN],
) -> (usize, usize) {
    let mut header_json = [0u8; MAX_HEADER_LEN];
    let Ok(json) = b64::decode(header_text, &mut header_json) else {
        return (0, 0);
    };
    // The header passed `ProtectedHeader::parse` in `check_token`, so `apu` and `apv`, when
    // present, are unescaped strings that decode into MAX_PARTY_INFO_LEN bytes. Reading just
    // these two members (rather than calling the full parser again) keeps the parser inlined
    // in its one caller, `check_token`, which is what keeps that call chain shallow.
    let (mut apu_len, mut apv_len) = (0, 0);
    let _ = json::for_each_member(json, |name, value| {
        let (Value::Str(text), Some((out, len))) = (
            value,
            match name {
                "apu" => Some((&mut *apu, &mut apu_len)),
                "apv" => Some((&mut *apv, &mut apv_len)),
                _ => None,
            },
        ) else {
            return Ok::<(), JsonError>(());
        };
        *len = b64::decode(text.as_bytes(), out).map_or(0, |d| d.len());
        Ok(())
    });
    (apu_len, apv_len)
}

/// The CEK of a checked token: derived directly, or unwrapped with the derived KEK.
#[inline(never)]
fn recover_cek(
    z: &[u8],
    checked: &CheckedToken,
    header_text: &[u8],
    cek: &mut [u8; MAX_CEK_LEN],
) -> Result<(), ()> {
    let mut apu = [0u8; MAX_PARTY_INFO_LEN];
    let mut apv = [0u8; MAX_PARTY_INFO_LEN];
    let (apu_len, apv_len) = if checked.has_party_info {
        party_info(header_text, &mut apu, &mut apv)
    } else {
        (0, 0)
    };
    let mut derived = Zeroizing::new([0u8; MAX_CEK_LEN]);
    derive_key(
        z,
        checked.alg,
        checked.enc,
        &apu[..apu_len],
        &apv[..apv_len],
        &mut derived,
    );
    let cek_len = checked.enc.key_len();
    match checked.alg.kek_len() {
        None => {
            cek[..cek_len].copy_from_slice(&derived[..cek_len]);
            Ok(())
        }
        Some(kek_len) => kw_unwrap(
            checked.alg,
            &derived[..kek_len],
            &checked.encrypted_key[..checked.encrypted_key_len],
            &mut cek[..],
        ),
    }
}

/// Key agreement and content decryption of `ciphertext` in place. Every failure is the same.
#[inline(never)]
fn open(
    key: &PrivateJwk,
    checked: &CheckedToken,
    aad: &[u8],
    ciphertext: &mut [u8],
) -> Result<(), Error> {
    let mut z: SharedSecret = Zeroizing::new([0u8; 48]);
    let result = if agree(key.secret_key(), &checked.epk, &mut z) {
        unwrap_and_open(z.as_slice(), checked, aad, ciphertext)
    } else {
        Err(())
    };
    drop(z);
    result.map_err(|()| {
        ciphertext.fill(0);
        Error::DecryptionFailed
    })
}

/// Everything after key agreement: its CEK buffer is not on the stack during it.
#[inline(never)]
fn unwrap_and_open(
    z: &[u8],
    checked: &CheckedToken,
    aad: &[u8],
    ciphertext: &mut [u8],
) -> Result<(), ()> {
    let mut cek = Zeroizing::new([0u8; MAX_CEK_LEN]);
    recover_cek(z, checked, aad, &mut cek)?;
    let cek_len = checked.enc.key_len();
    gcm_open(
        checked.enc,
        &cek[..cek_len],
        &checked.iv,
        aad,
        ciphertext,
        &checked.tag,
    )
}

/// Decrypts a compact JWE with `key` into `out`; returns the plaintext (a prefix of `out`).
///
/// Only (`alg`, `enc`) pairs in `allow` are accepted; pass [`AllowList::default()`] for the
/// bank's profile. `out` needs [`plaintext_len`]`(token)` bytes ([`max_plaintext_len`] of the
/// token length always suffices). Surrounding whitespace is not accepted: trim first.
///
/// # Errors
/// Structural errors name the defect ([`Error::SegmentCount`], [`Error::Base64`],
/// [`Error::PartLength`], [`Error::Header`], [`Error::NotAllowed`], [`Error::BufferTooSmall`]);
/// every failure after key agreement is [`Error::DecryptionFailed`].
pub fn decrypt<'o>(
    key: &PrivateJwk,
    token: &[u8],
    allow: AllowList,
    out: &'o mut [u8],
) -> Result<&'o mut [u8], Error> {
    let mut checked = CheckedToken::EMPTY;
    check_token(token, allow, &mut checked)?;
    let (start, end) = checked.ciphertext;
    let ciphertext_text = &token[start..end];
    let required = b64::decoded_len(ciphertext_text.len());
    let out = out
        .get_mut(..required)
        .ok_or(Error::BufferTooSmall { required })?;
    b64::decode(ciphertext_text, out).map_err(|error| Error::Base64 {
        part: Part::Ciphertext,
        error,
    })?;
    let aad = &token[..checked.aad_end];
    let result = open(key, &checked, aad, out);
    // Overwrites what the key agreement left below this frame; see `crate::scrub`.
    crate::scrub::stack();
    result?;
    Ok(out)
}

/// Decrypts a compact JWE held in `token`, overwriting it; returns the plaintext, a sub-slice of
/// `token`. Needs no second buffer: the ciphertext is decoded and decrypted where it lies.
///
/// # Errors
/// As for [`decrypt`]. On [`Error::DecryptionFailed`] the ciphertext area is zeroed; on any
/// error the token may be partly overwritten.
pub fn decrypt_in_place<'b>(
    key: &PrivateJwk,
    token: &'b mut [u8],
    allow: AllowList,
) -> Result<&'b mut [u8], Error> {
    let mut checked = CheckedToken::EMPTY;
    check_token(token, allow, &mut checked)?;
    let (start, end) = checked.ciphertext;
    let aad_end = checked.aad_end;
    let (head, tail) = token.split_at_mut(start);
    let plaintext =
        b64::decode_in_place(&mut tail[..end - start]).map_err(|error| Error::Base64 {
            part: Part::Ciphertext,
            error,
        })?;
    let result = open(key, &checked, &head[..aad_end], plaintext);
    crate::scrub::stack();
    result?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwk::PrivateJwk;
    use std::vec;

    fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
        rand_core::UnwrapErr(getrandom::SysRng)
    }

    fn round_trip(key: &PrivateJwk, options: &EncryptOptions<'_>, plaintext: &[u8]) {
        let expected_len = options.token_len(plaintext.len()).unwrap();
        // One byte short must be refused with the exact requirement.
        let mut short = vec![0u8; expected_len - 1];
        assert_eq!(
            encrypt(key.public_jwk(), plaintext, options, &mut rng(), &mut short),
            Err(Error::BufferTooSmall {
                required: expected_len
            })
        );
        let mut out = vec![0u8; expected_len + 7];
        let token = encrypt(key.public_jwk(), plaintext, options, &mut rng(), &mut out).unwrap();
        assert_eq!(token.len(), expected_len);
        assert_eq!(plaintext_len(token.as_bytes()), Ok(plaintext.len()));
        assert!(max_plaintext_len(token.len()) >= plaintext.len());
        let allow = AllowList::EMPTY.with(options.alg, options.enc);
        let mut decrypted = vec![0u8; plaintext.len()];
        assert_eq!(
            decrypt(key, token.as_bytes(), allow, &mut decrypted).unwrap(),
            plaintext
        );
        let mut in_place = token.as_bytes().to_vec();
        assert_eq!(
            decrypt_in_place(key, &mut in_place, allow).unwrap(),
            plaintext
        );
    }

    #[test]
    fn every_compiled_pair_round_trips_at_edge_lengths() {
        let key = PrivateJwk::generate(&mut rng()).unwrap();
        let data: vec::Vec<u8> = (0..1000u32)
            .map(|i| (i * 31 + 7).to_le_bytes()[0])
            .collect();
        for &alg in KeyManagementAlg::ALL {
            for &enc in ContentEncryptionAlg::ALL {
                let options = EncryptOptions {
                    alg,
                    enc,
                    ..EncryptOptions::BANK
                };
                for len in [0, 1, 2, 3, 47, 48, 49, 399, 1000] {
                    round_trip(&key, &options, &data[..len]);
                }
            }
        }
    }

    #[test]
    fn optional_header_members_round_trip_and_bind_the_key() {
        let key = PrivateJwk::generate(&mut rng()).unwrap();
        let thumbprint = key.public_jwk().thumbprint().to_base64url();
        let options = EncryptOptions {
            apu: Some(b"merchant"),
            apv: Some(&[0xff; MAX_PARTY_INFO_LEN]),
            kid: Some(&thumbprint),
            typ: Some("JWE"),
            cty: Some("application/\"json\""),
            ..EncryptOptions::BANK
        };
        round_trip(&key, &options, b"{\"amount\":100}");
        let too_long = [0u8; MAX_PARTY_INFO_LEN + 1];
        let options = EncryptOptions {
            apu: Some(&too_long),
            ..EncryptOptions::BANK
        };
        assert!(matches!(options.token_len(1), Err(Error::InvalidOption(_))));
    }

    #[test]
    fn bank_token_len_matches_options() {
        for len in [0, 1, 399, 400, 65536] {
            assert_eq!(Ok(token_len(len)), EncryptOptions::BANK.token_len(len));
        }
    }

    #[test]
    fn default_allow_list_refuses_other_pairs() {
        let key = PrivateJwk::generate(&mut rng()).unwrap();
        #[cfg(feature = "extra-algorithms")]
        {
            let options = EncryptOptions {
                alg: KeyManagementAlg::EcdhEs,
                ..EncryptOptions::BANK
            };
            let mut out = [0u8; 512];
            let token = encrypt(key.public_jwk(), b"x", &options, &mut rng(), &mut out).unwrap();
            let mut plain = [0u8; 8];
            assert_eq!(
                decrypt(&key, token.as_bytes(), AllowList::default(), &mut plain),
                Err(Error::NotAllowed {
                    alg: KeyManagementAlg::EcdhEs,
                    enc: ContentEncryptionAlg::A256Gcm
                })
            );
        }
        let mut out = [0u8; token_len(1)];
        let token = encrypt(
            key.public_jwk(),
            b"x",
            &EncryptOptions::BANK,
            &mut rng(),
            &mut out,
        )
        .unwrap();
        let mut plain = [0u8; 1];
        assert_eq!(
            decrypt(&key, token.as_bytes(), AllowList::EMPTY, &mut plain),
            Err(Error::NotAllowed {
                alg: KeyManagementAlg::EcdhEsA256Kw,
                enc: ContentEncryptionAlg::A256Gcm
            })
        );
    }
}
