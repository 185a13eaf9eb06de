//! `crowdsec-bouncer-exporter diagnose`: every source and check once, then, per bouncer base (with its registered
//! rows and the part each plays), per LAPI and per integration, the verdict of [`crate::crowdsec::verdict`] — the very
//! judgement of the alert rules — its severity, the alert that fires for it, its last pull, the configuration file
//! behind it and what to try. Text for people (colour only on a terminal, see [`text`]), JSON for scripts.
//!
//! Exit status, from the most severe finding (each finding carries the severity of the alert that fires for it):
//! 0 nothing above info, 1 something an alert pages as critical, 3 warnings only, 2 the tool could not run (no
//! source could be read, bad flags, output failed). Ages are judged at this instant: an alert fires once its `for:`
//! (5 to 30 minutes) has passed too.

mod text;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::crowdsec::bouncer_files::checks::{Check, FileReport, Status as CheckStatus};
use crate::crowdsec::bouncers::Bouncer;
use crate::crowdsec::verdict::{
    self, Alert, BaseJudgement, BaseVerdict, Firing, IntegrationJudgement, IntegrationVerdict,
    LapiVerdict, Role, Severity,
};
use crate::exporter::Exporter;
use crate::scrape::Scrape;
use crate::settings::{LogLevel, LogSettings, Settings, Thresholds};
use crate::values::time::{self, human_duration};

pub use text::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// The whole report's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
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
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Critical => 1,
            Status::Error => 2,
            Status::Warning => 3,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
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
}

#[derive(Debug, Serialize)]
pub struct ThresholdsReport {
    pub bouncer_offline_threshold_seconds: f64,
    pub early_warning_threshold_seconds: f64,
    pub never_pulled_grace_seconds: f64,
    pub usage_metrics_freshness_seconds: f64,
    pub integration_offline_threshold_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// The alert of the rule file that fires for it, if any (by name: the configuration and source alerts are
    /// not the verdict module's).
    pub alert: Option<&'static str>,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct LapiReport {
    pub name: String,
    pub database_error: Option<String>,
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
}

/// One bouncer: every row registered under its base name on one LAPI.
#[derive(Debug, Serialize)]
pub struct BaseReport {
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
}

