//! Golden exposition: a fixed database and a fixed clock give a byte-identical `/metrics`, in both formats, as
//! node_exporter's `collector/fixtures/e2e-output.txt`. Any change of a name, label, HELP text, order or value
//! format shows up here. After an intended change, regenerate with
//! `CSBE_UPDATE_GOLDEN=1 cargo test --test it golden::` and review the diff of tests/fixtures/golden/.

use crate::common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{db_1_7, temp_path, ts, BASE_TS, FIXTURES};
use crowdsec_bouncer_exporter::exporter::Exporter;
use crowdsec_bouncer_exporter::metrics::{self, Format};
use crowdsec_bouncer_exporter::scrape::{ReloadStatus, Scrape, SourceReport};
use crowdsec_bouncer_exporter::settings::{LapiDbLocation, LapiSettings, Settings};

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
    ] {
        conn.execute(
            d,
            rusqlite::params![ts(0), until, scenario, value, origin, simulated],
        )
        .unwrap();
    }
}

/// What a source report says about time, fixed: the duration of the last read and when it succeeded.
fn fixed<T>(r: &Arc<SourceReport<T>>) -> Arc<SourceReport<T>> {
    Arc::new(SourceReport {
        kind: r.kind,
        name: r.name.clone(),
        lapi: r.lapi.clone(),
        data: r.data.clone(),
        up: r.up,
        last_error: r.last_error.clone(),
        last_duration_seconds: 0.25,
        last_success: r.last_success.map(|_| NOW - 1.0),
        errors: r.errors.clone(),
        reads: r.reads,
    })
}

/// Two LAPIs: `local`, read from the database above, and `gone`, whose database file is missing (source down,
/// reason `missing_file`).
fn scrape(dir: &tempfile::TempDir) -> Scrape {
    let path = temp_path(dir, "crowdsec.db");
    database(&path);
    let mut settings = Settings::single_lapi("local", LapiDbLocation::Sqlite(path));
    settings.lapis.push(LapiSettings {
        name: "gone".to_owned(),
        db: LapiDbLocation::Sqlite(temp_path(dir, "missing.db")),
        cache_interval: Duration::ZERO,
        decisions_interval: Duration::ZERO,
        read_timeout: Duration::from_secs(5),
        url: None,
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(async {
        Exporter::new(&settings)
            .expect("the sources build")
            .scrape(Duration::from_secs(10))
            .await
    });
    Scrape {
        now: NOW,
        lapis: s.lapis.iter().map(fixed).collect(),
        service_api: s.service_api.as_ref().map(fixed),
        bouncer_config: s.bouncer_config.as_ref().map(fixed),
        lapi_health: s.lapi_health.iter().map(fixed).collect(),
        lapi_decisions: s.lapi_decisions.iter().map(fixed).collect(),
        lapi_machines: s.lapi_machines.iter().map(fixed).collect(),
        // A `--web.config.file` loaded a minute before the scrape, its last reload good.
        web_config: Some(ReloadStatus {
            successful: true,
            last_success: NOW - 60.0,
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
    let classic = without_build(&metrics::encode(scrape(&a), Format::Classic));
    check("metrics.txt", &classic);
    let openmetrics = without_build(&metrics::encode(scrape(&b), Format::OpenMetrics));
    check("metrics.openmetrics.txt", &openmetrics);
}
