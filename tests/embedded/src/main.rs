//! Runs the bank profile of `alliancepay-jose` on a Cortex-M4 (QEMU `mps2-an386`) and measures
//! it: peak stack and executed instructions of one encrypt and one decrypt of a bank-session-sized
//! payload. `run.py` builds this, boots it under QEMU and checks the printed figures against
//! `budgets.txt`; flash and static RAM it reads from the ELF.
//!
//! Output protocol (one line each, parsed by `run.py`):
//! `calibration instructions=<n> ticks=<n> instructions_per_tick=<n>`,
//! `measure <operation> stack_bytes=<n> instructions=<n>`, then `result ok` and exit status 0.
//! Any failure prints `result FAIL: <why>` and exits non-zero, panics and faults included.

#![no_std]
#![no_main]

use core::arch::asm;
use core::convert::Infallible;
use core::hint::black_box;
use core::sync::atomic::{AtomicU32, Ordering};

use alliancepay_jose::{
    AllowList, EncryptOptions, Error, PrivateJwk, TryCryptoRng, TryRng, decrypt, encrypt, token_len,
};
use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::{debug, hio};

/// A session as the bank returns it after authorization: 399 bytes, the real size. The values
/// are made up; the shape and lengths are the bank's.
const SESSION: &[u8] = br#"{"refreshToken":"4e293720-5bcc-4906-9f57-371e3b4d9dbd","authToken":"dca77053-a7a2-4f83-ac53-0d5180779975","deviceId":"928d79b5-0f25-44be-bb06-988c4a150678","serverPublic":{"kty":"EC","crv":"P-384","x":"EM4hB2hXX0IWg2mlNbTdeq8ivMXykXWC7Wjg98QdRs4TQ0Ic1DCAfglCfN5Knl3f","y":"pFYzFR7M8nwaHE1Wx2dceiJ6qtph7ABFkX0ySTgQrLjmphdxVpNmYrG6KNqF9YLA"},"tokenExpirationDateTime":"2025-02-14 22:45:24.0463 +0000"}"#;
const SESSION_LEN: usize = 399;
const _: () = assert!(SESSION.len() == SESSION_LEN);
const TOKEN_LEN: usize = token_len(SESSION_LEN);

/// Bytes painted below the stack pointer before each measured call. Far more than any budget, so
/// an operation that overruns its budget is still measured rather than running off the paint.
const PAINT_BYTES: u32 = 32 * 1024;
/// What unused stack looks like. Any word an operation writes is very unlikely to equal it.
const PAINT: u32 = 0x5AC3_5AC3;

/// SysTick counts down from this 24-bit reload and wraps into the interrupt below.
const SYSTICK_RELOAD: u32 = 0x00FF_FFFF;
static SYSTICK_WRAPS: AtomicU32 = AtomicU32::new(0);

/// A deterministic xorshift64* generator, FOR THIS TEST ONLY. It is not a cryptographic RNG: it
/// claims `TryCryptoRng` so the library accepts it, and its fixed seed makes every run (and so
/// every figure) repeatable. Real firmware passes its hardware TRNG here.
struct TestRng(u64);

impl TryRng for TestRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        // The high half of xorshift64* has the better statistical quality.
        self.try_next_u64().map(|word| (word >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        Ok(self.0.wrapping_mul(0x2545_F491_4F6C_DD1D))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        rand_core::utils::fill_bytes_via_next_word(dst, || self.try_next_u64())
    }
}

impl TryCryptoRng for TestRng {}

/// What one measured call used.
struct Usage {
    stack_bytes: u32,
    ticks: u64,
}

#[entry]
fn main() -> ! {
    match run() {
        Ok(()) => {
            say(&[Text("result ok")]);
            exit(true)
        }
        Err(why) => {
            say(&[Text("result FAIL: "), Text(why)]);
            exit(false)
        }
    }
}

