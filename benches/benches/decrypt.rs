//! Compact JWE decrypt in the bank's profile at four plaintext sizes, throughput in plaintext
//! bytes, against josekit (OpenSSL) opening the very same token in the same run.
//!
//! The josekit measurements need the crate's `peers` feature (system OpenSSL):
//! `cargo bench -p alliancepay-benches --features peers`.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use alliancepay_benches::{Fixture, SIZES, sized_payload};
use alliancepay_jose::{AllowList, decrypt};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
#[cfg(feature = "peers")]
use josekit::{
    jwe::{self, ECDH_ES_A256KW},
    jwk::Jwk,
};

fn decrypt_sizes(c: &mut Criterion) {
    let mut group = c.benchmark_group("decrypt");
    for size in SIZES {
        let fixture = Fixture::with_payload(sized_payload(size));
        #[cfg(feature = "peers")]
        let decrypter = {
            let josekit_key =
                Jwk::from_bytes(fixture.private_json.as_bytes()).expect("our JWK parses");
            ECDH_ES_A256KW
                .decrypter_from_jwk(&josekit_key)
                .expect("josekit takes our key")
        };
        let mut out = vec![0u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("ours", size), &fixture, |b, fixture| {
            b.iter(|| {
                let plain = decrypt(
                    &fixture.recipient,
                    black_box(fixture.token.as_bytes()),
                    AllowList::default(),
                    &mut out,
                )
                .expect("our decrypt");
                black_box(plain.len())
            });
        });
        #[cfg(feature = "peers")]
        group.bench_with_input(BenchmarkId::new("josekit", size), &fixture, |b, fixture| {
            b.iter(|| {
                jwe::deserialize_compact(black_box(&fixture.token), &decrypter)
                    .expect("josekit decrypt")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decrypt_sizes);
criterion_main!(benches);
