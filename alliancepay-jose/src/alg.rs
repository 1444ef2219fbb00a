//! The algorithm identifiers (RFC 7518 §4.6 and §5.3) and the decryption allow-list.
//!
//! The bank uses exactly one pair: `ECDH-ES+A256KW` with `A256GCM`. The other ECDH-ES variants
//! and GCM key sizes are compiled in only with the `extra-algorithms` feature (on by default),
//! so firmware that talks only to the bank can leave their AES key schedules out of its flash.
//! Whether a decrypt *accepts* an algorithm is a separate, run-time decision: [`AllowList`].

/// The `alg` header value: how the content encryption key (CEK) is agreed.
///
/// All are ECDH-ES with an ephemeral P-384 key (RFC 7518 §4.6); they differ in whether the agreed
/// key is the CEK itself (`EcdhEs`, "direct") or a key-encryption key that AES-KW-wraps a random
/// CEK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyManagementAlg {
    /// `ECDH-ES`: the Concat KDF output is the CEK; the encrypted-key segment is empty.
    #[cfg(feature = "extra-algorithms")]
    EcdhEs,
    /// `ECDH-ES+A128KW`: a 128-bit KEK wraps the CEK (RFC 3394).
    #[cfg(feature = "extra-algorithms")]
    EcdhEsA128Kw,
    /// `ECDH-ES+A192KW`: a 192-bit KEK wraps the CEK.
    #[cfg(feature = "extra-algorithms")]
    EcdhEsA192Kw,
    /// `ECDH-ES+A256KW`: a 256-bit KEK wraps the CEK. The bank's algorithm.
    EcdhEsA256Kw,
}

impl KeyManagementAlg {
    /// Every algorithm compiled into this build.
    pub const ALL: &'static [Self] = &[
        #[cfg(feature = "extra-algorithms")]
        Self::EcdhEs,
        #[cfg(feature = "extra-algorithms")]
        Self::EcdhEsA128Kw,
        #[cfg(feature = "extra-algorithms")]
        Self::EcdhEsA192Kw,
        Self::EcdhEsA256Kw,
    ];

    /// The registered `alg` name (RFC 7518 §7.1.2).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "extra-algorithms")]
            Self::EcdhEs => "ECDH-ES",
            #[cfg(feature = "extra-algorithms")]
            Self::EcdhEsA128Kw => "ECDH-ES+A128KW",
            #[cfg(feature = "extra-algorithms")]
            Self::EcdhEsA192Kw => "ECDH-ES+A192KW",
            Self::EcdhEsA256Kw => "ECDH-ES+A256KW",
        }
    }

    /// Looks an `alg` name up among the algorithms compiled in (exact, case-sensitive match).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|alg| alg.name() == name)
    }

    /// Length in bytes of the key-encryption key, or `None` for direct agreement.
    #[must_use]
    pub const fn kek_len(self) -> Option<usize> {
        match self {
            #[cfg(feature = "extra-algorithms")]
            Self::EcdhEs => None,
            #[cfg(feature = "extra-algorithms")]
            Self::EcdhEsA128Kw => Some(16),
            #[cfg(feature = "extra-algorithms")]
            Self::EcdhEsA192Kw => Some(24),
            Self::EcdhEsA256Kw => Some(32),
        }
    }

    /// Length in bytes of the encrypted-key segment for a CEK of `cek_len` bytes: the CEK plus
    /// the 8-byte AES-KW integrity block (RFC 3394 §2.2.1), or 0 for direct agreement.
    #[must_use]
    pub const fn encrypted_key_len(self, cek_len: usize) -> usize {
        match self.kek_len() {
            Some(_) => cek_len + 8,
            None => 0,
        }
    }

    const fn index(self) -> u32 {
        match self {
            #[cfg(feature = "extra-algorithms")]
            Self::EcdhEs => 0,
            #[cfg(feature = "extra-algorithms")]
            Self::EcdhEsA128Kw => 1,
            #[cfg(feature = "extra-algorithms")]
            Self::EcdhEsA192Kw => 2,
            Self::EcdhEsA256Kw => 3,
        }
    }
}

