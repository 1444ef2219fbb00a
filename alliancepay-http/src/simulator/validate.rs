//! Request-body validation as the bank does it (bank-api.md §3.2, §3.4): required members,
//! enums, maximum lengths, and explicit `null` or `""` refused even for optional members (the
//! guidelines page: omit what you do not use). Unknown members are tolerated. The rules a
//! client also checks are [`crate::rules`], shared with the client's validation.

use serde_json::{Map, Value};

use crate::rules::{
    self, BANK_CODES, BANK_ID_MAX, COMMENT_MAX, CUSTOMER_MEMBERS, DIRECT_TYPES, HPP_PAY_TYPES,
    ID_MAX, LANGUAGES, PAYMENT_METHODS, PURPOSE_MAX, STATUS_PAGE_TYPES, URL_MAX,
};

/// A member that fails validation: answered as `b_request_is_not_correct` naming it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    /// The member, dotted for nested ones (`customerData.senderEmail`).
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

type Checked<T> = Result<T, Invalid>;

fn invalid<T>(field: &str, problem: impl Into<String>) -> Checked<T> {
    Err(Invalid {
        field: field.to_owned(),
        problem: problem.into(),
    })
}

/// A shared rule applied to `field`.
fn rule(field: &str, result: Result<(), rules::Problem>) -> Checked<()> {
    result.or_else(|problem| invalid(field, problem))
}

/// Refuses `null` and `""` anywhere among the members of `object` (one level; nested objects
/// are checked by their own pass).
fn no_null_or_empty(object: &Map<String, Value>, prefix: &str) -> Checked<()> {
    for (name, value) in object {
        let field = format!("{prefix}{name}");
        match value {
            Value::Null => return invalid(&field, "is null; omit optional members instead"),
            Value::String(s) if s.trim().is_empty() => {
                return invalid(&field, "is empty; omit optional members instead");
            }
            _ => {}
        }
    }
    Ok(())
}

fn opt_str(object: &Map<String, Value>, field: &str, max: usize) -> Checked<Option<String>> {
    match object.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => {
            rule(field, rules::max_chars(s, max))?;
            Ok(Some(s.clone()))
        }
        Some(_) => invalid(field, "must be a string"),
    }
}

fn req_str(object: &Map<String, Value>, field: &str, max: usize) -> Checked<String> {
    opt_str(object, field, max)?.map_or_else(|| invalid(field, "is required"), Ok)
}

fn opt_enum(object: &Map<String, Value>, field: &str, allowed: &[&str]) -> Checked<Option<String>> {
    match opt_str(object, field, 64)? {
        Some(v) => {
            rule(field, rules::one_of(&v, allowed))?;
            Ok(Some(v))
        }
        None => Ok(None),
    }
}

fn req_enum(object: &Map<String, Value>, field: &str, allowed: &[&str]) -> Checked<String> {
    opt_enum(object, field, allowed)?.map_or_else(|| invalid(field, "is required"), Ok)
}

/// A boolean, also as the strings `"true"`/`"false"` (the docs send `"generateQrNbu":"true"`).
fn opt_bool(object: &Map<String, Value>, field: &str) -> Checked<Option<bool>> {
    match object.get(field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(_) => invalid(field, "must be a boolean"),
    }
}

/// A positive amount in kopecks: a JSON integer, or (`digits_ok`) a string of digits.
fn amount(object: &Map<String, Value>, field: &str, digits_ok: bool) -> Checked<u64> {
    let value = match object.get(field) {
        None => return invalid(field, "is required"),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s))
            if digits_ok && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()
        }
        Some(_) => None,
    };
    match value {
        Some(v) => rule(field, rules::amount(v)).map(|()| v),
        None => invalid(field, "must be a positive whole number of kopecks"),
    }
}

fn comment(object: &Map<String, Value>, field: &str) -> Checked<Option<String>> {
    let value = opt_str(object, field, COMMENT_MAX)?;
    if let Some(c) = &value {
        rule(field, rules::comment_charset(c))?;
    }
    Ok(value)
}

