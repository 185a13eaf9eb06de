//! Remediation metrics from the bouncers' usage reports (issue 14), through the SQLite source and the exposition:
//! the fixture's hand-computed values, a report added while running counted once, CrowdSec's flush of old rows
//! changing nothing, a broken payload changing nothing but its own count.

use crate::common;
use crate::common::usage::{assert_expected, rows, usage_series};
use crate::common::*;
use crowdsec_bouncer_exporter::settings::{LapiDbLocation, Settings};

const INSERT_BOUNCER: &str = "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type) VALUES (?1, ?1, ?2, 'hash', 0, '10.0.0.2', 'x', 'v1', ?1, 'api-key')";
const INSERT_METRIC: &str = "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES (?1, ?2, ?3, ?4)";

fn fixture(path: &std::path::Path) -> rusqlite::Connection {
    let conn = db_1_7(path);
    for name in ["fw", "nginx"] {
        conn.execute(INSERT_BOUNCER, rusqlite::params![ts(0), name])
            .unwrap();
    }
    for r in rows() {
        conn.execute(
            INSERT_METRIC,
            rusqlite::params![r.kind, r.by, ts(r.offset), r.payload],
        )
        .unwrap();
    }
    conn
}

fn scrape(srv: &InProcess) -> Vec<Sample> {
    let (status, _, body) = http(srv.addr, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    parse_samples(&body)
}

fn v(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    value(samples, name, labels)
}

#[test]
fn fixture_values_new_reports_flush_and_broken_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = fixture(&path);
    let srv = start_in_process(Settings::single_lapi("local", LapiDbLocation::Sqlite(path)));

    let first = scrape(&srv);
    assert_expected(&first, "local");

    // A new report while running: counted once, however many reads see the table afterwards.
    conn.execute(
        INSERT_METRIC,
        rusqlite::params![
            "RC",
            "fw",
            ts(1900),
            r#"{"metrics":[{"meta":{"utc_now_timestamp":1704166545,"window_size_seconds":900},"items":[{"name":"dropped","unit":"byte","value":5,"labels":{"ip_type":"ipv4","origin":"CAPI"}},{"name":"active_decisions","unit":"ip","value":14000,"labels":{"ip_type":"ipv4","origin":"CAPI"}}]}]}"#
        ],
    )
    .unwrap();
    let capi = [
        ("lapi", "local"),
        ("bouncer", "fw"),
        ("origin", "CAPI"),
        ("remediation", ""),
    ];
    for _ in 0..3 {
        let s = scrape(&srv);
        assert_eq!(
            v(&s, "crowdsec_bouncer_dropped_bytes_total", &capi),
            Some(1005.0)
        );
        assert_eq!(
            v(
                &s,
                "crowdsec_bouncer_active_decisions",
                &[("bouncer", "fw"), ("origin", "CAPI")]
            ),
            Some(14000.0),
            "the gauge follows the newest report"
        );
        assert_eq!(
            v(
                &s,
                "crowdsec_exporter_usage_reports_total",
                &[("lapi", "local")]
            ),
            Some(5.0)
        );
    }
    let before_flush = usage_series(&scrape(&srv), "local");

    // CrowdSec's flush (flush.metrics_max_age) deletes the old rows: counters stay, as counters must.
    conn.execute("DELETE FROM metrics WHERE id <= 4", [])
        .unwrap();
    assert_eq!(usage_series(&scrape(&srv), "local"), before_flush);
    // Every row flushed: still the same.
    conn.execute("DELETE FROM metrics", []).unwrap();
    assert_eq!(usage_series(&scrape(&srv), "local"), before_flush);

    // A broken payload: skipped and counted, nothing else changes, the source stays up.
    conn.execute(
        INSERT_METRIC,
        rusqlite::params!["RC", "fw", ts(2800), "{\"metrics\": [{\"items\": [oops"],
    )
    .unwrap();
    let s = scrape(&srv);
    assert_eq!(usage_series(&s, "local"), before_flush);
    assert_eq!(
        v(
            &s,
            "crowdsec_exporter_usage_reports_skipped_total",
            &[("lapi", "local"), ("reason", "malformed")]
        ),
        Some(1.0)
    );
    assert_eq!(
        v(
            &s,
            "crowdsec_exporter_source_up",
            &[("source", "lapi_db"), ("name", "local")]
        ),
        Some(1.0)
    );

    // A deleted bouncer's series go with it.
    conn.execute("DELETE FROM bouncers WHERE name = 'nginx'", [])
        .unwrap();
    let s = scrape(&srv);
    assert!(usage_series(&s, "local")
        .iter()
        .all(|l| !l.contains("\"nginx\"")));
}

