//! Scrape latency and memory on a 10,000-bouncer CrowdSec database. Prints figures; asserts nothing about time.
//! Run: `cargo bench --bench scrape`. Targets (issue 2): cold <= 25 ms, warm <= 5 ms, RSS <= 30 MB.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crowdsec_bouncer_exporter::metrics::{self, Format};
use crowdsec_bouncer_exporter::settings::{
    LapiDbLocation, LapiSettings, LogFormat, LogLevel, LogSettings, Settings, WebSettings,
};

const BOUNCERS: usize = 10_000;
const ROUNDS: usize = 50;

fn generate(path: &Path) {
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
        for i in 0..BOUNCERS {
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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn settings(db: &Path, cache: Duration) -> Settings {
    Settings {
        web: WebSettings {
            listen_addresses: vec![],
            telemetry_path: "/metrics".into(),
            max_scrape_wait: Duration::from_secs(10),
        },
        lapis: vec![LapiSettings {
            name: "bench".into(),
            db: LapiDbLocation::Sqlite(db.to_owned()),
            cache_interval: cache,
            read_timeout: Duration::from_secs(10),
        }],
        log: LogSettings {
            level: LogLevel::Error,
            format: LogFormat::Logfmt,
        },
        service_api: None,
        checks: None,
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

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (cold, warm, size) = rt.block_on(async {
        // Cold: every scrape reads the database (cache interval 0) and encodes.
        let exporter =
            crowdsec_bouncer_exporter::exporter::Exporter::new(&settings(&db, Duration::ZERO));
        let mut cold = Vec::new();
        let mut size = 0;
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let body = metrics::encode(
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
        ));
        let renderer = metrics::Renderer::default();
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
    let mut http = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let body = get(&addr);
        http.push(t.elapsed());
        assert!(body.len() > size / 2, "short body");
    }
    let peak_kb = status_kb(child.id(), "VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "binary over HTTP, cold scrapes: median {:.1} ms",
        ms(median(http))
    );
    println!(
        "binary RSS: {:.1} MB idle, {:.1} MB peak (VmHWM) after {ROUNDS} cold scrapes",
        idle_kb as f64 / 1024.0,
        peak_kb as f64 / 1024.0
    );
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
