//! Golden exposition: a fixed database and a fixed clock give a byte-identical `/metrics`, in both formats, as
//! node_exporter's `collector/fixtures/e2e-output.txt`. Any change of a name, label, HELP text, order or value
//! format shows up here. After an intended change, regenerate with
//! `CSBE_UPDATE_GOLDEN=1 cargo test --test it golden::` and review the diff of tests/fixtures/golden/.

use crate::common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;

use crate::fake_service_api::{self, FakeServiceApi};
use common::{db_1_7, temp_path, ts, BASE_TS, FIXTURES};
use crowdsec_bouncer_exporter::crowdsec::bouncer_files::checks::{
    Check, CheckResult, FileReport, Status,
};
use crowdsec_bouncer_exporter::crowdsec::bouncer_files::Kind;
use crowdsec_bouncer_exporter::exporter::{self, Exporter};
use crowdsec_bouncer_exporter::metrics::{self, Format};
use crowdsec_bouncer_exporter::scrape::{AnyReport, ReloadStatus, Scrape, SourceReport};
use crowdsec_bouncer_exporter::settings::{
    CheckSettings, LapiDbLocation, LapiSettings, ServiceApiSettings, Settings,
};
use crowdsec_bouncer_exporter::sources::bouncer_config::ConfigSnapshot;
use crowdsec_bouncer_exporter::sources::lapi_health::LapiHealth;
use crowdsec_bouncer_exporter::sources::own_process::ProcessStats;
use crowdsec_bouncer_exporter::sources::service_api::{self, IntegrationSnapshot};
use crowdsec_bouncer_exporter::values::secret::Secret;

/// The scrape's clock: one hour after [`BASE_TS`], a whole second plus a fraction, as a real clock gives.
const NOW: f64 = BASE_TS + 3600.0;

const INSERT_17: &str = "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES (?1, ?1, ?2, 'secret-hash-0123', ?3, ?4, ?5, ?6, ?7, ?8, 'debian', '12', ?9)";

