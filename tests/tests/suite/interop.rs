//! Interop with two other JOSE implementations, in both directions:
//!
//! - Python **jwcrypto** (`tests/interop/peer.py`), the library the bank's documentation uses;
//! - Node **jose** v6 (`tests/interop/peer.mjs`), built on `WebCrypto`.
//!
//! Our side is the `jose` example of `alliancepay-jose`, built once with cargo and then run as a
//! process like the peers, so all three speak the same five commands over stdin/stdout. For each
//! peer the matrix checks keys (each side imports the other's JWKs and agrees on the RFC 7638
//! thumbprint), tokens both ways for a set of payloads with the bank's algorithms, and tokens
//! both ways for every other (`alg`, `enc`) pair with one payload. `tests/interop/README.md`
//! says how to install the peers. A missing peer is a SKIPPED line, or a failure when
//! `ALLIANCEPAY_REQUIRE_PEERS=1` (as `.ci/run` sets it), so CI cannot pass without having run
//! the matrix (`alliancepay_tests::peers`).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Longest one peer or example process may run; a hang fails the cell instead of the suite.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(30);

/// The (`alg`, `enc`) pairs beyond the bank's, exchanged with `--allow-all` on the receiver.
const EXTRA_PAIRS: &[(&str, &str)] = &[
    ("ECDH-ES", "A128GCM"),
    ("ECDH-ES", "A192GCM"),
    ("ECDH-ES", "A256GCM"),
    ("ECDH-ES+A128KW", "A128GCM"),
    ("ECDH-ES+A128KW", "A192GCM"),
    ("ECDH-ES+A128KW", "A256GCM"),
    ("ECDH-ES+A192KW", "A128GCM"),
    ("ECDH-ES+A192KW", "A192GCM"),
    ("ECDH-ES+A192KW", "A256GCM"),
    ("ECDH-ES+A256KW", "A128GCM"),
    ("ECDH-ES+A256KW", "A192GCM"),
];

#[test]
fn jwcrypto() {
    let peer = Peer {
        name: "jwcrypto",
        label: "jwcrypto",
        program: std::env::var("INTEROP_PYTHON").unwrap_or_else(|_| "python3".into()),
        script: interop_dir().join("peer.py"),
        install: "pip install -r tests/interop/requirements.txt",
    };
    run_matrix(&peer);
}

#[test]
fn node_jose() {
    let peer = Peer {
        name: "jose (Node)",
        label: "node",
        program: std::env::var("INTEROP_NODE").unwrap_or_else(|_| "node".into()),
        script: interop_dir().join("peer.mjs"),
        install: "npm ci --prefix tests/interop",
    };
    run_matrix(&peer);
}

/// The example's error contract, which scripts rely on: exit status 2 with usage for bad
/// arguments, 1 for a failed operation, and a `jose: ` line on stderr either way, never a panic.
#[test]
fn example_reports_errors() {
    let us = our_tool();
    let dir = TempDir::new("cli");
    let private = run_line(&us, &["keygen"], b"").expect("keygen");
    let private_file = dir.file("key.jwk", &private);
    let cases: &[(&[&str], &[u8], i32)] = &[
        (&[], b"", 2),
        (&["frobnicate"], b"", 2),
        (&["thumbprint"], b"", 2),
        (&["encrypt", "--alg", "RSA-OAEP", "x.jwk"], b"", 2),
        (&["decrypt", "--allow-none", "x.jwk"], b"", 2),
        (&["thumbprint", "/nonexistent/key.jwk"], b"", 1),
        (&["public"], b"{\"kty\":\"EC\"", 1),
        (&["encrypt", &private_file], b"private key as recipient", 1),
        (&["decrypt", &private_file], b"not.a.token", 1),
        (&["decrypt", &private_file], b"\xff\xfe.\x00.a.b.c", 1),
    ];
    for (args, stdin, expected) in cases {
        let output = Command::new(&us.program)
            .args(*args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                if let Some(mut input) = child.stdin.take() {
                    let _ = input.write_all(stdin);
                }
                child.wait_with_output()
            })
            .expect("run the example");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(*expected),
            "jose {args:?}: status {}, stderr {stderr}",
            output.status
        );
        assert!(
            stderr.starts_with("jose: ") && !stderr.contains("panicked"),
            "jose {args:?}: stderr {stderr:?}"
        );
        assert!(output.stdout.is_empty(), "jose {args:?} wrote to stdout");
    }
}

