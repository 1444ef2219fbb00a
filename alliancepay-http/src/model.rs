//! The bank's JSON documents (bank-api.md §3): requests we validate before sending, responses we
//! read leniently.
//!
//! Requests omit every unset optional field (the bank rejects `null` and `""`), and
//! [`Validate`] checks the documented limits so a bad field is reported by name before anything
//! is sent. Responses keep unknown members and unknown enum values, accept numbers written as
//! strings, and keep dates as the bank's raw text: the bank's own documents disagree on all three
//! (bank-api.md §5, items 6 to 10), and a payment must never be lost over a date format.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::Error;

/// Checks a request against the documented limits.
pub trait Validate {
    /// # Errors
    /// [`Error::InvalidInput`] naming the first field that fails.
    fn validate(&self) -> Result<(), Error>;
}

fn required(field: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "is required and must not be empty"));
    }
    max_chars(field, value, max)
}

fn max_chars(field: &str, value: &str, max: usize) -> Result<(), Error> {
    let n = value.chars().count();
    if n > max {
        return Err(Error::invalid(
            field,
            format!("is {n} characters long; at most {max} allowed"),
        ));
    }
    Ok(())
}

fn optional(field: &str, value: Option<&String>, max: usize) -> Result<(), Error> {
    value.map_or(Ok(()), |v| required(field, v, max))
}

fn http_url(field: &str, value: &str) -> Result<(), Error> {
    required(field, value, 1000)?;
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        return Err(Error::invalid(field, "must be an http(s) URL"));
    }
    Ok(())
}

/// Letters, digits, space and `,.;:@#$%'-=+`: the charset of `merchantComment`.
fn comment_charset(field: &str, value: &str) -> Result<(), Error> {
    match value
        .chars()
        .find(|c| !(c.is_alphanumeric() || " ,.;:@#$%'-=+".contains(*c)))
    {
        Some(c) => Err(Error::invalid(
            field,
            format!("contains {c:?}; allowed are letters, digits, space and ,.;:@#$%'-=+"),
        )),
        None => Ok(()),
    }
}

/// `hppPayType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HppPayType {
    /// A card, Apple Pay or Google Pay purchase.
    Purchase,
    /// An account-to-account transfer.
    A2a,
}

/// One of `paymentMethods`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentMethod {
    /// Card entry on the bank's page.
    Card,
    /// Apple Pay.
    ApplePay,
    /// Google Pay.
    GooglePay,
}

/// `statusPageType`: what the customer sees after paying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatusPageType {
    /// The bank's status page, redirecting after a minute.
    StatusTimerPage,
    /// Straight back to the merchant.
    StatusRedirectMerchantPage,
    /// The bank's status page only.
    StatusPage,
}

/// `directType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DirectType {
    /// The hosted payment page (the bank's default).
    Redirect,
    /// A link into the bank's mobile app.
    BankLink,
}

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

/// `POST /ecom/execute_request/hpp/v1/create-order` (bank-api.md §3.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrder {
    /// Our idempotency and reconciliation key, at most 36 characters. [`CreateOrder::purchase`]
    /// makes a UUID: store it before sending, and reuse it to look the order up.
    pub merchant_request_id: String,
    /// The bank's merchant id for this service code.
    pub merchant_id: String,
    /// Purchase or account-to-account.
    pub hpp_pay_type: HppPayType,
    /// Amount in kopecks.
    pub coin_amount: u64,
    /// At least one method.
    pub payment_methods: Vec<PaymentMethod>,
    /// Where the browser returns after success.
    pub success_url: String,
    /// Where the browser returns after failure.
    pub fail_url: String,
    /// What the customer sees after paying.
    pub status_page_type: StatusPageType,
    /// The customer.
    pub customer_data: CustomerData,
    /// Page or app link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_type: Option<DirectType>,
    /// Link lifetime in minutes (at most 9999).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_time_minutes: Option<u16>,
    /// `uk` (the bank's default), `en`, `es`, `de`, `pl`, `fr`, `tr`, `it`, `nl` or `pt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Where the bank POSTs the callback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    /// Whether the callback is encrypted to the merchant key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_encryption: Option<bool>,
    /// Payment purpose, at most 255 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Required for A2A (14 to 255 characters): letters, digits, space and `,.;:@#$%'-=+`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_comment: Option<String>,
}