impl core::fmt::Display for KeyManagementAlg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The `enc` header value: how the content is encrypted (AES-GCM, RFC 7518 §5.3).
///
/// Every variant uses a 96-bit IV and a 128-bit tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentEncryptionAlg {
    /// `A128GCM`: 128-bit CEK.
    #[cfg(feature = "extra-algorithms")]
    A128Gcm,
    /// `A192GCM`: 192-bit CEK.
    #[cfg(feature = "extra-algorithms")]
    A192Gcm,
    /// `A256GCM`: 256-bit CEK. The bank's algorithm.
    A256Gcm,
}

impl ContentEncryptionAlg {
    /// Every algorithm compiled into this build.
    pub const ALL: &'static [Self] = &[
        #[cfg(feature = "extra-algorithms")]
        Self::A128Gcm,
        #[cfg(feature = "extra-algorithms")]
        Self::A192Gcm,
        Self::A256Gcm,
    ];

    /// The registered `enc` name (RFC 7518 §7.1.2).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "extra-algorithms")]
            Self::A128Gcm => "A128GCM",
            #[cfg(feature = "extra-algorithms")]
            Self::A192Gcm => "A192GCM",
            Self::A256Gcm => "A256GCM",
        }
    }

    /// Looks an `enc` name up among the algorithms compiled in (exact, case-sensitive match).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|enc| enc.name() == name)
    }

    /// Length of the content encryption key in bytes.
    #[must_use]
    pub const fn key_len(self) -> usize {
        match self {
            #[cfg(feature = "extra-algorithms")]
            Self::A128Gcm => 16,
            #[cfg(feature = "extra-algorithms")]
            Self::A192Gcm => 24,
            Self::A256Gcm => 32,
        }
    }

    const fn index(self) -> u32 {
        match self {
            #[cfg(feature = "extra-algorithms")]
            Self::A128Gcm => 0,
            #[cfg(feature = "extra-algorithms")]
            Self::A192Gcm => 1,
            Self::A256Gcm => 2,
        }
    }
}

impl core::fmt::Display for ContentEncryptionAlg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of (`alg`, `enc`) pairs a decrypt accepts.
///
/// The default accepts only the bank's profile, so a token naming anything else is refused
/// before any key agreement, however valid it is otherwise. This closes algorithm-substitution
/// games: the attacker does not get to choose a weaker or untested path.
///
/// ```
/// use alliancepay_jose::{AllowList, ContentEncryptionAlg, KeyManagementAlg};
///
/// let bank = AllowList::default();
/// assert!(bank.allows(KeyManagementAlg::EcdhEsA256Kw, ContentEncryptionAlg::A256Gcm));
/// assert!(!AllowList::EMPTY.allows(KeyManagementAlg::EcdhEsA256Kw, ContentEncryptionAlg::A256Gcm));
/// // Lists are built pair by pair (with `extra-algorithms`, e.g. `EcdhEsA128Kw` + `A128Gcm`).
/// let built = AllowList::EMPTY.with(KeyManagementAlg::EcdhEsA256Kw, ContentEncryptionAlg::A256Gcm);
/// assert_eq!(built, bank);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowList {
    /// Bit `3 * alg.index() + enc.index()` is set for each allowed pair.
    bits: u16,
}

impl AllowList {
    /// The bank's profile only: `ECDH-ES+A256KW` with `A256GCM`.
    pub const BANK_PROFILE: Self = Self::EMPTY.with(
        KeyManagementAlg::EcdhEsA256Kw,
        ContentEncryptionAlg::A256Gcm,
    );

    /// Accepts nothing; build on it with [`AllowList::with`].
    pub const EMPTY: Self = Self { bits: 0 };

    /// Every pair compiled into this build.
    pub const ALL: Self = Self {
        bits: (1 << 12) - 1,
    };

    const fn bit(alg: KeyManagementAlg, enc: ContentEncryptionAlg) -> u16 {
        1 << (alg.index() * 3 + enc.index())
    }

    /// This list plus the pair (`alg`, `enc`).
    #[must_use]
    pub const fn with(self, alg: KeyManagementAlg, enc: ContentEncryptionAlg) -> Self {
        Self {
            bits: self.bits | Self::bit(alg, enc),
        }
    }

    /// Whether the pair (`alg`, `enc`) is accepted.
    #[must_use]
    pub const fn allows(self, alg: KeyManagementAlg, enc: ContentEncryptionAlg) -> bool {
        self.bits & Self::bit(alg, enc) != 0
    }
}

impl Default for AllowList {
    fn default() -> Self {
        Self::BANK_PROFILE
    }
}
