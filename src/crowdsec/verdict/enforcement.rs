//! `CrowdSecBouncerEnforcesNothing` and `CrowdSecBouncerEnforcesPartially`: a bouncer that is alive (its newest
//! usage report is fresh) but holds none, or far fewer, of the IP decisions its LAPI has. The rule file's
//! expressions, per (lapi, bouncer), with `held` = `sum(active_decisions of the newest report)`:
//! * nothing: `held == 0` and `time() - last usage report <= usage_metrics_freshness` and
//!   `sum by (lapi) (crowdsec_lapi_active_ip_decisions) > 0`;
//! * partially: `held > 0` and fresh, and `held < partial_enforcement_ratio * lapi_held`, where `lapi_held` is the
//!   sum of `crowdsec_lapi_active_ip_decisions` over the origins the newest report names (the origins the bouncer
//!   pulls: one filtered out by its configuration is not counted against it; an origin the LAPI does not hold adds
//!   nothing).
//!
//! The LAPI side counts scope `Ip` and `Range` only: a firewall enforces no `Country` or `AS` decision, so a LAPI
//! holding only those has nothing a firewall must hold.

use std::collections::BTreeSet;

use super::{Alert, Firing, Thresholds};
use crate::crowdsec::active_decisions::ActiveDecisions;
use crate::crowdsec::bouncers::Bouncer;
use crate::crowdsec::usage_reports::UsageTotals;
use crate::values::time::UnixSeconds;

/// What the usage reports say of one bouncer row's enforcement.
#[derive(Debug, Clone, PartialEq)]
pub struct Enforcement<'a> {
    pub bouncer: &'a Bouncer,
    /// Active decisions in its newest report; `None`: it never reported them (nothing is decided).
    pub active_decisions: Option<u64>,
    /// The LAPI's IP decisions of the origins that report names (`None` without the LAPI's count).
    pub lapi_ip_decisions: Option<u64>,
    /// Age of its newest report.
    pub report_age_seconds: Option<f64>,
    /// The alert, when one fires (nothing or partially).
    pub firing: Option<Firing>,
}

