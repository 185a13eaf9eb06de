//! The one judgement of a bouncer, a LAPI and a Blocklist integration: "ok", "late", "offline", "never pulled" (in
//! grace or past it), "alive by usage metrics", "superseded registration", "no active bouncer", "pulling zero IPs".
//!
//! This module is the Rust twin of the alert rules in `alerts/crowdsec-bouncers.rules.yml`: for the same rows, the
//! same thresholds and the same `now`, it names exactly the alerts those rules fire (ignoring their `for:`
//! durations) and the severity they carry. `diagnose` prints it, the dashboards' state column computes it in PromQL,
//! and `tests/it/differential.rs` replays a scenario catalogue through both this module and the real promtool with the
//! shipped rules, and fails on any difference. Change a rule and this module together.
//!
//! The rules it mirrors, all ages in seconds and every comparison as in the rule file:
//! * Rows are grouped per (LAPI, [`Bouncer::base_name`]). A row that pulled is a device of its own unless another
//!   row of its base that pulled was created after its last pull (an IP change: LAPI >= 1.6.4 created
//!   `<base>@<ip>` for the new address) or has an address of the other family and pulled after it (a dual-stack
//!   host flipping between IPv4 and IPv6): then it is a superseded registration (info, no alert). Rows that
//!   pulled side by side (one key on two hosts) are separate devices.
//! * A base's judged age is the age of its stalest device that sends no fresh usage metrics (a device whose own
//!   rows pushed usage metrics at most `usage_metrics_freshness` ago is alive by usage metrics: a live-mode
//!   bouncer on a quiet site). `age > bouncer_offline` is offline (critical), `age > early_warning` is late
//!   (warning).
//! * A base that never pulled: each row registered more than `never_pulled_grace` ago is past grace (warning, one
//!   alert per row), unless the usage metrics are fresh. Where the registration time is unknown (CrowdSec 1.4
//!   rewrites `created_at`), no age is exported and no alert can fire: the verdict says so.
//! * A LAPI is without an active bouncer when every row's age (pull, or registration for a never-pulled row) is over
//!   `bouncer_offline` and no base sends fresh usage metrics; without bouncer when no row is registered.
//! * A bouncer row enforces nothing when its newest usage report (pushed at most `usage_metrics_freshness` ago, so
//!   it is alive) shows 0 active decisions while its LAPI has active decisions (the LAPI-side twin of the
//!   Console's "Firewall Integration Pulling Zero IPs"; see [`judge_enforcement`]). Without a report that ever
//!   had `active_decisions`, or without the LAPI's count, nothing is decided. The LAPI's count is of its IP
//!   decisions (scope `Ip`/`Range`, distinct values per origin): a firewall enforces no `Country` or `AS` decision.
//! * A bouncer row enforces partially when its newest usage report is fresh, counts some active decisions, but
//!   fewer than `partial_enforcement_ratio` times the LAPI's IP decisions of the origins that report names (see
//!   [`judge_enforcement`]; warning).
//! * A LAPI bans itself when an active, non-simulated ban covers loopback, its host, a registered bouncer's or
//!   machine's address (the Console's "Security Engine Self-Report"; critical, one alert per target, origin and
//!   scenario, [`judge_self_bans`]); a bouncer row whose address is banned has that as its first cause when it is
//!   offline or never pulled ([`self_ban_cause`]).
//! * An integration that pulled is offline after `integration_offline`; one that never pulled is past grace
//!   `never_pulled_grace` after its creation; a firewall integration that pulled with `stats.count == 0` pulls zero
//!   IPs; one with no blocklist serves nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::crowdsec::blocklist_integration::Integration;
use crate::crowdsec::bouncers::{Bouncer, LastPull};
use crate::values::time::UnixSeconds;

/// `crowdsec:bouncer_offline_threshold_seconds` in the rule file: the Console's "offline" after 24 h.
pub(crate) const BOUNCER_OFFLINE_THRESHOLD: Duration = Duration::from_secs(86_400);
/// `crowdsec:early_warning_threshold_seconds`: late after 1 h.
pub(crate) const EARLY_WARNING_THRESHOLD: Duration = Duration::from_secs(3600);
/// `crowdsec:never_pulled_grace_seconds`: a registration may stay unused for 24 h.
pub(crate) const NEVER_PULLED_GRACE: Duration = Duration::from_secs(86_400);
/// Added to the integration threshold for a Community-tier organisation, whose devices may pull at most once per
/// 24 h (crowdsec-docs `u/integrations/intro`, "Refresh frequency": Community, minimum allowed interval 24 hours,
/// HTTP 429 when pulled sooner): a device set to that minimum shows an age of 24 h plus its own scheduling delay
/// before each pull, so the plain 24 h threshold fires on one a few minutes late. 6 h (a quarter of the interval)
/// absorbs a late cron run, a reboot, or a pull refused with 429 for coming minutes early and retried on the next
/// hourly run, while a device that missed a whole day (48 h) still fires, a day earlier than the next pull would
/// show. The rule file's `crowdsec:community_integration_offline_threshold_seconds` adds the same margin.
pub(crate) const COMMUNITY_INTEGRATION_MARGIN: Duration = Duration::from_secs(6 * 3600);

