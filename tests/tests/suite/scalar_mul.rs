//! Differential tests of `alliancepay_jose::scalar_mul` (our Jacobian, signed-window P-384
//! multiplication) against `p384`'s own `ProjectivePoint * Scalar` and `ecdh::diffie_hellman`.
//!
//! - `random_pairs_match_p384`: `SCALAR_MUL_PAIRS` random (scalar, point) pairs, default 300,
//!   in every `cargo test --workspace`.
//! - `random_pairs_match_p384_100k` (`#[ignore]`): 100,000 pairs; `.ci/scalar-mul` runs it in
//!   release mode.
//! - `edge_scalars_match_p384`: every scalar in `[1, 40]` and `[n − 40, n − 1]` (which covers
//!   38 and n − 38, the one case where the last addition of the schedule doubles), powers of
//!   two, runs of ones and alternating patterns, each also negated, on `G` and a random point.
//! - `edge_scalars_match_p384_full` (`#[ignore]`, in `.ci/scalar-mul`): `[1, 300]`,
//!   `[n − 300, n − 1]`, and every power of two and run of ones with its negation and its
//!   neighbours ±1.
//!
//! The default counts are small because the reference, `p384`'s generic multiplication, is
//! instantiated in this unoptimized test crate and runs about 40 times slower than in release.
//!
//! Random points are `a·G` for a random `a`, computed by `p384`. The seed comes from the
//! environment variable `SCALAR_MUL_SEED` if set, otherwise from the OS, and every failure
//! message prints it.

use alliancepay_jose::scalar_mul;
use p384::ecdh::diffie_hellman;
use p384::elliptic_curve::PrimeField;
use p384::elliptic_curve::point::AffineCoordinates;
use p384::{AffinePoint, FieldBytes, NonZeroScalar, ProjectivePoint, Scalar};
use rand_core::TryRng;

use crate::fuzz_regressions::checks::SeededRng;

/// A random non-zero scalar from the seeded stream, so a failing seed can be replayed.
fn random_scalar(rng: &mut SeededRng) -> NonZeroScalar {
    loop {
        let mut bytes = [0u8; 48];
        for chunk in bytes.chunks_exact_mut(8) {
            chunk.copy_from_slice(&rng.next().to_be_bytes());
        }
        if let Some(k) = Option::from(NonZeroScalar::from_repr(FieldBytes::from(bytes))) {
            return k;
        }
    }
}

fn seed() -> u64 {
    if let Ok(text) = std::env::var("SCALAR_MUL_SEED") {
        return text.parse().expect("SCALAR_MUL_SEED is a u64");
    }
    getrandom::SysRng.try_next_u64().expect("OS randomness")
}

fn reference(point: &AffinePoint, k: &NonZeroScalar) -> AffinePoint {
    (ProjectivePoint::from(*point) * **k).to_affine()
}

fn check(point: &AffinePoint, k: &NonZeroScalar, context: &dyn Fn() -> String) {
    let ours = scalar_mul::mul(point, k).expect("a product of a point and a non-zero scalar");
    let theirs = reference(point, k);
    assert!(
        ours == theirs,
        "scalar_mul::mul differs from p384 for k = {}, P.x = {}: {}",
        hex::encode(k.to_repr()),
        hex::encode(point.x()),
        context()
    );
}

/// `count` random pairs from `seed`; every 8th also checked against `ecdh::diffie_hellman`'s
/// shared secret and `mul_base` against `p384`'s fixed-base product.
fn random_pairs(seed: u64, count: usize) {
    let mut rng = SeededRng::new(seed);
    for index in 0..count {
        let a = random_scalar(&mut rng);
        let point = (ProjectivePoint::GENERATOR * *a).to_affine();
        let k = random_scalar(&mut rng);
        check(&point, &k, &|| format!("pair {index} of seed {seed}"));
        if index % 8 == 0 {
            let ours = scalar_mul::mul(&point, &k).expect("not the identity");
            let shared = diffie_hellman(k, point);
            assert_eq!(
                ours.x().as_slice(),
                shared.raw_secret_bytes().as_slice(),
                "ECDH differs: pair {index} of seed {seed}"
            );
            assert!(
                scalar_mul::mul_base(&a).expect("not the identity") == point,
                "mul_base differs: pair {index} of seed {seed}"
            );
        }
    }
}

fn pairs_from_env(default: usize) -> usize {
    std::env::var("SCALAR_MUL_PAIRS").map_or(default, |text| {
        text.parse().expect("SCALAR_MUL_PAIRS is a count")
    })
}

