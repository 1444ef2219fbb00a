//! Refunds of a paid operation (bank-api.md §3.4).

use serde::{Deserialize, Serialize};

use super::{Validate, check, required};
use crate::{Error, rules};

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
        required(
            "merchantRequestId",
            &self.merchant_request_id,
            rules::ID_MAX,
        )?;
        required("merchantId", &self.merchant_id, rules::ID_MAX)?;
        required("operationId", &self.operation_id, rules::BANK_ID_MAX)?;
        check("coinAmount", rules::amount(self.coin_amount))?;
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

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        crate::model::lenient_amount(d)?
            .ok_or_else(|| serde::de::Error::custom("coinAmount is missing"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