/// A CrowdSec 1.7 database: a fresh and a late firewall bouncer (the late one superseded by its `@ip` row), a
/// never-pulled bouncer, a live-mode bouncer alive by usage metrics, a revoked TLS bouncer, and a label value
/// that needs escaping.
fn database(path: &Path) {
    let conn = db_1_7(path);
    let row = |created: String,
               name: &str,
               revoked: bool,
               ip: &str,
               kind: Option<&str>,
               last_pull: Option<String>,
               auth: &str,
               auto: bool| {
        conn.execute(
            INSERT_17,
            rusqlite::params![
                created,
                name,
                revoked,
                ip,
                kind,
                kind.map(|_| "v0.0.31"),
                last_pull,
                auth,
                auto
            ],
        )
        .unwrap();
    };
    let fw = Some("crowdsec-firewall-bouncer");
    row(
        ts(0),
        "fw",
        false,
        "10.0.0.2",
        fw,
        Some(ts(-90_000)),
        "api-key",
        false,
    );
    row(
        ts(10),
        "fw@10.0.0.2",
        false,
        "10.0.0.2",
        fw,
        Some(ts(3590)),
        "api-key",
        true,
    );
    row(ts(-3600), "never", false, "", None, None, "api-key", false);
    let nginx = Some("crowdsec-nginx-bouncer");
    row(
        ts(0),
        "nginx-live",
        false,
        "10.0.0.3",
        nginx,
        Some(ts(-200_000)),
        "api-key",
        false,
    );
    row(
        ts(0),
        "tls-cn@10.0.0.4",
        true,
        "10.0.0.4",
        fw,
        Some(ts(3000)),
        "tls",
        false,
    );
    row(
        ts(0),
        "quote\"back\\slash",
        false,
        "10.0.0.5",
        fw,
        Some(ts(3540)),
        "api-key",
        false,
    );
    let m = "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES (?1, ?2, ?3, ?4)";
    conn.execute(
        m,
        rusqlite::params![
            "RC",
            "nginx-live",
            ts(3540),
            r#"{"type":"crowdsec-nginx-bouncer","metrics":[{"meta":{"utc_now_timestamp":1704168185,"window_size_seconds":900},"items":[{"name":"processed","unit":"request","value":120,"labels":{"ip_type":"ipv4"}},{"name":"dropped","unit":"request","value":4,"labels":{"ip_type":"ipv4","origin":"CAPI","remediation":"ban"}},{"name":"active_decisions","unit":"ip","value":0,"labels":{"ip_type":"ipv4","origin":"CAPI"}}]}]}"#
        ],
    )
    .unwrap();
    conn.execute(
        m,
        rusqlite::params![
            "RC",
            "fw",
            ts(3500),
            r#"{"type":"crowdsec-firewall-bouncer","metrics":[{"meta":{"utc_now_timestamp":1704168145,"window_size_seconds":900},"items":[{"name":"processed","unit":"byte","value":9000,"labels":{"ip_type":"ipv4"}},{"name":"processed","unit":"packet","value":90,"labels":{"ip_type":"ipv4"}},{"name":"dropped","unit":"byte","value":640,"labels":{"ip_type":"ipv4","origin":"lists:firehol_voipbl"}},{"name":"dropped","unit":"packet","value":8,"labels":{"ip_type":"ipv4","origin":"lists:firehol_voipbl"}},{"name":"active_decisions","unit":"ip","value":1500,"labels":{"ip_type":"ipv4","origin":"lists:firehol_voipbl"}}]}]}"#
        ],
    )
    .unwrap();
    // Decisions: active ones of three origins (a blocklist's named `lists:<list>`), and an expired and a simulated
    // one that do not count. `until` far from the real clock the source compares with.
    let d = "INSERT INTO decisions (created_at, updated_at, until, scenario, type, scope, value, origin, simulated) VALUES (?1, ?1, ?2, ?3, 'ban', 'Ip', ?4, ?5, ?6)";
    for (until, scenario, value, origin, simulated) in [
        (
            "2099-01-01 00:00:00+00:00",
            "http:scan",
            "192.0.2.1",
            "CAPI",
            false,
        ),
        (
            "2099-01-01 00:00:00+00:00",
            "http:scan",
            "192.0.2.2",
            "CAPI",
            false,
        ),
        (
            "2099-01-01 00:00:00+00:00",
            "manual",
            "192.0.2.3",
            "cscli",
            false,
        ),
        (
            "2099-01-01 00:00:00+00:00",
            "firehol_voipbl",
            "192.0.2.4",
            "lists",
            false,
        ),
        (
            "2000-01-01 00:00:00+00:00",
            "http:scan",
            "192.0.2.5",
            "CAPI",
            false,
        ),
        (
            "2099-01-01 00:00:00+00:00",
            "http:scan",
            "192.0.2.6",
            "crowdsec",
            true,
        ),
        // Issue 21: self-bans, on loopback and on bouncer nginx-live's address.
        (
            "2099-01-01 00:00:00+00:00",
            "crowdsecurity/http-probing",
            "127.0.0.1",
            "crowdsec",
            false,
        ),
        (
            "2099-01-01 00:00:00+00:00",
            "manual",
            "10.0.0.3",
            "cscli",
            false,
        ),
    ] {
        conn.execute(
            d,
            rusqlite::params![ts(0), until, scenario, value, origin, simulated],
        )
        .unwrap();
    } // Issue 21 #2: a log processor that logged in (it has a version), its last heartbeat two minutes before the
      // database's clock and its last alert push ten.
    conn.execute(
        "INSERT INTO machines (created_at, updated_at, last_push, last_heartbeat, machine_id, password, ip_address, version, is_validated, auth_type) VALUES (?1, ?1, ?2, ?3, 'agent-1', 'not-a-hash', '10.0.0.9', 'v1.7.0-debian', true, 'password')",
        rusqlite::params![ts(-86_400), ts(-600), ts(-120)],
    )
    .unwrap();
}

/// What a source report says about time, fixed: the duration of the last read and when it succeeded.
fn fixed(r: &Arc<dyn AnyReport>) -> Arc<dyn AnyReport> {
    let any = r.as_any();
    if let Some(api) = any.downcast_ref::<SourceReport<IntegrationSnapshot>>() {
        // Named as the real Service API, not the fake's 127.0.0.1 address.
        return fixed_with(api, "admin.api.crowdsec.net".to_owned(), api.data.clone());
    }
    if let Some(c) = any.downcast_ref::<SourceReport<ConfigSnapshot>>() {
        return fixed_with(c, c.name.clone(), Some(Arc::new(config_snapshot())));
    }
    if let Some(h) = any.downcast_ref::<SourceReport<LapiHealth>>() {
        // The request's duration, fixed as the sources' are.
        let data = h.data.as_ref().map(|d| {
            let mut d = (**d).clone();
            d.duration_seconds = 0.005;
            Arc::new(d)
        });
        return fixed_with(h, h.name.clone(), data);
    }
    r.with_times(0.25, r.health().last_success.map(|_| NOW - 1.0))
}