#[test]
fn random_pairs_match_p384() {
    let seed = seed();
    let count = pairs_from_env(300);
    random_pairs(seed, count);
    eprintln!("scalar_mul: {count} random pairs match p384 (seed {seed})");
}

/// 100,000 pairs (or `SCALAR_MUL_PAIRS`) on every available core. Slow unoptimized: run with
/// `cargo test --release -p alliancepay-tests --test suite -- --ignored scalar_mul`.
#[test]
#[ignore = "100,000 pairs: run in release mode by .ci/scalar-mul"]
fn random_pairs_match_p384_100k() {
    let seed = seed();
    let count = pairs_from_env(100_000);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let share = count / threads + usize::from(thread < count % threads);
            let thread_seed = seed.wrapping_add(thread as u64);
            scope.spawn(move || random_pairs(thread_seed, share));
        }
    });
    eprintln!("scalar_mul: {count} random pairs match p384 (seeds {seed} + thread index)");
}

/// Big-endian bytes of `2^bit`.
fn power_of_two(bit: usize) -> [u8; 48] {
    let mut bytes = [0u8; 48];
    bytes[47 - bit / 8] = 1 << (bit % 8);
    bytes
}

/// Big-endian bytes of `2^bits − 1`.
fn ones(bits: usize) -> [u8; 48] {
    let mut bytes = [0u8; 48];
    for bit in 0..bits {
        bytes[47 - bit / 8] |= 1 << (bit % 8);
    }
    bytes
}

/// The edge scalars: `full` for the release run, a subset in the default test run.
fn edge_scalars(full: bool) -> Vec<Scalar> {
    let mut scalars = Vec::new();
    let small = if full { 300u64 } else { 40 };
    for k in 1..=small {
        scalars.push(Scalar::from(k));
        scalars.push(-Scalar::from(k)); // n − k
    }
    let mut patterns = Vec::new();
    let step = if full { 1 } else { 29 };
    for bit in (0..384).step_by(step) {
        patterns.push(power_of_two(bit));
        patterns.push(ones(bit + 1));
    }
    patterns.push(ones(384));
    patterns.push([0x55; 48]);
    patterns.push([0xaa; 48]);
    patterns.push([0x0f; 48]);
    patterns.push([0xf0; 48]);
    // Five-bit windows at the recoding's extremes.
    patterns.push(std::array::from_fn(
        |i| if i % 5 == 0 { 0x84 } else { 0x21 },
    ));
    for bytes in patterns {
        if let Some(s) = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(bytes))) {
            scalars.push(s);
            scalars.push(-s);
            if full {
                scalars.push(s + Scalar::ONE);
                scalars.push(s - Scalar::ONE);
            }
        }
    }
    scalars
}

fn edge_scalars_on_two_points(full: bool) -> usize {
    let seed = seed();
    let mut rng = SeededRng::new(seed);
    let random_point = (ProjectivePoint::GENERATOR * *random_scalar(&mut rng)).to_affine();
    let mut checked = 0usize;
    for s in edge_scalars(full) {
        let Some(k) = Option::<NonZeroScalar>::from(NonZeroScalar::new(s)) else {
            continue;
        };
        for point in [AffinePoint::GENERATOR, random_point] {
            check(&point, &k, &|| format!("edge scalars, seed {seed}"));
        }
        checked += 1;
    }
    checked
}

#[test]
fn edge_scalars_match_p384() {
    let checked = edge_scalars_on_two_points(false);
    assert!(checked > 100, "only {checked} edge scalars");
    eprintln!("scalar_mul: {checked} edge scalars match p384 on G and a random point");
}

#[test]
#[ignore = "about 4,000 scalars: run in release mode by .ci/scalar-mul"]
fn edge_scalars_match_p384_full() {
    let checked = edge_scalars_on_two_points(true);
    assert!(checked > 3_000, "only {checked} edge scalars");
    eprintln!("scalar_mul: {checked} edge scalars match p384 on G and a random point");
}

/// The identity as input gives none, never the identity's all-zero coordinates, which would
/// become an all-zero shared secret.
#[test]
fn identity_gives_none() {
    let k = NonZeroScalar::new(Scalar::from(38u64)).expect("non-zero");
    assert!(bool::from(
        scalar_mul::mul(&AffinePoint::IDENTITY, &k).is_none()
    ));
}

