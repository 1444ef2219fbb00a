//! Refunds of a paid operation (bank-api.md §3.4).

use serde::{Deserialize, Serialize};

use super::{Kopecks, MerchantRequestId, Validate, check, required};
use crate::{Error, rules};

/// `POST /ecom/execute_request/payments/v3/refund` (bank-api.md §3.4), sent encrypted.
///
/// Build one with [`Refund::builder`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Refund {
    /// A new id for this refund (not the order's); the builder makes a UUID unless given one.
    pub merchant_request_id: MerchantRequestId,
    /// The bank's merchant id.
    pub merchant_id: String,
    /// The original operation (`operations[].operationId`), not the `hppOrderId`.
    pub operation_id: String,
    /// The amount to refund; sent as a string of digits, as the bank documents.
    #[serde(with = "digits_string")]
    pub coin_amount: Kopecks,
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
    /// A builder; set the merchant id, the operation and the amount.
    ///
    /// ```
    /// use alliancepay_http::{Kopecks, Refund};
    ///
    /// let refund = Refund::builder()
    ///     .merchant_id("3e9b7c10-8d2f-4a61-b5c3-0f1e2d3c4b5a")
    ///     .operation_id("1773131790112aZ4-pQr7WsX")
    ///     .amount(Kopecks::new(25_000))
    ///     .build()?;
    /// assert_eq!(refund.coin_amount.to_string(), "250.00 UAH");
    /// # Ok::<(), alliancepay_http::Error>(())
    /// ```
    pub fn builder() -> RefundBuilder {
        RefundBuilder::default()
    }
}

/// Builds a [`Refund`]; see [`Refund::builder`].
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct RefundBuilder {
    merchant_request_id: Option<MerchantRequestId>,
    merchant_id: Option<String>,
    operation_id: Option<String>,
    coin_amount: Option<Kopecks>,
    notification_url: Option<String>,
    notification_encryption: Option<bool>,
    merchant_comment: Option<String>,
}

impl RefundBuilder {
    /// A new id for this refund; without it, [`build`](Self::build) draws a UUID from the OS
    /// RNG. Reuse the id of a refund whose outcome was unknown to send the same refund again.
    pub fn merchant_request_id(mut self, id: MerchantRequestId) -> Self {
        self.merchant_request_id = Some(id);
        self
    }

    /// The bank's merchant id (required).
    pub fn merchant_id(mut self, merchant_id: impl Into<String>) -> Self {
        self.merchant_id = Some(merchant_id.into());
        self
    }

    /// The purchase operation to refund, `operations[].operationId` (required; not the
    /// `hppOrderId`).
    pub fn operation_id(mut self, operation_id: impl Into<String>) -> Self {
        self.operation_id = Some(operation_id.into());
        self
    }

    /// The amount to refund (required).
    pub fn amount(mut self, amount: Kopecks) -> Self {
        self.coin_amount = Some(amount);
        self
    }

    /// Where the bank POSTs the refund's callback.
    pub fn notification_url(mut self, url: impl Into<String>) -> Self {
        self.notification_url = Some(url.into());
        self
    }

    /// Whether that callback is encrypted.
    pub fn notification_encryption(mut self, encrypted: bool) -> Self {
        self.notification_encryption = Some(encrypted);
        self
    }

    /// The merchant's comment.
    pub fn merchant_comment(mut self, comment: impl Into<String>) -> Self {
        self.merchant_comment = Some(comment.into());
        self
    }

    /// The refund, checked against the bank's limits.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first member that is missing or breaks a limit.
    pub fn build(self) -> Result<Refund, Error> {
        let missing = |field: &str, setter: &str| {
            Error::invalid(field, format!("is required: set it with .{setter}(…)"))
        };
        let refund = Refund {
            merchant_id: self
                .merchant_id
                .ok_or_else(|| missing("merchantId", "merchant_id"))?,
            operation_id: self
                .operation_id
                .ok_or_else(|| missing("operationId", "operation_id"))?,
            coin_amount: self
                .coin_amount
                .ok_or_else(|| missing("coinAmount", "amount"))?,
            notification_url: self.notification_url,
            notification_encryption: self.notification_encryption,
            merchant_comment: self.merchant_comment,
            merchant_request_id: self
                .merchant_request_id
                .unwrap_or_else(MerchantRequestId::generate),
        };
        refund.validate()?;
        Ok(refund)
    }
}

impl Validate for Refund {
    fn validate(&self) -> Result<(), Error> {
        required(
            "merchantRequestId",
            &self.merchant_request_id,
            rules::ID_MAX,
        )?;
        required("merchantId", &self.merchant_id, rules::ID_MAX)?;
        required("operationId", &self.operation_id, rules::BANK_ID_MAX)?;
        check("coinAmount", rules::amount(self.coin_amount.get()))?;
        if let Some(url) = &self.notification_url {
            check("notificationUrl", rules::http_url(url))?;
        }
        if let Some(c) = &self.merchant_comment {
            check("merchantComment", rules::comment(c, false))?;
        }
        Ok(())
    }
}

mod digits_string {
    use serde::{Deserializer, Serializer};

    use crate::model::Kopecks;

    pub fn serialize<S: Serializer>(v: &Kopecks, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.get().to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Kopecks, D::Error> {
        crate::model::lenient_amount(d)?
            .ok_or_else(|| serde::de::Error::custom("coinAmount is missing"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refund() -> RefundBuilder {
        Refund::builder()
            .merchant_id("m")
            .operation_id("op-1")
            .amount(Kopecks::new(25_000))
    }

    #[test]
    fn refund_amount_is_a_string_of_digits() {
        let r = refund().build().unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap()["coinAmount"], "25000");
        let back: Refund = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let mut zero = r.clone();
        zero.coin_amount = Kopecks::ZERO;
        assert!(zero.validate().is_err());
        assert!(r.validate().is_ok());
    }

    fn field_of(result: Result<Refund, Error>) -> String {
        match result {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    /// Each missing member is named; a bad one too; the id is generated unless given.
    #[test]
    fn builder_names_what_is_missing_or_wrong() {
        assert_eq!(
            field_of(
                Refund::builder()
                    .operation_id("o")
                    .amount(Kopecks::new(1))
                    .build()
            ),
            "merchantId"
        );
        assert_eq!(
            field_of(
                Refund::builder()
                    .merchant_id("m")
                    .amount(Kopecks::new(1))
                    .build()
            ),
            "operationId"
        );
        assert_eq!(
            field_of(Refund::builder().merchant_id("m").operation_id("o").build()),
            "coinAmount"
        );
        assert_eq!(
            field_of(refund().amount(Kopecks::ZERO).build()),
            "coinAmount"
        );
        assert_eq!(
            field_of(refund().merchant_comment("<b>").build()),
            "merchantComment"
        );
        let id = MerchantRequestId::new("r-1").unwrap();
        let given = refund().merchant_request_id(id.clone()).build().unwrap();
        assert_eq!(given.merchant_request_id, id);
        let (a, b) = (refund().build().unwrap(), refund().build().unwrap());
        assert_ne!(a.merchant_request_id, b.merchant_request_id);
    }
}
