//! The bank's JSON documents (bank-api.md §3): requests we validate before sending, responses we
//! read leniently.
//!
//! Requests omit every unset optional field (the bank rejects `null` and `""`), and
//! [`Validate`] checks the documented limits so a bad field is reported by name before anything
//! is sent. Responses keep unknown members and unknown enum values, accept numbers written as
//! strings, and keep dates as the bank's raw text: the bank's own documents disagree on all three
//! (bank-api.md §5, items 6 to 10), and a payment must never be lost over a date format.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::{Error, rules};

mod amount;
mod customer;
mod ids;
mod operation;
mod order;
mod refund;

pub use amount::Kopecks;
pub use customer::CustomerData;
pub use ids::{HppOrderId, MerchantRequestId};
pub use operation::{Operation, OperationQuery};
pub use order::{
    CreateOrder, CreateOrderBuilder, DirectType, HppPayType, Order, OrderQuery, OrderStatus,
    PaymentMethod, StatusPageType,
};
pub use refund::{Refund, RefundBuilder};

/// Checks a request against the documented limits.
pub trait Validate {
    /// # Errors
    /// [`Error::InvalidInput`] naming the first field that fails.
    fn validate(&self) -> Result<(), Error>;
}

/// A rule of [`crate::rules`] applied to `field`: its problem becomes [`Error::InvalidInput`].
fn check(field: &str, rule: Result<(), rules::Problem>) -> Result<(), Error> {
    rule.map_err(|problem| Error::invalid(field, problem))
}

/// Present and at most `max` characters.
fn required(field: &str, value: &str, max: usize) -> Result<(), Error> {
    check(field, rules::text(value, max))
}

/// As [`required`] when set.
fn optional(field: &str, value: Option<&String>, max: usize) -> Result<(), Error> {
    value.map_or(Ok(()), |v| required(field, v, max))
}

/// Amounts arrive as numbers or as strings of digits (bank-api.md §5 item 8).
fn lenient_amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Kopecks>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|k| Some(Kopecks::new(k)))
            .ok_or_else(|| serde::de::Error::custom("coinAmount is not a whole number of kopecks")),
        Some(Value::String(s)) => s
            .parse()
            .map(|k| Some(Kopecks::new(k)))
            .map_err(|_| serde::de::Error::custom("coinAmount is not a string of digits")),
        Some(_) => Err(serde::de::Error::custom(
            "coinAmount is neither a number nor a string",
        )),
    }
}
