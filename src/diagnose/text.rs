//! `diagnose`'s words: the text report for people, and the labels, notes and fixes of each verdict.

use super::{
    key_compared, key_unmatched, BaseReport, ConfigFile, IntegrationReport, LapiReport, Report,
    Status,
};
use crate::crowdsec::bouncer_files::checks::Status as CheckStatus;
use crate::crowdsec::verdict::{
    BaseJudgement, BaseVerdict, Cause, IntegrationJudgement, IntegrationVerdict, LapiVerdict, Role,
    RowJudgement, Severity, Thresholds,
};
use crate::values::time::human_duration;

pub(super) fn h(seconds: f64) -> String {
    human_duration(seconds)
}

/// A base's verdict in a few words.
pub(super) fn base_label(v: BaseVerdict) -> &'static str {
    match v {
        BaseVerdict::Ok => "ok",
        BaseVerdict::Late => "late",
        BaseVerdict::Offline => "OFFLINE",
        BaseVerdict::AliveByUsageMetrics => "alive by usage metrics",
        BaseVerdict::NeverPulled => "NEVER PULLED",
        BaseVerdict::NeverPulledInGrace => "never pulled yet (in grace)",
        BaseVerdict::NeverPulledAgeUnknown => "never pulled (registration time unknown)",
        BaseVerdict::Unknown => "unknown",
    }
}

/// What a self-ban `target` label covers, in words.
pub(super) fn self_ban_target(target: &str) -> &'static str {
    match target {
        "loopback" => "loopback (127.0.0.0/8 or ::1): the LAPI's own host and its local bouncers",
        "lapi_host" => "an address of the LAPI's host",
        "bouncer" => "a registered bouncer's address: that bouncer cannot reach its LAPI",
        "machine" => "a registered machine's address: that log processor cannot reach its LAPI",
        _ => "an address of the stack",
    }
}

pub(super) fn integration_label(v: IntegrationVerdict) -> &'static str {
    match v {
        IntegrationVerdict::Ok => "ok",
        IntegrationVerdict::Offline => "OFFLINE",
        IntegrationVerdict::NeverPulled => "NEVER PULLED",
        IntegrationVerdict::NeverPulledInGrace => "never pulled yet (in grace)",
        IntegrationVerdict::NeverPulledAgeUnknown => "never pulled (creation time unknown)",
        IntegrationVerdict::PullingZeroIps => "pulling zero IPs",
        IntegrationVerdict::NoBlocklist => "no blocklist",
        IntegrationVerdict::Unknown => "unknown",
    }
}

fn where_(config_files: &[String]) -> String {
    if config_files.is_empty() {
        "no configuration file on this host holds its key, so it runs elsewhere or its file holds another key"
            .to_owned()
    } else {
        format!("see the checks of {}", config_files.join(", "))
    }
}

/// What to try for a base, by its verdict.
pub(super) fn base_fix(
    b: &BaseJudgement,
    config_files: &[String],
    t: &Thresholds,
) -> Option<String> {
    let where_ = where_(config_files);
    let grace = h(t.never_pulled_grace.as_secs_f64());
    match b.verdict {
        BaseVerdict::Ok | BaseVerdict::Unknown => None,
        BaseVerdict::Late | BaseVerdict::Offline => {
            // Issue 20 #8: the live-mode sentence only for a bouncer that has a live mode (or of unknown type).
            let stream_only = !b.rows.is_empty() && b.rows.iter().all(|r| {
                crate::crowdsec::bouncers::has_live_mode(r.bouncer.bouncer_type()) == Some(false)
            });
            let quiet = if b.usage_metrics_age_seconds.is_none() && !stream_only {
                "; a live-mode bouncer (nginx/openresty/apache/traefik default) pulls only when its site gets traffic, and this one sends no usage metrics (CrowdSec >= 1.6.3 and recent bouncers do), so an idle site cannot be told from a dead bouncer"
            } else {
                ""
            };
            Some(format!(
                "the bouncer stopped pulling: check that its service runs (`systemctl status <bouncer>`) and read its log{quiet}; {where_}"
            ))
        }
        BaseVerdict::AliveByUsageMetrics => Some(format!(
            "nothing to do: it pushed usage metrics {} ago, so it runs; it pulls only when traffic needs a lookup (live mode on a quiet site)",
            b.usage_metrics_age_seconds.map_or("?".to_owned(), h)
        )),
        BaseVerdict::NeverPulled => Some(format!(
            "registered longer than the grace ({grace}) ago and never pulled: start the bouncer and make sure its configuration holds the key of this registration; but a key used only by AppSec never records a pull (AppSec checks keys with HEAD on /v1/decisions/stream, which never moves last_pull) and looks the same: if CrowdSec's own metrics (:6060) show `cs_lapi_bouncer_requests_total{{bouncer=\"<row>\",method=\"HEAD\"}}` growing, AppSec uses it: keep the row (deleting it breaks AppSec) and silence this alert for it; {where_}"
        )),
        BaseVerdict::NeverPulledInGrace => Some(format!(
            "registered recently: the never-pulled warning fires if it has not pulled within {grace} of its registration; {where_}"
        )),
        BaseVerdict::NeverPulledAgeUnknown => Some(format!(
            "this CrowdSec (1.4/1.5) does not keep the registration time, so neither the alerts nor diagnose can apply the never-pulled grace and no alert fires: check that the bouncer runs; {where_}"
        )),
    }
}

