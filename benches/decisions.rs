//! Issue 21's figures over 100,000 active decisions: the self-ban check ([`SelfBanCheck`], against loopback, a LAPI
//! host, 2,000 registered bouncers and 50 machines) and the partial-enforcement count (distinct `Ip`/`Range` values
//! per origin, [`IpTally`]), each alone, then the whole SQLite read of source `lapi_decisions` on a database holding
//! those decisions (both computed in the one pass). Decisions: 90 % `Ip` of CAPI and a blocklist, 10 % `Range`
//! (/24), 1 % of the values doubled in their origin (a ban and a captcha), 20 self-bans. Prints each time (best of 5). Never run in
//! CI. Run: `cargo bench --bench decisions`. Knobs: CSBE_DECISIONS (100000), CSBE_BOUNCERS (2000).

use std::time::{Duration, Instant};

use crowdsec_bouncer_exporter::crowdsec::active_decisions::{
    ActiveDecisions, IpTally, OwnAddresses, SelfBanCheck,
};
use crowdsec_bouncer_exporter::sources::lapi_db::sqlite::SqliteDb;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (origin, scenario, type, scope, value) of decision `i`.
fn decision(
    i: usize,
) -> (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    String,
) {
    // Every 100th decision is a captcha on the value (and origin) of the one two before it.
    let kind = if i % 100 == 2 { "captcha" } else { "ban" };
    let j = if i % 100 == 2 { i - 2 } else { i };
    let (origin, scenario) = if j % 2 == 0 {
        ("CAPI", "crowdsecurity/http-probing")
    } else {
        ("lists", "firehol_level1")
    };
    if i < 20 {
        return (
            "cscli",
            "manual 'ban' from 'host'",
            "ban",
            "Ip",
            "127.0.0.1".to_owned(),
        );
    }
    if j % 10 == 0 {
        let n = 0x2000_0000u32 + (j as u32) * 256;
        (
            origin,
            scenario,
            kind,
            "Range",
            format!("{}/24", std::net::Ipv4Addr::from(n)),
        )
    } else {
        let n = 0x2000_0000u32 + (j as u32) * 7;
        (
            origin,
            scenario,
            kind,
            "Ip",
            std::net::Ipv4Addr::from(n).to_string(),
        )
    }
}

fn best<T>(label: &str, mut f: impl FnMut() -> T) -> T {
    let mut times = Vec::new();
    let mut out = None;
    for _ in 0..5 {
        let t = Instant::now();
        out = Some(f());
        times.push(t.elapsed());
    }
    let min: Duration = *times.iter().min().unwrap();
    println!("{label}: {:.1} ms (best of 5)", min.as_secs_f64() * 1e3);
    out.unwrap()
}

fn main() {
    // `cargo test --all-targets` (CI) runs bench targets without `--bench`: compile-checked, not run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("decisions: run with `cargo bench --bench decisions`");
        return;
    }
    let n = env_or("CSBE_DECISIONS", 100_000);
    let bouncers = env_or("CSBE_BOUNCERS", 2_000);
    println!(
        "{} decisions, {bouncers} bouncers, 50 machines (profile: {})",
        n,
        if cfg!(debug_assertions) {
            "dev, unoptimized"
        } else {
            "optimized"
        }
    );
    let rows: Vec<_> = (0..n).map(decision).collect();
    let mut own = OwnAddresses::new(vec!["198.51.100.7".parse().unwrap()]);
    for b in 0..bouncers {
        own.add_bouncer(&format!("fw-{b}"), &format!("10.{}.{}.2", b / 256, b % 256));
    }
    for m in 0..50 {
        own.add_machine(&format!("10.200.0.{m}"));
    }
    let label = |o: &str, s: &str| {
        if o == "lists" {
            format!("lists:{s}")
        } else {
            o.to_owned()
        }
    };
    let labels: Vec<String> = rows.iter().map(|(o, s, ..)| label(o, s)).collect();

    let self_bans = best("self-ban check alone", || {
        let check = SelfBanCheck::new(&own);
        let mut out = ActiveDecisions::default();
        for ((_, s, kind, scope, value), l) in rows.iter().zip(&labels) {
            check.check(&mut out, kind, scope, value, l, s);
        }
        check.finish(&mut out);
        out
    });
    println!("  self-bans: {:?}", self_bans.self_bans);
    let ips = best(
        "partial-enforcement count alone (distinct Ip/Range values per origin)",
        || {
            let mut t = IpTally::default();
            for ((_, _, _, scope, value), l) in rows.iter().zip(&labels) {
                t.add(l, scope, value);
            }
            let mut out = ActiveDecisions::default();
            t.finish(&mut out);
            out
        },
    );
    println!("  IP decisions by origin: {:?}", ips.ip_by_origin);

    // The whole read on SQLite, as source lapi_decisions does it every --lapi.decisions-interval.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crowdsec.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(include_str!("../tests/fixtures/schema-1.7.sql"))
        .unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for b in 0..bouncers {
        conn.execute(
            "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, auth_type, auto_created) VALUES ('2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', ?1, ?2, 0, ?3, 'crowdsec-firewall-bouncer', 'v0.0.31', 'api-key', 0)",
            rusqlite::params![format!("fw-{b}"), format!("hash-{b}"), format!("10.{}.{}.2", b / 256, b % 256)],
        )
        .unwrap();
    }
    for m in 0..50 {
        conn.execute(
            "INSERT INTO machines (created_at, updated_at, machine_id, password, ip_address, is_validated, auth_type) VALUES ('2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', ?1, 'not-a-hash', ?2, 1, 'password')",
            rusqlite::params![format!("m{m}"), format!("10.200.0.{m}")],
        )
        .unwrap();
    }
    {
        let mut stmt = conn.prepare("INSERT INTO decisions (created_at, updated_at, until, scenario, type, scope, value, origin, simulated) VALUES ('2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', '2099-01-01 00:00:00+00:00', ?1, ?2, ?3, ?4, ?5, 0)").unwrap();
        for (o, s, kind, scope, value) in &rows {
            stmt.execute(rusqlite::params![s, kind, scope, value, o])
                .unwrap();
        }
    }
    conn.execute_batch("COMMIT").unwrap();
    let db = SqliteDb::new(&path, Duration::from_secs(60));
    let now = crowdsec_bouncer_exporter::values::time::now();
    let lapi_host = ["198.51.100.7".parse().unwrap()];
    let read = best(
        "SQLite read of lapi_decisions (counts, IP decisions and self-bans in one pass)",
        || db.active_decisions_blocking(now, &lapi_host).unwrap(),
    );
    assert_eq!(read.total(), n as u64);
    assert_eq!(read.ip_by_origin, ips.ip_by_origin);
    assert_eq!(read.self_bans, self_bans.self_bans);
    println!(
        "  {} active, {} IP decisions, {} self-bans",
        read.total(),
        read.ip_total(),
        read.self_bans.values().sum::<u64>()
    );
}
