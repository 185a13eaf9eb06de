//! `crowdsec-bouncer-exporter diagnose`: every source and check once, then, per bouncer base (with its registered
//! rows and the part each plays), per LAPI and per integration, the verdict of [`crate::crowdsec::verdict`] — the very
//! judgement of the alert rules — its severity, the alert that fires for it, its last pull, the configuration file
//! behind it and what to try. Text for people (colour only on a terminal, see [`text`]), JSON for scripts.
//!
//! Exit status, from the most severe finding (each finding carries the severity of the alert that fires for it):
//! 0 nothing above info, 1 something an alert pages as critical, 3 warnings only, 2 the tool could not run (no
//! source could be read, bad flags, output failed). Ages are judged at this instant: an alert fires once its `for:`
//! (5 to 30 minutes) has passed too.

mod page;
mod report;
mod text;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::crowdsec::active_decisions::ActiveDecisions;
use crate::crowdsec::bouncer_files::checks::{Check, FileReport, Status as CheckStatus};
use crate::crowdsec::bouncers::{Bouncer, BouncerSnapshot};
use crate::crowdsec::machines::MachineSnapshot;
use crate::crowdsec::verdict::{
    self, Alert, BaseJudgement, BaseVerdict, Firing, IntegrationJudgement, IntegrationVerdict,
    LapiVerdict, Role, Severity,
};
use crate::exporter::Exporter;
use crate::scrape::{Scrape, SourceReport};
use crate::settings::{LogLevel, LogSettings, Settings, Thresholds};
use crate::sources::bouncer_config::ConfigSnapshot;
use crate::sources::lapi_health::LapiHealth;
use crate::sources::service_api::IntegrationSnapshot;
use crate::values::time::{self, human_duration};
use report::{base_finding, base_report, integration_report, no_active_detail};

pub(crate) use page::judge;
pub(crate) use report::*;
pub(crate) use text::text;

/// What to try when a LAPI's bouncers cannot be read, by the reason: no CrowdSec where the exporter looked (the
/// commonest first run: diagnose on a machine without CrowdSec), or a permission (the one step is in the message).
fn database_fix(reason: crate::sources::Reason) -> Option<String> {
    use crate::sources::Reason;
    match reason {
        Reason::Config | Reason::MissingFile => Some(
            "run it where CrowdSec's Local API runs, or say where its data is: --crowdsec.config <CrowdSec's \
             config.yaml>, --lapi.db <its database file or URL>, or --lapi.cscli-command (docs/configuration.md)"
                .to_owned(),
        ),
        Reason::Permission => Some(
            "run the Fix above as root, then restart the exporter (docs/install.md, \"Permissions: one step at \
             most\")"
                .to_owned(),
        ),
        _ => None,
    }
}

/// Runs the diagnosis and prints it. Errors of the tool itself go to stderr with exit status 2.
pub(crate) fn run(settings: Settings, output: Output) -> ExitCode {
    // Only errors on stderr: stdout is the report, which says every failed read and what to try (a source's
    // warnings before it only repeated it, issue 25); --log.level debug shows every read.
    let level = match settings.log.level {
        LogLevel::Debug => LogLevel::Debug,
        _ => LogLevel::Error,
    };
    crate::logging::init(LogSettings {
        level,
        format: settings.log.format,
    });
    let runtime = match crate::exporter::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("crowdsec-bouncer-exporter diagnose: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let scrape = match runtime.block_on(async {
        match Exporter::new(&settings) {
            // Long enough for every source's own timeout.
            Ok(exporter) => {
                let deadline = exporter.longest_read() + Duration::from_secs(1);
                Ok(exporter.scrape(deadline).await)
            }
            Err(e) => Err(e),
        }
    }) {
        Ok(scrape) => scrape,
        Err(e) => {
            eprintln!(
                "crowdsec-bouncer-exporter diagnose: {}",
                crate::values::secret::redact(&e.to_string())
            );
            return ExitCode::from(2);
        }
    };
    let mut report = build_with(&scrape, &settings.thresholds);
    report.looked_in = settings
        .group::<crate::settings::CheckSettings>()
        .map(crate::settings::CheckSettings::places)
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let printed = match output {
        Output::Json => serde_json::to_string_pretty(&report).map(|j| j + "\n"),
        Output::Text => {
            // anstream's choice, as clap's help: a terminal, unless NO_COLOR (or CLICOLOR=0); CLICOLOR_FORCE forces it.
            let colour =
                anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never;
            Ok(text(&report, colour))
        }
    };
    // The output boundary: no key read from any file, no URL userinfo, whatever field it ended up in.
    let written = printed
        .map_err(std::io::Error::other)
        .and_then(|p| out.write_all(crate::values::secret::redact(&p).as_bytes()));
    if written.is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(report.status.exit_code())
}

