//! Issue 22's "cold scrape CPU vs a bare SQLite read of the same rows", both measured in one run on the
//! 10,000-bouncer database of benches/scrape.rs: the yardstick is rusqlite alone running the exporter's `SELECT` of
//! the `bouncers` columns and touching every value (what any reader of that table pays); the figure is a cold scrape
//! in process (the exporter's database read, then the whole exposition encoded by a fresh renderer, as
//! `cargo bench --bench scrape` times it). CPU time of the process (every thread: the read runs on a blocking
//! one), taken in turns, yardstick then scrape, so a machine's drift hits both; prints the medians and their ratio.
//! Never run in CI. Run: `cargo bench --bench cold`. Knobs: CSBE_COLD_ROUNDS (40), CSBE_COLD_BOUNCERS (10000).

use std::path::Path;
use std::time::Duration;

use crowdsec_bouncer_exporter::metrics::Format;
use crowdsec_bouncer_exporter::settings::{LapiDbLocation, LogLevel, Settings};

#[path = "support/db.rs"]
mod db;
#[path = "support/figures.rs"]
mod figures;
use figures::env_or;

/// CPU time (user + system) of this process, every thread (exited ones too), in seconds: rustix's safe
/// `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)` (no `unsafe` outside src/allocator.rs, CONTRIBUTING).
fn cpu() -> f64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// The columns the exporter reads from a CrowdSec 1.7 `bouncers` table, in its order.
const COLUMNS: &str = "name, ip_address, type, version, auth_type, revoked, last_pull, created_at, osname, osversion, auto_created";

/// The yardstick: the `bouncers` rows the exporter reads (same columns, same order), every value looked at.
fn bare_read(path: &Path) -> usize {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let mut stmt = conn
        .prepare(&format!("SELECT {COLUMNS} FROM bouncers ORDER BY id"))
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut bytes = 0;
    while let Some(r) = rows.next().unwrap() {
        for i in 0..11 {
            bytes += match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => t.len(),
                _ => 1,
            };
        }
    }
    bytes
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo test --all-targets` (CI) runs bench targets without `--bench`: compile-checked, not run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("cold: run with `cargo bench --bench cold`");
        return;
    }
    let rounds = env_or("CSBE_COLD_ROUNDS", 40) as usize;
    let bouncers = env_or("CSBE_COLD_BOUNCERS", 10_000) as usize;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crowdsec.db");
    db::generate(&path, bouncers);

    let settings = {
        let mut s = Settings::single_lapi("bench", LapiDbLocation::Sqlite(path.clone()));
        s.lapis[0].cache_interval = Duration::ZERO;
        s.lapis[0].read_timeout = Duration::from_secs(30);
        s.web.max_scrape_wait = Duration::from_secs(30);
        s.log.level = LogLevel::Error;
        s
    };
    let rt = crowdsec_bouncer_exporter::exporter::runtime().unwrap();
    let exporter = crowdsec_bouncer_exporter::exporter::Exporter::new(&settings).unwrap();
    // A fresh renderer each time: nothing kept from a previous reading. The parts are what a response sends (never
    // put together into one string).
    let scrape = || {
        rt.block_on(async {
            crowdsec_bouncer_exporter::exporter::renderer()
                .render(
                    exporter.scrape(Duration::from_secs(30)).await,
                    Format::OpenMetrics,
                )
                .parts
                .iter()
                .map(|p| p.text.len())
                .sum::<usize>()
        })
    };
    // Warm-up: the first read takes the usage backlog; the page cache is filled for both.
    let size = scrape();
    let bytes = bare_read(&path);

    let (mut bare, mut cold, mut ratios): (Vec<f64>, Vec<f64>, Vec<f64>) =
        (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = cpu();
        assert_eq!(bare_read(&path), bytes);
        let b = cpu() - t;
        let t = cpu();
        assert!(scrape() > size / 2, "short exposition");
        let c = cpu() - t;
        bare.push(b);
        cold.push(c);
        ratios.push(c / b);
    }
    let ms = |s: f64| s * 1000.0;
    println!(
        "{bouncers} bouncers, exposition {} KiB, {rounds} rounds",
        size / 1024
    );
    println!(
        "bare SQLite read of the bouncer rows (rusqlite alone): median {:.2} ms CPU",
        ms(median(bare))
    );
    println!(
        "cold scrape (exporter's read + whole exposition):    median {:.2} ms CPU",
        ms(median(cold.clone()))
    );
    println!(
        "cold scrape / bare read: median of the paired ratios {:.2}x",
        median(ratios)
    );
    if let Some(cli) = sqlite3_cli(&path, rounds) {
        println!(
            "the same SELECT by the sqlite3 command (output to /dev/null, process start included): mean {:.2} ms CPU; cold scrape / sqlite3: {:.2}x",
            ms(cli),
            median(cold) / cli
        );
    }
}

/// CPU seconds of one `sqlite3 -readonly DB 'SELECT ...' > /dev/null`, the mean of `rounds` runs (the shell's
/// `times` of its children: 10 ms ticks, hence many runs), or `None` without a `sqlite3` command.
fn sqlite3_cli(path: &Path, rounds: usize) -> Option<f64> {
    let script = format!(
        "for i in $(seq {rounds}); do sqlite3 -readonly \"$0\" \"$1\" >/dev/null || exit 1; done; times"
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .arg(path)
        .arg(format!("SELECT {COLUMNS} FROM bouncers ORDER BY id"))
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    // The second line: the children's user and system times, `0m0.352s 0m0.111s`.
    let text = String::from_utf8_lossy(&out.stdout);
    let seconds = |t: &str| -> Option<f64> {
        let (m, s) = t.strip_suffix('s')?.split_once('m')?;
        Some(m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
    };
    let children = text.lines().nth(1)?;
    let total: Option<f64> = children.split_whitespace().map(seconds).sum();
    Some(total? / rounds as f64)
}
