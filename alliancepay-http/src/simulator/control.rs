//! The simulator's own routes under `/__sim/`, so that tests in any language can drive it over
//! HTTP. Plain JSON in and out; errors are `{"error": "<sentence>"}` with HTTP 400 or 404.
//!
//! | Route | Body | Effect |
//! |---|---|---|
//! | `POST /__sim/pay` | `{"hppOrderId", "outcome"?: "SUCCESS" \| "FAIL"}` | plays the customer (no outcome: the bank's test table by amount) |
//! | `POST /__sim/expire-sessions` | – | every live session answers `b_expired_token` |
//! | `POST /__sim/forget-sessions` | – | every session answers `b_session_doesnt_exist` |
//! | `POST /__sim/advance-clock` | `{"secs"}` | moves the simulated clock |
//! | `POST /__sim/lock-service-code` | `{"serviceCode"}` | authorization answers `b_auth_token_expired` |
//! | `POST /__sim/fault` | `{"path"?, "times", "kind", …}` | arms a fault (see [`fault_from_json`]) |
//! | `GET /__sim/stats` | – | counters |
//! | `GET /__sim/hpp/{hppOrderId}`, `…/status`; `POST …/pay`, `…/3ds` | HTML form | the payment page, answered by [`super::hpp`] before the JSON routes |

use std::time::Duration;

use serde_json::{Value, json};

use super::http::{Request, Response};
use super::{Fault, FaultKind, PaymentOutcome, Shared, SimulatorError};

fn ok(value: &Value) -> Response {
    Response::json(200, value)
}

fn refuse(status: u16, message: impl Into<String>) -> Response {
    Response::json(status, &json!({ "error": message.into() }))
}

/// Answers a `/__sim/` request.
pub(crate) fn handle(shared: &Shared, request: &Request) -> Response {
    let body: Value = if request.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&request.body) {
            Ok(v) => v,
            Err(e) => return refuse(400, format!("the body is not JSON: {e}")),
        }
    };
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/__sim/pay") => {
            let Some(id) = text("hppOrderId") else {
                return refuse(400, "hppOrderId is required");
            };
            let outcome = match text("outcome") {
                None => None,
                Some("SUCCESS") => Some(PaymentOutcome::Success),
                Some("FAIL") => Some(PaymentOutcome::Fail),
                Some(other) => {
                    return refuse(
                        400,
                        format!("outcome {other:?} is neither SUCCESS nor FAIL"),
                    );
                }
            };
            match shared.pay(id, outcome, None) {
                Ok(status) => ok(&json!({ "hppOrderId": id, "orderStatus": status })),
                Err(e) => refuse(400, e.to_string()),
            }
        }
        ("POST", "/__sim/expire-sessions") => {
            shared.bank.expire_sessions();
            ok(&json!({}))
        }
        ("POST", "/__sim/forget-sessions") => {
            shared.bank.forget_sessions();
            ok(&json!({}))
        }
        ("POST", "/__sim/advance-clock") => match body.get("secs").and_then(Value::as_i64) {
            Some(secs) => {
                shared.bank.advance_clock(secs);
                ok(&json!({ "now": shared.bank.now().to_rfc3339() }))
            }
            None => refuse(400, "secs (a whole number) is required"),
        },
        ("POST", "/__sim/lock-service-code") => match text("serviceCode") {
            Some(code) if shared.bank.lock_service_code(code) => ok(&json!({})),
            Some(code) => refuse(404, format!("service code {code} is not registered")),
            None => refuse(400, "serviceCode is required"),
        },
        ("POST", "/__sim/fault") => match fault_from_json(&body) {
            Ok(fault) => {
                shared.faults.inject(fault);
                ok(&json!({}))
            }
            Err(e) => refuse(400, e.to_string()),
        },
        ("GET", "/__sim/stats") => ok(&shared.stats()),
        _ => refuse(
            404,
            format!("no simulator route {} {}", request.method, request.path),
        ),
    }
}

/// A fault from JSON: `{"path"?: "/…", "times": n, "kind": k}` where `kind` is `latency`
/// (with `millis`), `status` (with `status`), `error_code` (with `status` and `code`),
/// `drop_connection`, `unauthorized`, `html`, `truncated`, `wrong_content_type`,
/// `missing_jwe`, `empty_jwe`, `undecryptable_jwe`, `apply_then_fail`, `apply_then_drop` or
/// `error_details` (with `code`).
///
/// # Errors
/// A sentence naming the missing or unknown member.
pub(crate) fn fault_from_json(body: &Value) -> Result<Fault, SimulatorError> {
    let times = body
        .get("times")
        .and_then(Value::as_u64)
        .and_then(|t| u32::try_from(t).ok())
        .ok_or(SimulatorError::InvalidFault(
            "times (a whole number) is required",
        ))?;
    let status = || {
        body.get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .ok_or(SimulatorError::InvalidFault("status is required"))
    };
    let kind = match body
        .get("kind")
        .and_then(Value::as_str)
        .ok_or(SimulatorError::InvalidFault("kind is required"))?
    {
        "latency" => FaultKind::Latency(Duration::from_millis(
            body.get("millis")
                .and_then(Value::as_u64)
                .ok_or(SimulatorError::InvalidFault("millis is required"))?,
        )),
        "status" => FaultKind::Status(status()?),
        "error_code" => FaultKind::ErrorCode {
            status: status()?,
            code: body
                .get("code")
                .and_then(Value::as_str)
                .ok_or(SimulatorError::InvalidFault("code is required"))?
                .to_owned(),
        },
        "drop_connection" => FaultKind::DropConnection,
        "unauthorized" => FaultKind::Unauthorized,
        "html" => FaultKind::Html,
        "truncated" => FaultKind::Truncated,
        "wrong_content_type" => FaultKind::WrongContentType,
        "missing_jwe" => FaultKind::MissingJwe,
        "apply_then_fail" => FaultKind::ApplyThenFail,
        "apply_then_drop" => FaultKind::ApplyThenDrop,
        "empty_jwe" => FaultKind::EmptyJwe,
        "undecryptable_jwe" => FaultKind::UndecryptableJwe,
        "error_details" => FaultKind::ErrorDetails(
            body.get("code")
                .and_then(Value::as_str)
                .ok_or(SimulatorError::InvalidFault("code is required"))?
                .to_owned(),
        ),
        other => return Err(SimulatorError::UnknownFaultKind(other.to_owned())),
    };
    let path = body.get("path").and_then(Value::as_str).map(str::to_owned);
    Ok(Fault { path, times, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_from_json() {
        let f = fault_from_json(&json!({"path":"/x","times":2,"kind":"error_code","status":503,"code":"b_server_is_overloaded"})).unwrap();
        assert_eq!(
            f,
            Fault::on(
                "/x",
                2,
                FaultKind::ErrorCode {
                    status: 503,
                    code: "b_server_is_overloaded".into()
                }
            )
        );
        assert_eq!(
            fault_from_json(&json!({"times":1,"kind":"latency","millis":5}))
                .unwrap()
                .kind,
            FaultKind::Latency(Duration::from_millis(5))
        );
        for bad in [
            json!({"kind":"html"}),
            json!({"times":1}),
            json!({"times":1,"kind":"status"}),
            json!({"times":1,"kind":"boom"}),
        ] {
            assert!(fault_from_json(&bad).is_err(), "{bad}");
        }
    }
}