fn run() -> Result<(), &'static str> {
    let Some(core) = cortex_m::Peripherals::take() else {
        return Err("core peripherals already taken");
    };
    start_systick(core.SYST);

    let instructions_per_tick = calibrate()?;
    let mut rng = TestRng(0x0123_4567_89AB_CDEF);

    let mut key = None;
    let usage = measure(&mut || key = Some(PrivateJwk::generate(&mut rng)));
    report("generate", &usage, instructions_per_tick);
    let merchant = match key {
        Some(Ok(key)) => key,
        _ => return Err("key generation failed"),
    };

    // Not budgeted: the bare P-384 key agreement both operations contain, so the report can
    // tell RustCrypto's share of stack and instructions from what the JWE layer adds.
    let mut shared_first_byte = 0;
    let usage = measure(&mut || {
        let shared = p384::ecdh::diffie_hellman(
            merchant.secret_key().to_nonzero_scalar(),
            merchant.public_jwk().public_key().as_affine(),
        );
        shared_first_byte = shared.raw_secret_bytes()[0];
    });
    report("ecdh", &usage, instructions_per_tick);
    black_box(shared_first_byte);

    let mut token_buf = [0u8; TOKEN_LEN];
    let mut token_len_written = 0;
    let mut outcome = Err(Error::Rng);
    let usage = measure(&mut || {
        outcome = encrypt(
            merchant.public_jwk(),
            SESSION,
            &EncryptOptions::BANK,
            &mut rng,
            &mut token_buf,
        )
        .map(|token| token_len_written = token.len());
    });
    report("encrypt", &usage, instructions_per_tick);
    outcome.map_err(|_| "encrypt failed")?;
    if token_len_written != TOKEN_LEN {
        return Err("token length differs from token_len()");
    }

    let mut plaintext = [0u8; SESSION_LEN];
    let mut opened = false;
    let usage = measure(&mut || {
        opened = decrypt(&merchant, &token_buf, AllowList::default(), &mut plaintext)
            .is_ok_and(|session| session == SESSION);
    });
    report("decrypt", &usage, instructions_per_tick);
    if !opened {
        return Err("decrypt failed or returned a different session");
    }

    // A token changed in transit must fail with the one opaque error, not panic or pass. Change
    // a character inside the ciphertext part (the fourth) to another base64url letter.
    let ciphertext_at = token_buf
        .iter()
        .enumerate()
        .filter(|&(_, &byte)| byte == b'.')
        .nth(2)
        .map_or(0, |(at, _)| at + 1);
    let flipped = &mut token_buf[ciphertext_at + 10];
    *flipped = if *flipped == b'A' { b'B' } else { b'A' };
    let tampered = decrypt(&merchant, &token_buf, AllowList::default(), &mut plaintext);
    if tampered != Err(Error::DecryptionFailed) {
        return Err("a tampered token was not refused with DecryptionFailed");
    }
    Ok(())
}

fn report(operation: &str, usage: &Usage, instructions_per_tick: u64) {
    say(&[
        Text("measure "),
        Text(operation),
        Text(" stack_bytes="),
        Num(u64::from(usage.stack_bytes)),
        Text(" instructions="),
        Num(usage.ticks * instructions_per_tick),
    ]);
}

fn start_systick(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYSTICK_RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    // The counter holds 0 until its first tick loads the reload value, and `now()` would read
    // that 0 as a whole period already elapsed. Start measuring after the first load.
    while SYST::get_current() == 0 {}
}

/// SysTick ticks since `start_systick`, wraps included.
fn now() -> u64 {
    loop {
        // A wrap between the two reads of the counter would pair an old count with a new
        // value; re-read until both reads see the same number of wraps.
        let wraps = SYSTICK_WRAPS.load(Ordering::SeqCst);
        let current = SYST::get_current();
        if SYSTICK_WRAPS.load(Ordering::SeqCst) == wraps {
            return u64::from(wraps) * u64::from(SYSTICK_RELOAD + 1)
                + u64::from(SYSTICK_RELOAD - current);
        }
    }
}

#[exception]
fn SysTick() {
    SYSTICK_WRAPS.fetch_add(1, Ordering::SeqCst);
}

/// How many instructions one SysTick tick stands for. Under `-icount shift=0` every instruction
/// takes 1 ns of virtual time and SysTick runs at the board's core clock, so the ratio is fixed;
/// it is measured here instead of assumed, with a loop whose instruction count is exact.
fn calibrate() -> Result<u64, &'static str> {
    const ITERATIONS: u32 = 1_000_000;
    // `subs` + `bne` per iteration.
    const LOOP_INSTRUCTIONS: u64 = 2 * ITERATIONS as u64;
    let start = now();
    // SAFETY: only a register is counted down; no memory or stack is touched.
    unsafe {
        asm!(
            "2:",
            "subs {n}, {n}, #1",
            "bne 2b",
            n = inout(reg) ITERATIONS => _,
            options(nomem, nostack),
        );
    }
    let ticks = now() - start;
    if ticks == 0 {
        return Err("SysTick did not count: is QEMU running with -icount?");
    }
    let per_tick = (LOOP_INSTRUCTIONS + ticks / 2) / ticks;
    say(&[
        Text("calibration instructions="),
        Num(LOOP_INSTRUCTIONS),
        Text(" ticks="),
        Num(ticks),
        Text(" instructions_per_tick="),
        Num(per_tick),
    ]);
    // The loop plus the two `now()` calls is within a few ticks of an exact multiple; anything
    // else means the counter is not counting instructions and every figure would be wrong.
    if per_tick == 0 || (ticks * per_tick).abs_diff(LOOP_INSTRUCTIONS) > 4 * per_tick {
        return Err("SysTick does not advance in step with instructions");
    }
    Ok(per_tick)
}

