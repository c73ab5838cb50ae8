//! RFC 3339 timestamps for call logs: formatting a wall-clock time as the one
//! canonical form we store (`2026-11-22T10:00:00.123Z`: UTC, millisecond
//! precision), and parsing any RFC 3339 date-time (query bounds from the API)
//! into milliseconds since the Unix epoch.
//!
//! Hand-written (proleptic Gregorian calendar, Howard Hinnant's `days_from_civil`
//! / `civil_from_days`) rather than the `time` crate: we need one output format
//! and one input grammar, about 100 lines checked by property tests, and the
//! current `time` release needs a newer rustc than our MSRV. Depends on nothing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds per day.
const DAY_MS: i64 = 86_400_000;

/// The current wall-clock time as canonical RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    to_rfc3339(SystemTime::now())
}

/// `t` as canonical RFC 3339 UTC with milliseconds (sub-millisecond truncated),
/// e.g. `"2026-11-22T10:00:00.123Z"`.
pub fn to_rfc3339(t: SystemTime) -> String {
    format_ms(system_time_ms(t))
}

/// `t` as milliseconds since the Unix epoch (negative before 1970).
pub fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => {
            // Before the epoch: round toward negative infinity.
            let d: Duration = e.duration();
            let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            if d.subsec_nanos().is_multiple_of(1_000_000) {
                -ms
            } else {
                -ms - 1
            }
        }
    }
}

/// Milliseconds since the Unix epoch as canonical RFC 3339 UTC.
pub fn format_ms(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let rem = ms.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let (h, rem) = (rem / 3_600_000, rem % 3_600_000);
    let (min, rem) = (rem / 60_000, rem % 60_000);
    let (s, milli) = (rem / 1000, rem % 1000);
    if !(0..=9999).contains(&y) {
        return format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z");
    }
    // Written digit by digit: this runs a few times per call (call log, live
    // calls), where `format!` cost ~5k instructions a timestamp.
    let fields = [
        (y, 4, b'-'),
        (m, 2, b'-'),
        (d, 2, b'T'),
        (h, 2, b':'),
        (min, 2, b':'),
        (s, 2, b'.'),
        (milli, 3, b'Z'),
    ];
    let mut out = [0u8; 24];
    let mut at = 0;
    for (v, len, sep) in fields {
        if let Some(digits) = out.get_mut(at..at + len) {
            put_digits(digits, v);
        }
        if let Some(b) = out.get_mut(at + len) {
            *b = sep;
        }
        at += len + 1;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// `v` (0 <= v < 10^len) as `len` zero-padded decimal digits.
fn put_digits(out: &mut [u8], mut v: i64) {
    for b in out.iter_mut().rev() {
        // `v % 10` is 0..=9 here.
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Parses an RFC 3339 §5.6 `date-time` into milliseconds since the Unix epoch.
///
/// Accepts `T`/`t` (or a space, per the §5.6 NOTE) between date and time, an
/// optional fraction (digits past milliseconds are truncated), and `Z`/`z` or a
/// numeric `±hh:mm` offset. A leap second (`:60`) counts as the next second.
/// Returns `None` for anything else, including impossible dates (Feb 30).
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut milli = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                milli = milli * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..3 {
            milli *= 10;
        }
    }
    let offset_min = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let oh = digits(b, i + 1, 2)?;
            let om = digits(b, i + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 60 + om;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    Some(secs * 1000 + milli)
}

/// `n` ASCII digits of `b` starting at `at`, as a number.
fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let part = b.get(at..at + n)?;
    part.iter().try_fold(0i64, |acc, c| {
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

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d` (Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Hinnant).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-11-22T10:00:00.123Z (`date -u -d 2026-11-22T10:00:00Z +%s` = 1795341600).
    const SAMPLE_MS: i64 = 1_795_341_600_123;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(SAMPLE_MS), "2026-11-22T10:00:00.123Z");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_ms(-1), "1969-12-31T23:59:59.999Z");
        let t = UNIX_EPOCH + Duration::from_nanos(1_795_341_600_123_999_999);
        assert_eq!(to_rfc3339(t), "2026-11-22T10:00:00.123Z");
        let before = UNIX_EPOCH - Duration::from_micros(1500);
        assert_eq!(to_rfc3339(before), "1969-12-31T23:59:59.998Z");
    }

    #[test]
    fn now_is_canonical_and_recent() {
        let s = now_rfc3339();
        assert_eq!(s.len(), 24);
        assert!(s.ends_with('Z'));
        let ms = parse_rfc3339_ms(&s).unwrap();
        // After 2026-01-01 (the clock on any machine running this code).
        assert!(ms > 1_767_225_600_000, "{s}");
    }

    #[test]
    fn parses_offsets_fractions_and_separators() {
        let cases = [
            ("2026-11-22T10:00:00.123Z", SAMPLE_MS),
            ("2026-11-22t10:00:00.123z", SAMPLE_MS),
            ("2026-11-22 10:00:00.123Z", SAMPLE_MS),
            ("2026-11-22T10:00:00Z", SAMPLE_MS - 123),
            ("2026-11-22T10:00:00.1Z", SAMPLE_MS - 23),
            ("2026-11-22T10:00:00.123999999Z", SAMPLE_MS),
            ("2026-11-22T12:00:00.123+02:00", SAMPLE_MS),
            ("2026-11-22T04:30:00.123-05:30", SAMPLE_MS),
            ("2026-11-22T09:59:60Z", SAMPLE_MS - 123),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
        ];
        for (s, want) in cases {
            assert_eq!(parse_rfc3339_ms(s), Some(want), "{s}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "2026-11-22",
            "2026-11-22T10:00:00",
            "2026-11-22T10:00:00.Z",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-22T24:00:00Z",
            "2026-11-22T10:60:00Z",
            "2026-11-22T10:00:61Z",
            "2026-11-22T10:00:00+2:00",
            "2026-11-22T10:00:00+24:00",
            "2026-11-22T10:00:00+02:60",
            "2026-11-22T10:00:00Zjunk",
            "2026/11/22T10:00:00Z",
            "+026-11-22T10:00:00Z",
            "2026-11-22X10:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_ms(s), None, "{s}");
        }
    }

    proptest! {
        /// Every instant from year 0 to 9999 formats and parses back exactly.
        #[test]
        fn format_parse_round_trip(ms in -62_167_219_200_000i64..253_402_300_800_000) {
            let s = format_ms(ms);
            prop_assert_eq!(s.len(), 24);
            prop_assert_eq!(parse_rfc3339_ms(&s), Some(ms));
        }

        /// Days and dates are a bijection (checked through the civil date).
        #[test]
        fn civil_round_trip(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m));
            prop_assert!(d >= 1 && d <= days_in_month(y, m));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        /// Arbitrary input never panics.
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = parse_rfc3339_ms(&s);
        }
    }
}