/// One cause in a line: `running (/etc/crowdsec/bouncers/x.yaml): not running`.
pub(super) fn cause_line(c: &Cause) -> String {
    match &c.path {
        Some(p) => format!("{} ({p}): {}", c.check, c.evidence),
        None => format!("{}: {}", c.check, c.evidence),
    }
}

/// Why a row plays its part, when that needs saying.
pub(super) fn row_note(b: &BaseJudgement, r: &RowJudgement) -> Option<String> {
    match r.role {
        Role::Current => None,
        Role::Superseded => Some(format!(
            "superseded registration: a row of {} that pulled was created after this row's last pull (its IP changed: CrowdSec >= 1.6.4 adds a row `<name>@<ip>`), or it is the other address family of a dual-stack host; {}; never a bare `cscli bouncers prune`: its 60-minute default also deletes never-pulled rows (keys only AppSec uses) and idle live-mode bouncers (crowdsec v1.7.8 `QueryBouncersInactiveSince`: last pull older, or never pulled and created earlier)",
            b.base,
            superseded_advice(b, r)
        )),
        Role::NeverPulled if b.pull_age_seconds.is_some() => Some(format!(
            "never pulled, but another row of {} pulls: no alert",
            b.base
        )),
        Role::NeverPulled => None,
        Role::Unreadable => Some("its last pull could not be read".to_owned()),
    }
}

/// Whether deleting a superseded row is safe, from cscli's rules (crowdsecurity/crowdsec
/// `cmd/crowdsec-cli/clibouncer/delete.go`, v1.6.4 to v1.7.8): a TLS row is deleted alone; an auto-created API-key
/// row is refused ("delete parent bouncer instead"); any other row is deleted with every auto-created `<row>@...`
/// row, which must then all be superseded too.
fn superseded_advice(b: &BaseJudgement, r: &RowJudgement) -> String {
    let name = r.bouncer.name();
    let command = format!("`cscli bouncers delete {}`", shell_word(name));
    if r.bouncer.auth_type == "tls" {
        return format!("safe to delete: {command}");
    }
    if r.bouncer.auto_created == "true" {
        return "leave it: cscli refuses to delete an auto-created row alone, and deleting its parent deletes the live rows too; it costs a line in `cscli bouncers list`, nothing else".to_owned();
    }
    let prefix = format!("{name}@");
    let live: Vec<&str> = b
        .rows
        .iter()
        .filter(|o| {
            o.role != Role::Superseded
                && o.bouncer.auto_created == "true"
                && o.bouncer.name().starts_with(&prefix)
        })
        .map(|o| o.bouncer.name())
        .collect();
    if live.is_empty() {
        format!("safe to delete: {command}")
    } else {
        format!(
            "do not delete it: {command} also deletes its auto-created rows, among them the live {}",
            live.join(", ")
        )
    }
}

