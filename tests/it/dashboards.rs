//! The Grafana dashboards (dashboards/*.json, issue 6): import-ready structure, and EVERY PromQL expression they
//! hold (panel targets and variable queries), with the template variables substituted, evaluated by Debian's real
//! Prometheus scraping the exporter that reads the real CrowdSec 1.4.6 LAPI (a live custom bouncer plus rows
//! backdated to each state) and the fake Service API, next to a second exporter on a CrowdSec 1.7 database (usage
//! metrics) whose Service API is unreachable (error counters). Every query must parse and succeed, every target must
//! return data for some variable values, the state counts must be exact, and every metric a dashboard names must be
//! in the exporters' output (or be a Prometheus target series, or a recording rule of alerts/).

use crate::common;
use crate::fake_service_api;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::real::*;
use common::*;
use serde_json::Value;

const JOB: &str = "crowdsec-bouncer-exporter";
const LIVE_KEY: &str = "dashboardsLiveKey0123456789abcdefAB";
const SERVICE_KEY: &str = "dashboards-service-api-key";
/// Series Prometheus makes itself for every target.
const TARGET_SERIES: &[&str] = &["up", "scrape_duration_seconds"];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn dashboards() -> Vec<(PathBuf, Value)> {
    let mut out: Vec<_> = std::fs::read_dir(repo().join("dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 2,
        "expected the overview and the detail dashboard"
    );
    out
}

/// Every panel, rows' nested panels included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

fn variables(d: &Value) -> Vec<&Value> {
    d["templating"]["list"].as_array().unwrap().iter().collect()
}

fn walk<'a>(v: &'a Value, path: String, f: &mut impl FnMut(&str, &'a Value)) {
    f(&path, v);
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| walk(x, format!("{path}.{k}"), f)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| walk(x, format!("{path}[{i}]"), f)),
        _ => {}
    }
}

/// `$name`, `${name}`, `${name:fmt}`, `[[name]]` references in a string.
fn var_refs(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let braced = b.get(i + 1) == Some(&b'{');
            let start = i + 1 + usize::from(braced);
            let mut end = start;
            while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                end += 1;
            }
            if end > start {
                out.push(s[start..end].to_owned());
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn dashboards_are_import_ready() {
    let mut uids = BTreeSet::new();
    for (path, d) in dashboards() {
        let name = path.display().to_string();
        let uid = d["uid"].as_str().unwrap_or("");
        assert!(!uid.is_empty() && uid.len() <= 40, "{name}: uid {uid:?}");
        assert!(uids.insert(uid.to_owned()), "{name}: uid {uid} used twice");
        assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()), "{name}");
        assert!(
            d["schemaVersion"].as_u64().unwrap() >= 36,
            "{name}: Grafana 10+ schema"
        );

        // __inputs: one Prometheus datasource input, referenced by the datasource variable.
        let inputs = d["__inputs"].as_array().expect("__inputs");
        assert!(
            inputs
                .iter()
                .any(|i| i["type"] == "datasource" && i["pluginId"] == "prometheus"),
            "{name}: no Prometheus datasource input"
        );
        let input_names: BTreeSet<String> = inputs
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect();

        // Variables: datasource (a datasource variable), job, instance, lapi, bouncer, each queried through it.
        let vars = variables(&d);
        let var_names: BTreeSet<String> = vars
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect();
        for want in ["datasource", "job", "instance", "lapi", "bouncer"] {
            assert!(var_names.contains(want), "{name}: variable {want} missing");
        }
        let ds = vars.iter().find(|v| v["name"] == "datasource").unwrap();
        assert_eq!(ds["type"], "datasource", "{name}");
        assert_eq!(ds["query"], "prometheus", "{name}");

        // Panel ids unique, grid positions inside 24 columns and not overlapping.
        let ps = panels(&d);
        let mut ids = BTreeSet::new();
        let mut titles = BTreeSet::new();
        let mut rects = Vec::new();
        for p in &ps {
            let id = p["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: panel without id"));
            assert!(ids.insert(id), "{name}: panel id {id} used twice");
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_u64().unwrap(),
                g["y"].as_u64().unwrap(),
                g["w"].as_u64().unwrap(),
                g["h"].as_u64().unwrap(),
            );
            assert!(
                w > 0 && h > 0 && x + w <= 24,
                "{name}: panel {id} gridPos {g}"
            );
            rects.push((id, x, y, w, h));
            let title = p["title"].as_str().unwrap_or("");
            assert!(!title.is_empty(), "{name}: panel {id} has no title");
            assert!(titles.insert(title), "{name}: title {title:?} used twice");
            if p["type"] != "row" {
                let targets = p["targets"].as_array().unwrap();
                assert!(!targets.is_empty(), "{name}: panel {id} has no query");
                for t in targets {
                    assert!(t["expr"].as_str().is_some_and(|e| !e.is_empty()));
                }
            }
        }
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                let apart =
                    a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1 || a.2 + a.4 <= b.2 || b.2 + b.4 <= a.2;
                assert!(apart, "{name}: panels {} and {} overlap", a.0, b.0);
            }
        }

        // The datasource is the variable everywhere: no hard-coded uid; every reference names a variable.
        walk(&d, String::new(), &mut |at, v| {
            if at.ends_with(".datasource") && !at.starts_with(".templating.list[0]") {
                assert_eq!(v["uid"], "${datasource}", "{name}: datasource at {at}: {v}");
                assert_eq!(v["type"], "prometheus", "{name}: datasource at {at}");
            }
            if at.ends_with(".uid") && at != ".uid" {
                assert_eq!(v, "${datasource}", "{name}: hard-coded uid at {at}");
            }
            if let Value::String(s) = v {
                for r in var_refs(s) {
                    let known =
                        var_names.contains(&r) || input_names.contains(&r) || r.starts_with("__");
                    assert!(known, "{name}: {at} references ${r}, which is no variable");
                }
            }
        });
    }
}