#[derive(Debug, Serialize)]
pub struct RowReport {
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
pub struct IntegrationsReport {
    pub error: Option<String>,
    pub items: Vec<IntegrationReport>,
}

#[derive(Debug, Serialize)]
pub struct IntegrationReport {
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
}

#[derive(Debug, Serialize)]
pub struct ConfigFile {
    /// As `crowdsec_bouncer_config_valid`: `true` no check failed, `false` one failed, `null` nothing failed but the
    /// key could not be compared (see `skipped`): never called valid without that evidence.
    pub valid: Option<bool>,
    #[serde(flatten)]
    pub file: FileReport,
}

/// Runs the diagnosis and prints it. Errors of the tool itself go to stderr with exit status 2.
pub fn run(settings: Settings, output: Output) -> ExitCode {
    // Only warnings on stderr: stdout is the report.
    let level = match settings.log.level {
        LogLevel::Debug => LogLevel::Debug,
        _ => LogLevel::Warn,
    };
    crate::logging::init(LogSettings {
        level,
        format: settings.log.format,
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("crowdsec-bouncer-exporter diagnose: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let deadline = deadline(&settings);
    let scrape = match runtime.block_on(async {
        match Exporter::new(&settings) {
            Ok(exporter) => Ok(exporter.scrape(deadline).await),
            Err(e) => Err(e),
        }
    }) {
        Ok(scrape) => scrape,
        Err(e) => {
            eprintln!("crowdsec-bouncer-exporter diagnose: {e}");
            return ExitCode::from(2);
        }
    };
    let report = build_with(&scrape, &settings.thresholds);
    let mut out = std::io::stdout().lock();
    let written = match output {
        Output::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Output::Text => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            out.write_all(text(&report, colour).as_bytes())
        }
    };
    if written.is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(report.status.exit_code())
}

/// Long enough for every source's own timeout.
fn deadline(s: &Settings) -> Duration {
    let lapi = s
        .lapis
        .iter()
        .map(|l| l.read_timeout)
        .max()
        .unwrap_or_default();
    let sapi = s
        .service_api
        .as_ref()
        .map(|a| a.timeout)
        .unwrap_or_default();
    let checks = s
        .checks
        .as_ref()
        .map(|c| c.timeout + Duration::from_secs(10))
        .unwrap_or_default();
    lapi.max(sapi).max(checks) + Duration::from_secs(1)
}

fn ago(seconds: f64) -> String {
    format!("{} ago", human_duration(seconds))
}

/// Turns one scrape into the report, with the default thresholds.
pub fn build(s: &Scrape) -> Report {
    build_with(s, &Thresholds::default())
}

struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, severity: Severity, alert: Option<&'static str>, text: String) {
        self.0.push(Finding {
            severity,
            alert,
            text,
        });
    }
}

/// Turns one scrape into the report; `t` are the thresholds of the verdicts ([`crate::crowdsec::verdict`]).
pub fn build_with(s: &Scrape, t: &Thresholds) -> Report {
    let mut findings = Findings(Vec::new());
    let files: Vec<FileReport> = s.checked_files();
    if let Some(r) = s.bouncer_config.as_ref().filter(|r| !r.up) {
        if let Some(e) = &r.last_error {
            findings.add(
                Severity::Warning,
                Some("CrowdSecExporterSourceDown"),
                format!("the configuration checks could not run: {}", e.message),
            );
        }
    }
    let mut lapis = Vec::new();
    let mut offline_bouncers: Vec<(String, String)> = Vec::new();
    let mut any_source_up = false;
    for r in &s.lapis {
        any_source_up |= r.up;
        let health = s.lapi_health.iter().find(|h| h.name == r.name);
        let (url, up, health_error) = match health.map(|h| (h, h.data.as_ref().filter(|_| h.up))) {
            Some((_, Some(d))) => (Some(d.url.clone()), Some(d.up), d.error.clone()),
            Some((h, None)) => (None, None, h.last_error.as_ref().map(|e| e.message.clone())),
            None => (None, None, None),
        };
        if up == Some(false) {
            findings.add(
                Severity::Critical,
                Some("CrowdSecLapiDown"),
                format!(
                    "LAPI {} does not answer at {}: {}",
                    r.name,
                    url.as_deref().unwrap_or("?"),
                    health_error.as_deref().unwrap_or("")
                ),
            );
        }
        let database_error = (!r.up).then(|| {
            r.last_error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default()
        });
        if let Some(e) = &database_error {
            findings.add(
                Severity::Warning,
                Some("CrowdSecExporterSourceDown"),
                format!("the bouncers of LAPI {} cannot be read: {e}", r.name),
            );
        }
        let judged = r
            .data
            .as_ref()
            .map(|d| verdict::judge_lapi(&r.name, &d.bouncers, s.now, t));
        let mut bouncers = Vec::new();
        if let Some(j) = &judged {
            for b in &j.bases {
                if b.verdict == BaseVerdict::Offline {
                    offline_bouncers.extend(
                        b.rows
                            .iter()
                            .map(|row| (r.name.clone(), row.bouncer.name.clone())),
                    );
                }
                let report = base_report(b, &files, t);
                if let Some(finding) = base_finding(&report) {
                    findings.0.push(finding);
                }
                for row in report.rows.iter().filter(|x| x.role == Role::Superseded) {
                    findings.add(
                        Severity::Info,
                        None,
                        format!(
                            "bouncer {}: row {} is a superseded registration (last pull {})",
                            report.name,
                            row.name,
                            row.last_pull_ago.as_deref().unwrap_or("?")
                        ),
                    );
                }
                bouncers.push(report);
            }
            match j.verdict {
                LapiVerdict::Ok => {}
                LapiVerdict::NoBouncer => findings.add(
                    j.severity,
                    j.alert.map(Alert::name),
                    format!(
                        "no bouncer is registered on LAPI {}: nothing applies its decisions",
                        r.name
                    ),
                ),
                LapiVerdict::NoActiveBouncer => findings.add(
                    j.severity,
                    j.alert.map(Alert::name),
                    format!(
                        "no bouncer of LAPI {} is active: {}",
                        r.name,
                        no_active_detail(j)
                    ),
                ),
            }
        }
        lapis.push(LapiReport {
            name: r.name.clone(),
            database_error,
            url,
            up,
            health_error,
            verdict: judged.as_ref().map(|j| j.verdict),
            severity: judged.as_ref().map_or(Severity::None, |j| j.severity),
            alert: judged.as_ref().and_then(|j| j.alert),
            bouncers,
        });
    }
    let integrations = s.service_api.as_ref().map(|r| {
        any_source_up |= r.up;
        let error = (!r.up).then(|| {
            r.last_error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default()
        });
        if let Some(e) = &error {
            findings.add(
                Severity::Warning,
                Some("CrowdSecExporterSourceDown"),
                format!("the Service API cannot be read: {e}"),
            );
        }
        let items: Vec<_> = r
            .data
            .iter()
            .flat_map(|d| d.integrations.iter())
            .map(|i| integration_report(&verdict::judge_integration(i, s.now, t)))
            .collect();
        for i in items.iter().filter(|i| i.severity > Severity::None) {
            findings.add(
                i.severity,
                i.alert.map(Alert::name),
                format!(
                    "integration {} ({}): {}",
                    i.name,
                    i.id,
                    text::integration_label(i.verdict)
                ),
            );
        }
        IntegrationsReport { error, items }
    });
    for f in files.iter().filter(|f| !f.valid()) {
        let failed: Vec<&str> = f
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| c.check.name())
            .collect();
        // As CrowdSecBouncerConfigInvalidAndOffline: its bouncer is offline by the offline rule.
        let offline = f.bouncer.as_ref().is_some_and(|b| {
            offline_bouncers
                .iter()
                .any(|(l, n)| n == b && f.lapi.as_deref().is_none_or(|fl| fl == l))
        });
        let (severity, alert, also) = if offline {
            (
                Severity::Critical,
                "CrowdSecBouncerConfigInvalidAndOffline",
                " and its bouncer is offline",
            )
        } else {
            (Severity::Warning, "CrowdSecBouncerConfigInvalid", "")
        };
        findings.add(
            severity,
            Some(alert),
            format!(
                "configuration {} is invalid{also}: {}",
                f.path.display(),
                failed.join(", ")
            ),
        );
    }
    let worst = findings
        .0
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::None);
    let status = if !any_source_up {
        Status::Error
    } else {
        match worst {
            Severity::Critical => Status::Critical,
            Severity::Warning => Status::Warning,
            Severity::Info | Severity::None => Status::Ok,
        }
    };
    Report {
        status,
        generated_at: time::format_rfc3339(s.now),
        thresholds: ThresholdsReport {
            bouncer_offline_threshold_seconds: t.bouncer_offline.as_secs_f64(),
            early_warning_threshold_seconds: t.early_warning.as_secs_f64(),
            never_pulled_grace_seconds: t.never_pulled_grace.as_secs_f64(),
            usage_metrics_freshness_seconds: t.usage_metrics_freshness.as_secs_f64(),
            integration_offline_threshold_seconds: t.integration_offline().as_secs_f64(),
        },
        problems: findings
            .0
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| f.text.clone())
            .collect(),
        findings: findings.0,
        lapis,
        integrations,
        config_files: files
            .into_iter()
            .map(|file| ConfigFile {
                valid: file.verdict(),
                file,
            })
            .collect(),
    }
}

