//! The session the bank grants on device authorization (bank-api.md §1.2), and when to renew it.

use core::time::Duration;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use alliancepay_jose::PublicJwk;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::secret::Secret;
use crate::time::{Now, UtcTime};
use crate::{Error, crypto};

/// How long a session lasts when its payload states no readable expiry (bank-api.md §1.2).
pub const DEFAULT_SESSION_SECS: i64 = 24 * 3600;

/// When the client renews a session on its own, before the bank rejects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenewalPolicy {
    /// Renew this many seconds before the stated expiry (default 10 minutes), so a request
    /// in flight never meets the deadline.
    pub margin_secs: i64,
    /// Renew sessions older than this (default 12 hours, the middle of the bank's advice of
    /// every 8, 12 or 24 hours).
    pub max_age_secs: i64,
}

impl Default for RenewalPolicy {
    fn default() -> Self {
        Self {
            margin_secs: 600,
            max_age_secs: 12 * 3600,
        }
    }
}

/// A session: the headers every later request carries and the bank's session key.
///
/// `Debug` hides the refresh and auth tokens.
#[derive(Clone, Debug)]
pub struct Session {
    /// Sent as `x-device_id`.
    pub device_id: String,
    /// Sent as `x-refresh_token`.
    pub refresh_token: Secret,
    /// Returned by the bank and sent nowhere; kept because the bank hands it out.
    pub auth_token: Secret,
    /// The session-scoped bank key that encrypts our request bodies.
    pub server_public: PublicJwk,
    /// When the bank stops accepting the session (the bank's clock).
    pub expires_at: UtcTime,
    /// When we obtained it (the bank's clock).
    pub authorized_at: UtcTime,
    /// The bank's clock minus ours, measured at authorization (seconds); from a session file,
    /// only a guess until a response's `Date` is seen (see [`Session::bank_time`]).
    clock_offset_secs: i64,
    /// The bank's clock minus the driver's monotonic clock (milliseconds), from the last bank
    /// time observed in this process; [`NOT_OBSERVED`] until then. Shared by the clones of a
    /// session, since every caller of one session talks to one bank clock.
    bank_minus_monotonic_ms: Arc<AtomicI64>,
    /// When to renew, on the driver's monotonic clock; zero until [`Session::schedule`].
    renew_at: Duration,
}

/// [`Session::bank_minus_monotonic_ms`] before any bank time was observed in this process.
const NOT_OBSERVED: i64 = i64::MIN;

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The decrypted authorization payload. `serverPublicKey` is the name some of the bank's pages
/// use for `serverPublic` (bank-api.md §5 item 2).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    device_id: Option<Value>,
    refresh_token: Option<Value>,
    #[serde(default)]
    auth_token: Option<Value>,
    /// Kept as the exact text of the member, so that the core's strict JWK parser sees what
    /// the bank sent: a parsed `Value` would silently merge duplicate members.
    #[serde(alias = "serverPublicKey")]
    server_public: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    token_expiration_date_time: Option<Value>,
    #[serde(default)]
    token_expiration: Option<Value>,
}

fn text_member(value: Option<Value>, name: &str) -> Result<String, Error> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(Error::malformed(
            200,
            format!("the session's {name} is not a non-empty string"),
        )),
        None => Err(Error::malformed(200, format!("the session has no {name}"))),
    }
}