/// The payloads exchanged with the bank's algorithms: edge lengths, the bank's session shape,
/// multi-byte UTF-8 and a large binary body.
fn payloads() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", Vec::new()),
        ("1 byte", vec![0x00]),
        ("session JSON", session_json()),
        (
            "UTF-8",
            "Оплата замовлення №42 — 100,00 ₴ ✓ 🏦".as_bytes().to_vec(),
        ),
        ("64 KiB binary", pseudo_random_bytes(64 * 1024 + 1)),
    ]
}

/// A payload shaped like the bank's decrypted session token: the same keys in the same order
/// and the same 399-byte length (shared/bank-api.md §1.2), with made-up values.
fn session_json() -> Vec<u8> {
    let json = format!(
        concat!(
            r#"{{"refreshToken":"5a1f3c9e-7b2d-4e8a-9c61-0f4d2b8e7a35","#,
            r#""authToken":"c2e9b7d4-1a6f-4f3b-8d25-6e0a9c4b1f72","#,
            r#""deviceId":"8f3d6a2c-4b9e-4c1d-a7f5-2e6b0d9c3a18","#,
            r#""serverPublic":{{"kty":"EC","crv":"P-384","x":"{x}","y":"{y}"}},"#,
            r#""tokenExpirationDateTime":"2025-02-14 22:45:24.0463 +0000"}}"#
        ),
        x = "A".repeat(64),
        y = "B".repeat(64),
    );
    assert_eq!(
        json.len(),
        399,
        "the session payload must keep the bank's length"
    );
    json.into_bytes()
}

/// Deterministic bytes (xorshift64), so a failing payload can be reproduced exactly.
fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn workspace_root() -> PathBuf {
    // This crate lives in `<workspace>/tests`.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

fn interop_dir() -> PathBuf {
    workspace_root().join("tests").join("interop")
}

/// Writes straight to the process's stderr, past libtest's output capture, so the matrix is
/// seen in a normal `cargo test` run. One write per report keeps the two peer
/// tests, which run in parallel, from interleaving.
fn report(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A command prefix: a program and the arguments that come before the command.
struct Tool {
    program: PathBuf,
    prefix: Vec<PathBuf>,
}

struct Peer {
    name: &'static str,
    /// For file names.
    label: &'static str,
    program: String,
    script: PathBuf,
    install: &'static str,
}

impl Peer {
    fn tool(&self) -> Tool {
        Tool {
            program: PathBuf::from(&self.program),
            prefix: vec![self.script.clone()],
        }
    }
}

/// Builds the `jose` example once per test run and returns our side as a [`Tool`].
fn our_tool() -> Tool {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BINARY.get_or_init(build_example) {
        Ok(path) => Tool {
            program: path.clone(),
            prefix: Vec::new(),
        },
        Err(e) => panic!("cannot build the jose example: {e}"),
    }
}

/// `cargo build --example jose`, reading the executable's path from cargo's JSON messages so a
/// custom target directory or target triple needs no guessing.
fn build_example() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--quiet",
            "-p",
            "alliancepay-jose",
            "--example",
            "jose",
            "--message-format=json-render-diagnostics",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "jose")
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo reported no executable for the jose example".into())
}