fn ago(seconds: f64) -> String {
    format!("{} ago", human_duration(seconds))
}

/// Turns one scrape into the report, with the default thresholds (tests; the tool judges with the settings').
#[cfg(test)]
fn build(s: &Scrape) -> Report {
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
pub(crate) fn build_with(s: &Scrape, t: &Thresholds) -> Report {
    let mut findings = Findings(Vec::new());
    let files: Vec<FileReport> = s.checked_files();
    config_pass_findings(s, &mut findings);
    let mut offline_bouncers: Vec<(String, String)> = Vec::new();
    let mut any_source_up = false;
    let mut lapis = Vec::new();
    for r in s.reports::<BouncerSnapshot>() {
        any_source_up |= r.up;
        lapis.push(lapi_report(
            r,
            s,
            t,
            &files,
            &mut findings,
            &mut offline_bouncers,
        ));
    }
    let integrations = s.report::<IntegrationSnapshot>().map(|r| {
        any_source_up |= r.up;
        integrations_report(r, s, t, &files, &mut findings)
    });
    invalid_file_findings(&files, &offline_bouncers, &mut findings);
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
            community_integration_offline_threshold_seconds: t
                .integration_offline_for(verdict::Tier::Community)
                .as_secs_f64(),
            log_processor_offline_threshold_seconds: t.log_processor_offline.as_secs_f64(),
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
        looked_in: Vec::new(),
    }
}

/// The configuration checks' own state: could not run, or a bounded pass left files out.
fn config_pass_findings(s: &Scrape, findings: &mut Findings) {
    if let Some(r) = s.report::<ConfigSnapshot>().filter(|r| !r.up) {
        if let Some(e) = &r.last_error {
            findings.add(
                Severity::Warning,
                Some("CrowdSecExporterSourceDown"),
                format!("the configuration checks could not run: {}", e.message),
            );
        }
    }
    // A bounded pass (issue 23): say what was left out and why, as crowdsec_bouncer_config_files_skipped does.
    if let Some(d) = s.report::<ConfigSnapshot>().and_then(|r| r.data.as_ref()) {
        if !d.skipped.is_empty() {
            let why: Vec<String> = d
                .skipped
                .iter()
                .map(|(reason, n)| {
                    let what = match *reason {
                        "limit" => "past the 256 files checked per pass",
                        "not_regular" => "FIFOs, sockets or devices, never opened",
                        _ => "not reached within the pass's 5 s",
                    };
                    format!("{n} {what} ({reason})")
                })
                .collect();
            findings.add(
                Severity::Info,
                None,
                format!(
                    "bouncer configuration files not checked: {}; is --bouncers.config-dir the bouncers' folder?",
                    why.join(", ")
                ),
            );
        }
    }
}

