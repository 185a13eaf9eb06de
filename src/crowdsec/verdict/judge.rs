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

/// The address family of a row's `ip_address`: `Some(true)` IPv6, `Some(false)` IPv4, `None` unknown (empty).
/// The rule file tells them apart the same way: an address with a `:` is IPv6.
fn ipv6(b: &Bouncer) -> Option<bool> {
    (!b.ip_address().is_empty()).then(|| b.ip_address().contains(':'))
}

/// Whether a row that pulled is no device of its own: its base has another row that pulled and
/// * was created after this row's last pull: the key showed up from a new IP and LAPI (>= 1.6.4) created
///   `<base>@<ip>` for it (crowdsecurity/crowdsec `pkg/apiserver/middlewares/v1/api_key.go`, `authPlain`, tag
///   v1.7.8: a key whose (key, IP) pair has no row gets `CreateBouncer(base@ip, ..., autoCreated=true)`), so
///   this row's device moved there (an IP change). Rows whose successor was created before their last pull
///   pulled side by side: two devices sharing a key, each judged on its own.
/// * has an address of the other family (IPv4 / IPv6) and pulled after it: a dual-stack host that alternates
///   between its two addresses, which LAPI keeps as two rows (`SelectBouncerWithIP` finds the old row again when
///   the host flips back), is one device; its stale address's row would otherwise page.
///
/// Unknown registration times (CrowdSec < 1.6 rewrites `created_at`) supersede nothing.
fn replaced(b: &Bouncer, rows: &[&Bouncer]) -> bool {
    let Some(ts) = b.last_pull_timestamp() else {
        return false;
    };
    rows.iter().any(|s| {
        let Some(sts) = s.last_pull_timestamp() else {
            return false;
        };
        let successor = s.registered_at.is_some_and(|c| c > ts);
        let other_family = matches!((ipv6(b), ipv6(s)), (Some(x), Some(y)) if x != y) && sts > ts;
        successor || other_family
    })
}

fn judge_base<'a>(
    lapi: &'a str,
    base: &'a str,
    rows: &[&'a Bouncer],
    now: UnixSeconds,
    t: &Thresholds,
) -> BaseJudgement<'a> {
    let usage_metrics_age_seconds = rows
        .iter()
        .filter_map(|b| b.last_usage_metrics.map(|ts| now - ts))
        .min_by(f64::total_cmp);
    let fresh = usage_fresh(usage_metrics_age_seconds, t);
    let row_fresh = |b: &Bouncer| usage_fresh(b.last_usage_metrics.map(|ts| now - ts), t);
    // The devices: rows that pulled and are not replaced by another row (see `replaced`).
    let devices: Vec<(&Bouncer, f64)> = rows
        .iter()
        .filter(|b| matches!(b.last_pull, LastPull::At(_)) && !replaced(b, rows))
        .filter_map(|b| b.age_seconds(now).map(|a| (*b, a)))
        .collect();
    // The base's judged age: its stalest device without fresh usage metrics (the rules'
    // lapi_bouncer_base:crowdsec_bouncer_device_last_pull_age_seconds:max), else its freshest pull.
    let judged_age = devices
        .iter()
        .filter(|(b, _)| !row_fresh(b))
        .map(|(_, a)| *a)
        .max_by(f64::total_cmp);
    let alive_by_usage = devices
        .iter()
        .any(|(b, a)| row_fresh(b) && *a > secs(t.early_warning));
    let pull_age_seconds = judged_age.or_else(|| {
        rows.iter()
            .filter(|b| matches!(b.last_pull, LastPull::At(_)))
            .filter_map(|b| b.age_seconds(now))
            .min_by(f64::total_cmp)
    });
    let firewall = rows.iter().any(|b| b.bouncer_type() == FIREWALL_BOUNCER);
    let base_labels = [("lapi", lapi), ("bouncer_base", base)];

    let mut firing = Vec::new();
    let verdict = match (pull_age_seconds, judged_age) {
        (Some(_), Some(age)) => {
            let late = age > secs(t.early_warning);
            let offline = age > secs(t.bouncer_offline);
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
            } else if alive_by_usage {
                BaseVerdict::AliveByUsageMetrics
            } else {
                BaseVerdict::Ok
            }
        }
        // Every device sends fresh usage metrics.
        (Some(_), None) if alive_by_usage => BaseVerdict::AliveByUsageMetrics,
        (Some(_), None) => BaseVerdict::Ok,
        (None, _) if fresh => BaseVerdict::AliveByUsageMetrics,
        (None, _) => never_pulled_verdict(rows, now, t),
    };
    let judged = judge_rows(
        lapi,
        base,
        rows,
        pull_age_seconds.is_none() && !fresh,
        now,
        t,
        &mut firing,
    );
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

/// A base no row of which pulled: never pulled (past its grace, in it, or of unknown age), or unknown (unreadable
/// rows only).
fn never_pulled_verdict(rows: &[&Bouncer], now: UnixSeconds, t: &Thresholds) -> BaseVerdict {
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

/// Each row's role, and CrowdSecBouncerNeverPulled for a never-pulled row past its grace when its base is `unheard`
/// (no row pulled, no fresh usage metrics); the row alerts go to `firing`.
fn judge_rows<'a>(
    lapi: &'a str,
    base: &'a str,
    rows: &[&'a Bouncer],
    unheard: bool,
    now: UnixSeconds,
    t: &Thresholds,
    firing: &mut Vec<Firing>,
) -> Vec<RowJudgement<'a>> {
    let mut judged: Vec<RowJudgement<'a>> = Vec::with_capacity(rows.len());
    for b in rows {
        let age = b.age_seconds(now);
        let (role, alert) = match b.last_pull {
            LastPull::Unreadable => (Role::Unreadable, None),
            LastPull::Never => {
                let alert = (unheard && age.is_some_and(|a| a > secs(t.never_pulled_grace)))
                    .then_some(Alert::BouncerNeverPulled);
                (Role::NeverPulled, alert)
            }
            LastPull::At(_) => (
                if replaced(b, rows) {
                    Role::Superseded
                } else {
                    Role::Current
                },
                None,
            ),
        };
        if let Some(a) = alert {
            firing.push(Firing::new(
                a,
                &[
                    ("lapi", lapi),
                    ("bouncer", b.name()),
                    ("bouncer_base", base),
                ],
            ));
        }
        judged.push(RowJudgement {
            bouncer: b,
            role,
            age_seconds: age,
            alert,
        });
    }
    judged
}

/// Judges one Blocklist integration at `now`.
pub(crate) fn judge_integration<'a>(
    i: &'a Integration,
    now: UnixSeconds,
    t: &Thresholds,
    tier: Tier,
) -> IntegrationJudgement<'a> {
    let age = i.age_seconds(now);
    let id = [
        ("integration_id", i.id.as_str()),
        ("integration", i.name.as_str()),
    ];
    let mut firing = Vec::new();
    let mut verdict = match i.last_pull {
        LastPull::Unreadable => IntegrationVerdict::Unknown,
        LastPull::At(_) if age.is_some_and(|a| a > secs(t.integration_offline_for(tier))) => {
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
