//! `crowdsec-bouncer-exporter diagnose`: every source and check once, then, per bouncer and integration, its
//! state, its last pull, the configuration file behind it and what to try. Text for people (colour only on a
//! terminal), JSON for scripts. Exit status: 0 all fine, 1 something critical, 2 the tool could not run.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use crate::bouncer_config::checks::{FileReport, Status};
use crate::bouncers::{Bouncer, LastPull};
use crate::exporter::Exporter;
use crate::metrics::Scrape;
use crate::settings::{LogLevel, LogSettings, Settings, Thresholds};
use crate::sources::service_api::model::Integration;
use crate::timefmt::{self, human_duration, UnixSeconds};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Ok,
    Late,
    Offline,
    NeverPulled,
    Unknown,
}

impl State {
    /// Late after more than `t.late` without a pull, offline from `t.offline` on (settings, `thresholds`).
    fn of(last_pull: LastPull, now: UnixSeconds, t: &Thresholds) -> State {
        match last_pull {
            LastPull::Never => State::NeverPulled,
            LastPull::Unreadable => State::Unknown,
            LastPull::At(ts) if now - ts >= t.offline.as_secs_f64() => State::Offline,
            LastPull::At(ts) if now - ts > t.late.as_secs_f64() => State::Late,
            LastPull::At(_) => State::Ok,
        }
    }

    fn critical(self) -> bool {
        matches!(self, State::Offline | State::NeverPulled)
    }

    fn label(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Late => "late",
            State::Offline => "OFFLINE",
            State::NeverPulled => "NEVER PULLED",
            State::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Critical,
    Error,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub status: Verdict,
    pub generated_at: String,
    /// Critical findings, one line each.
    pub problems: Vec<String>,
    pub lapis: Vec<LapiReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrations: Option<IntegrationsReport>,
    pub config_files: Vec<ConfigFile>,
}

#[derive(Debug, Serialize)]
pub struct LapiReport {
    pub name: String,
    pub database_error: Option<String>,
    pub url: Option<String>,
    /// `None` when the URL is unknown.
    pub up: Option<bool>,
    pub health_error: Option<String>,
    pub bouncers: Vec<BouncerReport>,
}

#[derive(Debug, Serialize)]
pub struct BouncerReport {
    pub name: String,
    pub state: State,
    pub last_pull: Option<String>,
    pub last_pull_ago: Option<String>,
    pub bouncer_type: String,
    pub version: String,
    pub ip_address: String,
    pub config_files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
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
    pub state: State,
    pub last_pull: Option<String>,
    pub last_pull_ago: Option<String>,
    pub blocklist_items: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ConfigFile {
    pub valid: bool,
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
    let scrape = runtime.block_on(async { Exporter::new(&settings).scrape(deadline).await });
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
    match report.status {
        Verdict::Ok => ExitCode::SUCCESS,
        Verdict::Critical => ExitCode::from(1),
        Verdict::Error => ExitCode::from(2),
    }
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

fn ago(ts: UnixSeconds, now: UnixSeconds) -> String {
    format!("{} ago", human_duration(now - ts))
}

/// Turns one scrape into the report, with the default thresholds.
pub fn build(s: &Scrape) -> Report {
    build_with(s, &Thresholds::default())
}

/// Turns one scrape into the report; `t` says when a bouncer or integration is late or offline.
pub fn build_with(s: &Scrape, t: &Thresholds) -> Report {
    let mut problems = Vec::new();
    let files: Vec<FileReport> = crate::sources::bouncer_config::checked_files(s);
    if let Some(r) = s.bouncer_config.as_ref().filter(|r| !r.up) {
        if let Some(e) = &r.last_error {
            problems.push(format!(
                "the configuration checks could not run: {}",
                e.message
            ));
        }
    }
    let mut lapis = Vec::new();
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
            problems.push(format!(
                "LAPI {} does not answer at {}: {}",
                r.name,
                url.as_deref().unwrap_or("?"),
                health_error.as_deref().unwrap_or("")
            ));
        }
        let database_error = (!r.up).then(|| {
            r.last_error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default()
        });
        if let Some(e) = &database_error {
            problems.push(format!(
                "the database of LAPI {} cannot be read: {e}",
                r.name
            ));
        }
        let bouncers = r
            .data
            .iter()
            .flat_map(|d| d.bouncers.iter())
            .map(|b| bouncer_report(b, &r.name, &files, s.now, t))
            .collect::<Vec<_>>();
        for b in bouncers.iter().filter(|b| b.state.critical()) {
            problems.push(format!(
                "bouncer {} on LAPI {}: {}",
                b.name,
                r.name,
                b.state.label()
            ));
        }
        if r.data.as_ref().is_some_and(|d| d.bouncers.is_empty()) {
            problems.push(format!(
                "no bouncer is registered on LAPI {}: nothing applies its decisions",
                r.name
            ));
        }
        lapis.push(LapiReport {
            name: r.name.clone(),
            database_error,
            url,
            up,
            health_error,
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
            problems.push(format!("the Service API cannot be read: {e}"));
        }
        let items: Vec<_> = r
            .data
            .iter()
            .flat_map(|d| d.integrations.iter())
            .map(|i| integration_report(i, s.now, t))
            .collect();
        for i in items.iter().filter(|i| i.state.critical()) {
            problems.push(format!(
                "integration {} ({}): {}",
                i.name,
                i.id,
                i.state.label()
            ));
        }
        IntegrationsReport { error, items }
    });
    for f in files.iter().filter(|f| !f.valid()) {
        let failed: Vec<&str> = f
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.check.name())
            .collect();
        problems.push(format!(
            "configuration {} is invalid: {}",
            f.path.display(),
            failed.join(", ")
        ));
    }
    let status = if !any_source_up {
        Verdict::Error
    } else if problems.is_empty() {
        Verdict::Ok
    } else {
        Verdict::Critical
    };
    Report {
        status,
        generated_at: timefmt::format_rfc3339(s.now),
        problems,
        lapis,
        integrations,
        config_files: files
            .into_iter()
            .map(|file| ConfigFile {
                valid: file.valid(),
                file,
            })
            .collect(),
    }
}