impl Session {
    /// Reads the decrypted payload of an authorization response obtained at `now`.
    ///
    /// Expiry comes from `tokenExpirationDateTime`, else `tokenExpiration`, else `now` + 24 h.
    ///
    /// # Errors
    /// [`Error::MalformedResponse`] naming the missing or invalid member.
    pub fn from_payload(json: &[u8], now: UtcTime) -> Result<Self, Error> {
        let payload: Payload = serde_json::from_slice(json).map_err(|e| {
            Error::malformed(
                200,
                format!("the session payload is not the expected JSON object: {e}"),
            )
        })?;
        let server_public = payload
            .server_public
            .ok_or_else(|| Error::malformed(200, "the session has no serverPublic key"))?;
        let server_public = PublicJwk::from_json(server_public.get().as_bytes()).map_err(|e| {
            Error::malformed(
                200,
                format!("the session's serverPublic is not a usable P-384 key: {e}"),
            )
        })?;
        let expiry = |v: Option<Value>| match v {
            Some(Value::String(s)) => UtcTime::parse_bank(&s).map_err(|e| (s, e)).map(Some),
            _ => Ok(None),
        };
        let expires_at = match (
            expiry(payload.token_expiration_date_time),
            expiry(payload.token_expiration),
        ) {
            (Ok(Some(t)), _) | (_, Ok(Some(t))) => t,
            (utc, kyiv) => {
                for (name, problem) in [("tokenExpirationDateTime", utc), ("tokenExpiration", kyiv)]
                {
                    if let Err((text, e)) = problem {
                        tracing::warn!("unreadable {name} {text:?} in the session ({e})");
                    }
                }
                tracing::warn!("the session states no readable expiry; assuming 24 hours");
                now.plus(DEFAULT_SESSION_SECS)
            }
        };
        Ok(Self {
            device_id: text_member(payload.device_id, "deviceId")?,
            refresh_token: Secret::new(text_member(payload.refresh_token, "refreshToken")?),
            auth_token: Secret::new(match payload.auth_token {
                Some(Value::String(s)) => s,
                _ => String::new(),
            }),
            server_public,
            expires_at,
            authorized_at: now,
            clock_offset_secs: 0,
            bank_minus_monotonic_ms: Arc::new(AtomicI64::new(NOT_OBSERVED)),
            renew_at: Duration::ZERO,
        })
    }

    /// Fixes when to renew, on the monotonic clock: `policy.margin_secs` before the stated
    /// expiry, or at `policy.max_age_secs` of age, whichever comes first, both measured on the
    /// bank's clock (`local.wall` + `clock_offset_secs`). A host clock hours off the bank's then
    /// neither renews before every call nor misses the expiry.
    pub fn schedule(&mut self, local: Now, clock_offset_secs: i64, policy: RenewalPolicy) {
        self.clock_offset_secs = clock_offset_secs;
        let bank_now = local.wall.plus(clock_offset_secs);
        let until_margin = self.expires_at.plus(-policy.margin_secs).since(bank_now);
        let until_old = policy
            .max_age_secs
            .saturating_sub(bank_now.since(self.authorized_at));
        let secs = u64::try_from(until_margin.min(until_old)).unwrap_or(0);
        self.renew_at = local.monotonic.saturating_add(Duration::from_secs(secs));
    }

    /// Whether to re-authorize before using this session at `now` (the monotonic deadline set
    /// by [`Session::schedule`]; an unscheduled session is due at once).
    #[must_use]
    pub fn needs_renewal(&self, now: Now) -> bool {
        now.monotonic >= self.renew_at
    }

    /// A copy not due for renewal before `by` from `now`: how a worker that cannot take the
    /// authorization lease goes on with the session while the lease holder renews it.
    #[must_use]
    pub(crate) fn postponed(&self, now: Now, by: Duration) -> Self {
        let mut copy = self.clone();
        copy.renew_at = copy.renew_at.max(now.monotonic.saturating_add(by));
        copy
    }

    /// Whether the bank still accepts the session at `now` by its stated expiry.
    #[must_use]
    pub(crate) fn unexpired(&self, now: Now) -> bool {
        self.bank_time(now) < self.expires_at
    }

    /// The bank's clock minus the host's, in seconds, as measured at authorization.
    #[must_use]
    pub const fn clock_offset_secs(&self) -> i64 {
        self.clock_offset_secs
    }

