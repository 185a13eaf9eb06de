//! `CrowdSecBouncerEnforcesNothing`: a bouncer that is alive (its newest usage report is fresh) but reports 0
//! active decisions while its LAPI has some. The rule file's expression, per (lapi, bouncer):
//! `sum(active_decisions of the newest report) == 0` and `time() - last usage report <= usage_metrics_freshness`
//! and `sum by (lapi) (crowdsec_lapi_active_decisions) > 0`.

use super::{Alert, Firing, Thresholds};
use crate::crowdsec::bouncers::Bouncer;
use crate::crowdsec::usage_reports::UsageTotals;
use crate::values::time::UnixSeconds;

/// What the usage reports say of one bouncer row's enforcement.
#[derive(Debug, Clone, PartialEq)]
pub struct Enforcement<'a> {
    pub bouncer: &'a Bouncer,
    /// Active decisions in its newest report; `None`: it never reported them (nothing is decided).
    pub active_decisions: Option<u64>,
    /// Age of its newest report.
    pub report_age_seconds: Option<f64>,
    /// The alert, when it fires.
    pub firing: Option<Firing>,
}

/// Judges every row of `lapi` that has usage totals. `lapi_active`: the LAPI's active decisions (`None` when not
/// counted: then no row can be judged to enforce nothing).
pub fn judge_enforcement<'a>(
    lapi: &str,
    rows: &'a [Bouncer],
    usage: &UsageTotals,
    lapi_active: Option<u64>,
    now: UnixSeconds,
    t: &Thresholds,
) -> Vec<Enforcement<'a>> {
    rows.iter()
        .filter_map(|b| {
            let u = usage.bouncers.get(&b.name)?;
            let active = u.active_total();
            let age = b.last_usage_metrics.map(|ts| now - ts);
            let fresh = age.is_some_and(|a| a <= t.usage_metrics_freshness.as_secs_f64());
            let fires = active == Some(0) && fresh && lapi_active.is_some_and(|n| n > 0);
            Some(Enforcement {
                bouncer: b,
                active_decisions: active,
                report_age_seconds: age,
                firing: fires.then(|| {
                    Firing::new(
                        Alert::BouncerEnforcesNothing,
                        &[("lapi", lapi), ("bouncer", b.name.as_str())],
                    )
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crowdsec::bouncers::LastPull;

    const NOW: f64 = 1_784_980_800.0;

    fn row(name: &str, report_ago: f64) -> Bouncer {
        Bouncer {
            ip_address: String::new(),
            version: String::new(),
            auto_created: String::new(),
            last_usage_metrics: Some(NOW - report_ago),
            ..Bouncer::test_row(name, LastPull::At(NOW - 10.0))
        }
    }

    fn usage(reports: &[(&str, &str)]) -> UsageTotals {
        let mut u = UsageTotals::default();
        for (i, (name, active)) in reports.iter().enumerate() {
            let items = if active.is_empty() {
                r#"{"name":"processed","unit":"byte","value":1}"#.to_owned()
            } else {
                format!(r#"{{"name":"active_decisions","unit":"ip","value":{active}}}"#)
            };
            u.add_report(
                i as i64 + 1,
                name,
                Some(format!(r#"{{"metrics":[{{"meta":{{"utc_now_timestamp":{i}}},"items":[{items}]}}]}}"#).as_bytes()),
            );
        }
        u
    }

    fn fired<'a>(e: &'a [Enforcement<'a>]) -> Vec<&'a str> {
        e.iter()
            .filter(|x| x.firing.is_some())
            .map(|x| x.bouncer.name.as_str())
            .collect()
    }

    #[test]
    fn fires_only_with_fresh_evidence_on_both_sides() {
        let t = Thresholds::default();
        let rows = [
            row("zero", 900.0),
            row("some", 900.0),
            row("stale", 3601.0),
            row("edge", 3600.0),
            row("silent", 900.0),
        ];
        // "silent" never reported active_decisions: no evidence, no verdict.
        let u = usage(&[
            ("zero", "5"),
            ("zero", ""),
            ("some", "12"),
            ("stale", "5"),
            ("stale", ""),
            ("edge", "0"),
            ("silent", ""),
        ]);
        let j = judge_enforcement("local", &rows, &u, Some(100), NOW, &t);
        assert_eq!(fired(&j), ["zero", "edge"], "`<= freshness`, as the rule");
        assert_eq!(
            j.iter()
                .find(|e| e.bouncer.name == "silent")
                .unwrap()
                .active_decisions,
            None
        );
        assert!(
            fired(&judge_enforcement("local", &rows, &u, Some(0), NOW, &t)).is_empty(),
            "LAPI has none"
        );
        assert!(
            fired(&judge_enforcement("local", &rows, &u, None, NOW, &t)).is_empty(),
            "LAPI not counted"
        );
    }
}
