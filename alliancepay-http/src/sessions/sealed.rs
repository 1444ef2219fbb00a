//! A session as a store keeps it: a compact JWE to the merchant's own public key, so a reader
//! of the session file or of Redis cannot use the refresh token, while every worker (each has
//! the private key) can. The plaintext names the bank's base URL, the service code, the key's
//! thumbprint and the generation it was published as; a record bound to anything else is
//! refused, so a store shared by mistake never sends one merchant's session to another bank,
//! and an old record copied under a newer generation is not taken for the newer one.

use alliancepay_jose::PrivateJwk;
use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::session::{SavedSession, Session};

/// What a sealed session must belong to.
#[derive(Clone)]
pub struct Binding {
    /// The bank's base URL.
    pub base_url: String,
    /// The service code the session was authorized with (kept inside the JWE only).
    pub service_code: crate::Secret,
    /// The merchant key's RFC 7638 thumbprint (base64url).
    pub key_thumbprint: String,
}

impl std::fmt::Debug for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binding")
            .field("base_url", &self.base_url)
            .field("key_thumbprint", &self.key_thumbprint)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Plain {
    base_url: String,
    service_code: String,
    merchant_key_thumbprint: String,
    generation: u64,
    session: SavedSession,
}

impl Drop for Plain {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.service_code);
    }
}

/// Seals `session` as generation `generation` of `binding`, encrypted to the merchant key.
///
/// # Errors
/// A sentence if encryption failed (only an RNG failure can cause it).
pub fn seal(
    session: &Session,
    binding: &Binding,
    generation: u64,
    merchant: &PrivateJwk,
) -> Result<String, String> {
    let plain = Plain {
        base_url: binding.base_url.clone(),
        service_code: binding.service_code.expose().to_owned(),
        merchant_key_thumbprint: binding.key_thumbprint.clone(),
        generation,
        session: session.to_saved(&binding.key_thumbprint, &binding.base_url),
    };
    let json = zeroize::Zeroizing::new(serde_json::to_vec(&plain).map_err(|e| e.to_string())?);
    crypto::encrypt_to_string(merchant.public_jwk(), &json)
        .map_err(|e| format!("cannot seal the session: {e}"))
}

/// Opens a record sealed by [`seal`]: decrypts it with the merchant key and checks that it
/// belongs to `binding` and was published as `generation`.
///
/// # Errors
/// A sentence naming what did not match (never the tokens).
pub fn unseal(
    sealed: &str,
    binding: &Binding,
    generation: u64,
    merchant: &PrivateJwk,
) -> Result<Session, String> {
    let json = crypto::decrypt_to_vec(merchant, sealed)
        .map_err(|_| "the stored session is not sealed to this merchant key".to_owned())?;
    let plain: Plain = serde_json::from_slice(&json)
        .map_err(|e| format!("the stored session is not readable: {e}"))?;
    if plain.base_url != binding.base_url {
        return Err(format!(
            "the stored session belongs to the bank at {}, not {}",
            plain.base_url, binding.base_url
        ));
    }
    if plain.merchant_key_thumbprint != binding.key_thumbprint {
        return Err("the stored session names another merchant key".into());
    }
    if plain.service_code != binding.service_code.expose() {
        return Err("the stored session belongs to another service code".into());
    }
    if plain.generation != generation {
        return Err(format!(
            "the stored session was published as generation {}, but is stored as {generation}",
            plain.generation
        ));
    }
    Session::from_saved(&plain.session).map_err(|e| format!("the stored session is unusable: {e}"))
}
