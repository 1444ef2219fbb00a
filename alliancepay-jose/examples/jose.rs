//! `jose`: a small command-line front end to `alliancepay-jose`, for people and for scripts
//! (the interop tests in `tests/interop/` drive it against Python jwcrypto and Node jose).
//!
//! ```text
//! cargo run -q -p alliancepay-jose --example jose -- COMMAND
//!
//! demo                          walk through the bank's flow once, printing each step
//! keygen                        print a new private P-384 JWK (with "use" and "alg")
//! public                        read a private JWK on stdin, print its public JWK
//! thumbprint FILE               print the RFC 7638 thumbprint of the JWK (public or private) in FILE
//! encrypt [OPTIONS] PUBLIC_JWK_FILE
//!                               read plaintext bytes on stdin, print the compact JWE
//!     --alg ALG                 ECDH-ES+A256KW (default), ECDH-ES, ECDH-ES+A128KW, ECDH-ES+A192KW
//!     --enc ENC                 A256GCM (default), A128GCM, A192GCM
//!     --kid KID                 put "kid" into the protected header
//!     --apu TEXT, --apv TEXT    Concat KDF party info: the UTF-8 bytes of TEXT, sent as "apu"/"apv"
//! decrypt [OPTIONS] PRIVATE_JWK_FILE
//!                               read a compact JWE on stdin, write the plaintext bytes to stdout
//!     --allow-all               accept every alg/enc pair compiled in, not only the bank's
//! ```
//!
//! JWK, token and thumbprint output ends with a newline; `decrypt` writes exactly the plaintext.
//! Surrounding whitespace around the token on stdin is ignored. The exit status is 0 on
//! success, 1 when the operation fails and 2 for bad arguments; every failure prints one line
//! `jose: <message>` on stderr (plus the usage, for bad arguments).
//!
//! ```text
//! $ cargo run -q -p alliancepay-jose --example jose -- keygen > merchant.jwk
//! $ cargo run -q -p alliancepay-jose --example jose -- public < merchant.jwk > merchant.pub.jwk
//! $ echo -n '{"hello":"bank"}' \
//!     | cargo run -q -p alliancepay-jose --example jose -- encrypt merchant.pub.jwk \
//!     | cargo run -q -p alliancepay-jose --example jose -- decrypt merchant.jwk
//! {"hello":"bank"}
//! ```

use std::io::{Read, Write};
use std::process::ExitCode;

use alliancepay_jose::{
    AllowList, ContentEncryptionAlg, EncryptOptions, JwkError, KeyManagementAlg,
    PRIVATE_JWK_MAX_LEN, PUBLIC_JWK_MAX_LEN, PrivateJwk, PublicJwk, decrypt_in_place, encrypt,
};
use zeroize::{Zeroize, Zeroizing};

const USAGE: &str = "\
usage: jose demo
       jose keygen
       jose public < PRIVATE_JWK
       jose thumbprint JWK_FILE
       jose encrypt [--alg ALG] [--enc ENC] [--kid KID] [--apu TEXT] [--apv TEXT]
                    PUBLIC_JWK_FILE < PLAINTEXT
       jose decrypt [--allow-all] PRIVATE_JWK_FILE < TOKEN";

/// Why the program stops; decides the exit status and whether the usage is printed.
enum Failure {
    /// The command line is wrong (exit 2, usage follows the message).
    Usage(String),
    /// The operation itself failed (exit 1).
    Failed(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("jose: {message}");
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("jose: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    let Some((command, rest)) = args.split_first() else {
        return Err(Failure::Usage("missing command".into()));
    };
    match command.as_str() {
        "demo" => {
            no_operands("demo", rest)?;
            demo()
        }
        "keygen" => {
            no_operands("keygen", rest)?;
            keygen()
        }
        "public" => {
            no_operands("public", rest)?;
            public()
        }
        "thumbprint" => thumbprint(one_operand("thumbprint", rest)?),
        "encrypt" => encrypt_command(rest),
        "decrypt" => decrypt_command(rest),
        "-h" | "--help" | "help" => print_line(USAGE),
        other => Err(Failure::Usage(format!("unknown command {other:?}"))),
    }
}

fn no_operands(command: &str, rest: &[String]) -> Result<(), Failure> {
    match rest.first() {
        None => Ok(()),
        Some(extra) => Err(Failure::Usage(format!(
            "{command} takes no arguments, found {extra:?}"
        ))),
    }
}

fn one_operand<'a>(command: &str, rest: &'a [String]) -> Result<&'a str, Failure> {
    match rest {
        [file] if !file.starts_with("--") => Ok(file),
        [] => Err(Failure::Usage(format!("{command} needs a JWK file"))),
        [first, ..] if first.starts_with("--") => Err(Failure::Usage(format!(
            "unknown option {first:?} for {command}"
        ))),
        _ => Err(Failure::Usage(format!("{command} takes exactly one file"))),
    }
}

