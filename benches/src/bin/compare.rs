//! Same-run comparison of our JWE against its peers for the bank's profile (`ECDH-ES+A256KW`,
//! `A256GCM`, P-384) and a 399-byte session payload.
//!
//! In this process: ours, `josekit` (OpenSSL), AWS-LC through `aws-lc-rs` (the practical
//! ceiling, `alliancepay_benches::awslc`) and bare `p384` arithmetic (the floor our JOSE layer
//! sits on), on the same key and payload, alternating in rounds so that a noisy neighbour hurts
//! all of them alike. Then, as subprocesses on the same key, payload and token, Python
//! `jwcrypto` and Node `jose` through the scripts in `benches/peers/`, and, with `--hazmat BIN`,
//! our hazmat build (this binary built with `--features hazmat`, serving with `--serve`). Each
//! token every implementation makes is decrypted by another one first, so all of them do the
//! same work.
//!
//! josekit and aws-lc-rs are linked only with the crate's `peers` feature (they need OpenSSL's
//! headers and a C compiler); without it they are reported as not built and left out.
//!
//! Ours is the default build: `p384`'s fiat backend (the workspace's `.cargo/config.toml`) and
//! its basepoint table (alliancepay-jose's `precomputed-tables`, as alliancepay-http uses it).
//!
//! Output: one `OP IMPL OPS_PER_S` line per measurement (the median over rounds), then
//! `OP ratio OURS/PEER VALUE` lines. Lines starting with `#` are notes. See `benches/README.md`.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::time::Instant;

use alliancepay_benches::{Fixture, rng};
use alliancepay_jose::{AllowList, EncryptOptions, PrivateJwk, decrypt, encrypt, token_len};
use base64ct::{Base64UrlUnpadded, Encoding};
#[cfg(feature = "peers")]
use josekit::{
    jwe::{self, ECDH_ES_A256KW, JweHeader},
    jwk::{Jwk, alg::ec::EcCurve},
};
use p384::elliptic_curve::Generate;
use p384::elliptic_curve::sec1::ToSec1Point;
use p384::{PublicKey, SecretKey, ecdh::EphemeralSecret};

/// This build's name for ours: the default build, or the one with `hazmat-scalar-mul`.
const OURS: &str = if cfg!(feature = "hazmat") {
    "ours-hazmat"
} else {
    "ours"
};
const BARE: &str = "bare-p384";
const JOSEKIT: &str = "josekit";
const AWS_LC: &str = "aws-lc-rs";
const OPS: [&str; 3] = ["keygen", "encrypt", "decrypt"];

const USAGE: &str = "\
usage: compare [--rounds N] [--seconds S] [--ops LIST] [--no-peers] [--hazmat BIN]
       compare --write-fixture DIR
       compare --dir DIR --serve
       compare --callgrind OP COUNT [--impl ours|josekit|aws-lc-rs|bare-p384]

  --rounds N         rounds of alternating measurements, median reported (default 10)
  --seconds S        length of one measurement of one implementation (default 0.25)
  --ops LIST         comma-separated subset of keygen,encrypt,decrypt (default all)
  --no-peers         skip the Python jwcrypto and Node jose subprocesses
  --hazmat BIN       also measure BIN, this program built with --features hazmat, as a peer
  --serve            measure ours on the fixture in --dir DIR when asked (the peer protocol)
  --write-fixture    write a key, the 399-byte payload and a token of ours into DIR and exit
  --callgrind        do COUNT operations of one kind, untimed, for instruction counting;
                     run it once more with COUNT 0 and subtract that baseline";