/// A create-order body that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OrderRequest {
    pub merchant_request_id: String,
    pub merchant_id: String,
    pub hpp_pay_type: String,
    pub coin_amount: u64,
    pub payment_methods: Vec<String>,
    pub expiration_minutes: Option<u64>,
    pub notification_url: Option<String>,
    pub notification_encryption: bool,
    pub generate_qr_nbu: bool,
    pub success_url: String,
    pub fail_url: String,
    pub status_page_type: String,
    pub purpose: Option<String>,
    pub language: Option<String>,
}

fn customer_data(object: &Map<String, Value>) -> Checked<()> {
    let Some(value) = object.get("customerData") else {
        return invalid("customerData", "is required");
    };
    let Value::Object(customer) = value else {
        return invalid("customerData", "must be an object");
    };
    no_null_or_empty(customer, "customerData.")?;
    for (name, max) in CUSTOMER_MEMBERS {
        let field = format!("customerData.{name}");
        match customer.get(name) {
            None => {}
            Some(Value::String(s)) => rule(&field, rules::max_chars(s, max))?,
            Some(_) => return invalid(&field, "must be a string"),
        }
    }
    if !customer.contains_key("senderCustomerId") {
        return invalid("customerData.senderCustomerId", "is required");
    }
    type Rule = fn(&str) -> Result<(), rules::Problem>;
    let checks: [(&str, Rule); 6] = [
        ("senderFirstName", rules::person_name),
        ("senderLastName", rules::person_name),
        ("senderMiddleName", rules::person_name),
        ("senderEmail", rules::email),
        ("senderPhone", rules::phone),
        ("senderCountry", rules::country),
    ];
    for (name, check) in checks {
        if let Some(Value::String(v)) = customer.get(name) {
            rule(&format!("customerData.{name}"), check(v))?;
        }
    }
    Ok(())
}

/// Validates an HPP create-order body (bank-api.md §3.2).
pub(crate) fn order(object: &Map<String, Value>) -> Checked<OrderRequest> {
    no_null_or_empty(object, "")?;
    let merchant_request_id = req_str(object, "merchantRequestId", ID_MAX)?;
    let merchant_id = req_str(object, "merchantId", ID_MAX)?;
    let hpp_pay_type = req_enum(object, "hppPayType", &HPP_PAY_TYPES)?;
    let coin_amount = amount(object, "coinAmount", false)?;
    let payment_methods = match object.get("paymentMethods") {
        None => return invalid("paymentMethods", "is required"),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|m| match m.as_str() {
                Some(s) if PAYMENT_METHODS.contains(&s) => Ok(s.to_owned()),
                _ => invalid(
                    "paymentMethods",
                    format!("items must be one of {}", PAYMENT_METHODS.join(", ")),
                ),
            })
            .collect::<Checked<Vec<_>>>()?,
        Some(_) => return invalid("paymentMethods", "must be a non-empty array"),
    };
    let success_url = req_str(object, "successUrl", URL_MAX)?;
    let fail_url = req_str(object, "failUrl", URL_MAX)?;
    let status_page_type = req_enum(object, "statusPageType", &STATUS_PAGE_TYPES)?;
    customer_data(object)?;
    opt_enum(object, "directType", &DIRECT_TYPES)?;
    let expiration_minutes = match object.get("expirationTimeMinutes") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(m) => {
                rule("expirationTimeMinutes", rules::expiration_minutes(m))?;
                Some(m)
            }
            None => return invalid("expirationTimeMinutes", "must be a whole number of minutes"),
        },
    };
    let language = opt_enum(object, "language", &LANGUAGES)?;
    let notification_url = opt_str(object, "notificationUrl", URL_MAX)?;
    let notification_encryption = opt_bool(object, "notificationEncryption")?.unwrap_or(false);
    let purpose = opt_str(object, "purpose", PURPOSE_MAX)?;
    let merchant_comment = comment(object, "merchantComment")?;
    if hpp_pay_type == "A2A" {
        match &merchant_comment {
            None => return invalid("merchantComment", rules::A2A_COMMENT_REQUIRED),
            Some(c) => rule("merchantComment", rules::comment(c, true))?,
        }
    }
    opt_enum(object, "priorityBankCode", &BANK_CODES)?;
    opt_str(object, "paymentCategoryGoal", 255)?;
    let generate_qr_nbu = opt_bool(object, "generateQrNbu")?.unwrap_or(false);
    Ok(OrderRequest {
        merchant_request_id,
        merchant_id,
        hpp_pay_type,
        coin_amount,
        payment_methods,
        expiration_minutes,
        notification_url,
        notification_encryption,
        generate_qr_nbu,
        success_url,
        fail_url,
        status_page_type,
        purpose,
        language,
    })
}

