//! `diagnose` on hand-made scrapes: the issue 11 rows it got wrong (#5, #6, #7), its exit statuses, its words.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::crowdsec::bouncers::{Bouncer, BouncerSnapshot, BouncerText, LastPull};
use crate::scrape::SourceReport;
use crate::sources::service_api::model::Integration;
use crate::sources::service_api::IntegrationSnapshot;

const NOW: f64 = 1_784_980_800.0; // 2026-07-25T12:00:00Z
const MIN: f64 = 60.0;
const H: f64 = 3600.0;
const D: f64 = 86_400.0;

fn report<T>(kind: &'static str, name: &str, data: T) -> Arc<SourceReport<T>> {
    let lapi = matches!(kind, "lapi_db" | "cscli" | "lapi_health").then_some(name);
    Arc::new(SourceReport {
        data: Some(Arc::new(data)),
        up: true,
        last_success: Some(NOW),
        reads: 1,
        ..SourceReport::empty(kind, name, lapi)
    })
}

fn scrape(bouncers: Vec<Bouncer>, integrations: Option<Vec<Integration>>) -> Scrape {
    let s = Scrape::new(NOW).with(report(
        "lapi_db",
        "local",
        BouncerSnapshot {
            bouncers,
            schema: "1.7.1+",
            bad_rows: 0,
            usage: None,
            autodelete: Vec::new(),
        },
    ));
    match integrations {
        Some(integrations) => s.with(report(
            "service_api",
            "crowdsec",
            IntegrationSnapshot {
                integrations,
                pages: 1,
                unreadable: 0,
                subscription_type: None,
            },
        )),
        None => s,
    }
}

fn row(name: &str, last_pull: LastPull) -> Bouncer {
    Bouncer {
        registered_at: Some(NOW - 30.0 * D),
        ..Bouncer::test_row(name, last_pull)
    }
    .with_text(|t| t.ip_address = "192.0.2.2")
}

fn integration(last_pull: LastPull, created_ago: f64) -> Integration {
    Integration {
        id: "65f0c0ffee0000000000aa03".into(),
        name: "fw-new".into(),
        entity_type: "firewall_integration".into(),
        output_format: "fortigate".into(),
        last_pull,
        created_at: Some(NOW - created_ago),
        blocklist_items: Some(10.0),
        blocklists: Some(1),
    }
}

fn json(r: &Report) -> serde_json::Value {
    serde_json::to_value(r).unwrap()
}

/// Issue 11 #5: last pull 26 h ago and usage metrics 15 min ago: alive, exit 0 (it said OFFLINE, exit 1).
#[test]
fn a_quiet_live_bouncer_with_fresh_usage_metrics_is_alive() {
    let mut b = row("nginx-proxy", LastPull::At(NOW - 26.0 * H));
    b = b.with_text(|t| t.bouncer_type = "crowdsec-openresty-bouncer");
    b.last_usage_metrics = Some(NOW - 15.0 * MIN);
    let r = build(&scrape(vec![b], None));
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.status.exit_code(), 0);
    let j = json(&r);
    let base = &j["lapis"][0]["bouncers"][0];
    assert_eq!(base["verdict"], "alive_by_usage_metrics");
    assert_eq!(base["severity"], "none");
    assert_eq!(base["alert"], serde_json::Value::Null);
    assert_eq!(base["usage_metrics_ago"], "15m 0s ago");
    let t = text(&r, false);
    assert!(
        t.contains("bouncer nginx-proxy: alive by usage metrics, last pull 1d 2h ago"),
        "{t}"
    );
}

