//! One bank call as a state machine: the protocol core. For every call it decides everything
//! (authorize first, renew ahead of expiry, re-authorize once after a session error, resend
//! once with the same `merchantRequestId` and a re-encrypted body, stale encryption, the
//! bank's clock, and what the final answer means); the driver of a call only moves bytes, holds
//! the single-flight lock and stores sessions. (Outside any call, [`crate::Client::authorize`]
//! and [`crate::Client::session`] authorize on the caller's request with the same
//! [`protocol`] functions, without this machine.)
//!
//! Inputs are the current session (or none), the time as [`Now`] (wall and monotonic
//! clocks), an RNG (request ids, ephemeral keys, IVs) and each response. There is no socket,
//! file, thread, clock or OS randomness in here, so a recorded session replays byte for byte
//! with a seeded RNG, and an async driver can reuse it unchanged.
//!
//! ```text
//!             start(session)
//!                   | usable session?
//!        +-- yes ---+--- no ------------+
//!        |                              v
//!        |                  WaitForAuthorization <---------------------------------+
//!        |                              | resume(current session)                  |
//!        |         usable now?  +- yes -+- no -+                                   |
//!        |                      |              v                                   |
//!        |                      |          Authorize -- error --> Finish(Refused)  |
//!        |                      |              | handle_response                   |
//!        v                      v              v (new session)                     |
//!       Send <------------------+--------------+                                   |
//!        | handle_response / handle_transport_error                                |
//!        +-- session rejected, first time -----------------------------------------+
//!        +-- b_encryptor_failed_decrypt_message, first time -----------------------+
//!        |       (then resent only if the session changed meanwhile)
//!        +--> Finish(Done | Refused | Unknown)
//! ```
//!
//! "Usable" means: not due for renewal on the monotonic clock, and not the session the bank
//! just rejected.
//!
//! The bank's clock is learnt from the authorization answer and then from the `Date` of every
//! response ([`Session::observe_date`]), and runs on the monotonic clock in between. A call
//! whose body states the time (a refund) in a session whose clock has not been observed in
//! this process (one read from a session file) first sends a lookup of its own
//! `merchantRequestId`, a read, to learn the bank's time from its answer. At most one re-authorization after a rejection and at most one resend per
//! call, so no loop can form; the resend keeps the `merchantRequestId`, gets fresh headers, a
//! fresh `date` and a body encrypted to the new session's key.
//!
//! # Walk-through
//! Create an order with no session yet; the bank answers, and we read the order.
//!
//! ```
//! use std::time::Duration;
//! use alliancepay_http::PrivateJwk;
//! use alliancepay_http::__private::call::{Action, Call, Params};
//! use alliancepay_http::__private::crypto::{self, InsecureSeededRng};
//! use alliancepay_http::__private::protocol::{HttpResponse, Received};
//! use alliancepay_http::{
//!     CreateOrder, Kopecks, MerchantRequestId, Now, Outcome, RenewalPolicy, UtcTime,
//! };
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
//! // The id from the same RNG as everything else, so the run replays byte for byte.
//! let order = CreateOrder::builder()
//!     .merchant_request_id(MerchantRequestId::generate_with(&mut rng))
//!     .merchant_id("m-1")
//!     .amount(Kopecks::new(4))
//!     .customer("c-1")
//!     .success_url("https://s/ok")
//!     .fail_url("https://s/no")
//!     .build()
//!     .unwrap();
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

use crate::error::{BankError, DUPLICATE_CODE, Error};
use crate::outcome::{Outcome, Refusal, Unknown};
use crate::protocol::{
    self, Endpoint, HttpRequest, Received, Reply, authorize_request, read_authorization,
};
use crate::session::{RenewalPolicy, Session};
use crate::time::Now;
use crate::transport::TransportError;

/// What does not change between calls of one client. `Debug` leaves the service code out: it
/// is the one credential of device authorization.
#[derive(Clone, Copy)]
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