    /// The bank's time at `now`: the last bank time observed in this process (at
    /// authorization, then the `Date` of every response) plus the monotonic time elapsed since.
    /// The wall clock does not enter, so a host whose clock is stepped after authorization
    /// (NTP correcting a host that booted a day ahead) still dates its refunds right. Before
    /// any observation (a session read from a file) it is the wall clock plus the saved offset,
    /// which is only a guess: see [`Session::clock_observed`].
    #[must_use]
    pub fn bank_time(&self, now: Now) -> UtcTime {
        match self.bank_minus_monotonic_ms.load(Ordering::SeqCst) {
            NOT_OBSERVED => now.wall.plus(self.clock_offset_secs),
            anchor => {
                let ms = anchor.saturating_add(millis(now.monotonic));
                UtcTime::from_unix(ms.div_euclid(1000))
            }
        }
    }

    /// Records that the bank's clock read `bank_now` at `now`.
    pub fn observe_bank_time(&self, bank_now: UtcTime, now: Now) {
        let anchor = bank_now
            .unix()
            .saturating_mul(1000)
            .saturating_sub(millis(now.monotonic));
        self.bank_minus_monotonic_ms.store(anchor, Ordering::SeqCst);
    }

    /// Records the bank's time from a response's raw `Date` header received at `now`; an
    /// absent or unreadable header changes nothing. Returns whether it was read.
    pub fn observe_date(&self, date: Option<&str>, now: Now) -> bool {
        match date.map(UtcTime::parse_http_date) {
            Some(Ok(bank_now)) => {
                self.observe_bank_time(bank_now, now);
                true
            }
            _ => false,
        }
    }

    /// Whether the bank's time has been observed in this process (at authorization or in a
    /// response), so that [`Session::bank_time`] does not depend on the wall clock.
    #[must_use]
    pub fn clock_observed(&self) -> bool {
        self.bank_minus_monotonic_ms.load(Ordering::SeqCst) != NOT_OBSERVED
    }

    /// The persisted form (with secrets: the caller protects the file).
    pub(crate) fn to_saved(&self, merchant_thumbprint: &str, base_url: &str) -> SavedSession {
        SavedSession {
            format: 1,
            base_url: base_url.to_owned(),
            merchant_key_thumbprint: merchant_thumbprint.to_owned(),
            device_id: self.device_id.clone(),
            refresh_token: self.refresh_token.expose().to_owned(),
            auth_token: self.auth_token.expose().to_owned(),
            server_public: serde_json::from_str(&crypto::public_jwk_to_string(&self.server_public))
                .unwrap_or(Value::Null),
            expires_at: self.expires_at.to_rfc3339(),
            authorized_at: self.authorized_at.to_rfc3339(),
            clock_offset_secs: self.clock_offset_secs,
        }
    }

    pub(crate) fn from_saved(saved: &SavedSession) -> Result<Self, String> {
        let time =
            |name: &str, text: &str| UtcTime::parse_bank(text).map_err(|e| format!("{name}: {e}"));
        Ok(Self {
            device_id: saved.device_id.clone(),
            refresh_token: Secret::new(saved.refresh_token.clone()),
            auth_token: Secret::new(saved.auth_token.clone()),
            server_public: crypto::public_jwk_from_value(&saved.server_public)
                .map_err(|e| format!("serverPublic: {e}"))?,
            expires_at: time("expiresAt", &saved.expires_at)?,
            authorized_at: time("authorizedAt", &saved.authorized_at)?,
            // The saved offset is only a guess (the wall clock may have been stepped since):
            // not observed until a response of this process states the bank's time.
            clock_offset_secs: saved.clock_offset_secs,
            bank_minus_monotonic_ms: Arc::new(AtomicI64::new(NOT_OBSERVED)),
            renew_at: Duration::ZERO,
        })
    }
}

/// What a session file holds. `baseUrl` and the merchant key's thumbprint tie it to one bank
/// and one merchant, so a file is never used against another.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SavedSession {
    pub format: u32,
    pub base_url: String,
    pub merchant_key_thumbprint: String,
    pub device_id: String,
    pub refresh_token: String,
    pub auth_token: String,
    pub server_public: Value,
    pub expires_at: String,
    pub authorized_at: String,
    /// Absent in files written before the offset was measured.
    #[serde(default)]
    pub clock_offset_secs: i64,
}