/// The Blocklist-as-a-Service tier of the organisation that owns an integration, from the Service API's
/// `GET /info` `subscription_type` (see [`crate::crowdsec::blocklist_integration::tier_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// One pull per 24 h at most.
    Community,
    /// Any other subscription, or unknown: the plain integration threshold.
    Other,
}

/// `crowdsec:usage_metrics_freshness_seconds`: bouncers push usage metrics every ~15 min.
pub(crate) const USAGE_METRICS_FRESHNESS: Duration = Duration::from_secs(3600);
/// `crowdsec:partial_enforcement_ratio`: a bouncer holding less than half of its LAPI's IP decisions of the
/// origins it reports enforces partially. Half, not 90 %, because the LAPI side is an upper bound (a value held by
/// two origins counts under each; docs/decisions.md).
pub(crate) const PARTIAL_ENFORCEMENT_RATIO: f64 = 0.5;

/// The thresholds of the rule file's group `CrowdSecBouncerThresholds`, by the same names (config file section
/// `thresholds`). Defaults are the rule file's `vector(...)` values (a test compares them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// No pull for longer than this: offline; also the LAPI's "no active bouncer".
    pub bouncer_offline: Duration,
    /// No pull for longer than this: late.
    pub early_warning: Duration,
    /// A never-pulled registration older than this is reported.
    pub never_pulled_grace: Duration,
    /// Usage metrics at most this old prove a bouncer alive.
    pub usage_metrics_freshness: Duration,
    /// An integration that has not pulled for longer than this is offline; `None`: `bouncer_offline`, as the rule
    /// file's `crowdsec:integration_offline_threshold_seconds` follows the bouncer one by default.
    pub integration_offline: Option<Duration>,
    /// A bouncer whose newest report holds fewer than this share of its LAPI's IP decisions (of the origins it
    /// reports) enforces partially.
    pub partial_enforcement_ratio: f64,
    /// A log processor whose last heartbeat is older than this is offline (the Console's 24 h).
    pub log_processor_offline: Duration,
    /// The integration threshold of a Community-tier organisation; `None`: `integration_offline` plus
    /// [`COMMUNITY_INTEGRATION_MARGIN`], as the rule file's `crowdsec:community_integration_offline_threshold_seconds`.
    pub community_integration_offline: Option<Duration>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            bouncer_offline: BOUNCER_OFFLINE_THRESHOLD,
            early_warning: EARLY_WARNING_THRESHOLD,
            never_pulled_grace: NEVER_PULLED_GRACE,
            usage_metrics_freshness: USAGE_METRICS_FRESHNESS,
            integration_offline: None,
            partial_enforcement_ratio: PARTIAL_ENFORCEMENT_RATIO,
            log_processor_offline: log_processors::LOG_PROCESSOR_OFFLINE_THRESHOLD,
            community_integration_offline: None,
        }
    }
}

impl Thresholds {
    pub(crate) fn integration_offline(&self) -> Duration {
        self.integration_offline.unwrap_or(self.bouncer_offline)
    }

    /// The offline threshold of an integration of an organisation on `tier` (see [`Tier`]).
    pub(crate) fn integration_offline_for(&self, tier: Tier) -> Duration {
        match tier {
            Tier::Community => self
                .community_integration_offline
                .unwrap_or(self.integration_offline() + COMMUNITY_INTEGRATION_MARGIN),
            Tier::Other => self.integration_offline(),
        }
    }
}

/// As the alert's `severity` label; `none` when no alert fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Severity {
    None,
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// The alerts of the rule file that this module decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Alert {
    BouncerOffline,
    FirewallBouncerOffline,
    BouncerPullOverdue,
    BouncerNeverPulled,
    SecurityEngineNoActiveBouncer,
    SecurityEngineNoBouncer,
    RemediationComponentIntegrationOffline,
    FirewallIntegrationOffline,
    IntegrationNeverPulled,
    FirewallIntegrationPullingZeroIps,
    IntegrationNoBlocklist,
    BouncerEnforcesNothing,
    BouncerEnforcesPartially,
    SecurityEngineSelfBan,
    LogProcessorOffline,
}

