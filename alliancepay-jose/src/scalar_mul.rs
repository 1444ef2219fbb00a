//! Constant-time P-384 scalar multiplication in Jacobian coordinates, on `p384`'s own field
//! arithmetic. Compiled with the `hazmat-scalar-mul` feature; the crate then uses it for the key
//! agreement of [`crate::decrypt`] and for both multiplications of [`crate::encrypt`].
//!
//! `p384` 0.14 multiplies with the complete projective formulas of Renes, Costello and Batina
//! (eprint 2015/1060) and an unsigned 4-bit window: correct for every input, but a doubling
//! costs about 13 field multiplications. Here:
//!
//! - points are Jacobian, `(X : Y : Z)` standing for `(X / Z², Y / Z³)`;
//! - doubling is EFD `g1p/auto-shortw-jacobian-3.html#doubling-dbl-2001-b` (Bernstein 2001),
//!   3M + 5S, valid because P-384 has a = −3;
//! - addition is EFD `g1p/auto-shortw-jacobian-3.html#addition-add-2007-bl` (Bernstein–Lange
//!   2007), 11M + 5S;
//! - the scalar is recoded into 77 signed odd digits of width 5, the regular recoding of
//!   Joye and Tunstall ("Exponent recoding and regular exponentiation algorithms",
//!   AFRICACRYPT 2009, §3; the same as Okeya–Takagi's odd-only signed window). Every digit is
//!   odd, so no digit is zero and every window does exactly five doublings and one addition;
//! - the 16 odd multiples `P, 3P, …, 31P` are read with a constant-time select over every
//!   entry (no secret-indexed memory access), and negated with a constant-time select;
//! - one inversion at the end (`p384`'s constant-time `invert`, safegcd) returns to affine.
//!
//! The recoding needs an odd scalar. For an even `k` we multiply by `n − k` (odd, because the
//! group order `n` is odd) and negate the result, chosen by a constant-time select.
//!
//! # Exceptional cases
//!
//! add-2007-bl is wrong when its inputs are equal, opposite, or the identity. For a point `P`
//! of prime order `n` (P-384's cofactor is 1, so every point on the curve but the identity) and
//! an odd `k₀ ∈ [1, n − 1]`, write `k₀ = 32·k₁ + d₀`, `k₁ = 32·k₂ + d₁`, … as the recoding
//! does, so the accumulator after the digits above `i` is `k_{i+1}·P`, and the addition of
//! window `i` computes `32·k_{i+1}·P + d_i·P`. Each `k_i` is odd and at least 1, `|d_i| ≤ 31`,
//! and by induction `k_i ≤ 2^(384 − 5i) + 1`.
//!
//! - Windows `i ≥ 1`: `32·k_{i+1} = k_i − d_i` lies in `[32, 2^379 + 32]`, so
//!   `32·k_{i+1} ± d_i` lies in `[1, 2^379 + 63]`, inside `[1, n − 1]`: the two summands are
//!   never the identity, never equal and never opposite.
//! - Window 0: `32·k₁ + d₀ = k₀ ≢ 0` and `32·k₁ ≢ 0` (it is even and below `2n`, and `n` is
//!   odd), but `32·k₁ ≡ d₀ (mod n)` does happen: exactly when `k₀ = n + 2·d₀` with
//!   `d₀ = (k₀ mod 64) − 32`, whose only solution is `d₀ = −19`, `k₀ = n − 38` (scalars 38
//!   and `n − 38`). The last addition therefore also doubles its addend and takes that
//!   doubling, by a constant-time select, when add-2007-bl's `H` is zero. It cannot be zero
//!   with the summands opposite, because their sum `k₀·P` is not the identity.
//! - Building the table adds `2P` to `P, 3P, …, 29P`: all distinct non-zero multiples far
//!   below `n`.
//!
//! The identity as input (it has no affine coordinates, and no JWK can carry it) gives the
//! identity, as `p384` does; the work done is the same.

