//! Issue 22's catch-up on PostgreSQL and MariaDB, as `cargo bench --bench usage` measures it on SQLite: real
//! servers (PostgreSQL 15 and MariaDB 10.11 from Debian's packages in target/parts, started as the integration
//! tests start them, tests/common/servers.rs) holding `days` of 15-minute firewall reports of `bouncers` bouncers
//! (the payload of benches/support/db.rs, filled by the server itself in one statement). Prints the first read (every
//! bouncer row served, the backlog read behind within its budget), the reads until every bouncer has its newest
//! report, a read with nothing new, each with its time and this process's peak RSS (the server's memory is its
//! own). Never run in CI. Run: `cargo bench --bench usage_servers`. Knobs: CSBE_USAGE_BOUNCERS (2000),
//! CSBE_USAGE_DAYS (1: a week of 2,000 bouncers is 2.6 GB a server fills in minutes on the 2-core machine; the
//! read does not depend on the backlog's depth, see the SQLite figures), CSBE_USAGE_ENGINES (`postgres,mariadb`).

use std::time::{Duration, Instant};

use crowdsec_bouncer_exporter::crowdsec::bouncers::BouncerSnapshot;
use crowdsec_bouncer_exporter::settings::LapiDbLocation;
use crowdsec_bouncer_exporter::sources::lapi_db::target::ServerDb;
use crowdsec_bouncer_exporter::sources::lapi_db::LapiDbSource;

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/db.rs"]
mod db;
#[path = "support/figures.rs"]
mod figures;
use figures::{env_or, reset_peak, status_kb};

use common::servers::{block_on, Mariadb, Postgres};
use db::Number;

const PASSWORD: &str = "bench-pass";

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    reset_peak();
    let start = Instant::now();
    let out = f();
    println!(
        "  {what}: {:.3} s, peak RSS {} MiB",
        start.elapsed().as_secs_f64(),
        status_kb("VmHWM") / 1024
    );
    out
}

/// The piece of SQL computing a number of the report from the row: `k` the window, `i` the bouncer.
fn sql_number(n: Number, start: i64, k: &str, i: &str) -> String {
    match n {
        Number::Time => format!("({start} + {k} * 900)"),
        Number::Processed(base) => format!("({base} + {k} + {i})"),
        Number::Modulo(base, m) => format!("({base} + ({k} + {i}) % {m})"),
    }
}

/// How many of the snapshot's bouncers have their newest report.
fn with_newest(s: &BouncerSnapshot) -> usize {
    s.bouncers
        .iter()
        .filter(|b| b.last_usage_metrics.is_some())
        .count()
}

fn catch_up(engine: &str, url: &str, bouncers: usize) {
    let src = LapiDbSource::new(
        LapiDbLocation::Server(ServerDb::from_url(url).unwrap()),
        Duration::from_secs(30),
    );
    let read = || block_on(src.read()).unwrap();
    let first = timed("first read (every bouncer row; backlog budget 1 s)", read);
    assert_eq!(
        first.bouncers.len(),
        bouncers,
        "{engine}: every bouncer row"
    );
    println!(
        "    {} bouncer rows, {} with their newest report",
        first.bouncers.len(),
        with_newest(&first)
    );
    let mut reads = 1;
    let done = timed(
        "catch-up (reads until every bouncer has its newest report)",
        || {
            let mut s = first;
            while with_newest(&s) < bouncers {
                s = read();
                reads += 1;
            }
            s
        },
    );
    println!(
        "    {reads} reads; {} bouncers with counters",
        done.usage.as_ref().map_or(0, |u| u.bouncers.len())
    );
    drop(done);
    timed("read with nothing new", read);
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("usage_servers: run with `cargo bench --bench usage_servers`");
        return;
    }
    let bouncers = env_or("CSBE_USAGE_BOUNCERS", 2000) as usize;
    let days = env_or("CSBE_USAGE_DAYS", 1) as i64;
    let engines = std::env::var("CSBE_USAGE_ENGINES").unwrap_or("postgres,mariadb".into());
    let windows = days * 96;
    let start = crowdsec_bouncer_exporter::values::time::now() as i64 - days * 86_400;
    println!(
        "{bouncers} bouncers x {days} day(s) of 15-minute reports = {} rows",
        bouncers as i64 * windows
    );

    if engines.contains("postgres") {
        let pg = Postgres::start("UTC0");
        pg.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
        let t = Instant::now();
        let payload =
            db::firewall_report_shape(&|n| format!("' || {} || '", sql_number(n, start, "k", "i")));
        pg.admin_sql(
            "crowdsec",
            &format!(
                "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) \
                 SELECT now(), now(), 'fw-' || i, md5(i::text), false, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v0.0.31', now(), 'api-key', 'debian', '12', false FROM generate_series(0, {b}) i; \
                 INSERT INTO metrics (generated_type, generated_by, received_at, payload) \
                 SELECT 'RC', 'fw-' || i, to_timestamp({start} + k * 900), '{payload}' \
                 FROM generate_series(0, {w}) k CROSS JOIN generate_series(0, {b}) i ORDER BY k, i; ANALYZE",
                b = bouncers - 1,
                w = windows - 1
            ),
        );
        println!(
            "PostgreSQL 15: filled in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        catch_up(
            "PostgreSQL",
            &pg.url("crowdsec", PASSWORD, "crowdsec"),
            bouncers,
        );
    }
    if engines.contains("mariadb") {
        let my = Mariadb::start("+00:00");
        my.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
        let t = Instant::now();
        let payload = db::firewall_report_shape(&|n| {
            format!("', {}, '", sql_number(n, start, "k.seq", "i.seq"))
        });
        my.admin_sql(&[
            "USE crowdsec",
            &format!(
                "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) \
                 SELECT NOW(), NOW(), CONCAT('fw-', i.seq), MD5(i.seq), false, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v0.0.31', NOW(), 'api-key', 'debian', '12', false FROM seq_0_to_{b} i",
                b = bouncers - 1
            ),
            &format!(
                "INSERT INTO metrics (generated_type, generated_by, received_at, payload) \
                 SELECT 'RC', CONCAT('fw-', i.seq), FROM_UNIXTIME({start} + k.seq * 900), CONCAT('{payload}') \
                 FROM seq_0_to_{w} k CROSS JOIN seq_0_to_{b} i ORDER BY k.seq, i.seq",
                b = bouncers - 1,
                w = windows - 1
            ),
        ]);
        println!(
            "MariaDB 10.11: filled in {:.0} s",
            t.elapsed().as_secs_f64()
        );
        catch_up(
            "MariaDB",
            &my.url("crowdsec", PASSWORD, "crowdsec"),
            bouncers,
        );
    }
}
