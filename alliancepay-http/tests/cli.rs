//! The `alliancepay` binary as a user runs it: offline tools, `simulate` driven by the other
//! commands over loopback, and `demo`.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn alliancepay(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alliancepay"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(args: &[&str], stdin: &[u8]) -> String {
    let out = alliancepay(args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args, b"")).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn offline_tools() {
    let dir_tmp = tempfile::tempdir().unwrap();
    let dir = dir_tmp.path().to_owned();
    let keys = json(&["keygen", "--out", s(&dir), "--json"]);
    let (private, public) = (dir.join("merchant.jwk"), dir.join("merchant.pub.jwk"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Same thumbprint from either file; keygen refuses to overwrite.
    assert_eq!(
        ok(&["thumbprint", s(&public)], b"").trim(),
        keys["thumbprint"]
    );
    assert_eq!(
        ok(&["thumbprint", s(&private)], b"").trim(),
        keys["thumbprint"]
    );
    let again = alliancepay(&["keygen", "--out", s(&dir)], b"");
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));

    let token = ok(&["encrypt", "--key", s(&public)], b"{\"amount\":100}");
    assert_eq!(token.trim().split('.').count(), 5);
    assert_eq!(
        ok(&["decrypt", "--key", s(&private)], token.as_bytes()),
        "{\"amount\":100}"
    );

    // A stranger's key: exit 1 and one line on stderr.
    let other_tmp = tempfile::tempdir().unwrap();
    let other = other_tmp.path().to_owned();
    ok(&["keygen", "--out", s(&other)], b"");
    let refused = alliancepay(
        &["decrypt", "--key", s(&other.join("merchant.jwk"))],
        token.as_bytes(),
    );
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot decrypt"), "{stderr}");
    // Usage errors are exit 2.
    assert_eq!(alliancepay(&["encrypt"], b"").status.code(), Some(2));
}

