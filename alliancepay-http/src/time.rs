//! UTC instants and the bank's timestamp formats.
//!
//! The session payload states its expiry twice (bank-api.md §1.2): `tokenExpirationDateTime`
//! in UTC, `2025-02-14 22:45:24.0463 +0000`, whose four fraction digits are a zero-padded
//! millisecond count, and `tokenExpiration` in Kyiv time, `2025-02-15 00:45:24.463+02:00`.
//! Both name one instant; we keep whole seconds. A 24-hour token needs nothing finer.
//!
//! The calendar and Kyiv's offsets come from `jiff` with its bundled time-zone database:
//! Ukraine's daylight-saving rule is a law that can change, and the tz database follows such
//! changes (and knows the past ones), which a rule written here would not. The shapes of the
//! bank's strings (a space or `T`, a fraction of any length, ` +0000`, `+02:00` or `Z`) are
//! read here, so an error can say which part is wrong; jiff checks the date and converts.

use core::fmt;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};

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
        let clock =
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
        DateTime::from_parts(date, clock)
            .to_zoned(TimeZone::fixed(offset))
            .map(|z| Self(z.timestamp().as_second()))
            .map_err(|_| TimeParseError("the instant is outside the supported years"))
    }

    /// `YYYY-MM-DD HH:MM:SS.ffff +0000`, the format of `tokenExpirationDateTime` (milliseconds
    /// zero-padded to four digits; always `0000` here since we keep whole seconds).
    #[must_use]
    pub fn to_bank_utc(self) -> String {
        self.timestamp()
            .strftime("%Y-%m-%d %H:%M:%S.0000 +0000")
            .to_string()
    }

    /// `YYYY-MM-DD HH:MM:SS.000+hh:mm` in Kyiv local time (EET/EEST), the format of
    /// `tokenExpiration`.
    #[must_use]
    pub fn to_bank_kyiv(self) -> String {
        self.kyiv().strftime("%Y-%m-%d %H:%M:%S.000%:z").to_string()
    }

    /// `YYYY-MM-DD HH:MM:SS.00+hh:mm` in Kyiv local time: the request `date` of a refund.
    #[must_use]
    pub fn to_request_date(self) -> String {
        self.kyiv().strftime("%Y-%m-%d %H:%M:%S.00%:z").to_string()
    }

    /// RFC 3339 in UTC, `2025-02-14T22:45:24Z`: for people and for our session files.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        self.timestamp().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// The HTTP `Date` form (RFC 9110 §5.6.7 IMF-fixdate), `Sun, 06 Nov 1994 08:49:37 GMT`.
    #[must_use]
    pub fn to_http_date(self) -> String {
        self.timestamp()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
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
            .and_then(|i| i8::try_from(i + 1).ok())
            .ok_or(TimeParseError("unknown month name"))?;
        let (year, day) = (
            digits(&b[12..16]).ok_or(shape)?,
            digits(&b[5..7]).ok_or(shape)?,
        );
        let date = Date::new(year, month, i8::try_from(day).map_err(|_| shape)?)
            .map_err(|_| TimeParseError("day out of range for the month"))?;
        let clock = parse_clock(&b[17..25]).ok_or(shape)?;
        DateTime::from_parts(date, clock)
            .to_zoned(TimeZone::UTC)
            .map(|z| Self(z.timestamp().as_second()))
            .map_err(|_| shape)
    }

    /// This instant as jiff's, clamped to the years jiff supports (-9999 to 9999): the
    /// saturating arithmetic above can leave that range, a real clock never does.
    fn timestamp(self) -> Timestamp {
        let secs = self
            .0
            .clamp(Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
        Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// This instant on Kyiv's wall clock.
    fn kyiv(self) -> jiff::Zoned {
        kyiv_wall_clock(self.timestamp())
    }
}

/// `at` on Kyiv's wall clock, with an offset the bank's formats can write. They carry `±hh:mm`,
/// but before 1924 the tz database gives Kyiv its local mean time, +02:02:04, whose seconds
/// `%:z` would print and no bank timestamp has (our own parser refused the result: a fuzz
/// find). Such an instant is written with its offset cut to whole minutes, so the text still
/// names the same instant; every offset since 1924 is whole hours and passes unchanged.
fn kyiv_wall_clock(at: Timestamp) -> jiff::Zoned {
    let seconds = kyiv().to_offset(at).seconds();
    if seconds % 60 == 0 {
        return at.to_zoned(kyiv().clone());
    }
    let whole_minutes = Offset::from_seconds(seconds - seconds % 60).unwrap_or(Offset::constant(2));
    at.to_zoned(TimeZone::fixed(whole_minutes))
}

/// Europe/Kyiv from the bundled tz database. jiff's bundle always holds it; should it ever
/// not, fixed EET (+02:00, Kyiv's standard time) keeps the formats working, an hour off in
/// summer.
fn kyiv() -> &'static TimeZone {
    static KYIV: OnceLock<TimeZone> = OnceLock::new();
    KYIV.get_or_init(|| {
        TimeZone::get("Europe/Kyiv").unwrap_or_else(|_| TimeZone::fixed(Offset::constant(2)))
    })
}