/// Judges every row of `lapi` that has usage totals. `lapi_active`: the LAPI's active decisions (`None` when not
/// counted: then no row can be judged).
pub fn judge_enforcement<'a>(
    lapi: &str,
    rows: &'a [Bouncer],
    usage: &UsageTotals,
    lapi_active: Option<&ActiveDecisions>,
    now: UnixSeconds,
    t: &Thresholds,
) -> Vec<Enforcement<'a>> {
    rows.iter()
        .filter_map(|b| {
            let u = usage.bouncers.get(b.name())?;
            let active = u.active_total();
            let age = b.last_usage_metrics.map(|ts| now - ts);
            let fresh = age.is_some_and(|a| a <= t.usage_metrics_freshness.as_secs_f64());
            let origins: BTreeSet<&str> = u
                .active_decisions
                .iter()
                .flat_map(|m| m.keys().map(|(origin, _)| origin.as_str()))
                .collect();
            let lapi_held = lapi_active.map(|d| {
                origins
                    .iter()
                    .map(|o| d.ip_by_origin.get(*o).copied().unwrap_or(0))
                    .sum::<u64>()
            });
            let alert = match active {
                Some(0) if fresh && lapi_active.is_some_and(|d| d.ip_total() > 0) => {
                    Some(Alert::BouncerEnforcesNothing)
                }
                Some(n)
                    if n > 0
                        && fresh
                        && lapi_held.is_some_and(|l| {
                            (n as f64) < t.partial_enforcement_ratio * l as f64
                        }) =>
                {
                    Some(Alert::BouncerEnforcesPartially)
                }
                _ => None,
            };
            Some(Enforcement {
                bouncer: b,
                active_decisions: active,
                lapi_ip_decisions: lapi_held,
                report_age_seconds: age,
                firing: alert.map(|a| Firing::new(a, &[("lapi", lapi), ("bouncer", b.name())])),
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
            auto_created: "",
            last_usage_metrics: Some(NOW - report_ago),
            ..Bouncer::test_row(name, LastPull::At(NOW - 10.0))
        }
        .with_text(|t| {
            t.ip_address = "";
            t.version = "";
        })
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

    fn lapi(ip_by_origin: &[(&str, u64)]) -> ActiveDecisions {
        let mut d = ActiveDecisions::default();
        for (o, n) in ip_by_origin {
            d.add_ip((*o).to_owned(), *n);
        }
        d
    }

    fn usage_by_origin(reports: &[(&str, &[(&str, u64)])]) -> UsageTotals {
        let mut u = UsageTotals::default();
        for (i, (name, items)) in reports.iter().enumerate() {
            let items: Vec<String> = items
                .iter()
                .map(|(o, n)| format!(r#"{{"name":"active_decisions","unit":"ip","value":{n},"labels":{{"origin":"{o}","ip_type":"ipv4"}}}}"#))
                .collect();
            u.add_report(
                i as i64 + 1,
                name,
                Some(
                    format!(
                        r#"{{"metrics":[{{"meta":{{"utc_now_timestamp":{i}}},"items":[{}]}}]}}"#,
                        items.join(",")
                    )
                    .as_bytes(),
                ),
            );
        }
        u
    }

    /// Issue 21 #3: half of the LAPI's IP decisions of the origins the report names, strictly below fires.
    #[test]
    fn partial_enforcement_compares_the_origins_the_bouncer_pulls() {
        let t = Thresholds::default();
        let rows = [
            row("half", 900.0),
            row("under", 900.0),
            row("capi-only", 900.0),
            row("stale", 3601.0),
            row("zero", 900.0),
        ];
        let u = usage_by_origin(&[
            ("half", &[("CAPI", 7000), ("cscli", 500)]),
            ("under", &[("CAPI", 6999), ("cscli", 500)]),
            // Pulls CAPI only (origins filtered in its config): the blocklist is not counted against it.
            ("capi-only", &[("CAPI", 14_000)]),
            ("stale", &[("CAPI", 1)]),
            ("zero", &[("CAPI", 0)]),
        ]);
        let l = lapi(&[
            ("CAPI", 14_000),
            ("cscli", 1000),
            ("lists:firehol_voipbl", 50_000),
        ]);
        let j = judge_enforcement("local", &rows, &u, Some(&l), NOW, &t);
        let partial: Vec<&str> = j
            .iter()
            .filter(|e| {
                e.firing
                    .as_ref()
                    .is_some_and(|f| f.alert == Alert::BouncerEnforcesPartially)
            })
            .map(|e| e.bouncer.name())
            .collect();
        assert_eq!(
            partial,
            ["under"],
            "7500 of 15000 is half, not below; 0 is 'nothing'"
        );
        assert_eq!(
            j.iter()
                .find(|e| e.bouncer.name() == "zero")
                .unwrap()
                .firing
                .as_ref()
                .unwrap()
                .alert,
            Alert::BouncerEnforcesNothing
        );
        assert_eq!(j[0].lapi_ip_decisions, Some(15_000));
        assert_eq!(j[2].lapi_ip_decisions, Some(14_000));
        let strict = Thresholds {
            partial_enforcement_ratio: 1.0,
            ..t
        };
        assert_eq!(
            fired(&judge_enforcement(
                "local",
                &rows,
                &u,
                Some(&l),
                NOW,
                &strict
            )),
            ["half", "under", "zero"]
        );
    }

    fn fired<'a>(e: &'a [Enforcement<'a>]) -> Vec<&'a str> {
        e.iter()
            .filter(|x| x.firing.is_some())
            .map(|x| x.bouncer.name())
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
        let j = judge_enforcement("local", &rows, &u, Some(&lapi(&[("CAPI", 100)])), NOW, &t);
        assert_eq!(fired(&j), ["zero", "edge"], "`<= freshness`, as the rule");
        assert_eq!(
            j.iter()
                .find(|e| e.bouncer.name() == "silent")
                .unwrap()
                .active_decisions,
            None
        );
        assert!(
            fired(&judge_enforcement(
                "local",
                &rows,
                &u,
                Some(&lapi(&[])),
                NOW,
                &t
            ))
            .is_empty(),
            "LAPI has none"
        );
        let mut countries = lapi(&[]);
        countries.add("cscli".into(), 100);
        assert!(
            fired(&judge_enforcement(
                "local",
                &rows,
                &u,
                Some(&countries),
                NOW,
                &t
            ))
            .is_empty(),
            "LAPI has only Country/AS decisions: nothing a firewall holds"
        );
        assert!(
            fired(&judge_enforcement("local", &rows, &u, None, NOW, &t)).is_empty(),
            "LAPI not counted"
        );
    }
}
