//! Key generation: a new P-384 key pair as a JWK (one fixed-base scalar multiplication and one
//! inversion to affine), against bare p384 and josekit (OpenSSL) in the same run.
//!
//! The josekit measurements need the crate's `peers` feature (system OpenSSL):
//! `cargo bench -p alliancepay-benches --features peers`.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use alliancepay_benches::rng;
use alliancepay_jose::PrivateJwk;
use criterion::{Criterion, criterion_group, criterion_main};
#[cfg(feature = "peers")]
use josekit::{jwe::ECDH_ES_A256KW, jwk::alg::ec::EcCurve};
use p384::SecretKey;
use p384::elliptic_curve::Generate;

fn keygen(c: &mut Criterion) {
    let mut group = c.benchmark_group("keygen");
    let mut rng = rng();
    group.bench_function("ours", |b| {
        b.iter(|| PrivateJwk::generate(&mut rng).expect("OS random source"));
    });
    group.bench_function("bare-p384", |b| {
        b.iter(|| {
            let secret = SecretKey::try_generate_from_rng(&mut rng).expect("OS random source");
            black_box(secret.public_key())
        });
    });
    #[cfg(feature = "peers")]
    group.bench_function("josekit", |b| {
        b.iter(|| {
            ECDH_ES_A256KW
                .generate_ec_key_pair(EcCurve::P384)
                .expect("josekit keygen")
        });
    });
    group.finish();
}

criterion_group!(benches, keygen);
criterion_main!(benches);
