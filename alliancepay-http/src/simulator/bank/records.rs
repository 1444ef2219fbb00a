//! What the bank's operation records contain (bank-api.md §3.5, §4.1): the documented members,
//! all present, and the card a purchase was paid with.

use serde_json::{Map, Value};

/// The members of an operation record (bank-api.md §3.5): each record carries all of them,
/// `null` where the simulated bank has no value, as the docs say every member is nullable.
pub(super) const OPERATION_MEMBERS: [&str; 35] = [
    "type",
    "status",
    "operationId",
    "ecomOperationId",
    "merchantRequestId",
    "merchantId",
    "coinAmount",
    "transactionType",
    "transactionCurrency",
    "rrn",
    "approvalCode",
    "merchantCommission",
    "purpose",
    "comment",
    "merchantName",
    "modificationDateTime",
    "transactionResponseInfo",
    "bankCode",
    "paymentSystem",
    "productType",
    "paymentServiceType",
    "notificationUrl",
    "notificationEncryption",
    "cardNumberMask",
    "desiredThreeDSMode",
    "threeDSMode",
    "statusThreeDs",
    "threeDSServerTransId",
    "acsTransId",
    "dsTransId",
    "eci",
    "redirect3dsUrl",
    "txnType",
    "processingMerchantId",
    "processingTerminalId",
];

/// Adds every documented member `record` lacks, as `null`.
pub(super) fn with_documented_members(mut record: Map<String, Value>) -> Map<String, Value> {
    for member in OPERATION_MEMBERS {
        record.entry(member).or_insert(Value::Null);
    }
    record
}

/// The card the customer paid with, as operation records show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CardUsed {
    /// `537593••••••0141`.
    pub mask: String,
    /// `MasterCard` or `Visa`, the docs' spelling (bank-api.md §4.1).
    pub payment_system: &'static str,
    /// Whether a 3-D Secure challenge was passed.
    pub challenged: bool,
}