use p384::elliptic_curve::ff::PrimeField;
use p384::elliptic_curve::hazmat::FieldArithmetic;
use p384::elliptic_curve::point::AffineCoordinates;
use p384::elliptic_curve::subtle::{Choice, ConditionallySelectable, ConstantTimeEq, CtOption};
use p384::{AffinePoint, FieldBytes, NistP384, NonZeroScalar, Scalar};
use zeroize::Zeroize;

/// An element of the base field, p = 2³⁸⁴ − 2¹²⁸ − 2⁹⁶ + 2³² − 1: `p384`'s own type.
type Fe = <NistP384 as FieldArithmetic>::FieldElement;

/// Window width of the signed recoding.
const WINDOW: usize = 5;
/// Odd multiples in the table: `P, 3P, …, (2^WINDOW − 1)·P`.
const TABLE_LEN: usize = 1 << (WINDOW - 1);
/// Signed digits of a 384-bit scalar: 76 recoded windows plus the top remainder (≤ 17).
const DIGITS: usize = 384_usize.div_ceil(WINDOW);
/// 64-bit limbs of a 384-bit scalar.
const LIMBS: usize = 6;

/// A point in Jacobian coordinates `(X : Y : Z)`, i.e. the affine point `(X / Z², Y / Z³)`.
#[derive(Clone, Copy, Default)]
struct Jacobian {
    x: Fe,
    y: Fe,
    z: Fe,
}

impl ConditionallySelectable for Jacobian {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self {
            x: Fe::conditional_select(&a.x, &b.x, choice),
            y: Fe::conditional_select(&a.y, &b.y, choice),
            z: Fe::conditional_select(&a.z, &b.z, choice),
        }
    }
}

impl Zeroize for Jacobian {
    fn zeroize(&mut self) {
        self.x.zeroize();
        self.y.zeroize();
        self.z.zeroize();
    }
}

impl Jacobian {
    /// `2·self`, EFD dbl-2001-b for a = −3 (3M + 5S):
    ///
    /// ```text
    /// delta = Z1²   gamma = Y1²   beta = X1·gamma   alpha = 3·(X1 − delta)·(X1 + delta)
    /// X3 = alpha² − 8·beta
    /// Z3 = (Y1 + Z1)² − gamma − delta
    /// Y3 = alpha·(4·beta − X3) − 8·gamma²
    /// ```
    fn double(&self) -> Self {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x * gamma;
        let t = (self.x - delta) * (self.x + delta);
        let alpha = t.double() + t;
        let beta4 = beta.double().double();
        let x = alpha.square() - beta4.double();
        let z = (self.y + self.z).square() - gamma - delta;
        let y = alpha * (beta4 - x) - gamma.square().double().double().double();
        Self { x, y, z }
    }

    /// `self + other`, EFD add-2007-bl (11M + 5S), and whether its `H = U2 − U1` is zero
    /// (the inputs have the same affine x: equal or opposite), where the result is wrong.
    ///
    /// ```text
    /// Z1Z1 = Z1²   Z2Z2 = Z2²   U1 = X1·Z2Z2   U2 = X2·Z1Z1   S1 = Y1·Z2·Z2Z2   S2 = Y2·Z1·Z1Z1
    /// H = U2 − U1   I = (2·H)²   J = H·I   r = 2·(S2 − S1)   V = U1·I
    /// X3 = r² − J − 2·V
    /// Y3 = r·(V − X3) − 2·S1·J
    /// Z3 = ((Z1 + Z2)² − Z1Z1 − Z2Z2)·H
    /// ```
    fn add(&self, other: &Self) -> (Self, Choice) {
        let z1z1 = self.z.square();
        let z2z2 = other.z.square();
        let u1 = self.x * z2z2;
        let u2 = other.x * z1z1;
        let s1 = self.y * other.z * z2z2;
        let s2 = other.y * self.z * z1z1;
        let h = u2 - u1;
        let i = h.double().square();
        let j = h * i;
        let r = (s2 - s1).double();
        let v = u1 * i;
        let x = r.square() - j - v.double();
        let y = r * (v - x) - (s1 * j).double();
        let z = ((self.z + other.z).square() - z1z1 - z2z2) * h;
        (Self { x, y, z }, h.is_zero())
    }
}