/// A refund body that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RefundRequest {
    pub merchant_request_id: String,
    pub merchant_id: String,
    pub operation_id: String,
    pub coin_amount: u64,
    pub date: String,
    pub notification_url: Option<String>,
    pub notification_encryption: bool,
    pub merchant_comment: Option<String>,
    /// The body without `date`, canonically serialized: a replay of the same refund (rebuilt
    /// with a fresh date) has the same fingerprint.
    pub fingerprint: String,
}

/// Validates a decrypted refund body (bank-api.md §3.4). `coinAmount` may be a number or a
/// string of digits (§5 item 8).
pub(crate) fn refund(object: &Map<String, Value>) -> Checked<RefundRequest> {
    no_null_or_empty(object, "")?;
    let mut rest = object.clone();
    rest.remove("date");
    Ok(RefundRequest {
        merchant_request_id: req_str(object, "merchantRequestId", ID_MAX)?,
        merchant_id: req_str(object, "merchantId", ID_MAX)?,
        operation_id: req_str(object, "operationId", BANK_ID_MAX)?,
        coin_amount: amount(object, "coinAmount", true)?,
        date: req_str(object, "date", 64)?,
        notification_url: opt_str(object, "notificationUrl", URL_MAX)?,
        notification_encryption: opt_bool(object, "notificationEncryption")?.unwrap_or(false),
        merchant_comment: comment(object, "merchantComment")?,
        fingerprint: Value::Object(rest).to_string(),
    })
}