/// Runs `operation` once and returns its peak stack and its duration in SysTick ticks.
///
/// The stack below the current stack pointer is painted first; afterwards the lowest word that
/// no longer holds the paint is how deep the operation went (exception frames pushed while it
/// ran included, as they would be on a device). The call goes through `black_box` so the
/// operation cannot be inlined into this frame, where its locals would escape the measurement.
#[inline(never)]
fn measure(operation: &mut dyn FnMut()) -> Usage {
    let top: u32;
    let bottom: u32;
    // SAFETY: writes only the `PAINT_BYTES` below the stack pointer: memory no live frame uses
    // (callees have not run yet; an exception arriving now would push its frame there and
    // leave it before we read it back). The stack sits at the top of 4 MiB of RAM, far above
    // .data/.bss, so the painted range is RAM we own.
    unsafe {
        asm!(
            "mov {top}, sp",
            "sub {bottom}, {top}, {len}",
            "mov {at}, {top}",
            "2:",
            "str {paint}, [{at}, #-4]!",
            "cmp {at}, {bottom}",
            "bhi 2b",
            top = out(reg) top,
            bottom = out(reg) bottom,
            at = out(reg) _,
            len = in(reg) PAINT_BYTES,
            paint = in(reg) PAINT,
        );
    }
    let start = now();
    black_box(&mut *operation)();
    let ticks = now() - start;
    let lowest_used: u32;
    // SAFETY: reads only the painted range [bottom, top), which is RAM (see above); the scan
    // stops at the first word that is not paint, at the latest at `top`.
    unsafe {
        asm!(
            "2:",
            "cmp {at}, {top}",
            "bhs 3f",
            "ldr {word}, [{at}]",
            "cmp {word}, {paint}",
            "bne 3f",
            "adds {at}, {at}, #4",
            "b 2b",
            "3:",
            at = inout(reg) bottom => lowest_used,
            top = in(reg) top,
            word = out(reg) _,
            paint = in(reg) PAINT,
            options(readonly, nostack),
        );
    }
    Usage {
        stack_bytes: top - lowest_used,
        ticks,
    }
}

fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached without a semihosting host; the runner's timeout then reports the failure.
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // The location only: printing the message would link core::fmt and every Debug impl a
    // panic site in the dependency tree names, several KiB that would count against the
    // library's flash budget.
    let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    say(&[
        Text("result FAIL: panic at "),
        Text(file),
        Text(":"),
        Num(u64::from(line)),
    ]);
    exit(false)
}

/// One piece of an output line.
enum Piece<'a> {
    Text(&'a str),
    Num(u64),
}
use Piece::{Num, Text};

/// Writes one line to the host's stdout, without core::fmt (see the panic handler).
fn say(pieces: &[Piece<'_>]) {
    let Ok(mut out) = hio::hstdout() else { return };
    for piece in pieces {
        let _ = match piece {
            Text(text) => out.write_all(text.as_bytes()),
            Num(n) => {
                let mut digits = [0u8; 20];
                let mut at = digits.len();
                let mut rest = *n;
                loop {
                    at -= 1;
                    digits[at] = b'0' + (rest % 10) as u8;
                    rest /= 10;
                    if rest == 0 {
                        break;
                    }
                }
                out.write_all(&digits[at..])
            }
        };
    }
    let _ = out.write_all(b"\n");
}

// Without this a fault would spin in cortex-m-rt's default handler until the runner's timeout.
// SAFETY: cortex-m-rt requires the HardFault handler to be declared `unsafe`; the body only
// reports and exits, and reads one word of the frame the
// hardware pushed.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    // The fault address alone: formatting the whole frame with Debug costs flash in every build.
    say(&[
        Text("result FAIL: hard fault at pc "),
        Num(u64::from(frame.pc())),
    ]);
    exit(false)
}