/// Recodes an odd `k < n` (little-endian limbs) into signed odd digits, least significant
/// first: `k = Σ digits[i]·32^i`, `digits[i] ∈ {±1, ±3, …, ±31}` for `i < 76`, and the top digit
/// odd in `[1, 17]`. Each step takes `d = (k mod 64) − 32` and continues with `(k − d) / 32`,
/// which is odd again. No branch or memory access depends on `k`.
#[allow(clippy::cast_possible_truncation)] // digits are in −31..=31; limbs are split on purpose
fn recode(k: &[u64; LIMBS]) -> [i8; DIGITS] {
    let mut k = *k;
    let mut digits = [0i8; DIGITS];
    for digit in digits.iter_mut().take(DIGITS - 1) {
        let d = i64::from((k[0] & 0x3f) as u8) - 32;
        *digit = d as i8;
        // k += −d, with −d sign-extended over all limbs. k − d < n + 31 < 2³⁸⁴: no overflow.
        let minus_d = -d;
        let extension = (minus_d >> 63) as u64;
        let mut carry = 0u128;
        for (index, limb) in k.iter_mut().enumerate() {
            let addend = if index == 0 {
                minus_d as u64
            } else {
                extension
            };
            let sum = u128::from(*limb) + u128::from(addend) + carry;
            *limb = sum as u64;
            carry = sum >> 64;
        }
        // k /= 32 (exact: k − d ≡ 0 mod 32).
        for index in 0..LIMBS {
            let high = if index + 1 < LIMBS {
                k[index + 1] << (64 - WINDOW)
            } else {
                0
            };
            k[index] = (k[index] >> WINDOW) | high;
        }
    }
    digits[DIGITS - 1] = (k[0] & 0x3f) as i8;
    k.zeroize();
    digits
}

/// `digit·P` from the table of odd multiples: every entry is read, the wanted one kept by a
/// constant-time select, then negated by another when the digit is negative.
#[allow(clippy::cast_possible_truncation)] // 0..=15 and 0..=1
fn select(table: &[Jacobian; TABLE_LEN], digit: i8) -> Jacobian {
    let digit = i32::from(digit);
    let sign = digit >> 31; // −1 when negative, 0 otherwise
    let magnitude = (digit ^ sign) - sign; // odd, 1..=31
    let index = (magnitude >> 1) as u32;
    let mut point = Jacobian::default();
    for (j, entry) in (0u32..).zip(table.iter()) {
        point.conditional_assign(entry, j.ct_eq(&index));
    }
    let negative = Choice::from((sign & 1) as u8);
    point.y = Fe::conditional_select(&point.y, &-point.y, negative);
    point
}

