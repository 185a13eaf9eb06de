//! The diagnosis report's shape (serialized as `diagnose --output json`) and the builders of its per-base and
//! per-integration parts.

use serde::Serialize;

use crate::crowdsec::verdict::Cause;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// The whole report's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// Nothing above info.
    Ok,
    /// Warnings only (exit 3).
    Warning,
    /// Something critical (exit 1).
    Critical,
    /// No source could be read (exit 2).
    Error,
}

impl Status {
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Critical => 1,
            Status::Error => 2,
            Status::Warning => 3,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub status: Status,
    pub generated_at: String,
    /// The thresholds judged with, in seconds (named as the recording rules).
    pub thresholds: ThresholdsReport,
    /// Every finding of severity warning or critical, one line each.
    pub problems: Vec<String>,
    /// Every finding, with its severity and the alert that fires for it.
    pub findings: Vec<Finding>,
    pub lapis: Vec<LapiReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrations: Option<IntegrationsReport>,
    pub config_files: Vec<ConfigFile>,
    /// Where bouncer configuration files were looked for (folders, `(missing: skipped)`, then files).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub looked_in: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ThresholdsReport {
    pub bouncer_offline_threshold_seconds: f64,
    pub early_warning_threshold_seconds: f64,
    pub never_pulled_grace_seconds: f64,
    pub usage_metrics_freshness_seconds: f64,
    pub integration_offline_threshold_seconds: f64,
    /// For the integrations of a Community-tier organisation.
    pub community_integration_offline_threshold_seconds: f64,
    pub log_processor_offline_threshold_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    pub severity: Severity,
    /// The alert of the rule file that fires for it, if any (by name: the configuration and source alerts are
    /// not the verdict module's).
    pub alert: Option<&'static str>,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct LapiReport {
    pub name: String,
    pub database_error: Option<String>,
    /// What to try about `database_error`, when the reason says (no CrowdSec here, a permission).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_fix: Option<String>,
    pub url: Option<String>,
    /// `None` when the URL is unknown.
    pub up: Option<bool>,
    pub health_error: Option<String>,
    /// `ok`, `no_active_bouncer`, `no_bouncer`; `None` when its bouncers could not be read.
    pub verdict: Option<LapiVerdict>,
    pub severity: Severity,
    pub alert: Option<Alert>,
    /// One entry per bouncer base (a registered name without its `@<ip>` suffixes).
    pub bouncers: Vec<BaseReport>,
    /// CrowdSec's `db_config.flush.bouncers_autodelete`, when the database was found through its config.
    pub autodelete: Vec<AutodeleteReport>,
    /// CrowdSecSecurityEngineSelfBan, one per (target, origin, scenario) with an active ban on the stack itself.
    pub self_bans: Vec<Firing>,
    /// Its log processors (table `machines`); empty when not read (cscli, or the read failed: `machines_error`).
    pub machines: Vec<MachineReport>,
    pub machines_error: Option<String>,
}

/// One log processor (a row of `machines`) and its verdict (`ok`, `offline`, `never_heartbeat`).
#[derive(Debug, Serialize)]
pub(crate) struct MachineReport {
    pub name: String,
    pub verdict: &'static str,
    pub severity: Severity,
    /// The alerts that fire for it (CrowdSecLogProcessorOffline), with their labels.
    pub alerts: Vec<Firing>,
    pub last_heartbeat: Option<String>,
    pub last_heartbeat_ago: Option<String>,
    pub last_push_ago: Option<String>,
    pub version: String,
    pub ip_address: String,
    /// `true`/`false`, empty when unknown.
    pub validated: String,
}

/// One `bouncers_autodelete` entry and the alert it fires (CrowdSecBouncersAutodeleteShort when no longer than the
/// offline threshold).
#[derive(Debug, Serialize)]
pub(crate) struct AutodeleteReport {
    pub auth_type: &'static str,
    pub seconds: f64,
    pub alert: Option<&'static str>,
}

