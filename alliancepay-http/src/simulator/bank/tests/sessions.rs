//! Authorization, the session headers and the session policy.

use super::*;

#[test]
fn authorization_payload_has_the_bank_members_order_and_header() {
    let f = fixture();
    let response = f.authorize_raw();
    assert_eq!(response.status, 200);
    let token = response.json_body()["jwe"].as_str().unwrap().to_owned();
    let header = String::from_utf8(b64_decode(token.split('.').next().unwrap())).unwrap();
    assert!(
        header.starts_with(r#"{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"kty":"EC","#),
        "{header}"
    );
    assert!(!header.contains("kid") && !header.contains("cty") && !header.contains("zip"));
    let plain = crypto::decrypt_to_vec(&f.key, &token).unwrap();
    let text = std::str::from_utf8(&plain).unwrap();
    let order: Vec<usize> = [
        "\"refreshToken\"",
        "\"authToken\"",
        "\"deviceId\"",
        "\"serverPublic\"",
        "\"tokenExpirationDateTime\"",
        "\"tokenExpiration\"",
    ]
    .iter()
    .map(|m| {
        text.find(m)
            .unwrap_or_else(|| panic!("{m} missing in {text}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    let value: Value = serde_json::from_str(text).unwrap();
    let public: Vec<&String> = value["serverPublic"].as_object().unwrap().keys().collect();
    assert_eq!(public.len(), 4, "{public:?}");
    let utc = value["tokenExpirationDateTime"].as_str().unwrap();
    let kyiv = value["tokenExpiration"].as_str().unwrap();
    assert_eq!(
        UtcTime::parse_bank(utc).unwrap(),
        UtcTime::parse_bank(kyiv).unwrap()
    );
    assert_eq!(UtcTime::parse_bank(utc).unwrap(), f.bank.now().plus(86_400));
    assert_eq!(f.bank.authorizations(), 1);
}

#[test]
fn authorization_refusals() {
    let f = fixture();
    let path = AUTHORIZE_PATH;
    for version in API_VERSIONS {
        assert_eq!(
            raw(
                &f.bank,
                path,
                &[("x-api_version", version)],
                &format!(r#"{{"serviceCode":"{CODE}"}}"#)
            )
            .status,
            200
        );
    }
    let v1 = [("x-api_version", "v1")];
    assert_eq!(
        code(&raw(&f.bank, path, &v1, r#"{"serviceCode":"nope"}"#)),
        (200, "b_virtual_device_not_found".into())
    );
    assert_eq!(
        code(&raw(
            &f.bank,
            path,
            &v1,
            r#"{"serviceCode":"x","clientPublicKey":"k"}"#
        )),
        (400, "b_request_is_not_correct".into())
    );
    assert_eq!(
        code(&raw(&f.bank, path, &v1, r#"{"serviceCode":""}"#)),
        (400, "b_request_is_not_correct".into())
    );
    assert_eq!(
        code(&raw(&f.bank, path, &v1, "{")),
        (400, "b_error_parse_json".into())
    );
    assert_eq!(
        code(&raw(&f.bank, path, &[("x-api_version", "v2")], "{}")),
        (200, "b_invalid_request".into())
    );
    // Without the header authorize is tolerated (bank-api.md §3.1): the body is checked.
    assert_eq!(
        code(&raw(&f.bank, path, &[], "{}")),
        (400, "b_request_is_not_correct".into())
    );
    let mut query = Request::post(
        path,
        &v1,
        format!(r#"{{"serviceCode":"{CODE}"}}"#).as_bytes(),
    );
    query.query = Some(format!("serviceCode={CODE}"));
    assert_eq!(
        code(&f.bank.handle(&query).response),
        (400, "b_request_is_not_correct".into())
    );
    assert_eq!(
        code(&raw(&f.bank, "/api-gateway/other", &v1, "{}")),
        (404, "b_service_unavailable".into())
    );
    f.bank.lock_service_code(CODE);
    assert_eq!(
        code(&f.authorize_raw()),
        (401, "b_auth_token_expired".into())
    );
    assert_eq!(f.bank.authorizations(), 3);
}

#[test]
fn request_id_is_echoed_or_generated() {
    let f = fixture();
    let r = raw(
        &f.bank,
        AUTHORIZE_PATH,
        &[("x-api_version", "v1"), ("x-request_id", "rid-7")],
        r#"{"serviceCode":"nope"}"#,
    );
    assert_eq!(r.json_body()["requestId"], "rid-7");
    assert!(r.headers.contains(&("x-request_id".into(), "rid-7".into())));
    let r = raw(
        &f.bank,
        AUTHORIZE_PATH,
        &[("x-api_version", "v1")],
        r#"{"serviceCode":"nope"}"#,
    );
    assert_eq!(r.json_body()["requestId"].as_str().unwrap().len(), 36);
}

#[test]
fn session_policy() {
    let f = fixture();
    let old = f.authorize();
    let new = f.authorize();
    let query = |s: &ClientSession| {
        code(&raw(
            &f.bank,
            ORDER_DATA_PATH,
            &f.session_headers(s),
            r#"{"hppOrderId":"1773131702417Qm3vTz8_kLp"}"#,
        ))
    };
    assert_eq!(query(&old), (401, "b_used_token".into()));
    assert_eq!(query(&new), (404, "b_hpp_order_not_found".into()));
    let mut wrong = f.session_headers(&new);
    wrong[2].1 = "0b6f7d1e-3c2a-4e59-8f4d-9a1b2c3d4e5f";
    assert_eq!(
        code(&raw(&f.bank, ORDER_DATA_PATH, &wrong, "{}")),
        (401, "b_used_token".into())
    );
    wrong[1].1 = "e4d2c1b0-9a8f-47e6-b5d4-c3b2a1908f7e";
    assert_eq!(
        code(&raw(&f.bank, ORDER_DATA_PATH, &wrong, "{}")),
        (401, "b_unknown_device".into())
    );
    assert_eq!(
        code(&raw(
            &f.bank,
            ORDER_DATA_PATH,
            &[("x-api_version", "V1")],
            "{}"
        )),
        (200, "b_refresh_token_absent".into())
    );
    // The simulated clock is the wall clock plus an offset, so leave the wall clock some
    // seconds to tick between authorizing and querying.
    f.bank.advance_clock(86_400 - 30);
    assert_eq!(query(&new), (404, "b_hpp_order_not_found".into()));
    f.bank.advance_clock(30);
    assert_eq!(query(&new), (401, "b_expired_token".into()));
    let fresh = f.authorize();
    f.bank.expire_sessions();
    assert_eq!(query(&fresh), (401, "b_expired_token".into()));
    let fresh = f.authorize();
    f.bank.forget_sessions();
    assert_eq!(query(&fresh), (401, "b_session_doesnt_exist".into()));
    let fresh = f.authorize();
    f.bank.lock_service_code(CODE);
    assert_eq!(query(&fresh), (401, "b_auth_token_expired".into()));
}

#[test]
fn session_expiration_member_is_optional() {
    let f = fixture_with(Policy {
        session_expiration_member: true,
        ..policy()
    });
    let token = f.authorize_raw().json_body()["jwe"]
        .as_str()
        .unwrap()
        .to_owned();
    let payload: Value =
        serde_json::from_slice(&crypto::decrypt_to_vec(&f.key, &token).unwrap()).unwrap();
    assert_eq!(payload["sessionExpiration"], payload["tokenExpiration"]);
    let plain = fixture().authorize_raw().json_body()["jwe"]
        .as_str()
        .unwrap()
        .to_owned();
    let payload: Value =
        serde_json::from_slice(&crypto::decrypt_to_vec(&f.key, &plain).unwrap_or_default())
            .unwrap_or_default();
    assert!(payload.get("sessionExpiration").is_none());
}

#[test]
fn superseding_is_configurable() {
    let f = fixture_with(Policy {
        new_authorization_invalidates_previous: false,
        ..policy()
    });
    let (a, b) = (f.authorize(), f.authorize());
    for s in [&a, &b] {
        assert_eq!(
            f.order(s, 100).order_status,
            crate::model::OrderStatus::Pending
        );
    }
    let f = fixture_with(Policy {
        superseded_code: "b_previous_auth_token_expired".into(),
        ..policy()
    });
    let old = f.authorize();
    f.authorize();
    assert_eq!(
        code(&raw(
            &f.bank,
            ORDER_DATA_PATH,
            &f.session_headers(&old),
            "{}"
        )),
        (401, "b_previous_auth_token_expired".into())
    );
}

#[test]
fn encrypted_bodies_must_be_for_the_current_session_key() {
    let f = fixture();
    let old = f.authorize();
    let (_, op_id) = f.paid_operation(&old, 1_000);
    let new = f.authorize();
    // Encrypted to the old session's key, sent with the new session's headers.
    let stale = protocol::call_request(
        &Refund::builder()
            .merchant_id(MERCHANT)
            .operation_id(&op_id)
            .amount(Kopecks::new(1))
            .build()
            .unwrap(),
        &old,
        "v1",
        f.bank.now(),
        &mut os_rng(),
    )
    .unwrap();
    let mut request = to_request(&stale);
    request
        .headers
        .retain(|(n, _)| n != "x-device_id" && n != "x-refresh_token");
    request
        .headers
        .push(("x-device_id".into(), new.device_id.clone()));
    request.headers.push((
        "x-refresh_token".into(),
        new.refresh_token.expose().to_owned(),
    ));
    assert_eq!(
        code(&f.bank.handle(&request).response),
        (200, "b_encryptor_failed_decrypt_message".into())
    );
    // Plain JSON where a JWE belongs.
    let headers = f.session_headers(&new);
    assert_eq!(
        code(&raw(
            &f.bank,
            REFUND_PATH,
            &headers,
            r#"{"merchantRequestId":"x"}"#
        )),
        (200, "b_encryptor_failed_decrypt_message".into())
    );
    assert_eq!(
        code(&raw(&f.bank, OPERATION_BY_ID_PATH, &headers, "a.b.c.d.e")),
        (200, "b_encryptor_failed_decrypt_message".into())
    );
    // Lookups of unknown operations.
    assert_eq!(
        code(
            &f.call(&OperationQuery::ById { id: "nope".into() }, &new)
                .response
        ),
        (200, "b_operation_not_found".into())
    );
    let by_request = OperationQuery::ByMerchantRequestId {
        merchant_request_id: MerchantRequestId::new("nope").unwrap(),
    };
    assert_eq!(
        code(&f.call(&by_request, &new).response),
        (200, "b_operation_not_found".into())
    );
}

/// Issue 13: the bank's WordPress plugin authorizes without `x-api_version` and the live
/// bank gives it a session (bank-api.md §3.1); strict mode refuses, a wrong value is
/// refused either way, and other endpoints still need the header.
#[test]
fn authorize_without_api_version_is_tolerated_unless_strict() {
    let body = format!(r#"{{"serviceCode":"{CODE}"}}"#);
    let json = [("content-type", "application/json")];
    let f = fixture();
    let r = raw(&f.bank, AUTHORIZE_PATH, &json, &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let session =
        protocol::read_authorize_response(&to_response(&r), &f.key, f.bank.now()).unwrap();
    assert_eq!(
        code(&raw(
            &f.bank,
            AUTHORIZE_PATH,
            &[("x-api_version", "2")],
            &body
        )),
        (200, "b_invalid_request".into())
    );
    let headers = [
        ("x-device_id", session.device_id.as_str()),
        ("x-refresh_token", session.refresh_token.expose()),
    ];
    assert_eq!(
        code(&raw(
            &f.bank,
            ORDER_DATA_PATH,
            &headers,
            r#"{"hppOrderId":"x"}"#
        )),
        (200, "b_invalid_request".into())
    );
    let strict = fixture_with(Policy {
        strict: true,
        ..policy()
    });
    assert_eq!(
        code(&raw(&strict.bank, AUTHORIZE_PATH, &json, &body)),
        (200, "b_invalid_request".into())
    );
    // Strict mode also wants the documented Content-Type.
    assert_eq!(
        code(&raw(
            &strict.bank,
            AUTHORIZE_PATH,
            &[("x-api_version", "v1")],
            &body
        )),
        (200, "b_invalid_request".into())
    );
    strict.authorize();
}
