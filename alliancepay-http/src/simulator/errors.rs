//! The bank's error bodies (bank-api.md §4.1) and the HTTP status of each code the simulator
//! answers with: the bank's error-code table (§4.1) where it lists the code, else §3 and §4.2
//! (codes the docs give no status for are marked inferred).

use serde_json::json;

use super::http::Response;

/// The documented (or, where marked, inferred) HTTP status and `msgText` of a code.
#[must_use]
pub(crate) fn status_and_text(code: &str) -> (u16, &'static str) {
    match code {
        "b_expired_token" => (401, "@Token Expired"),
        "b_session_doesnt_exist" => (401, "@Session does not exist"), // status inferred
        "b_used_token" => (401, "@Token already used"),
        "b_previous_auth_token_expired" => (401, "@Previous auth token expired"),
        "b_unknown_device" => (401, "@Unknown device"),
        "b_auth_token_expired" => (401, "@Authentication token expired"),
        "b_virtual_device_not_found" => (200, "@Virtual device not found"),
        "b_refresh_token_absent" => (200, "@Refresh token absent"),
        "b_invalid_request" => (200, "@Invalid request"),
        "b_encryptor_failed_decrypt_message" => (200, "@Failed to decrypt message"),
        "b_user_merchant_request_mismatch" => (400, "@Merchant in request does not match the user"),
        "b_duplicate_field_value" => (400, "@Duplicate field value"),
        "b_request_is_not_correct" => (400, "@Request is not correct"),
        "b_error_parse_json" => (400, "@Error parsing JSON"),
        "b_payment_invalid_refund_amount" => (200, "@Invalid refund amount"),
        "b_payment_invalid_refund_status" => (200, "@Invalid refund status"),
        "b_hpp_order_not_found" => (404, "@HPP order not found"),
        "b_operation_not_found" => (200, "@Operation not found"),
        "payment_operation_not_found" => (404, "@Payment operation not found"),
        "b_service_unavailable" => (404, "@Service unavailable"),
        "b_hpp_order_expired" => (500, "@HPP order expired"),
        "b_unknown_error" => (500, "@Unknown error"),
        "b_server_is_overloaded" => (503, "@Server is overloaded"),
        _ => (400, "@Error"),
    }
}

/// Which bank service answers for `path`, for `serviceId`.
fn service_id(path: &str) -> &'static str {
    if path.contains("/hpp/") {
        "ecom-hpp"
    } else if path.contains("/payments/") {
        "ecom-payments"
    } else {
        "api-gateway"
    }
}

/// An error body for `code` with its usual status.
pub(crate) fn error(code: &str, request_id: &str, path: &str) -> Response {
    error_with(status_and_text(code).0, code, None, request_id, path)
}

/// An error body for `code` with its usual status, naming the offending `field`.
pub(crate) fn invalid(
    code: &str,
    field: &str,
    problem: &str,
    request_id: &str,
    path: &str,
) -> Response {
    error_with(
        status_and_text(code).0,
        code,
        Some((field, problem)),
        request_id,
        path,
    )
}

/// An error body with an explicit status (fault injection uses any status).
pub(crate) fn error_with(
    status: u16,
    code: &str,
    cause: Option<(&str, &str)>,
    request_id: &str,
    path: &str,
) -> Response {
    let text = status_and_text(code).1;
    let (msg_text, attrs, causes) = match cause {
        Some((field, problem)) => (
            format!("{text}: {field} {problem}"),
            json!({ "field": field }),
            json!([{ "field": field, "msgText": problem }]),
        ),
        None => (text.to_owned(), json!({}), json!([])),
    };
    let body = json!({
        "requestId": request_id,
        "serviceId": service_id(path),
        "msgType": "ERROR",
        "msgCode": code,
        "msgText": msg_text,
        "isLocalized": false,
        "msgAttrs": attrs,
        "errorCauses": causes,
    });
    Response::json(status, &body)
}

/// Whether a JSON body is a bank error (unit tests check codes with this).
#[cfg(test)]
pub(crate) fn code_of(body: &serde_json::Value) -> Option<&str> {
    (body.get("msgType")? == "ERROR").then(|| body.get("msgCode")?.as_str())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_have_the_full_shape() {
        let r = invalid(
            "b_request_is_not_correct",
            "coinAmount",
            "is required",
            "rid-1",
            "/ecom/execute_request/hpp/v1/create-order",
        );
        assert_eq!(r.status, 400);
        let body = r.json_body();
        for member in [
            "requestId",
            "serviceId",
            "msgType",
            "msgCode",
            "msgText",
            "isLocalized",
            "msgAttrs",
            "errorCauses",
        ] {
            assert!(body.get(member).is_some(), "{member} missing");
        }
        assert_eq!(body["requestId"], "rid-1");
        assert_eq!(body["serviceId"], "ecom-hpp");
        assert_eq!(code_of(&body), Some("b_request_is_not_correct"));
        assert!(body["msgText"].as_str().unwrap().starts_with('@'));
        assert_eq!(error("b_refresh_token_absent", "r", "/x").status, 200);
        assert_eq!(error("b_hpp_order_expired", "r", "/x").status, 500);
    }
}