struct Args {
    rounds: usize,
    seconds: f64,
    ops: Vec<&'static str>,
    peers: bool,
    write_fixture: Option<PathBuf>,
    callgrind: Option<(&'static str, u64)>,
    implementation: String,
    hazmat: Option<PathBuf>,
    serve: bool,
    dir: Option<PathBuf>,
}

fn parse_op(text: &str) -> Result<&'static str, String> {
    OPS.iter()
        .copied()
        .find(|op| *op == text)
        .ok_or_else(|| format!("unknown operation {text:?}"))
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        rounds: 10,
        seconds: 0.25,
        ops: OPS.to_vec(),
        peers: true,
        write_fixture: None,
        callgrind: None,
        implementation: "ours".to_owned(),
        hazmat: None,
        serve: false,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--rounds" => {
                args.rounds = value("--rounds")?
                    .parse()
                    .map_err(|e| format!("--rounds: {e}"))?;
            }
            "--seconds" => {
                args.seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?;
            }
            "--ops" => {
                args.ops = value("--ops")?
                    .split(',')
                    .map(parse_op)
                    .collect::<Result<_, _>>()?;
            }
            "--no-peers" => args.peers = false,
            "--write-fixture" => args.write_fixture = Some(value("--write-fixture")?.into()),
            "--callgrind" => {
                let op = parse_op(&value("--callgrind")?)?;
                let count = value("--callgrind")?
                    .parse()
                    .map_err(|e| format!("--callgrind COUNT: {e}"))?;
                args.callgrind = Some((op, count));
            }
            "--impl" => args.implementation = value("--impl")?,
            "--hazmat" => args.hazmat = Some(value("--hazmat")?.into()),
            "--serve" => args.serve = true,
            "--dir" => args.dir = Some(value("--dir")?.into()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.rounds == 0 || args.seconds.is_nan() || args.seconds <= 0.0 {
        return Err("--rounds and --seconds must be positive".to_owned());
    }
    Ok(args)
}

/// Everything the measured closures share, prepared once, outside any timing.
struct Subjects {
    fixture: Fixture,
    /// The ephemeral public key inside `fixture.token`: what bare ECDH on decrypt multiplies.
    token_epk: PublicKey,
    #[cfg(feature = "peers")]
    linked: Linked,
}

/// The in-process peers (feature `peers`), keyed to the fixture.
#[cfg(feature = "peers")]
struct Linked {
    josekit_encrypter: jwe::alg::ecdh_es::EcdhEsJweEncrypter,
    josekit_decrypter: jwe::alg::ecdh_es::EcdhEsJweDecrypter,
    josekit_header: JweHeader,
    aws_lc: alliancepay_benches::awslc::AwsLcJwe,
    /// A token made by AWS-LC: what its decrypt measurement opens (ours opens it too).
    aws_lc_token: String,
}

#[cfg(feature = "peers")]
impl Linked {
    fn new(fixture: &Fixture) -> Result<Self, String> {
        let public = Jwk::from_bytes(fixture.public_json.as_bytes()).map_err(|e| e.to_string())?;
        let private =
            Jwk::from_bytes(fixture.private_json.as_bytes()).map_err(|e| e.to_string())?;
        let josekit_encrypter = ECDH_ES_A256KW
            .encrypter_from_jwk(&public)
            .map_err(|e| e.to_string())?;
        let josekit_decrypter = ECDH_ES_A256KW
            .decrypter_from_jwk(&private)
            .map_err(|e| e.to_string())?;
        let mut josekit_header = JweHeader::new();
        josekit_header.set_content_encryption("A256GCM");
        let aws_lc =
            alliancepay_benches::awslc::AwsLcJwe::new(&fixture.recipient.secret_key().to_bytes())?;
        let aws_lc_token = aws_lc.encrypt(&fixture.payload)?;
        Ok(Self {
            josekit_encrypter,
            josekit_decrypter,
            josekit_header,
            aws_lc,
            aws_lc_token,
        })
    }

