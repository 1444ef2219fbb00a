#![doc = include_str!("../README.md")]
//!
//! # What it is not
//! - Not a general JOSE library: no JWS, no JSON serialization of JWE, no RSA or AES-KW-only
//!   key management, no other curves, no compression (`zip` is refused).
//! - Not an HTTP client: `alliancepay-http` drives the bank's session flow on top of this crate.
//!
//! # Modules, one concept each
//! - [`b64`]: canonical unpadded base64url.
//! - [`json`]: the strict reader for the JSON we accept from others.
//! - [`jwk`]: P-384 JWK parse, write, generate, RFC 7638 thumbprint.
//! - [`alg`]: `alg` / `enc` identifiers and the decryption [`AllowList`].
//! - [`kdf`]: the Concat KDF of RFC 7518 §4.6.2.
//! - [`header`]: the JWE protected header.
//! - [`jwe`]: compact encrypt and decrypt, and the length functions.
//! - `scalar_mul` (opt-in feature `hazmat-scalar-mul`): our own constant-time Jacobian P-384
//!   scalar multiplication on `p384`'s field arithmetic, used by [`jwe`]'s key agreements.
//! - [`error`]: the error types.
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

pub mod alg;
pub mod b64;
pub mod error;
pub mod header;
pub mod json;
pub mod jwe;
pub mod jwk;
pub mod kdf;
#[cfg(feature = "hazmat-scalar-mul")]
pub mod scalar_mul;
mod scrub;

pub use alg::{AllowList, ContentEncryptionAlg, KeyManagementAlg};
pub use error::{Error, HeaderError, JwkError};
pub use header::{MAX_HEADER_LEN, MAX_PARTY_INFO_LEN, ProtectedHeader};
pub use jwe::{
    EncryptOptions, IV_LEN, TAG_LEN, decrypt, decrypt_in_place, encrypt, max_plaintext_len,
    plaintext_len, token_len,
};
pub use jwk::{
    KeyParams, PRIVATE_JWK_MAX_LEN, PUBLIC_JWK_MAX_LEN, PrivateJwk, PublicJwk, Thumbprint,
};
pub use p384;
pub use rand_core;
