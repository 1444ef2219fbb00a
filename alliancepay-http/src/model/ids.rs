//! Identifiers with the bank's limits: [`MerchantRequestId`] (ours) and [`HppOrderId`] (the
//! bank's), so that one cannot be passed where the other is meant.

use core::fmt;
use core::ops::Deref;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, rules};

/// The shared parts of a validated string id: construction through `rule`, `&str` access,
/// comparison with text, `Display` and `FromStr`.
macro_rules! string_id {
    ($name:ident, $field:literal, $max:ident, $max_text:literal) => {
        impl $name {
            /// The id `id`, if it meets the bank's limits: not blank, and at most
            #[doc = concat!($max_text, " characters (bank-api.md §3).")]
            ///
            /// # Errors
            #[doc = concat!("[`Error::InvalidInput`] naming `", $field, "`.")]
            pub fn new(id: impl Into<String>) -> Result<Self, Error> {
                let id = id.into();
                rules::text(&id, rules::$max).map_err(|problem| Error::invalid($field, problem))?;
                Ok(Self(id))
            }

            /// The id as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

/// `merchantRequestId`: our key for one order or refund, at most 36 characters (bank-api.md
/// §3.2, §3.4). It is how the outcome of a write is resolved when the answer was lost, so
/// store it before sending. [`MerchantRequestId::generate`] makes a random UUID.
///
/// Ids read from the bank's answers are kept as sent, without the length check: an answer is
/// never refused over an id we did not make. Requests are checked again before sending.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MerchantRequestId(String);

string_id!(MerchantRequestId, "merchantRequestId", ID_MAX, "36");

impl MerchantRequestId {
    /// A random (version 4) UUID from the OS RNG.
    #[must_use]
    pub fn generate() -> Self {
        Self(crate::crypto::new_uuid())
    }

    /// A random UUID drawn from `rng`: with the protocol core's seeded RNG, a replay sends the
    /// same ids.
    #[must_use]
    pub fn generate_with<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(crate::crypto::uuid_from(rng))
    }
}

/// `hppOrderId`: the bank's id of an HPP order, as `create-order` returned it (at most 255
/// characters). Read from answers as sent, like [`MerchantRequestId`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HppOrderId(String);

string_id!(HppOrderId, "hppOrderId", BANK_ID_MAX, "255");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::InsecureSeededRng;

    fn field_of(e: Error) -> String {
        match e {
            Error::InvalidInput { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn merchant_request_id_limits() {
        assert_eq!(MerchantRequestId::new("x".repeat(36)).unwrap().len(), 36);
        // Characters, not bytes: 36 Cyrillic letters are 72 bytes.
        assert!(MerchantRequestId::new("ї".repeat(36)).is_ok());
        for bad in [String::new(), "  ".into(), "x".repeat(37)] {
            let e = MerchantRequestId::new(bad.clone()).unwrap_err();
            assert_eq!(field_of(e), "merchantRequestId", "{bad:?}");
        }
        assert!("order-1".parse::<MerchantRequestId>().unwrap() == "order-1");
    }

    #[test]
    fn generated_ids_are_uuids_from_the_rng() {
        let a = MerchantRequestId::generate_with(&mut InsecureSeededRng::new(7));
        let b = MerchantRequestId::generate_with(&mut InsecureSeededRng::new(7));
        assert_eq!(a, b);
        assert_eq!(a.len(), 36);
        assert!(MerchantRequestId::new(a.as_str()).is_ok());
        assert_ne!(MerchantRequestId::generate(), MerchantRequestId::generate());
    }

    #[test]
    fn hpp_order_id_limits_and_serde() {
        assert!(HppOrderId::new("x".repeat(255)).is_ok());
        assert_eq!(
            field_of(HppOrderId::new("x".repeat(256)).unwrap_err()),
            "hppOrderId"
        );
        assert_eq!(field_of(HppOrderId::new("").unwrap_err()), "hppOrderId");
        let id = HppOrderId::new("1773131702417Qm3vTz8_kLp").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"1773131702417Qm3vTz8_kLp\""
        );
        assert_eq!(id.to_string(), "1773131702417Qm3vTz8_kLp");
    }
}
