//! The one error type of the crate.
//!
//! Each variant is a different thing the caller does next: retry later (transport, timeout),
//! reconcile a write whose outcome is unknown (look it up by `merchantRequestId`), fix input,
//! fix configuration, or call the bank. Messages say which. None of them carries a secret.
//!
//! The errors people read ([`Error`], [`ConfigError`], the session store's
//! [`crate::sessions::StoreError`]) have messages complete on one line: they include the text
//! of their cause, so a log line or the CLI's stderr says everything.
//! [`std::error::Error::source`] gives the typed cause itself ([`TransportError`] and the HTTP
//! client's error under it, the [`std::io::Error`] of a key file, the JSON error of a session
//! file...) for programs that inspect it. [`Error::Config`] is transparent: its source is the
//! configuration error's own cause.

use core::fmt;
use std::path::PathBuf;

pub use crate::transport::TransportError;

/// An error the bank returned in its JSON error body (bank-api.md §4.1).
#[derive(Clone, PartialEq, Eq)]
pub struct BankError {
    /// HTTP status of the response (many bank errors arrive with 200).
    pub status: u16,
    /// `msgType`, normally `ERROR`.
    pub msg_type: String,
    /// `msgCode`, such as `b_expired_token`: what to classify by.
    pub msg_code: String,
    /// `msgText`, informative only (may start with `@`, may be Ukrainian).
    pub message: String,
    /// The bank's `requestId`, or the `x-request_id` response header: quote it to support.
    pub request_id: Option<String>,
}

/// Codes the bank documents as refusing a request before processing it: the request was
/// malformed or not permitted, the thing it refers to does not exist, or it belongs to another
/// merchant (bank-api.md §3, §4.2, §4.3). After one of these a write did nothing.
///
/// The list is deliberately short. bank-api.md §4.1 says error codes do not tell whether money
/// moved, so every other code (`b_unknown_error`, the overload codes, `b_reverse_transaction_failed`,
/// a code this version has never seen, an error body without a code) leaves a write Unknown: it
/// is looked up, never assumed undone. The session codes and `b_encryptor_failed_decrypt_message`
/// are handled by the call state machine before this list is consulted; `b_duplicate_field_value`
/// means an earlier request exists ([`Error::AlreadyExists`]).
pub const REFUSAL_CODES: [&str; 18] = [
    // Validation of the request (§4.3 "terminal client/validation errors").
    "b_invalid_request",
    "b_request_is_not_correct",
    "b_error_parse_json",
    "b_unsupported_payment_system",
    "b_invalid_pan_format",
    "b_validation_card_expiration_date",
    "b_validation_card_expiration_date_and_security_code",
    "b_err_missing_recipient_id",
    "b_err_invalid_itn_format",
    // Not permitted for this merchant or terminal.
    "b_txn_not_allowed",
    // Refund checks against the original operation (§3.4, §6.1 item 7).
    "b_payment_invalid_refund_amount",
    "b_payment_invalid_refund_status",
    // What the request refers to does not exist.
    "b_operation_not_found",
    "payment_operation_not_found",
    "b_payment_not_found",
    "b_hpp_order_not_found",
    // Another merchant's request (§4.2: configuration error).
    "b_user_merchant_request_mismatch",
    // Session layer: the gateway turns a request without its session header away (§4.2).
    "b_refresh_token_absent",
];

/// The bank's answer to a reused `merchantRequestId` (bank-api.md §3.2, §4.3): the earlier
/// request with that id exists.
pub const DUPLICATE_CODE: &str = "b_duplicate_field_value";

/// What [`BankError::msg_code`] holds when the error body has no `msgCode`.
pub const MISSING_CODE: &str = "(no msgCode)";

impl BankError {
    /// Whether this answer proves that a write did nothing: a code of [`REFUSAL_CODES`] with a
    /// status below 500. Everything else leaves a write's outcome open.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        self.status < 500 && REFUSAL_CODES.contains(&self.msg_code.as_str())
    }

    /// Whether this answer leaves a write's outcome open: the opposite of
    /// [`BankError::is_refusal`].
    #[must_use]
    pub fn outcome_unknown(&self) -> bool {
        !self.is_refusal()
    }
}

impl fmt::Debug for BankError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for BankError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}", self.msg_code, self.status)?;
        if !self.message.is_empty() {
            write!(f, ", \"{}\"", self.message.trim_start_matches('@'))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, ", request id {id}")?;
        }
        f.write_str(")")
    }
}