impl Alert {
    #[cfg(test)] // the tests' list: every alert has a rule with its name and severity
    pub(crate) const ALL: [Alert; 15] = [
        Alert::BouncerOffline,
        Alert::FirewallBouncerOffline,
        Alert::BouncerPullOverdue,
        Alert::BouncerNeverPulled,
        Alert::SecurityEngineNoActiveBouncer,
        Alert::SecurityEngineNoBouncer,
        Alert::RemediationComponentIntegrationOffline,
        Alert::FirewallIntegrationOffline,
        Alert::IntegrationNeverPulled,
        Alert::FirewallIntegrationPullingZeroIps,
        Alert::IntegrationNoBlocklist,
        Alert::BouncerEnforcesNothing,
        Alert::BouncerEnforcesPartially,
        Alert::SecurityEngineSelfBan,
        Alert::LogProcessorOffline,
    ];

    /// The `alert:` name in the rule file (and its runbook, docs/runbooks/<name>.md).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Alert::BouncerOffline => "CrowdSecBouncerOffline",
            Alert::FirewallBouncerOffline => "CrowdSecFirewallBouncerOffline",
            Alert::BouncerPullOverdue => "CrowdSecBouncerPullOverdue",
            Alert::BouncerNeverPulled => "CrowdSecBouncerNeverPulled",
            Alert::SecurityEngineNoActiveBouncer => "CrowdSecSecurityEngineNoActiveBouncer",
            Alert::SecurityEngineNoBouncer => "CrowdSecSecurityEngineNoBouncer",
            Alert::RemediationComponentIntegrationOffline => {
                "CrowdSecRemediationComponentIntegrationOffline"
            }
            Alert::FirewallIntegrationOffline => "CrowdSecFirewallIntegrationOffline",
            Alert::IntegrationNeverPulled => "CrowdSecIntegrationNeverPulled",
            Alert::FirewallIntegrationPullingZeroIps => "CrowdSecFirewallIntegrationPullingZeroIps",
            Alert::IntegrationNoBlocklist => "CrowdSecIntegrationNoBlocklist",
            Alert::BouncerEnforcesNothing => "CrowdSecBouncerEnforcesNothing",
            Alert::BouncerEnforcesPartially => "CrowdSecBouncerEnforcesPartially",
            Alert::SecurityEngineSelfBan => "CrowdSecSecurityEngineSelfBan",
            Alert::LogProcessorOffline => "CrowdSecLogProcessorOffline",
        }
    }

    /// The rule's `severity` label.
    pub(crate) fn severity(self) -> Severity {
        match self {
            Alert::BouncerOffline
            | Alert::FirewallBouncerOffline
            | Alert::SecurityEngineNoActiveBouncer
            | Alert::RemediationComponentIntegrationOffline
            | Alert::FirewallIntegrationOffline
            | Alert::SecurityEngineSelfBan
            | Alert::LogProcessorOffline => Severity::Critical,
            Alert::BouncerPullOverdue
            | Alert::BouncerNeverPulled
            | Alert::IntegrationNeverPulled
            | Alert::FirewallIntegrationPullingZeroIps
            | Alert::BouncerEnforcesNothing
            | Alert::BouncerEnforcesPartially => Severity::Warning,
            Alert::SecurityEngineNoBouncer | Alert::IntegrationNoBlocklist => Severity::Info,
        }
    }
}

