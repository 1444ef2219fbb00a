//! Strict JWK parsing. A public key costs a curve-equation check; a private key adds a
//! fixed-base multiplication to prove `d` belongs to `x`, `y`. josekit builds an OpenSSL key
//! from the same text in the same run.
//!
//! The josekit measurements need the crate's `peers` feature (system OpenSSL):
//! `cargo bench -p alliancepay-benches --features peers`.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use alliancepay_benches::Fixture;
use alliancepay_jose::{PrivateJwk, PublicJwk};
use criterion::{Criterion, criterion_group, criterion_main};
#[cfg(feature = "peers")]
use josekit::{jwe::ECDH_ES_A256KW, jwk::Jwk};

fn jwk_parse(c: &mut Criterion) {
    let fixture = Fixture::new();
    let public = fixture.public_json.as_bytes();
    let private = fixture.private_json.as_bytes();
    let mut group = c.benchmark_group("jwk_parse");
    group.bench_function("public/ours", |b| {
        b.iter(|| PublicJwk::from_json(black_box(public)).expect("our JWK parses"));
    });
    #[cfg(feature = "peers")]
    group.bench_function("public/josekit", |b| {
        b.iter(|| {
            let jwk = Jwk::from_bytes(black_box(public)).expect("our JWK parses");
            ECDH_ES_A256KW
                .encrypter_from_jwk(&jwk)
                .expect("josekit takes our key")
        });
    });
    group.bench_function("private/ours", |b| {
        b.iter(|| PrivateJwk::from_json(black_box(private)).expect("our JWK parses"));
    });
    #[cfg(feature = "peers")]
    group.bench_function("private/josekit", |b| {
        b.iter(|| {
            let jwk = Jwk::from_bytes(black_box(private)).expect("our JWK parses");
            ECDH_ES_A256KW
                .decrypter_from_jwk(&jwk)
                .expect("josekit takes our key")
        });
    });
    group.finish();
}

criterion_group!(benches, jwk_parse);
criterion_main!(benches);
