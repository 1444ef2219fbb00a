//! HPP orders: the create-order request, the order-data query and the order the bank returns
//! (bank-api.md §3.2, §3.3, §3.6).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::operation::one_or_many;
use super::{
    CustomerData, HppOrderId, Kopecks, MerchantRequestId, Operation, Validate, check,
    lenient_amount, optional, required,
};
use crate::{Error, rules};

/// `hppPayType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum HppPayType {
    /// A card, Apple Pay or Google Pay purchase.
    Purchase,
    /// An account-to-account transfer.
    A2a,
}

/// One of `paymentMethods`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
pub enum DirectType {
    /// The hosted payment page (the bank's default).
    Redirect,
    /// A link into the bank's mobile app.
    BankLink,
}

/// `POST /ecom/execute_request/hpp/v1/create-order` (bank-api.md §3.2).
///
/// Build one with [`CreateOrder::builder`]; its fields stay public for reading and adjusting,
/// and [`Validate`] checks them again before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreateOrder {
    /// Our idempotency and reconciliation key. The builder makes a random UUID unless given
    /// one: store it before sending, and reuse it to look the order up.
    pub merchant_request_id: MerchantRequestId,
    /// The bank's merchant id for this service code.
    pub merchant_id: String,
    /// Purchase or account-to-account.
    pub hpp_pay_type: HppPayType,
    /// The amount to charge.
    pub coin_amount: Kopecks,
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
    /// A builder for a card purchase with the bank's defaults (`PURCHASE`, `CARD`,
    /// `STATUS_TIMER_PAGE`); set at least the merchant id, the amount, the customer and both
    /// return URLs.
    ///
    /// ```
    /// use alliancepay_http::{CreateOrder, Kopecks};
    ///
    /// let order = CreateOrder::builder()
    ///     .merchant_id("3e9b7c10-8d2f-4a61-b5c3-0f1e2d3c4b5a")
    ///     .amount(Kopecks::new(125_050))
    ///     .customer("cust-48213")
    ///     .success_url("https://shop.example/ok")
    ///     .fail_url("https://shop.example/fail")
    ///     .build()?;
    /// assert_eq!(order.merchant_request_id.len(), 36);
    /// # Ok::<(), alliancepay_http::Error>(())
    /// ```
    pub fn builder() -> CreateOrderBuilder {
        CreateOrderBuilder::default()
    }
}

/// Builds a [`CreateOrder`]; see [`CreateOrder::builder`].
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct CreateOrderBuilder {
    merchant_request_id: Option<MerchantRequestId>,
    merchant_id: Option<String>,
    hpp_pay_type: Option<HppPayType>,
    coin_amount: Option<Kopecks>,
    payment_methods: Option<Vec<PaymentMethod>>,
    success_url: Option<String>,
    fail_url: Option<String>,
    status_page_type: Option<StatusPageType>,
    customer_data: Option<CustomerData>,
    direct_type: Option<DirectType>,
    expiration_time_minutes: Option<u16>,
    language: Option<String>,
    notification_url: Option<String>,
    notification_encryption: Option<bool>,
    purpose: Option<String>,
    merchant_comment: Option<String>,
}

/// The error of a required member the builder was not given.
fn missing(field: &str, setter: &str) -> Error {
    Error::invalid(field, format!("is required: set it with .{setter}(…)"))
}

impl CreateOrderBuilder {
    /// Our id for the order; without it, [`build`](Self::build) draws a UUID from the OS RNG.
    /// For ids that replay, pass [`MerchantRequestId::generate_with`] a seeded RNG.
    pub fn merchant_request_id(mut self, id: MerchantRequestId) -> Self {
        self.merchant_request_id = Some(id);
        self
    }

    /// The bank's merchant id for this service code (required).
    pub fn merchant_id(mut self, merchant_id: impl Into<String>) -> Self {
        self.merchant_id = Some(merchant_id.into());
        self
    }

    /// The amount to charge (required).
    pub fn amount(mut self, amount: Kopecks) -> Self {
        self.coin_amount = Some(amount);
        self
    }

    /// The customer (required): their data, or just the merchant's id for them.
    pub fn customer(mut self, customer: impl Into<CustomerData>) -> Self {
        self.customer_data = Some(customer.into());
        self
    }

    /// Where the browser returns after success (required).
    pub fn success_url(mut self, url: impl Into<String>) -> Self {
        self.success_url = Some(url.into());
        self
    }

