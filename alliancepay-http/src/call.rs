//! One bank call as a state machine: the protocol core. It decides everything (authorize
//! first, renew ahead of expiry, re-authorize once after a session error, resend once with the
//! same `merchantRequestId` and a re-encrypted body, stale encryption, and what the final
//! answer means); the driver only moves bytes, holds the single-flight lock and stores
//! sessions.
//!
//! Inputs are the current session (or none), the time as [`Now`] (wall and monotonic
//! clocks), an RNG (request ids, ephemeral keys, IVs) and each response. There is no socket,
//! file, thread, clock or OS randomness in here, so a recorded session replays byte for byte
//! with a seeded RNG, and an async driver can reuse it unchanged.
//!
//! ```text
//!            start(session)
//!                 │ usable session?
//!        ┌── yes ─┴─ no ─────────────┐
//!        │                           ▼
//!        │                 WaitForAuthorization ◄──────────────┐
//!        │                           │ resume(current session) │
//!        │        usable now? ┌─ yes ┴─ no ─┐                  │
//!        │                    │             ▼                  │
//!        │                    │         Authorize ─ error ──► Finish(Refused)
//!        │                    │             │ handle_response  │
//!        ▼                    ▼             ▼ (new session)    │
//!      Send ◄─────────────────┴─────────────┘                  │
//!        │ handle_response / handle_transport_error            │
//!        ├─ session rejected, first time ──────────────────────┤
//!        ├─ b_encryptor_failed_decrypt_message, first time ────┘ (resent only if the
//!        │                                                         session changed)
//!        └─► Finish(Done | Refused | Unknown)
//! ```
//!
//! "Usable" means: not due for renewal on the monotonic clock, and not the session the bank
//! just rejected. At most one re-authorization after a rejection and at most one resend per
//! call, so no loop can form; the resend keeps the `merchantRequestId`, gets fresh headers, a
//! fresh `date` and a body encrypted to the new session's key.
//!
//! # Walk-through
//! Create an order with no session yet; the bank answers, and we read the order.
//!
//! ```
//! use std::time::Duration;
//! use alliancepay_http::alliancepay_jose::PrivateJwk;
//! use alliancepay_http::call::{Action, Call, Params};
//! use alliancepay_http::crypto::{self, InsecureSeededRng};
//! use alliancepay_http::protocol::{HttpResponse, Received};
//! use alliancepay_http::{CreateOrder, Now, Outcome, RenewalPolicy, UtcTime};
//!
//! let mut rng = InsecureSeededRng::new(7);
//! let merchant = PrivateJwk::generate(&mut rng).unwrap();
//! let bank_key = PrivateJwk::generate(&mut rng).unwrap();
//! let now = Now { wall: UtcTime::from_unix(1_773_131_702), monotonic: Duration::ZERO };
//! let json = |status, body: String| Received {
//!     response: HttpResponse {
//!         status,
//!         content_type: Some("application/json".into()),
//!         request_id: None,
//!         body: body.into_bytes(),
//!     },
//!     date: Some("Tue, 10 Mar 2026 08:35:02 GMT".into()),
//! };
//!
//! let mut order = CreateOrder::purchase("m-1", 4, "c-1", "https://s/ok", "https://s/no");
//! order.merchant_request_id = crypto::uuid_from(&mut rng);
//! let params = Params {
//!     merchant: &merchant,
//!     service_code: "svc-1",
//!     api_version: "v1",
//!     renewal: RenewalPolicy::default(),
//! };
//! let mut call = Call::new(&order, params);
//!
//! // No session: first the single-flight right (the driver takes its lock), then the
//! // authorization request, which carries the service code and nothing else.
//! assert!(matches!(call.start(None, now, &mut rng), Action::WaitForAuthorization));
//! let Action::Authorize(authorize) = call.resume(None, now, &mut rng) else { panic!() };
//! assert_eq!(authorize.path, "/api-gateway/authorize_virtual_device");
//! assert_eq!(authorize.body, br#"{"serviceCode":"svc-1"}"#);
//!
//! // The bank's session, encrypted to the merchant key.
//! let payload = format!(
//!     r#"{{"refreshToken":"rt-1","authToken":"at-1","deviceId":"dev-1","serverPublic":{},"tokenExpirationDateTime":"2026-03-11 08:35:02.0000 +0000"}}"#,
//!     crypto::public_jwk_to_string(bank_key.public_jwk()),
//! );
//! let token = crypto::encrypt_with(merchant.public_jwk(), payload.as_bytes(), &mut rng).unwrap();
//! let Action::Send(request) = call.handle_response(json(200, format!(r#"{{"jwe":"{token}"}}"#)), now, &mut rng)
//! else { panic!() };
//! // The driver stores the new session for every other call.
//! let session = call.take_new_session().unwrap();
//! assert_eq!(session.clock_offset_secs(), 0);
//! assert_eq!(request.path, "/ecom/execute_request/hpp/v1/create-order");
//! assert_eq!(request.header("x-device_id"), Some("dev-1"));
//! assert_eq!(request.body.len(), 276);
//!
//! // The bank's answer: a Done outcome, checked for its mandatory members.
//! let answer = format!(
//!     r#"{{"hppOrderId":"h-1","merchantRequestId":"{}","orderStatus":"PENDING","redirectUrl":"https://pay/h-1"}}"#,
//!     order.merchant_request_id
//! );
//! let Action::Finish(Outcome::Done(created)) = call.handle_response(json(200, answer), now, &mut rng)
//! else { panic!() };
//! assert_eq!(created.hpp_order_id, "h-1");
//!
//! // The same call in that session, answered by a gateway's HTML page: the order may exist.
//! let mut again = Call::new(&order, params);
//! assert!(matches!(again.start(Some(session), now, &mut rng), Action::Send(_)));
//! let page = json(502, "<html>Bad Gateway</html>".into());
//! assert!(matches!(again.handle_response(page, now, &mut rng), Action::Finish(Outcome::Unknown(_))));
//! ```