fn bouncer_report(
    b: &Bouncer,
    lapi: &str,
    files: &[FileReport],
    now: UnixSeconds,
    t: &Thresholds,
) -> BouncerReport {
    let state = State::of(b.last_pull, now, t);
    let config_files: Vec<String> = files
        .iter()
        .filter(|f| {
            f.bouncer.as_deref() == Some(b.name.as_str())
                && f.lapi.as_deref().is_none_or(|l| l == lapi)
        })
        .map(|f| f.path.display().to_string())
        .collect();
    let where_ = if config_files.is_empty() {
        "no configuration file on this host holds its key, so it runs elsewhere or its file holds another key".to_owned()
    } else {
        format!("see the checks of {}", config_files.join(", "))
    };
    let fix = match state {
        State::Ok | State::Unknown => None,
        State::Late | State::Offline => Some(format!(
            "the bouncer stopped pulling: check that its service runs (`systemctl status <bouncer>`) and read its log; {where_}"
        )),
        State::NeverPulled => Some(format!(
            "registered but never pulled: start the bouncer, and make sure its configuration holds the key of this registration; {where_}"
        )),
    };
    BouncerReport {
        name: b.name.clone(),
        state,
        last_pull: b.last_pull_timestamp().map(timefmt::format_rfc3339),
        last_pull_ago: b.last_pull_timestamp().map(|ts| ago(ts, now)),
        bouncer_type: b.bouncer_type.clone(),
        version: b.version.clone(),
        ip_address: b.ip_address.clone(),
        config_files,
        fix,
    }
}

fn integration_report(i: &Integration, now: UnixSeconds, t: &Thresholds) -> IntegrationReport {
    let state = State::of(i.last_pull, now, t);
    let fix = match state {
        State::Ok | State::Unknown => None,
        _ => Some("the device stopped pulling this blocklist: check the endpoint and credentials configured on the device (Console > Blocklists > Integrations) and that it can reach admin.api.crowdsec.net".to_owned()),
    };
    IntegrationReport {
        id: i.id.clone(),
        name: i.name.clone(),
        entity_type: i.entity_type.clone(),
        state,
        last_pull: i.last_pull_timestamp().map(timefmt::format_rfc3339),
        last_pull_ago: i.last_pull_timestamp().map(|ts| ago(ts, now)),
        blocklist_items: i.blocklist_items,
        fix,
    }
}

struct Paint(bool);

