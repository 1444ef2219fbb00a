//! Device authorization and the session headers of every later call (bank-api.md §3.1, §1.3).

use super::*;

impl Bank {
    /// `POST /api-gateway/authorize_virtual_device` (bank-api.md §3.1).
    pub(super) fn authorize(&self, request: &Request, ctx: &Ctx<'_>) -> Response {
        let body = match parse_object(&request.body) {
            Ok(b) => b,
            Err(code) => return ctx.error(code),
        };
        let service_code = match body.get("serviceCode") {
            Some(Value::String(s)) if !s.trim().is_empty() && body.len() == 1 => s.clone(),
            Some(Value::String(_)) if body.len() > 1 => {
                let field = body
                    .keys()
                    .find(|k| *k != "serviceCode")
                    .cloned()
                    .unwrap_or_default();
                return errors::invalid(
                    "b_request_is_not_correct",
                    &field,
                    "is not part of the request",
                    ctx.request_id,
                    ctx.path,
                );
            }
            _ => {
                return errors::invalid(
                    "b_request_is_not_correct",
                    "serviceCode",
                    "is required",
                    ctx.request_id,
                    ctx.path,
                );
            }
        };
        let merchant_key = match lock(&self.state).merchants.get(&service_code) {
            None => return ctx.error("b_virtual_device_not_found"),
            Some(m) if m.locked => return ctx.error("b_auth_token_expired"),
            Some(m) => m.public_key,
        };
        let Ok(server_key) = PrivateJwk::generate(&mut os_rng()) else {
            return ctx.error("b_unknown_error");
        };
        // The bank's serverPublic carries only kty, crv, x and y.
        let server_public = crypto::public_jwk_to_string(
            &server_key.public_jwk().with_params(KeyParams::default()),
        );
        let (device_id, refresh_token, auth_token) = (new_uuid(), new_uuid(), new_uuid());
        let now_ms = self.now_ms();
        let now = utc(now_ms);
        let expires_at = now.plus(self.policy.token_ttl_secs);
        {
            let mut state = lock(&self.state);
            let superseded_age_ms = state
                .sessions
                .values()
                .filter(|s| {
                    s.service_code == service_code
                        && s.state == SessionState::Live
                        && now < s.expires_at
                })
                .map(|s| now_ms - s.issued_ms)
                .min();
            state.granted.push(Granted {
                at_ms: now_ms,
                superseded_age_ms,
            });
            if self.policy.new_authorization_invalidates_previous {
                for s in state
                    .sessions
                    .values_mut()
                    .filter(|s| s.service_code == service_code && s.state == SessionState::Live)
                {
                    s.state = SessionState::Superseded;
                    s.ended_ms = Some(now_ms);
                }
            }
            state.sessions.insert(
                device_id.clone(),
                Session {
                    service_code,
                    refresh_token: refresh_token.clone(),
                    server_key: Arc::new(server_key),
                    expires_at,
                    state: SessionState::Live,
                    ended_ms: None,
                    issued_ms: now_ms,
                },
            );
            state.session_queue.push_back(device_id.clone());
            state.evict_sessions(&self.policy.retention, now, now_ms);
        }
        self.authorizations.fetch_add(1, Ordering::SeqCst);
        // Members in the bank's order (bank-api.md §1.2), hence written by hand.
        let session_expiration = if self.policy.session_expiration_member {
            format!(
                r#","sessionExpiration":{}"#,
                json_quote(&expires_at.to_bank_kyiv())
            )
        } else {
            String::new()
        };
        let payload = format!(
            r#"{{"refreshToken":{},"authToken":{},"deviceId":{},"serverPublic":{server_public},"tokenExpirationDateTime":{},"tokenExpiration":{}{session_expiration}}}"#,
            json_quote(&refresh_token),
            json_quote(&auth_token),
            json_quote(&device_id),
            json_quote(&expires_at.to_bank_utc()),
            json_quote(&expires_at.to_bank_kyiv()),
        );
        match crypto::encrypt_to_string(&merchant_key, payload.as_bytes()) {
            Ok(token) => Response::json(200, &json!({ "jwe": token })),
            Err(_) => ctx.error("b_unknown_error"),
        }
    }

    /// Resolves the session headers (bank-api.md §1.3, §4.2) to the calling merchant.
    pub(super) fn caller(&self, request: &Request) -> Result<Caller, &'static str> {
        let (Some(device_id), Some(refresh_token)) = (
            request.header("x-device_id"),
            request.header("x-refresh_token"),
        ) else {
            return Err("b_refresh_token_absent");
        };
        let now = self.now();
        let state = lock(&self.state);
        let session = state.sessions.get(device_id).ok_or("b_unknown_device")?;
        let merchant = state
            .merchants
            .get(&session.service_code)
            .ok_or("b_unknown_device")?;
        match session.state {
            SessionState::Forgotten => return Err("b_session_doesnt_exist"),
            SessionState::Superseded => {
                return Err(
                    if self.policy.superseded_code == "b_previous_auth_token_expired" {
                        "b_previous_auth_token_expired"
                    } else {
                        "b_used_token"
                    },
                );
            }
            SessionState::Live => {}
        }
        if session.refresh_token != refresh_token {
            return Err("b_used_token");
        }
        if merchant.locked {
            return Err("b_auth_token_expired");
        }
        if now >= session.expires_at {
            return Err("b_expired_token");
        }
        Ok(Caller {
            merchant_id: merchant.merchant_id.clone(),
            merchant_key: merchant.public_key,
            server_key: Arc::clone(&session.server_key),
        })
    }
}