// ---- the live proof -------------------------------------------------------------------------------------------

/// Minimal percent-encoding for a query string value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn prom_get(prom: std::net::SocketAddr, path: &str) -> Value {
    let (status, _, body) = http(prom, "GET", path, &[]);
    assert_eq!(status, 200, "GET {path}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "GET {path}: {body}");
    v
}

fn instant(prom: std::net::SocketAddr, q: &str) -> Vec<Value> {
    prom_get(prom, &format!("/api/v1/query?query={}", enc(q)))["data"]["result"]
        .as_array()
        .unwrap()
        .clone()
}

fn range(prom: std::net::SocketAddr, q: &str) -> Vec<Value> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let path = format!(
        "/api/v1/query_range?query={}&start={}&end={now}&step=2",
        enc(q),
        now - 60
    );
    prom_get(prom, &path)["data"]["result"]
        .as_array()
        .unwrap()
        .clone()
}

/// Grafana's substitution of template and built-in variables (regex-valued: they sit in `=~` matchers).
fn substitute(expr: &str, vals: &BTreeMap<&str, String>) -> String {
    let mut out = expr.to_owned();
    let mut keys: Vec<_> = vals.keys().collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.len())); // $__rate_interval before $__range
    for k in keys {
        out = out.replace(&format!("${{{k}}}"), &vals[k]);
        out = out.replace(&format!("${k}"), &vals[k]);
    }
    assert!(!out.contains('$'), "unsubstituted variable in {out}");
    out
}

fn value_of(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

/// Metric names in a PromQL expression: identifiers right before a `{` selector, plus every `crowdsec...` name.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_string = false;
    let mut token = String::new();
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c == '"' {
            in_string = !in_string;
            token.clear();
            continue;
        }
        if in_string {
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            token.push(c);
            continue;
        }
        if !token.is_empty() && (c == '{' || token.starts_with("crowdsec")) {
            out.insert(std::mem::take(&mut token));
        }
        token.clear();
    }
    out
}

fn backdate(lapi: &Lapi, name: &str, bouncer_type: &str, ago: &str) {
    lapi.sql()
        .execute(
            "UPDATE bouncers SET type = ?1, version = 'v0.0.1', ip_address = '127.0.0.1', \
             last_pull = strftime('%Y-%m-%d %H:%M:%f+00:00','now',?2) WHERE name = ?3",
            rusqlite::params![bouncer_type, ago, name],
        )
        .unwrap();
}

