//! Durations as Prometheus users write them: `500ms`, `5s`, `1m30s`, `2h`, `1d`.

use std::time::Duration;

/// The longest duration taken: Prometheus' own bound (its durations are int64 nanoseconds, about 292 years;
/// `model.ParseDuration` refuses longer). Longer ones overflowed the deadlines made from them (`Instant + d`).
const MAX: Duration = Duration::from_nanos(i64::MAX as u64);

/// Parses a Prometheus-style duration; a bare number is seconds.
///
/// # Errors
/// A text that is not a duration, or one over about 292 years (Prometheus' bound).
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let d = parse_unbounded(text)?;
    if d > MAX {
        return Err(format!(
            "invalid duration {:?}: longer than Prometheus' longest (about 292 years)",
            text.trim()
        ));
    }
    Ok(d)
}

fn parse_unbounded(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".to_owned());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| format!("invalid duration {t:?}"));
    }
    let mut total = 0.0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n]
            .parse()
            .map_err(|_| format!("invalid duration {t:?}"))?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            _ => {
                return Err(format!(
                    "invalid duration {t:?}: units are ms, s, m, h, d, w"
                ))
            }
        };
        total += value * unit;
        rest = &rest[u..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| format!("invalid duration {t:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("2.5"), Ok(Duration::from_millis(2500)));
        // A tester's 1000d is taken (the SQLite wait it bounds is capped where it is set); 99999999999d (273
        // million years) overflowed a deadline.
        assert_eq!(parse("1000d"), Ok(Duration::from_secs(86_400_000)));
        assert_eq!(parse("292y").map_err(|e| e.contains("units")), Err(true));
        assert!(parse("106000d").is_ok());
        for bad in [
            "",
            "5x",
            "s",
            "-1s",
            "1e400",
            "--",
            "99999999999d",
            "107000d",
            "1e12",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
