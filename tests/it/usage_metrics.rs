//! Remediation metrics from the bouncers' usage reports (issue 14), through the SQLite source and the exposition:
//! the fixture's hand-computed values, a report added while running counted once, CrowdSec's flush of old rows
//! changing nothing, a broken payload changing nothing but its own count.

use crate::common;
use crate::common::usage::{assert_expected, rows, usage_series};
use crate::common::*;
use crowdsec_bouncer_exporter::settings::{LapiDbLocation, Settings};

const INSERT_BOUNCER: &str = "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type) VALUES (?1, ?1, ?2, 'hash', 0, '10.0.0.2', 'x', 'v1', ?1, 'api-key')";
const INSERT_METRIC: &str = "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES (?1, ?2, ?3, ?4)";

/// The fixture's bouncers, with its `metrics` rows unless `reports` is false (they are then inserted by
/// [`insert_reports`] once the exporter runs).
fn fixture(path: &std::path::Path, reports: bool) -> rusqlite::Connection {
    let conn = db_1_7(path);
    for name in ["fw", "nginx"] {
        conn.execute(INSERT_BOUNCER, rusqlite::params![ts(0), name])
            .unwrap();
    }
    if reports {
        insert_reports(&conn);
    }
    conn
}

fn insert_reports(conn: &rusqlite::Connection) {
    for r in rows() {
        conn.execute(
            INSERT_METRIC,
            rusqlite::params![r.kind, r.by, ts(r.offset), r.payload],
        )
        .unwrap();
    }
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
    let conn = fixture(&path, false);
    let srv = start_in_process(Settings::single_lapi("local", LapiDbLocation::Sqlite(path)));
    let empty = scrape(&srv);
    assert!(usage_series(&empty, "local").is_empty());

    // The reports arrive while the exporter runs: every one is counted.
    insert_reports(&conn);
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

/// Issue 22: an exporter restarted after CrowdSec flushed old reports counted the stored week again (`increase()`
/// saw a reset to the stored sum: 75 % of a week's traffic in one minute). The counters now count the reports
/// received after the start: the restarted exporter starts every series it knows from the stored reports at 0,
/// keeps the newest report's gauge, and Prometheus' `increase()` across the restart is exactly the new traffic.
#[test]
fn a_restart_after_a_flush_counts_no_stored_report_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = fixture(&path, false);
    let settings = || Settings::single_lapi("local", LapiDbLocation::Sqlite(path.clone()));
    let before = {
        let a = start_in_process(settings());
        scrape(&a);
        insert_reports(&conn);
        let s = scrape(&a);
        assert_expected(&s, "local");
        s
    };
    // CrowdSec's flush deletes the oldest reports (one of each bouncer), then the exporter restarts.
    conn.execute("DELETE FROM metrics WHERE id <= 2", [])
        .unwrap();
    let b = start_in_process(settings());
    let restarted = scrape(&b);
    let counters = |s: &[Sample]| -> Vec<(String, f64)> {
        let mut v: Vec<_> = s
            .iter()
            .filter(|x| {
                x.name.starts_with("crowdsec_bouncer_processed_")
                    || x.name.starts_with("crowdsec_bouncer_dropped_")
            })
            .map(|x| (format!("{} {:?}", x.name, x.labels), x.value))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let at_start = counters(&restarted);
    assert!(!at_start.is_empty(), "the stored reports' series are known");
    assert!(
        at_start.iter().all(|(_, v)| *v == 0.0),
        "every counter starts at 0: {at_start:#?}"
    );
    assert_eq!(
        v(
            &restarted,
            "crowdsec_exporter_usage_reports_total",
            &[("lapi", "local")]
        ),
        Some(0.0)
    );
    let gauge = |s: &[Sample]| {
        v(
            s,
            "crowdsec_bouncer_active_decisions",
            &[("bouncer", "fw"), ("origin", "CAPI"), ("ip_type", "ipv4")],
        )
    };
    assert_eq!(
        gauge(&restarted),
        gauge(&before),
        "the newest report's gauge"
    );

    // One new report (5 bytes dropped, CAPI): the restarted exporter counts it, once.
    conn.execute(
        INSERT_METRIC,
        rusqlite::params!["RC", "fw", ts(1900), common::usage::NEW_REPORT],
    )
    .unwrap();
    let after = scrape(&b);
    // `increase()` as Prometheus computes it over before -> restarted -> after: a drop is a reset from 0.
    let old: std::collections::HashMap<_, _> = counters(&before).into_iter().collect();
    let mid: std::collections::HashMap<_, _> = at_start.into_iter().collect();
    let mut increase = 0.0;
    for (series, now) in counters(&after) {
        let (was, then) = (old.get(&series).copied(), mid.get(&series).copied());
        increase += match (was, then) {
            (Some(was), Some(then)) => (if then < was { then } else { then - was }) + (now - then),
            (None, Some(then)) => now - then,
            // A series born after the restart: Prometheus has no earlier sample of it.
            (_, None) => 0.0,
        };
    }
    assert_eq!(
        increase, 5.0,
        "exactly the traffic reported after the restart"
    );
    assert_eq!(
        v(
            &after,
            "crowdsec_bouncer_dropped_bytes_total",
            &[("bouncer", "fw"), ("origin", "CAPI"), ("remediation", "")]
        ),
        Some(5.0)
    );
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
        .active_decisions_blocking(crowdsec_bouncer_exporter::values::time::now(), &[])
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
    let conn = fixture(&path, true);
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

/// Issue 22: a week of stored reports held the bouncer rows for 14-40 s (source `timeout`, no bouncer series).
/// The rows come first; the backlog is read behind them, newest first, one batch of 5,000 rows per read at a zero
/// budget, without counting it. A registered bouncer that never reported (`quiet`) makes the scan go down to the
/// oldest row; reports received meanwhile are counted on the next read.
#[test]
fn the_backlog_is_read_behind_the_rows_in_batches() {
    use crowdsec_bouncer_exporter::crowdsec::bouncers::LastPull;
    use crowdsec_bouncer_exporter::sources::lapi_db::sqlite::SqliteDb;
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = fixture(&path, false);
    conn.execute(INSERT_BOUNCER, rusqlite::params![ts(0), "quiet"])
        .unwrap();
    // 12,000 stored RC rows: the fixture's fw and nginx reports, each window its own second.
    let reports: Vec<_> = rows().into_iter().filter(|r| r.kind == "RC").collect();
    conn.execute_batch("BEGIN").unwrap();
    for n in 0..12_000i64 {
        let r = &reports[n as usize % reports.len()];
        let payload = r.payload.replace(
            "\"utc_now_timestamp\":",
            &format!("\"utc_now_timestamp\":{n}"),
        );
        conn.execute(INSERT_METRIC, rusqlite::params!["RC", r.by, ts(n), payload])
            .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();

    let db = SqliteDb::new(&path, std::time::Duration::from_secs(2))
        .with_usage_budget(std::time::Duration::ZERO);
    let first = db.read_blocking().unwrap();
    assert_eq!(
        first.bouncers.len(),
        3,
        "every bouncer row, before the backlog"
    );
    assert!(first
        .bouncers
        .iter()
        .all(|b| matches!(b.last_pull, LastPull::At(_))));
    assert!(db.usage_backlog_pending(), "7,000 rows left");
    let usage = first.usage.clone().unwrap();
    assert_eq!(usage.reports, 0);
    assert!(usage
        .bouncers
        .values()
        .all(|b| b.counters.values().all(|v| *v == 0)));
    let fw = first.bouncers.iter().find(|b| b.name() == "fw").unwrap();
    let newest = newest_report_of(&conn, "fw");
    assert!(
        fw.last_usage_metrics
            .is_some_and(|t| (t - newest).abs() < 0.001),
        "the newest report, found in the first batch: {:?} vs {newest}",
        fw.last_usage_metrics
    );

    conn.execute(
        INSERT_METRIC,
        rusqlite::params!["RC", "fw", ts(20_000), common::usage::NEW_REPORT],
    )
    .unwrap();
    let second = db.read_blocking().unwrap();
    let usage = second.usage.clone().unwrap();
    assert_eq!(
        usage.reports, 1,
        "the new report, counted first (this read's batch)"
    );
    db.read_blocking().unwrap();
    assert!(db.usage_backlog_pending(), "2,000 rows left");
    let third = db.read_blocking().unwrap();
    assert!(!db.usage_backlog_pending(), "down to the oldest row");
    assert_eq!(third.usage, second.usage, "the older rows count nothing");
    assert_eq!(third.bouncers.len(), 3);
}

/// The Unix time of `by`'s newest stored report.
fn newest_report_of(conn: &rusqlite::Connection, by: &str) -> f64 {
    conn.query_row(
        "SELECT unixepoch(received_at, 'subsec') FROM metrics WHERE generated_by = ?1 ORDER BY id DESC LIMIT 1",
        [by],
        |r| r.get(0),
    )
    .unwrap()
}
