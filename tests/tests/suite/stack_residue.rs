//! After [`encrypt`] and [`decrypt`] return, no copy of the secrets they handled is left in the
//! stack memory their calls used: the merchant's private scalar `d`, the ephemeral scalar of
//! an encrypt, or the ECDH shared secret `Z`. SECURITY.md promises this; this test checks it,
//! in whichever build of the suite runs it (default: `p384`'s multiplication; `--features
//! hazmat`: ours).
//!
//! How, without `unsafe`: the operation runs below a padding frame; when it has returned, the
//! dead stack below the caller is read through `/proc/self/mem` (a file opened beforehand, so
//! that reading it costs only a shallow `pread` frame, which stays inside the padding) and
//! searched for every 16-byte window of each secret in each form it can take in memory:
//! big-endian bytes (`FieldBytes`), little-endian limbs, and the Montgomery form (`v·2³⁸⁴ mod
//! m`) that `p384`'s scalar and field types keep internally, for both of its backends.
//!
//! Linux only (it needs `/proc/self/mem`); elsewhere the tests say so and pass.

use std::fs::File;
use std::hint::black_box;
use std::os::unix::fs::FileExt;

use alliancepay_jose::{AllowList, EncryptOptions, PrivateJwk, decrypt, encrypt, token_len};
use p384::elliptic_curve::hazmat::FieldArithmetic;
use p384::elliptic_curve::{Field, Generate, PrimeField};
use p384::{FieldBytes, NistP384, NonZeroScalar, Scalar, ecdh};

use crate::fuzz_regressions::checks::SeededRng;

type FieldElement = <NistP384 as FieldArithmetic>::FieldElement;

/// Bytes of dead stack searched below the caller: far more than the deepest call of the
/// operations uses (about 5 KiB on a Cortex-M4, a few times that in an unoptimized x86 build).
const SCANNED: usize = 96 * 1024;
/// Padding between the caller's frame and the operation's frames; the scan's own `pread` runs
/// inside it, so it cannot overwrite what the operation left.
const PADDING: usize = 4096;
/// Window length searched for: a partial copy of 16 bytes of a secret still counts.
const WINDOW: usize = 16;

/// One secret in the forms it takes in memory, for the report.
struct Needle {
    name: String,
    bytes: [u8; 48],
}

fn reversed(bytes: [u8; 48]) -> [u8; 48] {
    let mut out = bytes;
    out.reverse();
    out
}

/// `2^384` in the scalar field or the base field, built from `p384`'s own arithmetic.
fn two_to_384<F: Field + From<u64>>() -> F {
    let two_64 = F::from(u64::MAX) + F::ONE;
    let mut r = F::ONE;
    for _ in 0..6 {
        r *= two_64;
    }
    r
}

/// The three forms of a 48-byte value: big-endian bytes, little-endian limbs, and the
/// little-endian limbs of its Montgomery form (given big-endian).
fn forms(name: &str, be: [u8; 48], montgomery_be: [u8; 48]) -> Vec<Needle> {
    [
        ("big-endian", be),
        ("little-endian limbs", reversed(be)),
        ("Montgomery limbs", reversed(montgomery_be)),
    ]
    .into_iter()
    .map(|(form, bytes)| Needle {
        name: format!("{name} ({form})"),
        bytes,
    })
    .collect()
}

fn scalar_needles(name: &str, k: &Scalar) -> Vec<Needle> {
    let montgomery = *k * two_to_384::<Scalar>();
    forms(name, k.to_repr().into(), montgomery.to_repr().into())
}

fn field_needles(name: &str, be: [u8; 48]) -> Vec<Needle> {
    let x = Option::<FieldElement>::from(FieldElement::from_repr(FieldBytes::from(be)))
        .expect("a coordinate is a field element");
    let montgomery = x * two_to_384::<FieldElement>();
    forms(name, be, montgomery.to_repr().into())
}

/// Overwrites the stack below the caller with zeros, so that what the test itself computed
/// there (the needles) cannot be mistaken for what the operation left.
#[inline(never)]
fn scrub() {
    let mut zeros = [0u8; SCANNED + PADDING];
    black_box(&mut zeros);
}

