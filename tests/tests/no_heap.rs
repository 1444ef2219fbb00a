//! Proves on the host that `alliancepay-jose` never touches the heap: key generation, JWK
//! parse, write and thumbprint, encrypt, decrypt and decrypt_in_place (successful and failing)
//! each make zero allocations.
//!
//! `.ci/check-no-std` shows the core *cannot* allocate on a target without `alloc`; this test
//! shows it *does not* on the host either, where `std` is linked and a dependency could reach
//! for a `Vec` behind a feature. It is its own test binary because it installs a
//! `#[global_allocator]`, which is process-wide.
//!
//! The allocator counts per thread: libtest's own allocations on other threads (the runner,
//! output capture of other tests) would otherwise make the counts racy. Only what a measured
//! closure does on the test's own thread is counted, so nothing inside a measurement may print.
//!
//! `unsafe`: implementing `GlobalAlloc` needs it. This is a test crate, not a product crate
//! (the libraries keep `#![forbid(unsafe_code)]`); every unsafe block only forwards the
//! caller's arguments, unchanged, to `std::alloc::System`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use alliancepay_jose::{
    AllowList, ContentEncryptionAlg, EncryptOptions, Error, KeyManagementAlg, PRIVATE_JWK_MAX_LEN,
    PUBLIC_JWK_MAX_LEN, PrivateJwk, PublicJwk, decrypt, decrypt_in_place, encrypt,
    max_plaintext_len, plaintext_len, token_len,
};
use rand_core::TryRng;

