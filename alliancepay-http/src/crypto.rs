//! The std conveniences over `alliancepay-jose`: owned buffers, the OS RNG, JWKs inside JSON.

use alliancepay_jose::{AllowList, EncryptOptions, PrivateJwk, PublicJwk, decrypt, encrypt};
use zeroize::Zeroizing;

/// The operating system's CSPRNG as a `rand_core` RNG; a failure to get entropy panics, which
/// on the platforms std supports means the OS itself is broken.
pub(crate) fn os_rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// Encrypts `plaintext` to `recipient` with the bank's profile (ECDH-ES+A256KW / A256GCM).
///
/// # Errors
/// The core's error; only an RNG failure is possible with a correctly sized buffer.
pub fn encrypt_to_string(
    recipient: &PublicJwk,
    plaintext: &[u8],
) -> Result<String, alliancepay_jose::Error> {
    let mut out = vec![0u8; alliancepay_jose::token_len(plaintext.len())];
    let token = encrypt(
        recipient,
        plaintext,
        &EncryptOptions::BANK,
        &mut os_rng(),
        &mut out,
    )?;
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

/// A fresh random (version 4) UUID in its usual lowercase text form.
#[must_use]
pub fn new_uuid() -> String {
    use rand_core::Rng;
    let mut b = [0u8; 16];
    os_rng().fill_bytes(&mut b);
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

/// A public JWK given as a JSON value inside a larger document (`serverPublic`).
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