impl CreateOrder {
    /// A card purchase with a fresh UUID from the OS RNG as `merchantRequestId` and the bank's
    /// defaults for the rest; set optional fields on the result. For ids that replay (tests, a
    /// recorded session, a deterministic driver) use [`CreateOrder::purchase_with`].
    #[must_use]
    pub fn purchase(
        merchant_id: &str,
        coin_amount: u64,
        customer_id: &str,
        success_url: &str,
        fail_url: &str,
    ) -> Self {
        let mut rng = crate::crypto::os_rng();
        Self::purchase_with(
            &mut rng,
            merchant_id,
            coin_amount,
            customer_id,
            success_url,
            fail_url,
        )
    }

    /// [`CreateOrder::purchase`] with its `merchantRequestId` drawn from `rng`: the same RNG
    /// as the protocol core's, so that a seeded run sends the same bytes.
    #[must_use]
    pub fn purchase_with<R: rand_core::CryptoRng + ?Sized>(
        rng: &mut R,
        merchant_id: &str,
        coin_amount: u64,
        customer_id: &str,
        success_url: &str,
        fail_url: &str,
    ) -> Self {
        Self {
            merchant_request_id: crate::crypto::uuid_from(rng),
            merchant_id: merchant_id.to_owned(),
            hpp_pay_type: HppPayType::Purchase,
            coin_amount,
            payment_methods: vec![PaymentMethod::Card],
            success_url: success_url.to_owned(),
            fail_url: fail_url.to_owned(),
            status_page_type: StatusPageType::StatusTimerPage,
            customer_data: CustomerData {
                sender_customer_id: customer_id.to_owned(),
                ..CustomerData::default()
            },
            direct_type: None,
            expiration_time_minutes: None,
            language: None,
            notification_url: None,
            notification_encryption: None,
            purpose: None,
            merchant_comment: None,
        }
    }
}

const LANGUAGES: [&str; 10] = ["uk", "en", "es", "de", "pl", "fr", "tr", "it", "nl", "pt"];

impl Validate for CreateOrder {
    fn validate(&self) -> Result<(), Error> {
        required("merchantRequestId", &self.merchant_request_id, 36)?;
        required("merchantId", &self.merchant_id, 36)?;
        if self.coin_amount == 0 {
            return Err(Error::invalid("coinAmount", "must be at least 1 kopeck"));
        }
        if self.payment_methods.is_empty() {
            return Err(Error::invalid(
                "paymentMethods",
                "needs at least one method",
            ));
        }
        http_url("successUrl", &self.success_url)?;
        http_url("failUrl", &self.fail_url)?;
        self.customer_data.validate()?;
        if self
            .expiration_time_minutes
            .is_some_and(|m| m == 0 || m > 9999)
        {
            return Err(Error::invalid("expirationTimeMinutes", "must be 1 to 9999"));
        }
        if let Some(lang) = &self.language
            && !LANGUAGES.contains(&lang.as_str())
        {
            return Err(Error::invalid(
                "language",
                format!("{lang:?} is not one of {}", LANGUAGES.join(", ")),
            ));
        }
        if let Some(url) = &self.notification_url {
            http_url("notificationUrl", url)?;
        }
        optional("purpose", self.purpose.as_ref(), 255)?;
        match (&self.merchant_comment, self.hpp_pay_type) {
            (None, HppPayType::A2a) => {
                return Err(Error::invalid(
                    "merchantComment",
                    "is required for A2A orders",
                ));
            }
            (Some(c), pay_type) => {
                required("merchantComment", c, 255)?;
                if pay_type == HppPayType::A2a && c.chars().count() < 14 {
                    return Err(Error::invalid(
                        "merchantComment",
                        "must be at least 14 characters for A2A orders",
                    ));
                }
                comment_charset("merchantComment", c)?;
            }
            (None, HppPayType::Purchase) => {}
        }
        Ok(())
    }
}