/// A name as one shell word: unquoted when plain, else single-quoted.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._:-/".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What to try for an integration, by its verdict.
pub(super) fn integration_fix(j: &IntegrationJudgement) -> Option<String> {
    let device = "check the endpoint and credentials configured on the device (Console > Blocklists > Integrations) and that it can reach admin.api.crowdsec.net";
    match j.verdict {
        IntegrationVerdict::Ok | IntegrationVerdict::Unknown => None,
        IntegrationVerdict::Offline => Some(format!(
            "the device stopped pulling this blocklist: {device}"
        )),
        IntegrationVerdict::NeverPulled | IntegrationVerdict::NeverPulledAgeUnknown => Some(format!(
            "no device has pulled this integration since it was created: configure one with its endpoint and credentials; {device}"
        )),
        IntegrationVerdict::NeverPulledInGrace => Some(
            "created recently and not pulled yet: the never-pulled warning fires if no device pulls it within the grace"
                .to_owned(),
        ),
        IntegrationVerdict::PullingZeroIps => Some(
            "it pulls zero IPs: subscribe it to a blocklist with content in the Console".to_owned(),
        ),
        IntegrationVerdict::NoBlocklist => {
            Some("it subscribes to no blocklist: subscribe it to one in the Console".to_owned())
        }
    }
}

use anstyle::{AnsiColor, Style};

const GOOD: Style = AnsiColor::Green.on_default();
const WARN: Style = AnsiColor::Yellow.on_default();
const INFO: Style = AnsiColor::Cyan.on_default();
const BAD: Style = AnsiColor::Red.on_default().bold();

/// Colours through anstyle (already compiled for clap's help), or none.
struct Paint(bool);