/// Runs `tool args...` with `stdin`; returns stdout on exit status 0, otherwise stderr.
fn run(tool: &Tool, args: &[&str], stdin: &[u8]) -> Result<Vec<u8>, String> {
    let describe = || {
        let mut text = tool.program.display().to_string();
        for arg in &tool.prefix {
            text.push(' ');
            text.push_str(&arg.display().to_string());
        }
        for arg in args {
            text.push(' ');
            text.push_str(arg);
        }
        text
    };
    let mut child = Command::new(&tool.program)
        .args(&tool.prefix)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: cannot start: {e}", describe()))?;

    // Feed stdin and drain stdout/stderr on their own threads: a 64 KiB payload fills a pipe,
    // and the child may not read all of it before writing.
    let (Some(mut input), Some(mut out), Some(mut err)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(format!("{}: pipes not set up", describe()));
    };
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // A child that exits without reading (bad arguments) closes the pipe; its status says why.
        let _ = input.write_all(&stdin);
    });
    let stdout_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });

    let deadline = Instant::now() + PROCESS_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{}: timed out after {PROCESS_TIMEOUT:?}",
                    describe()
                ));
            }
            Err(e) => return Err(format!("{}: wait failed: {e}", describe())),
        }
    };
    let _ = writer.join();
    let stdout = stdout_reader.join().unwrap_or_default();
    let stderr = stderr_reader.join().unwrap_or_default();
    if status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{} exited with {status}: {}",
            describe(),
            String::from_utf8_lossy(&stderr).trim()
        ))
    }
}

/// Like [`run`] for commands whose output is one line of text (JWK, token, thumbprint).
fn run_line(tool: &Tool, args: &[&str], stdin: &[u8]) -> Result<String, String> {
    let out = run(tool, args, stdin)?;
    let text = String::from_utf8(out).map_err(|_| "output is not UTF-8".to_string())?;
    match text.strip_suffix('\n') {
        Some(line) if !line.contains('\n') => Ok(line.to_string()),
        _ => Err(format!(
            "expected one line ending in a newline, got {text:?}"
        )),
    }
}

/// A temporary directory for key files, removed on drop (also when a check panics).
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "alliancepay-interop-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    /// Writes `text` to `name` inside the directory; returns the path as a `String` argument.
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write a key file");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The outcome of one cell of the matrix.
enum Outcome {
    Pass,
    /// A documented limitation of the peer, confirmed on the peer's own output.
    PeerLimitation(String),
    Fail(String),
}

/// Collects outcomes and renders the summary.
struct Matrix {
    peer: &'static str,
    version: String,
    rows: Vec<(String, Vec<Outcome>)>,
}

impl Matrix {
    fn row(&mut self, label: impl Into<String>, cells: Vec<Outcome>) {
        self.rows.push((label.into(), cells));
    }

    /// A section title with the two direction columns; rows without cells render as titles.
    fn heading(&mut self, title: &str) {
        self.rows.push((
            format!("{title:<48} {:<9} {}", "us->peer", "peer->us"),
            Vec::new(),
        ));
    }

    fn failures(&self) -> Vec<String> {
        self.rows
            .iter()
            .flat_map(|(label, cells)| {
                cells.iter().filter_map(move |cell| match cell {
                    Outcome::Fail(why) => Some(format!("{label}: {why}")),
                    _ => None,
                })
            })
            .collect()
    }

    fn render(&self) -> String {
        let mut text = format!(
            "\ninterop matrix: alliancepay-jose <-> {} ({})\n",
            self.peer, self.version
        );
        let mut notes = Vec::new();
        for (label, cells) in &self.rows {
            let _ = write!(text, "  {label:<48}");
            for cell in cells {
                let mark = match cell {
                    Outcome::Pass => "ok".to_string(),
                    Outcome::PeerLimitation(why) => {
                        notes.push(format!("{}: {why}", label.trim()));
                        format!("n/a[{}]", notes.len())
                    }
                    Outcome::Fail(_) => "FAIL".to_string(),
                };
                let _ = write!(text, " {mark:<9}");
            }
            text.truncate(text.trim_end().len());
            text.push('\n');
        }
        for (i, note) in notes.iter().enumerate() {
            let _ = writeln!(text, "  [{}] {note}", i + 1);
        }
        text
    }
}