use std::sync::Arc;

use alliancepay_jose::PrivateJwk;
use rand_core::CryptoRng;

use crate::error::{BankError, Error};
use crate::outcome::{Outcome, Refusal, Unknown};
use crate::protocol::{
    self, Endpoint, HttpRequest, Received, Reply, authorize_request, read_authorization,
};
use crate::session::{RenewalPolicy, Session};
use crate::time::Now;
use crate::transport::TransportError;

/// What does not change between calls of one client.
#[derive(Clone, Copy, Debug)]
pub struct Params<'a> {
    /// Decrypts the authorization answer and encrypted answers.
    pub merchant: &'a PrivateJwk,
    /// The one input of device authorization.
    pub service_code: &'a str,
    /// The `x-api_version` header.
    pub api_version: &'a str,
    /// When sessions are renewed ahead of the bank.
    pub renewal: RenewalPolicy,
}

/// What the driver does next.
#[derive(Debug)]
#[must_use]
pub enum Action<T> {
    /// Send this request to the bank. Pass the answer to [`Call::handle_response`], or the
    /// failure to [`Call::handle_transport_error`]. Release the single-flight right first if
    /// you hold it.
    Send(HttpRequest),
    /// Send this authorization request (you hold the single-flight right). Pass the answer to
    /// [`Call::handle_response`]; afterwards [`Call::take_new_session`] has the session to
    /// store for every other caller.
    Authorize(HttpRequest),
    /// The call needs another session. Obtain the single-flight right to authorize (in
    /// process: a mutex; across processes: a lock on the session store), which waits for any
    /// authorization already running, then call [`Call::resume`] with the session stored now.
    WaitForAuthorization,
    /// The call is over.
    Finish(Outcome<T>),
}