/// The bank's session flow in one process: a merchant key pair, a session-shaped payload
/// encrypted to its public half (the bank's side), decrypted with the private key (ours).
fn demo() -> Result<(), Failure> {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let merchant = PrivateJwk::generate(&mut rng).map_err(failed)?;
    let mut json = [0u8; PUBLIC_JWK_MAX_LEN];
    let public = merchant
        .public_jwk()
        .write_json(&mut json)
        .map_err(failed)?;
    let thumbprint = merchant.public_jwk().thumbprint();
    let session = br#"{"refreshToken":"5a1f3c9e-7b2d-4e8a-9c61-0f4d2b8e7a35","deviceId":"8f3d6a2c-4b9e-4c1d-a7f5-2e6b0d9c3a18","tokenExpirationDateTime":"2025-02-14 22:45:24.0463 +0000"}"#;
    let mut token = vec![0u8; alliancepay_jose::token_len(session.len())];
    let token = encrypt(
        merchant.public_jwk(),
        session,
        &EncryptOptions::BANK,
        &mut rng,
        &mut token,
    )
    .map_err(failed)?;
    let mut copy = token.as_bytes().to_vec();
    let plaintext = decrypt_in_place(&merchant, &mut copy, AllowList::default()).map_err(failed)?;
    if plaintext != session {
        return Err(failed(
            "demo: the decrypted session differs from the one encrypted",
        ));
    }
    let text = format!(
        "1. merchant public JWK (the bank holds this):\n   {public}\n   thumbprint {thumbprint}\n\
         2. session payload, {} bytes:\n   {}\n\
         3. the bank encrypts it to that key (ECDH-ES+A256KW / A256GCM), {} bytes:\n   {token}\n\
         4. the merchant decrypts it with the private key: {} bytes, identical\n",
        session.len(),
        String::from_utf8_lossy(session),
        token.len(),
        plaintext.len(),
    );
    write_stdout(text.as_bytes())
}

fn keygen() -> Result<(), Failure> {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let key = PrivateJwk::generate(&mut rng).map_err(failed)?;
    // The text holds `d`: wipe the buffer when done.
    let mut json = Zeroizing::new([0u8; PRIVATE_JWK_MAX_LEN]);
    let text = key.write_json(json.as_mut_slice()).map_err(failed)?;
    print_line(text)
}

fn public() -> Result<(), Failure> {
    let input = Wiped(read_stdin()?);
    let key = PrivateJwk::from_json(&input.0).map_err(|e| failed(format!("stdin: {e}")))?;
    print_public(key.public_jwk())
}

fn thumbprint(file: &str) -> Result<(), Failure> {
    let input = Wiped(read_file(file)?);
    // A private JWK is accepted too: its thumbprint is that of its public half (RFC 7638 §3.2
    // uses only the required public members).
    let key = match PublicJwk::from_json(&input.0) {
        Err(JwkError::UnexpectedPrivateKey) => PrivateJwk::from_json(&input.0)
            .map(|key| *key.public_jwk())
            .map_err(|e| failed(format!("{file}: {e}")))?,
        other => other.map_err(|e| failed(format!("{file}: {e}")))?,
    };
    print_line(&key.thumbprint().to_string())
}

