//! Shared inputs for the criterion benches and the `compare` binary: the bank's 399-byte session
//! payload, recipient keys, and a random source.
//!
//! Everything a measurement consumes is built here, once, so that the criterion benches, the
//! in-process `compare` run and the Python and Node peer scripts (which read the files
//! [`Fixture::write_dir`] produces) all work on the same keys and the same bytes.

#![forbid(unsafe_code)]

#[cfg(feature = "peers")] // AWS-LC is built with a C compiler: only with the `peers` feature
pub mod awslc;

use std::io;
use std::path::Path;

use alliancepay_jose::{EncryptOptions, PrivateJwk, encrypt, token_len};
use base64ct::{Base64UrlUnpadded, Encoding};
use p384::elliptic_curve::sec1::ToSec1Point;

/// Length of the bank's session payload, the size the issue's figures are quoted for.
pub const SESSION_PAYLOAD_LEN: usize = 399;

/// The random source every measurement of ours uses: the operating system's, as on a server.
pub type Rng = rand_core::UnwrapErr<getrandom::SysRng>;

/// A fresh handle on the operating system's random source.
#[must_use]
pub const fn rng() -> Rng {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// A session payload shaped like the bank's (three UUIDs, the server's public key as a JWK and
/// an expiry), exactly [`SESSION_PAYLOAD_LEN`] bytes. Its `serverPublic` is the P-384 generator,
/// so the text is the same in every run.
#[must_use]
pub fn session_payload() -> Vec<u8> {
    let generator = p384::AffinePoint::GENERATOR.to_sec1_point(false);
    let (Some(x), Some(y)) = (generator.x(), generator.y()) else {
        unreachable!("an uncompressed point has both coordinates");
    };
    let mut x_text = [0u8; 64];
    let mut y_text = [0u8; 64];
    let x = Base64UrlUnpadded::encode(x, &mut x_text).unwrap_or_default();
    let y = Base64UrlUnpadded::encode(y, &mut y_text).unwrap_or_default();
    let text = format!(
        concat!(
            r#"{{"refreshToken":"5f0b7a4e-3c1d-4e8a-9b2f-7d6c5a4b3e21","#,
            r#""authToken":"c2a9e3f1-8b7d-4c6e-a5f4-1d2e3c4b5a69","#,
            r#""deviceId":"0e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170","#,
            r#""serverPublic":{{"kty":"EC","crv":"P-384","x":"{x}","y":"{y}"}},"#,
            r#""tokenExpirationDateTime":"2025-02-14 22:45:24.0463 +0000"}}"#
        ),
        x = x,
        y = y
    );
    debug_assert_eq!(text.len(), SESSION_PAYLOAD_LEN);
    text.into_bytes()
}

/// Plaintext sizes of the criterion throughput sweep: a short message, the session payload's
/// size, a page, and a large body where AES-GCM and base64url dominate.
pub const SIZES: [usize; 4] = [64, 400, 4096, 65536];

/// `len` bytes of session-like JSON text: the session payload repeated and cut to length.
#[must_use]
pub fn sized_payload(len: usize) -> Vec<u8> {
    session_payload().into_iter().cycle().take(len).collect()
}

/// The keys and bytes one measurement run works on.
pub struct Fixture {
    /// The recipient's key pair: tokens are encrypted to its public half and decrypted with it.
    pub recipient: PrivateJwk,
    /// The recipient's private JWK as JSON text (for the peers and the parse bench).
    pub private_json: String,
    /// The recipient's public JWK as JSON text.
    pub public_json: String,
    /// The session payload.
    pub payload: Vec<u8>,
    /// A token of ours over `payload` to the recipient: what every decrypt measurement opens.
    pub token: String,
}

impl Fixture {
    /// A new random recipient key, the session payload, and one token of ours.
    ///
    /// # Panics
    /// If our own encrypt fails, which would make every measurement meaningless.
    #[must_use]
    pub fn new() -> Self {
        Self::with_payload(session_payload())
    }

    /// As [`Fixture::new`] with another payload (the criterion size sweep).
    ///
    /// # Panics
    /// If key generation or our own encrypt fails.
    #[must_use]
    pub fn with_payload(payload: Vec<u8>) -> Self {
        let mut rng = rng();
        let recipient = PrivateJwk::generate(&mut rng).expect("the OS random source works");
        let mut text = [0u8; alliancepay_jose::PRIVATE_JWK_MAX_LEN];
        let private_json = recipient
            .write_json(&mut text)
            .expect("PRIVATE_JWK_MAX_LEN always suffices")
            .to_owned();
        let public_json = recipient
            .public_jwk()
            .write_json(&mut text)
            .expect("PUBLIC_JWK_MAX_LEN always suffices")
            .to_owned();
        let mut out = vec![0u8; token_len(payload.len())];
        let token = encrypt(
            recipient.public_jwk(),
            &payload,
            &EncryptOptions::BANK,
            &mut rng,
            &mut out,
        )
        .expect("our own encrypt works")
        .to_owned();
        Self {
            recipient,
            private_json,
            public_json,
            payload,
            token,
        }
    }

    /// Writes the inputs the peer scripts read: `recipient.jwk` (private), `recipient.pub.jwk`,
    /// `payload.json` and `token.jwe` (ours, for their decrypt measurement).
    ///
    /// # Errors
    /// Any I/O error creating or writing the files.
    pub fn write_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("recipient.jwk"), &self.private_json)?;
        std::fs::write(dir.join("recipient.pub.jwk"), &self.public_json)?;
        std::fs::write(dir.join("payload.json"), &self.payload)?;
        std::fs::write(dir.join("token.jwe"), &self.token)?;
        Ok(())
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_payload_is_399_bytes_of_json() {
        let payload = session_payload();
        assert_eq!(payload.len(), SESSION_PAYLOAD_LEN);
        assert!(payload.starts_with(b"{\"refreshToken\":\""));
        assert!(payload.ends_with(b"+0000\"}"));
    }
}