/// `POST /ecom/execute_request/hpp/v1/operations` (bank-api.md §3.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderQuery {
    /// The order, as `create-order` returned it.
    pub hpp_order_id: String,
}

impl Validate for OrderQuery {
    fn validate(&self) -> Result<(), Error> {
        required("hppOrderId", &self.hpp_order_id, 255)
    }
}

/// `POST /ecom/execute_request/payments/v3/refund` (bank-api.md §3.4), sent encrypted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// A new id for this refund (not the order's); [`Refund::new`] makes a UUID.
    pub merchant_request_id: String,
    /// The bank's merchant id.
    pub merchant_id: String,
    /// The original operation (`operations[].operationId`), not the `hppOrderId`.
    pub operation_id: String,
    /// Amount in kopecks; sent as a string of digits, as the bank documents.
    #[serde(with = "digits_string")]
    pub coin_amount: u64,
    /// Where the bank POSTs the refund's callback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    /// Whether that callback is encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_encryption: Option<bool>,
    /// At most 255 characters of the comment charset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_comment: Option<String>,
}

impl Refund {
    /// A refund of `coin_amount` kopecks of operation `operation_id`, with a fresh UUID from
    /// the OS RNG. For ids that replay use [`Refund::new_with`].
    #[must_use]
    pub fn new(merchant_id: &str, operation_id: &str, coin_amount: u64) -> Self {
        Self::new_with(
            &mut crate::crypto::os_rng(),
            merchant_id,
            operation_id,
            coin_amount,
        )
    }

    /// [`Refund::new`] with its `merchantRequestId` drawn from `rng`.
    #[must_use]
    pub fn new_with<R: rand_core::CryptoRng + ?Sized>(
        rng: &mut R,
        merchant_id: &str,
        operation_id: &str,
        coin_amount: u64,
    ) -> Self {
        Self {
            merchant_request_id: crate::crypto::uuid_from(rng),
            merchant_id: merchant_id.to_owned(),
            operation_id: operation_id.to_owned(),
            coin_amount,
            notification_url: None,
            notification_encryption: None,
            merchant_comment: None,
        }
    }
}

impl Validate for Refund {
    fn validate(&self) -> Result<(), Error> {
        required("merchantRequestId", &self.merchant_request_id, 36)?;
        required("merchantId", &self.merchant_id, 36)?;
        required("operationId", &self.operation_id, 255)?;
        if self.coin_amount == 0 {
            return Err(Error::invalid("coinAmount", "must be at least 1 kopeck"));
        }
        if let Some(url) = &self.notification_url {
            http_url("notificationUrl", url)?;
        }
        if let Some(c) = &self.merchant_comment {
            required("merchantComment", c, 255)?;
            comment_charset("merchantComment", c)?;
        }
        Ok(())
    }
}

/// H2H operation lookup (bank-api.md §3.5): by the bank's operation id or by our request id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OperationQuery {
    /// `{"id": …}` to `payments/v1/operations`.
    ById {
        /// The operation id.
        id: String,
    },
    /// `{"merchantRequestId": …}` to `payments/v1/operation/by_merchant_request_id`.
    ByMerchantRequestId {
        /// Our request id.
        #[serde(rename = "merchantRequestId")]
        merchant_request_id: String,
    },
}

impl Validate for OperationQuery {
    fn validate(&self) -> Result<(), Error> {
        match self {
            Self::ById { id } => required("id", id, 255),
            Self::ByMerchantRequestId {
                merchant_request_id,
            } => required("merchantRequestId", merchant_request_id, 36),
        }
    }
}

/// `orderStatus`, keeping values this version does not know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum OrderStatus {
    /// Created, not paid yet.
    Pending,
    /// Paid.
    Success,
    /// Payment failed.
    Fail,
    /// Waiting for 3-D Secure.
    Required3ds,
    /// Cancelled.
    Canceled,
    /// Partly refunded.
    PartialRefund,
    /// A value the bank added after this version.
    Other(String),
}