    /// Where the browser returns after failure (required).
    pub fn fail_url(mut self, url: impl Into<String>) -> Self {
        self.fail_url = Some(url.into());
        self
    }

    /// Purchase (the default) or account-to-account; A2A needs a
    /// [`merchant_comment`](Self::merchant_comment).
    pub fn pay_type(mut self, pay_type: HppPayType) -> Self {
        self.hpp_pay_type = Some(pay_type);
        self
    }

    /// The methods offered (default: card).
    pub fn payment_methods(mut self, methods: impl Into<Vec<PaymentMethod>>) -> Self {
        self.payment_methods = Some(methods.into());
        self
    }

    /// What the customer sees after paying (default: the bank's page with a timer).
    pub fn status_page_type(mut self, page: StatusPageType) -> Self {
        self.status_page_type = Some(page);
        self
    }

    /// The hosted page or a link into the bank's app.
    pub fn direct_type(mut self, direct: DirectType) -> Self {
        self.direct_type = Some(direct);
        self
    }

    /// The payment link's lifetime in minutes (1 to 9999).
    pub fn expiration_minutes(mut self, minutes: u16) -> Self {
        self.expiration_time_minutes = Some(minutes);
        self
    }

    /// The page's language (`uk`, `en`, …).
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Where the bank POSTs the callback.
    pub fn notification_url(mut self, url: impl Into<String>) -> Self {
        self.notification_url = Some(url.into());
        self
    }

    /// Whether the callback is encrypted to the merchant key.
    pub fn notification_encryption(mut self, encrypted: bool) -> Self {
        self.notification_encryption = Some(encrypted);
        self
    }

    /// The payment's purpose.
    pub fn purpose(mut self, purpose: impl Into<String>) -> Self {
        self.purpose = Some(purpose.into());
        self
    }

    /// The merchant's comment (required for A2A).
    pub fn merchant_comment(mut self, comment: impl Into<String>) -> Self {
        self.merchant_comment = Some(comment.into());
        self
    }