impl Paint {
    fn on(&self, style: Style, text: &str) -> String {
        if self.0 {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    fn severity(&self, s: Severity, text: &str) -> String {
        let style = match s {
            Severity::None => GOOD,
            Severity::Info => INFO,
            Severity::Warning => WARN,
            Severity::Critical => BAD,
        };
        self.on(style, text)
    }

    fn status(&self, s: CheckStatus) -> String {
        match s {
            CheckStatus::Pass => self.on(GOOD, "pass"),
            CheckStatus::Warn => self.on(WARN, "WARN"),
            CheckStatus::Fail => self.on(BAD, "FAIL"),
        }
    }
}

fn alert_suffix(alert: Option<crate::crowdsec::verdict::Alert>) -> String {
    alert.map_or(String::new(), |a| format!(" [{}]", a.name()))
}

fn base_text(o: &mut String, p: &Paint, b: &BaseReport) {
    let label = base_label(b.verdict);
    // "never pulled" once: a never-pulled verdict already says it (issue 25).
    let last = match (&b.last_pull_ago, &b.last_pull) {
        (Some(ago), Some(at)) => format!(", last pull {ago} ({at})"),
        _ if label.to_lowercase().starts_with("never pulled") => String::new(),
        _ => ", never pulled".to_owned(),
    };
    o.push_str(&format!(
        "  bouncer {}: {}{}{last}",
        b.name,
        p.severity(b.severity, label),
        alert_suffix(b.alert)
    ));
    if let Some(u) = &b.usage_metrics_ago {
        o.push_str(&format!(", usage metrics {u}"));
    }
    if !b.bouncer_type.is_empty() {
        o.push_str(&format!(", {} {}", b.bouncer_type, b.version));
    }
    if !b.ip_address.is_empty() {
        o.push_str(&format!(", from {}", b.ip_address));
    }
    o.push('\n');
    // Right under the verdict: the likely cause, then the other evidence, each with its fix.
    for (i, c) in b.causes.iter().enumerate() {
        let head = if i == 0 { "likely cause" } else { "also" };
        o.push_str(&format!("    {head}: {}\n", cause_line(c)));
        if !c.fix.is_empty() {
            o.push_str(&format!("      try: {}\n", c.fix));
        }
    }
    // Rows are listed when there are several, or when the one row needs a word.
    if b.rows.len() > 1 || b.rows.iter().any(|r| r.note.is_some()) {
        for r in &b.rows {
            let when = match (&r.last_pull_ago, &r.registered_ago) {
                (Some(a), _) => format!("last pull {a}"),
                (None, Some(reg)) => format!("never pulled, registered {reg}"),
                (None, None) => "never pulled".to_owned(),
            };
            let role = match r.role {
                Role::Current => "current, ",
                Role::Superseded => "superseded, ",
                // `when` says it.
                Role::NeverPulled => "",
                Role::Unreadable => "unreadable, ",
            };
            o.push_str(&format!("    row {}: {role}{when}", r.name));
            if !r.ip_address.is_empty() {
                o.push_str(&format!(", from {}", r.ip_address));
            }
            o.push_str(&alert_suffix(r.alert));
            o.push('\n');
            if let Some(n) = &r.note {
                o.push_str(&format!("      {n}\n"));
            }
        }
    }
    for f in &b.config_files {
        o.push_str(&format!("    config: {f}\n"));
    }
    if let Some(fix) = &b.fix {
        o.push_str(&format!("    try: {fix}\n"));
    }
}

fn integration_text(o: &mut String, p: &Paint, it: &IntegrationReport) {
    let label = integration_label(it.verdict);
    let never = if label.to_lowercase().starts_with("never pulled") {
        ""
    } else {
        "never pulled, "
    };
    let last = match (&it.last_pull_ago, &it.created_ago) {
        (Some(a), _) => format!(", last pull {a}"),
        (None, Some(c)) => format!(", {never}created {c}"),
        (None, None) if never.is_empty() => String::new(),
        (None, None) => ", never pulled".to_owned(),
    };
    o.push_str(&format!(
        "  integration {} ({}): {}{}{last}\n",
        it.name,
        it.id,
        p.severity(it.severity, label),
        alert_suffix(it.alert)
    ));
    if !it.config_files.is_empty() {
        o.push_str(&format!(
            "    its device on this host: {}\n",
            it.config_files.join(", ")
        ));
    }
    for (i, c) in it.causes.iter().enumerate() {
        let head = if i == 0 { "likely cause" } else { "also" };
        o.push_str(&format!(
            "    {head}: {}\n      try: {}\n",
            cause_line(c),
            c.fix
        ));
    }
    if let Some(fix) = &it.fix {
        o.push_str(&format!("    try: {fix}\n"));
    }
}

/// The report for people.
pub(crate) fn text(r: &Report, colour: bool) -> String {
    let p = Paint(colour);
    let mut o = String::new();
    let verdict = match r.status {
        Status::Ok => p.on(GOOD, "all fine"),
        Status::Warning => p.on(WARN, &format!("WARNING: {} problem(s)", r.problems.len())),
        Status::Critical => p.on(BAD, &format!("CRITICAL: {} problem(s)", r.problems.len())),
        Status::Error => p.on(BAD, "ERROR: no source could be read"),
    };
    o.push_str(&format!(
        "CrowdSec bouncers at {}: {verdict}\n",
        r.generated_at
    ));
    for f in r
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
    {
        o.push_str(&format!("  - {}", f.text));
        if let Some(a) = f.alert {
            o.push_str(&format!(" [{a}, {}]", f.severity.as_str()));
        }
        o.push('\n');
    }
    for l in &r.lapis {
        lapi_text(&mut o, &p, l);
    }
    if let Some(i) = &r.integrations {
        o.push_str("\nBlocklist integrations (Service API)\n");
        if let Some(e) = &i.error {
            o.push_str(&format!("    {}\n", p.on(BAD, e)));
        }
        for it in &i.items {
            integration_text(&mut o, &p, it);
        }
    }
    o.push_str("\nBouncer configuration files\n");
    if !r.looked_in.is_empty() {
        o.push_str(&format!("  looked in: {}\n", r.looked_in.join(", ")));
    }
    if r.config_files.is_empty() {
        o.push_str("    none found (see --bouncers.config-dir, --bouncers.config-file)\n");
    }
    for f in &r.config_files {
        config_file_text(&mut o, &p, f);
    }
    o.push_str(&format!(
        "\nThresholds: offline after {}, late after {}, never-pulled grace {}, usage metrics fresh for {}, integrations offline after {} ({} for a Community-tier organisation), log processors offline after {} (config file `thresholds`; keep them equal to the rule file's recording rules)\n",
        h(r.thresholds.bouncer_offline_threshold_seconds),
        h(r.thresholds.early_warning_threshold_seconds),
        h(r.thresholds.never_pulled_grace_seconds),
        h(r.thresholds.usage_metrics_freshness_seconds),
        h(r.thresholds.integration_offline_threshold_seconds),
        h(r.thresholds.community_integration_offline_threshold_seconds),
        h(r.thresholds.log_processor_offline_threshold_seconds),
    ));
    o
}

/// One LAPI: reachability, database, its own verdict, then its bases.
fn lapi_text(o: &mut String, p: &Paint, l: &LapiReport) {
    o.push_str(&format!("\nLAPI {}", l.name));
    match (l.up, &l.url) {
        (Some(true), Some(u)) => o.push_str(&format!(" at {u}: {}\n", p.on(GOOD, "up"))),
        (Some(false), Some(u)) => o.push_str(&format!(
            " at {u}: {} ({})\n    try: start CrowdSec (`systemctl status crowdsec`) and check api.server.listen_uri\n",
            p.on(BAD, "DOWN"),
            l.health_error.as_deref().unwrap_or("")
        )),
        _ => o.push_str(&format!(
            ": reachability unknown ({})\n",
            l.health_error.as_deref().unwrap_or("no URL; give --lapi.url")
        )),
    }
    if let Some(e) = &l.database_error {
        o.push_str(&format!("    database: {}\n", p.on(BAD, e)));
        if let Some(fix) = &l.database_fix {
            o.push_str(&format!("    try: {fix}\n"));
        }
    }
    if l.verdict == Some(LapiVerdict::NoActiveBouncer) {
        o.push_str(&format!(
            "    {}: every bouncer inactive for longer than the offline threshold\n",
            p.severity(l.severity, "NO ACTIVE BOUNCER")
        ));
    }
    if l.bouncers.is_empty() && l.database_error.is_none() {
        o.push_str("    no bouncer registered\n");
    }
    for b in &l.bouncers {
        base_text(o, p, b);
    }
    machines_text(o, p, l);
}

/// The LAPI's log processors (table `machines`): offline, no heartbeat yet, or ok.
fn machines_text(o: &mut String, p: &Paint, l: &LapiReport) {
    if let Some(e) = &l.machines_error {
        o.push_str(&format!("    log processors: {}\n", p.on(BAD, e)));
    }
    for m in &l.machines {
        let state = match m.verdict {
            "offline" => p.severity(m.severity, "OFFLINE"),
            "never_heartbeat" => "no heartbeat yet".to_owned(),
            _ => p.on(GOOD, "ok"),
        };
        o.push_str(&format!(
            "    log processor {}: {state}, last heartbeat {}{}\n",
            m.name,
            m.last_heartbeat_ago
                .as_deref()
                .map_or("never".to_owned(), |a| format!("{a} ago")),
            if m.validated == "false" {
                ", not validated"
            } else {
                ""
            }
        ));
    }
}

/// One bouncer configuration file: its verdict and bouncer, then every check that did not pass, skip and note.
fn config_file_text(o: &mut String, p: &Paint, f: &ConfigFile) {
    let verdict = match f.valid {
        Some(false) => p.on(BAD, "INVALID"),
        _ if !f.file.enabled => p.on(
            WARN,
            if f.file.kind == crate::crowdsec::bouncer_files::Kind::Traefik {
                "disabled (the plugin's middleware is not `enabled: true`)"
            } else {
                "disabled (ENABLED=false in the file the bouncer reads)"
            },
        ),
        Some(true) => p.on(GOOD, "valid"),
        None => p.on(WARN, "no check failed, but its key could not be checked"),
    };
    // "none matched" only when the key was compared (as the alert's description).
    let bouncer = match f.file.bouncer.as_deref() {
        Some(b) => b.to_owned(),
        None if key_unmatched(&f.file) => "none matched".to_owned(),
        None if key_compared(&f.file) => "none".to_owned(),
        None => "not linked (its key was not compared)".to_owned(),
    };
    o.push_str(&format!(
        "  {}: {verdict} ({}), bouncer: {bouncer}\n",
        f.file.path.display(),
        f.file.kind.describe(),
    ));
    for c in f
        .file
        .checks
        .iter()
        .filter(|c| c.status != CheckStatus::Pass)
    {
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
    for s in &f.file.skipped {
        o.push_str(&format!("    skip {}: {}\n", s.check.name(), s.why));
    }
    for n in &f.file.notes {
        o.push_str(&format!("    note: {n}\n"));
    }
}
