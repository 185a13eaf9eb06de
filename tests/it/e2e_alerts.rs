//! End to end for the shipped alert rules (issue 5, Proof): the real CrowdSec 1.4.6 LAPI and custom bouncer, the
//! exporter, Debian's Prometheus 2.42 evaluating a test-only copy of alerts/crowdsec-bouncers.rules.yml (only the
//! `for:` durations shortened, the thresholds untouched) and Debian's Alertmanager 0.25, queried via its API.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::real::*;
use common::*;

const FRESH_KEY: &str = "e2eAlertsFresh0123456789abcdefABC";
const STALE_KEY: &str = "e2eAlertsStale0123456789abcdefABC";
const JOB: &str = "crowdsec-bouncer-exporter";
const OFFLINE: &str = "CrowdSecBouncerOffline";
const EXPORTER_DOWN: &str = "CrowdSecExporterDown";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn addr(port: u16) -> std::net::SocketAddr {
    format!("127.0.0.1:{port}").parse().unwrap()
}

/// The shipped rules with every `for:` and `keep_firing_for:` line set to 1s; nothing else changes.
fn test_rules() -> String {
    let shipped =
        std::fs::read_to_string(repo().join("alerts/crowdsec-bouncers.rules.yml")).unwrap();
    let mut changed = 0;
    let mut out = String::new();
    for line in shipped.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("for:") {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}for: 1s\n"));
            changed += 1;
        } else if trimmed.starts_with("keep_firing_for:") {
            // The restart bridge (mixin/restart.libsonnet) would hold a resolved alert for 10 minutes.
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}keep_firing_for: 1s\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(changed >= 2, "no `for:` line found in the rule file");
    // The thresholds are the shipped ones (the file is generated from mixin/, which quotes every string).
    let unquoted = out.replace('"', "");
    assert!(unquoted.contains("record: crowdsec:bouncer_offline_threshold_seconds"));
    assert!(unquoted.contains("expr: vector(86400)"));
    out
}

/// Alertmanager's active alerts (`GET /api/v2/alerts`: unresolved only, inhibited and silenced included).
fn am_alerts(am: std::net::SocketAddr) -> Vec<serde_json::Value> {
    let (status, _, body) = http(am, "GET", "/api/v2/alerts?active=true", &[]);
    assert_eq!(status, 200, "{body}");
    match serde_json::from_str(&body).unwrap() {
        serde_json::Value::Array(a) => a,
        other => panic!("unexpected alertmanager answer {other}"),
    }
}

fn find<'a>(
    alerts: &'a [serde_json::Value],
    want: &[(&str, &str)],
) -> Option<&'a serde_json::Value> {
    alerts
        .iter()
        .find(|a| want.iter().all(|(k, v)| a["labels"][*k] == *v))
}

fn runbook_checks(alert: &serde_json::Value, name: &str) {
    let url = alert["annotations"]["runbook_url"].as_str().unwrap_or("");
    let suffix = format!("docs/runbooks/{name}.md");
    assert!(url.ends_with(&suffix), "{name}: runbook_url {url:?}");
    assert!(
        repo().join(&suffix).is_file(),
        "{suffix} does not exist in the repo"
    );
}

fn start_prometheus(dir: &Path, exporter: std::net::SocketAddr, am_port: u16) -> (Proc, u16) {
    std::fs::write(dir.join("rules.yml"), test_rules()).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files: ['{rules}']\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n\
         scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['{exporter}']\n",
        rules = dir.join("rules.yml").display(),
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let proc = Proc::spawn(
        Command::new(part("prometheus"))
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prom-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--rules.alert.resend-delay=1s"),
        dir.join("prometheus.log"),
    );
    (proc, port)
}