/// Runs `operation` one padding frame below the caller.
#[inline(never)]
fn below_padding<R>(operation: impl FnOnce() -> R) -> R {
    let mut padding = [0u8; PADDING];
    black_box(&mut padding);
    let result = operation();
    black_box(&padding);
    result
}

/// Runs `operation` and returns the dead stack it leaves below the caller, lowest address
/// first.
#[inline(never)]
fn dead_stack_after(mem: &File, operation: impl FnOnce()) -> Vec<u8> {
    scrub();
    let marker = 0u8;
    let top = std::ptr::from_ref(black_box(&marker)) as u64;
    below_padding(operation);
    let mut dead = vec![0u8; SCANNED];
    let from = top - (SCANNED + PADDING) as u64;
    mem.read_exact_at(&mut dead, from)
        .expect("reading this thread's stack through /proc/self/mem");
    dead
}

/// Checks that `token` was made with the ephemeral public key `e·G`, so that the needles
/// computed from `e` are the ones the operation really handled.
fn assert_ephemeral(token: &str, e: &NonZeroScalar) {
    let epk = p384::PublicKey::from_secret_scalar(e);
    let jwk = alliancepay_jose::PublicJwk::from_public_key(epk, Default::default());
    let (x, _) = jwk.coordinates();
    let header_text = token.split('.').next().expect("a header");
    let mut header = [0u8; alliancepay_jose::MAX_HEADER_LEN];
    let header = alliancepay_jose::b64::decode(header_text.as_bytes(), &mut header).expect("b64");
    let header = alliancepay_jose::ProtectedHeader::parse(header).expect("header");
    let (token_x, _) =
        alliancepay_jose::PublicJwk::from_public_key(header.epk, Default::default()).coordinates();
    assert_eq!(
        token_x, x,
        "the token's epk is not e·G: the needles would be wrong"
    );
}

/// Every window of every needle found in `dead`, as "name at offset" lines.
fn residues(dead: &[u8], needles: &[Needle]) -> Vec<String> {
    let mut found = Vec::new();
    for needle in needles {
        for start in (0..=48 - WINDOW).step_by(8) {
            let window = &needle.bytes[start..start + WINDOW];
            if let Some(at) = dead.windows(WINDOW).position(|w| w == window) {
                found.push(format!(
                    "{}, bytes {start}..{}, {} bytes below the scan's top",
                    needle.name,
                    start + WINDOW,
                    dead.len() - at
                ));
                break;
            }
        }
    }
    found
}

fn open_own_memory() -> Option<File> {
    match File::open("/proc/self/mem") {
        Ok(file) => Some(file),
        Err(e) => {
            eprintln!("SKIPPED stack residue test: /proc/self/mem: {e}");
            None
        }
    }
}

/// The needles must be findable: a scan of a stack that still holds them reports them. Without
/// this, a broken scan (wrong address, wrong forms) would pass every other test.
#[test]
fn scan_finds_a_secret_left_on_the_stack() {
    let Some(mem) = open_own_memory() else { return };
    let merchant = PrivateJwk::generate(&mut SeededRng::new(7)).expect("keygen");
    let d = *merchant.secret_key().to_nonzero_scalar();
    let mut needles = scalar_needles("d", &d);
    needles.truncate(2); // the byte forms; the Montgomery one is exercised below
    let dead = dead_stack_after(&mem, || {
        // A careless copy, as a leaky implementation would leave it.
        let mut copy = [0u8; 48];
        copy.copy_from_slice(&d.to_repr());
        black_box(&mut copy);
    });
    let found = residues(&dead, &needles);
    assert!(
        found.iter().any(|line| line.starts_with("d (big-endian)")),
        "the scan missed a planted copy of d: {found:?}"
    );

    let montgomery = scalar_needles("d", &d).remove(2);
    let dead = dead_stack_after(&mem, || {
        // A bare `Scalar` on the stack is in Montgomery form.
        let mut scalar = black_box(d) + Scalar::ZERO;
        black_box(&mut scalar);
    });
    assert!(
        !residues(&dead, std::slice::from_ref(&montgomery)).is_empty(),
        "the scan missed a planted Scalar (Montgomery form) of d"
    );
}