/// Why the machine waits for a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// There was none, or it was due for renewal.
    Fresh,
    /// The bank rejected the one the request went out in.
    Rejected,
    /// The bank could not decrypt the body: resend only if the session changed meanwhile.
    Reencrypt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Start,
    Waiting(Need),
    Authorizing,
    Sent,
    Finished,
}

/// One call of endpoint `E`, from its first request to its outcome. See the module docs.
#[derive(Debug)]
pub struct Call<'a, E: Endpoint> {
    endpoint: &'a E,
    params: Params<'a>,
    phase: Phase,
    /// The device id of the session the bank rejected (or could not decrypt for).
    rejected: Option<String>,
    sent_in: Option<String>,
    sends: u8,
    reauthorized: bool,
    stale: Option<BankError>,
    new_session: Option<Arc<Session>>,
}

/// Requests one call may send: the first and one resend.
const MAX_SENDS: u8 = 2;

impl<'a, E: Endpoint> Call<'a, E> {
    /// A call of `endpoint`; nothing happens until [`Call::start`].
    pub const fn new(endpoint: &'a E, params: Params<'a>) -> Self {
        Self {
            endpoint,
            params,
            phase: Phase::Start,
            rejected: None,
            sent_in: None,
            sends: 0,
            reauthorized: false,
            stale: None,
            new_session: None,
        }
    }

    /// Validates the request and starts with the session currently stored (if any).
    pub fn start<R: CryptoRng + ?Sized>(
        &mut self,
        session: Option<Arc<Session>>,
        now: Now,
        rng: &mut R,
    ) -> Action<E::Output> {
        if self.phase != Phase::Start {
            return self.misuse("start");
        }
        if let Err(e) = self.endpoint.validate() {
            return self.finish(Outcome::Refused(Refusal::NotSent(e)));
        }
        match session {
            Some(s) if !s.needs_renewal(now) => self.send(&s, now, rng),
            _ => self.wait(Need::Fresh),
        }
    }

    /// After [`Action::WaitForAuthorization`]: the session stored now, which another caller
    /// may have just renewed.
    pub fn resume<R: CryptoRng + ?Sized>(
        &mut self,
        session: Option<Arc<Session>>,
        now: Now,
        rng: &mut R,
    ) -> Action<E::Output> {
        let Phase::Waiting(need) = self.phase else {
            return self.misuse("resume");
        };
        let usable = session.filter(|s| {
            !s.needs_renewal(now) && self.rejected.as_deref() != Some(s.device_id.as_str())
        });
        match (usable, need) {
            (Some(s), _) => self.send(&s, now, rng),
            (None, Need::Reencrypt) => {
                // Encrypted to the current session and still not decryptable: not ours to fix.
                let refusal = self.stale.take().map_or_else(
                    || Refusal::NotSent(Error::Config("stale encryption without an error".into())),
                    Refusal::Bank,
                );
                self.finish(Outcome::Refused(refusal))
            }
            (None, need) => {
                self.reauthorized |= need == Need::Rejected;
                self.phase = Phase::Authorizing;
                Action::Authorize(authorize_request(
                    self.params.service_code,
                    self.params.api_version,
                    rng,
                ))
            }
        }
    }

    /// The bank's answer to the last [`Action::Send`] or [`Action::Authorize`], received when
    /// the clocks read `now`.
    pub fn handle_response<R: CryptoRng + ?Sized>(
        &mut self,
        received: Received,
        now: Now,
        rng: &mut R,
    ) -> Action<E::Output> {
        match self.phase {
            Phase::Authorizing => {
                match read_authorization(&received, self.params.merchant, now, self.params.renewal)
                {
                    Ok(session) => {
                        let session = Arc::new(session);
                        self.new_session = Some(Arc::clone(&session));
                        self.send(&session, now, rng)
                    }
                    Err(e) => self.finish(Outcome::Refused(Refusal::NotSent(e))),
                }
            }
            Phase::Sent => self.classify(&received),
            _ => self.misuse("handle_response"),
        }
    }

