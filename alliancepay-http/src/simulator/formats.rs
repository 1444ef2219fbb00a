//! The bank's identifier and date formats (bank-api.md §3.2, §3.3, §5 item 6).

use rand_core::Rng;

use crate::crypto::os_rng;
use crate::time::kyiv_at_millis;

/// The alphabet of the 11-character tail of `hppOrderId` and `operationId`.
const ID_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A bank-style id: 13 digits of epoch milliseconds and 11 characters of `[A-Za-z0-9_-]`, such
/// as `1773131702417Qm3vTz8_kLp`.
#[must_use]
pub(crate) fn bank_id(now_ms: i64) -> String {
    let mut random = [0u8; 11];
    os_rng().fill_bytes(&mut random);
    let tail: String = random
        .iter()
        .map(|b| char::from(ID_ALPHABET[usize::from(b & 63)]))
        .collect();
    format!("{:013}{tail}", now_ms.max(0))
}

/// An order date, `2026-03-10 10:35:02.41+02:00`: Kyiv time, centiseconds, colon offset.
#[must_use]
pub(crate) fn order_date(now_ms: i64) -> String {
    kyiv_at_millis(now_ms)
        .strftime("%Y-%m-%d %H:%M:%S%.2f%:z")
        .to_string()
}

/// An operation date, `2026.03.10 10:36:30.112`: Kyiv local time with dots and no offset.
#[must_use]
pub(crate) fn operation_date(now_ms: i64) -> String {
    kyiv_at_millis(now_ms)
        .strftime("%Y.%m.%d %H:%M:%S%.3f")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_dates_have_the_bank_shapes() {
        let ms = 1_773_131_702_417;
        let id = bank_id(ms);
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("1773131702417"));
        assert!(id[13..].bytes().all(|b| ID_ALPHABET.contains(&b)));
        assert_eq!(order_date(ms), "2026-03-10 10:35:02.41+02:00");
        assert_eq!(operation_date(ms), "2026.03.10 10:35:02.417");
        assert_eq!(
            crate::time::UtcTime::parse_bank(&order_date(ms))
                .unwrap()
                .unix(),
            ms / 1000
        );
        // Summer time (EEST), and a whole second: the fraction keeps its digits.
        let july = 1_783_000_000_000; // 2026-07-02 13:46:40 UTC
        assert_eq!(order_date(july), "2026-07-02 16:46:40.00+03:00");
        assert_eq!(operation_date(july), "2026.07.02 16:46:40.000");
    }
}