impl Serialize for Alert {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One alert the rules would fire, with the labels its expression gives it (besides `alertname` and `severity`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Firing {
    pub alert: Alert,
    /// The rule's `severity` label.
    pub severity: Severity,
    pub labels: BTreeMap<&'static str, String>,
}

impl Firing {
    fn new(alert: Alert, labels: &[(&'static str, &str)]) -> Firing {
        Firing {
            alert,
            severity: alert.severity(),
            labels: labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        }
    }
}

/// The state of one bouncer base (all rows of one bouncer on one LAPI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BaseVerdict {
    Ok,
    Late,
    Offline,
    /// Its pulls are stale but it pushed usage metrics recently (live mode on a quiet site).
    AliveByUsageMetrics,
    /// No row ever pulled and one was registered longer ago than the grace.
    NeverPulled,
    /// No row ever pulled, every row registered within the grace.
    NeverPulledInGrace,
    /// No row ever pulled and the registration time is unknown (CrowdSec 1.4): nothing can be decided.
    NeverPulledAgeUnknown,
    /// No row's last pull could be read.
    Unknown,
}

/// The part a row plays in its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Role {
    /// The row the base's verdict rests on (its freshest pull), or another row still pulling.
    Current,
    /// Pulled, but another row of the base that pulled was created after its last pull (a new `name@ip` row
    /// replaced it: an IP change), or has an address of the other family and pulled since (a dual-stack host).
    /// Info, never an alert.
    Superseded,
    /// Never pulled.
    NeverPulled,
    /// Its last pull could not be read.
    Unreadable,
}

#[derive(Debug, Clone)]
pub(crate) struct RowJudgement<'a> {
    pub bouncer: &'a Bouncer,
    pub role: Role,
    /// The exported `crowdsec_bouncer_last_pull_age_seconds`: since its pull, or its registration when it never
    /// pulled (if known).
    pub age_seconds: Option<f64>,
    /// `CrowdSecBouncerNeverPulled` for this row.
    pub alert: Option<Alert>,
}

#[derive(Debug, Clone)]
pub(crate) struct BaseJudgement<'a> {
    pub lapi: &'a str,
    pub base: &'a str,
    pub verdict: BaseVerdict,
    pub severity: Severity,
    /// The most severe alert that fires for this base, if any.
    pub alert: Option<Alert>,
    /// Every alert that fires for it (an offline base also keeps its pull-overdue warning, which Alertmanager
    /// inhibits; several never-pulled rows fire one alert each).
    pub firing: Vec<Firing>,
    /// The age its alerts show, if any row pulled: its stalest device's without fresh usage metrics, else its
    /// freshest pull.
    pub pull_age_seconds: Option<f64>,
    /// Age of its newest usage-metrics push, if any.
    pub usage_metrics_age_seconds: Option<f64>,
    pub rows: Vec<RowJudgement<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LapiVerdict {
    Ok,
    /// Every bouncer inactive for longer than the offline threshold (the Console's "No Active RC").
    NoActiveBouncer,
    /// No bouncer registered (the Console's "No RC").
    NoBouncer,
}

#[derive(Debug, Clone)]
pub(crate) struct LapiJudgement<'a> {
    pub verdict: LapiVerdict,
    pub severity: Severity,
    pub alert: Option<Alert>,
    /// The smallest row age (pull, or registration of a never-pulled row): the no-active-bouncer alert's value.
    pub min_age_seconds: Option<f64>,
    /// Some row ever pulled (else the no-active text says "never pulled").
    pub any_pulled: bool,
    pub bases: Vec<BaseJudgement<'a>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IntegrationVerdict {
    Ok,
    Offline,
    NeverPulled,
    NeverPulledInGrace,
    /// Never pulled and its creation time is unknown.
    NeverPulledAgeUnknown,
    PullingZeroIps,
    NoBlocklist,
    /// Its last pull could not be read.
    Unknown,
}

#[derive(Debug, Clone)]
pub(crate) struct IntegrationJudgement<'a> {
    pub integration: &'a Integration,
    pub verdict: IntegrationVerdict,
    pub severity: Severity,
    pub alert: Option<Alert>,
    pub firing: Vec<Firing>,
    /// The exported `crowdsec_integration_last_pull_age_seconds` (since creation when it never pulled).
    pub age_seconds: Option<f64>,
}

pub mod causes;
mod enforcement;
mod judge;
pub(crate) mod log_processors;
mod self_ban;

pub(crate) use causes::{causes, Cause};
pub(crate) use enforcement::judge_enforcement;
pub(crate) use judge::{judge_integration, judge_lapi};
pub(crate) use log_processors::{judge_machine, machine_firing, MachineVerdict};
pub(crate) use self_ban::{judge_self_bans, self_ban_cause};

#[cfg(test)]
mod tests {
    use super::judge::{FIREWALL_INTEGRATION, RC_INTEGRATION};
    use super::*;
    use crate::crowdsec::bouncers::BouncerText;

    const NOW: f64 = 1_784_980_800.0; // 2026-07-25T12:00:00Z, the field cases' clock
    const H: f64 = 3600.0;
    const D: f64 = 86_400.0;

    fn row(name: &str, kind: &str, last_pull: LastPull) -> Bouncer {
        let mut b = Bouncer {
            registered_at: Some(NOW - 30.0 * D),
            ..Bouncer::test_row(name, last_pull)
        };
        b.text = BouncerText {
            bouncer_type: kind,
            version: "v1",
            ..b.text.get()
        }
        .into();
        b
    }

    fn pulled(name: &str, ago: f64) -> Bouncer {
        row(name, "crowdsec-nginx-bouncer", LastPull::At(NOW - ago))
    }

    fn never(name: &str, registered_ago: Option<f64>) -> Bouncer {
        let mut b = row(name, "", LastPull::Never);
        b.registered_at = registered_ago.map(|a| NOW - a);
        b
    }

    fn one(rows: &[Bouncer]) -> (BaseVerdict, Severity, Option<Alert>) {
        let j = judge_lapi("local", rows, NOW, &Thresholds::default());
        assert_eq!(j.bases.len(), 1, "{:?}", j.bases);
        let b = &j.bases[0];
        (b.verdict, b.severity, b.alert)
    }