    /// Each peer's token opens with ours and ours with the peer: proof that the measurements
    /// do the same work.
    fn cross_check(&self, fx: &Fixture) -> Result<(), String> {
        let (plain, _) = jwe::deserialize_compact(&fx.token, &self.josekit_decrypter)
            .map_err(|e| format!("josekit cannot decrypt our token: {e}"))?;
        if plain != fx.payload {
            return Err("josekit decrypted our token to other bytes".to_owned());
        }
        let theirs =
            jwe::serialize_compact(&fx.payload, &self.josekit_header, &self.josekit_encrypter)
                .map_err(|e| format!("josekit encrypt: {e}"))?;
        check_ours_opens("josekit", &fx.recipient, &theirs, &fx.payload)?;
        println!(
            "# checked: josekit opens our token ({} bytes); we open josekit's ({} bytes)",
            fx.token.len(),
            theirs.len()
        );
        if self.aws_lc.decrypt(&fx.token)? != fx.payload {
            return Err("aws-lc-rs decrypted our token to other bytes".to_owned());
        }
        check_ours_opens(AWS_LC, &fx.recipient, &self.aws_lc_token, &fx.payload)?;
        println!("# checked: aws-lc-rs opens our token; we open aws-lc-rs's");
        Ok(())
    }
}

impl Subjects {
    fn new() -> Result<Self, String> {
        Self::with_fixture(Fixture::new())
    }

    fn with_fixture(fixture: Fixture) -> Result<Self, String> {
        let token_epk = epk_of(&fixture.token)?;
        Ok(Self {
            #[cfg(feature = "peers")]
            linked: Linked::new(&fixture)?,
            fixture,
            token_epk,
        })
    }

    /// One closure doing one operation of one implementation; `None` if it has no such thing.
    fn job(&self, op: &str, implementation: &str) -> Option<Box<dyn FnMut() + '_>> {
        let fx = &self.fixture;
        let recipient_public = fx.recipient.public_jwk();
        let mut rng = rng();
        let job: Box<dyn FnMut() + '_> = match (op, implementation) {
            ("keygen", "ours") => Box::new(move || {
                let key = PrivateJwk::generate(&mut rng).expect("OS random source");
                black_box(key.public_jwk().coordinates());
            }),
            ("encrypt", "ours") => {
                let mut out = vec![0u8; token_len(fx.payload.len())];
                Box::new(move || {
                    let token = encrypt(
                        recipient_public,
                        &fx.payload,
                        &EncryptOptions::BANK,
                        &mut rng,
                        &mut out,
                    )
                    .expect("our encrypt");
                    black_box(token);
                })
            }
            ("decrypt", "ours") => {
                let mut out = vec![0u8; fx.payload.len()];
                Box::new(move || {
                    let plain = decrypt(
                        &fx.recipient,
                        fx.token.as_bytes(),
                        AllowList::default(),
                        &mut out,
                    )
                    .expect("our decrypt");
                    black_box(plain);
                })
            }
            #[cfg(feature = "peers")]
            ("keygen", "josekit") => Box::new(|| {
                let pair = ECDH_ES_A256KW
                    .generate_ec_key_pair(EcCurve::P384)
                    .expect("josekit keygen");
                black_box(pair);
            }),
            #[cfg(feature = "peers")]
            ("encrypt", "josekit") => Box::new(|| {
                let token = jwe::serialize_compact(
                    &fx.payload,
                    &self.linked.josekit_header,
                    &self.linked.josekit_encrypter,
                )
                .expect("josekit encrypt");
                black_box(token);
            }),
            #[cfg(feature = "peers")]
            ("decrypt", "josekit") => Box::new(|| {
                let plain = jwe::deserialize_compact(&fx.token, &self.linked.josekit_decrypter)
                    .expect("josekit decrypt");
                black_box(plain);
            }),
            #[cfg(feature = "peers")]
            ("keygen", AWS_LC) => Box::new(|| {
                black_box(self.linked.aws_lc.keygen().expect("aws-lc-rs keygen"));
            }),
            #[cfg(feature = "peers")]
            ("encrypt", AWS_LC) => Box::new(|| {
                black_box(
                    self.linked
                        .aws_lc
                        .encrypt(&fx.payload)
                        .expect("aws-lc-rs encrypt"),
                );
            }),
            #[cfg(feature = "peers")]
            ("decrypt", AWS_LC) => Box::new(|| {
                black_box(
                    self.linked
                        .aws_lc
                        .decrypt(&self.linked.aws_lc_token)
                        .expect("aws-lc-rs decrypt"),
                );
            }),
            // The arithmetic our JOSE layer cannot avoid: a key pair (one fixed-base
            // multiplication, one inversion to affine) and, for encrypt and decrypt, the
            // variable-base multiplication of ECDH with its own inversion.
            ("keygen", "bare-p384") => Box::new(move || {
                let secret = SecretKey::try_generate_from_rng(&mut rng).expect("OS random source");
                black_box(secret.public_key().to_sec1_point(false));
            }),
            ("encrypt", "bare-p384") => Box::new(move || {
                let ephemeral =
                    EphemeralSecret::try_generate_from_rng(&mut rng).expect("OS random source");
                black_box(ephemeral.public_key().to_sec1_point(false));
                let shared = ephemeral.diffie_hellman(recipient_public.public_key());
                black_box(shared.raw_secret_bytes());
            }),
            ("decrypt", "bare-p384") => Box::new(|| {
                let shared = p384::ecdh::diffie_hellman(
                    fx.recipient.secret_key().to_nonzero_scalar(),
                    self.token_epk.as_affine(),
                );
                black_box(shared.raw_secret_bytes());
            }),
            _ => return None,
        };
        Some(job)
    }

    /// Each in-process peer's token opens with ours and ours with the peer; without the
    /// `peers` feature, a note that they were not built.
    fn cross_check(&self) -> Result<(), String> {
        #[cfg(feature = "peers")]
        return self.linked.cross_check(&self.fixture);
        #[cfg(not(feature = "peers"))]
        {
            println!(
                "# {JOSEKIT} and {AWS_LC} not measured: they need `--features peers` \
                 (OpenSSL headers, a C compiler and cmake; benches/compare.sh turns it on)"
            );
            Ok(())
        }
    }
}

