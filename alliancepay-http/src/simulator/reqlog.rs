//! `--log-requests FILE`: one JSON line per request and one per response, so an integrator can
//! see exactly what their client sent and what the bank answered.
//!
//! Secrets never reach the file: the session headers' refresh token, credentials in
//! `Authorization`/`Cookie`, token and key members of JSON bodies (`refreshToken`,
//! `authToken`, a JWK's `d`, …) and the card fields of the HPP form are replaced by
//! `"[redacted]"`. Compact JWEs stay, since only the key holders can read them; bodies longer
//! than [`MAX_LOGGED_BODY`] are cut.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{Reply, Request};
use super::lock;

/// Longest body written to the log, in bytes.
pub(crate) const MAX_LOGGED_BODY: usize = 4096;

/// What replaces a secret.
const REDACTED: &str = "[redacted]";

/// Headers whose values are secrets (lowercase).
const SECRET_HEADERS: [&str; 4] = ["x-refresh_token", "authorization", "cookie", "set-cookie"];

/// JSON members and form fields whose values are secrets.
const SECRET_MEMBERS: [&str; 10] = [
    "refreshToken",
    "authToken",
    "d",
    "k",
    "privateKey",
    "pan",
    "cardNumber",
    "cvv",
    "expiry",
    "otp",
];

/// The open log file.
pub(crate) struct RequestLog {
    file: Mutex<BufWriter<File>>,
}

impl RequestLog {
    /// Opens (appending to) `path`.
    ///
    /// # Errors
    /// The operating system's error, with the path.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(Self {
            file: Mutex::new(BufWriter::new(file)),
        })
    }

    /// Writes the request's line and the reply's line.
    pub(crate) fn record(&self, request: &Request, reply: &Reply, elapsed: Duration) {
        let id = crate::crypto::new_uuid();
        let content_type = request.header("content-type").unwrap_or_default();
        let request_line = json!({
            "kind": "request",
            "id": id,
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": headers(request.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
            "body": body(&request.body, content_type),
        });
        let response_line = match reply {
            Reply::Send(r) => json!({
                "kind": "response",
                "id": id,
                "status": r.status,
                "headers": headers(
                    r.content_type
                        .iter()
                        .map(|ct| ("content-type", ct.as_str()))
                        .chain(r.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
                ),
                "body": body(&r.body, r.content_type.as_deref().unwrap_or_default()),
                "millis": elapsed.as_millis(),
            }),
            Reply::Drop => json!({
                "kind": "response",
                "id": id,
                "dropped": true,
                "millis": elapsed.as_millis(),
            }),
        };
        let mut file = lock(&self.file);
        let written = writeln!(file, "{request_line}")
            .and_then(|()| writeln!(file, "{response_line}"))
            .and_then(|()| file.flush());
        if let Err(e) = written {
            log::warn!("simulator: cannot write the request log: {e}");
        }
    }
}

fn headers<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Array(
        pairs
            .map(|(name, value)| {
                let secret = SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name));
                json!([name, if secret { REDACTED } else { value }])
            })
            .collect(),
    )
}

/// A body as the log shows it: redacted JSON, redacted form fields, or cut text.
fn body(bytes: &[u8], content_type: &str) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    if let Ok(mut value) = serde_json::from_slice::<Value>(bytes) {
        redact(&mut value);
        return value;
    }
    let text = String::from_utf8_lossy(bytes);
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let fields: Vec<String> = text
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if SECRET_MEMBERS.contains(&name) => format!("{name}={REDACTED}"),
                _ => pair.to_owned(),
            })
            .collect();
        return Value::String(fields.join("&"));
    }
    let cut: String = text.chars().take(MAX_LOGGED_BODY).collect();
    Value::String(cut)
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(members) => {
            for (name, member) in members.iter_mut() {
                if SECRET_MEMBERS.contains(&name.as_str()) {
                    *member = Value::String(REDACTED.into());
                } else {
                    redact(member);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::http::Response;
    use super::*;

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        let dir = std::env::temp_dir().join(format!("reqlog-{}", crate::crypto::new_uuid()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.jsonl");
        let log = RequestLog::open(&path).unwrap();
        let request = Request::post(
            "/x",
            &[("x-refresh_token", "rt-SECRET"), ("x-device_id", "dev-1")],
            br#"{"serviceCode":"s","key":{"kty":"EC","d":"D-SECRET"}}"#,
        );
        let reply = Reply::Send(Response::json(
            200,
            &json!({"authToken": "at-SECRET", "deviceId": "dev-1"}),
        ));
        log.record(&request, &reply, Duration::from_millis(3));
        let mut form = Request::post(
            "/__sim/hpp/1/pay",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"pan=4111111111111111&cvv=123&holder=A",
        );
        form.method = "POST".into();
        log.record(&form, &Reply::Drop, Duration::ZERO);
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in ["SECRET", "4111111111111111", "cvv=123"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["kind"], "request");
        assert_eq!(lines[0]["id"], lines[1]["id"]);
        assert_eq!(lines[1]["status"], 200);
        assert_eq!(lines[1]["body"]["deviceId"], "dev-1");
        assert_eq!(lines[0]["body"]["serviceCode"], "s");
        assert_eq!(lines[3]["dropped"], true);
        assert!(text.contains("holder=A"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
