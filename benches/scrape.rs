//! Scrape latency and memory on a 10,000-bouncer CrowdSec database. Prints figures; asserts nothing about time.
//! Run: `cargo bench --bench scrape`. Targets (issue 2): cold <= 25 ms, warm <= 5 ms, RSS <= 30 MB.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crowdsec_bouncer_exporter::metrics::Format;
use crowdsec_bouncer_exporter::settings::{LapiDbLocation, LogLevel, Settings};

const BOUNCERS: usize = 10_000;
const ROUNDS: usize = 50;

#[path = "support/db.rs"]
mod db;

/// The fixture lives in benches/support/db.rs, shared with the load bench.
fn generate(path: &Path) {
    db::generate(path, BOUNCERS);
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn settings(db: &Path, cache: Duration) -> Settings {
    {
        let mut s = Settings::single_lapi("bench", LapiDbLocation::Sqlite(db.to_owned()));
        s.lapis[0].cache_interval = cache;
        s.lapis[0].read_timeout = Duration::from_secs(10);
        s.log.level = LogLevel::Error;
        s
    }
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}

fn main() {
    // `cargo test --all-targets` (CI) runs bench targets without `--bench`: compile-checked, not run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("scrape: run with `cargo bench --bench scrape`");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = std::env::var_os("CSBE_BENCH_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("crowdsec.db"));
    let _ = std::fs::remove_file(&db);
    let t = Instant::now();
    generate(&db);
    println!(
        "generated {BOUNCERS} bouncers in {:?} ({} KiB)",
        t.elapsed(),
        std::fs::metadata(&db).unwrap().len() / 1024
    );

    let rt = crowdsec_bouncer_exporter::exporter::runtime().unwrap();
    let (cold, warm, size) = rt.block_on(async {
        // Cold: every scrape reads the database (cache interval 0) and encodes.
        let exporter =
            crowdsec_bouncer_exporter::exporter::Exporter::new(&settings(&db, Duration::ZERO))
                .expect("the sources build");
        let mut cold = Vec::new();
        let mut size = 0;
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let body = crowdsec_bouncer_exporter::exporter::encode(
                exporter.scrape(Duration::from_secs(10)).await,
                Format::Classic,
            );
            cold.push(t.elapsed());
            size = body.len();
        }
        // Warm: the reading is cached; the scrape only encodes.
        let exporter = crowdsec_bouncer_exporter::exporter::Exporter::new(&settings(
            &db,
            Duration::from_secs(3600),
        ))
        .expect("the sources build");
        let renderer = crowdsec_bouncer_exporter::exporter::renderer();
        renderer.encode(
            exporter.scrape(Duration::from_secs(10)).await,
            Format::Classic,
        );
        let mut warm = Vec::new();
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let body = renderer.encode(
                exporter.scrape(Duration::from_secs(10)).await,
                Format::Classic,
            );
            warm.push(t.elapsed());
            assert!(body.len() > size / 2, "short body");
        }
        (cold, warm, size)
    });
    println!("exposition: {} KiB, {} series", size / 1024, 5 * BOUNCERS);
    println!(
        "cold scrape (DB read + encode): median {:.1} ms, max {:.1} ms over {ROUNDS}",
        ms(median(cold.clone())),
        ms(*cold.iter().max().unwrap())
    );
    println!(
        "warm scrape (cached, encode):   median {:.1} ms, max {:.1} ms over {ROUNDS}",
        ms(median(warm.clone())),
        ms(*warm.iter().max().unwrap())
    );

    // Peak RSS of the real binary serving cold scrapes over HTTP.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
        .args([
            "--lapi.db",
            &db.display().to_string(),
            "--lapi.cache-interval",
            "0s",
            "--log.level",
            "error",
        ])
        .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "exporter did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let idle_kb = status_kb(child.id(), "VmRSS:");
    let cpu_before = cpu_seconds(&child.id().to_string());
    let mut http = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let body = get(&addr);
        http.push(t.elapsed());
        assert!(body.len() > size / 2, "short body");
    }
    let peak_kb = status_kb(child.id(), "VmHWM:");
    let cpu_per_scrape = (cpu_seconds(&child.id().to_string()) - cpu_before) / ROUNDS as f64;
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "binary over HTTP, cold scrapes: median {:.1} ms wall, {:.1} ms CPU per scrape",
        ms(median(http)),
        cpu_per_scrape * 1000.0
    );
    println!(
        "binary RSS: {:.1} MB idle, {:.1} MB peak (VmHWM) after {ROUNDS} cold scrapes",
        idle_kb as f64 / 1024.0,
        peak_kb as f64 / 1024.0
    );
}

/// CPU time (user + system) of process `pid` in seconds: unlike wall time, not inflated by other load.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ is 100 on Linux
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn get(addr: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}