#[test]
fn decrypt_leaves_no_secret_on_the_stack() {
    let Some(mem) = open_own_memory() else { return };
    let merchant = Box::new(PrivateJwk::generate(&mut SeededRng::new(1)).expect("keygen"));
    let payload = br#"{"deviceId":"residue-test","refreshToken":"not a real token"}"#;
    let mut token = vec![0u8; token_len(payload.len())];
    let token = encrypt(
        merchant.public_jwk(),
        payload,
        &EncryptOptions::BANK,
        &mut SeededRng::new(2),
        &mut token,
    )
    .expect("encrypt")
    .to_owned();

    let d_nonzero = merchant.secret_key().to_nonzero_scalar();
    let d = *d_nonzero;
    let epk = {
        let e = NonZeroScalar::try_generate_from_rng(&mut SeededRng::new(2)).expect("scalar");
        assert_ephemeral(&token, &e);
        p384::PublicKey::from_secret_scalar(&e)
    };
    let z: [u8; 48] = ecdh::diffie_hellman(d_nonzero, epk.as_affine())
        .raw_secret_bytes()
        .as_slice()
        .try_into()
        .expect("48 bytes");
    let mut needles = scalar_needles("merchant d", &d);
    needles.extend(field_needles("shared secret Z", z));

    let mut plaintext = vec![0u8; payload.len()];
    let dead = dead_stack_after(&mem, || {
        let result = decrypt(
            &merchant,
            token.as_bytes(),
            AllowList::BANK_PROFILE,
            &mut plaintext,
        );
        assert!(result.is_ok(), "decrypt: {result:?}");
    });
    assert_eq!(plaintext, payload);
    let found = residues(&dead, &needles);
    assert!(
        found.is_empty(),
        "decrypt left secrets on the stack:\n{}",
        found.join("\n")
    );
}

#[test]
fn encrypt_leaves_no_secret_on_the_stack() {
    let Some(mem) = open_own_memory() else { return };
    let recipient = Box::new(PrivateJwk::generate(&mut SeededRng::new(3)).expect("keygen"));
    let payload = br#"{"serviceCode":"residue-test"}"#;

    // The ephemeral scalar encrypt draws first from this stream, and the shared secret.
    let e = *NonZeroScalar::try_generate_from_rng(&mut SeededRng::new(4)).expect("scalar");
    let e_nonzero = Option::<NonZeroScalar>::from(NonZeroScalar::new(e)).expect("non-zero");
    let z: [u8; 48] =
        ecdh::diffie_hellman(e_nonzero, recipient.public_jwk().public_key().as_affine())
            .raw_secret_bytes()
            .as_slice()
            .try_into()
            .expect("48 bytes");
    let mut needles = scalar_needles("ephemeral scalar", &e);
    needles.extend(field_needles("shared secret Z", z));

    let mut out = vec![0u8; token_len(payload.len())];
    let mut rng = SeededRng::new(4);
    let dead = dead_stack_after(&mem, || {
        let result = encrypt(
            recipient.public_jwk(),
            payload,
            &EncryptOptions::BANK,
            &mut rng,
            &mut out,
        );
        assert!(result.is_ok(), "encrypt: {result:?}");
    });
    // The token really used that ephemeral key: the recipient opens it.
    let mut opened = vec![0u8; payload.len()];
    let token = String::from_utf8(out).expect("ASCII token");
    assert_ephemeral(&token, &e_nonzero);
    decrypt(
        &recipient,
        token.as_bytes(),
        AllowList::BANK_PROFILE,
        &mut opened,
    )
    .expect("decrypt");
    let found = residues(&dead, &needles);
    assert!(
        found.is_empty(),
        "encrypt left secrets on the stack:\n{}",
        found.join("\n")
    );
}
