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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use crate::time::UtcTime;

    fn session() -> Session {
        let server = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let payload = format!(
            r#"{{"refreshToken":"rt-secret-7f3a","deviceId":"dev-1","serverPublic":{}}}"#,
            crypto::public_jwk_to_string(server.public_jwk())
        );
        Session::from_payload(payload.as_bytes(), UtcTime::from_unix(1_773_131_702)).unwrap()
    }

    fn binding() -> Binding {
        Binding {
            base_url: "https://bank.example".into(),
            service_code: Secret::new("svc-1".into()),
            key_thumbprint: "thumb".into(),
        }
    }

    #[test]
    fn a_sealed_session_opens_only_where_it_belongs() {
        let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let sealed = seal(&session(), &binding(), 7, &key).unwrap();
        assert!(!sealed.contains("rt-secret"), "the token is encrypted");
        let opened = unseal(&sealed, &binding(), 7, &key).unwrap();
        assert_eq!(opened.device_id, "dev-1");
        assert_eq!(opened.refresh_token.expose(), "rt-secret-7f3a");

        let mut other_bank = binding();
        other_bank.base_url = "https://elsewhere.example".into();
        let mut other_code = binding();
        other_code.service_code = Secret::new("svc-2".into());
        let mut other_thumbprint = binding();
        other_thumbprint.key_thumbprint = "other".into();
        for (wrong, says) in [
            (other_bank, "bank"),
            (other_code, "service code"),
            (other_thumbprint, "merchant key"),
        ] {
            let e = unseal(&sealed, &wrong, 7, &key).unwrap_err();
            assert!(e.contains(says), "{e}");
            assert!(!e.contains("rt-secret") && !e.contains("svc-1"), "{e}");
        }
        // An old record copied under a newer generation is not taken for it.
        assert!(
            unseal(&sealed, &binding(), 8, &key)
                .unwrap_err()
                .contains("generation")
        );
        let stranger = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        assert!(unseal(&sealed, &binding(), 7, &stranger).is_err());
        assert!(unseal("not a jwe", &binding(), 7, &key).is_err());
    }
}
