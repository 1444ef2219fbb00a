//! [`Kopecks`]: an amount of money as the bank counts it.

use core::fmt;

use serde::{Deserialize, Serialize};

/// An amount in kopecks (1/100 of a hryvnia), the unit of every `coinAmount` (bank-api.md
/// §3.2, §3.4). A type of its own so that an amount cannot be mixed up with another number,
/// and so that arithmetic on it cannot overflow silently: [`Kopecks::checked_add`] and
/// [`Kopecks::checked_sub`] answer `None` instead of wrapping.
///
/// On the wire it is the bank's plain number of kopecks (`125050`); [`Display`](fmt::Display)
/// writes hryvnias with two decimals and no thousands separator: `1250.50 UAH`.
///
/// ```
/// use alliancepay_http::Kopecks;
///
/// let price = Kopecks::new(125_050);
/// assert_eq!(price.to_string(), "1250.50 UAH");
/// assert_eq!(price.checked_sub(Kopecks::new(50)), Some(Kopecks::new(125_000)));
/// assert_eq!(Kopecks::new(u64::MAX).checked_add(Kopecks::new(1)), None);
/// assert_eq!(serde_json::to_string(&price).unwrap(), "125050");
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Kopecks(u64);

impl Kopecks {
    /// Zero kopecks (the bank refuses it as an amount to charge or refund).
    pub const ZERO: Self = Self(0);

    /// `kopecks` kopecks: `Kopecks::new(125_050)` is 1250.50 UAH.
    #[must_use]
    pub const fn new(kopecks: u64) -> Self {
        Self(kopecks)
    }

    /// The number of kopecks.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The sum, or `None` if it does not fit.
    #[must_use]
    pub const fn checked_add(self, other: Self) -> Option<Self> {
        match self.0.checked_add(other.0) {
            Some(sum) => Some(Self(sum)),
            None => None,
        }
    }

    /// The difference, or `None` if `other` is larger (an amount is never negative).
    #[must_use]
    pub const fn checked_sub(self, other: Self) -> Option<Self> {
        match self.0.checked_sub(other.0) {
            Some(difference) => Some(Self(difference)),
            None => None,
        }
    }
}

impl From<u64> for Kopecks {
    fn from(kopecks: u64) -> Self {
        Self(kopecks)
    }
}

impl From<Kopecks> for u64 {
    fn from(amount: Kopecks) -> Self {
        amount.0
    }
}

impl fmt::Display for Kopecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02} UAH", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_checked() {
        let max = Kopecks::new(u64::MAX);
        assert_eq!(max.checked_add(Kopecks::new(1)), None);
        assert_eq!(max.checked_add(Kopecks::ZERO), Some(max));
        assert_eq!(Kopecks::new(1).checked_sub(Kopecks::new(2)), None);
        assert_eq!(
            Kopecks::new(125_050).checked_sub(Kopecks::new(25_000)),
            Some(Kopecks::new(100_050))
        );
        assert_eq!(
            Kopecks::new(2).checked_add(Kopecks::new(3)),
            Some(Kopecks::new(5))
        );
    }

    #[test]
    fn displays_as_hryvnias() {
        for (kopecks, text) in [
            (0, "0.00 UAH"),
            (5, "0.05 UAH"),
            (100, "1.00 UAH"),
            (125_050, "1250.50 UAH"),
            (u64::MAX, "184467440737095516.15 UAH"),
        ] {
            assert_eq!(Kopecks::new(kopecks).to_string(), text);
        }
    }

    #[test]
    fn serde_is_the_banks_number() {
        assert_eq!(
            serde_json::to_string(&Kopecks::new(125_050)).unwrap(),
            "125050"
        );
        assert_eq!(
            serde_json::from_str::<Kopecks>("125050").unwrap(),
            Kopecks::new(125_050)
        );
        assert!(serde_json::from_str::<Kopecks>("-1").is_err());
        assert!(serde_json::from_str::<Kopecks>("1.5").is_err());
        assert_eq!(u64::from(Kopecks::from(7)), 7);
    }
}
