//! The std conveniences over `alliancepay-jose`: owned buffers, the OS RNG, UUIDs, JWKs inside
//! JSON, and a seeded RNG for replaying recorded sessions.

use alliancepay_jose::{AllowList, EncryptOptions, PrivateJwk, PublicJwk, decrypt, encrypt};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

/// The operating system's CSPRNG as a `rand_core` RNG: what the blocking client hands the
/// protocol core. A failure to get entropy panics, which on the platforms std supports means
/// the OS itself is broken.
#[must_use]
pub fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// Encrypts `plaintext` to `recipient` with the bank's profile (ECDH-ES+A256KW / A256GCM),
/// with the OS RNG.
///
/// # Errors
/// The core's error; only an RNG failure is possible with a correctly sized buffer.
pub fn encrypt_to_string(
    recipient: &PublicJwk,
    plaintext: &[u8],
) -> Result<String, alliancepay_jose::Error> {
    encrypt_with(recipient, plaintext, &mut os_rng())
}

/// [`encrypt_to_string`] drawing the ephemeral key, CEK and IV from `rng`.
///
/// # Errors
/// As [`encrypt_to_string`].
pub fn encrypt_with<R: CryptoRng + ?Sized>(
    recipient: &PublicJwk,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<String, alliancepay_jose::Error> {
    let mut out = vec![0u8; alliancepay_jose::token_len(plaintext.len())];
    let token = encrypt(recipient, plaintext, &EncryptOptions::BANK, rng, &mut out)?;
    Ok(token.to_owned())
}

/// Decrypts a compact JWE of the bank's profile into a buffer wiped on drop.
///
/// # Errors
/// The core's error: a malformed token, or the one opaque decryption failure.
pub fn decrypt_to_vec(
    key: &PrivateJwk,
    token: &str,
) -> Result<Zeroizing<Vec<u8>>, alliancepay_jose::Error> {
    let token = token.trim().as_bytes();
    let mut out = Zeroizing::new(vec![0u8; alliancepay_jose::max_plaintext_len(token.len())]);
    let len = decrypt(key, token, AllowList::default(), &mut out)?.len();
    out.truncate(len);
    Ok(out)
}

/// A fresh random (version 4) UUID in its usual lowercase text form, from the OS RNG.
#[must_use]
pub fn new_uuid() -> String {
    uuid_from(&mut os_rng())
}

/// A version 4 UUID drawn from `rng` (the protocol core's request ids; seeded in replays).
#[must_use]
pub fn uuid_from<R: CryptoRng + ?Sized>(rng: &mut R) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A deterministic RNG (SplitMix64) for replaying recorded sessions byte for byte in tests.
///
/// **Insecure by design**: anyone who knows the seed knows every "random" key it makes. It
/// claims `CryptoRng` only because the JWE code requires that bound; never use it with a real
/// bank.
#[derive(Clone, Debug)]
pub struct InsecureSeededRng(u64);

impl InsecureSeededRng {
    /// The stream starting at `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl rand_core::TryRng for InsecureSeededRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.try_next_u64()
            .map(|v| u32::try_from(v >> 32).unwrap_or_default())
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        // SplitMix64 (Steele, Lea, Flood 2014): small, full-period, and enough for tests.
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for InsecureSeededRng {}

/// A public JWK given as a JSON value inside a larger document (our session files).
///
/// # Errors
/// The JWK's problem, as the core names it.
pub fn public_jwk_from_value(
    value: &serde_json::Value,
) -> Result<PublicJwk, alliancepay_jose::JwkError> {
    // The core parses bytes strictly; re-serializing a parsed value cannot add duplicates.
    let text = serde_json::to_vec(value).unwrap_or_default();
    PublicJwk::from_json(&text)
}

/// The JSON text of a public JWK.
#[must_use]
pub fn public_jwk_to_string(key: &PublicJwk) -> String {
    let mut out = [0u8; alliancepay_jose::PUBLIC_JWK_MAX_LEN];
    key.write_json(&mut out)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// The JSON text of a private JWK, wiped on drop.
#[must_use]
pub fn private_jwk_to_string(key: &PrivateJwk) -> Zeroizing<String> {
    let mut out = Zeroizing::new([0u8; alliancepay_jose::PRIVATE_JWK_MAX_LEN]);
    Zeroizing::new(
        key.write_json(out.as_mut_slice())
            .map(str::to_owned)
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let (a, b) = (new_uuid(), new_uuid());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn encrypt_and_decrypt_round_trip() {
        let key = PrivateJwk::generate(&mut os_rng()).unwrap();
        let token = encrypt_to_string(key.public_jwk(), b"{\"a\":1}").unwrap();
        assert_eq!(
            decrypt_to_vec(&key, &format!(" {token}\n"))
                .unwrap()
                .as_slice(),
            b"{\"a\":1}"
        );
        let value: serde_json::Value =
            serde_json::from_str(&public_jwk_to_string(key.public_jwk())).unwrap();
        assert_eq!(public_jwk_from_value(&value).unwrap(), *key.public_jwk());
    }
}