/// CrowdSec 1.4.6 has no `metrics` table: no usage series at all, not zeros.
#[test]
fn no_metrics_table_no_usage_series() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = db_1_4_6(&path);
    conn.execute(
        "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, until, last_pull, auth_type) VALUES (?1, ?1, 'fw', 'hash', 0, '', 'x', 'v', ?1, ?1, 'api-key')",
        [ts(0)],
    )
    .unwrap();
    let srv = start_in_process(Settings::single_lapi("local", LapiDbLocation::Sqlite(path)));
    let s = scrape(&srv);
    assert!(s.iter().any(|x| x.name == "crowdsec_bouncer_info"));
    assert!(
        s.iter().all(|x| !x.name.contains("usage_reports")
            && !x.name.starts_with("crowdsec_bouncer_dropped")),
        "absent, not zero"
    );
}

/// The real CrowdSec 1.4.6 writes the decisions: its own `cscli decisions add/delete` and an expired one; the
/// count is what `cscli decisions list` shows as active (the oracle), by origin.
#[test]
fn active_decisions_as_the_real_lapi_1_4_6_writes_them() {
    use crowdsec_bouncer_exporter::sources::lapi_db::sqlite::SqliteDb;
    let lapi = common::real::Lapi::start();
    // `cscli decisions add` goes through the LAPI as a machine: register one, as `cscli machines add -a` does.
    lapi.cscli(&["machines", "add", "-a", "--force"]);
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        lapi.cscli(&["decisions", "add", "-i", ip, "-d", "1h"]);
    }
    lapi.cscli(&["decisions", "add", "-i", "192.0.2.9", "-d", "1s"]);
    lapi.cscli(&["decisions", "delete", "-i", "192.0.2.3"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let listed: serde_json::Value =
        serde_json::from_str(&lapi.cscli(&["decisions", "list", "-o", "json"])).unwrap();
    let oracle: usize = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["decisions"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(oracle, 2, "cscli's own view: {listed}");
    let got = SqliteDb::new(&lapi.db, std::time::Duration::from_secs(2))
        .active_decisions_blocking(crowdsec_bouncer_exporter::values::time::now())
        .unwrap();
    assert_eq!(
        got.by_origin.into_iter().collect::<Vec<_>>(),
        vec![("cscli".to_owned(), 2)]
    );
}

/// The count through the exposition: only active, non-simulated decisions, a blocklist's named as its bouncers
/// name it.
#[test]
fn lapi_active_decisions_by_origin() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = fixture(&path);
    let d = "INSERT INTO decisions (created_at, updated_at, until, scenario, type, scope, value, origin, simulated) VALUES (?1, ?1, ?2, ?3, 'ban', 'Ip', '192.0.2.1', ?4, ?5)";
    let soon = "2099-01-01 00:00:00.123456789+00:00";
    for (until, scenario, origin, simulated) in [
        (soon, "http:scan", "CAPI", false),
        (soon, "firehol_voipbl", "lists", false),
        (soon, "firehol_voipbl", "lists", false),
        (soon, "x", "crowdsec", true),
        ("2020-01-01 00:00:00+00:00", "x", "cscli", false),
    ] {
        conn.execute(
            d,
            rusqlite::params![ts(0), until, scenario, origin, simulated],
        )
        .unwrap();
    }
    let srv = start_in_process(Settings::single_lapi("local", LapiDbLocation::Sqlite(path)));
    let s = scrape(&srv);
    let lapi = |origin| {
        v(
            &s,
            "crowdsec_lapi_active_decisions",
            &[("lapi", "local"), ("origin", origin)],
        )
    };
    assert_eq!(lapi("CAPI"), Some(1.0));
    assert_eq!(lapi("lists:firehol_voipbl"), Some(2.0));
    assert_eq!(lapi("crowdsec"), None, "simulated");
    assert_eq!(lapi("cscli"), None, "expired");
}