fn encrypt_command(args: &[String]) -> Result<(), Failure> {
    let mut options = EncryptOptions::BANK;
    let mut file = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--alg" => {
                let name = option_value("--alg", args.next())?;
                options.alg = KeyManagementAlg::from_name(name).ok_or_else(|| {
                    Failure::Usage(format!("unsupported --alg {name:?} in this build"))
                })?;
            }
            "--enc" => {
                let name = option_value("--enc", args.next())?;
                options.enc = ContentEncryptionAlg::from_name(name).ok_or_else(|| {
                    Failure::Usage(format!("unsupported --enc {name:?} in this build"))
                })?;
            }
            "--kid" => options.kid = Some(option_value("--kid", args.next())?),
            "--apu" => options.apu = Some(option_value("--apu", args.next())?.as_bytes()),
            "--apv" => options.apv = Some(option_value("--apv", args.next())?.as_bytes()),
            flag if flag.starts_with("--") => {
                return Err(Failure::Usage(format!(
                    "unknown option {flag:?} for encrypt"
                )));
            }
            operand => file = one_file("encrypt", file, operand)?,
        }
    }
    let file = file.ok_or_else(|| Failure::Usage("encrypt needs a public JWK file".into()))?;

    let recipient =
        PublicJwk::from_json(&read_file(file)?).map_err(|e| failed(format!("{file}: {e}")))?;
    let plaintext = Wiped(read_stdin()?);
    let mut out = vec![0u8; options.token_len(plaintext.0.len()).map_err(failed)?];
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let token = encrypt(&recipient, &plaintext.0, &options, &mut rng, &mut out).map_err(failed)?;
    print_line(token)
}

fn decrypt_command(args: &[String]) -> Result<(), Failure> {
    let mut allow = AllowList::default();
    let mut file = None;
    for arg in args {
        match arg.as_str() {
            "--allow-all" => allow = AllowList::ALL,
            flag if flag.starts_with("--") => {
                return Err(Failure::Usage(format!(
                    "unknown option {flag:?} for decrypt"
                )));
            }
            operand => file = one_file("decrypt", file, operand)?,
        }
    }
    let file = file.ok_or_else(|| Failure::Usage("decrypt needs a private JWK file".into()))?;

    let key_text = Wiped(read_file(file)?);
    let key = PrivateJwk::from_json(&key_text.0).map_err(|e| failed(format!("{file}: {e}")))?;
    // Decrypting in place leaves the plaintext in this buffer, so it is wiped on the way out.
    let mut input = Wiped(read_stdin()?);
    let bytes = &mut input.0;
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |last| last + 1);
    let token = &mut bytes[start..end];
    let plaintext = decrypt_in_place(&key, token, allow).map_err(failed)?;
    write_stdout(plaintext)
}

fn option_value<'a>(flag: &str, value: Option<&'a String>) -> Result<&'a str, Failure> {
    value
        .map(String::as_str)
        .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))
}

fn one_file<'a>(
    command: &str,
    previous: Option<&'a str>,
    operand: &'a str,
) -> Result<Option<&'a str>, Failure> {
    match previous {
        None => Ok(Some(operand)),
        Some(_) => Err(Failure::Usage(format!("{command} takes exactly one file"))),
    }
}

fn print_public(key: &PublicJwk) -> Result<(), Failure> {
    let mut json = [0u8; PUBLIC_JWK_MAX_LEN];
    print_line(key.write_json(&mut json).map_err(failed)?)
}

/// Input that may hold a private key or plaintext, wiped when dropped. Best effort: copies left
/// behind while the `Vec` grew during reading are not reached (`zeroize` is built without
/// `alloc` here, so `Zeroizing<Vec<u8>>` is not available).
struct Wiped(Vec<u8>);

impl Drop for Wiped {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
    }
}

fn failed(error: impl std::fmt::Display) -> Failure {
    Failure::Failed(error.to_string())
}

fn read_stdin() -> Result<Vec<u8>, Failure> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| failed(format!("cannot read stdin: {e}")))?;
    Ok(input)
}

fn read_file(path: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| failed(format!("cannot read {path}: {e}")))
}

fn print_line(text: &str) -> Result<(), Failure> {
    write_stdout(text.as_bytes())?;
    write_stdout(b"\n")
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    // `print!` would panic on a closed pipe; report it as an ordinary failure instead.
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| failed(format!("cannot write stdout: {e}")))
}