/// The one string member `field` of a lookup body (`{"hppOrderId"}`, `{"id"}`,
/// `{"merchantRequestId"}`).
pub(crate) fn lookup_key(object: &Map<String, Value>, field: &str) -> Checked<String> {
    no_null_or_empty(object, "")?;
    req_str(object, field, BANK_ID_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid_order() -> Value {
        json!({"merchantRequestId":"c0a8f3d2-6b1e-4c7a-9e55-3f2d1b0a9c84","merchantId":"m-1","hppPayType":"PURCHASE",
            "coinAmount":125050,"paymentMethods":["CARD","GOOGLE_PAY"],"successUrl":"https://shop/ok","failUrl":"https://shop/fail",
            "statusPageType":"STATUS_REDIRECT_MERCHANT_PAGE","language":"uk","expirationTimeMinutes":60,
            "notificationUrl":"https://shop/hook","purpose":"Замовлення 48213",
            "customerData":{"senderCustomerId":"cust-48213","senderEmail":"olena@example.ua"}})
    }

    fn field_of(edit: impl Fn(&mut Map<String, Value>)) -> String {
        let mut v = valid_order();
        edit(v.as_object_mut().unwrap());
        order(v.as_object().unwrap()).unwrap_err().field
    }

    #[test]
    fn a_documented_order_passes() {
        let o = order(valid_order().as_object().unwrap()).unwrap();
        assert_eq!(
            (
                o.coin_amount,
                o.expiration_minutes,
                o.notification_encryption
            ),
            (125_050, Some(60), false)
        );
    }

    /// One case per rule, naming the member the bank would name.
    #[test]
    fn each_rule_names_its_member() {
        type Edit = Box<dyn Fn(&mut Map<String, Value>)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "merchantRequestId",
                Box::new(|o| {
                    o.remove("merchantRequestId");
                }),
            ),
            (
                "merchantRequestId",
                Box::new(|o| {
                    o.insert("merchantRequestId".into(), json!("x".repeat(37)));
                }),
            ),
            (
                "merchantId",
                Box::new(|o| {
                    o.insert("merchantId".into(), json!(7));
                }),
            ),
            (
                "hppPayType",
                Box::new(|o| {
                    o.insert("hppPayType".into(), json!("P2P"));
                }),
            ),
            (
                "coinAmount",
                Box::new(|o| {
                    o.insert("coinAmount".into(), json!("125050"));
                }),
            ),
            (
                "coinAmount",
                Box::new(|o| {
                    o.insert("coinAmount".into(), json!(0));
                }),
            ),
            (
                "coinAmount",
                Box::new(|o| {
                    o.insert("coinAmount".into(), json!(1.5));
                }),
            ),
            (
                "paymentMethods",
                Box::new(|o| {
                    o.insert("paymentMethods".into(), json!([]));
                }),
            ),
            (
                "paymentMethods",
                Box::new(|o| {
                    o.insert("paymentMethods".into(), json!(["CASH"]));
                }),
            ),
            (
                "successUrl",
                Box::new(|o| {
                    o.remove("successUrl");
                }),
            ),
            (
                "failUrl",
                Box::new(|o| {
                    o.insert("failUrl".into(), json!("x".repeat(1001)));
                }),
            ),
            (
                "statusPageType",
                Box::new(|o| {
                    o.insert("statusPageType".into(), json!("NONE"));
                }),
            ),
            (
                "customerData",
                Box::new(|o| {
                    o.remove("customerData");
                }),
            ),
            (
                "customerData.senderCustomerId",
                Box::new(|o| {
                    o.insert("customerData".into(), json!({"senderEmail":"a@b"}));
                }),
            ),
            (
                "customerData.senderEmail",
                Box::new(|o| {
                    o.insert(
                        "customerData".into(),
                        json!({"senderCustomerId":"c","senderEmail":null}),
                    );
                }),
            ),
            (
                "customerData.senderFirstName",
                Box::new(|o| {
                    o.insert(
                        "customerData".into(),
                        json!({"senderCustomerId":"c","senderFirstName":"CARDHOLDER"}),
                    );
                }),
            ),
            (
                "customerData.senderCity",
                Box::new(|o| {
                    o.insert(
                        "customerData".into(),
                        json!({"senderCustomerId":"c","senderCity":"x".repeat(26)}),
                    );
                }),
            ),
            (
                "directType",
                Box::new(|o| {
                    o.insert("directType".into(), json!("POPUP"));
                }),
            ),
            (
                "expirationTimeMinutes",
                Box::new(|o| {
                    o.insert("expirationTimeMinutes".into(), json!(10_000));
                }),
            ),
            (
                "language",
                Box::new(|o| {
                    o.insert("language".into(), json!("ru"));
                }),
            ),
            (
                "notificationUrl",
                Box::new(|o| {
                    o.insert("notificationUrl".into(), json!(""));
                }),
            ),
            (
                "priorityBankCode",
                Box::new(|o| {
                    o.insert("priorityBankCode".into(), Value::Null);
                }),
            ),
            (
                "notificationEncryption",
                Box::new(|o| {
                    o.insert("notificationEncryption".into(), json!(1));
                }),
            ),
            (
                "merchantComment",
                Box::new(|o| {
                    o.insert("hppPayType".into(), json!("A2A"));
                }),
            ),
            (
                "merchantComment",
                Box::new(|o| {
                    o.insert("hppPayType".into(), json!("A2A"));
                    o.insert("merchantComment".into(), json!("too short"));
                }),
            ),
            (
                "merchantComment",
                Box::new(|o| {
                    o.insert("merchantComment".into(), json!("order <48213>"));
                }),
            ),
        ];
        for (field, edit) in cases {
            assert_eq!(field_of(edit), field);
        }
    }

    #[test]
    fn refund_accepts_string_amounts_and_fingerprints_without_date() {
        let a = json!({"merchantRequestId":"r-1","merchantId":"m","operationId":"op","coinAmount":"2500","date":"2026-03-11 09:02:17.00+02:00"});
        let b = json!({"merchantRequestId":"r-1","merchantId":"m","operationId":"op","coinAmount":"2500","date":"2026-03-11 09:05:00.00+02:00"});
        let (ra, rb) = (
            refund(a.as_object().unwrap()).unwrap(),
            refund(b.as_object().unwrap()).unwrap(),
        );
        assert_eq!(ra.coin_amount, 2500);
        assert_eq!(ra.fingerprint, rb.fingerprint);
        let missing_date =
            json!({"merchantRequestId":"r-1","merchantId":"m","operationId":"op","coinAmount":1});
        assert_eq!(
            refund(missing_date.as_object().unwrap()).unwrap_err().field,
            "date"
        );
    }
}