/// Everything that can go wrong between us and the bank.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request was not delivered or the response not received (DNS, connect, reset, TLS).
    /// For a write, the outcome is unknown: look the request up before sending it again. The
    /// [`TransportError`] says whether a connection was opened, and holds the HTTP client's
    /// error as its source.
    Transport(TransportError),
    /// No complete response within the configured timeout ([`TransportError::Timeout`]). For
    /// a write, the outcome is unknown.
    Timeout(TransportError),
    /// The bank answered with an error body. For a write, only the codes of [`REFUSAL_CODES`]
    /// mean that nothing happened (see [`Error::outcome_unknown`]).
    Bank(BankError),
    /// The bank already has a request with this `merchantRequestId` (`b_duplicate_field_value`):
    /// the earlier request was received, so this is never "nothing happened". Look the earlier
    /// request up; an unpaid order cannot be fetched by that id: let it expire and create a new
    /// order with a new id.
    AlreadyExists(BankError),
    /// The bank says the service code is locked (`b_auth_token_expired` on authorization, after
    /// 200 days without activity). Nothing we retry can fix it.
    ServiceCodeLocked(BankError),
    /// The bank rejected the session again right after a fresh authorization: something else
    /// (another process with the same service code?) keeps replacing it.
    SessionRejectedAfterReauthorization(BankError),
    /// The bank recorded the operation and refused it: its record says `FAIL`, usually with an
    /// `errorDetails` code (such as `b_security_time_in_request_not_correct`).
    Declined {
        /// `errorDetails`, when the record has one.
        code: Option<String>,
        /// The record, as the bank returned it.
        operation: Box<crate::model::Operation>,
    },
    /// A request body could not be encrypted to the session key (an RNG failure).
    Encryption(alliancepay_jose::Error),
    /// A JWE the bank sent did not decrypt with the merchant key.
    Decryption {
        /// What was being decrypted.
        what: &'static str,
        /// The core's reason (after key agreement always the one opaque error).
        source: alliancepay_jose::Error,
    },
    /// The response is not what the API specifies: an HTML error page, a truncated body, the
    /// wrong content type, a missing `jwe`, a session payload without a device id...
    MalformedResponse {
        /// HTTP status of the response.
        status: u16,
        /// What was wrong with it.
        problem: String,
    },
    /// A request field fails the documented limits; nothing was sent.
    InvalidInput {
        /// The field, as the API names it (`customerData.senderEmail`).
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A key, configuration or session file could not be used.
    Config(ConfigError),
    /// A driver called the protocol core out of order (a bug in the driver, not in the input).
    DriverMisuse(String),
    /// Reading or writing a local file failed.
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn malformed(status: u16, problem: impl Into<String>) -> Self {
        Self::MalformedResponse {
            status,
            problem: problem.into(),
        }
    }

    /// The bank's error, for the variants that carry one.
    #[must_use]
    pub const fn bank_error(&self) -> Option<&BankError> {
        match self {
            Self::Bank(e)
            | Self::AlreadyExists(e)
            | Self::ServiceCodeLocked(e)
            | Self::SessionRejectedAfterReauthorization(e) => Some(e),
            _ => None,
        }
    }

    /// Whether a write that failed this way may have reached the bank, so that its outcome must
    /// be looked up (by `merchantRequestId`) before anything is sent again. The protocol core
    /// makes the same decision when it classifies a write (see [`crate::Outcome`]).
    #[must_use]
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Transport(_)
            | Self::Timeout(_)
            | Self::MalformedResponse { .. }
            | Self::Decryption { .. }
            | Self::AlreadyExists(_) => true,
            Self::Bank(e) => e.outcome_unknown(),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) => write!(
                f,
                "could not reach the bank: {e}: {}; check the base URL and the network, and look up any payment request before resending it",
                e.cause()
            ),
            Self::Timeout(e) => write!(
                f,
                "the bank did not answer in time ({}); look up any payment request before resending it",
                e.cause()
            ),
            Self::Bank(e) if e.is_refusal() => write!(f, "the bank refused the request: {e}"),
            Self::Bank(e) => write!(f, "the bank answered with an error: {e}"),
            Self::AlreadyExists(e) => write!(
                f,
                "the bank already has a request with this merchantRequestId ({e}): the earlier request was received; look it up by that id (an unpaid order cannot be fetched by it: let it expire and create a new order with a new id)"
            ),
            Self::ServiceCodeLocked(e) => write!(
                f,
                "the bank has locked this service code ({e}); contact the bank's support to reactivate it"
            ),
            Self::SessionRejectedAfterReauthorization(e) => write!(
                f,
                "the bank rejected a session obtained a moment ago ({e}); is another process authorizing with the same service code?"
            ),
            Self::Declined { code, operation } => write!(
                f,
                "the bank recorded operation {} as FAIL: {}",
                operation.operation_id.as_deref().unwrap_or("(no id)"),
                code.as_deref().unwrap_or("no errorDetails")
            ),
            Self::Encryption(e) => write!(f, "could not encrypt the request: {e}"),
            Self::Decryption { what, source } => write!(
                f,
                "could not decrypt the {what}: {source}; is the merchant key the one registered with the bank?"
            ),
            Self::MalformedResponse { status, problem } => {
                write!(
                    f,
                    "unexpected response from the bank (HTTP {status}): {problem}"
                )
            }
            Self::InvalidInput { field, problem } => write!(f, "invalid {field}: {problem}"),
            Self::Config(e) => fmt::Display::fmt(e, f),
            Self::DriverMisuse(d) => write!(f, "internal error: {d}"),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decryption { source, .. } | Self::Encryption(source) => Some(source),
            Self::Io { source, .. } => Some(source),
            Self::Transport(e) | Self::Timeout(e) => Some(e),
            // The configuration problem's own cause (the key file's I/O error...): the
            // configuration error adds no more than this message.
            Self::Config(e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

/// What is wrong with the configuration: the client's settings, the key files, the session
/// store. Nothing was sent to the bank.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The base URL cannot be used (see [`crate::ClientConfig::check`]).
    #[error("base URL {url:?} {problem}")]
    BaseUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        problem: BaseUrlProblem,
    },
    /// A key file could not be read.
    #[error("{}: cannot read the key file: {source}", path.display())]
    KeyFileUnreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A key file does not hold a usable P-384 JWK.
    #[error("{}: not a usable {} P-384 JWK: {source}", path.display(), if *private { "private" } else { "public or private" })]
    KeyInvalid {
        /// The file.
        path: PathBuf,
        /// Whether a private key was expected.
        private: bool,
        /// The JWK parser's reason.
        source: alliancepay_jose::JwkError,
    },
    /// The session store's path is refused before anything is written to it.
    #[error("{} {problem}; refusing to use it as the session store (nothing was written)", path.display())]
    SessionFileRefused {
        /// The file refused (the session file, or its lock file).
        path: PathBuf,
        /// Why.
        #[source]
        problem: SessionFileProblem,
    },
    /// The session store's specification is not one of the accepted forms.
    #[error("{0}")]
    StoreSpec(StoreSpecProblem),
    /// The `redis` crate does not accept the session store's URL. The URL itself is not
    /// repeated: it may hold a password.
    #[error("the session store URL is not a usable redis:// or rediss:// URL ({category})")]
    StoreUrl {
        /// The kind of problem, as the `redis` crate names it.
        category: String,
        /// The `redis` crate's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The keyed digest that names the store's keys could not be set up.
    #[error("cannot key the session store's key names")]
    StoreKeyNames,
}

