//! What a write ends as: done, refused, or unknown. Never anything in between.
//!
//! A write (create an order, refund) that fails after its request may have reached the bank
//! cannot be reported as an error like any other: the money may have moved. [`Outcome`] makes
//! the caller handle that case by type. The rule for `Unknown` is that the same request, with
//! the same `merchantRequestId`, may be resent (the bank answers a repeated refund with the
//! operation it already made; a repeated order with `b_duplicate_field_value`), or the request
//! looked up by that id; never a new request with a new id.

use core::fmt;

use crate::error::{BankError, Error};
use crate::model::Operation;

/// The result of a write.
#[derive(Debug)]
#[must_use = "a write's outcome may be Unknown: it must be resolved, not dropped"]
pub enum Outcome<T> {
    /// The bank applied the write; here is its record, with every mandatory member present.
    Done(T),
    /// Nothing happened: the bank refused the request with one of the codes it documents as a
    /// refusal ([`crate::error::REFUSAL_CODES`]), recorded it as `FAIL`, or it never reached
    /// the bank.
    Refused(Refusal),
    /// The request may have been applied: resolve it by `merchantRequestId` (lookup, or resend
    /// the same request) before anything else. With [`Error::AlreadyExists`] as its cause an
    /// earlier request with the same id was received: look that one up.
    Unknown(Unknown),
}

/// Why a write did nothing.
#[derive(Debug)]
#[non_exhaustive]
pub enum Refusal {
    /// The bank answered with one of the error codes it documents as a refusal
    /// ([`crate::error::REFUSAL_CODES`]), or could not decrypt a body encrypted to its current
    /// session key (`b_encryptor_failed_decrypt_message`: it never read the request).
    Bank(BankError),
    /// The bank recorded the operation with status `FAIL` (a decline, whatever else the record
    /// says).
    Declined {
        /// `errorDetails`, such as `b_security_time_in_request_not_correct`, when the record
        /// has one.
        code: Option<String>,
        /// The bank's record.
        operation: Box<Operation>,
    },
    /// The request never reached the write endpoint: invalid input, no session could be
    /// obtained, the connection could not be opened, or the session was rejected twice.
    NotSent(Error),
}

/// A write whose fate is not known, and why.
#[derive(Debug)]
pub struct Unknown {
    /// The id to look the request up by (or to resend it with).
    pub merchant_request_id: Option<String>,
    /// What went wrong after the request may have reached the bank.
    pub cause: Error,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bank(e) => write!(f, "the bank refused the request: {e}"),
            Self::Declined { code, operation } => write!(
                f,
                "the bank recorded operation {} as FAIL: {}",
                operation.operation_id.as_deref().unwrap_or("(no id)"),
                code.as_deref().unwrap_or("no errorDetails")
            ),
            Self::NotSent(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "outcome unknown: {}", self.cause)?;
        if self.already_exists() {
            return Ok(());
        }
        if let Some(id) = &self.merchant_request_id {
            write!(
                f,
                "; the bank may have applied it: look up merchantRequestId {id} or resend with the same id"
            )?;
        }
        Ok(())
    }
}

impl Unknown {
    /// Whether the bank said that a request with this `merchantRequestId` already exists
    /// ([`Error::AlreadyExists`]).
    #[must_use]
    pub const fn already_exists(&self) -> bool {
        matches!(self.cause, Error::AlreadyExists(_))
    }
}

impl Refusal {
    /// The error a read reports for this refusal.
    #[must_use]
    pub fn into_error(self) -> Error {
        match self {
            Self::Bank(e) => Error::Bank(e),
            Self::Declined { code, operation } => Error::Declined { code, operation },
            Self::NotSent(e) => e,
        }
    }

    /// The bank's error code, if the bank gave one.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Bank(e) => Some(&e.msg_code),
            Self::Declined { code, .. } => code.as_deref(),
            Self::NotSent(e) => e.bank_error().map(|b| b.msg_code.as_str()),
        }
    }
}

impl<T> Outcome<T> {
    /// The record, if done.
    #[must_use]
    pub fn done(self) -> Option<T> {
        match self {
            Self::Done(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the write may have happened without us knowing.
    #[must_use]
    pub const fn is_unknown(&self) -> bool {
        matches!(self, Self::Unknown(_))
    }

    /// As a `Result`, for reads (where nothing is at stake when an answer is lost) and for
    /// callers that handle `Unknown` through [`Error::outcome_unknown`].
    ///
    /// # Errors
    /// The refusal's error, or the cause of the unknown outcome.
    pub fn into_result(self) -> Result<T, Error> {
        match self {
            Self::Done(t) => Ok(t),
            Self::Refused(r) => Err(r.into_error()),
            Self::Unknown(u) => Err(u.cause),
        }
    }
}