/// [`fixed`], with its `name` label and its data replaced.
fn fixed_with<T>(r: &SourceReport<T>, name: String, data: Option<Arc<T>>) -> Arc<SourceReport<T>> {
    Arc::new(SourceReport {
        name,
        data,
        last_duration_seconds: 0.25,
        last_success: r.last_success.map(|_| NOW - 1.0),
        ..r.clone()
    })
}

/// A LAPI's `/health`: 200 to every request, for as long as the test process runs.
fn lapi_health_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = conn.read(&mut request);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK",
            );
        }
    });
    format!("http://{addr}/")
}

const SERVICE_KEY: &str = "golden-service-key";

/// Two Blocklist-as-a-Service integrations: a firewall one that pulled 10 minutes before [`NOW`], and a
/// remediation-component one that never pulled and serves zero items (no blocklist).
fn integrations() -> Vec<serde_json::Value> {
    let rfc3339 = |offset: i64| ts(offset).replacen(' ', "T", 1);
    let mut fw = fake_service_api::integration(1, "paloalto-edge", true);
    fw["created_at"] = serde_json::json!(rfc3339(-86_400));
    fw["last_pull"] = serde_json::json!(rfc3339(3000));
    let mut rc = fake_service_api::integration(2, "nginx-blaas", false);
    rc["created_at"] = serde_json::json!(rfc3339(-7200));
    rc["last_pull"] = serde_json::Value::Null;
    rc["blocklists"] = serde_json::json!([]);
    rc["stats"] = serde_json::json!({"count": 0});
    vec![fw, rc]
}

/// The bouncer configuration checks' snapshot, written out rather than read (the file checks, the host's
/// processes and the endpoint probes have their own tests): a firewall bouncer's file with every kind of check
/// (a warning, a failed host check) and the errors of its log, a Blocklist-as-a-Service device's file with a bad key
/// (its `integration` check comes from the Service API's integrations), and a FIFO left unread.
fn config_snapshot() -> ConfigSnapshot {
    let check = |check: Check, status: Status| CheckResult {
        check,
        status,
        detail: String::new(),
        fix: None,
    };
    let file = |path: &str, kind: Kind, api_url: &str, bouncer: Option<&str>| FileReport {
        path: PathBuf::from(path),
        kind,
        api_url: Some(api_url.to_owned()),
        bouncer: bouncer.map(str::to_owned),
        lapi: bouncer.map(|_| "local".to_owned()),
        enabled: true,
        mode: None,
        tls_cn: None,
        id_name: None,
        checks: Vec::new(),
        skipped: Vec::new(),
        notes: Vec::new(),
        log_errors: BTreeMap::new(),
    };
    let mut fw = file(
        "/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml",
        Kind::Go,
        "http://127.0.0.1:8080/",
        Some("fw"),
    );
    fw.checks = vec![
        check(Check::Readable, Status::Pass),
        check(Check::Parses, Status::Pass),
        check(Check::ApiUrl, Status::Pass),
        check(Check::ApiKey, Status::Pass),
        check(Check::KeyRegistered, Status::Pass),
        check(Check::EndpointReachable, Status::Pass),
        check(Check::LapiReachable, Status::Pass),
        check(Check::Permissions, Status::Warn),
        check(Check::Running, Status::Pass),
        check(Check::Log, Status::Fail),
    ];
    fw.log_errors = BTreeMap::from([("auth", 3), ("connect", 1)]);
    let mut blaas = file(
        "/etc/crowdsec/bouncers/crowdsec-blaas.yaml",
        Kind::Go,
        &format!("https://admin.api.crowdsec.net/v1/integrations/{:024x}", 2),
        None,
    );
    blaas.checks = vec![
        check(Check::Readable, Status::Pass),
        check(Check::Parses, Status::Pass),
        check(Check::ApiKey, Status::Fail),
    ];
    ConfigSnapshot {
        files: vec![fw, blaas],
        skipped: BTreeMap::from([("not_regular", 1)]),
    }
}

