//! Timestamps as CrowdSec writes them, and durations as operators read them.
//!
//! CrowdSec's SQLite driver stores `2024-01-02 03:04:05.123456789+00:00` (fraction zeros trimmed, no fraction
//! when zero); cscli and the Service API use RFC 3339, sometimes without an offset (naive = UTC). One small
//! parser covers all of them, so no date crate is needed.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, with the fraction CrowdSec stored (nanosecond digits are kept to f64 precision).
pub(crate) type UnixSeconds = f64;

/// Go's zero `time.Time`, `0001-01-01T00:00:00Z`, as Unix seconds. CrowdSec writes it where a time is unset: old
/// schemas' `until`, rows written by hand or by old tools, `cscli bouncers list -o json` for a NULL column
/// (field case R2-04). It is never a real instant.
pub const GO_ZERO_TIME: UnixSeconds = -62_135_596_800.0;

/// Whether `ts` is Go's zero time, whatever offset it was printed with (a zone shifts it by at most a day).
pub(crate) fn is_go_zero_time(ts: UnixSeconds) -> bool {
    (ts - GO_ZERO_TIME).abs() <= 86_400.0
}

/// Parses `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|z|+HH:MM|-HH:MM|+HHMM|+HH]`; a timestamp without an offset is UTC.
/// Returns `None` for anything else (never panics).
pub fn parse_timestamp(text: &str) -> Option<UnixSeconds> {
    let s = text.trim().as_bytes();
    if s.len() < 19 {
        return None;
    }
    let year = digits(s, 0, 4)?;
    let month = digits(s, 5, 2)?;
    let day = digits(s, 8, 2)?;
    let hour = digits(s, 11, 2)?;
    let minute = digits(s, 14, 2)?;
    let second = digits(s, 17, 2)?;
    if s[4] != b'-'
        || s[7] != b'-'
        || !matches!(s[10], b' ' | b'T' | b't')
        || s[13] != b':'
        || s[16] != b':'
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
    let mut rest = &s[19..];
    let mut fraction = 0.0;
    if let Some((b'.', tail)) = rest.split_first() {
        let n = tail.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // At most 9 digits carry meaning (nanoseconds); more would only be noise.
        let mut scale = 0.1;
        for d in &tail[..n.min(9)] {
            fraction += f64::from(d - b'0') * scale;
            scale /= 10.0;
        }
        rest = &tail[n..];
    }
    let offset_seconds: i64 = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), tz @ ..] => {
            let (h, m) = match tz {
                [_, _] => (digits(tz, 0, 2)?, 0),
                [_, _, b':', _, _] => (digits(tz, 0, 2)?, digits(tz, 3, 2)?),
                [_, _, _, _] => (digits(tz, 0, 2)?, digits(tz, 2, 2)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = i64::from(h) * 3600 + i64::from(m) * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second.min(59))
            - offset_seconds;
    Some(secs as f64 + fraction)
}

fn digits(s: &[u8], at: usize, len: usize) -> Option<u32> {
    let part = s.get(at..at + len)?;
    part.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// RFC 3339 in UTC with whole seconds, e.g. `2024-01-02T03:04:05Z` (for diagnose output and logs).
pub fn format_rfc3339(ts: UnixSeconds) -> String {
    let secs = ts.floor() as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Now, as Unix seconds.
pub fn now() -> UnixSeconds {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A duration in the two largest units an operator cares about: `3d 4h`, `25h 3m` is `1d 1h`, `42s`.
pub(crate) fn human_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "unknown".to_owned();
    }
    let s = seconds.max(0.0).round() as u64;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_crowdsec_sqlite_text() {
        // 2024-01-02T03:04:05Z = 1704164645
        assert_eq!(
            parse_timestamp("2024-01-02 03:04:05+00:00"),
            Some(1_704_164_645.0)
        );
        let v = parse_timestamp("2024-01-02 03:04:05.123456789+00:00").unwrap();
        assert!((v - 1_704_164_645.123_457).abs() < 1e-6);
        let v = parse_timestamp("2024-01-02 03:04:05.5+00:00").unwrap();
        assert!((v - 1_704_164_645.5).abs() < 1e-9);
    }

    #[test]
    fn parses_rfc3339_and_naive_and_offsets() {
        assert_eq!(
            parse_timestamp("2024-01-02T03:04:05Z"),
            Some(1_704_164_645.0)
        );
        assert_eq!(
            parse_timestamp("2024-01-02T03:04:05"),
            Some(1_704_164_645.0)
        );
        assert_eq!(
            parse_timestamp("2024-01-02T05:04:05+02:00"),
            Some(1_704_164_645.0)
        );
        assert_eq!(
            parse_timestamp("2024-01-02T01:04:05-0200"),
            Some(1_704_164_645.0)
        );
        assert_eq!(
            parse_timestamp("2024-01-02T05:04:05+02"),
            Some(1_704_164_645.0)
        );
        let v = parse_timestamp("2024-06-07T14:00:31.645929Z").unwrap();
        assert!((v - 1_717_768_831.645_929).abs() < 1e-6);
        assert_eq!(parse_timestamp("1970-01-01 00:00:00+00:00"), Some(0.0));
        assert_eq!(parse_timestamp("2000-02-29 00:00:00Z"), Some(951_782_400.0));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            "",
            "2024",
            "2024-13-01 00:00:00",
            "2023-02-29 00:00:00",
            "2024-01-02 24:00:00",
            "2024-01-02X03:04:05",
            "2024-01-02 03:04:05.",
            "2024-01-02 03:04:05+0",
            "2024-01-02 03:04:05 UTC",
            "2024-01-02 03:04:05+25:00",
            "２０２４-01-02 03:04:05",
            "2024-01-02 03:04:05.123abc",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn go_zero_time_is_recognised_in_every_spelling() {
        for text in [
            "0001-01-01 00:00:00+00:00",
            "0001-01-01T00:00:00Z",
            "0001-01-01 00:00:00",
            "0001-01-01T01:00:00+01:00",
        ] {
            let ts = parse_timestamp(text).unwrap();
            assert_eq!(ts, GO_ZERO_TIME, "{text}");
            assert!(is_go_zero_time(ts), "{text}");
        }
        assert!(is_go_zero_time(
            parse_timestamp("0001-01-01T00:00:00+14:00").unwrap()
        ));
        assert!(!is_go_zero_time(0.0));
        assert!(!is_go_zero_time(
            parse_timestamp("2026-07-25T12:00:00Z").unwrap()
        ));
    }

    #[test]
    fn formats_round_trip() {
        for ts in [0.0, 951_782_400.0, 1_704_164_645.0, 4_102_444_800.0] {
            assert_eq!(parse_timestamp(&format_rfc3339(ts)), Some(ts));
        }
        assert_eq!(format_rfc3339(1_704_164_645.9), "2024-01-02T03:04:05Z");
    }

    #[test]
    fn human_units() {
        assert_eq!(human_duration(42.0), "42s");
        assert_eq!(human_duration(125.0), "2m 5s");
        assert_eq!(human_duration(3.0 * 3600.0 + 60.0), "3h 1m");
        assert_eq!(human_duration(90_000.0), "1d 1h");
        assert_eq!(human_duration(-5.0), "0s");
        assert_eq!(human_duration(f64::NAN), "unknown");
    }
}
