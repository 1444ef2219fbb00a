//! UTC instants and the bank's timestamp formats.
//!
//! The session payload states its expiry twice (bank-api.md §1.2): `tokenExpirationDateTime`
//! in UTC, `2025-02-14 22:45:24.0463 +0000`, whose four fraction digits are a zero-padded
//! millisecond count, and `tokenExpiration` in Kyiv time, `2025-02-15 00:45:24.463+02:00`.
//! Both name one instant; we keep whole seconds. A 24-hour token needs nothing finer, and a
//! calendar crate would be the biggest dependency here, so the few conversions live in this file.

use core::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The two clocks the flow reads, as inputs: the state machine never asks the OS.
///
/// `wall` is the host's calendar clock, which may be far off the bank's (the measured offset
/// corrects it where the bank checks times); `monotonic` is time since an arbitrary origin that
/// never jumps (the driver uses `Instant`), on which renewals are scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// The host's wall clock.
    pub wall: UtcTime,
    /// A monotonic reading, since any fixed origin.
    pub monotonic: core::time::Duration,
}

/// A UTC instant with one-second resolution, as seconds since 1970-01-01T00:00:00Z.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UtcTime(i64);

impl UtcTime {
    /// The instant `secs` seconds after the Unix epoch.
    #[must_use]
    pub const fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    #[must_use]
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// The system clock, truncated to whole seconds.
    #[must_use]
    pub fn now() -> Self {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Self(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Err(e) => Self(-i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX)),
        }
    }

    /// This instant moved by `secs` seconds (saturating).
    #[must_use]
    pub const fn plus(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    #[must_use]
    pub const fn since(self, earlier: Self) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Parses either of the bank's expiry formats (see the module docs), or an RFC 3339 string
    /// (`2025-02-14T22:45:24Z`, as our own session files write). The fraction is dropped.
    ///
    /// # Errors
    /// A message saying which part of the text is wrong.
    pub fn parse_bank(text: &str) -> Result<Self, TimeParseError> {
        let b = text.as_bytes();
        let date = parse_date(b, b'-').ok_or(TimeParseError("expected YYYY-MM-DD at the start"))?;
        if b.len() < 19 || !(b[10] == b' ' || b[10] == b'T') {
            return Err(TimeParseError("expected a space or 'T' after the date"));
        }
        let secs_of_day =
            parse_clock(&b[11..19]).ok_or(TimeParseError("expected HH:MM:SS after the date"))?;
        let mut rest = &b[19..];
        if let Some((b'.', tail)) = rest.split_first() {
            let digits = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return Err(TimeParseError("expected digits after the decimal point"));
            }
            rest = &tail[digits..];
        }
        let offset = parse_offset(rest).ok_or(TimeParseError(
            "expected an offset after the time: ' +0000', '+02:00' or 'Z'",
        ))?;
        Ok(Self(date * 86_400 + secs_of_day - offset))
    }

    /// `YYYY-MM-DD HH:MM:SS.ffff +0000`, the format of `tokenExpirationDateTime` (milliseconds
    /// zero-padded to four digits; always `0000` here since we keep whole seconds).
    #[must_use]
    pub fn to_bank_utc(self) -> String {
        let (date, clock) = self.civil(0);
        format!("{date} {clock}.0000 +0000")
    }

    /// `YYYY-MM-DD HH:MM:SS.000+hh:mm` in Kyiv local time (EET/EEST), the format of
    /// `tokenExpiration`.
    #[must_use]
    pub fn to_bank_kyiv(self) -> String {
        let offset = kyiv_offset(self);
        let (date, clock) = self.civil(offset);
        format!("{date} {clock}.000+{:02}:00", offset / 3600)
    }

    /// `YYYY-MM-DD HH:MM:SS.00+hh:mm` in Kyiv local time: the request `date` of a refund.
    #[must_use]
    pub fn to_request_date(self) -> String {
        let offset = kyiv_offset(self);
        let (date, clock) = self.civil(offset);
        format!("{date} {clock}.00+{:02}:00", offset / 3600)
    }

    /// RFC 3339 in UTC, `2025-02-14T22:45:24Z`: for people and for our session files.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let (date, clock) = self.civil(0);
        format!("{date}T{clock}Z")
    }

    /// The HTTP `Date` form (RFC 9110 §5.6.7 IMF-fixdate), `Sun, 06 Nov 1994 08:49:37 GMT`.
    #[must_use]
    pub fn to_http_date(self) -> String {
        const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        // Both indexes are in range by construction (rem_euclid 7; month 1..=12).
        let weekday = DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
        let month = MONTHS[usize::try_from(m - 1).unwrap_or(0)];
        format!(
            "{weekday}, {d:02} {month} {y:04} {:02}:{:02}:{:02} GMT",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }

    /// Parses an HTTP `Date` header in the IMF-fixdate form every current server sends
    /// (`Sun, 06 Nov 1994 08:49:37 GMT`). The obsolete RFC 850 and asctime forms are refused:
    /// the caller then has no bank time from this answer, which it tolerates.
    ///
    /// # Errors
    /// A message saying which part of the text is wrong.
    pub fn parse_http_date(text: &str) -> Result<Self, TimeParseError> {
        const MONTHS: [&[u8]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        let b = text.trim().as_bytes();
        let shape =
            TimeParseError("expected an IMF-fixdate such as 'Sun, 06 Nov 1994 08:49:37 GMT'");
        if b.len() != 29 || &b[3..5] != b", " || b[7] != b' ' || b[11] != b' ' || b[16] != b' ' {
            return Err(shape);
        }
        if &b[25..] != b" GMT" {
            return Err(shape);
        }
        let month = MONTHS
            .iter()
            .position(|m| *m == &b[8..11])
            .and_then(|i| i64::try_from(i + 1).ok())
            .ok_or(TimeParseError("unknown month name"))?;
        let (y, d) = (
            digits(&b[12..16]).ok_or(shape)?,
            digits(&b[5..7]).ok_or(shape)?,
        );
        if d < 1 || d > days_in_month(y, month) {
            return Err(TimeParseError("day out of range for the month"));
        }
        let secs = parse_clock(&b[17..25]).ok_or(shape)?;
        Ok(Self(days_from_civil(y, month, d) * 86_400 + secs))
    }

    fn civil(self, offset: i64) -> (String, String) {
        let local = self.0 + offset;
        let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        (
            format!("{y:04}-{m:02}-{d:02}"),
            format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
        )
    }
}

impl fmt::Debug for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Why a timestamp did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeParseError(&'static str);

impl fmt::Display for TimeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for TimeParseError {}

/// Days since 1970-01-01 of `YYYY<sep>MM<sep>DD` at the start of `b`.
fn parse_date(b: &[u8], sep: u8) -> Option<i64> {
    if b.len() < 10 || b[4] != sep || b[7] != sep {
        return None;
    }
    let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Seconds of the day of `HH:MM:SS`.
fn parse_clock(b: &[u8]) -> Option<i64> {
    if b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (digits(&b[0..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    (h < 24 && m < 60 && s < 60).then_some(h * 3600 + m * 60 + s)
}

/// Offset east of UTC in seconds: ` +hhmm`, `+hh:mm`, `+hhmm` or `Z`, and nothing after it.
fn parse_offset(b: &[u8]) -> Option<i64> {
    let b = b.strip_prefix(b" ").unwrap_or(b);
    if b == b"Z" {
        return Some(0);
    }
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = match b.len() {
        5 => (digits(&b[1..3])?, digits(&b[3..5])?),
        6 if b[3] == b':' => (digits(&b[1..3])?, digits(&b[4..6])?),
        _ => return None,
    };
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the era-based method popularised by
/// Howard Hinnant's "chrono-Compatible Low-Level Date Algorithms").
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Kyiv's offset from UTC at `t`: +3 h from the last Sunday of March 01:00 UTC to the last
/// Sunday of October 01:00 UTC (the EU rule Ukraine follows), +2 h otherwise.
fn kyiv_offset(t: UtcTime) -> i64 {
    let (year, _, _) = civil_from_days(t.0.div_euclid(86_400));
    let last_sunday = |month: i64| {
        let last = days_from_civil(year, month, 31);
        // 1970-01-01 was a Thursday: weekday 0 = Sunday is (days + 4) mod 7.
        last - (last + 4).rem_euclid(7)
    };
    let summer_start = last_sunday(3) * 86_400 + 3600;
    let summer_end = last_sunday(10) * 86_400 + 3600;
    if (summer_start..summer_end).contains(&t.0) {
        3 * 3600
    } else {
        2 * 3600
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> UtcTime {
        UtcTime::parse_bank(text).unwrap()
    }

    /// The pairs bank-api.md §1.2 gives: each UTC string and its Kyiv twin are one instant.
    #[test]
    fn both_expiry_formats_name_the_same_instant() {
        for (utc, kyiv) in [
            (
                "2025-02-14 22:45:24.0463 +0000",
                "2025-02-15 00:45:24.463+02:00",
            ),
            (
                "2025-02-27 12:12:34.0430 +0000",
                "2025-02-27 14:12:34.430+02:00",
            ),
            (
                "2026-03-10 09:15:02.0081 +0000",
                "2026-03-10 11:15:02.081+02:00",
            ),
        ] {
            assert_eq!(at(utc), at(kyiv), "{utc} vs {kyiv}");
        }
        assert_eq!(at("2025-02-14 22:45:24.0463 +0000").unix(), 1_739_573_124);
        assert_eq!(
            at("2023-03-18 12:34:52.0998 +0000").to_rfc3339(),
            "2023-03-18T12:34:52Z"
        );
    }

    #[test]
    fn rfc3339_round_trips() {
        let t = at("2024-02-29T23:59:59Z");
        assert_eq!(at(&t.to_rfc3339()), t);
        assert_eq!(at(&t.to_bank_utc()), t);
        assert_eq!(at(&t.to_bank_kyiv()), t);
        assert_eq!(at(&t.to_request_date()), t);
    }

    #[test]
    fn civil_conversion_round_trips_over_centuries() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn kyiv_switches_at_one_utc_on_the_last_sundays() {
        // 2025: summer time from 30 March 01:00 UTC to 26 October 01:00 UTC.
        assert_eq!(kyiv_offset(at("2025-03-30 00:59:59 +0000")), 7200);
        assert_eq!(kyiv_offset(at("2025-03-30 01:00:00 +0000")), 10800);
        assert_eq!(kyiv_offset(at("2025-10-26 00:59:59 +0000")), 10800);
        assert_eq!(kyiv_offset(at("2025-10-26 01:00:00 +0000")), 7200);
        assert_eq!(
            at("2025-07-01 12:00:00 +0000").to_bank_kyiv(),
            "2025-07-01 15:00:00.000+03:00"
        );
    }

    #[test]
    fn http_dates_round_trip() {
        // RFC 9110's own example.
        let t = UtcTime::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.to_rfc3339(), "1994-11-06T08:49:37Z");
        assert_eq!(t.to_http_date(), "Sun, 06 Nov 1994 08:49:37 GMT");
        for secs in (-100_000_000..4_000_000_000_i64).step_by(7_777_777) {
            let t = UtcTime::from_unix(secs);
            assert_eq!(UtcTime::parse_http_date(&t.to_http_date()), Ok(t));
        }
        for bad in [
            "",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nox 1994 08:49:37 GMT",
        ] {
            assert!(UtcTime::parse_http_date(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn malformed_timestamps_say_what_is_wrong() {
        for bad in [
            "",
            "2025-02-30 10:00:00 +0000",
            "2025-13-01 10:00:00 +0000",
            "2025-02-14 24:00:00 +0000",
            "2025-02-14 22:45:24.",
            "2025-02-14 22:45:24",
            "2025-02-14 22:45:24 +00",
            "2025-02-14 22:45:24 +0000 trailing",
            "2025.02.14 22:45:24 +0000",
        ] {
            assert!(UtcTime::parse_bank(bad).is_err(), "{bad:?} parsed");
        }
    }
}