/// Big-endian field bytes to little-endian 64-bit limbs.
fn limbs(bytes: &FieldBytes) -> [u64; LIMBS] {
    let mut limbs = [0u64; LIMBS];
    for (limb, chunk) in limbs.iter_mut().rev().zip(bytes.chunks_exact(8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        *limb = u64::from_be_bytes(word);
        word.zeroize();
    }
    limbs
}

/// `scalar · point`, in constant time with respect to `scalar` (and to `point`, apart from
/// whether it is the identity, which it never is when it comes from a JWK).
///
/// The result equals `p384`'s `ProjectivePoint::from(point) * scalar`, converted to affine;
/// the differential tests in `tests/tests/suite/scalar_mul.rs` and the fuzz target
/// `scalar_mul_differential` check exactly that. It is none when that product is the identity,
/// which for a non-zero scalar happens only for the identity as input, or on a fault (a
/// corrupted computation whose result is off the curve): callers turn none into an error
/// rather than use the identity's all-zero coordinates as a shared secret.
///
/// Secret intermediates (the scalar, its recoding, the accumulator, the last sums, `Z⁻¹`, the
/// result's coordinates) are wiped before returning. Copies that the compiler makes between
/// them are not visible here; `crate::jwe` scrubs the stack after each key agreement.
#[must_use]
pub fn mul(point: &AffinePoint, scalar: &NonZeroScalar) -> CtOption<AffinePoint> {
    let is_identity = point.is_identity();
    // The identity has no coordinates; run on the generator instead and discard the result.
    let base = AffinePoint::conditional_select(point, &AffinePoint::GENERATOR, is_identity);

    // An odd multiplier: k, or n − k when k is even (the result is then negated).
    let mut k: Scalar = **scalar;
    let negate = !k.is_odd();
    let mut odd = Scalar::conditional_select(&k, &-k, negate);
    let mut repr = odd.to_repr();
    let mut k_limbs = limbs(&repr);
    let mut digits = recode(&k_limbs);
    k.zeroize();
    odd.zeroize();
    repr.zeroize();
    k_limbs.zeroize();

    // The coordinates of an `AffinePoint` are canonical, so `from_repr` always succeeds; the
    // constant-time `unwrap_or` keeps even that impossible case free of a branch.
    let p = Jacobian {
        x: Fe::from_repr(base.x()).unwrap_or(Fe::ZERO),
        y: Fe::from_repr(base.y()).unwrap_or(Fe::ZERO),
        z: Fe::ONE,
    };
    let mut table = [p; TABLE_LEN];
    let p2 = p.double();
    for j in 1..TABLE_LEN {
        table[j] = table[j - 1].add(&p2).0;
    }

    let mut acc = select(&table, digits[DIGITS - 1]);
    for i in (1..DIGITS - 1).rev() {
        for _ in 0..WINDOW {
            acc = acc.double();
        }
        acc = acc.add(&select(&table, digits[i])).0;
    }
    for _ in 0..WINDOW {
        acc = acc.double();
    }
    // The last window may add a point to itself (scalars 38 and n − 38, see the module docs).
    let mut addend = select(&table, digits[0]);
    let (mut sum, same_x) = acc.add(&addend);
    let mut doubled = addend.double();
    acc = Jacobian::conditional_select(&sum, &doubled, same_x);
    sum.zeroize();
    doubled.zeroize();
    addend.zeroize();
    digits.zeroize();
    table.iter_mut().for_each(Zeroize::zeroize);

    // Back to affine with one inversion. Z is non-zero: the sum is k₀·P ≠ identity. A zero Z
    // (a fault) inverts to zero here, and the point (0, 0) is refused below: not on the curve.
    let mut z_inv = acc.z.invert().unwrap_or(Fe::ZERO);
    let mut z_inv2 = z_inv.square();
    let mut x = acc.x * z_inv2;
    let mut y = acc.y * z_inv2 * z_inv;
    y = Fe::conditional_select(&y, &-y, negate);
    acc.zeroize();
    z_inv.zeroize();
    z_inv2.zeroize();
    // `from_coordinates` checks the curve equation, so a fault cannot give a point off the
    // curve: it gives none.
    let mut x_bytes = x.to_repr();
    let mut y_bytes = y.to_repr();
    let result = AffinePoint::from_coordinates(&x_bytes, &y_bytes);
    x.zeroize();
    y.zeroize();
    x_bytes.zeroize();
    y_bytes.zeroize();
    let valid = result.is_some() & !is_identity;
    let mut point = result.unwrap_or(AffinePoint::GENERATOR);
    let out = CtOption::new(point, valid);
    point.zeroize();
    out
}

/// `scalar · G` for the P-384 generator `G`: [`mul`] applied to `G` (no precomputed table, so
/// no flash or RAM cost beyond the variable-base code). None only on a fault.
#[must_use]
pub fn mul_base(scalar: &NonZeroScalar) -> CtOption<AffinePoint> {
    mul(&AffinePoint::GENERATOR, scalar)
}