/// `order create --json` of `amount` kopecks for merchant-1 (bank options to be added).
fn create_args(amount: &str) -> Vec<String> {
    [
        "order",
        "create",
        "--json",
        "--merchant-id",
        "merchant-1",
        "--amount",
        amount,
        "--customer-id",
        "c-1",
        "--success-url",
        "https://shop.example/ok",
        "--fail-url",
        "https://shop.example/fail",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// `simulate` in the background, the online commands against it.
#[test]
fn simulate_authorize_and_orders() {
    let dir_tmp = tempfile::tempdir().unwrap();
    let dir = dir_tmp.path().to_owned();
    ok(&["keygen", "--out", s(&dir)], b"");
    let registration = format!("svc-1:merchant-1:{}", s(&dir.join("merchant.pub.jwk")));
    let mut sim = Command::new(env!("CARGO_BIN_EXE_alliancepay"))
        .args([
            "simulate",
            "--json",
            "--listen",
            "127.0.0.1:0",
            "--token-ttl",
            "600",
            "--merchant",
            &registration,
            "--log-requests",
            s(&dir.join("requests.jsonl")),
            "--max-orders",
            "1000",
            "--callback-retry-scale",
            "0.01",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(sim.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let started: Value = serde_json::from_str(&first_line).unwrap();
    assert_eq!(started["serviceCodes"], serde_json::json!(["svc-1"]));
    let base_url = started["baseUrl"].as_str().unwrap().to_owned();
    let key = dir.join("merchant.jwk");
    let session_file = dir.join("session.json");
    let bank = [
        "--base-url",
        &base_url,
        "--service-code",
        "svc-1",
        "--key",
        s(&key),
        "--session-file",
        s(&session_file),
    ];

    let session = json(&[&["authorize", "--json"], &bank[..]].concat());
    assert!(session["deviceId"].is_string());
    assert!(
        session.get("refreshToken").is_none(),
        "tokens only with --show-secrets"
    );
    let text = ok(&[&["authorize"], &bank[..]].concat(), b"");
    assert!(text.contains("tokens hidden"), "{text}");
    let secrets = json(&[&["authorize", "--json", "--show-secrets"], &bank[..]].concat());
    assert!(secrets["refreshToken"].is_string());

    let create = create_args("4");
    let create: Vec<&str> = create.iter().map(String::as_str).collect();
    let order = json(&[&create[..], &bank[..]].concat());
    assert_eq!(order["orderStatus"], "PENDING");
    let id = order["hppOrderId"].as_str().unwrap();
    let status = json(
        &[
            &["order", "status", "--json", "--hpp-order-id", id],
            &bank[..],
        ]
        .concat(),
    );
    assert_eq!(status["hppOrderId"], id);
    // A field outside the documented limits: exit 1, naming it.
    let bad = alliancepay(
        &[&create[..], &bank[..], &["--notification-url", "mailto:x"]].concat(),
        b"",
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("notificationUrl"));
    // The request log: a request and a response line per call, the refresh token never.
    let log = std::fs::read_to_string(dir.join("requests.jsonl")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 10, "{log}");
    assert!(
        lines
            .iter()
            .any(|l| l["path"] == "/ecom/execute_request/hpp/v1/create-order")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "response" && l["status"] == 200)
    );
    let token = secrets["refreshToken"].as_str().unwrap();
    assert!(
        !log.contains(token),
        "the refresh token is in the request log"
    );
    assert!(log.contains("[redacted]"));
    sim.kill().unwrap();
    let _ = sim.wait();
}

#[test]
fn demo_walks_the_whole_flow() {
    let out = json(&["demo", "--json"]);
    assert_eq!(out["demo"], "ok");
    let steps = out["steps"].as_array().unwrap();
    assert!(steps.len() >= 9, "{steps:?}");
    let last = &steps[steps.len() - 1]["result"];
    assert_eq!(
        last["authorizationsAfter"].as_u64(),
        Some(last["authorizationsBefore"].as_u64().unwrap() + 1)
    );
    assert_ne!(last["oldDeviceId"], last["newDeviceId"]);
}

/// A simulator in this process (so the test can arm faults and count refunds) and the bank
/// options of a merchant registered with it, whose key files the CLI made.
struct Online {
    sim: alliancepay_http::simulator::Simulator,
    dir: PathBuf,
    /// Removes `dir` (and everything the test wrote there) when dropped.
    _dir_guard: tempfile::TempDir,
    base_url: String,
}

impl Online {
    fn start(name: &str) -> Self {
        use alliancepay_http::simulator::{MerchantRegistration, Simulator, SimulatorConfig};
        let dir_tmp = tempfile::Builder::new()
            .prefix(&format!("alliancepay-cli-{name}-"))
            .tempdir()
            .unwrap();
        let dir = dir_tmp.path().to_owned();
        ok(&["keygen", "--out", s(&dir)], b"");
        let public =
            alliancepay_http::store::load_public_key(&dir.join("merchant.pub.jwk")).unwrap();
        let sim = Simulator::start(SimulatorConfig {
            merchants: vec![MerchantRegistration {
                service_code: "svc-1".into(),
                merchant_id: "merchant-1".into(),
                public_key: public,
            }],
            ..SimulatorConfig::default()
        })
        .unwrap();
        let base_url = sim.base_url();
        Self {
            sim,
            dir,
            _dir_guard: dir_tmp,
            base_url,
        }
    }

    fn bank(&self) -> Vec<String> {
        [
            "--base-url",
            &self.base_url,
            "--key",
            s(&self.dir.join("merchant.jwk")),
            "--session-file",
            s(&self.dir.join("session.json")),
            "--timeout-ms",
            "2500",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// `order refund` of `amount` kopecks of `purchase`, with `--merchant-request-id` if given.
    fn refund_args(purchase: &str, amount: &str, id: Option<&str>) -> Vec<String> {
        let mut args = [
            "order",
            "refund",
            "--merchant-id",
            "merchant-1",
            "--operation-id",
            purchase,
            "--amount",
            amount,
        ]
        .map(str::to_owned)
        .to_vec();
        if let Some(id) = id {
            args.extend(["--merchant-request-id".to_owned(), id.to_owned()]);
        }
        args
    }

    /// Runs the CLI with the service code in the environment, as the docs advise.
    fn run<A: AsRef<str>>(&self, args: &[A]) -> Output {
        let mut all: Vec<String> = args.iter().map(|a| a.as_ref().to_owned()).collect();
        all.extend(self.bank());
        Command::new(env!("CARGO_BIN_EXE_alliancepay"))
            .args(&all)
            .env("ALLIANCEPAY_SERVICE_CODE", "svc-1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// A paid purchase: its operation id.
    fn paid_purchase(&self) -> String {
        let created = self.run(&create_args("100000"));
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stderr)
        );
        let order: Value = serde_json::from_slice(&created.stdout).unwrap();
        let id = order["hppOrderId"].as_str().unwrap();
        self.sim
            .pay(id, alliancepay_http::simulator::PaymentOutcome::Success)
            .unwrap();
        let status = self.run(&["order", "status", "--json", "--hpp-order-id", id]);
        let order: Value = serde_json::from_slice(&status.stdout).unwrap();
        order["operations"][0]["operationId"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The re-run command an unknown refund prints, on its own line.
fn rerun_line(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("if the bank has no such operation yet, re-run: "))
        .unwrap_or_else(|| panic!("no re-run line: {stderr}"))
        .to_owned()
}

impl Online {
    /// Runs a printed `alliancepay …` command line through the shell, as a user pastes it.
    fn shell(&self, line: &str) -> Output {
        let rest = line.strip_prefix("alliancepay ").unwrap();
        Command::new("sh")
            .arg("-c")
            .arg(format!("\"$ALLIANCEPAY_BIN\" {rest}"))
            .env("ALLIANCEPAY_BIN", env!("CARGO_BIN_EXE_alliancepay"))
            .env("ALLIANCEPAY_SERVICE_CODE", "svc-1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

/// Issue 9, case 1: a refund re-run with the same `--merchant-request-id` after each fault
/// ends with exactly one refund on the simulator. The first run exits 3 (unknown) and says how
/// to resolve it; the re-run exits 0.
#[test]
fn refund_rerun_after_each_fault_refunds_once() {
    use alliancepay_http::__private::protocol::REFUND_PATH;
    use alliancepay_http::simulator::{Fault, FaultKind};
    let online = Online::start("refund-faults");
    let purchase = online.paid_purchase();
    let faults = [
        FaultKind::ApplyThenFail,
        FaultKind::Truncated,
        FaultKind::ApplyThenDrop,
        FaultKind::DropConnection,
        FaultKind::Status(503),
        FaultKind::Html,
        FaultKind::WrongContentType,
        FaultKind::MissingJwe,
        FaultKind::EmptyJwe,
        FaultKind::UndecryptableJwe,
        FaultKind::Latency(std::time::Duration::from_millis(3000)),
    ];
    for (i, kind) in faults.iter().enumerate() {
        let id = format!("cli-refund-{i}");
        let refund = Online::refund_args(&purchase, "300", Some(&id));
        online.sim.inject(Fault::on(REFUND_PATH, 1, kind.clone()));
        let first = online.run(&refund);
        let text = stderr(&first);
        assert_eq!(first.status.code(), Some(3), "{kind:?}: {text}");
        assert!(
            text.contains(&format!("merchantRequestId {id}")),
            "{kind:?}: {text}"
        );
        assert!(
            text.contains(&format!(
                "To resolve, run: alliancepay order find --merchant-request-id {id} "
            )),
            "{kind:?}: {text}"
        );
        assert!(!text.contains("panicked"), "{text}");
        // The printed re-run is this very command with this id: run it as printed.
        let rerun = rerun_line(&text);
        assert!(
            rerun.starts_with("alliancepay order refund ")
                && rerun.ends_with(&format!(" --merchant-request-id {id}"))
                && rerun.contains(&format!(" --operation-id {purchase} "))
                && rerun.contains(" --amount 300 "),
            "{kind:?}: {rerun}"
        );
        if matches!(kind, FaultKind::Latency(_)) {
            std::thread::sleep(std::time::Duration::from_millis(800));
        }
        let again = online.shell(&rerun);
        assert_eq!(again.status.code(), Some(0), "{kind:?}: {}", stderr(&again));
        let refunds: Vec<Value> = online
            .sim
            .refunds_of(&purchase)
            .into_iter()
            .filter(|r| r["merchantRequestId"] == id.as_str())
            .collect();
        assert_eq!(refunds.len(), 1, "{kind:?}: {refunds:?}");
        assert_eq!(refunds[0]["status"], "SUCCESS", "{kind:?}");
    }
    let all = online.sim.refunds_of(&purchase);
    assert_eq!(
        all.len(),
        faults.len(),
        "one refund per command, not per run"
    );
    println!(
        "CLI: {} faults, {} runs, {} refunds on the simulator",
        faults.len(),
        2 * faults.len(),
        all.len()
    );
    // order find resolves by merchantRequestId; an unknown id says nothing was applied.
    let found = online.run(&[
        "order",
        "find",
        "--json",
        "--merchant-request-id",
        "cli-refund-0",
    ]);
    assert!(found.status.success(), "{}", stderr(&found));
    let op: Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(
        (op["type"].as_str(), op["coinAmount"].as_u64()),
        (Some("REFUND"), Some(300))
    );
    let missing = online.run(&["order", "find", "--merchant-request-id", "never-sent"]);
    assert_eq!(missing.status.code(), Some(1));
    let text = stderr(&missing);
    assert!(
        text.contains("not found yet; re-run the same command with the same --merchant-request-id"),
        "{text}"
    );
    assert!(!text.contains("nothing was applied"), "{text}");
}

/// Without `--merchant-request-id` the generated id is printed before anything is sent; a
/// refused refund exits 1; a refund the bank stored as FAIL with errorDetails is a refusal.
#[test]
fn generated_ids_refusals_and_declines() {
    use alliancepay_http::__private::protocol::REFUND_PATH;
    use alliancepay_http::simulator::{Fault, FaultKind};
    let online = Online::start("refund-ids");
    let purchase = online.paid_purchase();
    let refund = Online::refund_args(&purchase, "300", None);
    online
        .sim
        .inject(Fault::on(REFUND_PATH, 1, FaultKind::ApplyThenFail));
    let first = online.run(&refund);
    assert_eq!(first.status.code(), Some(3));
    let text = stderr(&first);
    let id = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("merchantRequestId "))
        .unwrap_or_else(|| panic!("the id is not the first line: {text}"))
        .to_owned();
    let rerun = Online::refund_args(&purchase, "300", Some(&id));
    assert_eq!(online.run(&rerun).status.code(), Some(0));
    assert_eq!(online.sim.refunds_of(&purchase).len(), 1);

    let too_much = online.run(&Online::refund_args(&purchase, "999999", None));
    assert_eq!(too_much.status.code(), Some(1));
    assert!(stderr(&too_much).contains("b_payment_invalid_refund_amount"));

    online.sim.inject(Fault::on(
        REFUND_PATH,
        1,
        FaultKind::ErrorDetails("b_security_time_in_request_not_correct".into()),
    ));
    let declined = online.run(&refund);
    assert_eq!(declined.status.code(), Some(1), "{}", stderr(&declined));
    assert!(stderr(&declined).contains("b_security_time_in_request_not_correct"));
}

/// Writing the result to a closed pipe or a full disk: one line on stderr, exit 1, no panic.
#[cfg(unix)]
#[test]
fn closed_stdout_and_full_disk_are_one_line_errors() {
    let dir_tmp = tempfile::tempdir().unwrap();
    let dir = dir_tmp.path().to_owned();
    ok(&["keygen", "--out", s(&dir)], b"");
    let public = dir.join("merchant.pub.jwk");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .ok();
    let mut sinks: Vec<(&str, Stdio)> = vec![("closed pipe", writer.into())];
    if let Some(f) = full {
        sinks.push(("/dev/full", f.into()));
    }
    for (name, sink) in sinks {
        let out = Command::new(env!("CARGO_BIN_EXE_alliancepay"))
            .args(["thumbprint", s(&public)])
            .stdout(sink)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {text}");
        assert_eq!(text.lines().count(), 1, "{name}: {text}");
        assert!(text.contains("cannot write to stdout"), "{name}: {text}");
        assert!(!text.contains("panicked"), "{name}: {text}");
    }
}

/// A plain http:// bank that is not loopback is refused before any key or network use.
#[test]
fn plain_http_to_a_remote_bank_is_refused() {
    let out = alliancepay(
        &[
            "authorize",
            "--base-url",
            "http://bank.example",
            "--service-code",
            "svc",
            "--key",
            "/nonexistent/merchant.jwk",
        ],
        b"",
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("plain http") && text.contains("https://"),
        "{text}"
    );
}

/// Two session stores named at once: a usage error naming both options, before any request.
#[test]
fn a_session_file_and_a_session_store_together_are_refused() {
    let out = alliancepay(
        &[
            "authorize",
            "--base-url",
            "http://127.0.0.1:9",
            "--service-code",
            "svc",
            "--key",
            "/nonexistent/merchant.jwk",
            "--session-file",
            "/nonexistent/a.json",
            "--session-store",
            "file:/nonexistent/b.json",
        ],
        b"",
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("--session-file")
            && text.contains("--session-store")
            && text.contains("only one"),
        "{text}"
    );
}

/// Arguments that are not UTF-8 (a session file path) must not make the CLI panic after the
/// write went out, whether it ended done or unknown.
#[cfg(unix)]
#[test]
fn non_utf8_arguments_do_not_panic_after_a_write() {
    use alliancepay_http::__private::protocol::REFUND_PATH;
    use alliancepay_http::simulator::{Fault, FaultKind};
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStrExt;
    let online = Online::start("non-utf8");
    let purchase = online.paid_purchase();
    let session = online
        .dir
        .join(std::ffi::OsStr::from_bytes(b"session-\xff.json"));
    let run = |id: &str| {
        let mut args: Vec<OsString> = Online::refund_args(&purchase, "300", Some(id))
            .into_iter()
            .map(OsString::from)
            .collect();
        args.extend(
            [
                "--base-url",
                &online.base_url,
                "--key",
                s(&online.dir.join("merchant.jwk")),
                "--timeout-ms",
                "2500",
            ]
            .map(OsString::from),
        );
        args.extend([
            OsString::from("--session-file"),
            session.clone().into_os_string(),
        ]);
        Command::new(env!("CARGO_BIN_EXE_alliancepay"))
            .args(&args)
            .env("ALLIANCEPAY_SERVICE_CODE", "svc-1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let done = run("non-utf8-done");
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    online
        .sim
        .inject(Fault::on(REFUND_PATH, 1, FaultKind::ApplyThenFail));
    let unknown = run("non-utf8-unknown");
    let text = stderr(&unknown);
    assert_eq!(unknown.status.code(), Some(3), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    let rerun = rerun_line(&text);
    assert!(
        rerun.ends_with(" --merchant-request-id non-utf8-unknown")
            && rerun.contains("session-\u{fffd}.json"),
        "{rerun}"
    );
    assert_eq!(online.sim.refunds_of(&purchase).len(), 2);
}

/// A refund the bank applied whose result cannot be written to stdout: exit 5 (not 1, after
/// which a script would retry with a new id), and the record on stderr.
#[cfg(unix)]
#[test]
fn a_done_refund_with_a_closed_stdout_exits_5_and_keeps_the_record() {
    let online = Online::start("done-unwritten");
    let purchase = online.paid_purchase();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut args = Online::refund_args(&purchase, "300", Some("unwritten-1"));
    args.extend(online.bank());
    let out = Command::new(env!("CARGO_BIN_EXE_alliancepay"))
        .args(&args)
        .env("ALLIANCEPAY_SERVICE_CODE", "svc-1")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    let refunds = online.sim.refunds_of(&purchase);
    assert_eq!(refunds.len(), 1);
    let op_id = refunds[0]["operationId"].as_str().unwrap();
    assert!(text.contains("cannot write to stdout"), "{text}");
    assert!(
        text.contains(op_id) && text.contains("merchantRequestId unwritten-1"),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
}

/// A reused `--merchant-request-id` the bank already has: exit 4, and what to do, never
/// "refused".
#[test]
fn an_existing_merchant_request_id_exits_4() {
    let online = Online::start("exists");
    let mut create = create_args("4");
    create.extend([
        "--merchant-request-id".to_owned(),
        "order-exists-1".to_owned(),
    ]);
    let first = online.run(&create);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let again = online.run(&create);
    let text = stderr(&again);
    assert_eq!(again.status.code(), Some(4), "{text}");
    assert!(
        text.contains("already exists")
            && text.contains("let it expire and create a new order with a new id"),
        "{text}"
    );
    assert!(!text.contains("refused"), "{text}");
    assert_eq!(online.sim.orders_with_request_id("order-exists-1"), 1);
    // A refund id reused for another amount: the simulator answers b_duplicate_field_value.
    let purchase = online.paid_purchase();
    let first = online.run(&Online::refund_args(
        &purchase,
        "300",
        Some("refund-exists-1"),
    ));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let other = online.run(&Online::refund_args(
        &purchase,
        "400",
        Some("refund-exists-1"),
    ));
    let text = stderr(&other);
    assert_eq!(other.status.code(), Some(4), "{text}");
    assert!(
        text.contains("order find --merchant-request-id refund-exists-1"),
        "{text}"
    );
    assert_eq!(online.sim.refunds_of(&purchase).len(), 1);
}

/// Out-of-range timing flags are refused up front (huge values overflowed the timers).
#[test]
fn simulate_refuses_out_of_range_timings() {
    for args in [
        ["--header-timeout", "18446744073709551615"],
        ["--header-timeout", "0"],
        ["--callback-retry-scale", "1e300"],
        ["--callback-retry-scale=-1", ""],
    ] {
        let mut all = vec!["simulate", "--listen", "127.0.0.1:0"];
        all.extend(args.iter().filter(|a| !a.is_empty()));
        let out = alliancepay(&all, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let flag = args[0].split('=').next().unwrap();
        assert!(stderr(&out).contains(flag), "{args:?}: {}", stderr(&out));
    }
}
