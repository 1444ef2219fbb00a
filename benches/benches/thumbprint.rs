//! RFC 7638 thumbprint of a public JWK (canonical JSON, then SHA-256), and its base64url text
//! as used for `kid`. josekit has no thumbprint, so there is no peer here.

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use alliancepay_benches::Fixture;
use criterion::{Criterion, criterion_group, criterion_main};

fn thumbprint(c: &mut Criterion) {
    let fixture = Fixture::new();
    let key = fixture.recipient.public_jwk();
    let mut group = c.benchmark_group("thumbprint");
    group.bench_function("sha256", |b| b.iter(|| black_box(key).thumbprint()));
    group.bench_function("sha256+base64url", |b| {
        b.iter(|| black_box(key).thumbprint().to_base64url());
    });
    group.finish();
}

criterion_group!(benches, thumbprint);
criterion_main!(benches);
