//! `--log-requests FILE`: one JSON line per request and one per response, so an integrator can
//! see exactly what their client sent and what the bank answered.
//!
//! Secrets never reach the file: the session headers' refresh token, credentials in
//! `Authorization`/`Cookie`, the service code, token and key members of JSON bodies
//! (`refreshToken`, `authToken`, a JWK's `d`, …), the same names in a query string, and the
//! card fields of the HPP form (judged by their decoded names, whatever the content type) are
//! replaced by `"[redacted]"`; HTML pages are logged by length only. Compact JWEs stay, since
//! only the key holders can read them; bodies longer than [`MAX_LOGGED_BODY`] are cut.

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

/// JSON members, form fields and query parameters whose values are secrets (compared
/// without regard to case). `serviceCode` is the credential that authorizes a device
/// (bank-api.md §1.1); the rest are keys, tokens and the card form's fields.
const SECRET_MEMBERS: [&str; 13] = [
    "serviceCode",
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
    "holder",
    "cardholderName",
];

fn is_secret(name: &str) -> bool {
    SECRET_MEMBERS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

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
        let request_line = json!({
            "kind": "request",
            "id": id,
            "method": request.method,
            "path": request.path,
            // The bank's WordPress plugin may put the service code in the query (bank-api.md §6.2).
            "query": request.query.as_deref().map(|q| form(q.as_bytes())),
            "headers": headers(request.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
            "body": request_body(&request.body),
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
                "body": response_body(&r.body, r.content_type.as_deref().unwrap_or_default()),
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
            tracing::warn!("simulator: cannot write the request log: {e}");
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

/// A request body as the log shows it: redacted JSON, or else redacted form fields. Any
/// body that is not JSON is read as a form, whatever its content type says, so a client that
/// mislabels its form (or percent-encodes a field name) cannot get a card number logged.
fn request_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    if let Ok(mut value) = serde_json::from_slice::<Value>(bytes) {
        redact(&mut value);
        return value;
    }
    form(bytes.get(..MAX_LOGGED_BODY).unwrap_or(bytes))
}

/// A response body as the log shows it: redacted JSON, the length of an HTML page (the
/// payment pages are not worth logging, and must not carry what a customer typed into the
/// log), or cut text.
fn response_body(bytes: &[u8], content_type: &str) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    if let Ok(mut value) = serde_json::from_slice::<Value>(bytes) {
        redact(&mut value);
        return value;
    }
    if content_type
        .get(..9)
        .is_some_and(|t| t.eq_ignore_ascii_case("text/html"))
    {
        return Value::String(format!("[html, {} bytes]", bytes.len()));
    }
    let text = String::from_utf8_lossy(bytes);
    Value::String(text.chars().take(MAX_LOGGED_BODY).collect())
}

/// Form fields (or query parameters) as `name=value&…`, decoded, each secret's value
/// replaced, judged by the decoded name.
fn form(bytes: &[u8]) -> Value {
    let pairs = super::hpp::parse_form(bytes);
    // Not a form after all (say, JSON cut short): its names cannot be judged, so none of it
    // is shown.
    let form_like = |name: &str| {
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.[] ".contains(&b))
    };
    if !pairs.iter().all(|(name, _)| form_like(name)) {
        return Value::String(format!("[not JSON nor a form, {} bytes]", bytes.len()));
    }
    let fields: Vec<String> = pairs
        .into_iter()
        .map(|(name, value)| {
            if is_secret(name.trim()) {
                format!("{name}={REDACTED}")
            } else {
                format!("{name}={value}")
            }
        })
        .collect();
    Value::String(fields.join("&"))
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(members) => {
            for (name, member) in members.iter_mut() {
                if is_secret(name) {
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
        let mut request = Request::post(
            "/x",
            &[("x-refresh_token", "rt-SECRET"), ("x-device_id", "dev-1")],
            br#"{"serviceCode":"sc-SECRET","key":{"kty":"EC","d":"D-SECRET"}}"#,
        );
        request.query = Some("serviceCode=q-SECRET&page=2".into());
        let reply = Reply::Send(Response::json(
            200,
            &json!({"authToken": "at-SECRET", "deviceId": "dev-1"}),
        ));
        log.record(&request, &reply, Duration::from_millis(3));
        // A form with no content type, a percent-encoded field name, and an HTML answer that
        // echoes the number.
        let form = Request::post(
            "/__sim/hpp/1/pay",
            &[],
            b"%70an=4111111111111111&cvv=123&holder=Ann+SECRET&expiry=12%2F39&lang=uk",
        );
        let page = Reply::Send(Response::with_body(
            422,
            "text/html; charset=utf-8",
            b"<input value=\"4111111111111111\">".to_vec(),
        ));
        log.record(&form, &page, Duration::ZERO);
        let cut = Request::post("/y", &[], br#"{"serviceCode":"cut-SECRET""#);
        log.record(&cut, &Reply::Drop, Duration::ZERO);
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in ["SECRET", "4111111111111111", "cvv=123", "12/39"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[0]["kind"], "request");
        assert_eq!(lines[0]["id"], lines[1]["id"]);
        assert_eq!(lines[1]["status"], 200);
        assert_eq!(lines[1]["body"]["deviceId"], "dev-1");
        assert_eq!(lines[0]["body"]["serviceCode"], REDACTED);
        assert_eq!(lines[0]["body"]["key"]["kty"], "EC");
        assert_eq!(lines[0]["query"], "serviceCode=[redacted]&page=2");
        assert_eq!(
            lines[2]["body"],
            "pan=[redacted]&cvv=[redacted]&holder=[redacted]&expiry=[redacted]&lang=uk"
        );
        assert_eq!(lines[3]["status"], 422);
        assert_eq!(lines[5]["dropped"], true);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