/// One bouncer: every row registered under its base name on one LAPI.
#[derive(Debug, Serialize)]
pub(crate) struct BaseReport {
    /// The base name (`bouncer_base`).
    pub name: String,
    pub verdict: BaseVerdict,
    pub severity: Severity,
    /// The most severe alert that fires for it (`null` when none would).
    pub alert: Option<Alert>,
    /// Every alert that fires for it, with its labels.
    pub alerts: Vec<Firing>,
    /// Its freshest pull.
    pub last_pull: Option<String>,
    pub last_pull_ago: Option<String>,
    pub usage_metrics_ago: Option<String>,
    /// Of its current row (the freshest).
    pub bouncer_type: String,
    pub version: String,
    pub ip_address: String,
    pub rows: Vec<RowReport>,
    pub config_files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Offline or never pulled: the failing evidence of its configuration files, likeliest first: stopped process,
    /// refused key, unreachable endpoint, invalid file, other, unknown ([`crate::crowdsec::verdict::causes`]).
    /// Empty for any other verdict.
    pub causes: Vec<Cause>,
}

#[derive(Debug, Serialize)]
pub(crate) struct RowReport {
    pub name: String,
    pub role: Role,
    pub last_pull: Option<String>,
    pub last_pull_ago: Option<String>,
    /// For a never-pulled row: since its registration, when CrowdSec keeps it (1.6+).
    pub registered_ago: Option<String>,
    pub bouncer_type: String,
    pub version: String,
    pub ip_address: String,
    pub auth_type: String,
    pub alert: Option<Alert>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct IntegrationsReport {
    pub error: Option<String>,
    pub items: Vec<IntegrationReport>,
}

#[derive(Debug, Serialize)]
pub(crate) struct IntegrationReport {
    pub id: String,
    pub name: String,
    pub entity_type: String,
    pub verdict: IntegrationVerdict,
    pub severity: Severity,
    pub alert: Option<Alert>,
    pub alerts: Vec<Firing>,
    pub last_pull: Option<String>,
    pub last_pull_ago: Option<String>,
    pub created_ago: Option<String>,
    pub blocklist_items: Option<f64>,
    pub blocklists: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// This host's configuration files whose URL names the integration (its devices).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_files: Vec<String>,
    /// Offline or never pulled: the failing evidence of those files, likeliest first (as a bouncer's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<Cause>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ConfigFile {
    /// As `crowdsec_bouncer_config_valid`: `true` no check failed, `false` one failed, `null` nothing failed but the
    /// key could not be compared (see `skipped`): never called valid without that evidence.
    pub valid: Option<bool>,
    #[serde(flatten)]
    pub file: FileReport,
}

pub(super) fn no_active_detail(j: &verdict::LapiJudgement) -> String {
    let age = j.min_age_seconds.map_or("?".to_owned(), human_duration);
    if j.any_pulled {
        format!("the most recent pull (or registration of a never-pulled bouncer) was {age} ago")
    } else {
        format!("none of its bouncers has ever pulled; the newest was registered {age} ago")
    }
}

pub(super) fn base_finding(b: &BaseReport) -> Option<Finding> {
    if b.severity == Severity::None {
        return None;
    }
    let mut what = format!("bouncer {}: {}", b.name, text::base_label(b.verdict));
    if let Some(c) = b.causes.first() {
        what.push_str(&format!("; likely cause: {}", text::cause_line(c)));
    }
    Some(Finding {
        severity: b.severity,
        alert: b.alert.map(Alert::name),
        text: what,
    })
}

fn config_files_of(b: &BaseJudgement, files: &[FileReport]) -> Vec<String> {
    files
        .iter()
        .filter(|f| {
            f.bouncer
                .as_deref()
                .is_some_and(|n| b.rows.iter().any(|r| r.bouncer.name() == n))
                && f.lapi.as_deref().is_none_or(|l| l == b.lapi)
        })
        .map(|f| f.path.display().to_string())
        .collect()
}

pub(super) fn base_report(b: &BaseJudgement, files: &[FileReport], t: &Thresholds) -> BaseReport {
    let current: Option<&Bouncer> = b
        .rows
        .iter()
        .filter(|r| r.role == Role::Current)
        .min_by(|x, y| {
            x.age_seconds
                .unwrap_or(f64::INFINITY)
                .total_cmp(&y.age_seconds.unwrap_or(f64::INFINITY))
        })
        .or_else(|| b.rows.first())
        .map(|r| r.bouncer);
    let config_files = config_files_of(b, files);
    let rows = b
        .rows
        .iter()
        .map(|r| RowReport {
            name: r.bouncer.name().to_owned(),
            role: r.role,
            last_pull: r.bouncer.last_pull_timestamp().map(time::format_rfc3339),
            last_pull_ago: r.bouncer.last_pull_timestamp().and(r.age_seconds).map(ago),
            registered_ago: r
                .bouncer
                .last_pull_timestamp()
                .is_none()
                .then_some(r.age_seconds)
                .flatten()
                .map(ago),
            bouncer_type: r.bouncer.bouncer_type().to_owned(),
            version: r.bouncer.version().to_owned(),
            ip_address: r.bouncer.ip_address().to_owned(),
            auth_type: r.bouncer.auth_type.to_string(),
            alert: r.alert,
            note: text::row_note(b, r),
        })
        .collect();
    BaseReport {
        name: b.base.to_owned(),
        verdict: b.verdict,
        severity: b.severity,
        alert: b.alert,
        alerts: b.firing.clone(),
        last_pull: b
            .pull_age_seconds
            .and_then(|_| current.and_then(Bouncer::last_pull_timestamp))
            .map(time::format_rfc3339),
        last_pull_ago: b.pull_age_seconds.map(ago),
        usage_metrics_ago: b.usage_metrics_age_seconds.map(ago),
        bouncer_type: current
            .map(|c| c.bouncer_type().to_owned())
            .unwrap_or_default(),
        version: current.map(|c| c.version().to_owned()).unwrap_or_default(),
        ip_address: current
            .map(|c| c.ip_address().to_owned())
            .unwrap_or_default(),
        fix: text::base_fix(b, &config_files, t),
        causes: verdict::causes(b, files),
        rows,
        config_files,
    }
}

pub(super) fn integration_report(
    j: &IntegrationJudgement,
    files: &[FileReport],
) -> IntegrationReport {
    let i = j.integration;
    let pulled = i.last_pull_timestamp().is_some();
    let (mine, causes) = verdict::causes::integration_causes(&i.id, j.verdict, files);
    IntegrationReport {
        id: i.id.clone(),
        name: i.name.clone(),
        entity_type: i.entity_type.clone(),
        verdict: j.verdict,
        severity: j.severity,
        alert: j.alert,
        alerts: j.firing.clone(),
        last_pull: i.last_pull_timestamp().map(time::format_rfc3339),
        last_pull_ago: j.age_seconds.filter(|_| pulled).map(ago),
        created_ago: j.age_seconds.filter(|_| !pulled).map(ago),
        blocklist_items: i.blocklist_items,
        blocklists: i.blocklists,
        fix: text::integration_fix(j),
        config_files: mine.iter().map(|f| f.path.display().to_string()).collect(),
        causes,
    }
}

/// Whether a bouncer-config file's key was compared with the registered keys (check `key_registered` ran): only
/// then may "no registered bouncer matches its key" be said (as the alert's description does).
pub(crate) fn key_compared(f: &FileReport) -> bool {
    f.check(Check::KeyRegistered).is_some()
}

/// Whether the comparison found no registered bouncer.
pub(crate) fn key_unmatched(f: &FileReport) -> bool {
    f.check(Check::KeyRegistered)
        .is_some_and(|c| c.status != CheckStatus::Pass)
}