impl Paint {
    fn on(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn state(&self, s: State) -> String {
        let code = match s {
            State::Ok => "32",
            State::Late | State::Unknown => "33",
            State::Offline | State::NeverPulled => "1;31",
        };
        self.on(code, s.label())
    }

    fn status(&self, s: Status) -> String {
        match s {
            Status::Pass => self.on("32", "pass"),
            Status::Warn => self.on("33", "WARN"),
            Status::Fail => self.on("1;31", "FAIL"),
        }
    }
}

/// The report for people.
pub fn text(r: &Report, colour: bool) -> String {
    let p = Paint(colour);
    let mut o = String::new();
    let verdict = match r.status {
        Verdict::Ok => p.on("32", "all fine"),
        Verdict::Critical => p.on(
            "1;31",
            &format!("CRITICAL: {} problem(s)", r.problems.len()),
        ),
        Verdict::Error => p.on("1;31", "ERROR: no source could be read"),
    };
    o.push_str(&format!(
        "CrowdSec bouncers at {}: {verdict}\n",
        r.generated_at
    ));
    for problem in &r.problems {
        o.push_str(&format!("  - {problem}\n"));
    }
    for l in &r.lapis {
        o.push_str(&format!("\nLAPI {}", l.name));
        match (l.up, &l.url) {
            (Some(true), Some(u)) => o.push_str(&format!(" at {u}: {}\n", p.on("32", "up"))),
            (Some(false), Some(u)) => o.push_str(&format!(
                " at {u}: {} ({})\n    try: start CrowdSec (`systemctl status crowdsec`) and check api.server.listen_uri\n",
                p.on("1;31", "DOWN"),
                l.health_error.as_deref().unwrap_or("")
            )),
            _ => o.push_str(&format!(
                ": reachability unknown ({})\n",
                l.health_error.as_deref().unwrap_or("no URL; give --lapi.url")
            )),
        }
        if let Some(e) = &l.database_error {
            o.push_str(&format!("    database: {}\n", p.on("1;31", e)));
        }
        if l.bouncers.is_empty() && l.database_error.is_none() {
            o.push_str("    no bouncer registered\n");
        }
        for b in &l.bouncers {
            let last = match (&b.last_pull_ago, &b.last_pull) {
                (Some(ago), Some(at)) => format!("last pull {ago} ({at})"),
                _ => "never pulled".to_owned(),
            };
            o.push_str(&format!(
                "  bouncer {}: {}, {last}",
                b.name,
                p.state(b.state)
            ));
            if !b.bouncer_type.is_empty() {
                o.push_str(&format!(", {} {}", b.bouncer_type, b.version));
            }
            if !b.ip_address.is_empty() {
                o.push_str(&format!(", from {}", b.ip_address));
            }
            o.push('\n');
            for f in &b.config_files {
                o.push_str(&format!("    config: {f}\n"));
            }
            if let Some(fix) = &b.fix {
                o.push_str(&format!("    try: {fix}\n"));
            }
        }
    }
    if let Some(i) = &r.integrations {
        o.push_str("\nBlocklist integrations (Service API)\n");
        if let Some(e) = &i.error {
            o.push_str(&format!("    {}\n", p.on("1;31", e)));
        }
        for it in &i.items {
            let last = it
                .last_pull_ago
                .clone()
                .map_or("never pulled".to_owned(), |a| format!("last pull {a}"));
            o.push_str(&format!(
                "  integration {} ({}): {}, {last}\n",
                it.name,
                it.id,
                p.state(it.state)
            ));
            if it.blocklist_items == Some(0.0) {
                o.push_str(
                    "    warning: it pulls zero IPs: subscribe it to a blocklist in the Console\n",
                );
            }
            if let Some(fix) = &it.fix {
                o.push_str(&format!("    try: {fix}\n"));
            }
        }
    }
    o.push_str("\nBouncer configuration files\n");
    if r.config_files.is_empty() {
        o.push_str("    none found (see --bouncers.config-dir, --bouncers.config-file)\n");
    }
    for f in &r.config_files {
        let verdict = if f.valid {
            p.on("32", "valid")
        } else {
            p.on("1;31", "INVALID")
        };
        o.push_str(&format!(
            "  {}: {verdict} ({}), bouncer: {}\n",
            f.file.path.display(),
            f.file.kind.describe(),
            f.file.bouncer.as_deref().unwrap_or("none matched")
        ));
        for c in f.file.checks.iter().filter(|c| c.status != Status::Pass) {
            o.push_str(&format!(
                "    {} {}: {}\n",
                p.status(c.status),
                c.check.name(),
                c.detail
            ));
            if let Some(fix) = &c.fix {
                o.push_str(&format!("      try: {fix}\n"));
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_follow_the_console_thresholds() {
        let now = 1_000_000.0;
        let t = &Thresholds::default();
        assert_eq!(State::of(LastPull::At(now - 10.0), now, t), State::Ok);
        assert_eq!(State::of(LastPull::At(now - 3600.0), now, t), State::Ok);
        assert_eq!(State::of(LastPull::At(now - 3601.0), now, t), State::Late);
        assert_eq!(State::of(LastPull::At(now - 86_399.0), now, t), State::Late);
        assert_eq!(
            State::of(LastPull::At(now - 86_400.0), now, t),
            State::Offline
        );
        assert_eq!(State::of(LastPull::Never, now, t), State::NeverPulled);
        assert!(State::Offline.critical() && State::NeverPulled.critical());
        assert!(!State::Late.critical());
    }

    #[test]
    fn states_follow_configured_thresholds() {
        let now = 1_000_000.0;
        let t = &Thresholds {
            late: Duration::from_secs(600),
            offline: Duration::from_secs(1800),
        };
        assert_eq!(State::of(LastPull::At(now - 600.0), now, t), State::Ok);
        assert_eq!(State::of(LastPull::At(now - 1200.0), now, t), State::Late);
        assert_eq!(
            State::of(LastPull::At(now - 1800.0), now, t),
            State::Offline
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let report = Report {
            status: Verdict::Ok,
            generated_at: "2024-01-02T03:04:05Z".into(),
            problems: vec![],
            lapis: vec![],
            integrations: None,
            config_files: vec![],
        };
        assert!(!text(&report, false).contains('\x1b'));
        assert!(text(&report, true).contains("\x1b[32mall fine\x1b[0m"));
    }
}