fn check_ours_opens(
    peer: &str,
    key: &PrivateJwk,
    token: &str,
    payload: &[u8],
) -> Result<(), String> {
    let mut out = vec![0u8; payload.len()];
    let plain = decrypt(key, token.trim().as_bytes(), AllowList::default(), &mut out)
        .map_err(|e| format!("we cannot decrypt {peer}'s token: {e}"))?;
    if plain != payload {
        return Err(format!("{peer}'s token decrypted to other bytes"));
    }
    Ok(())
}

/// The `epk` of one of our tokens, read with our own header parser.
fn epk_of(token: &str) -> Result<PublicKey, String> {
    let text = token.split('.').next().unwrap_or_default();
    let mut json = [0u8; alliancepay_jose::MAX_HEADER_LEN];
    let json = Base64UrlUnpadded::decode(text, &mut json).map_err(|e| e.to_string())?;
    let header = alliancepay_jose::ProtectedHeader::parse(json).map_err(|e| e.to_string())?;
    Ok(header.epk)
}

/// Runs `job` for about `seconds`; returns operations per second.
fn measure(job: &mut dyn FnMut(), seconds: f64) -> f64 {
    let start = Instant::now();
    let mut count = 0u64;
    loop {
        job();
        count += 1;
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= seconds {
            return count as f64 / elapsed;
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// (op, impl) → ops/s, in print order.
type Results = Vec<(String, String, f64)>;

/// A peer script running beside us in `--serve` mode: it has loaded the same key, payload and
/// token, and measures one operation for the time we ask whenever we ask, so that it takes its
/// turn in the same rotation as the in-process implementations.
struct Peer {
    name: &'static str,
    child: Child,
    requests: ChildStdin,
    replies: BufReader<ChildStdout>,
}

impl Peer {
    /// Starts `command` on the files in `dir` and waits until it has checked that it opens our
    /// token; then checks that ours opens the token it left in `dir`.
    fn start(
        name: &'static str,
        mut command: Command,
        dir: &Path,
        fixture: &Fixture,
    ) -> Result<Self, String> {
        let mut child = command
            .arg("--dir")
            .arg(dir)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("could not start: {e}"))?;
        let (Some(requests), Some(replies)) = (child.stdin.take(), child.stdout.take()) else {
            unreachable!("both pipes were requested");
        };
        let mut peer = Self {
            name,
            child,
            requests,
            replies: BufReader::new(replies),
        };
        let ready = peer.read_line()?;
        if ready != "ready" {
            return Err(format!("said {ready:?} instead of ready"));
        }
        let token = std::fs::read_to_string(dir.join(format!("{name}.jwe")))
            .map_err(|e| format!("left no token: {e}"))?;
        check_ours_opens(name, &fixture.recipient, &token, &fixture.payload)?;
        println!("# checked: {name} opens our token; we open {name}'s");
        Ok(peer)
    }

    fn read_line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.replies.read_line(&mut line) {
            Ok(0) => Err("exited early".to_owned()),
            Ok(_) => Ok(line.trim().to_owned()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn measure(&mut self, op: &str, seconds: f64) -> Result<f64, String> {
        writeln!(self.requests, "{op} {seconds}").map_err(|e| e.to_string())?;
        self.requests.flush().map_err(|e| e.to_string())?;
        let reply = self.read_line()?;
        reply
            .parse()
            .map_err(|_| format!("answered {reply:?} to {op}"))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Closing its stdin ends the serve loop; wait so no process outlives the run.
        let _ = self.requests.flush();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the peers that are installed; says which are not and why.
fn start_peers(fixture: &Fixture, dir: &Path, hazmat: Option<&Path>) -> Vec<Peer> {
    if let Err(e) = fixture.write_dir(dir) {
        println!("# peers skipped: cannot write {}: {e}", dir.display());
        return Vec::new();
    }
    let root = workspace_root();
    let python = std::env::var("INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let node = std::env::var("INTEROP_NODE").unwrap_or_else(|_| "node".to_owned());
    let mut python_command = Command::new(python);
    python_command.arg(root.join("benches/peers/jwcrypto_bench.py"));
    let mut node_command = Command::new(node);
    node_command.arg(root.join("benches/peers/jose_bench.mjs"));
    let mut peers = Vec::new();
    let mut commands = vec![("jwcrypto", python_command), ("node-jose", node_command)];
    if let Some(binary) = hazmat {
        commands.insert(0, ("ours-hazmat", Command::new(binary)));
    }
    for (name, command) in commands {
        match Peer::start(name, command, dir, fixture) {
            Ok(peer) => peers.push(peer),
            Err(e) => println!("# {name} not measured: {e}"),
        }
    }
    peers
}

/// One turn in a round: an in-process closure or a request to a peer process.
enum Turn<'a> {
    InProcess(&'static str, Box<dyn FnMut() + 'a>),
    Peer(usize),
}

fn run_rounds(subjects: &Subjects, peers: &mut [Peer], args: &Args) -> Results {
    let in_process = [
        ("ours", OURS),
        (AWS_LC, AWS_LC),
        (JOSEKIT, JOSEKIT),
        ("bare-p384", BARE),
    ];
    let mut samples: BTreeMap<(&str, String), Vec<f64>> = BTreeMap::new();
    let mut failed = vec![false; peers.len()];
    for &op in &args.ops {
        let mut turns: Vec<Turn<'_>> = in_process
            .iter()
            .filter_map(|&(name, label)| {
                subjects
                    .job(op, name)
                    .map(|job| Turn::InProcess(label, job))
            })
            .collect();
        turns.extend((0..peers.len()).map(Turn::Peer));
        // Warm caches, page in code, and (with tables) build p384's table before any timing;
        // the peers warm up on their first request.
        for turn in &mut turns {
            if let Turn::InProcess(_, job) = turn {
                measure(job.as_mut(), args.seconds.min(0.1));
            }
        }
        for round in 0..args.rounds {
            // Rotate who goes first, so that no implementation always follows the same one.
            let n = turns.len();
            for k in 0..n {
                match &mut turns[(round + k) % n] {
                    Turn::InProcess(label, job) => {
                        let rate = measure(job.as_mut(), args.seconds);
                        samples
                            .entry((op, (*label).to_owned()))
                            .or_default()
                            .push(rate);
                    }
                    Turn::Peer(i) if !failed[*i] => {
                        let peer = &mut peers[*i];
                        match peer.measure(op, args.seconds) {
                            Ok(rate) => samples
                                .entry((op, peer.name.to_owned()))
                                .or_default()
                                .push(rate),
                            Err(e) => {
                                println!("# {} stopped: {e}", peer.name);
                                failed[*i] = true;
                            }
                        }
                    }
                    Turn::Peer(_) => {}
                }
            }
        }
    }
    let mut results = Results::new();
    let names = in_process
        .iter()
        .map(|&(_, label)| label)
        .chain(peers.iter().map(|p| p.name));
    let names: Vec<&str> = names.collect();
    for &op in &args.ops {
        for &name in &names {
            if let Some(values) = samples.get_mut(&(op, name.to_owned())) {
                results.push((op.to_owned(), name.to_owned(), median(values)));
            }
        }
    }
    results
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn print_results(results: &Results) {
    for (op, implementation, rate) in results {
        println!("{op} {implementation} {rate:.1}");
    }
    for op in OPS {
        let rate_of = |name: &str| {
            results
                .iter()
                .find(|(o, i, _)| o == op && i == name)
                .map(|r| r.2)
        };
        for build in [OURS, "ours-hazmat"] {
            let Some(ours) = rate_of(build) else { continue };
            for (o, peer, rate) in results {
                if o == op && peer != build {
                    println!("{op} ratio {build}/{peer} {:.2}", ours / rate);
                }
            }
        }
        let Some(ours) = rate_of(OURS) else { continue };
        if let Some(bare) = rate_of(BARE) {
            // Time per operation over the bare arithmetic's: what the JOSE layer costs.
            println!(
                "# {op}: JOSE layer costs {:+.1} % over {BARE}",
                (bare / ours - 1.0) * 100.0
            );
        }
    }
}

/// The first fixed-base multiplication in the process builds p384's basepoint table. Its time,
/// and that of the next one, is the first-use cost.
fn report_first_use() {
    let mut rng = rng();
    let secrets: Vec<_> = (0..2)
        .map(|_| SecretKey::try_generate_from_rng(&mut rng).expect("OS random source"))
        .collect();
    let mut times = Vec::new();
    for secret in &secrets {
        let start = Instant::now();
        let point = secret.public_key();
        times.push(start.elapsed());
        black_box(point);
    }
    // p384 keeps 49 tables of 8 projective points (1 + 48 bytes of scalar, radix 16, every
    // other digit) in one static.
    let table_bytes = 49 * 8 * size_of::<p384::ProjectivePoint>();
    println!(
        "# first fixed-base multiplication (builds the table): {:.0} us; the next: {:.0} us; \
         table: {table_bytes} bytes of static memory",
        times[0].as_secs_f64() * 1e6,
        times[1].as_secs_f64() * 1e6,
    );
}

fn run_callgrind(op: &str, count: u64, implementation: &str) -> Result<(), String> {
    let subjects = Subjects::new()?;
    let mut job = subjects.job(op, implementation).ok_or_else(|| {
        let linked = if cfg!(feature = "peers") {
            ""
        } else {
            "; josekit and aws-lc-rs need --features peers"
        };
        format!("no {op} for {implementation:?} (ours, josekit, aws-lc-rs, bare-p384{linked})")
    })?;
    // One operation outside the count, in the baseline too: first-use costs (p384's basepoint
    // table, lazy initialisation in the peers' libraries) are then not charged per operation.
    job();
    for _ in 0..count {
        job();
    }
    eprintln!("# callgrind mode: {count} x {op} by {implementation}");
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("compare: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = if let Some((op, count)) = args.callgrind {
        run_callgrind(op, count, &args.implementation)
    } else if args.serve {
        match &args.dir {
            Some(dir) => serve(dir),
            None => Err("--serve needs --dir DIR".to_owned()),
        }
    } else if let Some(dir) = &args.write_fixture {
        Fixture::new()
            .write_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))
    } else {
        compare(&args)
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::FAILURE
        }
    }
}

fn compare(args: &Args) -> Result<(), String> {
    report_first_use();
    let subjects = Subjects::new()?;
    subjects.cross_check()?;
    println!(
        "# {} rounds of {} s per implementation and operation; medians; payload {} bytes",
        args.rounds,
        args.seconds,
        subjects.fixture.payload.len()
    );
    let dir = std::env::temp_dir().join(format!("alliancepay-compare-{}", std::process::id()));
    let mut peers = if args.peers || args.hazmat.is_some() {
        start_peers(&subjects.fixture, &dir, args.hazmat.as_deref())
    } else {
        Vec::new()
    };
    if !args.peers {
        peers.retain(|peer| peer.name == "ours-hazmat");
    }
    let results = run_rounds(&subjects, &mut peers, args);
    drop(peers);
    let _ = std::fs::remove_dir_all(&dir);
    print_results(&results);
    Ok(())
}

/// The peer protocol (see `Peer`), for a build of ours run by another `compare`: loads the
/// fixture that one wrote to `dir`, leaves a token of its own there, says `ready`, then answers
/// each `OP SECONDS` line with the ops/s of OP measured for SECONDS.
fn serve(dir: &Path) -> Result<(), String> {
    let read =
        |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{}: {e}", name));
    let private_json = read("recipient.jwk")?.trim().to_owned();
    let recipient = PrivateJwk::from_json(private_json.as_bytes()).map_err(|e| e.to_string())?;
    let fixture = Fixture {
        recipient,
        private_json,
        public_json: read("recipient.pub.jwk")?.trim().to_owned(),
        payload: std::fs::read(dir.join("payload.json")).map_err(|e| e.to_string())?,
        token: read("token.jwe")?.trim().to_owned(),
    };
    check_ours_opens(
        "the caller",
        &fixture.recipient,
        &fixture.token,
        &fixture.payload,
    )?;
    let mut out = vec![0u8; token_len(fixture.payload.len())];
    let token = encrypt(
        fixture.recipient.public_jwk(),
        &fixture.payload,
        &EncryptOptions::BANK,
        &mut rng(),
        &mut out,
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(dir.join(format!("{OURS}.jwe")), token).map_err(|e| e.to_string())?;
    let subjects = Subjects::with_fixture(fixture)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ready").map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    let mut jobs = BTreeMap::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        let mut words = line.split_whitespace();
        let (Some(op), Some(seconds)) = (words.next(), words.next()) else {
            return Err(format!("unexpected request {line:?}"));
        };
        let seconds: f64 = seconds
            .parse()
            .map_err(|_| format!("bad seconds in {line:?}"))?;
        let op = parse_op(op)?;
        if !jobs.contains_key(op) {
            let mut job = subjects
                .job(op, "ours")
                .ok_or_else(|| format!("no {op} job"))?;
            measure(job.as_mut(), seconds.min(0.1)); // warm-up, as compare does in process
            jobs.insert(op, job);
        }
        let job = jobs.get_mut(op).ok_or("job just inserted")?;
        let rate = measure(job.as_mut(), seconds);
        writeln!(stdout, "{rate}").map_err(|e| e.to_string())?;
        stdout.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}