fn run_matrix(peer: &Peer) {
    let peer_tool = peer.tool();
    let Some(version) = peer_version_or_skip(peer, &peer_tool) else {
        return;
    };
    let us = our_tool();
    let dir = TempDir::new(peer.label);
    let mut matrix = Matrix {
        peer: peer.name,
        version,
        rows: Vec::new(),
    };
    let ends = key_rows(&mut matrix, &us, &peer_tool, &dir);

    // (a), (b), (e) Tokens both ways with the bank's algorithms, for each payload.
    matrix.heading("bank profile (ECDH-ES+A256KW / A256GCM)");
    for (name, payload) in payloads() {
        let label = format!("  {name} ({} B)", payload.len());
        let cells = vec![
            ends.us_to_peer(&payload, &[], &[]),
            ends.peer_to_us(&payload, &[], &[]),
        ];
        matrix.row(label, cells);
    }

    // The wider matrix: every other pair compiled in, one payload, receivers allow all pairs.
    matrix.heading("other alg / enc (session JSON, --allow-all)");
    let payload = session_json();
    for (alg, enc) in EXTRA_PAIRS {
        let options = ["--alg", alg, "--enc", enc];
        let allow = ["--allow-all"];
        let cells = vec![
            ends.us_to_peer(&payload, &options, &allow),
            ends.peer_to_us(&payload, &options, &allow),
        ];
        matrix.row(format!("  {alg} / {enc}"), cells);
    }

    // Party info enters the Concat KDF (RFC 7518 §4.6.2); the bank sends none, but a mismatch
    // in how it is encoded or hashed would only show up with it present. Multi-byte UTF-8 too.
    matrix.heading("with apu / apv (session JSON)");
    let party_info = ["--apu", "Alice-merchant", "--apv", "Банк Альянс"];
    let cells = vec![
        ends.us_to_peer(&payload, &party_info, &[]),
        ends.peer_to_us(&payload, &party_info, &[]),
    ];
    matrix.row("  apu + apv", cells);
    for (alg, enc) in [("ECDH-ES", "A256GCM"), ("ECDH-ES+A128KW", "A128GCM")] {
        let options = [&["--alg", alg, "--enc", enc][..], &party_info[..]].concat();
        let allow = ["--allow-all"];
        let cells = vec![
            ends.us_to_peer(&payload, &options, &allow),
            ends.peer_to_us(&payload, &options, &allow),
        ];
        matrix.row(format!("  apu + apv, {alg} / {enc}"), cells);
    }

    // The bank's default allow-list must refuse the other pairs on both sides.
    let refused = ends.refused_by_default(&payload);
    matrix.row("default allow-lists refuse other pairs", vec![refused]);

    report(&matrix.render());
    let failures = matrix.failures();
    assert!(
        failures.is_empty(),
        "{} interop failures with {}:\n{}",
        failures.len(),
        peer.name,
        failures.join("\n")
    );
}

/// The peer's library version, or `None` after a SKIPPED line when the peer cannot run (a
/// failure instead under `ALLIANCEPAY_REQUIRE_PEERS=1`).
fn peer_version_or_skip(peer: &Peer, tool: &Tool) -> Option<String> {
    let why = match run_line(tool, &["version"], b"") {
        Ok(version) => return Some(version),
        Err(why) => why,
    };
    // A missing package makes Python or Node print a traceback; its "...Error..." line is the
    // one that says what is missing.
    let gist = why
        .lines()
        .find(|line| line.contains("Error"))
        .or_else(|| why.lines().next())
        .unwrap_or_default()
        .trim();
    alliancepay_tests::peers::missing(
        &format!("interop with {}: {gist}", peer.name),
        &format!("from the workspace root: {}", peer.install),
    );
    None
}