impl Drop for SavedSession {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.refresh_token.zeroize();
        self.auth_token.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alliancepay_jose::PrivateJwk;

    fn server_public() -> String {
        let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        crypto::public_jwk_to_string(key.public_jwk())
    }

    fn payload(extra: &str) -> String {
        format!(
            r#"{{"refreshToken":"0b6f7d1e-3c2a-4e59-8f4d-9a1b2c3d4e5f","authToken":"7c1e9a40-5b2d-4f86-a3e1-6d0c9b8a7f21","deviceId":"e4d2c1b0-9a8f-47e6-b5d4-c3b2a1908f7e","serverPublic":{}{extra}}}"#,
            server_public()
        )
    }

    fn now() -> UtcTime {
        UtcTime::parse_bank("2026-03-09 09:15:02 +0000").unwrap()
    }

    #[test]
    fn expiry_from_either_format() {
        let utc = Session::from_payload(
            payload(r#","tokenExpirationDateTime":"2026-03-10 09:15:02.0081 +0000""#).as_bytes(),
            now(),
        )
        .unwrap();
        let kyiv = Session::from_payload(
            payload(r#","tokenExpiration":"2026-03-10 11:15:02.081+02:00""#).as_bytes(),
            now(),
        )
        .unwrap();
        assert_eq!(utc.expires_at, kyiv.expires_at);
        assert_eq!(utc.expires_at.to_rfc3339(), "2026-03-10T09:15:02Z");
        // The UTC field wins over a disagreeing Kyiv one; an unreadable UTC field falls back.
        let both = Session::from_payload(payload(r#","tokenExpirationDateTime":"2026-03-10 09:15:02.0081 +0000","tokenExpiration":"2030-01-01 00:00:00.000+02:00""#).as_bytes(), now()).unwrap();
        assert_eq!(both.expires_at, utc.expires_at);
        let fallback = Session::from_payload(payload(r#","tokenExpirationDateTime":"soon","tokenExpiration":"2026-03-10 11:15:02.081+02:00""#).as_bytes(), now()).unwrap();
        assert_eq!(fallback.expires_at, utc.expires_at);
        let neither = Session::from_payload(payload("").as_bytes(), now()).unwrap();
        assert_eq!(neither.expires_at, now().plus(DEFAULT_SESSION_SECS));
    }

    #[test]
    fn server_public_key_alias_is_accepted() {
        let text = payload("").replace("serverPublic", "serverPublicKey");
        assert!(Session::from_payload(text.as_bytes(), now()).is_ok());
    }

    #[test]
    fn missing_members_are_named() {
        for (member, edited) in [
            ("deviceId", payload("").replace("deviceId", "deviceID")),
            (
                "refreshToken",
                payload("").replace(
                    "\"refreshToken\":\"0b6f7d1e-3c2a-4e59-8f4d-9a1b2c3d4e5f\"",
                    "\"refreshToken\":7",
                ),
            ),
            (
                "serverPublic",
                payload("").replace("serverPublic", "server"),
            ),
        ] {
            let err = Session::from_payload(edited.as_bytes(), now())
                .unwrap_err()
                .to_string();
            assert!(err.contains(member), "{member}: {err}");
        }
        let bad_key = payload("").replace("\"crv\":\"P-384\"", "\"crv\":\"P-256\"");
        assert!(
            Session::from_payload(bad_key.as_bytes(), now())
                .unwrap_err()
                .to_string()
                .contains("serverPublic")
        );
    }

    /// A `serverPublic` with a member twice is refused, whichever copy would win a merge.
    #[test]
    fn server_public_with_a_duplicate_member_is_refused() {
        let good = payload("");
        assert!(Session::from_payload(good.as_bytes(), now()).is_ok());
        let other_x = {
            let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
            let text = crypto::public_jwk_to_string(key.public_jwk());
            let v: Value = serde_json::from_str(&text).unwrap();
            v["x"].as_str().unwrap().to_owned()
        };
        for duplicated in [
            good.replace("\"kty\":\"EC\"", "\"kty\":\"EC\",\"kty\":\"EC\""),
            good.replace(
                "\"crv\":\"P-384\"",
                &format!("\"crv\":\"P-384\",\"x\":\"{other_x}\""),
            ),
        ] {
            assert_ne!(duplicated, good);
            let e = Session::from_payload(duplicated.as_bytes(), now()).unwrap_err();
            assert!(e.to_string().contains("serverPublic"), "{e}");
        }
        // The same payload with a member of the payload itself twice is refused too.
        let twice = good.replacen("{", "{\"deviceId\":\"other\",", 1);
        assert!(Session::from_payload(twice.as_bytes(), now()).is_err());
    }

    #[test]
    fn renewal_margin_and_age() {
        let s = Session::from_payload(
            payload(r#","tokenExpirationDateTime":"2026-03-10 09:15:02.0081 +0000""#).as_bytes(),
            now(),
        )
        .unwrap();
        let policy = RenewalPolicy {
            margin_secs: 600,
            max_age_secs: 86_400,
        };
        let at = |secs: u64, wall: UtcTime| Now {
            wall,
            monotonic: Duration::from_secs(1000 + secs),
        };
        let mut s = s;
        assert!(s.needs_renewal(at(0, now())), "unscheduled is due");
        s.schedule(at(0, now()), 0, policy);
        assert!(!s.needs_renewal(at(86_400 - 601, now())));
        assert!(s.needs_renewal(at(86_400 - 600, now())));
        s.schedule(
            at(0, now()),
            0,
            RenewalPolicy {
                margin_secs: 0,
                max_age_secs: 3600,
            },
        );
        assert!(!s.needs_renewal(at(3599, now())));
        assert!(s.needs_renewal(at(3600, now())));
        // A host 24 h ahead (offset -24 h) schedules exactly as a correct one: the wall
        // clock enters only through the offset-corrected bank time.
        let ahead = now().plus(86_400);
        s.schedule(at(0, ahead), -86_400, policy);
        assert!(!s.needs_renewal(at(86_400 - 601, ahead)));
        assert!(s.needs_renewal(at(86_400 - 600, ahead)));
        assert_eq!(s.bank_time(at(0, ahead)), now());
    }

    /// A host a day ahead authorizes; NTP then steps its wall clock back. The bank's time
    /// follows the monotonic clock from the last observation, not the stepped wall clock, and
    /// each `Date` seen refreshes it.
    #[test]
    fn bank_time_survives_a_wall_clock_step() {
        let s = Session::from_payload(payload("").as_bytes(), now()).unwrap();
        let at = |mono: u64, wall: UtcTime| Now {
            wall,
            monotonic: Duration::from_secs(mono),
        };
        let ahead = now().plus(86_400);
        // Never observed: the offset is all there is.
        assert!(!s.clock_observed());
        let mut scheduled = s.clone();
        scheduled.schedule(at(100, ahead), -86_400, RenewalPolicy::default());
        assert_eq!(scheduled.bank_time(at(100, ahead)), now());
        // Observed at authorization (monotonic 100 s), then the wall clock is corrected.
        scheduled.observe_bank_time(now(), at(100, ahead));
        assert!(scheduled.clock_observed());
        let corrected = at(160, now().plus(60));
        assert_eq!(scheduled.bank_time(corrected), now().plus(60));
        // A later Date re-anchors (the monotonic clock may drift or stop in a suspend).
        let date = now().plus(3600).to_http_date();
        assert!(scheduled.observe_date(Some(&date), at(200, now())));
        assert_eq!(scheduled.bank_time(at(230, now())), now().plus(3630));
        assert!(!scheduled.observe_date(Some("yesterday"), at(240, now())));
        assert_eq!(scheduled.bank_time(at(240, now())), now().plus(3640));
    }

    #[test]
    fn debug_hides_tokens() {
        let s = Session::from_payload(payload("").as_bytes(), now()).unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("0b6f7d1e") && !shown.contains("7c1e9a40"),
            "{shown}"
        );
        assert!(shown.contains("e4d2c1b0"));
    }
}
