//! The judgements themselves: one LAPI's rows (with their bases and roles) and one integration, against the
//! [`Thresholds`]. The rules are written in the parent module's documentation.

use std::collections::BTreeMap;

use super::*;

const FIREWALL_BOUNCER: &str = "crowdsec-firewall-bouncer";
pub(super) const FIREWALL_INTEGRATION: &str = "firewall_integration";
pub(super) const RC_INTEGRATION: &str = "remediation_component_integration";

/// Judges one LAPI's registered bouncers at `now`.
pub(crate) fn judge_lapi<'a>(
    lapi: &'a str,
    bouncers: &'a [Bouncer],
    now: UnixSeconds,
    t: &Thresholds,
) -> LapiJudgement<'a> {
    let mut groups: BTreeMap<&str, Vec<&Bouncer>> = BTreeMap::new();
    for b in bouncers {
        groups.entry(b.base_name()).or_default().push(b);
    }
    let bases: Vec<BaseJudgement<'a>> = groups
        .into_iter()
        .map(|(base, rows)| judge_base(lapi, base, &rows, now, t))
        .collect();
    let min_age_seconds = bouncers
        .iter()
        .filter_map(|b| b.age_seconds(now))
        .min_by(f64::total_cmp);
    let any_usage_fresh = bases
        .iter()
        .any(|b| usage_fresh(b.usage_metrics_age_seconds, t));
    let (verdict, alert) = if bouncers.is_empty() {
        (LapiVerdict::NoBouncer, Some(Alert::SecurityEngineNoBouncer))
    } else if min_age_seconds.is_some_and(|a| a > secs(t.bouncer_offline)) && !any_usage_fresh {
        (
            LapiVerdict::NoActiveBouncer,
            Some(Alert::SecurityEngineNoActiveBouncer),
        )
    } else {
        (LapiVerdict::Ok, None)
    };
    LapiJudgement {
        verdict,
        severity: alert.map_or(Severity::None, Alert::severity),
        alert,
        min_age_seconds,
        any_pulled: bouncers
            .iter()
            .any(|b| matches!(b.last_pull, LastPull::At(_))),
        bases,
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn usage_fresh(age: Option<f64>, t: &Thresholds) -> bool {
    // The rules compute `time() - timestamp` without clamping: a push "in the future" counts as fresh.
    age.is_some_and(|a| a <= secs(t.usage_metrics_freshness))
}

fn judge_base<'a>(
    lapi: &'a str,
    base: &'a str,
    rows: &[&'a Bouncer],
    now: UnixSeconds,
    t: &Thresholds,
) -> BaseJudgement<'a> {
    let pull_age_seconds = rows
        .iter()
        .filter(|b| matches!(b.last_pull, LastPull::At(_)))
        .filter_map(|b| b.age_seconds(now))
        .min_by(f64::total_cmp);
    let usage_metrics_age_seconds = rows
        .iter()
        .filter_map(|b| b.last_usage_metrics.map(|ts| now - ts))
        .min_by(f64::total_cmp);
    let fresh = usage_fresh(usage_metrics_age_seconds, t);
    let firewall = rows.iter().any(|b| b.bouncer_type == FIREWALL_BOUNCER);
    let base_labels = [("lapi", lapi), ("bouncer_base", base)];

    let mut firing = Vec::new();
    let mut judged: Vec<RowJudgement<'a>> = Vec::with_capacity(rows.len());
    let verdict = match pull_age_seconds {
        Some(age) => {
            let late = age > secs(t.early_warning) && !fresh;
            let offline = age > secs(t.bouncer_offline) && !fresh;
            if offline {
                firing.push(Firing::new(
                    if firewall {
                        Alert::FirewallBouncerOffline
                    } else {
                        Alert::BouncerOffline
                    },
                    &base_labels,
                ));
            }
            if late {
                // Keeps firing past the offline threshold; Alertmanager inhibits it then.
                firing.push(Firing::new(Alert::BouncerPullOverdue, &base_labels));
            }
            if offline {
                BaseVerdict::Offline
            } else if late {
                BaseVerdict::Late
            } else if age > secs(t.early_warning) {
                BaseVerdict::AliveByUsageMetrics
            } else {
                BaseVerdict::Ok
            }
        }
        None if fresh => BaseVerdict::AliveByUsageMetrics,
        None => {
            let mut known = false;
            let mut past = false;
            for b in rows
                .iter()
                .filter(|b| matches!(b.last_pull, LastPull::Never))
            {
                if let Some(age) = b.age_seconds(now) {
                    known = true;
                    past |= age > secs(t.never_pulled_grace);
                }
            }
            match (
                rows.iter().any(|b| b.last_pull == LastPull::Never),
                past,
                known,
            ) {
                (false, _, _) => BaseVerdict::Unknown,
                (true, true, _) => BaseVerdict::NeverPulled,
                (true, false, true) => BaseVerdict::NeverPulledInGrace,
                (true, false, false) => BaseVerdict::NeverPulledAgeUnknown,
            }
        }
    };
    for b in rows {
        let age = b.age_seconds(now);
        let row_fresh = usage_fresh(b.last_usage_metrics.map(|ts| now - ts), t);
        let (role, alert) = match b.last_pull {
            LastPull::Unreadable => (Role::Unreadable, None),
            LastPull::Never => {
                let alert = (pull_age_seconds.is_none()
                    && !fresh
                    && age.is_some_and(|a| a > secs(t.never_pulled_grace)))
                .then_some(Alert::BouncerNeverPulled);
                (Role::NeverPulled, alert)
            }
            LastPull::At(_) => {
                let superseded = match (age, pull_age_seconds) {
                    (Some(a), Some(freshest)) => {
                        a > secs(t.early_warning) && a > freshest && !row_fresh
                    }
                    _ => false,
                };
                (
                    if superseded {
                        Role::Superseded
                    } else {
                        Role::Current
                    },
                    None,
                )
            }
        };
        if let Some(a) = alert {
            firing.push(Firing::new(
                a,
                &[("lapi", lapi), ("bouncer", &b.name), ("bouncer_base", base)],
            ));
        }
        judged.push(RowJudgement {
            bouncer: b,
            role,
            age_seconds: age,
            alert,
        });
    }
    firing.sort();
    let alert = firing
        .iter()
        .map(|f| f.alert)
        .max_by_key(|a| (a.severity(), std::cmp::Reverse(*a)));
    BaseJudgement {
        lapi,
        base,
        verdict,
        severity: alert.map_or(Severity::None, Alert::severity),
        alert,
        firing,
        pull_age_seconds,
        usage_metrics_age_seconds,
        rows: judged,
    }
}

