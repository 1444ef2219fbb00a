//! The bank's rules for request members (bank-api.md §3.2, §3.4), written once.
//!
//! The client checks a request with these before sending it ([`crate::model::Validate`]), and
//! the simulator checks what it receives with the same functions (`simulator::validate`), so
//! the two cannot drift apart. A rule answers the problem as a sentence; each side wraps it in
//! its own error with the member's name (`Error::InvalidInput` for the client,
//! `b_request_is_not_correct` for the simulator). The simulator adds what only a server sees:
//! members of the wrong JSON type, explicit `null` or `""`, unknown enum values.

use core::ops::RangeInclusive;

/// What is wrong with a member, as a sentence without the member's name.
pub(crate) type Problem = String;

/// `merchantRequestId` and `merchantId`: at most 36 characters (a UUID).
pub(crate) const ID_MAX: usize = 36;
/// `operationId`, `hppOrderId` and the H2H lookup's `id`.
pub(crate) const BANK_ID_MAX: usize = 255;
/// `successUrl`, `failUrl` and `notificationUrl`.
pub(crate) const URL_MAX: usize = 1000;
/// `purpose`.
pub(crate) const PURPOSE_MAX: usize = 255;
/// `merchantComment`.
pub(crate) const COMMENT_MAX: usize = 255;
/// `merchantComment` of an A2A order: at least this many characters.
pub(crate) const A2A_COMMENT_MIN: usize = 14;
/// `expirationTimeMinutes`.
pub(crate) const EXPIRATION_MINUTES: RangeInclusive<u64> = 1..=9999;
/// `coinAmount`: a positive number of kopecks.
pub(crate) const MIN_AMOUNT: u64 = 1;

// The allowed values of the enum members, as the simulator checks them; the client's enums
// (crate::model) carry the same names in their serde attributes, and a test compares them.

/// `hppPayType` (the client's [`crate::model::HppPayType`]).
#[cfg(any(test, feature = "simulator"))]
pub(crate) const HPP_PAY_TYPES: [&str; 2] = ["PURCHASE", "A2A"];
/// `paymentMethods` items ([`crate::model::PaymentMethod`]).
#[cfg(any(test, feature = "simulator"))]
pub(crate) const PAYMENT_METHODS: [&str; 3] = ["CARD", "APPLE_PAY", "GOOGLE_PAY"];
/// `statusPageType` ([`crate::model::StatusPageType`]).
#[cfg(any(test, feature = "simulator"))]
pub(crate) const STATUS_PAGE_TYPES: [&str; 3] = [
    "STATUS_TIMER_PAGE",
    "STATUS_REDIRECT_MERCHANT_PAGE",
    "STATUS_PAGE",
];
/// `directType` ([`crate::model::DirectType`]).
#[cfg(any(test, feature = "simulator"))]
pub(crate) const DIRECT_TYPES: [&str; 2] = ["REDIRECT", "BANK_LINK"];
/// `language`.
pub(crate) const LANGUAGES: [&str; 10] =
    ["uk", "en", "es", "de", "pl", "fr", "tr", "it", "nl", "pt"];
/// `priorityBankCode`.
#[cfg(feature = "simulator")]
pub(crate) const BANK_CODES: [&str; 13] = [
    "QR_BANK_GOV",
    "BANK_GOV",
    "PRIVAT_BANK",
    "SENSE_BANK",
    "CREDIT_DNEPR",
    "A_BANK",
    "RADA_BANK",
    "OTP_BANK",
    "PRAVEX_BANK",
    "UNEX_BANK",
    "ACCORD_BANK",
    "PIVDENNIY_BANK",
    "CONCORD_BANK",
];

/// `customerData` members and their maximum lengths (bank-api.md §3.2).
pub(crate) const CUSTOMER_MEMBERS: [(&str, usize); 18] = [
    ("senderCustomerId", 255),
    ("senderFirstName", 30),
    ("senderLastName", 30),
    ("senderMiddleName", 30),
    ("senderEmail", 256),
    ("senderCountry", 3),
    ("senderRegion", 255),
    ("senderCity", 25),
    ("senderStreet", 35),
    ("senderAdditionalAddress", 255),
    ("senderItn", 20),
    ("senderPassport", 255),
    ("senderIp", 50),
    ("senderPhone", 20),
    ("senderBirthday", 50),
    ("senderGender", 50),
    ("senderZipCode", 50),
    ("senderCustomerType", 50),
];

