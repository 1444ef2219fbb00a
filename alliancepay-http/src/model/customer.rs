//! `customerData` of an HPP order (bank-api.md §3.2).

use serde::{Deserialize, Serialize};

use super::{Validate, optional, required};
use crate::Error;

/// `customerData` of an HPP order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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

fn person_name(field: &str, value: Option<&String>) -> Result<(), Error> {
    let Some(v) = value else { return Ok(()) };
    required(field, v, 30)?;
    let ok_chars = v
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\''));
    let inner = !v.starts_with([' ', '-']) && !v.ends_with([' ', '-']);
    if !ok_chars || !inner {
        return Err(Error::invalid(
            field,
            "only letters, inner spaces or hyphens, and apostrophes are allowed",
        ));
    }
    if ["NULL", "3D SECURE", "SURNAME", "CARDHOLDER", "UNKNOWN"]
        .contains(&v.to_uppercase().as_str())
    {
        return Err(Error::invalid(
            field,
            format!("{v:?} is a placeholder the bank refuses"),
        ));
    }
    Ok(())
}

impl Validate for CustomerData {
    fn validate(&self) -> Result<(), Error> {
        required(
            "customerData.senderCustomerId",
            &self.sender_customer_id,
            255,
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
            required("customerData.senderEmail", email, 256)?;
            if !email.contains('@') {
                return Err(Error::invalid(
                    "customerData.senderEmail",
                    "is not an e-mail address",
                ));
            }
        }
        if let Some(phone) = &self.sender_phone {
            required("customerData.senderPhone", phone, 20)?;
            if !phone.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid(
                    "customerData.senderPhone",
                    "must be digits only",
                ));
            }
        }
        if let Some(country) = &self.sender_country
            && (country.len() != 3 || !country.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Error::invalid(
                "customerData.senderCountry",
                "must be a 3-digit ISO 3166 numeric code, such as 804",
            ));
        }
        optional("customerData.senderCity", self.sender_city.as_ref(), 25)
    }
}
