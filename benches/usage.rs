//! Issue 14's and 22's figures, in process on a SQLite database holding a week of usage reports (7 days x 96
//! reports x 2,000 bouncers = 1,344,000 RC rows with firewall-bouncer payloads): the first read (the bouncer rows,
//! served whatever the backlog), the catch-up of the backlog behind them, a steady-state read (one new
//! report per bouncer, a 15-minute window), a read with nothing new, and the count of 100,000 active decisions.
//! Prints each time and the process's peak RSS over each read (VmHWM, reset before it through
//! /proc/self/clear_refs). Never run in CI. Run: `cargo bench --bench usage`. Knobs: CSBE_USAGE_BOUNCERS (2000),
//! CSBE_USAGE_DAYS (7), CSBE_USAGE_DECISIONS (100000), CSBE_USAGE_DIR (where the ~2 GB database goes; default a
//! temporary folder under target/).

use std::time::{Duration, Instant};

use crowdsec_bouncer_exporter::sources::lapi_db::sqlite::SqliteDb;

#[path = "support/db.rs"]
mod db;
#[path = "support/figures.rs"]
mod figures;
use figures::{env_or, reset_peak, status_kb};

fn sqlite_time(ts: i64) -> String {
    crowdsec_bouncer_exporter::values::time::format_rfc3339(ts as f64)
        .replace('T', " ")
        .replace('Z', "+00:00")
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    reset_peak();
    let before = status_kb("VmRSS");
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    println!(
        "{what}: {:.3} s, peak RSS {} MiB (RSS before {} MiB)",
        took.as_secs_f64(),
        status_kb("VmHWM") / 1024,
        before / 1024
    );
    out
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("usage: run with `cargo bench --bench usage`");
        return;
    }
    let bouncers = env_or("CSBE_USAGE_BOUNCERS", 2000) as i64;
    let days = env_or("CSBE_USAGE_DAYS", 7) as i64;
    let decisions = env_or("CSBE_USAGE_DECISIONS", 100_000) as i64;
    let base = std::env::var("CSBE_USAGE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    let dir = tempfile::tempdir_in(base).unwrap();
    let path = dir.path().join("crowdsec.db");
    let now = crowdsec_bouncer_exporter::values::time::now() as i64;
    let start = now - days * 86_400;

    let generating = Instant::now();
    let conn = db::create_db(&path);
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; BEGIN")
        .unwrap();
    {
        let mut b = conn.prepare("INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES (?1, ?1, ?2, ?3, 0, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v0.0.31', ?1, 'api-key', 'debian', '12', 0)").unwrap();
        for i in 0..bouncers {
            b.execute(rusqlite::params![
                sqlite_time(now),
                format!("fw-{i}"),
                format!("{i:0128x}")
            ])
            .unwrap();
        }
        let mut m = conn.prepare("INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', ?1, ?2, ?3)").unwrap();
        // In time order, as the LAPI writes them: window k of every bouncer, then window k + 1.
        for k in 0..days * 96 {
            let ts = start + k * 900;
            let at = sqlite_time(ts);
            for i in 0..bouncers {
                m.execute(rusqlite::params![
                    format!("fw-{i}"),
                    at,
                    db::firewall_report(ts, k + i)
                ])
                .unwrap();
            }
        }
        let mut d = conn.prepare("INSERT INTO decisions (created_at, updated_at, until, scenario, type, scope, value, origin, simulated) VALUES (?1, ?1, ?2, ?3, 'ban', 'Ip', ?4, ?5, 0)").unwrap();
        for n in 0..decisions {
            // Mostly the community blocklist, some blocklists and local ones; a tenth expired.
            let (origin, scenario) = match n % 20 {
                0 => ("crowdsec", "crowdsecurity/ssh-bf"),
                1 => ("cscli", "manual"),
                2..=4 => ("lists", "firehol_voipbl"),
                _ => ("CAPI", "crowdsecurity/http-probing"),
            };
            let until = if n % 10 == 9 {
                now - 3600
            } else {
                now + 86_400
            };
            d.execute(rusqlite::params![
                sqlite_time(now),
                sqlite_time(until),
                scenario,
                format!("10.{}.{}.{}", n >> 16 & 255, n >> 8 & 255, n & 255),
                origin
            ])
            .unwrap();
        }
    }
    conn.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM metrics", [], |r| r.get(0))
        .unwrap();
    println!(
        "generated {rows} report rows of {bouncers} bouncers and {decisions} decisions in {:.0} s ({} MiB)",
        generating.elapsed().as_secs_f64(),
        std::fs::metadata(&path).unwrap().len() >> 20
    );

    let db = SqliteDb::new(&path, Duration::from_secs(5));
    // Issue 22: the bouncer rows come first, whatever the backlog; it is read behind them, read after read.
    let first = timed("first read (every bouncer row; backlog budget 1 s)", || {
        db.read_blocking().unwrap()
    });
    assert_eq!(first.bouncers.len(), bouncers as usize, "every bouncer row");
    let with_newest = first
        .bouncers
        .iter()
        .filter(|b| b.last_usage_metrics.is_some())
        .count();
    println!(
        "  {} bouncer rows, {with_newest} with their newest report; backlog pending: {}",
        first.bouncers.len(),
        db.usage_backlog_pending()
    );
    drop(first);
    let mut reads = 1;
    let catch_up = timed("catch-up (reads until the backlog is done)", || {
        while db.usage_backlog_pending() {
            db.read_blocking().unwrap();
            reads += 1;
        }
        db.read_blocking().unwrap()
    });
    let usage = catch_up.usage.as_ref().unwrap();
    assert_eq!(
        usage.reports, 0,
        "stored reports start the counters, uncounted"
    );
    let series: usize = usage.bouncers.values().map(|b| b.counters.len()).sum();
    println!(
        "  {reads} reads; {} bouncers, {series} counter series (at 0)",
        usage.bouncers.len(),
    );
    drop(catch_up);

    // Steady state: one new report per bouncer (the next 15-minute window).
    {
        let mut m = conn.prepare("INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', ?1, ?2, ?3)").unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..bouncers {
            m.execute(rusqlite::params![
                format!("fw-{i}"),
                sqlite_time(now),
                db::firewall_report(now, i)
            ])
            .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    let steady = timed("steady-state read (one new report per bouncer)", || {
        db.read_blocking().unwrap()
    });
    assert_eq!(steady.usage.as_ref().unwrap().reports, bouncers as u64);
    drop(steady);
    timed("read with nothing new", || db.read_blocking().unwrap());

    let active = timed("active decisions", || {
        db.active_decisions_blocking(now as f64, &[]).unwrap()
    });
    println!(
        "  {} active decisions by origin: {:?}",
        active.total(),
        active.by_origin
    );
}
