//! Compact JWE encrypt in the bank's profile (`ECDH-ES+A256KW`, `A256GCM`) at four plaintext
//! sizes, throughput in plaintext bytes, against josekit (OpenSSL) in the same run.
//!
//! The small sizes are dominated by the two scalar multiplications; 64 KiB shows the AES-GCM
//! and base64url throughput.
//!
//! The josekit measurements need the crate's `peers` feature (system OpenSSL):
//! `cargo bench -p alliancepay-benches --features peers`.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use alliancepay_benches::{Fixture, SIZES, rng, sized_payload};
use alliancepay_jose::{EncryptOptions, encrypt, token_len};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
#[cfg(feature = "peers")]
use josekit::{
    jwe::{self, ECDH_ES_A256KW, JweHeader},
    jwk::Jwk,
};

fn encrypt_sizes(c: &mut Criterion) {
    let mut group = c.benchmark_group("encrypt");
    let fixture = Fixture::new();
    let recipient = fixture.recipient.public_jwk();
    #[cfg(feature = "peers")]
    let (encrypter, header) = {
        let josekit_key = Jwk::from_bytes(fixture.public_json.as_bytes()).expect("our JWK parses");
        let encrypter = ECDH_ES_A256KW
            .encrypter_from_jwk(&josekit_key)
            .expect("josekit takes our key");
        let mut header = JweHeader::new();
        header.set_content_encryption("A256GCM");
        (encrypter, header)
    };
    let mut rng = rng();
    for size in SIZES {
        let payload = sized_payload(size);
        let mut out = vec![0u8; token_len(size)];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("ours", size), &payload, |b, payload| {
            b.iter(|| {
                let token = encrypt(
                    recipient,
                    black_box(payload),
                    &EncryptOptions::BANK,
                    &mut rng,
                    &mut out,
                )
                .expect("our encrypt");
                black_box(token.len())
            });
        });
        #[cfg(feature = "peers")]
        group.bench_with_input(BenchmarkId::new("josekit", size), &payload, |b, payload| {
            b.iter(|| {
                jwe::serialize_compact(black_box(payload), &header, &encrypter)
                    .expect("josekit encrypt")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, encrypt_sizes);
criterion_main!(benches);