/// What is wrong with a base URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BaseUrlProblem {
    /// No `scheme://`.
    #[error("has no scheme; use https://")]
    NoScheme,
    /// Nothing between `://` and the path.
    #[error("has no host")]
    NoHost,
    /// `http://` to a host that is not loopback, without the opt-in.
    #[error(
        "is plain http to {host}, which is not loopback: the service code and refresh token would travel unencrypted; use https:// (or opt in with allow_plain_http)"
    )]
    PlainHttp {
        /// The host.
        host: String,
    },
    /// A scheme other than `https` and `http`.
    #[error("has scheme {scheme:?}; use https://")]
    UnsupportedScheme {
        /// The scheme as written.
        scheme: String,
    },
}

/// Why a file is not taken as the session store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionFileProblem {
    /// A directory, a device...
    #[error("is not a regular file")]
    NotARegularFile,
    /// The lock file beside the session file holds something else than a deadline.
    #[error("exists and is not a session lock file")]
    NotALockFile,
    /// The file is not JSON.
    #[error("is not an alliancepay session file (it is not JSON)")]
    NotJson(#[source] serde_json::Error),
    /// The file has our marker but not our record's fields.
    #[error("is not an alliancepay session file (unreadable session record: {0})")]
    UnreadableRecord(#[source] serde_json::Error),
    /// A format marker of another version.
    #[error("is not an alliancepay session file (format {found} is not {expected})")]
    UnknownFormat {
        /// The file's format.
        found: u32,
        /// This version's.
        expected: u32,
    },
    /// A JWK with a private part: probably the merchant key.
    #[error(
        "is not an alliancepay session file (it holds a private key: is it the merchant key file?)"
    )]
    HoldsPrivateKey,
    /// A public JWK.
    #[error("is not an alliancepay session file (it holds a key)")]
    HoldsKey,
    /// Any other JSON.
    #[error(
        "is not an alliancepay session file (its contents are not a session this client wrote)"
    )]
    Foreign,
}

/// What is wrong with a session store specification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreSpecProblem {
    /// `file:` without a path.
    #[error("session store file: needs a path")]
    FileWithoutPath,
    /// Not `memory`, `file:`, `redis://` or `rediss://`.
    #[error(
        "session store must be memory, file:PATH, redis://HOST[:PORT][/DB] or rediss://… (the scheme part of the given value was not recognized)"
    )]
    UnknownForm,
    /// A Redis URL in a build without the `redis` feature.
    #[error("a redis:// session store needs alliancepay-http built with the `redis` feature")]
    RedisNotBuiltIn,
}