    /// The last request produced no answer.
    pub fn handle_transport_error(&mut self, error: TransportError) -> Action<E::Output> {
        match (self.phase, error) {
            (Phase::Authorizing, e) | (Phase::Sent, e @ TransportError::Unreachable(_)) => {
                self.finish(Outcome::Refused(Refusal::NotSent(e.into())))
            }
            (Phase::Sent, e) => self.unknown(e.into()),
            _ => self.misuse("handle_transport_error"),
        }
    }

    /// The session obtained by this call's authorization, once: store it for everyone.
    pub const fn take_new_session(&mut self) -> Option<Arc<Session>> {
        self.new_session.take()
    }

    fn wait(&mut self, need: Need) -> Action<E::Output> {
        self.phase = Phase::Waiting(need);
        Action::WaitForAuthorization
    }

    fn send<R: CryptoRng + ?Sized>(
        &mut self,
        session: &Session,
        now: Now,
        rng: &mut R,
    ) -> Action<E::Output> {
        let bank_now = session.bank_time(now.wall);
        match protocol::call_request(
            self.endpoint,
            session,
            self.params.api_version,
            bank_now,
            rng,
        ) {
            Ok(request) => {
                self.sends += 1;
                self.sent_in = Some(session.device_id.clone());
                self.phase = Phase::Sent;
                Action::Send(request)
            }
            Err(e) => self.finish(Outcome::Refused(Refusal::NotSent(e))),
        }
    }

    fn classify(&mut self, received: &Received) -> Action<E::Output> {
        let response = &received.response;
        let reply = protocol::read_reply::<E::Output>(
            response,
            self.params.merchant,
            self.endpoint.answer_encrypted(),
        );
        let last_chance = self.sends >= MAX_SENDS;
        match reply {
            Ok(Reply::Done(output)) => {
                if let Err(problem) = self.endpoint.check(&output) {
                    return self.unknown(Error::malformed(response.status, problem));
                }
                match self.endpoint.refusal_in(&output) {
                    Some(refusal) => self.finish(Outcome::Refused(refusal)),
                    None => self.finish(Outcome::Done(output)),
                }
            }
            Ok(Reply::SessionRejected(e)) if last_chance || self.reauthorized => {
                self.finish(Outcome::Refused(Refusal::NotSent(
                    Error::SessionRejectedAfterReauthorization(e),
                )))
            }
            Ok(Reply::SessionRejected(e)) => {
                log::info!("session rejected ({e}); re-authorizing once");
                self.rejected = self.sent_in.clone();
                self.wait(Need::Rejected)
            }
            Ok(Reply::StaleEncryption(e)) if last_chance => {
                self.finish(Outcome::Refused(Refusal::Bank(e)))
            }
            Ok(Reply::StaleEncryption(e)) => {
                self.rejected = self.sent_in.clone();
                self.stale = Some(e);
                self.wait(Need::Reencrypt)
            }
            Err(Error::Bank(e)) if !e.outcome_unknown() => {
                self.finish(Outcome::Refused(Refusal::Bank(e)))
            }
            Err(e) => self.unknown(e),
        }
    }

    fn unknown(&mut self, cause: Error) -> Action<E::Output> {
        let merchant_request_id = self.endpoint.merchant_request_id().map(str::to_owned);
        self.finish(Outcome::Unknown(Unknown {
            merchant_request_id,
            cause,
        }))
    }

    fn finish(&mut self, outcome: Outcome<E::Output>) -> Action<E::Output> {
        self.phase = Phase::Finished;
        Action::Finish(outcome)
    }

    /// A driver bug. Reported as Unknown when a request may be out, since then nobody knows.
    fn misuse(&mut self, what: &str) -> Action<E::Output> {
        let cause = Error::Config(format!(
            "the call was driven out of order: {what} in state {:?}",
            self.phase
        ));
        if self.sends > 0 {
            self.unknown(cause)
        } else {
            self.finish(Outcome::Refused(Refusal::NotSent(cause)))
        }
    }
}