/// Two LAPIs: `local`, read from the database above through CrowdSec's config (with `bouncers_autodelete`) and
/// answering `/health`, and `gone`, whose database file is missing (source down, reason `missing_file`); the
/// Service API (the fake, named as the real one) and the bouncer configuration checks ([`config_snapshot`]).
fn scrape(dir: &tempfile::TempDir) -> Scrape {
    let path = temp_path(dir, "crowdsec.db");
    database(&path);
    let config = temp_path(dir, "config.yaml");
    std::fs::write(
        &config,
        format!(
            "db_config:\n  type: sqlite\n  db_path: {}\n  flush:\n    bouncers_autodelete:\n      api_key: 2h\n      cert: 48h\n",
            path.display()
        ),
    )
    .unwrap();
    let mut settings =
        Settings::single_lapi("local", LapiDbLocation::FromCrowdsecConfig(config.clone()));
    settings.lapis[0].url = Some(lapi_health_server().parse().unwrap());
    settings.lapis.push(LapiSettings {
        name: "gone".to_owned(),
        db: LapiDbLocation::Sqlite(temp_path(dir, "missing.db")),
        cache_interval: Duration::ZERO,
        decisions_interval: Duration::ZERO,
        read_timeout: Duration::from_secs(5),
        url: None,
    });
    let bouncers = temp_path(dir, "bouncers");
    std::fs::create_dir_all(&bouncers).unwrap();
    settings.set_group(Some(CheckSettings {
        config_dirs: vec![bouncers],
        config_files: vec![],
        lapi_url: None,
        crowdsec_config: config,
        interval: Duration::ZERO,
        timeout: Duration::from_secs(5),
    }));
    let fake = FakeServiceApi::start(SERVICE_KEY, integrations());
    settings.set_group(Some(ServiceApiSettings {
        url: service_api::parse_base_url(&fake.base_url()).unwrap(),
        key: Secret::new(SERVICE_KEY),
        tags: vec![],
        refresh_interval: Duration::ZERO,
        timeout: Duration::from_secs(5),
    }));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(async {
        Exporter::new(&settings)
            .expect("the sources build")
            .scrape(Duration::from_secs(10))
            .await
    });
    let service_api = s
        .report::<IntegrationSnapshot>()
        .expect("the Service API source");
    assert!(
        service_api.up,
        "the fake Service API is read: {service_api:?}"
    );
    assert!(s.report::<ConfigSnapshot>().is_some(), "the checks source");
    Scrape {
        now: NOW,
        reports: s.reports.iter().map(fixed).collect(),
        // A `--web.config.file` loaded a minute before the scrape, its last reload good.
        web_config: Some(ReloadStatus {
            successful: true,
            last_success: NOW - 60.0,
        }),
        // The exporter's own process, fixed (read from /proc at each real scrape).
        process: Some(ProcessStats {
            cpu_seconds: Some(12.34),
            resident_memory_bytes: Some(18_874_368.0),
            virtual_memory_bytes: Some(1_207_959_552.0),
            start_time_seconds: Some(NOW - 86_400.0 + 0.5),
            open_fds: Some(11.0),
            max_fds: Some(1024.0),
            virtual_memory_max_bytes: Some(u64::MAX as f64),
        }),
    }
}

/// The build's version and revision change with every release and commit, not with the exposition.
fn without_build(text: &str) -> String {
    text.replace(
        &format!(
            "version=\"{}\",revision=\"{}\"",
            metrics::VERSION,
            metrics::REVISION
        ),
        "version=\"<version>\",revision=\"<revision>\"",
    )
}

fn check(file: &str, got: &str) {
    let path = Path::new(FIXTURES).join("golden").join(file);
    if std::env::var_os("CSBE_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with CSBE_UPDATE_GOLDEN=1",
            path.display()
        )
    });
    if want != got {
        let first = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{file} differs from the golden exposition at line {}:\n  want: {:?}\n  got:  {:?}\n\
             (an intended change: CSBE_UPDATE_GOLDEN=1 cargo test --test it golden::, then review the diff)",
            first + 1,
            want.lines().nth(first),
            got.lines().nth(first)
        );
    }
}

#[test]
fn a_fixed_database_and_clock_give_the_golden_exposition() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let classic = without_build(&exporter::encode(scrape(&a), Format::Classic));
    check("metrics.txt", &classic);
    let openmetrics = without_build(&exporter::encode(scrape(&b), Format::OpenMetrics));
    check("metrics.openmetrics.txt", &openmetrics);
}