impl core::fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Params")
            .field("merchant", self.merchant.public_jwk())
            .field("service_code", &"[redacted]")
            .field("api_version", &self.api_version)
            .field("renewal", &self.renewal)
            .finish()
    }
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
    /// The lookup that learns the bank's time before a dated request was sent.
    Probing,
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
    /// The session the last request went out in: its clock learns from the answer's `Date`.
    sent_in: Option<Arc<Session>>,
    sends: u8,
    probed: bool,
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
            probed: false,
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
            Some(s) if !s.needs_renewal(now) => self.send(s, now, rng),
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
        let usable = session.filter(|s| self.usable(s, now));
        match (usable, need) {
            (Some(s), _) => self.send(s, now, rng),
            (None, Need::Reencrypt) => {
                // Encrypted to the current session and still not decryptable: not ours to fix.
                let refusal = self.stale.take().map_or_else(
                    || {
                        Refusal::NotSent(Error::DriverMisuse(
                            "stale encryption without an error".into(),
                        ))
                    },
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

    /// While waiting ([`Action::WaitForAuthorization`]): whether [`Call::resume`] with
    /// `session` would ask to authorize. A driver that shares sessions between processes asks
    /// this before taking the authorization lease, and again after taking it.
    #[must_use]
    pub fn would_authorize(&self, session: Option<&Session>, now: Now) -> bool {
        match self.phase {
            Phase::Waiting(Need::Fresh | Need::Rejected) => {
                !session.is_some_and(|s| self.usable(s, now))
            }
            _ => false,
        }
    }

    /// While waiting: whether only a proactive renewal is asked for (no session of this
    /// call was rejected), so a worker that cannot authorize may go on with its session.
    #[must_use]
    pub fn renewal_only(&self) -> bool {
        self.phase == Phase::Waiting(Need::Fresh)
    }

    /// While waiting after the bank rejected a session: that session's device id, which no
    /// other call of the process should send again.
    #[must_use]
    pub fn rejected_device(&self) -> Option<&str> {
        match self.phase {
            Phase::Waiting(Need::Rejected) => self.rejected.as_deref(),
            _ => None,
        }
    }

    fn usable(&self, session: &Session, now: Now) -> bool {
        !session.needs_renewal(now) && self.rejected.as_deref() != Some(session.device_id.as_str())
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
                        self.send(session, now, rng)
                    }
                    Err(e) => self.finish(Outcome::Refused(Refusal::NotSent(e))),
                }
            }
            Phase::Probing => {
                let observed = self
                    .sent_in
                    .as_ref()
                    .is_some_and(|s| s.observe_date(received.date.as_deref(), now));
                if !observed {
                    tracing::warn!(
                        "the bank's answer stated no time; dating the request by this host's clock and the saved offset"
                    );
                }
                match self.sent_in.clone() {
                    Some(session) => self.send(session, now, rng),
                    None => self.misuse("handle_response"),
                }
            }
            Phase::Sent => {
                if let Some(s) = &self.sent_in {
                    s.observe_date(received.date.as_deref(), now);
                }
                self.classify(&received)
            }
            _ => self.misuse("handle_response"),
        }
    }

    /// The last request produced no answer.
    pub fn handle_transport_error(&mut self, error: TransportError) -> Action<E::Output> {
        match (self.phase, error) {
            // The lookup before a dated request is a read: the write has not been sent.
            (Phase::Authorizing | Phase::Probing, e)
            | (Phase::Sent, e @ TransportError::Unreachable(_)) => {
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
        session: Arc<Session>,
        now: Now,
        rng: &mut R,
    ) -> Action<E::Output> {
        let bank_now = session.bank_time(now);
        if self.endpoint.dated() && !session.clock_observed() && !self.probed {
            // Once per call, so an answer without a Date cannot loop.
            self.probed = true;
            if let Some(id) = self.endpoint.merchant_request_id() {
                let probe = crate::model::OperationQuery::ByMerchantRequestId {
                    merchant_request_id: id.clone(),
                };
                match protocol::call_request(
                    &probe,
                    &session,
                    self.params.api_version,
                    bank_now,
                    rng,
                ) {
                    Ok(request) => {
                        self.sent_in = Some(session);
                        self.phase = Phase::Probing;
                        return Action::Send(request);
                    }
                    Err(e) => return self.finish(Outcome::Refused(Refusal::NotSent(e))),
                }
            }
        }
        match protocol::call_request(
            self.endpoint,
            &session,
            self.params.api_version,
            bank_now,
            rng,
        ) {
            Ok(request) => {
                self.sends += 1;
                self.sent_in = Some(session);
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
                tracing::info!(msg_code = %e.msg_code, "session rejected ({e}); re-authorizing once");
                self.rejected = self.sent_in.as_ref().map(|s| s.device_id.clone());
                self.wait(Need::Rejected)
            }
            Ok(Reply::StaleEncryption(e)) if last_chance => {
                self.finish(Outcome::Refused(Refusal::Bank(e)))
            }
            Ok(Reply::StaleEncryption(e)) => {
                self.rejected = self.sent_in.as_ref().map(|s| s.device_id.clone());
                self.stale = Some(e);
                self.wait(Need::Reencrypt)
            }
            // The earlier request with this id exists: never "nothing happened".
            Err(Error::Bank(e)) if e.msg_code == DUPLICATE_CODE => {
                self.unknown(Error::AlreadyExists(e))
            }
            // Only the codes the bank documents as refusals prove that nothing happened; any
            // other code, or none, leaves a write to be looked up (bank-api.md §4.1).
            Err(Error::Bank(e)) if e.is_refusal() => {
                self.finish(Outcome::Refused(Refusal::Bank(e)))
            }
            Err(e) => self.unknown(e),
        }
    }

    fn unknown(&mut self, cause: Error) -> Action<E::Output> {
        let merchant_request_id = self
            .endpoint
            .merchant_request_id()
            .map(|id| id.as_str().to_owned());
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
        let cause = Error::DriverMisuse(format!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{self, InsecureSeededRng};
    use crate::model::{CreateOrder, HppOrderId, Kopecks, MerchantRequestId, OrderQuery, Refund};
    use crate::protocol::{AUTHORIZE_PATH, CREATE_ORDER_PATH, HttpResponse, REFUND_PATH};
    use crate::time::UtcTime;
    use core::time::Duration;

    /// Keys, a clock and an RNG: a scenario starts the machine in any state with these.
    struct World {
        merchant: PrivateJwk,
        bank: PrivateJwk,
    }

    fn world() -> (World, InsecureSeededRng) {
        let mut rng = InsecureSeededRng::new(42);
        let merchant = PrivateJwk::generate(&mut rng).unwrap();
        let bank = PrivateJwk::generate(&mut rng).unwrap();
        (World { merchant, bank }, rng)
    }

    fn at(secs: u64) -> Now {
        Now {
            wall: UtcTime::from_unix(1_773_131_702),
            monotonic: Duration::from_secs(secs),
        }
    }

    impl World {
        fn params(&self) -> Params<'_> {
            Params {
                merchant: &self.merchant,
                service_code: "svc",
                api_version: "v1",
                renewal: RenewalPolicy::default(),
            }
        }

        fn payload(&self, device: &str) -> String {
            format!(
                r#"{{"refreshToken":"rt-{device}","deviceId":"{device}","serverPublic":{},"tokenExpirationDateTime":"2026-03-11 08:35:02.0000 +0000"}}"#,
                crypto::public_jwk_to_string(self.bank.public_jwk())
            )
        }

        /// A session scheduled at monotonic 0, renewed at 12 h, whose clock was observed at
        /// authorization.
        fn session(&self, device: &str) -> Arc<Session> {
            let s = self.unobserved_session(device);
            s.observe_bank_time(at(0).wall, at(0));
            s
        }

        /// The same, as read from a session file: its clock not observed in this process.
        fn unobserved_session(&self, device: &str) -> Arc<Session> {
            let mut s = Session::from_payload(self.payload(device).as_bytes(), at(0).wall).unwrap();
            s.schedule(at(0), 0, RenewalPolicy::default());
            Arc::new(s)
        }

        /// The plaintext of a request encrypted to the bank's session key.
        fn opened(&self, request: &HttpRequest) -> serde_json::Value {
            let token = std::str::from_utf8(&request.body).unwrap();
            serde_json::from_slice(&crypto::decrypt_to_vec(&self.bank, token).unwrap()).unwrap()
        }

        fn sealed(&self, plain: &str, rng: &mut InsecureSeededRng) -> Received {
            let token =
                crypto::encrypt_with(self.merchant.public_jwk(), plain.as_bytes(), rng).unwrap();
            answer(200, &format!(r#"{{"jwe":"{token}"}}"#))
        }
    }

    fn answer(status: u16, body: &str) -> Received {
        Received {
            response: HttpResponse {
                status,
                content_type: Some("application/json".into()),
                request_id: None,
                body: body.as_bytes().to_vec(),
            },
            date: Some(at(0).wall.to_http_date()),
        }
    }

    fn error(status: u16, code: &str) -> Received {
        answer(
            status,
            &format!(r#"{{"msgType":"ERROR","msgCode":"{code}","msgText":"@x"}}"#),
        )
    }

    fn order() -> CreateOrder {
        let mut o = CreateOrder::builder()
            .merchant_id("m")
            .amount(Kopecks::new(4))
            .customer("c")
            .success_url("https://s/ok")
            .fail_url("https://s/no")
            .build()
            .unwrap();
        o.merchant_request_id = MerchantRequestId::new("order-1").unwrap();
        o
    }

    fn order_answer() -> Received {
        answer(
            200,
            r#"{"hppOrderId":"h-1","merchantRequestId":"order-1","orderStatus":"PENDING","redirectUrl":"https://pay/h-1"}"#,
        )
    }

    fn sent<T>(action: Action<T>) -> HttpRequest {
        match action {
            Action::Send(r) => r,
            Action::Authorize(r) => panic!("authorize {}", r.path),
            Action::WaitForAuthorization => panic!("wait"),
            Action::Finish(_) => panic!("finish"),
        }
    }

    #[test]
    fn a_usable_session_is_used_without_authorizing() {
        let (w, mut rng) = world();
        let o = order();
        let mut call = Call::new(&o, w.params());
        let request = sent(call.start(Some(w.session("d-1")), at(60), &mut rng));
        assert_eq!(request.path, CREATE_ORDER_PATH);
        assert_eq!(request.header("x-device_id"), Some("d-1"));
        let done = call.handle_response(order_answer(), at(61), &mut rng);
        assert!(matches!(done, Action::Finish(Outcome::Done(ref o)) if o.hpp_order_id == "h-1"));
        assert!(call.take_new_session().is_none());
    }

    #[test]
    fn a_due_session_waits_and_takes_one_renewed_meanwhile() {
        let (w, mut rng) = world();
        let o = order();
        let old = w.session("d-old");
        // 12 h on the monotonic clock: due, whatever the wall clock says.
        let late = at(12 * 3600);
        let mut call = Call::new(&o, w.params());
        assert!(matches!(
            call.start(Some(Arc::clone(&old)), late, &mut rng),
            Action::WaitForAuthorization
        ));
        // Another caller renewed while we waited: no authorization of our own.
        let mut fresh = Session::from_payload(w.payload("d-new").as_bytes(), late.wall).unwrap();
        fresh.schedule(late, 0, RenewalPolicy::default());
        let request = sent(call.resume(Some(Arc::new(fresh)), late, &mut rng));
        assert_eq!(request.header("x-device_id"), Some("d-new"));
        // Nobody renewed: this call authorizes.
        let mut other = Call::new(&o, w.params());
        assert!(matches!(
            other.start(Some(Arc::clone(&old)), late, &mut rng),
            Action::WaitForAuthorization
        ));
        assert!(matches!(
            other.resume(Some(old), late, &mut rng),
            Action::Authorize(ref r) if r.path == AUTHORIZE_PATH
        ));
    }

    #[test]
    fn a_rejected_session_is_replaced_once_and_the_call_resent_once() {
        let (w, mut rng) = world();
        let o = order();
        let old = w.session("d-1");
        let mut call = Call::new(&o, w.params());
        let first = sent(call.start(Some(Arc::clone(&old)), at(1), &mut rng));
        let wait = call.handle_response(error(401, "b_used_token"), at(2), &mut rng);
        assert!(matches!(wait, Action::WaitForAuthorization));
        // The rejected session is not "usable" even though it is not due.
        assert!(matches!(
            call.resume(Some(old), at(3), &mut rng),
            Action::Authorize(_)
        ));
        let payload = w.payload("d-2");
        let authorized = w.sealed(&payload, &mut rng);
        let resent = sent(call.handle_response(authorized, at(4), &mut rng));
        assert_eq!(call.take_new_session().unwrap().device_id, "d-2");
        assert_eq!(resent.header("x-device_id"), Some("d-2"));
        assert_ne!(resent.header("x-request_id"), first.header("x-request_id"));
        assert_eq!(
            resent.body, first.body,
            "same merchantRequestId, plain JSON body"
        );
        // Rejected again: an error, no third request.
        let end = call.handle_response(error(401, "b_used_token"), at(5), &mut rng);
        assert!(
            matches!(
                end,
                Action::Finish(Outcome::Refused(Refusal::NotSent(
                    Error::SessionRejectedAfterReauthorization(_)
                )))
            ),
            "{end:?}"
        );
    }

    #[test]
    fn stale_encryption_is_resent_only_in_a_newer_session() {
        let (w, mut rng) = world();
        let refund = Refund::builder()
            .merchant_id("m")
            .operation_id("op-1")
            .amount(Kopecks::new(100))
            .build()
            .unwrap();
        let old = w.session("d-1");
        let mut call = Call::new(&refund, w.params());
        let first = sent(call.start(Some(Arc::clone(&old)), at(1), &mut rng));
        assert_eq!(
            (first.path, first.content_type),
            (REFUND_PATH, "text/plain")
        );
        let stale = error(200, "b_encryptor_failed_decrypt_message");
        assert!(matches!(
            call.handle_response(stale.clone(), at(2), &mut rng),
            Action::WaitForAuthorization
        ));
        // Same session: the body was for it, so this is not ours to fix; nothing happened.
        let end = call.resume(Some(Arc::clone(&old)), at(3), &mut rng);
        assert!(
            matches!(end, Action::Finish(Outcome::Refused(Refusal::Bank(ref e))) if e.msg_code == "b_encryptor_failed_decrypt_message")
        );
        // A newer session exists: re-encrypted to it and resent.
        let mut call = Call::new(&refund, w.params());
        let _ = sent(call.start(Some(old), at(1), &mut rng));
        let _ = call.handle_response(stale, at(2), &mut rng);
        let resent = sent(call.resume(Some(w.session("d-2")), at(3), &mut rng));
        assert_eq!(resent.header("x-device_id"), Some("d-2"));
    }

    #[test]
    fn after_sending_a_write_every_failure_is_unknown_with_its_id() {
        let (w, mut rng) = world();
        let o = order();
        type Fail = Box<
            dyn Fn(
                &mut Call<'_, CreateOrder>,
                &mut InsecureSeededRng,
            ) -> Action<crate::model::Order>,
        >;
        let failures: Vec<(&str, Fail)> = vec![
            (
                "timeout",
                Box::new(|c, _| c.handle_transport_error(TransportError::Timeout("t".into()))),
            ),
            (
                "reset",
                Box::new(|c, _| c.handle_transport_error(TransportError::Failed("r".into()))),
            ),
            (
                "500",
                Box::new(|c, r| c.handle_response(error(500, "b_unknown_error"), at(2), r)),
            ),
            (
                "overload at 200",
                Box::new(|c, r| c.handle_response(error(200, "b_overload_error"), at(2), r)),
            ),
            (
                "empty 502",
                Box::new(|c, r| c.handle_response(answer(502, ""), at(2), r)),
            ),
            (
                "no hppOrderId",
                Box::new(|c, r| {
                    c.handle_response(answer(200, r#"{"orderStatus":"PENDING"}"#), at(2), r)
                }),
            ),
            (
                "other order",
                Box::new(|c, r| {
                    c.handle_response(answer(200, r#"{"hppOrderId":"h","merchantRequestId":"other","orderStatus":"PENDING","redirectUrl":"u"}"#), at(2), r)
                }),
            ),
            (
                "truncated",
                Box::new(|c, r| c.handle_response(answer(200, r#"{"hppOrderId":"h"#), at(2), r)),
            ),
        ];
        for (name, fail) in failures {
            let mut call = Call::new(&o, w.params());
            let _ = sent(call.start(Some(w.session("d-1")), at(1), &mut rng));
            match fail(&mut call, &mut rng) {
                Action::Finish(Outcome::Unknown(u)) => {
                    assert_eq!(u.merchant_request_id.as_deref(), Some("order-1"), "{name}");
                    assert!(u.to_string().contains("order-1"), "{name}: {u}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        // A reused id: the earlier request exists, so Unknown (never "nothing happened"),
        // saying to look it up.
        let mut call = Call::new(&o, w.params());
        let _ = sent(call.start(Some(w.session("d-1")), at(1), &mut rng));
        match call.handle_response(error(400, "b_duplicate_field_value"), at(2), &mut rng) {
            Action::Finish(Outcome::Unknown(u)) => {
                assert!(u.already_exists(), "{u}");
                assert!(matches!(u.cause, Error::AlreadyExists(ref e) if e.status == 400));
                assert!(u.to_string().contains("look it up"), "{u}");
            }
            other => panic!("{other:?}"),
        }
        // Refused, not unknown: a documented refusal, or no connection at all.
        let mut call = Call::new(&o, w.params());
        let _ = sent(call.start(Some(w.session("d-1")), at(1), &mut rng));
        assert!(matches!(
            call.handle_response(error(400, "b_txn_not_allowed"), at(2), &mut rng),
            Action::Finish(Outcome::Refused(Refusal::Bank(_)))
        ));
        let mut call = Call::new(&o, w.params());
        let _ = sent(call.start(Some(w.session("d-1")), at(1), &mut rng));
        assert!(matches!(
            call.handle_transport_error(TransportError::Unreachable("refused".into())),
            Action::Finish(Outcome::Refused(Refusal::NotSent(_)))
        ));
    }

    #[test]
    fn refunds_need_a_jwe_and_fail_with_error_details_is_a_refusal() {
        let (w, mut rng) = world();
        let mut refund = Refund::builder()
            .merchant_id("m")
            .operation_id("op-1")
            .amount(Kopecks::new(100))
            .build()
            .unwrap();
        refund.merchant_request_id = MerchantRequestId::new("r-1").unwrap();
        let plain = answer(
            200,
            r#"{"operationId":"op-2","status":"PENDING","merchantRequestId":"r-1"}"#,
        );
        let mut call = Call::new(&refund, w.params());
        let _ = sent(call.start(Some(w.session("d-1")), at(1), &mut rng));
        assert!(matches!(
            call.handle_response(plain, at(2), &mut rng),
            Action::Finish(Outcome::Unknown(_))
        ));
        let declined = w.sealed(r#"{"operationId":"op-3","status":"FAIL","merchantRequestId":"r-1","errorDetails":"b_security_time_in_request_not_correct"}"#, &mut rng);
        let mut call = Call::new(&refund, w.params());
        let _ = sent(call.start(Some(w.session("d-1")), at(1), &mut rng));
        let end = call.handle_response(declined, at(2), &mut rng);
        assert!(
            matches!(end, Action::Finish(Outcome::Refused(Refusal::Declined { code: Some(ref code), .. })) if code == "b_security_time_in_request_not_correct"),
            "{end:?}"
        );
        // The same record answering a read is an error, not an operation.
        let query = crate::model::OperationQuery::ByMerchantRequestId {
            merchant_request_id: MerchantRequestId::new("r-1").unwrap(),
        };
        let declined = w.sealed(r#"{"operationId":"op-3","status":"FAIL","merchantRequestId":"r-1","errorDetails":"b_x"}"#, &mut rng);
        let mut call = Call::new(&query, w.params());
        let _ = sent(call.start(Some(w.session("d-1")), at(1), &mut rng));
        let Action::Finish(outcome) = call.handle_response(declined, at(2), &mut rng) else {
            panic!()
        };
        assert!(matches!(outcome.into_result(), Err(Error::Declined { .. })));
    }

    #[test]
    fn reads_report_empty_answers_as_errors() {
        let (w, mut rng) = world();
        let query = OrderQuery {
            hpp_order_id: HppOrderId::new("h-1").unwrap(),
        };
        for body in [
            r#"{"token":"x"}"#,
            r#"{"hppOrderId":"h-2","orderStatus":"PENDING"}"#,
        ] {
            let mut call = Call::new(&query, w.params());
            let _ = sent(call.start(Some(w.session("d-1")), at(1), &mut rng));
            let Action::Finish(outcome) = call.handle_response(answer(200, body), at(2), &mut rng)
            else {
                panic!()
            };
            assert!(
                matches!(outcome.into_result(), Err(Error::MalformedResponse { .. })),
                "{body}"
            );
        }
    }

    #[test]
    fn invalid_input_and_misuse_end_without_a_request_or_a_panic() {
        let (w, mut rng) = world();
        let mut bad = order();
        bad.coin_amount = Kopecks::ZERO;
        let mut call = Call::new(&bad, w.params());
        assert!(matches!(
            call.start(None, at(1), &mut rng),
            Action::Finish(Outcome::Refused(Refusal::NotSent(
                Error::InvalidInput { .. }
            )))
        ));
        let o = order();
        let mut call = Call::new(&o, w.params());
        assert!(matches!(
            call.handle_response(order_answer(), at(1), &mut rng),
            Action::Finish(Outcome::Refused(_))
        ));
        let mut call = Call::new(&o, w.params());
        let _ = sent(call.start(Some(w.session("d-1")), at(1), &mut rng));
        assert!(matches!(
            call.resume(None, at(2), &mut rng),
            Action::Finish(Outcome::Unknown(_))
        ));
    }

    /// Drives a refund in a session whose clock is observed to its first answer.
    fn refund_answered(
        w: &World,
        rng: &mut InsecureSeededRng,
        reply: Received,
    ) -> Outcome<crate::model::Operation> {
        let mut refund = Refund::builder()
            .merchant_id("m")
            .operation_id("op-1")
            .amount(Kopecks::new(100))
            .build()
            .unwrap();
        refund.merchant_request_id = MerchantRequestId::new("r-1").unwrap();
        let mut call = Call::new(&refund, w.params());
        let _ = sent(call.start(Some(w.session("d-1")), at(1), rng));
        match call.handle_response(reply, at(2), rng) {
            Action::Finish(outcome) => outcome,
            other => panic!("{other:?}"),
        }
    }

    /// Only documented refusals are Refused: an unrecognised code, a business failure that
    /// may follow processing, and an error body without a code leave a refund Unknown.
    #[test]
    fn only_documented_refusal_codes_are_refusals() {
        let (w, mut rng) = world();
        for reply in [
            error(200, "b_reverse_transaction_failed"),
            error(200, "b_code_from_a_newer_bank_version"),
            error(400, "b_something_else"),
            answer(200, r#"{"msgType":"ERROR"}"#),
            answer(400, r#"{"msgType":"ERROR","msgCode":"","msgText":"@x"}"#),
            // A refusal code with a 5xx is not a refusal the bank documents.
            error(500, "b_payment_invalid_refund_amount"),
        ] {
            let body = String::from_utf8_lossy(&reply.response.body).into_owned();
            match refund_answered(&w, &mut rng, reply) {
                Outcome::Unknown(u) => {
                    assert_eq!(u.merchant_request_id.as_deref(), Some("r-1"), "{body}");
                    assert!(u.cause.outcome_unknown(), "{body}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        for code in [
            "b_payment_invalid_refund_amount",
            "b_payment_invalid_refund_status",
            "b_operation_not_found",
            "b_user_merchant_request_mismatch",
            "b_request_is_not_correct",
        ] {
            let outcome = refund_answered(&w, &mut rng, error(200, code));
            assert!(
                matches!(outcome, Outcome::Refused(Refusal::Bank(ref e)) if e.msg_code == code),
                "{code}: {outcome:?}"
            );
        }
    }

    /// Any FAIL record is a decline, with or without `errorDetails`.
    #[test]
    fn a_fail_record_without_error_details_is_a_decline() {
        let (w, mut rng) = world();
        for (record, code) in [
            (
                r#"{"operationId":"op-3","status":"FAIL","merchantRequestId":"r-1"}"#,
                None,
            ),
            (
                r#"{"operationId":"op-3","status":"FAIL","merchantRequestId":"r-1","errorDetails":null}"#,
                None,
            ),
            (
                r#"{"operationId":"op-3","status":"FAIL","merchantRequestId":"r-1","errorDetails":{"code":"b_x"}}"#,
                Some(r#"{"code":"b_x"}"#),
            ),
        ] {
            let reply = w.sealed(record, &mut rng);
            match refund_answered(&w, &mut rng, reply) {
                Outcome::Refused(r @ Refusal::Declined { .. }) => {
                    assert_eq!(r.code(), code, "{record}");
                    assert!(r.to_string().contains("FAIL"), "{r}");
                }
                other => panic!("{record}: {other:?}"),
            }
        }
    }

    /// bank-api.md §3.5 makes every member of an operation nullable: a refund answer without
    /// the `merchantRequestId` echo is accepted, one with another id is not; an order whose
    /// operation has no `operationId` is still read.
    #[test]
    fn nullable_echoes_are_accepted_and_mismatches_refused() {
        let (w, mut rng) = world();
        let missing = w.sealed(r#"{"operationId":"op-2","status":"PENDING"}"#, &mut rng);
        assert!(matches!(
            refund_answered(&w, &mut rng, missing),
            Outcome::Done(ref op) if op.operation_id.as_deref() == Some("op-2")
        ));
        let other = w.sealed(
            r#"{"operationId":"op-2","status":"PENDING","merchantRequestId":"r-other"}"#,
            &mut rng,
        );
        assert!(matches!(
            refund_answered(&w, &mut rng, other),
            Outcome::Unknown(_)
        ));
        let query = OrderQuery {
            hpp_order_id: HppOrderId::new("h-1").unwrap(),
        };
        let mut call = Call::new(&query, w.params());
        let _ = sent(call.start(Some(w.session("d-1")), at(1), &mut rng));
        let order = answer(
            200,
            r#"{"hppOrderId":"h-1","orderStatus":"PENDING","operations":[{"type":"PURCHASE","status":"PENDING"}]}"#,
        );
        assert!(matches!(
            call.handle_response(order, at(2), &mut rng),
            Action::Finish(Outcome::Done(ref o)) if o.operations.len() == 1
        ));
    }

    #[test]
    fn debug_of_a_call_hides_the_service_code() {
        let (w, mut rng) = world();
        let mut params = w.params();
        params.service_code = "svc-secret-4f1c";
        let o = order();
        let mut call = Call::new(&o, params);
        let shown = format!("{call:?} {params:?}");
        assert!(!shown.contains("svc-secret-4f1c"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        let _ = call.start(None, at(1), &mut rng);
        assert!(!format!("{call:?}").contains("svc-secret-4f1c"));
    }

    /// A host that booted a day ahead authorizes (the bank's Date says so); NTP then steps its
    /// wall clock back. The refund is dated by the bank's clock, not by the stale offset.
    #[test]
    fn a_wall_clock_step_after_authorization_does_not_misdate_refunds() {
        let (w, mut rng) = world();
        let bank_now = at(0).wall;
        let booted_ahead = Now {
            wall: bank_now.plus(86_400),
            monotonic: Duration::from_secs(10),
        };
        let mut refund = Refund::builder()
            .merchant_id("m")
            .operation_id("op-1")
            .amount(Kopecks::new(100))
            .build()
            .unwrap();
        refund.merchant_request_id = MerchantRequestId::new("r-1").unwrap();
        let mut call = Call::new(&refund, w.params());
        assert!(matches!(
            call.start(None, booted_ahead, &mut rng),
            Action::WaitForAuthorization
        ));
        let _ = call.resume(None, booted_ahead, &mut rng);
        let authorized = w.sealed(&w.payload("d-1"), &mut rng);
        assert_eq!(authorized.date, Some(bank_now.to_http_date()));
        let first = sent(call.handle_response(authorized, booted_ahead, &mut rng));
        assert_eq!(w.opened(&first)["date"], bank_now.to_request_date());
        let session = call.take_new_session().unwrap();
        assert_eq!(session.clock_offset_secs(), -86_400);
        // Two minutes later by the monotonic clock, the wall clock corrected meanwhile.
        let corrected = Now {
            wall: bank_now.plus(120),
            monotonic: Duration::from_secs(130),
        };
        let mut again = Refund::builder()
            .merchant_id("m")
            .operation_id("op-1")
            .amount(Kopecks::new(100))
            .build()
            .unwrap();
        again.merchant_request_id = MerchantRequestId::new("r-2").unwrap();
        let mut call = Call::new(&again, w.params());
        let request = sent(call.start(Some(session), corrected, &mut rng));
        assert_eq!(
            w.opened(&request)["date"],
            bank_now.plus(120).to_request_date()
        );
    }

    /// A session from a file has an unobserved clock: a refund first looks its own id up, a
    /// read, and dates itself by that answer's Date; a read needs no such lookup.
    #[test]
    fn an_unobserved_clock_is_learnt_before_a_dated_request() {
        let (w, mut rng) = world();
        let session = w.unobserved_session("d-1");
        let mut refund = Refund::builder()
            .merchant_id("m")
            .operation_id("op-1")
            .amount(Kopecks::new(100))
            .build()
            .unwrap();
        refund.merchant_request_id = MerchantRequestId::new("r-1").unwrap();
        let mut call = Call::new(&refund, w.params());
        // The host's wall clock is a day behind; the saved offset (0) is wrong.
        let behind = Now {
            wall: at(0).wall.plus(-86_400),
            monotonic: Duration::from_secs(50),
        };
        let probe = sent(call.start(Some(Arc::clone(&session)), behind, &mut rng));
        assert_eq!(probe.path, crate::protocol::OPERATION_BY_REQUEST_ID_PATH);
        assert_eq!(w.opened(&probe)["merchantRequestId"], "r-1");
        let mut not_found = error(200, "b_operation_not_found");
        not_found.date = Some(at(0).wall.to_http_date());
        let request = sent(call.handle_response(not_found, behind, &mut rng));
        assert_eq!(request.path, REFUND_PATH);
        assert_eq!(w.opened(&request)["date"], at(0).wall.to_request_date());
        assert!(session.clock_observed());
        // A transport failure of the lookup: the refund was never sent.
        let mut call = Call::new(&refund, w.params());
        let _ = sent(call.start(Some(w.unobserved_session("d-2")), behind, &mut rng));
        assert!(matches!(
            call.handle_transport_error(TransportError::Timeout("t".into())),
            Action::Finish(Outcome::Refused(Refusal::NotSent(_)))
        ));
        // Reads go straight out.
        let query = OrderQuery {
            hpp_order_id: HppOrderId::new("h-1").unwrap(),
        };
        let mut call = Call::new(&query, w.params());
        let read = sent(call.start(Some(w.unobserved_session("d-3")), behind, &mut rng));
        assert_eq!(read.path, crate::protocol::ORDER_DATA_PATH);
    }
}