/// One LAPI: its health and database, its autodelete setting, its bases, their enforcement and its own verdict.
/// The rows of its offline bases go to `offline_bouncers` (for CrowdSecBouncerConfigInvalidAndOffline).
fn lapi_report(
    r: &SourceReport<BouncerSnapshot>,
    s: &Scrape,
    t: &Thresholds,
    files: &[FileReport],
    findings: &mut Findings,
    offline_bouncers: &mut Vec<(String, String)>,
) -> LapiReport {
    let health = s.reports::<LapiHealth>().find(|h| h.name == r.name);
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
    let database_fix = (!r.up)
        .then(|| r.last_error.as_ref().and_then(|e| database_fix(e.reason)))
        .flatten();
    if let Some(e) = &database_error {
        findings.add(
            Severity::Warning,
            Some("CrowdSecExporterSourceDown"),
            format!("the bouncers of LAPI {} cannot be read: {e}", r.name),
        );
    }
    autodelete_findings(r, t, findings);
    let judged = r
        .data
        .as_ref()
        .map(|d| verdict::judge_lapi(&r.name, &d.bouncers, s.now, t));
    // The LAPI's active decisions (source lapi_decisions): enforcement and self-bans.
    let decisions = s
        .reports::<ActiveDecisions>()
        .find(|d| d.name == r.name)
        .and_then(|d| d.data.as_deref());
    let self_bans = self_ban_findings(&r.name, decisions, findings);
    let (machines, machines_error) = machine_reports(s, &r.name, t, findings);
    let mut bouncers = Vec::new();
    if let Some(j) = &judged {
        bouncers = base_reports(&r.name, j, decisions, files, t, findings, offline_bouncers);
        enforcement_findings(r, s, decisions, t, &mut bouncers, findings);
        lapi_verdict_finding(&r.name, j, findings);
    }
    LapiReport {
        name: r.name.clone(),
        database_error,
        database_fix,
        url,
        up,
        health_error,
        verdict: judged.as_ref().map(|j| j.verdict),
        severity: judged.as_ref().map_or(Severity::None, |j| j.severity),
        alert: judged.as_ref().and_then(|j| j.alert),
        bouncers,
        self_bans,
        machines,
        machines_error,
        autodelete: r
            .data
            .iter()
            .flat_map(|d| &d.autodelete)
            .map(|a| report::AutodeleteReport {
                auth_type: a.auth_type,
                seconds: a.after.as_secs_f64(),
                alert: (a.after <= t.bouncer_offline).then_some("CrowdSecBouncersAutodeleteShort"),
            })
            .collect(),
    }
}

/// CrowdSecBouncersAutodeleteShort: CrowdSec deletes a stopped bouncer's row before it reaches "offline".
fn autodelete_findings(r: &SourceReport<BouncerSnapshot>, t: &Thresholds, findings: &mut Findings) {
    for a in r.data.iter().flat_map(|d| &d.autodelete) {
        if a.after <= t.bouncer_offline {
            findings.add(
                Severity::Warning,
                Some("CrowdSecBouncersAutodeleteShort"),
                format!(
                    "LAPI {}: CrowdSec deletes {} bouncer rows whose last pull is {} old (db_config.flush.bouncers_autodelete), no longer than the offline threshold ({}): a bouncer that stops loses its row before it is called offline; only Prometheus remembers it (CrowdSecBouncerDeletedWhileLate), diagnose cannot. Raise it above {} or remove it",
                    r.name,
                    a.auth_type,
                    text::h(a.after.as_secs_f64()),
                    text::h(t.bouncer_offline.as_secs_f64()),
                    text::h(t.bouncer_offline.as_secs_f64()),
                ),
            );
        }
    }
}

/// One report per base of a LAPI, with its finding and one per superseded row.
/// CrowdSecSecurityEngineSelfBan: one finding per (target, origin, scenario).
fn self_ban_findings(
    lapi: &str,
    decisions: Option<&ActiveDecisions>,
    findings: &mut Findings,
) -> Vec<Firing> {
    let self_bans = decisions
        .map(|d| verdict::judge_self_bans(lapi, d))
        .unwrap_or_default();
    for f in &self_bans {
        let n = decisions
            .and_then(|d| {
                d.self_bans.iter().find(|((t, o, sc), _)| {
                    t.as_str() == f.labels["target"]
                        && *o == f.labels["origin"]
                        && *sc == f.labels["scenario"]
                })
            })
            .map_or(0, |(_, n)| *n);
        findings.add(
            f.severity,
            Some(f.alert.name()),
            format!(
                "LAPI {lapi} bans itself: {n} active ban(s) of origin {}, scenario {:?} cover {}; `cscli decisions list` on the LAPI host, then delete them and whitelist the address",
                f.labels["origin"],
                f.labels["scenario"],
                text::self_ban_target(&f.labels["target"]),
            ),
        );
    }
    self_bans
}