/// The maximum length of the `customerData` member `name`; 0 (refusing every value) for a
/// name not in [`CUSTOMER_MEMBERS`], which a unit test rules out for the names used.
pub(crate) fn customer_max(name: &str) -> usize {
    CUSTOMER_MEMBERS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, max)| *max)
}

/// At most `max` characters (Unicode scalar values, as the bank counts).
pub(crate) fn max_chars(value: &str, max: usize) -> Result<(), Problem> {
    let n = value.chars().count();
    if n > max {
        return Err(format!("is {n} characters long; at most {max} allowed"));
    }
    Ok(())
}

/// Present (not empty or blank: the bank refuses `""`) and at most `max` characters.
pub(crate) fn text(value: &str, max: usize) -> Result<(), Problem> {
    if value.trim().is_empty() {
        return Err("is required and must not be empty".into());
    }
    max_chars(value, max)
}

/// A URL the bank will call or send the browser to: text of at most [`URL_MAX`] characters,
/// `http://` or `https://`. The simulator checks only the length, so that tests can send it
/// what a careless client might (its HPP page defends against such URLs itself).
pub(crate) fn http_url(value: &str) -> Result<(), Problem> {
    text(value, URL_MAX)?;
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        return Err("must be an http(s) URL".into());
    }
    Ok(())
}

/// Letters, digits, space and `,.;:@#$%'-=+`: the charset of `merchantComment`.
pub(crate) fn comment_charset(value: &str) -> Result<(), Problem> {
    match value
        .chars()
        .find(|c| !(c.is_alphanumeric() || " ,.;:@#$%'-=+".contains(*c)))
    {
        Some(c) => Err(format!(
            "contains {c:?}; allowed are letters, digits, space and ,.;:@#$%'-=+"
        )),
        None => Ok(()),
    }
}

/// `merchantComment`: at most [`COMMENT_MAX`] characters of the comment charset, and at least
/// [`A2A_COMMENT_MIN`] for an A2A order.
pub(crate) fn comment(value: &str, a2a: bool) -> Result<(), Problem> {
    text(value, COMMENT_MAX)?;
    if a2a && value.chars().count() < A2A_COMMENT_MIN {
        return Err(format!(
            "must be at least {A2A_COMMENT_MIN} characters for A2A orders"
        ));
    }
    comment_charset(value)
}

/// The problem of an A2A order without `merchantComment`.
pub(crate) const A2A_COMMENT_REQUIRED: &str = "is required for A2A orders";

/// A person's name (`senderFirstName`, `senderLastName`, `senderMiddleName`): at most 30
/// letters, inner spaces or hyphens, and apostrophes; not one of the placeholders the bank
/// refuses.
pub(crate) fn person_name(value: &str) -> Result<(), Problem> {
    text(value, customer_max("senderFirstName"))?;
    let ok_chars = value
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\''));
    let inner = !value.starts_with([' ', '-']) && !value.ends_with([' ', '-']);
    if !ok_chars || !inner {
        return Err("only letters, inner spaces or hyphens, and apostrophes are allowed".into());
    }
    if ["NULL", "3D SECURE", "SURNAME", "CARDHOLDER", "UNKNOWN"]
        .contains(&value.to_uppercase().as_str())
    {
        return Err(format!("{value:?} is a placeholder the bank refuses"));
    }
    Ok(())
}

/// `senderEmail`.
pub(crate) fn email(value: &str) -> Result<(), Problem> {
    text(value, customer_max("senderEmail"))?;
    if !value.contains('@') {
        return Err("is not an e-mail address".into());
    }
    Ok(())
}

/// `senderPhone`: digits only.
pub(crate) fn phone(value: &str) -> Result<(), Problem> {
    text(value, customer_max("senderPhone"))?;
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be digits only".into());
    }
    Ok(())
}

