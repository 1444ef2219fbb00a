//! `customerData` of an HPP order (bank-api.md §3.2).

use serde::{Deserialize, Serialize};

use super::{Validate, check, optional, required};
use crate::{Error, rules};

/// `customerData` of an HPP order.
///
/// [`CustomerData::new`] (or `From` the customer id) and set the optional members.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CustomerData {
    /// The merchant's id for the customer (required, at most 255 characters).
    pub sender_customer_id: String,
    /// At most 30 characters of letters, inner spaces or hyphens, and apostrophes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_first_name: Option<String>,
    /// As `sender_first_name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_last_name: Option<String>,
    /// At most 256 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_email: Option<String>,
    /// Digits only, at most 20.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_phone: Option<String>,
    /// ISO 3166 numeric code, such as `804`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_country: Option<String>,
    /// At most 25 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_city: Option<String>,
}

impl CustomerData {
    /// A customer known by the merchant's id for them, with no other data.
    #[must_use]
    pub fn new(sender_customer_id: impl Into<String>) -> Self {
        Self {
            sender_customer_id: sender_customer_id.into(),
            ..Self::default()
        }
    }
}

impl From<&str> for CustomerData {
    fn from(sender_customer_id: &str) -> Self {
        Self::new(sender_customer_id)
    }
}

impl From<&String> for CustomerData {
    fn from(sender_customer_id: &String) -> Self {
        Self::new(sender_customer_id.as_str())
    }
}

impl From<String> for CustomerData {
    fn from(sender_customer_id: String) -> Self {
        Self::new(sender_customer_id)
    }
}

fn person_name(field: &str, value: Option<&String>) -> Result<(), Error> {
    value.map_or(Ok(()), |v| check(field, rules::person_name(v)))
}

impl Validate for CustomerData {
    fn validate(&self) -> Result<(), Error> {
        required(
            "customerData.senderCustomerId",
            &self.sender_customer_id,
            rules::customer_max("senderCustomerId"),
        )?;
        person_name(
            "customerData.senderFirstName",
            self.sender_first_name.as_ref(),
        )?;
        person_name(
            "customerData.senderLastName",
            self.sender_last_name.as_ref(),
        )?;
        if let Some(email) = &self.sender_email {
            check("customerData.senderEmail", rules::email(email))?;
        }
        if let Some(phone) = &self.sender_phone {
            check("customerData.senderPhone", rules::phone(phone))?;
        }
        if let Some(country) = &self.sender_country {
            check("customerData.senderCountry", rules::country(country))?;
        }
        optional(
            "customerData.senderCity",
            self.sender_city.as_ref(),
            rules::customer_max("senderCity"),
        )
    }
}
