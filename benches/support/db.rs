//! The benches' fixture: a CrowdSec database of many bouncers, written as CrowdSec 1.7 would.
#![allow(dead_code)]

use std::path::Path;

/// A CrowdSec 1.7 SQLite database with `bouncers` bouncers, a tenth with a week of usage pushes (benches/scrape.rs).
pub fn generate(path: &Path, bouncers: usize) {
    generate_with(path, bouncers, false)
}

/// A new SQLite database at `path` with CrowdSec 1.7's tables (tests/fixtures/schema-1.7.sql, one statement a line,
/// as the tests' `common::db_1_7` runs it).
pub fn create_db(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    let schema = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/schema-1.7.sql"
    ))
    .unwrap();
    for line in schema
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("--"))
    {
        conn.execute_batch(line).unwrap();
    }
    conn
}

/// A firewall bouncer's usage report as cs-firewall-bouncer sends it (pkg/metrics/metrics.go): processed
/// bytes/packets, dropped bytes/packets for four origins, active decisions for three: 13 series per bouncer, about
/// 2 kB.
pub fn firewall_report(ts: i64, k: i64) -> String {
    firewall_report_shape(&|what| match what {
        Number::Time => ts.to_string(),
        Number::Processed(base) => (base + k).to_string(),
        Number::Modulo(base, m) => (base + k % m).to_string(),
    })
}

/// A number of [`firewall_report`] as a function of its `ts` and `k`.
pub enum Number {
    /// `ts`.
    Time,
    /// `base + k`.
    Processed(i64),
    /// `base + k % m`.
    Modulo(i64, i64),
}

/// The report's text with each number written by `number` (its digits, or for the servers' benches a piece of SQL
/// that computes it from the row, so a server fills millions of rows in one statement).
pub fn firewall_report_shape(number: &dyn Fn(Number) -> String) -> String {
    let mut items = Vec::new();
    for ip in ["ipv4", "ipv6"] {
        items.push(format!(
            r#"{{"name":"processed","unit":"byte","value":{},"labels":{{"ip_type":"{ip}"}}}}"#,
            number(Number::Processed(100_000))
        ));
        items.push(format!(
            r#"{{"name":"processed","unit":"packet","value":{},"labels":{{"ip_type":"{ip}"}}}}"#,
            number(Number::Processed(1_000))
        ));
    }
    for origin in ["CAPI", "cscli", "crowdsec", "lists:firehol_voipbl"] {
        items.push(format!(r#"{{"name":"dropped","unit":"byte","value":{},"labels":{{"ip_type":"ipv4","origin":"{origin}"}}}}"#, number(Number::Modulo(300, 7))));
        items.push(format!(r#"{{"name":"dropped","unit":"packet","value":{},"labels":{{"ip_type":"ipv4","origin":"{origin}"}}}}"#, number(Number::Modulo(3, 5))));
    }
    for origin in ["CAPI", "cscli", "lists:firehol_voipbl"] {
        items.push(format!(r#"{{"name":"active_decisions","unit":"ip","value":{},"labels":{{"ip_type":"ipv4","origin":"{origin}"}}}}"#, number(Number::Modulo(15_000, 11))));
    }
    format!(
        r#"{{"type":"crowdsec-firewall-bouncer","metrics":[{{"meta":{{"utc_now_timestamp":{},"window_size_seconds":900}},"items":[{}]}}]}}"#,
        number(Number::Time),
        items.join(",")
    )
}

/// As [`generate`]; with `reporting`, every bouncer also has one stored firewall report (issue 22's "10,000
/// reporting bouncers": 13 remediation series each).
pub fn generate_with(path: &Path, bouncers: usize, reporting: bool) {
    let conn = create_db(path);
    conn.execute_batch("PRAGMA journal_mode=WAL; BEGIN")
        .unwrap();
    {
        let mut ins = conn
            .prepare("INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES (?1, ?1, ?2, ?3, 0, ?4, 'crowdsec-firewall-bouncer', 'v0.0.31', ?5, 'api-key', 'debian', '12', ?6)")
            .unwrap();
        let mut usage = conn
            .prepare("INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', ?1, ?2, '{}')")
            .unwrap();
        for i in 0..bouncers {
            let name = if i % 10 == 0 {
                format!("fw-{i}@10.0.{}.{}", i / 256 % 256, i % 256)
            } else {
                format!("fw-{i}")
            };
            let ts = format!(
                "2026-11-{:02} {:02}:{:02}:{:02}.{}+00:00",
                1 + i % 20,
                i % 24,
                i % 60,
                i % 60,
                100_000 + i
            );
            let last_pull = (i % 7 != 0).then(|| ts.clone());
            ins.execute(rusqlite::params![
                ts,
                name,
                format!("{:0128x}", i),
                format!("10.1.{}.{}", i / 256 % 256, i % 256),
                last_pull,
                i % 10 == 0
            ])
            .unwrap();
            if reporting {
                conn.execute(
                    "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', ?1, '2026-11-21 00:00:00+00:00', ?2)",
                    rusqlite::params![name, firewall_report(1_795_000_000, i as i64)],
                )
                .unwrap();
            }
            // A week of 15-minute usage pushes for a tenth of the bouncers: the metrics table is the big one.
            if i % 10 == 1 {
                for k in 0..96 {
                    usage
                        .execute(rusqlite::params![
                            name,
                            format!("2026-11-20 {:02}:{:02}:00+00:00", k / 4, k % 4 * 15)
                        ])
                        .unwrap();
                }
            }
        }
    }
    conn.execute_batch("COMMIT").unwrap();
}
