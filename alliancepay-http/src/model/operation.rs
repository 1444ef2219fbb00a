//! Operation records and the H2H operation lookup (bank-api.md §3.5).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{Kopecks, MerchantRequestId, Validate, lenient_amount, required};
use crate::{Error, rules};

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
        merchant_request_id: MerchantRequestId,
    },
}

impl Validate for OperationQuery {
    fn validate(&self) -> Result<(), Error> {
        match self {
            Self::ById { id } => required("id", id, rules::BANK_ID_MAX),
            Self::ByMerchantRequestId {
                merchant_request_id,
            } => required("merchantRequestId", merchant_request_id, rules::ID_MAX),
        }
    }
}

/// One operation record (bank-api.md §3.5). All members are optional in the bank's documents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
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
    pub merchant_request_id: Option<MerchantRequestId>,
    /// The amount.
    #[serde(
        default,
        deserialize_with = "lenient_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub coin_amount: Option<Kopecks>,
    /// Every other member, as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `operations` is an array in order data and a single object in HPP callbacks.
pub(super) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Operation>, D::Error> {
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