/// The instant `unix_ms` milliseconds after the epoch on Kyiv's wall clock (clamped to the
/// years jiff supports), for the simulator's millisecond-precise dates.
#[cfg(feature = "simulator")]
pub(crate) fn kyiv_at_millis(unix_ms: i64) -> jiff::Zoned {
    let ms = unix_ms.clamp(
        Timestamp::MIN.as_millisecond(),
        Timestamp::MAX.as_millisecond(),
    );
    kyiv_wall_clock(Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// Kyiv's offset from UTC at `t`, in seconds east.
#[cfg(test)]
fn kyiv_offset(t: UtcTime) -> i64 {
    i64::from(kyiv().to_offset(t.timestamp()).seconds())
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

/// The date `YYYY<sep>MM<sep>DD` at the start of `b`, if it exists.
fn parse_date(b: &[u8], sep: u8) -> Option<Date> {
    if b.len() < 10 || b[4] != sep || b[7] != sep {
        return None;
    }
    let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

/// The time of day of `HH:MM:SS`.
fn parse_clock(b: &[u8]) -> Option<Time> {
    if b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (digits(&b[0..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    Time::new(
        i8::try_from(h).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(s).ok()?,
        0,
    )
    .ok()
}

/// The offset east of UTC of ` +hhmm`, `+hh:mm`, `+hhmm` or `Z`, with nothing after it.
fn parse_offset(b: &[u8]) -> Option<Offset> {
    let b = b.strip_prefix(b" ").unwrap_or(b);
    if b == b"Z" {
        return Some(Offset::UTC);
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
    if h >= 24 || m >= 60 {
        return None;
    }
    Offset::from_seconds(sign * (i32::from(h) * 3600 + i32::from(m) * 60)).ok()
}

/// The decimal number of up to four ASCII digits.
fn digits(b: &[u8]) -> Option<i16> {
    b.iter().try_fold(0i16, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i16::from(c - b'0'))
    })
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
    fn formats_agree_with_known_instants_far_apart() {
        for (unix, rfc3339) in [
            (0, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
            (-2_208_988_800, "1900-01-01T00:00:00Z"),
        ] {
            let t = UtcTime::from_unix(unix);
            assert_eq!(t.to_rfc3339(), rfc3339);
            assert_eq!(at(rfc3339), t);
        }
        // Saturated arithmetic formats as the last instant jiff knows (late on 30 December
        // 9999, so that every offset keeps it in year 9999), not as a panic.
        assert_eq!(
            UtcTime::from_unix(i64::MAX).to_rfc3339(),
            "9999-12-30T22:00:00Z"
        );
        assert!(
            UtcTime::from_unix(i64::MIN)
                .to_bank_kyiv()
                .starts_with("-9999-01-")
        );
    }

    #[test]
    fn kyiv_offsets_follow_the_tz_database() {
        // 2026: summer time from Sunday 29 March 01:00 UTC to Sunday 25 October 01:00 UTC.
        assert_eq!(kyiv_offset(at("2026-03-29 00:59:59 +0000")), 7200);
        assert_eq!(kyiv_offset(at("2026-03-29 01:00:00 +0000")), 10800);
        assert_eq!(kyiv_offset(at("2026-10-25 00:59:59 +0000")), 10800);
        assert_eq!(kyiv_offset(at("2026-10-25 01:00:00 +0000")), 7200);
        assert_eq!(
            at("2026-03-29 00:59:59 +0000").to_bank_kyiv(),
            "2026-03-29 02:59:59.000+02:00"
        );
        assert_eq!(
            at("2026-03-29 01:00:00 +0000").to_request_date(),
            "2026-03-29 04:00:00.00+03:00"
        );
        // Before July 1990 Kyiv kept Moscow time: MSD (+04:00) in the summer of 1985, which
        // no rule of today's law would give.
        assert_eq!(kyiv_offset(at("1985-07-01 12:00:00 +0000")), 14400);
        assert_eq!(
            at("1985-07-01 12:00:00 +0000").to_bank_kyiv(),
            "1985-07-01 16:00:00.000+04:00"
        );
    }

    #[test]
    fn kyiv_local_mean_time_is_written_in_whole_minutes() {
        // The fuzzer's find (session_payload): 1026 is in Kyiv's local mean time, +02:02:04.
        let t = at("1026-07-01 15:00:00.000+03:00");
        assert_eq!(kyiv_offset(t), 7324);
        assert_eq!(t.to_bank_kyiv(), "1026-07-01 14:02:00.000+02:02");
        assert_eq!(t.to_request_date(), "1026-07-01 14:02:00.00+02:02");
        for written in [t.to_bank_kyiv(), t.to_request_date()] {
            assert_eq!(at(&written), t, "{written}");
        }
        // The last second of it, and the first of Eastern European Time (2 May 1924).
        let last = at("1924-05-01 21:57:55 +0000");
        assert_eq!(at(&last.to_bank_kyiv()), last);
        assert_eq!(
            at("1924-05-01 22:00:00 +0000").to_bank_kyiv(),
            "1924-05-02 00:00:00.000+02:00"
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
