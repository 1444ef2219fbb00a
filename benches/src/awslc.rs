//! The bank's JWE profile (`ECDH-ES+A256KW`, `A256GCM`, P-384) on AWS-LC through `aws-lc-rs`:
//! the practical ceiling for a server, measured in the same process and rounds as ours.
//!
//! Only what a measurement needs, not a JOSE library: the header is written and read with
//! `serde_json`, no option of the header is checked beyond `epk`, and errors are strings. The
//! steps are those of RFC 7518 §4.6 (ECDH-ES), §4.6.2 (Concat KDF with SHA-256), §4.4 (AES Key
//! Wrap) and §5.3 (AES-GCM), each done by AWS-LC.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P384, EphemeralPrivateKey, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::digest::{self, SHA256};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrap};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64ct::{Base64UrlUnpadded, Encoding};

const ALG: &str = "ECDH-ES+A256KW";

/// A recipient key pair in AWS-LC, and its random source.
pub struct AwsLcJwe {
    private: PrivateKey,
    /// The recipient's public key, SEC1 uncompressed (`04 || x || y`).
    public: Vec<u8>,
    rng: SystemRandom,
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn unb64(text: &str) -> Result<Vec<u8>, String> {
    Base64UrlUnpadded::decode_vec(text).map_err(|e| format!("base64url: {e}"))
}

/// RFC 7518 §4.6.2's Concat KDF for a 256-bit key, no party info: one SHA-256 block.
fn concat_kdf(z: &[u8]) -> [u8; 32] {
    let mut input = Vec::with_capacity(4 + z.len() + 4 + ALG.len() + 12);
    input.extend_from_slice(&1u32.to_be_bytes());
    input.extend_from_slice(z);
    input.extend_from_slice(&u32::try_from(ALG.len()).unwrap_or(0).to_be_bytes());
    input.extend_from_slice(ALG.as_bytes());
    input.extend_from_slice(&0u32.to_be_bytes()); // apu
    input.extend_from_slice(&0u32.to_be_bytes()); // apv
    input.extend_from_slice(&256u32.to_be_bytes());
    let mut kek = [0u8; 32];
    kek.copy_from_slice(digest::digest(&SHA256, &input).as_ref());
    kek
}

impl AwsLcJwe {
    /// The recipient key `d` (48 big-endian bytes, as in a JWK's `d`).
    ///
    /// # Errors
    /// If AWS-LC refuses the scalar.
    pub fn new(d: &[u8]) -> Result<Self, String> {
        let private = PrivateKey::from_private_key(&ECDH_P384, d).map_err(|e| e.to_string())?;
        let public = private
            .compute_public_key()
            .map_err(|e| e.to_string())?
            .as_ref()
            .to_vec();
        Ok(Self {
            private,
            public,
            rng: SystemRandom::new(),
        })
    }

    /// A fresh P-384 key pair and its public key, as a key generation measurement.
    ///
    /// # Errors
    /// If AWS-LC fails.
    pub fn keygen(&self) -> Result<Vec<u8>, String> {
        let private = PrivateKey::generate(&ECDH_P384).map_err(|e| e.to_string())?;
        let public = private.compute_public_key().map_err(|e| e.to_string())?;
        Ok(public.as_ref().to_vec())
    }

    /// A compact JWE of `payload` to the recipient's public key.
    ///
    /// # Errors
    /// If any AWS-LC step fails.
    pub fn encrypt(&self, payload: &[u8]) -> Result<String, String> {
        let ephemeral =
            EphemeralPrivateKey::generate(&ECDH_P384, &self.rng).map_err(|e| e.to_string())?;
        let epk = ephemeral.compute_public_key().map_err(|e| e.to_string())?;
        let epk = epk.as_ref();
        let header = format!(
            r#"{{"alg":"{ALG}","enc":"A256GCM","epk":{{"kty":"EC","crv":"P-384","x":"{}","y":"{}"}}}}"#,
            b64(&epk[1..49]),
            b64(&epk[49..97])
        );
        let peer = UnparsedPublicKey::new(&ECDH_P384, &self.public);
        let kek = agreement::agree_ephemeral(ephemeral, peer, "ECDH failed", |z| Ok(concat_kdf(z)))
            .map_err(str::to_owned)?;
        let mut cek = [0u8; 32];
        let mut iv = [0u8; 12];
        self.rng.fill(&mut cek).map_err(|e| e.to_string())?;
        self.rng.fill(&mut iv).map_err(|e| e.to_string())?;
        let mut wrapped = [0u8; 40];
        let wrapped = AesKek::new(&AES_256, &kek)
            .and_then(|kek| kek.wrap(&cek, &mut wrapped).map(|w| w.to_vec()))
            .map_err(|e| e.to_string())?;
        let header_text = b64(header.as_bytes());
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &cek).map_err(|e| e.to_string())?);
        let mut body = payload.to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(header_text.as_bytes()),
                &mut body,
            )
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "{header_text}.{}.{}.{}.{}",
            b64(&wrapped),
            b64(&iv),
            b64(&body),
            b64(tag.as_ref())
        ))
    }

    /// Opens a compact JWE of the bank's profile with the recipient key.
    ///
    /// # Errors
    /// A description of the first step that failed.
    pub fn decrypt(&self, token: &str) -> Result<Vec<u8>, String> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header_text, wrapped, iv, body, tag] = parts[..] else {
            return Err("not five parts".to_owned());
        };
        let header: serde_json::Value =
            serde_json::from_slice(&unb64(header_text)?).map_err(|e| e.to_string())?;
        if header["alg"] != ALG || header["enc"] != "A256GCM" {
            return Err("not the bank's algorithms".to_owned());
        }
        let coordinate = |name: &str| unb64(header["epk"][name].as_str().unwrap_or_default());
        let mut epk = vec![4u8];
        epk.extend(coordinate("x")?);
        epk.extend(coordinate("y")?);
        let peer = UnparsedPublicKey::new(&ECDH_P384, &epk);
        let kek = agreement::agree(&self.private, peer, "ECDH failed", |z| Ok(concat_kdf(z)))
            .map_err(str::to_owned)?;
        let wrapped = unb64(wrapped)?;
        let mut cek = [0u8; 32];
        AesKek::new(&AES_256, &kek)
            .and_then(|kek| kek.unwrap(&wrapped, &mut cek).map(|_| ()))
            .map_err(|e| e.to_string())?;
        let iv: [u8; 12] = unb64(iv)?
            .try_into()
            .map_err(|_| "IV is not 12 bytes".to_owned())?;
        let mut in_out = unb64(body)?;
        in_out.extend(unb64(tag)?);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &cek).map_err(|e| e.to_string())?);
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(iv),
                Aad::from(header_text.as_bytes()),
                &mut in_out,
            )
            .map_err(|e| e.to_string())?;
        let len = plain.len();
        in_out.truncate(len);
        Ok(in_out)
    }
}
