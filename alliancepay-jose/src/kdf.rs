//! The Concat KDF of ECDH-ES (RFC 7518 §4.6.2; NIST SP 800-56A §5.8.1, single-step, SHA-256).
//!
//! Round `i` (from 1) hashes `i` as a 32-bit big-endian counter, the shared secret `Z`, then
//! OtherInfo:
//!
//! ```text
//! AlgorithmID  = len32(alg id) || alg id   -- `enc` for direct ECDH-ES, else `alg`
//! PartyUInfo   = len32(apu)    || apu      -- decoded `apu`, empty when absent
//! PartyVInfo   = len32(apv)    || apv      -- decoded `apv`, empty when absent
//! SuppPubInfo  = keydatalen in bits, 32-bit big-endian
//! SuppPrivInfo = empty
//! ```
//!
//! Keys in JOSE are at most 256 bits, one SHA-256 output, so one round suffices; the loop is
//! kept general so the function does what its name says for any length.

use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// Inputs that bind the derived key to its use; see the module docs.
#[derive(Clone, Copy, Debug)]
pub struct OtherInfo<'a> {
    /// `AlgorithmID` data: the `enc` name for direct ECDH-ES, the `alg` name otherwise.
    pub algorithm_id: &'a [u8],
    /// Decoded `apu` header value (empty when absent).
    pub party_u_info: &'a [u8],
    /// Decoded `apv` header value (empty when absent).
    pub party_v_info: &'a [u8],
}

/// Length of `data` as the 32-bit big-endian prefix of RFC 7518 §4.6.2. Header members are
/// bounded far below 4 GiB before they get here, so saturation never happens in practice.
fn len32(data: &[u8]) -> [u8; 4] {
    u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes()
}

/// Fills `out` with key material derived from the shared secret `z`.
///
/// `out.len()` is the key length; SuppPubInfo carries it in bits.
pub fn concat_kdf(z: &[u8], info: &OtherInfo<'_>, out: &mut [u8]) {
    let key_bits = u32::try_from(out.len().saturating_mul(8)).unwrap_or(u32::MAX);
    let mut counter: u32 = 1;
    for chunk in out.chunks_mut(32) {
        let mut hash = Sha256::new();
        hash.update(counter.to_be_bytes());
        hash.update(z);
        hash.update(len32(info.algorithm_id));
        hash.update(info.algorithm_id);
        hash.update(len32(info.party_u_info));
        hash.update(info.party_u_info);
        hash.update(len32(info.party_v_info));
        hash.update(info.party_v_info);
        hash.update(key_bits.to_be_bytes());
        let mut digest: [u8; 32] = hash.finalize().into();
        chunk.copy_from_slice(&digest[..chunk.len()]);
        digest.zeroize();
        counter = counter.wrapping_add(1);
    }
}
