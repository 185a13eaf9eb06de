//! The benches' fixture: a CrowdSec database of many bouncers, written as CrowdSec 1.7 would.

use std::path::Path;

/// A CrowdSec 1.7 SQLite database with `bouncers` bouncers, a tenth with a week of usage pushes.
pub fn generate(path: &Path, bouncers: usize) {
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