/// Judges one Blocklist integration at `now`.
pub(crate) fn judge_integration<'a>(
    i: &'a Integration,
    now: UnixSeconds,
    t: &Thresholds,
) -> IntegrationJudgement<'a> {
    let age = i.age_seconds(now);
    let id = [
        ("integration_id", i.id.as_str()),
        ("integration", i.name.as_str()),
    ];
    let mut firing = Vec::new();
    let mut verdict = match i.last_pull {
        LastPull::Unreadable => IntegrationVerdict::Unknown,
        LastPull::At(_) if age.is_some_and(|a| a > secs(t.integration_offline())) => {
            let alert = match i.entity_type.as_str() {
                FIREWALL_INTEGRATION => Some(Alert::FirewallIntegrationOffline),
                RC_INTEGRATION => Some(Alert::RemediationComponentIntegrationOffline),
                // No rule covers an entity type CrowdSec does not document.
                _ => None,
            };
            if let Some(a) = alert {
                firing.push(Firing::new(
                    a,
                    &[id[0], id[1], ("output_format", i.output_format.as_str())],
                ));
            }
            IntegrationVerdict::Offline
        }
        LastPull::At(_) => IntegrationVerdict::Ok,
        LastPull::Never => match age {
            Some(a) if a > secs(t.never_pulled_grace) => {
                firing.push(Firing::new(
                    Alert::IntegrationNeverPulled,
                    &[
                        id[0],
                        id[1],
                        ("entity_type", i.entity_type.as_str()),
                        ("output_format", i.output_format.as_str()),
                    ],
                ));
                IntegrationVerdict::NeverPulled
            }
            Some(_) => IntegrationVerdict::NeverPulledInGrace,
            None => IntegrationVerdict::NeverPulledAgeUnknown,
        },
    };
    let pulled = matches!(i.last_pull, LastPull::At(_));
    if pulled && i.blocklist_items == Some(0.0) && i.entity_type == FIREWALL_INTEGRATION {
        firing.push(Firing::new(Alert::FirewallIntegrationPullingZeroIps, &id));
        if verdict == IntegrationVerdict::Ok {
            verdict = IntegrationVerdict::PullingZeroIps;
        }
    }
    if age.is_some() && i.blocklists == Some(0) {
        firing.push(Firing::new(Alert::IntegrationNoBlocklist, &id));
        if matches!(
            verdict,
            IntegrationVerdict::Ok | IntegrationVerdict::NeverPulledInGrace
        ) {
            verdict = IntegrationVerdict::NoBlocklist;
        }
    }
    firing.sort();
    let alert = firing
        .iter()
        .map(|f| f.alert)
        .max_by_key(|a| (a.severity(), std::cmp::Reverse(*a)));
    IntegrationJudgement {
        integration: i,
        verdict,
        severity: alert.map_or(Severity::None, Alert::severity),
        alert,
        firing,
        age_seconds: age,
    }
}