fn base_reports(
    lapi: &str,
    j: &verdict::LapiJudgement<'_>,
    decisions: Option<&ActiveDecisions>,
    files: &[FileReport],
    t: &Thresholds,
    findings: &mut Findings,
    offline_bouncers: &mut Vec<(String, String)>,
) -> Vec<BaseReport> {
    let mut bouncers = Vec::new();
    for b in &j.bases {
        if b.verdict == BaseVerdict::Offline {
            offline_bouncers.extend(
                b.rows
                    .iter()
                    .map(|row| (lapi.to_string(), row.bouncer.name().to_owned())),
            );
        }
        let mut report = base_report(b, files, t);
        if let Some(c) = decisions.and_then(|d| verdict::self_ban_cause(b, &d.banned_bouncers)) {
            report.causes.retain(|c| c.check != "unknown");
            report.causes.insert(0, c);
        }
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
    bouncers
}

/// CrowdSecBouncerEnforcesNothing, CrowdSecBouncerEnforcesPartially: the usage reports against the LAPI's active IP
/// decisions; the alert also goes to its base's report.
fn enforcement_findings(
    r: &SourceReport<BouncerSnapshot>,
    s: &Scrape,
    lapi_active: Option<&ActiveDecisions>,
    t: &Thresholds,
    bouncers: &mut [BaseReport],
    findings: &mut Findings,
) {
    let usage = r.data.as_ref().and_then(|d| d.usage.as_ref());
    for e in usage
        .map(|u| {
            verdict::judge_enforcement(
                &r.name,
                &r.data.as_ref().expect("usage comes with data").bouncers,
                u,
                lapi_active,
                s.now,
                t,
            )
        })
        .unwrap_or_default()
    {
        let Some(firing) = e.firing else { continue };
        let what = if firing.alert == Alert::BouncerEnforcesPartially {
            format!(
                "bouncer {} enforces partially: its newest usage report ({} ago) counts {} active decisions while LAPI {} has {} IP decisions of the origins it reports (alert below {} of them)",
                e.bouncer.name(),
                e.report_age_seconds.map(human_duration).unwrap_or_default(),
                e.active_decisions.unwrap_or_default(),
                r.name,
                e.lapi_ip_decisions.unwrap_or_default(),
                t.partial_enforcement_ratio,
            )
        } else {
            format!(
                "bouncer {} enforces nothing: its newest usage report ({} ago) counts 0 active decisions while LAPI {} has {} IP decisions",
                e.bouncer.name(),
                e.report_age_seconds.map(human_duration).unwrap_or_default(),
                r.name,
                lapi_active.map(|d| d.ip_total()).unwrap_or_default()
            )
        };
        findings.add(firing.severity, Some(firing.alert.name()), what);
        if let Some(b) = bouncers
            .iter_mut()
            .find(|b: &&mut BaseReport| b.name == e.bouncer.base_name())
        {
            b.alerts.push(firing);
            b.alerts.sort();
        }
    }
}

/// The LAPI's own verdict: no bouncer, or none active.
fn lapi_verdict_finding(lapi: &str, j: &verdict::LapiJudgement<'_>, findings: &mut Findings) {
    match j.verdict {
        LapiVerdict::Ok => {}
        LapiVerdict::NoBouncer => findings.add(
            j.severity,
            j.alert.map(Alert::name),
            format!("no bouncer is registered on LAPI {lapi}: nothing applies its decisions"),
        ),
        LapiVerdict::NoActiveBouncer => findings.add(
            j.severity,
            j.alert.map(Alert::name),
            format!(
                "no bouncer of LAPI {lapi} is active: {}",
                no_active_detail(j)
            ),
        ),
    }
}

/// The Service API's integrations, each judged, with a finding per one an alert fires for.
fn integrations_report(
    r: &SourceReport<IntegrationSnapshot>,
    s: &Scrape,
    t: &Thresholds,
    files: &[FileReport],
    findings: &mut Findings,
) -> IntegrationsReport {
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
    let tier = crate::crowdsec::blocklist_integration::tier_of(
        r.data.as_ref().and_then(|d| d.subscription_type.as_deref()),
    );
    let items: Vec<_> = r
        .data
        .iter()
        .flat_map(|d| d.integrations.iter())
        .map(|i| integration_report(&verdict::judge_integration(i, s.now, t, tier), files))
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
}

/// CrowdSecBouncerConfigInvalid, or CrowdSecBouncerConfigInvalidAndOffline when its bouncer is offline by the
/// offline rule.
fn invalid_file_findings(
    files: &[FileReport],
    offline_bouncers: &[(String, String)],
    findings: &mut Findings,
) {
    for f in files.iter().filter(|f| !f.valid()) {
        let failed: Vec<&str> = f
            .checks
            .iter()
            // Host checks (running, log...) name causes, not faults of the file.
            .filter(|c| c.status == CheckStatus::Fail && c.check.judges_file())
            .map(|c| c.check.name())
            .collect();
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
}

#[cfg(test)]
mod tests;

/// The log processors of LAPI `lapi` (source `lapi_machines`) and their findings: offline (the alert), never sent
/// a heartbeat or not validated (info).
fn machine_reports(
    s: &Scrape,
    lapi: &str,
    t: &Thresholds,
    findings: &mut Findings,
) -> (Vec<report::MachineReport>, Option<String>) {
    let Some(r) = s.reports::<MachineSnapshot>().find(|r| r.name == lapi) else {
        return (Vec::new(), None);
    };
    let error = (!r.up).then(|| {
        r.last_error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_default()
    });
    let mut out = Vec::new();
    for m in r.data.iter().flat_map(|d| d.machines.iter()) {
        let v = verdict::judge_machine(m, s.now, t.log_processor_offline);
        let alerts: Vec<_> = verdict::machine_firing(lapi, m, s.now, t.log_processor_offline)
            .into_iter()
            .collect();
        let ago = |ts: Option<f64>| ts.map(|ts| human_duration(s.now - ts));
        match v {
            verdict::MachineVerdict::Offline { age } => findings.add(
                Severity::Critical,
                Some(verdict::Alert::LogProcessorOffline.name()),
                format!(
                    "log processor {} of LAPI {} sent its last heartbeat {} ago (offline after {}): the logs it reads are no longer analysed; on its host: `systemctl status crowdsec`, and check that it reaches the LAPI{}",
                    m.name,
                    lapi,
                    human_duration(age),
                    human_duration(t.log_processor_offline.as_secs_f64()),
                    if m.validated == "false" { "; it is not validated: `cscli machines validate` on the LAPI host" } else { "" }
                ),
            ),
            verdict::MachineVerdict::NeverHeartbeat => findings.add(
                Severity::Info,
                None,
                format!(
                    "machine {} of LAPI {} never sent a heartbeat: the credentials cscli uses, or a log processor that never started (not judged)",
                    m.name, lapi
                ),
            ),
            verdict::MachineVerdict::Ok { .. } if m.validated == "false" => findings.add(
                Severity::Info,
                None,
                format!(
                    "log processor {} of LAPI {} is not validated: `cscli machines validate {}` on the LAPI host",
                    m.name, lapi, m.name
                ),
            ),
            verdict::MachineVerdict::Ok { .. } => {}
        }
        out.push(report::MachineReport {
            name: m.name.clone(),
            verdict: v.as_str(),
            severity: alerts.first().map_or(Severity::None, |f| f.severity),
            alerts,
            last_heartbeat: m.last_heartbeat.map(time::format_rfc3339),
            last_heartbeat_ago: ago(m.last_heartbeat),
            last_push_ago: ago(m.last_push),
            version: m.version.clone(),
            ip_address: m.ip_address.clone(),
            validated: m.validated.clone(),
        });
    }
    (out, error)
}