/// Issue 19 #7: rows `fw` (3 d), `fw@192.0.2.11` (fresh, created 2 d ago, after `fw`'s last pull) and
/// `nginx-appsec` (never pulled, 3 d). One fresh bouncer with a superseded row, and no bare prune: `fw` is the parent
/// of the live row (cscli deletes auto-created children with it), `nginx-appsec` may be a key only AppSec uses.
#[test]
fn an_old_row_of_a_fresh_bouncer_is_a_superseded_registration() {
    let mut live = row("fw@192.0.2.11", LastPull::At(NOW - 10.0));
    live.registered_at = Some(NOW - 2.0 * D);
    live.auto_created = "true";
    let mut appsec = row("nginx-appsec", LastPull::Never);
    appsec.registered_at = Some(NOW - 3.0 * D);
    let r = build(&scrape(
        vec![row("fw", LastPull::At(NOW - 3.0 * D)), live, appsec],
        None,
    ));
    let j = json(&r);
    let bases = j["lapis"][0]["bouncers"].as_array().unwrap();
    assert_eq!(bases.len(), 2, "fw and nginx-appsec");
    assert_eq!(bases[0]["name"], "fw");
    assert_eq!(bases[0]["verdict"], "ok");
    assert_eq!(bases[0]["last_pull_ago"], "10s ago");
    let rows = bases[0]["rows"].as_array().unwrap();
    assert_eq!(rows[0]["name"], "fw");
    assert_eq!(rows[0]["role"], "superseded");
    let note = rows[0]["note"].as_str().unwrap();
    assert!(
        note.contains("do not delete it: `cscli bouncers delete fw` also deletes its auto-created rows, among them the live fw@192.0.2.11"),
        "{note}"
    );
    assert!(
        note.contains("never a bare `cscli bouncers prune`")
            && note.contains("QueryBouncersInactiveSince"),
        "{note}"
    );
    assert_eq!(rows[1]["role"], "current");
    let fix = bases[1]["fix"].as_str().unwrap();
    assert!(
        fix.contains("AppSec") && fix.contains("keep the row (deleting it breaks AppSec)"),
        "{fix}"
    );
    assert!(r
        .findings
        .iter()
        .any(|f| f.severity == Severity::Info && f.text.contains("superseded")));
    let t = text(&r, false);
    assert!(t.contains("bouncer fw: ok, last pull 10s ago"), "{t}");
    assert!(
        t.contains("    row fw: superseded, last pull 3d 0h ago"),
        "{t}"
    );
    assert!(!t.contains("OFFLINE"), "{t}");
}

