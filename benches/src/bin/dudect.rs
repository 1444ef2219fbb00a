//! A dudect-style statistical timing test of `alliancepay_jose::scalar_mul::mul` (Reparaz,
//! Balasch and Verbauwhede, "Dude, is my code constant time?", DATE 2017): does the time of one
//! multiplication depend on the secret scalar?
//!
//! For each pair of classes below, it draws `--samples` measurements. Each sample picks its class
//! at random (so drift of the machine hits both classes alike), then times one multiplication of
//! the same random point by that class's scalar with `std::time::Instant`. Welch's t statistic
//! compares the two classes' mean times, on all samples and, as dudect does against the
//! long tail of interruptions, on the samples below a few percentiles of the whole set. A
//! |t| above 4.5 on any of them is evidence of a leak (dudect's threshold); the binary then
//! exits with status 1.
//!
//! Classes, each against "a fresh random scalar every sample":
//! - `one`: k = 1 (Hamming weight 1; its recoding is all −31 digits but the top);
//! - `n-38`: the one scalar (with 38) where the last addition doubles;
//! - `sparse`: k = 2³⁸³ + 1;
//! - `fixed`: one random scalar, fixed for the run (dudect's classic fixed-vs-random).
//!
//! `--control` times `p384`'s `mul_vartime` (wNAF, documented as variable-time) instead: a
//! positive control showing that the test does see a leak on this machine.
//!
//! `--inject-leak-ns D` calibrates the test: after our multiplication it busy-waits `D`
//! nanoseconds whenever the scalar's top bit is clear. The class scalars are chosen so that
//! their top bit is clear (a class scalar with it set is replaced by n − k), while a
//! random scalar's is clear about half the time, so the classes' means differ by about `D / 2`:
//! a leak of known size, which the run must report (exit status 1). `.ci/scalar-mul` runs it with
//! the sample count and leak size recorded in benches/README.md, so the threshold is known to
//! catch a leak of that size on the CI machine.
//!
//! ```text
//! cargo run --release -p alliancepay-benches --bin dudect -- [--samples N] [--classes one,n-38,sparse,fixed] [--control] [--inject-leak-ns D]
//! ```

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use alliancepay_jose::scalar_mul;
use p384::elliptic_curve::Generate;
use p384::{AffinePoint, NonZeroScalar, ProjectivePoint, Scalar};
use rand_core::Rng as _;

/// dudect's threshold: beyond it, the classes' timings differ.
const THRESHOLD: f64 = 4.5;
/// Percentiles of all samples below which the cropped tests keep samples.
const CROPS: [f64; 3] = [0.5, 0.75, 0.9];

/// Running mean and variance (Welford).
#[derive(Default, Clone, Copy)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn push(&mut self, x: f64) {
        self.n += 1.0;
        let delta = x - self.mean;
        self.mean += delta / self.n;
        self.m2 += delta * (x - self.mean);
    }

    fn variance(&self) -> f64 {
        if self.n < 2.0 {
            0.0
        } else {
            self.m2 / (self.n - 1.0)
        }
    }
}

/// Welch's t of two samples' means.
fn welch_t(a: &Moments, b: &Moments) -> f64 {
    let se = (a.variance() / a.n + b.variance() / b.n).sqrt();
    if se == 0.0 {
        0.0
    } else {
        (a.mean - b.mean) / se
    }
}

fn scalar_of(name: &str, rng: &mut alliancepay_benches::Rng) -> Option<NonZeroScalar> {
    let scalar = match name {
        "one" => Scalar::ONE,
        "n-38" => -Scalar::from(38u64),
        "sparse" => {
            let mut bytes = [0u8; 48];
            bytes[0] = 0x80;
            bytes[47] = 1;
            Option::from(p384::elliptic_curve::PrimeField::from_repr(bytes.into()))?
        }
        "fixed" => *NonZeroScalar::generate_from_rng(rng),
        _ => return None,
    };
    Option::from(NonZeroScalar::new(scalar))
}

/// Runs one fixed-class-against-random test; returns the largest |t|.
/// Busy-waits `nanos` nanoseconds (the injected leak of `--inject-leak-ns`).
fn spin(nanos: u64) {
    let start = Instant::now();
    while start.elapsed().as_nanos() < u128::from(nanos) {
        std::hint::spin_loop();
    }
}