    fn names(f: &[Firing]) -> Vec<&'static str> {
        f.iter().map(|f| f.alert.name()).collect()
    }

    #[test]
    fn offline_and_late_use_the_rules_strict_comparisons() {
        use BaseVerdict::*;
        assert_eq!(one(&[pulled("a", 10.0)]).0, Ok);
        assert_eq!(one(&[pulled("a", H)]).0, Ok, "`> early`, not `>=`");
        assert_eq!(
            one(&[pulled("a", H + 1.0)]),
            (Late, Severity::Warning, Some(Alert::BouncerPullOverdue))
        );
        assert_eq!(one(&[pulled("a", D)]).0, Late, "`> offline`, not `>=`");
        assert_eq!(
            one(&[pulled("a", D + 1.0)]),
            (Offline, Severity::Critical, Some(Alert::BouncerOffline))
        );
        let fw = row(
            "fw",
            "crowdsec-firewall-bouncer",
            LastPull::At(NOW - 2.0 * D),
        );
        assert_eq!(one(&[fw]).2, Some(Alert::FirewallBouncerOffline));
        let rows = [pulled("a", 2.0 * D)];
        let j = judge_lapi("local", &rows, NOW, &Thresholds::default());
        assert_eq!(
            names(&j.bases[0].firing),
            ["CrowdSecBouncerOffline", "CrowdSecBouncerPullOverdue"],
            "the early warning keeps firing (inhibited by Alertmanager)"
        );
    }

    /// Issue 11 #5: last pull 26 h ago, one RC usage-metrics push 15 min ago: alive, as the alerts judge.
    #[test]
    fn usage_metrics_keep_a_quiet_live_bouncer_alive() {
        let mut b = pulled("nginx-proxy", 26.0 * H + 48.0 * 60.0);
        b.last_usage_metrics = Some(NOW - 15.0 * 60.0);
        assert_eq!(
            one(std::slice::from_ref(&b)),
            (BaseVerdict::AliveByUsageMetrics, Severity::None, None)
        );
        b.last_usage_metrics = Some(NOW - H - 1.0);
        assert_eq!(
            one(&[b]).0,
            BaseVerdict::Offline,
            "stale usage metrics prove nothing"
        );
    }

    fn registered(mut b: Bouncer, ago: f64) -> Bouncer {
        b.registered_at = Some(NOW - ago);
        b
    }

    fn at(mut b: Bouncer, ip: &str) -> Bouncer {
        b.text = BouncerText {
            ip_address: ip,
            ..b.text.get()
        }
        .into();
        b
    }

    fn roles<'a>(b: &'a BaseJudgement) -> Vec<(&'a str, Role)> {
        b.rows.iter().map(|r| (r.bouncer.name(), r.role)).collect()
    }

    /// Issue 11 #6: `fw` pulled 3 d ago and `fw@192.0.2.2`, created 2 d ago (after that pull: an IP change),
    /// 10 s ago: the base is fresh, the old row superseded.
    #[test]
    fn a_name_at_ip_row_created_after_the_last_pull_supersedes_it() {
        let rows = [
            pulled("fw", 3.0 * D),
            registered(pulled("fw@192.0.2.2", 10.0), 2.0 * D),
        ];
        let j = judge_lapi("local", &rows, NOW, &Thresholds::default());
        assert_eq!(j.bases.len(), 1);
        let b = &j.bases[0];
        assert_eq!((b.base, b.verdict, b.alert), ("fw", BaseVerdict::Ok, None));
        assert_eq!(
            roles(b),
            [("fw", Role::Superseded), ("fw@192.0.2.2", Role::Current)]
        );
    }

    /// Issue 19 #4: `gw` pulled 2 d ago, its sibling `gw@198.51.100.9` was created 20 d ago and pulls now: two
    /// hosts share the key and pulled side by side; `gw`'s host is offline (main called it superseded, silent).
    #[test]
    fn rows_that_pulled_side_by_side_are_devices_judged_on_their_own() {
        let rows = [
            registered(pulled("gw", 2.0 * D), 40.0 * D),
            registered(pulled("gw@198.51.100.9", 10.0), 20.0 * D),
        ];
        let j = judge_lapi("local", &rows, NOW, &Thresholds::default());
        let b = &j.bases[0];
        assert_eq!(
            (b.verdict, b.alert, b.pull_age_seconds),
            (
                BaseVerdict::Offline,
                Some(Alert::BouncerOffline),
                Some(2.0 * D)
            )
        );
        assert_eq!(
            roles(b),
            [("gw", Role::Current), ("gw@198.51.100.9", Role::Current)]
        );
        // The fresh device's usage metrics do not vouch for the other one.
        let mut fresh = rows.clone();
        fresh[1].last_usage_metrics = Some(NOW - 60.0);
        let j = judge_lapi("local", &fresh, NOW, &Thresholds::default());
        assert_eq!(j.bases[0].verdict, BaseVerdict::Offline);
        // Its own usage metrics do: a live-mode bouncer on a quiet site.
        fresh[0].last_usage_metrics = Some(NOW - 60.0);
        let j = judge_lapi("local", &fresh, NOW, &Thresholds::default());
        assert_eq!(j.bases[0].verdict, BaseVerdict::AliveByUsageMetrics);
    }

    /// A dual-stack host flipped back to IPv4 two days ago: LAPI found its IPv4 row again (SelectBouncerWithIP),
    /// the IPv6 row `gw@2001:db8::9` (created after the IPv4 row's older pulls) went stale. One device: no page.
    /// Two IPv4 rows in the same shape are two devices.
    #[test]
    fn a_dual_stack_host_flipping_families_is_one_device() {
        let rows = [
            at(registered(pulled("gw", 10.0), 40.0 * D), "192.0.2.9"),
            at(
                registered(pulled("gw@2001:db8::9", 2.0 * D), 20.0 * D),
                "2001:db8::9",
            ),
        ];
        let j = judge_lapi("local", &rows, NOW, &Thresholds::default());
        let b = &j.bases[0];
        assert_eq!((b.verdict, b.alert), (BaseVerdict::Ok, None));
        assert_eq!(
            roles(b),
            [("gw", Role::Current), ("gw@2001:db8::9", Role::Superseded)]
        );
        let rows = [
            at(registered(pulled("gw", 10.0), 40.0 * D), "192.0.2.9"),
            at(
                registered(pulled("gw@198.51.100.9", 2.0 * D), 20.0 * D),
                "198.51.100.9",
            ),
        ];
        let j = judge_lapi("local", &rows, NOW, &Thresholds::default());
        assert_eq!(j.bases[0].verdict, BaseVerdict::Offline);
    }

    /// Issue 11 #7: never pulled, created 20 min ago: in grace, nothing fires; past 24 h: the warning, per row.
    #[test]
    fn never_pulled_has_the_alerts_grace() {
        assert_eq!(
            one(&[never("new", Some(20.0 * 60.0))]),
            (BaseVerdict::NeverPulledInGrace, Severity::None, None)
        );
        assert_eq!(
            one(&[never("new", Some(D))]).0,
            BaseVerdict::NeverPulledInGrace
        );
        assert_eq!(
            one(&[never("old", Some(D + 1.0))]),
            (
                BaseVerdict::NeverPulled,
                Severity::Warning,
                Some(Alert::BouncerNeverPulled)
            )
        );
        // CrowdSec 1.4: registration unknown, no age exported, the alert cannot fire.
        assert_eq!(
            one(&[never("legacy", None)]),
            (BaseVerdict::NeverPulledAgeUnknown, Severity::None, None)
        );
        // Another row of the base pulled: the never-pulled row is left alone.
        let rows = [
            never("envoy@192.0.2.242", Some(3.0 * D)),
            pulled("envoy", 60.0),
        ];
        let j = judge_lapi("local", &rows, NOW, &Thresholds::default());
        assert_eq!(
            (j.bases[0].verdict, j.bases[0].alert),
            (BaseVerdict::Ok, None)
        );
        // Fresh usage metrics: alive, no never-pulled alert.
        let mut b = never("appsec", Some(3.0 * D));
        b.last_usage_metrics = Some(NOW - 60.0);
        assert_eq!(one(&[b]).0, BaseVerdict::AliveByUsageMetrics);
    }

    #[test]
    fn each_never_pulled_row_of_a_base_fires_its_own_alert() {
        let rows = [
            never("x", Some(2.0 * D)),
            never("x@192.0.2.9", Some(3.0 * D)),
            never("x@192.0.2.10", Some(60.0)),
        ];
        let j = judge_lapi("local", &rows, NOW, &Thresholds::default());
        let f = &j.bases[0].firing;
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f
            .iter()
            .all(|f| f.alert == Alert::BouncerNeverPulled && f.labels["bouncer_base"] == "x"));
    }

    /// Issue 11 #12: a never-pulled row created 4 d ago alone on its LAPI: no active bouncer, and "never pulled".
    #[test]
    fn no_active_bouncer_counts_registrations_of_never_pulled_rows() {
        let rows = [never("lonely", Some(4.0 * D + 14.0 * H))];
        let j = judge_lapi("local", &rows, NOW, &Thresholds::default());
        assert_eq!(j.verdict, LapiVerdict::NoActiveBouncer);
        assert!(!j.any_pulled);
        assert_eq!(j.severity, Severity::Critical);
        let rows = [pulled("a", 2.0 * D), never("b", Some(2.0 * H))];
        let j = judge_lapi("local", &rows, NOW, &Thresholds::default());
        assert_eq!(
            j.verdict,
            LapiVerdict::Ok,
            "a registration within 24 h counts as activity, as in the rule"
        );
        let mut live = pulled("live", 3.0 * D);
        live.last_usage_metrics = Some(NOW - 60.0);
        let rows = [pulled("a", 2.0 * D), live];
        assert_eq!(
            judge_lapi("l", &rows, NOW, &Thresholds::default()).verdict,
            LapiVerdict::Ok
        );
        assert_eq!(
            judge_lapi("l", &[never("legacy", None)], NOW, &Thresholds::default()).verdict,
            LapiVerdict::Ok,
            "no age at all: the rule has nothing to compare"
        );
        let j = judge_lapi("l", &[], NOW, &Thresholds::default());
        assert_eq!(
            (j.verdict, j.severity),
            (LapiVerdict::NoBouncer, Severity::Info)
        );
    }

    #[test]
    fn thresholds_move_every_verdict() {
        let t = Thresholds {
            bouncer_offline: Duration::from_secs(1800),
            early_warning: Duration::from_secs(600),
            never_pulled_grace: Duration::from_secs(300),
            usage_metrics_freshness: Duration::from_secs(60),
            integration_offline: Some(Duration::from_secs(7 * 86_400)),
            partial_enforcement_ratio: 0.9,
            log_processor_offline: Duration::from_secs(900),
            community_integration_offline: None,
        };
        let v = |rows: &[Bouncer]| judge_lapi("l", rows, NOW, &t).bases[0].verdict;
        assert_eq!(v(&[pulled("a", 700.0)]), BaseVerdict::Late);
        assert_eq!(v(&[pulled("a", 1801.0)]), BaseVerdict::Offline);
        assert_eq!(v(&[never("a", Some(301.0))]), BaseVerdict::NeverPulled);
        let mut b = pulled("a", 1801.0);
        b.last_usage_metrics = Some(NOW - 61.0);
        assert_eq!(v(&[b]), BaseVerdict::Offline);
        let i = integration("fw", FIREWALL_INTEGRATION, LastPull::At(NOW - 3.0 * D));
        assert_eq!(
            judge_integration(&i, NOW, &t, Tier::Other).verdict,
            IntegrationVerdict::Ok
        );
        assert_eq!(t.integration_offline(), Duration::from_secs(7 * 86_400));
        assert_eq!(
            Thresholds::default().integration_offline(),
            BOUNCER_OFFLINE_THRESHOLD
        );
    }

    /// Issue 21 #4: a Community-tier device pulling once a day, 10 min late, is not offline; one that missed a
    /// whole day is; the margin follows a raised integration threshold; an explicit threshold replaces it.
    #[test]
    fn a_community_integration_gets_the_margin() {
        let t = Thresholds::default();
        let late = integration("fw", FIREWALL_INTEGRATION, LastPull::At(NOW - D - 600.0));
        let v = |i: &Integration, t: &Thresholds, tier| judge_integration(i, NOW, t, tier).verdict;
        assert_eq!(v(&late, &t, Tier::Other), IntegrationVerdict::Offline);
        assert_eq!(v(&late, &t, Tier::Community), IntegrationVerdict::Ok);
        let edge = integration("fw", FIREWALL_INTEGRATION, LastPull::At(NOW - D - 6.0 * H));
        assert_eq!(v(&edge, &t, Tier::Community), IntegrationVerdict::Ok);
        let missed = integration(
            "fw",
            FIREWALL_INTEGRATION,
            LastPull::At(NOW - D - 6.0 * H - 1.0),
        );
        assert_eq!(v(&missed, &t, Tier::Community), IntegrationVerdict::Offline);
        let raised = Thresholds {
            integration_offline: Some(Duration::from_secs(2 * 86_400)),
            ..Thresholds::default()
        };
        assert_eq!(
            raised.integration_offline_for(Tier::Community),
            Duration::from_secs(2 * 86_400 + 6 * 3600)
        );
        let explicit = Thresholds {
            community_integration_offline: Some(Duration::from_secs(25 * 3600)),
            ..Thresholds::default()
        };
        assert_eq!(v(&late, &explicit, Tier::Community), IntegrationVerdict::Ok);
        assert_eq!(
            v(&edge, &explicit, Tier::Community),
            IntegrationVerdict::Offline
        );
    }

    fn integration(name: &str, entity_type: &str, last_pull: LastPull) -> Integration {
        Integration {
            id: "65f0c0ffee0000000000aa01".into(),
            name: name.into(),
            entity_type: entity_type.into(),
            output_format: "plain_text".into(),
            last_pull,
            created_at: Some(NOW - 60.0 * D),
            blocklist_items: Some(41_250.0),
            blocklists: Some(2),
        }
    }

    /// R2-11: fresh, 2 d stale RC integration, never pulled in grace (1 h) and past it, zero IPs, no blocklist.
    #[test]
    fn integrations() {
        let t = Thresholds::default();
        let j = |i: &Integration| {
            let j = judge_integration(i, NOW, &t, Tier::Other);
            (j.verdict, j.severity, j.alert)
        };
        let fresh = integration("fw-edge", FIREWALL_INTEGRATION, LastPull::At(NOW - 268.0));
        assert_eq!(j(&fresh), (IntegrationVerdict::Ok, Severity::None, None));
        let stale = integration("rc", RC_INTEGRATION, LastPull::At(NOW - 2.0 * D - 5.0 * H));
        assert_eq!(
            j(&stale),
            (
                IntegrationVerdict::Offline,
                Severity::Critical,
                Some(Alert::RemediationComponentIntegrationOffline)
            )
        );
        let mut new = integration("fw-new", FIREWALL_INTEGRATION, LastPull::Never);
        new.created_at = Some(NOW - H);
        new.blocklist_items = Some(0.0);
        assert_eq!(
            j(&new),
            (IntegrationVerdict::NeverPulledInGrace, Severity::None, None),
            "zero items of a never-pulled integration are not 'pulling zero IPs'"
        );
        new.created_at = Some(NOW - 2.0 * D);
        assert_eq!(
            j(&new),
            (
                IntegrationVerdict::NeverPulled,
                Severity::Warning,
                Some(Alert::IntegrationNeverPulled)
            )
        );
        let mut zero = fresh.clone();
        zero.blocklist_items = Some(0.0);
        assert_eq!(
            j(&zero),
            (
                IntegrationVerdict::PullingZeroIps,
                Severity::Warning,
                Some(Alert::FirewallIntegrationPullingZeroIps)
            )
        );
        let mut none = fresh.clone();
        none.blocklists = Some(0);
        assert_eq!(
            j(&none),
            (
                IntegrationVerdict::NoBlocklist,
                Severity::Info,
                Some(Alert::IntegrationNoBlocklist)
            )
        );
        let mut both = stale.clone();
        both.blocklists = Some(0);
        let jb = judge_integration(&both, NOW, &t, Tier::Other);
        assert_eq!(jb.verdict, IntegrationVerdict::Offline);
        assert_eq!(jb.firing.len(), 2);
        let unread = integration("x", RC_INTEGRATION, LastPull::Unreadable);
        assert_eq!(
            j(&unread),
            (IntegrationVerdict::Unknown, Severity::None, None)
        );
    }

    /// The Rust defaults equal the rule file's `vector(...)` constants, and every alert named here exists there
    /// with the same severity. Read as YAML: the file is generated from the mixin (quoting and key order are
    /// jsonnet's).
    #[test]
    fn defaults_and_alerts_match_the_rule_file() {
        let text = include_str!("../../../alerts/crowdsec-bouncers.rules.yml");
        let file: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).unwrap();
        let rules: Vec<&serde_yaml_ng::Value> = file["groups"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_sequence().unwrap())
            .collect();
        let field = |kind: &str, name: &str, get: &dyn Fn(&serde_yaml_ng::Value) -> String| {
            let rule = rules
                .iter()
                .find(|r| r[kind].as_str() == Some(name))
                .unwrap_or_else(|| panic!("no {kind} {name}"));
            get(rule)
        };
        let vector = |record: &str| {
            field("record", record, &|r| {
                r["expr"].as_str().unwrap().trim().to_owned()
            })
        };
        let t = Thresholds::default();
        for (record, d) in [
            (
                "crowdsec:bouncer_offline_threshold_seconds",
                t.bouncer_offline,
            ),
            ("crowdsec:early_warning_threshold_seconds", t.early_warning),
            ("crowdsec:never_pulled_grace_seconds", t.never_pulled_grace),
            (
                "crowdsec:usage_metrics_freshness_seconds",
                t.usage_metrics_freshness,
            ),
            (
                "crowdsec:log_processor_offline_threshold_seconds",
                t.log_processor_offline,
            ),
        ] {
            assert_eq!(
                vector(record),
                format!("vector({})", d.as_secs()),
                "{record}"
            );
        }
        assert_eq!(
            vector("crowdsec:partial_enforcement_ratio"),
            format!("vector({})", t.partial_enforcement_ratio)
        );
        assert_eq!(
            vector("crowdsec:integration_offline_threshold_seconds"),
            "crowdsec:bouncer_offline_threshold_seconds",
            "the integration threshold follows the bouncer one (integration_offline: None)"
        );
        assert_eq!(t.integration_offline, None);
        assert_eq!(
            vector("crowdsec:community_integration_offline_threshold_seconds"),
            format!(
                "crowdsec:integration_offline_threshold_seconds + {}",
                COMMUNITY_INTEGRATION_MARGIN.as_secs()
            ),
            "the Community threshold is the integration one plus the margin (community_integration_offline: None)"
        );
        assert_eq!(t.community_integration_offline, None);
        for a in Alert::ALL {
            let sev = field("alert", a.name(), &|r| {
                r["labels"]["severity"].as_str().unwrap().to_owned()
            });
            assert_eq!(sev, a.severity().as_str(), "{}", a.name());
        }
    }
}