/// `senderCountry`: an ISO 3166 numeric code.
pub(crate) fn country(value: &str) -> Result<(), Problem> {
    if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be a 3-digit ISO 3166 numeric code, such as 804".into());
    }
    Ok(())
}

/// `coinAmount`: at least [`MIN_AMOUNT`].
pub(crate) fn amount(kopecks: u64) -> Result<(), Problem> {
    if kopecks < MIN_AMOUNT {
        return Err("must be at least 1 kopeck".into());
    }
    Ok(())
}

/// `expirationTimeMinutes`.
pub(crate) fn expiration_minutes(minutes: u64) -> Result<(), Problem> {
    if !EXPIRATION_MINUTES.contains(&minutes) {
        return Err(format!(
            "must be a whole number of minutes, {} to {}",
            EXPIRATION_MINUTES.start(),
            EXPIRATION_MINUTES.end()
        ));
    }
    Ok(())
}

/// `value` is one of `allowed`.
pub(crate) fn one_of(value: &str, allowed: &[&str]) -> Result<(), Problem> {
    if !allowed.contains(&value) {
        return Err(format!("{value:?} is not one of {}", allowed.join(", ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DirectType, HppPayType, PaymentMethod, StatusPageType};

    fn wire<T: serde::Serialize>(v: T) -> String {
        serde_json::to_value(v)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The client's enums and the simulator's lists name the same values.
    #[test]
    fn enum_lists_match_the_client_types() {
        let pay = [HppPayType::Purchase, HppPayType::A2a].map(wire);
        assert_eq!(pay, HPP_PAY_TYPES.map(str::to_owned));
        let methods = [
            PaymentMethod::Card,
            PaymentMethod::ApplePay,
            PaymentMethod::GooglePay,
        ]
        .map(wire);
        assert_eq!(methods, PAYMENT_METHODS.map(str::to_owned));
        let pages = [
            StatusPageType::StatusTimerPage,
            StatusPageType::StatusRedirectMerchantPage,
            StatusPageType::StatusPage,
        ]
        .map(wire);
        assert_eq!(pages, STATUS_PAGE_TYPES.map(str::to_owned));
        let direct = [DirectType::Redirect, DirectType::BankLink].map(wire);
        assert_eq!(direct, DIRECT_TYPES.map(str::to_owned));
    }

    #[test]
    fn each_rule_accepts_and_refuses() {
        assert!(text("a", 1).is_ok());
        assert!(text(" ", 5).is_err());
        assert!(text("ab", 1).unwrap_err().contains("2 characters long"));
        // Characters, not bytes.
        assert!(max_chars("їїї", 3).is_ok());
        assert!(http_url("https://shop/ok").is_ok());
        assert!(http_url("javascript:alert(1)").is_err());
        assert!(http_url(&format!("https://{}", "x".repeat(URL_MAX))).is_err());
        assert!(comment("Order 48213, thanks", true).is_ok());
        assert!(comment("too short", true).is_err());
        assert!(comment("too short", false).is_ok());
        assert!(comment("order <48213>", false).is_err());
        assert!(person_name("Olena O'Hara-Koval").is_ok());
        for bad in ["CardHolder", "-Olena", "Olena1", &"x".repeat(31)] {
            assert!(person_name(bad).is_err(), "{bad}");
        }
        assert!(email("a@b").is_ok() && email("nobody").is_err());
        assert!(phone("380501234567").is_ok() && phone("+380").is_err());
        assert!(country("804").is_ok() && country("UA").is_err() && country("8040").is_err());
        assert!(amount(1).is_ok() && amount(0).is_err());
        assert!(expiration_minutes(9999).is_ok());
        assert!(expiration_minutes(0).is_err() && expiration_minutes(10_000).is_err());
        assert!(one_of("uk", &LANGUAGES).is_ok() && one_of("ru", &LANGUAGES).is_err());
    }

    #[test]
    fn every_customer_member_has_a_limit() {
        for (name, max) in CUSTOMER_MEMBERS {
            assert_eq!(customer_max(name), max);
            assert!(max > 0);
        }
    }
}
