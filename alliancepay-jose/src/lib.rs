#![doc = include_str!("../README.md")]
//!
//! # What it is not
//! - Not a general JOSE library: no JWS, no JSON serialization of JWE, no RSA or AES-KW-only
//!   key management, no other curves, no compression (`zip` is refused).
//! - Not an HTTP client: `alliancepay-http` drives the bank's session flow on top of this crate.
//!
//! # Public API
//! Everything a user needs is at the crate root: [`encrypt`], [`decrypt`] and
//! [`decrypt_in_place`] with their length functions, the keys ([`PublicJwk`], [`PrivateJwk`]),
//! the algorithm identifiers and [`AllowList`], [`ProtectedHeader`], and the error types. The
//! modules are private, one concept each: canonical base64url, the strict JSON reader, the JWK,
//! the `alg`/`enc` identifiers, the Concat KDF of RFC 7518 §4.6.2, the protected header, compact
//! encrypt and decrypt, and the errors. `scalar_mul` (feature `hazmat-scalar-mul`) is the one
//! public module.
//!
//! Two dependencies show through, deliberately, so a major release of either is a major release
//! of this crate: `rand_core` 0.10, whose [`TryCryptoRng`] (and its supertrait [`TryRng`],
//! re-exported here so an RNG driver can implement them without naming `rand_core`) bounds the
//! random source; and `p384` 0.14, whose `PublicKey` and `SecretKey` appear in the
//! interoperability methods ([`PublicJwk::from_public_key`], [`PrivateJwk::secret_key`], ...)
//! and in [`ProtectedHeader::epk`]. To name those types, depend on `p384` 0.14 yourself (Cargo
//! unifies it with ours); nothing else of `p384` is part of this crate's API.
//!
//! # Cargo features
//! - `extra-algorithms` (default): compiles in `ECDH-ES`, `ECDH-ES+A128KW`, `ECDH-ES+A192KW`,
//!   `A128GCM` and `A192GCM` beside the bank's pair. Firmware that talks only to the bank can
//!   turn it off to save flash; decryption accepts only what the [`AllowList`] allows either way.
//! - `precomputed-tables` (off): `p384`'s basepoint table for the fixed-base multiplications
//!   (key generation, the ephemeral key of every [`encrypt`]): about 56 KB of RAM built on first
//!   use; needs `std`. alliancepay-http turns it on; firmware must not (see the README).
//! - `hazmat-scalar-mul` (off, opt-in only): the key agreements of [`encrypt`] and [`decrypt`]
//!   and the ephemeral key of [`encrypt`] use `scalar_mul`, our own multiplication (signed 5-bit
//!   window, Jacobian formulas for a = −3), instead of `p384`'s. Faster, but it is elliptic-curve
//!   arithmetic of ours, tested and reviewed but neither machine-checked nor audited:
//!   SECURITY.md, "Our own scalar multiplication", says what backs it and what it lacks. No crate
//!   of this workspace enables it; an application names it in its own `Cargo.toml`.
//! - `test-internals` (off): makes the modules `b64`, `json` and `kdf` public for this
//!   repository's own tests, fuzz targets and benchmarks (known-answer vectors of the KDF,
//!   properties of the base64url codec). Not part of the API: no semver promise, never enable it
//!   in an application.
//!
//! By default, then, every elliptic-curve operation is `p384`'s. For servers, `p384`'s formally
//! verified fiat-crypto backend is also faster than its default one: build with
//! `--cfg p384_backend="fiat"` (the workspace's `.cargo/config.toml` does; figures in the
//! README). Firmware keeps the default backend, which is smaller there.
//!
//! # Security notes
//! - Decryption refuses, before any key agreement and with a specific error: anything but five
//!   parts of canonical base64url, a header that is not strict JSON or is longer than
//!   [`MAX_HEADER_LEN`], an (`alg`, `enc`) pair outside the allow-list, an `epk` that is not a
//!   P-384 point, `zip`, `crit`, and wrongly sized encrypted key, IV or tag. After key
//!   agreement every failure is the one [`Error::DecryptionFailed`].
//! - Private scalars, shared secrets, KEKs and CEKs are zeroized when dropped, and [`encrypt`]
//!   and [`decrypt`] overwrite the stack their key agreement used before returning, so no copy
//!   of the private scalar, the ephemeral scalar or the shared secret is left behind (tested by
//!   scanning the dead stack). `Debug` of a [`PrivateJwk`] shows only the public half. Buffers
//!   the caller passes (a written private JWK, a decrypted plaintext) are the caller's to wipe.
//! - Constant-time behaviour is that of RustCrypto's `p384`, `aes`, `aes-gcm`, `aes-kw` and
//!   `base64ct`; by default this crate adds no secret-dependent branches of its own (with
//!   `hazmat-scalar-mul`, SECURITY.md lists what our multiplication does on secrets).

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(test)] // unit tests only: the library itself links neither std nor alloc
extern crate std;

mod alg;
mod error;
mod header;
mod jwe;
mod jwk;
mod scrub;

// Internals that only this repository's tests reach (feature `test-internals`, see above).
#[cfg(feature = "test-internals")]
pub mod b64;
#[cfg(not(feature = "test-internals"))]
mod b64;
#[cfg(feature = "test-internals")]
pub mod json;
#[cfg(not(feature = "test-internals"))]
mod json;
#[cfg(feature = "test-internals")]
pub mod kdf;
#[cfg(not(feature = "test-internals"))]
mod kdf;

#[cfg(feature = "hazmat-scalar-mul")]
pub mod scalar_mul;

pub use alg::{AllowList, ContentEncryptionAlg, KeyManagementAlg};
pub use b64::Base64Error;
pub use error::{CoordinateProblem, Error, Excerpt, HeaderError, JwkError, Part};
pub use header::{MAX_HEADER_LEN, MAX_PARTY_INFO_LEN, ProtectedHeader};
pub use json::JsonError;
pub use jwe::{
    EncryptOptions, IV_LEN, TAG_LEN, decrypt, decrypt_in_place, encrypt, max_plaintext_len,
    plaintext_len, token_len,
};
pub use jwk::{
    COORDINATE_LEN, KeyParams, PRIVATE_JWK_MAX_LEN, PUBLIC_JWK_MAX_LEN, PrivateJwk, PublicJwk,
    Thumbprint, ThumbprintText,
};
pub use rand_core::{TryCryptoRng, TryRng};