fn no_active_detail(j: &verdict::LapiJudgement) -> String {
    let age = j.min_age_seconds.map_or("?".to_owned(), human_duration);
    if j.any_pulled {
        format!("the most recent pull (or registration of a never-pulled bouncer) was {age} ago")
    } else {
        format!("none of its bouncers has ever pulled; the newest was registered {age} ago")
    }
}

fn base_finding(b: &BaseReport) -> Option<Finding> {
    if b.severity == Severity::None {
        return None;
    }
    let what = format!("bouncer {}: {}", b.name, text::base_label(b.verdict));
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
                .is_some_and(|n| b.rows.iter().any(|r| r.bouncer.name == n))
                && f.lapi.as_deref().is_none_or(|l| l == b.lapi)
        })
        .map(|f| f.path.display().to_string())
        .collect()
}

fn base_report(b: &BaseJudgement, files: &[FileReport], t: &Thresholds) -> BaseReport {
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
            name: r.bouncer.name.clone(),
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
            bouncer_type: r.bouncer.bouncer_type.clone(),
            version: r.bouncer.version.clone(),
            ip_address: r.bouncer.ip_address.clone(),
            auth_type: r.bouncer.auth_type.clone(),
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
        bouncer_type: current.map(|c| c.bouncer_type.clone()).unwrap_or_default(),
        version: current.map(|c| c.version.clone()).unwrap_or_default(),
        ip_address: current.map(|c| c.ip_address.clone()).unwrap_or_default(),
        fix: text::base_fix(b, &config_files, t),
        rows,
        config_files,
    }
}

fn integration_report(j: &IntegrationJudgement) -> IntegrationReport {
    let i = j.integration;
    let pulled = i.last_pull_timestamp().is_some();
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
    }
}

/// Whether a bouncer-config file's key was compared with the registered keys (check `key_registered` ran): only
/// then may "no registered bouncer matches its key" be said (as the alert's description does).
pub fn key_compared(f: &FileReport) -> bool {
    f.check(Check::KeyRegistered).is_some()
}

/// Whether the comparison found no registered bouncer.
pub fn key_unmatched(f: &FileReport) -> bool {
    f.check(Check::KeyRegistered)
        .is_some_and(|c| c.status != CheckStatus::Pass)
}

#[cfg(test)]
mod tests;
