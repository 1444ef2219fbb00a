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

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alliancepay-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn offline_tools() {
    let dir = temp_dir("offline");
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
    let other = temp_dir("offline-other");
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
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(other).unwrap();
}

/// `simulate` in the background, the online commands against it.
#[test]
fn simulate_authorize_and_orders() {
    let dir = temp_dir("online");
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

    let create = [
        "order",
        "create",
        "--json",
        "--merchant-id",
        "merchant-1",
        "--amount",
        "4",
        "--customer-id",
        "c-1",
        "--success-url",
        "https://shop.example/ok",
        "--fail-url",
        "https://shop.example/fail",
    ];
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
    sim.kill().unwrap();
    let _ = sim.wait();
    std::fs::remove_dir_all(dir).unwrap();
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
