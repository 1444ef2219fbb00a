//! HPP orders: the create-order request, the order-data query and the order the bank returns
//! (bank-api.md §3.2, §3.3, §3.6).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::operation::one_or_many;
use super::{CustomerData, Operation, Validate, check, lenient_amount, optional, required};
use crate::{Error, rules};

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

impl Validate for CreateOrder {
    fn validate(&self) -> Result<(), Error> {
        required(
            "merchantRequestId",
            &self.merchant_request_id,
            rules::ID_MAX,
        )?;
        required("merchantId", &self.merchant_id, rules::ID_MAX)?;
        check("coinAmount", rules::amount(self.coin_amount))?;
        if self.payment_methods.is_empty() {
            return Err(Error::invalid(
                "paymentMethods",
                "needs at least one method",
            ));
        }
        check("successUrl", rules::http_url(&self.success_url))?;
        check("failUrl", rules::http_url(&self.fail_url))?;
        self.customer_data.validate()?;
        if let Some(minutes) = self.expiration_time_minutes {
            check(
                "expirationTimeMinutes",
                rules::expiration_minutes(minutes.into()),
            )?;
        }
        if let Some(lang) = &self.language {
            check("language", rules::one_of(lang, &rules::LANGUAGES))?;
        }
        if let Some(url) = &self.notification_url {
            check("notificationUrl", rules::http_url(url))?;
        }
        optional("purpose", self.purpose.as_ref(), rules::PURPOSE_MAX)?;
        let a2a = self.hpp_pay_type == HppPayType::A2a;
        match &self.merchant_comment {
            None if a2a => Err(Error::invalid(
                "merchantComment",
                rules::A2A_COMMENT_REQUIRED,
            )),
            None => Ok(()),
            Some(c) => check("merchantComment", rules::comment(c, a2a)),
        }
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
        required("hppOrderId", &self.hpp_order_id, rules::BANK_ID_MAX)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Refund;

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