#[allow(clippy::cast_possible_truncation)] // a percentile's index, below `samples`
fn run(
    name: &str,
    samples: usize,
    control: bool,
    leak_ns: u64,
    rng: &mut alliancepay_benches::Rng,
) -> Option<f64> {
    use p384::elliptic_curve::PrimeField;
    let projective = ProjectivePoint::from;
    let multiply = |point: &AffinePoint, k: &NonZeroScalar| {
        if control {
            projective(*point).mul_vartime(k).to_affine()
        } else {
            let product = scalar_mul::mul(point, k).unwrap_or(AffinePoint::IDENTITY);
            if leak_ns > 0 && k.to_repr()[0] & 0x80 == 0 {
                spin(leak_ns);
            }
            product
        }
    };
    let mut fixed = scalar_of(name, rng)?;
    if leak_ns > 0 && fixed.to_repr()[0] & 0x80 != 0 {
        // A class scalar with its top bit set (n − 38, or an unlucky fixed one) would never
        // take the injected leak; use n − k, whose top bit is clear.
        fixed = -fixed;
    }
    let point: AffinePoint =
        (ProjectivePoint::GENERATOR * *NonZeroScalar::generate_from_rng(rng)).to_affine();
    // Inputs first, so that drawing them is not inside the timed region.
    let inputs: Vec<(bool, NonZeroScalar)> = (0..samples)
        .map(|_| {
            let random_class = rng.next_u32() & 1 == 1;
            let k = if random_class {
                NonZeroScalar::generate_from_rng(rng)
            } else {
                fixed
            };
            (random_class, k)
        })
        .collect();
    // A short warm-up, untimed.
    for (_, k) in inputs.iter().take(200) {
        black_box(multiply(black_box(&point), black_box(k)));
    }
    let mut times = Vec::with_capacity(samples);
    for (class, k) in &inputs {
        let start = Instant::now();
        black_box(multiply(black_box(&point), black_box(k)));
        times.push((*class, start.elapsed().as_nanos() as f64));
    }

    let mut sorted: Vec<f64> = times.iter().map(|&(_, t)| t).collect();
    sorted.sort_by(f64::total_cmp);
    let mut limits = vec![("all".to_owned(), f64::INFINITY)];
    for crop in CROPS {
        let index = ((sorted.len() as f64 * crop) as usize).min(sorted.len() - 1);
        limits.push((format!("p{:.0}", crop * 100.0), sorted[index]));
    }
    let mut worst = 0f64;
    let mut report = Vec::new();
    for (label, limit) in &limits {
        let mut classes = [Moments::default(); 2];
        for &(class, t) in &times {
            if t <= *limit {
                classes[usize::from(class)].push(t);
            }
        }
        let t = welch_t(&classes[0], &classes[1]);
        worst = worst.max(t.abs());
        report.push(format!(
            "{label}: |t| {:.2} (means {:.1} / {:.1} µs, n {} / {})",
            t.abs(),
            classes[0].mean / 1000.0,
            classes[1].mean / 1000.0,
            classes[0].n,
            classes[1].n
        ));
    }
    println!(
        "dudect {}{name} vs random: {samples} samples, max |t| {worst:.2} -> {}",
        if control {
            "(control: p384 mul_vartime) ".to_owned()
        } else if leak_ns > 0 {
            format!("(calibration: {leak_ns} ns injected leak) ")
        } else {
            String::new()
        },
        if worst < THRESHOLD { "pass" } else { "FAIL" }
    );
    for line in report {
        println!("#   {line}");
    }
    Some(worst)
}

fn main() -> ExitCode {
    let mut samples = 20_000usize;
    let mut classes = vec!["one", "n-38", "sparse", "fixed"];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter();
    let mut class_arg = None;
    let mut control = false;
    let mut leak_ns = 0u64;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--samples" => {
                samples = match args.next().and_then(|s| s.parse().ok()) {
                    Some(n) if n >= 100 => n,
                    _ => {
                        eprintln!("--samples takes a count of at least 100");
                        return ExitCode::from(2);
                    }
                }
            }
            "--classes" => class_arg = args.next().cloned(),
            "--control" => control = true,
            "--inject-leak-ns" => {
                leak_ns = match args.next().and_then(|s| s.parse().ok()) {
                    Some(n) if n > 0 => n,
                    _ => {
                        eprintln!("--inject-leak-ns takes a positive number of nanoseconds");
                        return ExitCode::from(2);
                    }
                }
            }
            other => {
                eprintln!("unknown argument {other}; see the file's docs");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(list) = &class_arg {
        classes = list.split(',').collect();
    }
    let mut rng = alliancepay_benches::rng();
    let mut failed = false;
    for name in classes {
        match run(name, samples, control, leak_ns, &mut rng) {
            Some(worst) => failed |= worst >= THRESHOLD,
            None => {
                eprintln!("unknown class {name}: one, n-38, sparse, fixed");
                return ExitCode::from(2);
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