/// A CrowdSec 1.7 database with one bouncer that pushed usage metrics a minute ago (every remediation family, so
/// every remediation panel has data), active decisions of two origins, and bans on the stack itself.
fn db_with_usage_metrics(dir: &Path) -> PathBuf {
    let path = dir.join("crowdsec-1.7.db");
    let conn = db_1_7(&path);
    conn.execute(
        "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, \
         auth_type, osname, osversion, auto_created) VALUES (strftime('%Y-%m-%d %H:%M:%f+00:00','now','-2 days'), \
         strftime('%Y-%m-%d %H:%M:%f+00:00','now','-2 days'), 'nginx-live', 'hash', 0, '10.0.0.2', \
         'crowdsec-nginx-bouncer', 'v1.0.8', strftime('%Y-%m-%d %H:%M:%f+00:00','now','-30 hours'), 'api-key', \
         'debian', '12', 0)",
        [],
    )
    .unwrap();
    let items = [
        ("processed", "byte", "", ""),
        ("processed", "packet", "", ""),
        ("processed", "request", "", ""),
        ("dropped", "byte", "CAPI", ""),
        ("dropped", "packet", "CAPI", ""),
        ("dropped", "request", "lists:firehol_voipbl", "ban"),
    ]
    .iter()
    .map(|(n, u, o, r)| {
        format!(r#"{{"name":"{n}","unit":"{u}","value":7,"labels":{{"ip_type":"ipv4","origin":"{o}","remediation":"{r}"}}}}"#)
    })
    .chain([r#"{"name":"active_decisions","unit":"ip","value":3,"labels":{"ip_type":"ipv4","origin":"CAPI"}}"#.to_owned()])
    .collect::<Vec<_>>()
    .join(",");
    conn.execute(
        "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', 'nginx-live', \
         strftime('%Y-%m-%d %H:%M:%f+00:00','now','-1 minutes'), ?1)",
        [format!(r#"{{"metrics":[{{"meta":{{"utc_now_timestamp":1,"window_size_seconds":900}},"items":[{items}]}}]}}"#)],
    )
    .unwrap();
    for (origin, scenario) in [("CAPI", "http:scan"), ("lists", "firehol_voipbl")] {
        conn.execute(
            "INSERT INTO decisions (created_at, updated_at, until, scenario, type, scope, value, origin) VALUES \
             (strftime('%Y-%m-%d %H:%M:%f+00:00','now'), strftime('%Y-%m-%d %H:%M:%f+00:00','now'), \
             strftime('%Y-%m-%d %H:%M:%f+00:00','now','+1 days'), ?1, 'ban', 'Ip', '192.0.2.7', ?2)",
            [scenario, origin],
        )
        .unwrap();
    }
    // Issue 21 #3: six more CAPI IP decisions (7 in all): nginx-live's 3 are below half, it enforces partially.
    // Issue 21 #1: bans on the stack itself, on loopback and on nginx-live's address (the self-ban panels).
    let mut bans: Vec<(String, &str, &str)> = (10..16)
        .map(|n| (format!("192.0.2.{n}"), "CAPI", "http:scan"))
        .collect();
    bans.push(("127.0.0.1".into(), "cscli", "manual"));
    bans.push(("10.0.0.2".into(), "crowdsec", "crowdsecurity/http-probing"));
    for (value, origin, scenario) in &bans {
        conn.execute(
            "INSERT INTO decisions (created_at, updated_at, until, scenario, type, scope, value, origin, simulated) VALUES \
             (strftime('%Y-%m-%d %H:%M:%f+00:00','now'), strftime('%Y-%m-%d %H:%M:%f+00:00','now'), \
             strftime('%Y-%m-%d %H:%M:%f+00:00','now','+1 days'), ?1, 'ban', 'Ip', ?2, ?3, 0)",
            rusqlite::params![scenario, value, origin],
        )
        .unwrap();
    }
    path
}

fn start_prometheus(dir: &Path, targets: &[std::net::SocketAddr]) -> (Proc, std::net::SocketAddr) {
    let list = targets
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files: ['{rules}']\n\
         scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [{list}]\n",
        rules = repo().join("alerts/crowdsec-bouncers.rules.yml").display(),
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
            .arg(format!("--web.listen-address=127.0.0.1:{port}")),
        dir.join("prometheus.log"),
    );
    (proc, format!("127.0.0.1:{port}").parse().unwrap())
}

struct Query {
    dashboard: String,
    panel: String,
    ref_id: String,
    expr: String,
    range: bool,
}

fn queries(d: &Value, dashboard: &str) -> Vec<Query> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push(Query {
                dashboard: dashboard.to_owned(),
                panel: p["title"].as_str().unwrap().to_owned(),
                ref_id: t["refId"].as_str().unwrap().to_owned(),
                expr: t["expr"].as_str().unwrap().to_owned(),
                range: t["range"] != false,
            });
        }
    }
    out
}

/// `label_values(SELECTOR, LABEL)` of a query variable.
fn label_values_query(v: &Value) -> Option<(String, String)> {
    let q = v["query"]["query"].as_str().or(v["query"].as_str())?;
    let inner = q.strip_prefix("label_values(")?.strip_suffix(')')?;
    let (sel, label) = inner.rsplit_once(',')?;
    Some((sel.trim().to_owned(), label.trim().to_owned()))
}

#[test]
fn every_dashboard_query_runs_against_real_prometheus_and_crowdsec() {
    // The real LAPI: one live custom bouncer and one row in each other state.
    let lapi = Lapi::start();
    lapi.add_bouncer("ok-bouncer", LIVE_KEY);
    // Log processors (issue 21 #2): one beating, one silent for two days and not validated; written as the real
    // LAPI writes them (1.4.6 text times), behind its back.
    for (id, ago, valid) in [("agent-ok", "-30 seconds", 1), ("agent-gone", "-2 days", 0)] {
        lapi.sql()
            .execute(
                "INSERT INTO machines (created_at, updated_at, last_push, last_heartbeat, machine_id, password, ip_address, version, is_validated, auth_type) \
                 VALUES (strftime('%Y-%m-%d %H:%M:%f+00:00','now','-10 days'), strftime('%Y-%m-%d %H:%M:%f+00:00','now'), \
                 strftime('%Y-%m-%d %H:%M:%f+00:00','now','-3 days'), strftime('%Y-%m-%d %H:%M:%f+00:00','now',?2), ?1, 'x', '127.0.0.1', 'v1.4.6', ?3, 'password')",
                rusqlite::params![id, ago, valid],
            )
            .unwrap();
    }
    for name in [
        "late-bouncer",
        "offline-bouncer",
        "offline-firewall",
        "never-bouncer",
    ] {
        lapi.add_bouncer(name, &format!("{name}-key-0123456789abcdef"));
    }
    let _live = lapi.custom_bouncer(LIVE_KEY);
    wait_until(
        "the custom bouncer's first pull",
        Duration::from_secs(20),
        || {
            lapi.bouncers_json()
                .iter()
                .any(|r| r["name"] == "ok-bouncer" && r["type"] == "crowdsec-custom-bouncer")
        },
    );
    backdate(
        &lapi,
        "late-bouncer",
        "crowdsec-firewall-bouncer",
        "-2 hours",
    );
    backdate(
        &lapi,
        "offline-bouncer",
        "crowdsec-nginx-bouncer",
        "-26 hours",
    );
    backdate(
        &lapi,
        "offline-firewall",
        "crowdsec-firewall-bouncer",
        "-30 hours",
    );

    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let service = fake_service_api::FakeServiceApi::start(
        SERVICE_KEY,
        fake_service_api::sample_integrations(3),
    );
    std::fs::write(w.join("service-api.key"), SERVICE_KEY).unwrap();
    let key_file = w.join("service-api.key").display().to_string();
    // Bouncer configuration files: the live bouncer's (valid) and one with an unregistered key (invalid).
    let configs = w.join("bouncers");
    std::fs::create_dir(&configs).unwrap();
    for (file, key) in [
        ("crowdsec-custom-bouncer.yaml", LIVE_KEY),
        (
            "crowdsec-firewall-bouncer.yaml",
            "notRegisteredKey0123456789abcdefAB",
        ),
    ] {
        let path = configs.join(file);
        std::fs::write(
            &path,
            format!(
                "api_url: \"{}\"\napi_key: \"{key}\"\nbin_path: /bin/true\nlog_mode: stdout\n",
                lapi.url()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let configs_dir = configs.display().to_string();
    let no_configs = w.join("no-bouncer-configs");
    std::fs::create_dir(&no_configs).unwrap();
    let no_configs = no_configs.display().to_string();
    let config = lapi.config.display().to_string();
    let real = ExporterProc::start(
        &[
            "--crowdsec.config",
            &config,
            "--lapi.name",
            "e2e",
            "--bouncers.config-dir",
            &configs_dir,
            "--service-api.key-file",
            &key_file,
            "--service-api.url",
            &service.base_url(),
        ],
        w,
    );
    // The second exporter: CrowdSec 1.7 rows with usage metrics; its Service API refuses connections.
    let db17 = db_with_usage_metrics(w).display().to_string();
    let closed = format!("http://127.0.0.1:{}/v1", free_port());
    let v17 = ExporterProc::start(
        &[
            "--lapi.db",
            &db17,
            "--lapi.name",
            "fixture17",
            "--bouncers.config-dir",
            &no_configs,
            "--service-api.key-file",
            &key_file,
            "--service-api.url",
            &closed,
            "--service-api.timeout",
            "2s",
        ],
        w,
    );
    let (mut prom_proc, prom) = start_prometheus(w, &[real.addr, v17.addr]);
    wait_until("prometheus to be ready", Duration::from_secs(20), || {
        assert!(
            prom_proc.child.try_wait().unwrap().is_none(),
            "prometheus exited: {}",
            prom_proc.log_text()
        );
        std::net::TcpStream::connect(prom).is_ok() && http(prom, "GET", "/-/ready", &[]).0 == 200
    });
    wait_until(
        "prometheus to have every series",
        Duration::from_secs(60),
        || {
            let has = |q: &str| !instant(prom, q).is_empty();
            has("crowdsec_integration_info")
            && has("crowdsec_bouncer_last_usage_metrics_timestamp_seconds")
            && has("crowdsec_exporter_source_errors_total")
            && has("crowdsec:early_warning_threshold_seconds")
            && has("crowdsec:bouncer_offline_threshold_seconds")
            && has("crowdsec:usage_metrics_freshness_seconds")
            && instant(prom, "crowdsec_bouncer_config_valid").len() == 2
            && has("crowdsec_lapi_up")
            // a range of a few points for the range queries
            && range(prom, "crowdsec_bouncer_info{lapi=\"e2e\"}")
                .first()
                .is_some_and(|s| s["values"].as_array().unwrap().len() >= 3)
        },
    );

    // Metric names the exporters serve, and the recording rules of the shipped rule file.
    let mut served: BTreeSet<String> = BTreeSet::new();
    for text in [real.metrics(), v17.metrics()] {
        served.extend(parse_samples(&text).into_iter().map(|s| s.name));
    }
    let rules = std::fs::read_to_string(repo().join("alerts/crowdsec-bouncers.rules.yml")).unwrap();
    // Parsed, not matched line by line: the file is generated (mixin/) and its key order is jsonnet's.
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(&rules).unwrap();
    let recorded: BTreeSet<String> = rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_sequence().unwrap())
        .filter_map(|r| r["record"].as_str().map(str::to_owned))
        .collect();

    let all = |instance: &str, lapi: &str, bouncer: &str| -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("job", JOB.to_owned()),
            ("instance", instance.to_owned()),
            ("lapi", lapi.to_owned()),
            ("bouncer", bouncer.to_owned()),
            ("__rate_interval", "1m".to_owned()),
            ("__interval", "15s".to_owned()),
            ("__range", "1h".to_owned()),
        ])
    };
    let real_instance = real.addr.to_string();
    let v17_instance = v17.addr.to_string();
    // Variable values as a user would pick them: everything; one exporter; one bouncer of each exporter.
    let value_sets = [
        ("all", all(".*", ".*", ".*")),
        ("real LAPI", all(&real_instance, ".*", ".*")),
        ("ok-bouncer", all(&real_instance, "e2e", "ok-bouncer")),
        (
            "nginx-live (1.7)",
            all(&v17_instance, "fixture17", "nginx-live"),
        ),
    ];

    let mut results: BTreeMap<(String, String, String, String), Vec<Value>> = BTreeMap::new();
    let mut checked = 0;
    for (path, d) in dashboards() {
        let dash = path.file_name().unwrap().to_string_lossy().into_owned();
        // Variable queries: label_values(...) as Grafana sends them (/api/v1/label/L/values?match[]=S).
        for v in variables(&d).into_iter().filter(|v| v["type"] == "query") {
            let (sel, label) = label_values_query(v).unwrap_or_else(|| {
                panic!("{dash}: variable {} is not label_values(...)", v["name"])
            });
            for name in metric_names(&sel) {
                assert!(
                    served.contains(&name),
                    "{dash}: variable {} uses {name}, not served",
                    v["name"]
                );
            }
            for (set, vals) in &value_sets {
                let s = substitute(&sel, vals);
                let got = prom_get(
                    prom,
                    &format!("/api/v1/label/{label}/values?match[]={}", enc(&s)),
                );
                let values = got["data"].as_array().unwrap();
                assert!(
                    !values.is_empty(),
                    "{dash}: variable {} ({set}) has no value: {s}",
                    v["name"]
                );
                checked += 1;
            }
        }
        for q in queries(&d, &dash) {
            for name in metric_names(&q.expr) {
                let known = served.contains(&name)
                    || recorded.contains(&name)
                    || TARGET_SERIES.contains(&name.as_str());
                assert!(
                    known,
                    "{dash} / {}: metric {name} is neither served nor recorded",
                    q.panel
                );
            }
            let mut any = false;
            for (set, vals) in &value_sets {
                let e = substitute(&q.expr, vals);
                let got = instant(prom, &e);
                if q.range {
                    any |= !range(prom, &e).is_empty();
                }
                any |= !got.is_empty();
                results.insert(
                    (
                        q.dashboard.clone(),
                        q.panel.clone(),
                        q.ref_id.clone(),
                        set.to_string(),
                    ),
                    got,
                );
                checked += 1;
            }
            assert!(
                any,
                "{dash} / {} / {}: no data for any variable values: {}",
                q.panel, q.ref_id, q.expr
            );
        }
    }
    assert!(checked > 100, "only {checked} queries checked");

    // docs/metrics.md's "Example queries" run too.
    let readme = std::fs::read_to_string(repo().join("docs/metrics.md")).unwrap();
    let block = readme
        .split("```promql\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("docs/metrics.md has a promql block");
    let examples: Vec<&str> = block
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(examples.len() >= 5);
    for q in examples {
        for name in metric_names(q) {
            assert!(
                served.contains(&name),
                "docs/metrics.md query uses {name}, not served"
            );
        }
        instant(prom, q);
    }
    assert_eq!(
        instant(
            prom,
            "crowdsec_bouncer_info and on (lapi, bouncer) crowdsec_bouncer_pulled == 0"
        )
        .len(),
        1,
        "docs/metrics.md's never-pulled query finds never-bouncer"
    );

    let get = |dash: &str, panel: &str, ref_id: &str, set: &str| -> Vec<Value> {
        let key = (
            dash.to_owned(),
            panel.to_owned(),
            ref_id.to_owned(),
            set.to_owned(),
        );
        results
            .get(&key)
            .unwrap_or_else(|| panic!("no panel {dash} / {panel} / {ref_id}"))
            .clone()
    };
    let single = |dash: &str, panel: &str, set: &str| -> f64 {
        let r = get(dash, panel, "A", set);
        assert_eq!(r.len(), 1, "{dash} / {panel} ({set}): {r:?}");
        value_of(&r[0])
    };
    const OV: &str = "crowdsec-bouncers.json";
    const DE: &str = "crowdsec-bouncer-detail.json";
    // State counts with the rules' thresholds: one bouncer in each state.
    for (panel, want) in [
        ("Registered", 5.0),
        ("OK", 1.0),
        ("Late", 1.0),
        ("Offline", 2.0),
        ("Never pulled", 1.0),
        ("Integrations", 3.0),
    ] {
        assert_eq!(single(OV, panel, "real LAPI"), want, "{panel}");
    }
    assert_eq!(single(OV, "Registered", "all"), 6.0);
    // nginx-live (1.7) last pulled 30 h ago but sent usage metrics a minute ago: idle but alive, as for the alerts.
    assert_eq!(single(OV, "Offline", "all"), 2.0);
    assert_eq!(single(OV, "OK", "all"), 2.0);
    // A table's state column, with the runbook of each state's alert, and what it must show: by `key` (the
    // bouncer, the integration), (code, runbook).
    let assert_states = |panel: &str, ref_id: &str, key: &str, want: &[(&str, f64, &str)]| {
        let got: BTreeMap<String, (f64, String)> = get(OV, panel, ref_id, "real LAPI")
            .iter()
            .map(|s| {
                let m = &s["metric"];
                (
                    m[key].as_str().unwrap().to_owned(),
                    (value_of(s), m["runbook"].as_str().unwrap_or("").to_owned()),
                )
            })
            .collect();
        let want: BTreeMap<String, (f64, String)> = want
            .iter()
            .map(|(k, v, r)| ((*k).to_owned(), (*v, (*r).to_owned())))
            .collect();
        assert_eq!(got, want, "{panel} / {ref_id}");
        for (_, runbook) in want.values() {
            if !runbook.is_empty() {
                assert!(
                    repo().join(format!("docs/runbooks/{runbook}.md")).is_file(),
                    "{runbook}"
                );
            }
        }
    };
    assert_states(
        "Bouncers",
        "C",
        "bouncer",
        &[
            ("ok-bouncer", 0.0, ""),
            ("late-bouncer", 1.0, "CrowdSecBouncerPullOverdue"),
            ("offline-bouncer", 2.0, "CrowdSecBouncerOffline"),
            ("offline-firewall", 2.0, "CrowdSecFirewallBouncerOffline"),
            // CrowdSec 1.4.6 keeps no registration time: never pulled, and no alert can fire (6, as diagnose says).
            ("never-bouncer", 6.0, ""),
        ],
    );
    assert_eq!(get(OV, "Bouncers", "A", "real LAPI").len(), 5);
    // Issue 21: the 1.7 fixture's two bans on the stack (loopback, nginx-live's address) and nginx-live holding 3
    // of its LAPI's 7 CAPI IP decisions (below half).
    let one = |panel: &str, r: &str, set: &str| -> f64 {
        let got = get(OV, panel, r, set);
        assert_eq!(got.len(), 1, "{panel} {r} {set}: {got:?}");
        value_of(&got[0])
    };
    assert_eq!(one("Self-bans", "A", "nginx-live (1.7)"), 2.0);
    assert_eq!(
        get(
            OV,
            "Self-bans by target, origin and scenario",
            "A",
            "nginx-live (1.7)"
        )
        .len(),
        2
    );
    assert_eq!(
        one("Bouncers cut off by a ban", "A", "nginx-live (1.7)"),
        1.0
    );
    assert_eq!(one("Enforcing partially", "A", "all"), 1.0);
    assert_eq!(
        one("Partial enforcement per bouncer", "B", "nginx-live (1.7)"),
        7.0
    );
    assert_eq!(
        one("Partial enforcement per bouncer", "D", "nginx-live (1.7)"),
        1.0
    );
    assert!(get(OV, "Self-bans", "A", "real LAPI").is_empty());
    assert_eq!(
        get(OV, "Bouncers", "B", "real LAPI").len(),
        4,
        "1.4.6: no age for a never-pulled row"
    );
    assert_eq!(
        get(OV, "Integrations by last pull", "A", "real LAPI").len(),
        3
    );
    assert_eq!(
        get(OV, "Integrations by last pull", "C", "real LAPI").len(),
        3
    );
    // The integrations' state column, from the rules (integration:crowdsec_integration_state:code): the fake
    // Service API's integrations were created in 2024; two never pulled, the third last pulled in 2024.
    assert_states(
        "Integrations by last pull",
        "F",
        "integration",
        &[
            ("integration-000", 3.0, "CrowdSecIntegrationNeverPulled"),
            ("integration-001", 3.0, "CrowdSecIntegrationNeverPulled"),
            ("integration-002", 2.0, "CrowdSecFirewallIntegrationOffline"),
        ],
    );
    // The threshold lines come from the loaded recording rules.
    assert_eq!(value_of(&get(OV, "Last pull age", "B", "all")[0]), 3600.0);
    assert_eq!(value_of(&get(OV, "Last pull age", "C", "all")[0]), 86400.0);
    // Exporter health: both up; the 1.7 exporter's unreachable Service API shows down with an error reason.
    assert_eq!(get(OV, "Exporter up", "A", "all").len(), 2);
    assert!(get(OV, "Exporter up", "A", "all")
        .iter()
        .all(|s| value_of(s) == 1.0));
    let sources = get(OV, "Sources", "A", "all");
    let up_of = |instance: &str, source: &str| {
        sources
            .iter()
            .find(|s| s["metric"]["instance"] == instance && s["metric"]["source"] == source)
            .map(value_of)
    };
    assert_eq!(up_of(&real_instance, "lapi_db"), Some(1.0));
    assert_eq!(up_of(&real_instance, "service_api"), Some(1.0));
    assert_eq!(up_of(&v17_instance, "service_api"), Some(0.0));
    assert!(!get(OV, "Source errors", "A", "all").is_empty());
    assert!(
        get(OV, "Source errors", "A", "real LAPI").is_empty(),
        "the real LAPI's sources do not fail"
    );
    // Config validity in the bouncers table, the files' table, LAPI health.
    let config_of: BTreeMap<String, f64> = get(OV, "Bouncers", "D", "real LAPI")
        .iter()
        .map(|s| {
            (
                s["metric"]["bouncer"].as_str().unwrap().to_owned(),
                value_of(s),
            )
        })
        .collect();
    assert_eq!(config_of, BTreeMap::from([("ok-bouncer".to_owned(), 1.0)]));
    let files = get(OV, "Bouncer configuration files", "A", "real LAPI");
    let valid_of = |file: &str| {
        files
            .iter()
            .find(|s| s["metric"]["path"].as_str().unwrap().ends_with(file))
            .map(|s| {
                (
                    s["metric"]["bouncer"].as_str().unwrap_or("").to_owned(),
                    value_of(s),
                )
            })
    };
    assert_eq!(
        valid_of("crowdsec-custom-bouncer.yaml"),
        Some(("ok-bouncer".to_owned(), 1.0))
    );
    assert_eq!(
        valid_of("crowdsec-firewall-bouncer.yaml"),
        Some((String::new(), 0.0))
    );
    let failing = get(OV, "Bouncer configuration files", "B", "real LAPI");
    let failing_of = |file: &str| {
        failing
            .iter()
            .find(|s| s["metric"]["path"].as_str().unwrap().ends_with(file))
            .map(value_of)
    };
    assert_eq!(failing_of("crowdsec-custom-bouncer.yaml"), Some(0.0));
    assert!(failing_of("crowdsec-firewall-bouncer.yaml").unwrap() >= 1.0);
    assert_eq!(single(OV, "LAPI health", "real LAPI"), 1.0);
    let checks = get(DE, "Configuration checks", "A", "ok-bouncer");
    assert!(
        checks
            .iter()
            .any(|c| c["metric"]["check"] == "key_registered"),
        "{checks:?}"
    );
    // The file's own checks pass; the host evidence says its bouncer runs from another copy of the file (the real
    // custom bouncer was started with its own), so `running` is honestly 0 there.
    let host = |c: &serde_json::Value| {
        matches!(
            c["metric"]["check"].as_str(),
            Some("running" | "log" | "endpoint_reachable")
        )
    };
    assert!(
        checks
            .iter()
            .filter(|c| !host(c))
            .all(|c| value_of(c) == 1.0),
        "{checks:?}"
    );
    assert_eq!(single(DE, "LAPI health", "ok-bouncer"), 1.0);
    // The detail dashboard on one bouncer.
    assert_eq!(single(DE, "State", "ok-bouncer"), 0.0);
    assert!(single(DE, "Last pull", "ok-bouncer") < 60.0);
    assert_eq!(get(DE, "Registration", "A", "ok-bouncer").len(), 1);
    assert!(
        get(DE, "Usage metrics", "A", "ok-bouncer").is_empty(),
        "1.4.6 has no usage metrics"
    );
    assert!(single(DE, "Usage metrics", "nginx-live (1.7)") < 3600.0);
    assert_eq!(single(DE, "State", "nginx-live (1.7)"), 4.0, "idle, alive");
}