/// Generates a key pair on each side, writes the four key files, and adds the rows for
/// (c) our JWKs in the peer and (d) the peer's JWKs with us: each side imports the other's keys,
/// derives the same public key and computes the same thumbprint.
fn key_rows<'a>(matrix: &mut Matrix, us: &'a Tool, peer: &'a Tool, dir: &TempDir) -> Ends<'a> {
    // Generation and export failures are fatal: nothing else can run without the keys.
    let must = |result: Result<String, String>, what: &str| {
        result.unwrap_or_else(|e| panic!("{}: {what}: {e}", matrix.peer))
    };
    let ours_private = must(run_line(us, &["keygen"], b""), "our keygen");
    let ours_public = must(
        run_line(us, &["public"], ours_private.as_bytes()),
        "our public",
    );
    let peers_private = must(run_line(peer, &["keygen"], b""), "peer keygen");
    let peers_public = must(
        run_line(peer, &["public"], peers_private.as_bytes()),
        "peer public",
    );
    let ends = Ends {
        us,
        peer,
        ours_private: dir.file("ours.jwk", &ours_private),
        ours_public: dir.file("ours.pub.jwk", &ours_public),
        peers_private: dir.file("peer.jwk", &peers_private),
        peers_public: dir.file("peer.pub.jwk", &peers_public),
    };

    let ours_thumbprint = run_line(us, &["thumbprint", &ends.ours_public], b"");
    matrix.row(
        "our public JWK: peer thumbprint equals ours",
        vec![same_thumbprint(
            &ours_thumbprint,
            &run_line(peer, &["thumbprint", &ends.ours_public], b""),
        )],
    );
    matrix.row(
        "our private JWK: peer thumbprint equals ours",
        vec![same_thumbprint(
            &ours_thumbprint,
            &run_line(peer, &["thumbprint", &ends.ours_private], b""),
        )],
    );
    matrix.row(
        "our private JWK: peer derives the same public",
        vec![same_public_key(
            &ours_public,
            run_line(peer, &["public"], ours_private.as_bytes()),
        )],
    );

    let peers_thumbprint = run_line(peer, &["thumbprint", &ends.peers_public], b"");
    matrix.row(
        "peer public JWK: our thumbprint equals peer's",
        vec![same_thumbprint(
            &peers_thumbprint,
            &run_line(us, &["thumbprint", &ends.peers_public], b""),
        )],
    );
    matrix.row(
        "peer private JWK: our thumbprint equals peer's",
        vec![same_thumbprint(
            &peers_thumbprint,
            &run_line(us, &["thumbprint", &ends.peers_private], b""),
        )],
    );
    matrix.row(
        "peer private JWK: we derive the same public",
        vec![same_public_key(
            &peers_public,
            run_line(us, &["public"], peers_private.as_bytes()),
        )],
    );
    ends
}

/// Both sides of an exchange, with their key files.
struct Ends<'a> {
    us: &'a Tool,
    peer: &'a Tool,
    ours_private: String,
    ours_public: String,
    peers_private: String,
    peers_public: String,
}