/// Which superseded rows cscli can delete without touching a live one: a TLS row alone; an auto-created API-key
/// row never (cscli refuses); a parent whose `@ip` rows are all superseded too.
#[test]
fn superseded_rows_name_the_exact_safe_delete() {
    let note_of = |rows: Vec<Bouncer>, name: &str| -> String {
        let r = build(&scrape(rows, None));
        let j = json(&r);
        j["lapis"][0]["bouncers"][0]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .unwrap()["note"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let fresh = |name: &str, auto: bool| {
        let mut b = row(name, LastPull::At(NOW - 10.0));
        b.registered_at = Some(NOW - D);
        b.auto_created = if auto { "true" } else { "false" };
        b
    };
    let mut tls_old = row("edge@198.51.100.21", LastPull::At(NOW - 25.0 * D));
    tls_old.auth_type = "tls".into();
    let mut tls_new = fresh("edge@198.51.100.22", true);
    tls_new.auth_type = "tls".into();
    let n = note_of(vec![tls_old, tls_new], "edge@198.51.100.21");
    assert!(
        n.contains("safe to delete: `cscli bouncers delete edge@198.51.100.21`"),
        "{n}"
    );
    let mut child = row("fw@192.0.2.2", LastPull::At(NOW - 3.0 * D));
    child.auto_created = "true";
    let n = note_of(vec![child, fresh("fw@192.0.2.3", true)], "fw@192.0.2.2");
    assert!(
        n.contains("leave it: cscli refuses to delete an auto-created row alone"),
        "{n}"
    );
    // A hand-made row name with a space is quoted for the shell.
    let n = note_of(
        vec![
            row("lab pi", LastPull::At(NOW - 3.0 * D)),
            fresh("lab pi@192.0.2.3", true),
        ],
        "lab pi",
    );
    assert!(
        n.contains("do not delete it: `cscli bouncers delete 'lab pi'` also deletes its auto-created rows, among them the live lab pi@192.0.2.3"),
        "{n}"
    );
}

/// Issue 11 #7: never pulled, registered 20 min ago: in grace, exit 0; 2 d ago: the warning, exit 3.
#[test]
fn never_pulled_bouncers_get_the_alerts_grace() {
    let mut b = row("new", LastPull::Never);
    b = b.with_text(|t| t.bouncer_type = "");
    b.registered_at = Some(NOW - 20.0 * MIN);
    let r = build(&scrape(vec![b.clone()], None));
    assert_eq!(r.status, Status::Ok, "{:?}", r.problems);
    let j = json(&r);
    assert_eq!(
        j["lapis"][0]["bouncers"][0]["verdict"],
        "never_pulled_in_grace"
    );
    assert_eq!(
        j["lapis"][0]["bouncers"][0]["rows"][0]["registered_ago"],
        "20m 0s ago"
    );
    b.registered_at = Some(NOW - 2.0 * D);
    let r = build(&scrape(
        vec![b.clone(), row("fw", LastPull::At(NOW - 10.0))],
        None,
    ));
    assert_eq!(r.status, Status::Warning, "{:?}", r.problems);
    assert_eq!(r.status.exit_code(), 3);
    let j = json(&r);
    let base = &j["lapis"][0]["bouncers"][1];
    assert_eq!(base["name"], "new");
    assert_eq!(base["verdict"], "never_pulled");
    assert_eq!(base["severity"], "warning");
    assert_eq!(base["alert"], "CrowdSecBouncerNeverPulled");
    assert_eq!(base["alerts"][0]["labels"]["bouncer"], "new");
    // Alone on its LAPI for 2 d: the LAPI has no active bouncer (critical), and the text says "never pulled"
    // (issue 11 #12: the value is the time since registration).
    let r = build(&scrape(vec![b], None));
    assert_eq!(r.status, Status::Critical);
    assert_eq!(r.lapis[0].verdict, Some(LapiVerdict::NoActiveBouncer));
    assert!(
        r.problems.iter().any(|p| p
            .contains("none of its bouncers has ever pulled; the newest was registered 2d 0h ago")),
        "{:?}",
        r.problems
    );
}

/// Issue 11 #7, integrations: `last_pull: null`, created 1 h ago: in grace, no "the device stopped pulling".
#[test]
fn a_new_integration_is_in_grace_and_never_said_to_have_stopped() {
    let r = build(&scrape(
        vec![row("fw", LastPull::At(NOW - 10.0))],
        Some(vec![integration(LastPull::Never, H)]),
    ));
    assert_eq!(r.status, Status::Ok, "{:?}", r.problems);
    let j = json(&r);
    let it = &j["integrations"]["items"][0];
    assert_eq!(it["verdict"], "never_pulled_in_grace");
    assert_eq!(it["created_ago"], "1h 0m ago");
    let t = text(&r, false);
    assert!(!t.contains("stopped pulling"), "{t}");
    assert!(
        t.contains("never pulled yet (in grace), created 1h 0m ago"),
        "{t}"
    );
    let r = build(&scrape(
        vec![row("fw", LastPull::At(NOW - 10.0))],
        Some(vec![integration(LastPull::Never, 2.0 * D)]),
    ));
    assert_eq!(r.status, Status::Warning);
    assert!(!text(&r, false).contains("stopped pulling"));
    let r = build(&scrape(
        vec![row("fw", LastPull::At(NOW - 10.0))],
        Some(vec![integration(LastPull::At(NOW - 2.0 * D), 30.0 * D)]),
    ));
    assert_eq!(r.status, Status::Critical);
    assert_eq!(r.status.exit_code(), 1);
    assert!(text(&r, false).contains("the device stopped pulling"));
}

/// Offline is `> threshold`, as in the rules (it was `>=`): exactly 24 h is late, not offline.
#[test]
fn offline_starts_after_the_threshold_and_pages() {
    let r = build(&scrape(vec![row("fw", LastPull::At(NOW - D))], None));
    assert_eq!(r.lapis[0].bouncers[0].verdict, BaseVerdict::Late);
    assert_eq!(r.status, Status::Warning);
    let r = build(&scrape(vec![row("fw", LastPull::At(NOW - D - 1.0))], None));
    assert_eq!(r.lapis[0].bouncers[0].verdict, BaseVerdict::Offline);
    assert_eq!(
        r.lapis[0].bouncers[0].alert.map(Alert::name),
        Some("CrowdSecFirewallBouncerOffline")
    );
    assert_eq!(r.status, Status::Critical);
}

#[test]
fn configured_thresholds_are_used() {
    let t = Thresholds {
        bouncer_offline: Duration::from_secs(1800),
        early_warning: Duration::from_secs(600),
        ..Thresholds::default()
    };
    let r = build_with(
        &scrape(vec![row("fw", LastPull::At(NOW - 1200.0))], None),
        &t,
    );
    assert_eq!(r.lapis[0].bouncers[0].verdict, BaseVerdict::Late);
    assert_eq!(r.thresholds.early_warning_threshold_seconds, 600.0);
}

#[test]
fn colour_only_when_asked() {
    let r = build(&scrape(vec![row("fw", LastPull::At(NOW - 10.0))], None));
    assert!(!text(&r, false).contains('\x1b'));
    assert!(text(&r, true).contains("\x1b[32mall fine\x1b[0m"));
}

/// A file linked to bouncer `name` on LAPI `local` (key matched), with `checks` as given (the rest absent).
fn linked_file(path: &str, name: &str, checks: &[(Check, CheckStatus)]) -> FileReport {
    use crate::crowdsec::bouncer_files::checks::CheckResult;
    FileReport {
        path: path.into(),
        kind: crate::crowdsec::bouncer_files::Kind::Go,
        api_url: Some("http://127.0.0.1:8080/".into()),
        bouncer: Some(name.into()),
        lapi: Some("local".into()),
        enabled: true,
        mode: None,
        tls_cn: None,
        id_name: None,
        checks: checks
            .iter()
            .map(|(c, s)| CheckResult {
                check: *c,
                status: *s,
                detail: match (c, s) {
                    (Check::Running, CheckStatus::Fail) => {
                        "unit crowdsec-firewall-bouncer.service is inactive (dead) since 2026-07-23"
                            .into()
                    }
                    (Check::EndpointReachable, CheckStatus::Fail) => {
                        "tcp: connection refused by 127.0.0.1:8080: nothing listens there".into()
                    }
                    _ => format!("{} detail", c.name()),
                },
                fix: (*s != CheckStatus::Pass).then(|| format!("{} fix", c.name())),
            })
            .collect(),
        skipped: Vec::new(),
        notes: Vec::new(),
        log_errors: BTreeMap::new(),
    }
}

fn with_files(s: Scrape, files: Vec<FileReport>) -> Scrape {
    s.with(report(
        "bouncer_config",
        "local",
        crate::sources::bouncer_config::ConfigSnapshot {
            files,
            skipped: Default::default(),
        },
    ))
}

/// Issue 15: an offline bouncer whose unit stopped and whose LAPI is unreachable: "not running" is said first, in
/// the text (the problem line and right under the bouncer) and as `causes[0]` in JSON; the other evidence follows.
#[test]
fn the_likely_cause_comes_first() {
    use Check::*;
    use CheckStatus::*;
    let file = linked_file(
        "/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml",
        "fw",
        &[
            (Readable, Pass),
            (ApiUrl, Pass),
            (KeyRegistered, Pass),
            (Running, Fail),
            (EndpointReachable, Fail),
            (Permissions, Warn),
        ],
    );
    let r = build(&with_files(
        scrape(vec![row("fw", LastPull::At(NOW - 2.0 * D))], None),
        vec![file],
    ));
    assert_eq!(r.status, Status::Critical);
    let j = json(&r);
    let causes = j["lapis"][0]["bouncers"][0]["causes"].as_array().unwrap();
    let checks: Vec<&str> = causes
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["running", "endpoint_reachable", "permissions"]);
    assert_eq!(causes[0]["kind"], "stopped");
    assert_eq!(
        causes[0]["evidence"],
        "unit crowdsec-firewall-bouncer.service is inactive (dead) since 2026-07-23"
    );
    assert_eq!(causes[0]["fix"], "running fix");
    assert_eq!(
        causes[0]["path"],
        "/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml"
    );
    let t = text(&r, false);
    assert!(
        t.contains("  - bouncer fw: OFFLINE; likely cause: running (/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml): unit crowdsec-firewall-bouncer.service is inactive"),
        "{t}"
    );
    let headline = t.find("  bouncer fw: OFFLINE").unwrap();
    let likely = t.find("    likely cause: running (").unwrap();
    let also = t.find("    also: endpoint_reachable (").unwrap();
    assert!(headline < likely && likely < also, "{t}");
    assert!(t[likely..].starts_with("    likely cause: running (/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml): unit crowdsec-firewall-bouncer.service is inactive (dead) since 2026-07-23\n      try: running fix\n"), "{t}");
}

/// A bouncer that pulls has no causes, even when a host check of its file fails; an offline one without any
/// file on this host gets `unknown`, saying why.
#[test]
fn causes_only_for_offline_or_never_pulled_bouncers() {
    use Check::*;
    use CheckStatus::*;
    let stopped = || linked_file("/f.yaml", "fw", &[(KeyRegistered, Pass), (Running, Fail)]);
    let r = build(&with_files(
        scrape(vec![row("fw", LastPull::At(NOW - 10.0))], None),
        vec![stopped()],
    ));
    let j = json(&r);
    assert_eq!(
        j["lapis"][0]["bouncers"][0]["causes"],
        serde_json::json!([])
    );
    assert!(!text(&r, false).contains("likely cause"));
    let mut never = row("fw", LastPull::Never);
    never.registered_at = Some(NOW - 2.0 * D);
    let r = build(&with_files(scrape(vec![never], None), vec![stopped()]));
    assert_eq!(
        json(&r)["lapis"][0]["bouncers"][0]["causes"][0]["check"],
        "running"
    );
    let r = build(&scrape(vec![row("fw", LastPull::At(NOW - 2.0 * D))], None));
    let j = json(&r);
    let causes = j["lapis"][0]["bouncers"][0]["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0]["check"], "unknown");
    assert!(causes[0]["evidence"]
        .as_str()
        .unwrap()
        .starts_with("no configuration file on this host belongs to it"));
    assert!(text(&r, false)
        .contains("    likely cause: unknown: no configuration file on this host belongs to it"));
}

/// Issue 20 #8: the live-mode sentence only for a bouncer that has a live mode; the firewall and the Cloudflare
/// worker are stream-only (it was appended to every offline bouncer without usage metrics).
#[test]
fn the_live_mode_sentence_only_for_bouncers_with_a_live_mode() {
    let fix_of = |bouncer_type: &str| {
        let mut b = row("b", LastPull::At(NOW - 2.0 * D));
        b.text = BouncerText {
            bouncer_type,
            ..b.text.get()
        }
        .into();
        let j = json(&build(&scrape(vec![b], None)));
        let base = &j["lapis"][0]["bouncers"][0];
        assert_eq!(base["verdict"], "offline", "{bouncer_type}");
        base["fix"].as_str().unwrap().to_owned()
    };
    for stream_only in [
        "crowdsec-firewall-bouncer",
        "crowdsec-cloudflare-worker-bouncer",
    ] {
        let fix = fix_of(stream_only);
        assert!(!fix.contains("live-mode"), "{stream_only}: {fix}");
        assert!(fix.starts_with("the bouncer stopped pulling"), "{fix}");
    }
    for live in [
        "crowdsec-nginx-bouncer",
        "Crowdsec-Bouncer-Traefik-Plugin",
        "",
    ] {
        assert!(fix_of(live).contains("a live-mode bouncer"), "{live:?}");
    }
}

/// Issue 20 #5: a Blocklist-as-a-Service device whose key was refreshed in the Console: its file names the
/// integration, its log has `API error: Unauthorized` (class auth), the integration last pulled 26 h ago. Diagnose
/// names this host's file under the integration, the log's auth errors as the likely cause, and the Console's fix
/// (Refresh Credentials), never the LAPI's (`cscli bouncers add`, "the LAPI refuses the key").
#[test]
fn an_offline_integration_names_its_devices_file_and_the_consoles_fix() {
    use Check::*;
    use CheckStatus::*;
    let id = "65f0c0ffee0000000000aa03";
    let path = "/etc/crowdsec/bouncers/crowdsec-cloudflare-worker-bouncer.yaml";
    let mut file = linked_file(path, "", &[(Readable, Pass), (ApiUrl, Pass), (Log, Fail)]);
    file.bouncer = None;
    file.lapi = None;
    file.kind = crate::crowdsec::bouncer_files::Kind::CrowdsecConfig;
    file.api_url = Some(format!(
        "https://admin.api.crowdsec.net/v1/integrations/{id}/"
    ));
    file.log_errors.insert("auth", 3);
    let mut i = integration(LastPull::At(NOW - 26.0 * H), 30.0 * D);
    i.entity_type = "remediation_component_integration".into();
    i.output_format = "remediation_component".into();
    let mut other = file.clone();
    other.path = "/etc/crowdsec/bouncers/other.yaml".into();
    other.api_url =
        Some("https://admin.api.crowdsec.net/v1/integrations/ffffffffffffffffffffffff/".into());
    let r = build(&with_files(
        scrape(vec![], Some(vec![i])),
        vec![file, other],
    ));
    let j = json(&r);
    let it = &j["integrations"]["items"][0];
    assert_eq!(it["verdict"], "offline");
    assert_eq!(it["config_files"], serde_json::json!([path]));
    let causes = it["causes"].as_array().unwrap();
    assert_eq!(causes[0]["kind"], "key_refused");
    assert_eq!(causes[0]["check"], "log");
    assert_eq!(causes[0]["path"], path);
    let fix = causes[0]["fix"].as_str().unwrap();
    assert!(
        fix.contains("\"Refresh Credentials\"") && fix.contains("crowdsec_config.lapi_key"),
        "{fix}"
    );
    let t = text(&r, false);
    assert!(
        t.contains(&format!("    its device on this host: {path}\n    likely cause: log ({path}): 3 `auth` error(s) in its recent log: the Service API refused its integration key")),
        "{t}"
    );
    assert!(
        !t.contains("cscli bouncers add") && !t.contains("the LAPI refuses"),
        "{t}"
    );
}

/// Issue 19 #1: `bouncers_autodelete: {api_key: 2h}`: a warning naming the setting (exit 3), not "all fine"; 48 h
/// (longer than the offline threshold) says nothing.
#[test]
fn a_short_bouncers_autodelete_is_a_warning() {
    use crate::crowdsec::config_yaml::Autodelete;
    let with = |after: u64| {
        let mut s = scrape(vec![], None);
        s.reports[0] = report(
            "lapi_db",
            "local",
            BouncerSnapshot {
                bouncers: vec![row("fw", LastPull::At(NOW - 10.0))],
                schema: "1.7.1+",
                bad_rows: 0,
                usage: None,
                autodelete: vec![Autodelete {
                    auth_type: "api-key",
                    after: std::time::Duration::from_secs(after),
                }],
            },
        );
        build(&s)
    };
    let r = with(7200);
    assert_eq!(r.status.exit_code(), 3, "{:?}", r.findings);
    assert!(
        r.findings.iter().any(|f| f.severity == Severity::Warning
            && f.text
                .contains("deletes api-key bouncer rows whose last pull is 2h 0m old")),
        "{:?}",
        r.findings
    );
    let r = with(48 * 3600);
    assert_eq!(r.status.exit_code(), 0, "{:?}", r.findings);
}

/// Issue 25: "never pulled" is said once (it read "never pulled (registration time unknown), never pulled", and a
/// never-pulled row "never pulled, never pulled").
#[test]
fn never_pulled_is_said_once() {
    let mut b = row("old14", LastPull::Never);
    b = b.with_text(|t| t.bouncer_type = "");
    b.registered_at = None;
    let mut other = row("old14@192.0.2.1", LastPull::Never);
    other.registered_at = None;
    let t = text(&build(&scrape(vec![b, other], None)), false);
    assert!(
        t.contains("  bouncer old14: never pulled (registration time unknown), from"),
        "{t}"
    );
    assert!(!t.contains("never pulled, never pulled"), "{t}");
    assert!(!t.contains("unknown), never pulled"), "{t}");
    let r = build(&scrape(
        vec![row("fw", LastPull::At(NOW - 10.0))],
        Some(vec![integration(LastPull::Never, 2.0 * D)]),
    ));
    let t = text(&r, false);
    assert!(!t.contains("never pulled, never pulled"), "{t}");
    assert!(
        t.contains("NEVER PULLED [CrowdSecIntegrationNeverPulled], created 2d 0h ago"),
        "{t}"
    );
}

/// Issue 25: diagnose where there is no CrowdSec (or the exporter may not read its database) says what to try.
#[test]
fn an_unreadable_lapi_says_what_to_try() {
    use crate::sources::{Reason, SourceFailure};
    let down = |reason: Reason, message: &str| {
        let s = Scrape::new(NOW).with(Arc::new(SourceReport::<BouncerSnapshot> {
            up: false,
            data: None,
            last_error: Some(SourceFailure {
                reason,
                message: message.to_owned(),
            }),
            reads: 1,
            ..SourceReport::empty("lapi_db", "local", Some("local"))
        }));
        text(&build(&s), false)
    };
    let t = down(
        Reason::Config,
        "cannot read CrowdSec config /etc/crowdsec/config.yaml: file not found",
    );
    assert!(
        t.contains("\n    try: run it where CrowdSec's Local API runs, or say where its data is: --crowdsec.config"),
        "{t}"
    );
    let t = down(
        Reason::Permission,
        "permission denied reading /x: ... Fix, as root: setfacl ...",
    );
    assert!(t.contains("\n    try: run the Fix above as root"), "{t}");
    let t = down(Reason::Corrupt, "database disk image is malformed");
    assert!(!t.contains("try: run"), "{t}");
}