/// `Σ digits[i]·32^i`, most significant digit first, in the scalar field: the scalar whose
/// signed recoding (see `alliancepay_jose::scalar_mul`) is exactly these odd digits.
fn from_digits(top: i64, digits: impl Iterator<Item = i64>) -> Scalar {
    let signed = |d: i64| {
        let magnitude = Scalar::from(d.unsigned_abs());
        if d < 0 { -magnitude } else { magnitude }
    };
    let thirty_two = Scalar::from(32u64);
    digits.fold(signed(top), |acc, d| acc * thirty_two + signed(d))
}

/// The adversarial scalar set of issue 11's cross-check: `1…200`, `n−1…n−200`, 38,
/// `n − 38 ± 2^i`, `2^i ± 1`, the scalars whose recoded digits are all +31, all −31, all +1 or
/// all −1 (with several top digits), and every residue mod 64 (small and large), each also
/// negated (`n − k`, the even/odd swap the recoding makes).
fn adversarial_scalars() -> Vec<Scalar> {
    let mut scalars = vec![Scalar::from(38u64)];
    for k in 1..=200u64 {
        scalars.push(Scalar::from(k));
        scalars.push(-Scalar::from(k));
    }
    let mut power = Scalar::ONE;
    for _ in 0..384 {
        let n_minus_38 = -Scalar::from(38u64);
        scalars.extend([
            n_minus_38 + power,
            n_minus_38 - power,
            power + Scalar::ONE,
            power - Scalar::ONE,
        ]);
        power = power.double();
    }
    for digit in [31i64, -31, 1, -1] {
        for top in [1i64, 3, 5, 9, 15] {
            scalars.push(from_digits(top, std::iter::repeat_n(digit, 76)));
        }
    }
    let large = Scalar::from(0x1234_5678_9abc_def1u64) * -Scalar::from(u64::MAX);
    for residue in 0..64u64 {
        scalars.push(Scalar::from(residue + 64));
        scalars.push(large * Scalar::from(64u64) + Scalar::from(residue));
    }
    let negated: Vec<Scalar> = scalars.iter().map(|s| -*s).collect();
    scalars.extend(negated);
    scalars
}

/// The adversarial set against `p384` (here) and against OpenSSL through Python
/// `cryptography` (tests/interop/scalar_mul_openssl.py): on `G`, where OpenSSL gives the whole
/// product `k·G` as a public key, and on a random point, where its ECDH gives the x-coordinate.
/// Run by `.ci/scalar-mul` in release mode.
#[test]
#[ignore = "needs python3 with `cryptography`; run by .ci/scalar-mul"]
fn adversarial_scalars_match_openssl() {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let peer = std::process::Command::new("python3")
        .args(["-c", "import cryptography"])
        .stderr(std::process::Stdio::null())
        .status();
    if !peer.is_ok_and(|s| s.success()) {
        alliancepay_tests::peers::missing(
            "adversarial_scalars_match_openssl: python3 with `cryptography` not found",
            "pip install -r tests/interop/requirements.txt: jwcrypto brings it",
        );
        return;
    }
    let seed = seed();
    let mut rng = SeededRng::new(seed);
    let random_point = (ProjectivePoint::GENERATOR * *random_scalar(&mut rng)).to_affine();
    let mut lines = String::new();
    let mut checked = 0usize;
    for s in adversarial_scalars() {
        let Some(k) = Option::<NonZeroScalar>::from(NonZeroScalar::new(s)) else {
            continue;
        };
        for point in [AffinePoint::GENERATOR, random_point] {
            check(&point, &k, &|| format!("adversarial scalars, seed {seed}"));
            let ours = scalar_mul::mul(&point, &k).expect("not the identity");
            writeln!(
                lines,
                "{} {} {} {} {}",
                hex::encode(k.to_repr()),
                hex::encode(point.x()),
                hex::encode(point.y()),
                hex::encode(ours.x()),
                hex::encode(ours.y()),
            )
            .expect("writing to a String");
        }
        checked += 1;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/scalar_mul_openssl.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starting python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(lines.as_bytes())
        .expect("writing to python3");
    let output = child.wait_with_output().expect("python3");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "OpenSSL disagrees:\n{report}");
    let expected = format!("{} products match", 2 * checked);
    assert!(
        report.contains(&expected),
        "unexpected report {report:?}, wanted {expected:?}"
    );
    eprintln!(
        "scalar_mul: {checked} adversarial scalars × 2 points match p384 and OpenSSL ({report})"
    );
}