fn start_alertmanager(dir: &Path) -> (Proc, u16) {
    // One route to a receiver without integrations, short grouping, no inhibition.
    std::fs::write(
        dir.join("alertmanager.yml"),
        "route:\n  receiver: 'null'\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\n  \
         repeat_interval: 1h\nreceivers:\n  - name: 'null'\n",
    )
    .unwrap();
    let bin = part("prometheus-alertmanager");
    let share: PathBuf = bin.parent().unwrap().parent().unwrap().join("share");
    let port = free_port();
    let proc = Proc::spawn(
        Command::new("bash")
            .arg(repo().join("scripts/alertmanager-ns.sh"))
            .arg(&bin)
            .arg(format!(
                "--config.file={}",
                dir.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .env("ALERTMANAGER_BIN", &bin)
            .env("ALERTMANAGER_SHARE_DIR", &share),
        dir.join("alertmanager.log"),
    );
    (proc, port)
}

fn ready(port: u16) -> bool {
    std::net::TcpStream::connect(addr(port)).is_ok()
        && http(addr(port), "GET", "/-/ready", &[]).0 == 200
}

#[test]
fn stale_bouncer_pages_and_resolves_exporter_down_pages() {
    let lapi = Lapi::start();
    lapi.add_bouncer("fresh-one", FRESH_KEY);
    lapi.add_bouncer("stale-one", STALE_KEY);
    let _fresh = lapi.custom_bouncer(FRESH_KEY);
    let mut stale = lapi.custom_bouncer(STALE_KEY);
    let pulled = |name: &str| {
        lapi.bouncers_json()
            .iter()
            .any(|r| r["name"] == name && r["type"] == "crowdsec-custom-bouncer")
    };
    wait_until("both bouncers' first pull", Duration::from_secs(20), || {
        pulled("fresh-one") && pulled("stale-one")
    });
    stale.kill();

    let config = lapi.config.display().to_string();
    let mut exporter = ExporterProc::start(
        &[
            "--crowdsec.config",
            &config,
            "--lapi.name",
            "e2e",
            "--lapi.cache-interval",
            "0s",
        ],
        lapi.dir.path(),
    );
    let work = tempfile::tempdir().unwrap();
    let (mut am_proc, am_port) = start_alertmanager(work.path());
    let (mut prom_proc, prom_port) = start_prometheus(work.path(), exporter.addr, am_port);
    let am = addr(am_port);
    wait_until("alertmanager to be ready", Duration::from_secs(15), || {
        assert!(
            am_proc.child.try_wait().unwrap().is_none(),
            "alertmanager exited: {}",
            am_proc.log_text()
        );
        ready(am_port)
    });
    wait_until("prometheus to be ready", Duration::from_secs(15), || {
        assert!(
            prom_proc.child.try_wait().unwrap().is_none(),
            "prometheus exited: {}",
            prom_proc.log_text()
        );
        ready(prom_port)
    });
    // Prometheus scrapes the exporter (first sample after ~6 s).
    wait_until(
        "prometheus to scrape the exporter",
        Duration::from_secs(30),
        || {
            let (_, _, body) = http(
                addr(prom_port),
                "GET",
                "/api/v1/query?query=crowdsec_bouncer_info",
                &[],
            );
            body.contains("stale-one") && body.contains("fresh-one")
        },
    );

    // Make "stale-one" 25 h stale: the critical offline alert reaches Alertmanager.
    lapi.sql()
        .execute(
            "UPDATE bouncers SET last_pull = strftime('%Y-%m-%d %H:%M:%f+00:00','now','-25 hours') WHERE name = ?1",
            ["stale-one"],
        )
        .unwrap();
    let stale_offline = [
        ("alertname", OFFLINE),
        ("lapi", "e2e"),
        ("bouncer_base", "stale-one"),
    ];
    wait_until(
        "CrowdSecBouncerOffline for stale-one in alertmanager",
        Duration::from_secs(60),
        || find(&am_alerts(am), &stale_offline).is_some(),
    );
    let alerts = am_alerts(am);
    let alert = find(&alerts, &stale_offline).unwrap();
    assert_eq!(alert["labels"]["severity"], "critical", "{alert}");
    assert_eq!(alert["status"]["state"], "active", "{alert}");
    runbook_checks(alert, OFFLINE);
    assert!(
        find(
            &alerts,
            &[("alertname", OFFLINE), ("bouncer_base", "fresh-one")]
        )
        .is_none(),
        "the fresh bouncer must not be offline: {alerts:?}"
    );
    assert!(
        find(&alerts, &[("alertname", "CrowdSecFirewallBouncerOffline")]).is_none(),
        "a custom bouncer is not a firewall bouncer: {alerts:?}"
    );

    // A fresh pull again: the alert resolves (Prometheus sends it resolved, Alertmanager drops it from the active ones).
    lapi.sql()
        .execute(
            "UPDATE bouncers SET last_pull = strftime('%Y-%m-%d %H:%M:%f+00:00','now') WHERE name = ?1",
            ["stale-one"],
        )
        .unwrap();
    wait_until(
        "CrowdSecBouncerOffline for stale-one to resolve",
        Duration::from_secs(30),
        || find(&am_alerts(am), &stale_offline).is_none(),
    );
    assert!(
        find(&am_alerts(am), &[("alertname", OFFLINE)]).is_none(),
        "no bouncer is offline any more"
    );

    // The exporter dies: CrowdSecExporterDown (up == 0) reaches Alertmanager.
    exporter.proc.kill();
    let down = [("alertname", EXPORTER_DOWN), ("job", JOB)];
    wait_until(
        "CrowdSecExporterDown in alertmanager",
        Duration::from_secs(30),
        || find(&am_alerts(am), &down).is_some(),
    );
    let alerts = am_alerts(am);
    let alert = find(&alerts, &down).unwrap();
    assert_eq!(alert["labels"]["severity"], "critical", "{alert}");
    assert_eq!(
        alert["labels"]["instance"],
        exporter.addr.to_string(),
        "{alert}"
    );
    runbook_checks(alert, EXPORTER_DOWN);
}