impl From<String> for OrderStatus {
    fn from(s: String) -> Self {
        match s.as_str() {
            "PENDING" => Self::Pending,
            "SUCCESS" => Self::Success,
            "FAIL" => Self::Fail,
            "REQUIRED_3DS" => Self::Required3ds,
            "CANCELED" => Self::Canceled,
            "PARTIAL_REFUND" => Self::PartialRefund,
            _ => Self::Other(s),
        }
    }
}

impl From<OrderStatus> for String {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::Pending => "PENDING".into(),
            OrderStatus::Success => "SUCCESS".into(),
            OrderStatus::Fail => "FAIL".into(),
            OrderStatus::Required3ds => "REQUIRED_3DS".into(),
            OrderStatus::Canceled => "CANCELED".into(),
            OrderStatus::PartialRefund => "PARTIAL_REFUND".into(),
            OrderStatus::Other(s) => s,
        }
    }
}

/// An HPP order as `create-order`, order data and HPP callbacks return it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The bank's order id.
    pub hpp_order_id: String,
    /// Our request id, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_request_id: Option<String>,
    /// The merchant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<String>,
    /// Where the order stands.
    pub order_status: OrderStatus,
    /// Amount in kopecks.
    #[serde(
        default,
        deserialize_with = "lenient_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub coin_amount: Option<u64>,
    /// Send the customer here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// Purchase attempts and refunds (an array in order data, one object in callbacks).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub operations: Vec<Operation>,
    /// Every other member, as sent (dates stay raw text).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One operation record (bank-api.md §3.5). All members are optional in the bank's documents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// `PURCHASE`, `REFUND`, …
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `SUCCESS`, `FAIL`, `PENDING`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The bank's operation id: what a refund names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// Our request id for this operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_request_id: Option<String>,
    /// Amount in kopecks.
    #[serde(
        default,
        deserialize_with = "lenient_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub coin_amount: Option<u64>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The error body of bank-api.md §4.1.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The bank's id for the request.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Which bank service answered.
    #[serde(default)]
    pub service_id: Option<String>,
    /// `ERROR` for errors.
    pub msg_type: String,
    /// The code to act on.
    pub msg_code: String,
    /// Human text.
    #[serde(default)]
    pub msg_text: Option<String>,
}

/// Amounts arrive as numbers or as strings of digits (bank-api.md §5 item 8).
fn lenient_amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("coinAmount is not a whole number of kopecks")),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("coinAmount is not a string of digits")),
        Some(_) => Err(serde::de::Error::custom(
            "coinAmount is neither a number nor a string",
        )),
    }
}

/// `operations` is an array in order data and a single object in HPP callbacks.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Operation>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Operation>),
        One(Box<Operation>),
        Null(()),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(o) => vec![*o],
        OneOrMany::Null(()) => Vec::new(),
    })
}