impl Ends<'_> {
    /// (a) We encrypt to the peer's public key; the peer decrypts to the same bytes.
    fn us_to_peer(&self, payload: &[u8], options: &[&str], allow: &[&str]) -> Outcome {
        let token = match encrypt(self.us, options, &self.peers_public, payload) {
            Ok(token) => token,
            Err(e) => return Outcome::Fail(format!("we could not encrypt: {e}")),
        };
        match decrypt(self.peer, allow, &self.peers_private, &token) {
            Ok(plaintext) => same_bytes(payload, &plaintext),
            Err(e) if payload.is_empty() => self.empty_payload_limitation(&e, options, allow),
            Err(e) => Outcome::Fail(format!("peer refused our token {token}: {e}")),
        }
    }

    /// (b) The peer encrypts to our public key; we decrypt to the same bytes.
    fn peer_to_us(&self, payload: &[u8], options: &[&str], allow: &[&str]) -> Outcome {
        let token = match encrypt(self.peer, options, &self.ours_public, payload) {
            Ok(token) => token,
            Err(e) => return Outcome::Fail(format!("peer could not encrypt: {e}")),
        };
        match decrypt(self.us, allow, &self.ours_private, &token) {
            Ok(plaintext) => same_bytes(payload, &plaintext),
            // An interop bug on our side: keep the exact token in the message for the report.
            Err(e) => Outcome::Fail(format!("we refused the peer's token {token}: {e}")),
        }
    }

    /// jwcrypto 1.6.1 refuses every empty plaintext, even from its own encrypt: `JWE.decrypt`
    /// tests `if not self.plaintext` after a successful decryption. The cell is a limitation only
    /// if the peer also refuses its own empty token; otherwise it is our failure.
    fn empty_payload_limitation(&self, error: &str, options: &[&str], allow: &[&str]) -> Outcome {
        let own = encrypt(self.peer, options, &self.peers_public, b"")
            .and_then(|token| decrypt(self.peer, allow, &self.peers_private, &token));
        match own {
            Err(_) => Outcome::PeerLimitation(format!(
                "the peer refuses empty plaintexts, its own tokens too ({})",
                error.rsplit(": ").next().unwrap_or_default()
            )),
            Ok(_) => Outcome::Fail(format!(
                "peer refused our empty-payload token but accepts its own: {error}"
            )),
        }
    }

    /// Without `--allow-all`, both sides refuse a token outside the bank's profile.
    fn refused_by_default(&self, payload: &[u8]) -> Outcome {
        let options = ["--alg", "ECDH-ES+A128KW", "--enc", "A128GCM"];
        let ours = encrypt(self.us, &options, &self.peers_public, payload)
            .map(|token| decrypt(self.peer, &[], &self.peers_private, &token));
        let theirs = encrypt(self.peer, &options, &self.ours_public, payload)
            .map(|token| decrypt(self.us, &[], &self.ours_private, &token));
        match (ours, theirs) {
            (Ok(Err(_)), Ok(Err(_))) => Outcome::Pass,
            (Err(e), _) | (_, Err(e)) => Outcome::Fail(format!("encrypt failed: {e}")),
            _ => Outcome::Fail("a default allow-list accepted ECDH-ES+A128KW / A128GCM".into()),
        }
    }
}

fn encrypt(
    tool: &Tool,
    options: &[&str],
    public_file: &str,
    payload: &[u8],
) -> Result<String, String> {
    let mut args = vec!["encrypt"];
    args.extend_from_slice(options);
    args.push(public_file);
    run_line(tool, &args, payload)
}

fn decrypt(
    tool: &Tool,
    allow: &[&str],
    private_file: &str,
    token: &str,
) -> Result<Vec<u8>, String> {
    let mut args = vec!["decrypt"];
    args.extend_from_slice(allow);
    args.push(private_file);
    run(tool, &args, format!("{token}\n").as_bytes())
}

fn same_bytes(expected: &[u8], actual: &[u8]) -> Outcome {
    if expected == actual {
        return Outcome::Pass;
    }
    let first_difference = expected
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    Outcome::Fail(format!(
        "plaintext differs: expected {} bytes, got {}, first difference at byte {first_difference}",
        expected.len(),
        actual.len()
    ))
}

fn same_thumbprint(expected: &Result<String, String>, actual: &Result<String, String>) -> Outcome {
    match (expected, actual) {
        (Ok(a), Ok(b)) if a == b => Outcome::Pass,
        (Ok(a), Ok(b)) => Outcome::Fail(format!("thumbprints differ: {a} vs {b}")),
        (Err(e), _) | (_, Err(e)) => Outcome::Fail(e.clone()),
    }
}

/// Two public JWK texts name the same key: same `kty`, `crv`, `x`, `y` (member order and the
/// optional members may differ between libraries).
fn same_public_key(expected: &str, actual: Result<String, String>) -> Outcome {
    let actual = match actual {
        Ok(text) => text,
        Err(e) => return Outcome::Fail(e),
    };
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text);
    match (parse(expected), parse(&actual)) {
        (Ok(a), Ok(b)) => {
            let required = ["kty", "crv", "x", "y"];
            if b.get("d").is_some() {
                Outcome::Fail(format!("public JWK carries \"d\": {actual}"))
            } else if required
                .iter()
                .all(|m| a.get(m).is_some() && a.get(m) == b.get(m))
            {
                Outcome::Pass
            } else {
                Outcome::Fail(format!("public keys differ: {expected} vs {actual}"))
            }
        }
        _ => Outcome::Fail(format!("not JSON: {expected} / {actual}")),
    }
}
