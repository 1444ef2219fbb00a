//! Reading the callbacks the bank POSTs to `notificationUrl` (bank-api.md §3.6).
//!
//! A callback is a hint, not proof: the legacy scheme carries no signature, so change an
//! order's state only after reading it back through the API ([`crate::Client::order_data`]).

use alliancepay_jose::PrivateJwk;
use serde_json::Value;

use crate::model::{Operation, Order};
use crate::{Error, crypto};

/// What a callback carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Callback {
    /// An HPP order (with `hppOrderId`).
    Order(Order),
    /// An H2H operation record.
    Operation(Operation),
}

/// Parses a callback body: a plain JSON object, a `{"jwe": …}` envelope, or a bare compact
/// JWE; the encrypted forms are decrypted with `merchant` (the wire format of encrypted
/// callbacks is undocumented, so all three are accepted).
///
/// # Errors
/// [`Error::Decryption`] for a JWE not for `merchant`; [`Error::MalformedResponse`] (status 0)
/// for a body that is none of the above.
pub fn parse_callback(body: &[u8], merchant: &PrivateJwk) -> Result<Callback, Error> {
    let body = body.trim_ascii();
    let decrypt = |token: &str| {
        crypto::decrypt_to_vec(merchant, token).map_err(|source| Error::Decryption {
            what: "callback",
            source,
        })
    };
    let value: Value = if body.first() == Some(&b'{') {
        let outer: Value = serde_json::from_slice(body)
            .map_err(|e| Error::malformed(0, format!("callback is not JSON: {e}")))?;
        match outer.get("jwe") {
            Some(Value::String(token)) => parse_json(&decrypt(token)?)?,
            Some(_) => return Err(Error::malformed(0, "callback \"jwe\" is not a string")),
            None => outer,
        }
    } else {
        let token = std::str::from_utf8(body)
            .map_err(|_| Error::malformed(0, "callback is neither JSON nor a JWE"))?;
        if token.split('.').count() != 5 {
            return Err(Error::malformed(
                0,
                "callback is neither JSON nor a compact JWE",
            ));
        }
        parse_json(&decrypt(token)?)?
    };
    let shape = |e: serde_json::Error| {
        Error::malformed(
            0,
            format!("callback does not have the documented shape: {e}"),
        )
    };
    if value.get("hppOrderId").is_some() {
        serde_json::from_value(value)
            .map(Callback::Order)
            .map_err(shape)
    } else {
        serde_json::from_value(value)
            .map(Callback::Operation)
            .map_err(shape)
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::malformed(0, format!("decrypted callback is not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"{"hppOrderId":"h-1","orderStatus":"SUCCESS","coinAmount":125050,"operations":{"type":"PURCHASE","status":"SUCCESS","operationId":"op-1"}}"#;

    #[test]
    fn plain_enveloped_and_bare_callbacks() {
        let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let token = crypto::encrypt_to_string(key.public_jwk(), ORDER.as_bytes()).unwrap();
        for body in [
            ORDER.to_owned(),
            format!(r#"{{"jwe":"{token}"}}"#),
            format!("{token}\r\n"),
        ] {
            match parse_callback(body.as_bytes(), &key).unwrap() {
                Callback::Order(o) => {
                    assert_eq!(o.operations[0].operation_id.as_deref(), Some("op-1"))
                }
                other => panic!("{other:?}"),
            }
        }
        let op = parse_callback(
            br#"{"type":"REFUND","status":"SUCCESS","operationId":"op-9"}"#,
            &key,
        )
        .unwrap();
        assert!(matches!(op, Callback::Operation(ref o) if o.kind.as_deref() == Some("REFUND")));
    }

    #[test]
    fn bad_callbacks_are_errors() {
        let key = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let other = PrivateJwk::generate(&mut crypto::os_rng()).unwrap();
        let token = crypto::encrypt_to_string(other.public_jwk(), ORDER.as_bytes()).unwrap();
        assert!(matches!(
            parse_callback(token.as_bytes(), &key),
            Err(Error::Decryption {
                what: "callback",
                ..
            })
        ));
        for bad in [
            &b"hello"[..],
            b"{\"jwe\":1}",
            b"{\"hppOrderId\":1}",
            b"\xff\xfe",
            b"{",
        ] {
            assert!(
                matches!(
                    parse_callback(bad, &key),
                    Err(Error::MalformedResponse { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