/// The families a metrics table of the documentation lists: README.md and docs/*.md, any table headed
/// `| metric | labels | meaning |`. A cell's `{a,b}` expands, and a name `..._x` is the cell's first name with its
/// last two `_` words replaced by `x` (`crowdsec_exporter_usage_reports_total`, `..._items_skipped_total`).
fn documented_families() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = vec![root.join("README.md")];
    let mut more: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    let mut out = Vec::new();
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        let mut in_table = false;
        for line in text.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() > 3 && cells[1] == "metric" && cells[2] == "labels" {
                in_table = true;
                continue;
            }
            if !line.starts_with('|') {
                in_table = false;
            }
            if !in_table || cells.len() < 2 {
                continue;
            }
            let names: Vec<&str> = cells[1]
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|n| n.starts_with("crowdsec_") || n.starts_with("..._"))
                .collect();
            let Some(first) = names.first().copied() else {
                continue;
            };
            for name in names {
                let name = match name.strip_prefix("..._") {
                    Some(rest) => {
                        let words: Vec<&str> = first.split('_').collect();
                        format!("{}_{rest}", words[..words.len() - 2].join("_"))
                    }
                    None => name.to_owned(),
                };
                match (name.find('{'), name.find('}')) {
                    (Some(a), Some(b)) => out.extend(
                        name[a + 1..b]
                            .split(',')
                            .map(|alt| format!("{}{alt}{}", &name[..a], &name[b + 1..])),
                    ),
                    _ => out.push(name),
                }
            }
        }
    }
    out
}

/// The metric names of an exposition's samples.
fn sample_names(text: &str) -> std::collections::BTreeSet<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .collect()
}

#[test]
fn the_golden_exposition_pins_every_documented_family() {
    let documented = documented_families();
    assert!(
        documented.len() >= 35,
        "the metrics table was not found or is short: {documented:?}"
    );
    for file in ["metrics.txt", "metrics.openmetrics.txt"] {
        let text = std::fs::read_to_string(Path::new(FIXTURES).join("golden").join(file)).unwrap();
        let samples = sample_names(&text);
        let missing: Vec<&String> = documented
            .iter()
            .filter(|f| !samples.contains(f.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{file} pins no sample of {missing:?}: add them to the golden scrape"
        );
    }
}

/// Issue 25 #8: every family the exporter can serve has a row in docs/metrics.md's table (crowdsec_bouncer_config_enabled
/// had none). Families: each name given to the encoder in src/metrics/ (a metric is born in the file of its prefix),
/// and each `# TYPE` of the golden expositions (the usage families are named by a format string); a counter's row
/// names it with `_total`. A row may group names as `prefix_{a,b}_suffix`.
#[test]
fn every_served_family_has_a_row_in_docs_metrics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut families = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(root.join("src/metrics")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for piece in text.split('"').skip(1).step_by(2) {
            let is_name = (piece.starts_with("crowdsec_") || piece.starts_with("process_"))
                && !piece.ends_with('_')
                && piece
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if is_name {
                families.insert(piece.to_owned());
            }
        }
    }
    for f in ["metrics.txt", "metrics.openmetrics.txt"] {
        let text = std::fs::read_to_string(Path::new(FIXTURES).join("golden").join(f)).unwrap();
        for l in text.lines() {
            if let Some(name) = l.strip_prefix("# TYPE ").and_then(|r| r.split(' ').next()) {
                families.insert(name.to_owned());
            }
        }
    }
    assert!(families.len() >= 35, "{families:?}");
    let doc = std::fs::read_to_string(root.join("docs/metrics.md")).unwrap();
    let mut rows = std::collections::BTreeSet::new();
    for l in doc.lines().filter(|l| l.starts_with("| `")) {
        let first = l.split(" | ").next().unwrap();
        for name in first.split('`').skip(1).step_by(2) {
            match (name.find('{'), name.find('}')) {
                (Some(a), Some(b)) => {
                    for alt in name[a + 1..b].split(',') {
                        rows.insert(format!("{}{alt}{}", &name[..a], &name[b + 1..]));
                    }
                }
                _ => {
                    rows.insert(name.to_owned());
                }
            }
        }
    }
    let missing: Vec<&String> = families
        .iter()
        .filter(|f| !rows.contains(*f) && !rows.contains(&format!("{f}_total")))
        .collect();
    assert!(
        missing.is_empty(),
        "no row in docs/metrics.md for {missing:?}"
    );
}