    /// The order, checked against the bank's limits.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first member that is missing or breaks a limit.
    pub fn build(self) -> Result<CreateOrder, Error> {
        let order = CreateOrder {
            merchant_id: self
                .merchant_id
                .ok_or_else(|| missing("merchantId", "merchant_id"))?,
            hpp_pay_type: self.hpp_pay_type.unwrap_or(HppPayType::Purchase),
            coin_amount: self
                .coin_amount
                .ok_or_else(|| missing("coinAmount", "amount"))?,
            payment_methods: self
                .payment_methods
                .unwrap_or_else(|| vec![PaymentMethod::Card]),
            success_url: self
                .success_url
                .ok_or_else(|| missing("successUrl", "success_url"))?,
            fail_url: self
                .fail_url
                .ok_or_else(|| missing("failUrl", "fail_url"))?,
            status_page_type: self
                .status_page_type
                .unwrap_or(StatusPageType::StatusTimerPage),
            customer_data: self
                .customer_data
                .ok_or_else(|| missing("customerData", "customer"))?,
            direct_type: self.direct_type,
            expiration_time_minutes: self.expiration_time_minutes,
            language: self.language,
            notification_url: self.notification_url,
            notification_encryption: self.notification_encryption,
            purpose: self.purpose,
            merchant_comment: self.merchant_comment,
            // Drawn last, and only once the order is complete: a builder that fails does not
            // consume randomness.
            merchant_request_id: self
                .merchant_request_id
                .unwrap_or_else(MerchantRequestId::generate),
        };
        order.validate()?;
        Ok(order)
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
        check("coinAmount", rules::amount(self.coin_amount.get()))?;
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
    pub hpp_order_id: HppOrderId,
}

impl Validate for OrderQuery {
    fn validate(&self) -> Result<(), Error> {
        required("hppOrderId", &self.hpp_order_id, rules::BANK_ID_MAX)
    }
}

/// `orderStatus`, keeping values this version does not know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct Order {
    /// The bank's order id.
    pub hpp_order_id: HppOrderId,
    /// Our request id, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_request_id: Option<MerchantRequestId>,
    /// The merchant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<String>,
    /// Where the order stands.
    pub order_status: OrderStatus,
    /// The amount.
    #[serde(
        default,
        deserialize_with = "lenient_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub coin_amount: Option<Kopecks>,
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
            let o = CreateOrder::builder()
                .merchant_request_id(MerchantRequestId::generate_with(&mut rng))
                .merchant_id("m")
                .amount(Kopecks::new(1))
                .customer("c")
                .success_url("https://s/ok")
                .fail_url("https://s/f")
                .build()
                .unwrap();
            let r = Refund::builder()
                .merchant_request_id(MerchantRequestId::generate_with(&mut rng))
                .merchant_id("m")
                .operation_id("op")
                .amount(Kopecks::new(1))
                .build()
                .unwrap();
            (o.merchant_request_id, r.merchant_request_id)
        };
        assert_eq!(ids(7), ids(7));
        assert_ne!(ids(7), ids(8));
        let (a, b) = ids(7);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_ne!(
            Refund::builder()
                .merchant_id("m")
                .operation_id("op")
                .amount(Kopecks::new(1))
                .build()
                .unwrap()
                .merchant_request_id,
            Refund::builder()
                .merchant_id("m")
                .operation_id("op")
                .amount(Kopecks::new(1))
                .build()
                .unwrap()
                .merchant_request_id
        );
    }

    fn order() -> CreateOrder {
        CreateOrder::builder()
            .merchant_id("3e9b7c10-8d2f-4a61-b5c3-0f1e2d3c4b5a")
            .amount(Kopecks::new(125_050))
            .customer("cust-48213")
            .success_url("https://shop.example/ok")
            .fail_url("https://shop.example/fail")
            .build()
            .unwrap()
    }

    fn builder_field(builder: CreateOrderBuilder) -> String {
        match builder.build() {
            Err(Error::InvalidInput { field, problem }) => {
                assert!(!problem.is_empty());
                field
            }
            other => panic!("{other:?}"),
        }
    }

    /// Each required member left out is named, with the setter to call; a bad value is named
    /// by the same rule as `validate`; the optional ones keep the bank's defaults.
    #[test]
    fn builder_names_what_is_missing_or_wrong() {
        let full = || {
            CreateOrder::builder()
                .merchant_id("m")
                .amount(Kopecks::new(125_050))
                .customer("c")
                .success_url("https://s/ok")
                .fail_url("https://s/f")
        };
        let without = |skip: &str| {
            let mut b = CreateOrder::builder();
            if skip != "merchantId" {
                b = b.merchant_id("m");
            }
            if skip != "coinAmount" {
                b = b.amount(Kopecks::new(1));
            }
            if skip != "customerData" {
                b = b.customer(CustomerData::new("c"));
            }
            if skip != "successUrl" {
                b = b.success_url("https://s/ok");
            }
            if skip != "failUrl" {
                b = b.fail_url("https://s/f");
            }
            b
        };
        for field in [
            "merchantId",
            "coinAmount",
            "customerData",
            "successUrl",
            "failUrl",
        ] {
            assert_eq!(builder_field(without(field)), field);
        }
        match without("successUrl").build() {
            Err(Error::InvalidInput { problem, .. }) => assert!(problem.contains(".success_url(")),
            other => panic!("{other:?}"),
        }
        assert_eq!(builder_field(full().amount(Kopecks::ZERO)), "coinAmount");
        assert_eq!(builder_field(full().language("ru")), "language");
        assert_eq!(
            builder_field(full().pay_type(HppPayType::A2a)),
            "merchantComment"
        );
        assert_eq!(builder_field(full().success_url("ftp://s")), "successUrl");
        let order = full().build().unwrap();
        assert_eq!(
            (
                order.hpp_pay_type,
                order.payment_methods.clone(),
                order.status_page_type
            ),
            (
                HppPayType::Purchase,
                vec![PaymentMethod::Card],
                StatusPageType::StatusTimerPage
            )
        );
        assert_eq!(order.coin_amount.to_string(), "1250.50 UAH");
        let a2a = full()
            .pay_type(HppPayType::A2a)
            .merchant_comment("Order 48213, thank you")
            .build()
            .unwrap();
        assert_eq!(a2a.hpp_pay_type, HppPayType::A2a);
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
                Box::new(|o| {
                    o.merchant_request_id =
                        serde_json::from_value(serde_json::json!("x".repeat(37))).unwrap()
                }),
                "merchantRequestId",
            ),
            (Box::new(|o| o.merchant_id.clear()), "merchantId"),
            (Box::new(|o| o.coin_amount = Kopecks::ZERO), "coinAmount"),
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
        assert_eq!(order.coin_amount, Some(Kopecks::new(125_050)));
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