thread_local! {
    // A `const` initializer and a type without `Drop`: no lazy initialization and no
    // destructor registration, either of which could itself allocate from inside the allocator.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// `System`, counting every request for new heap memory made on the current thread.
struct CountingAllocator;

fn count_one() {
    // `try_with`: never panic inside the allocator, even during thread teardown.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System`, which implements `GlobalAlloc` correctly; the
// counting touches only a thread-local `Cell` and never allocates or unwinds.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract for `alloc` (a non-zero-sized `layout`) is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: `ptr` was allocated by this allocator, that is by `System`, with `layout`;
        // the caller guarantees `new_size` is valid. Both are passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `f`; returns its result and the number of allocations it made on this thread.
fn allocations_in<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let result = black_box(f());
    let after = ALLOCATIONS.with(Cell::get);
    (result, after - before)
}

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// A session-sized plaintext, like the bank's: the length functions size every buffer on the
/// stack from it.
const PLAINTEXT: &[u8; 400] = &[0x7b; 400];

/// Room for a token of any pair with the optional members used below.
const TOKEN_BUF: usize = token_len(PLAINTEXT.len()) + 256;

/// Without this the zeros below would prove nothing: the counter must see a real allocation.
#[test]
fn the_counter_sees_allocations() {
    let (vec, n) = allocations_in(|| Vec::<u8>::with_capacity(1));
    assert!(n >= 1, "a Vec::with_capacity(1) was not counted");
    drop(vec);
    let (boxed, n) = allocations_in(|| Box::new([0u8; 64]));
    assert!(n >= 1, "a Box was not counted");
    drop(boxed);
    let (_, n) = allocations_in(|| ());
    assert_eq!(
        n, 0,
        "the counter counts something that is not an allocation"
    );
}

/// The OS generator the examples and the server use: `getrandom`'s `SysRng` must not
/// allocate either, or the key-generation and encrypt counts below would blame the core for it.
#[test]
fn the_os_rng_does_not_allocate() {
    let mut bytes = [0u8; 64];
    let (result, n) = allocations_in(|| getrandom::SysRng.try_fill_bytes(&mut bytes));
    result.expect("OS RNG");
    assert_eq!(n, 0, "getrandom::SysRng allocated");
}

#[test]
fn key_generation_and_jwk_handling_do_not_allocate() {
    let (key, n) = allocations_in(|| PrivateJwk::generate(&mut rng()));
    let key = key.expect("generate");
    assert_eq!(n, 0, "PrivateJwk::generate allocated");

    let mut private_text = [0u8; PRIVATE_JWK_MAX_LEN];
    let (written, n) = allocations_in(|| key.write_json(&mut private_text).map(str::len));
    let private_len = written.expect("write private");
    assert_eq!(n, 0, "PrivateJwk::write_json allocated");
    let (parsed, n) = allocations_in(|| PrivateJwk::from_json(&private_text[..private_len]));
    assert_eq!(n, 0, "PrivateJwk::from_json allocated");
    assert_eq!(
        parsed.expect("parse private").public_jwk(),
        key.public_jwk()
    );

    let mut public_text = [0u8; PUBLIC_JWK_MAX_LEN];
    let (written, n) =
        allocations_in(|| key.public_jwk().write_json(&mut public_text).map(str::len));
    let public_len = written.expect("write public");
    assert_eq!(n, 0, "PublicJwk::write_json allocated");
    let (parsed, n) = allocations_in(|| PublicJwk::from_json(&public_text[..public_len]));
    assert_eq!(n, 0, "PublicJwk::from_json allocated");
    assert_eq!(&parsed.expect("parse public"), key.public_jwk());

    let (thumbprint, n) = allocations_in(|| key.public_jwk().thumbprint().to_base64url());
    assert_eq!(n, 0, "thumbprint allocated");
    assert_eq!(thumbprint.len(), 43);

    // Refusals build their errors without allocating too (excerpts are fixed-size).
    let (refused, n) = allocations_in(|| PublicJwk::from_json(br#"{"kty":"RSA","crv":"P-384"}"#));
    assert!(refused.is_err());
    assert_eq!(n, 0, "a refused JWK allocated");
}

#[test]
fn encrypt_and_decrypt_do_not_allocate() {
    let key = PrivateJwk::generate(&mut rng()).expect("generate");
    // The bank's profile with no options, then every pair with every optional member set.
    let mut every_option = vec![EncryptOptions::BANK];
    for &alg in KeyManagementAlg::ALL {
        for &enc in ContentEncryptionAlg::ALL {
            every_option.push(EncryptOptions {
                alg,
                enc,
                apu: Some(b"merchant"),
                apv: Some(b"bank"),
                kid: Some("merchant-key-1"),
                typ: Some("JWE"),
                cty: Some("application/\"json\""),
            });
        }
    }
    for options in &every_option {
        let what = format!("{}/{}", options.alg, options.enc);
        let allow = AllowList::EMPTY.with(options.alg, options.enc);

        let mut token = [0u8; TOKEN_BUF];
        let (written, n) = allocations_in(|| {
            encrypt(key.public_jwk(), PLAINTEXT, options, &mut rng(), &mut token).map(str::len)
        });
        let token_len = written.expect("encrypt");
        assert_eq!(n, 0, "{what}: encrypt allocated");
        let token = &token[..token_len];

        let mut plaintext = [0u8; max_plaintext_len(TOKEN_BUF)];
        let (decrypted, n) =
            allocations_in(|| decrypt(&key, token, allow, &mut plaintext).map(|p| p.len()));
        assert_eq!(decrypted, Ok(PLAINTEXT.len()), "{what}: decrypt");
        assert_eq!(n, 0, "{what}: decrypt allocated");
        assert_eq!(&plaintext[..PLAINTEXT.len()], PLAINTEXT);

        let mut in_place = [0u8; TOKEN_BUF];
        in_place[..token.len()].copy_from_slice(token);
        let (decrypted, n) = allocations_in(|| {
            decrypt_in_place(&key, &mut in_place[..token.len()], allow).map(|p| p.len())
        });
        assert_eq!(decrypted, Ok(PLAINTEXT.len()), "{what}: decrypt_in_place");
        assert_eq!(n, 0, "{what}: decrypt_in_place allocated");

        let (len, n) = allocations_in(|| plaintext_len(token));
        assert_eq!(len, Ok(PLAINTEXT.len()));
        assert_eq!(n, 0, "{what}: plaintext_len allocated");
    }
}

/// Refusals cost nothing either: an attacker's garbage, or a token altered after the header,
/// is turned away without touching the heap (and so without an allocator to exhaust).
#[test]
fn refusing_tokens_does_not_allocate() {
    let key = PrivateJwk::generate(&mut rng()).expect("generate");
    let mut buf = [0u8; token_len(PLAINTEXT.len())];
    let len = encrypt(
        key.public_jwk(),
        PLAINTEXT,
        &EncryptOptions::BANK,
        &mut rng(),
        &mut buf,
    )
    .expect("encrypt")
    .len();
    // Change the tag's first character: it carries six bits of the tag and no unused bits,
    // so the token stays canonical and only authentication can catch the change.
    let mut tampered = buf;
    let tag_start = tampered[..len]
        .iter()
        .rposition(|&c| c == b'.')
        .expect("five parts")
        + 1;
    tampered[tag_start] = if tampered[tag_start] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let mut plaintext = [0u8; PLAINTEXT.len()];

    let cases: [(&str, &[u8], Error); 3] = [
        ("garbage", b"not.a.token", Error::SegmentCount { found: 3 }),
        ("wrong tag", &tampered[..len], Error::DecryptionFailed),
        (
            "header not JSON",
            b"bm90IGpzb24.AAAA.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA",
            Error::Header(alliancepay_jose::HeaderError::Json(
                alliancepay_jose::json::JsonError::Syntax { offset: 0 },
            )),
        ),
    ];
    for (what, token, expected) in cases {
        let (result, n) = allocations_in(|| {
            decrypt(&key, token, AllowList::default(), &mut plaintext).map(|p| p.len())
        });
        assert_eq!(result, Err(expected.clone()), "{what}");
        assert_eq!(n, 0, "{what}: decrypt allocated while refusing");
        let mut copy = [0u8; token_len(PLAINTEXT.len())];
        copy[..token.len()].copy_from_slice(token);
        let (result, n) = allocations_in(|| {
            decrypt_in_place(&key, &mut copy[..token.len()], AllowList::default()).map(|p| p.len())
        });
        assert_eq!(result, Err(expected), "{what} in place");
        assert_eq!(n, 0, "{what}: decrypt_in_place allocated while refusing");
    }
}