mod digits_string {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        super::lenient_amount(d)?.ok_or_else(|| serde::de::Error::custom("coinAmount is missing"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids come from the RNG given: the same seed, the same ids; the OS-RNG constructors
    /// differ from call to call.
    #[test]
    fn request_ids_come_from_the_injected_rng() {
        use crate::crypto::InsecureSeededRng;
        let ids = |seed| {
            let mut rng = InsecureSeededRng::new(seed);
            let o =
                CreateOrder::purchase_with(&mut rng, "m", 1, "c", "https://s/ok", "https://s/f");
            let r = Refund::new_with(&mut rng, "m", "op", 1);
            (o.merchant_request_id, r.merchant_request_id)
        };
        assert_eq!(ids(7), ids(7));
        assert_ne!(ids(7), ids(8));
        let (a, b) = ids(7);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_ne!(
            Refund::new("m", "op", 1).merchant_request_id,
            Refund::new("m", "op", 1).merchant_request_id
        );
    }

    fn order() -> CreateOrder {
        CreateOrder::purchase(
            "3e9b7c10-8d2f-4a61-b5c3-0f1e2d3c4b5a",
            125_050,
            "cust-48213",
            "https://shop.example/ok",
            "https://shop.example/fail",
        )
    }

    #[test]
    fn unset_optional_fields_are_omitted() {
        let json = serde_json::to_value(order()).unwrap();
        let members: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for absent in [
            "notificationUrl",
            "language",
            "purpose",
            "merchantComment",
            "directType",
        ] {
            assert!(!members.contains(&absent), "{absent} sent while unset");
        }
        assert!(!serde_json::to_string(&json).unwrap().contains("null"));
        assert_eq!(
            json["customerData"],
            serde_json::json!({"senderCustomerId": "cust-48213"})
        );
    }

    #[test]
    fn validation_names_the_field() {
        type Edit = Box<dyn Fn(&mut CreateOrder)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|o| o.merchant_request_id = "x".repeat(37)),
                "merchantRequestId",
            ),
            (Box::new(|o| o.merchant_id.clear()), "merchantId"),
            (Box::new(|o| o.coin_amount = 0), "coinAmount"),
            (Box::new(|o| o.payment_methods.clear()), "paymentMethods"),
            (Box::new(|o| o.success_url = "ftp://x".into()), "successUrl"),
            (
                Box::new(|o| o.customer_data.sender_customer_id.clear()),
                "customerData.senderCustomerId",
            ),
            (
                Box::new(|o| o.customer_data.sender_email = Some("nobody".into())),
                "customerData.senderEmail",
            ),
            (
                Box::new(|o| o.customer_data.sender_first_name = Some("CARDHOLDER".into())),
                "customerData.senderFirstName",
            ),
            (
                Box::new(|o| o.customer_data.sender_phone = Some("+380".into())),
                "customerData.senderPhone",
            ),
            (Box::new(|o| o.language = Some("ru".into())), "language"),
            (
                Box::new(|o| o.notification_url = Some(String::new())),
                "notificationUrl",
            ),
            (
                Box::new(|o| o.expiration_time_minutes = Some(10_000)),
                "expirationTimeMinutes",
            ),
            (
                Box::new(|o| o.hpp_pay_type = HppPayType::A2a),
                "merchantComment",
            ),
            (
                Box::new(|o| {
                    o.hpp_pay_type = HppPayType::A2a;
                    o.merchant_comment = Some("too short".into());
                }),
                "merchantComment",
            ),
            (
                Box::new(|o| o.merchant_comment = Some("order <48213>".into())),
                "merchantComment",
            ),
        ];
        assert!(order().validate().is_ok());
        for (edit, field) in cases {
            let mut o = order();
            edit(&mut o);
            match o.validate() {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn refund_amount_is_a_string_of_digits() {
        let r = Refund::new("m", "op-1", 25_000);
        assert_eq!(serde_json::to_value(&r).unwrap()["coinAmount"], "25000");
        assert!(
            Refund {
                coin_amount: 0,
                ..r.clone()
            }
            .validate()
            .is_err()
        );
        assert!(r.validate().is_ok());
    }

    /// The HPP callback example of bank-api.md §3.6: `operations` as one object, dotted dates.
    #[test]
    fn callback_order_with_single_operation_object() {
        let body = r#"{"hppOrderId":"1773131702417Qm3vTz8_kLp","merchantRequestId":"c0a8","merchantId":"3e9b","orderStatus":"SUCCESS","coinAmount":"125050","createDate":"2026.03.10 10:35:02.410","operations":{"type":"PURCHASE","status":"SUCCESS","operationId":"1773131790112aZ4-pQr7WsX","coinAmount":125050,"rrn":"607012345678"}}"#;
        let order: Order = serde_json::from_str(body).unwrap();
        assert_eq!(order.order_status, OrderStatus::Success);
        assert_eq!(order.coin_amount, Some(125_050));
        assert_eq!(order.operations.len(), 1);
        assert_eq!(
            order.operations[0].operation_id.as_deref(),
            Some("1773131790112aZ4-pQr7WsX")
        );
        assert_eq!(order.operations[0].other["rrn"], "607012345678");
        assert_eq!(order.other["createDate"], "2026.03.10 10:35:02.410");
    }

    #[test]
    fn unknown_status_is_kept() {
        let order: Order =
            serde_json::from_str(r#"{"hppOrderId":"x","orderStatus":"ON_HOLD","operations":[]}"#)
                .unwrap();
        assert_eq!(order.order_status, OrderStatus::Other("ON_HOLD".into()));
    }
}
