//! Load on loopback: 100 concurrent scrapers for 30 s against the exporter binary serving a 10,000-bouncer
//! database over TLS with basic auth (the `--web.config.file` path). Prints scrapes/s, latency percentiles and the
//! exporter's peak RSS (the kernel's high-water mark, VmHWM, so no sampling gap hides a peak); fails (exit 1) only
//! on behaviour: a failed scrape, or database reads other than one per cache interval. Never run in CI.
//!
//! Two phases. Burst: every client sends one scrape at once and holds its answer unread until all have answered,
//! the worst case of responses in flight (a slow network or scraper holds them the same way); the exporter's RSS
//! is read then. Sustained: the clients scrape in a loop for the given time.
//! Run: `cargo bench --bench load`. Knobs: CSBE_LOAD_CLIENTS (100), CSBE_LOAD_SECONDS (30), CSBE_LOAD_EXPORTER
//! (the exporter binary to run, default this build's: to measure another revision's binary with the same client),
//! CSBE_LOAD_REPORTING (1: every bouncer has a usage report, issue 22's "10,000 reporting bouncers"; 0: a tenth with
//! empty ones), CSBE_LOAD_GZIP (1: the clients ask gzip, as Prometheus does; 0: plain text). Prints the exporter's CPU
//! time per scrape of the sustained phase too (/proc/<pid>/stat).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/db.rs"]
mod db;

const BOUNCERS: usize = 10_000;
const CACHE_INTERVAL: Duration = Duration::from_secs(5);
const PASSWORD: &str = "load-test";
/// Upper bound on requests whatever the machine (the test is bounded in count and in time).
const MAX_REQUESTS: u64 = 5_000_000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A `/proc/<pid>/status` field in kB: `VmRSS` (now) or `VmHWM` (peak since start).
fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time (user + system) the process `pid` used so far, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's closing parenthesis: state (field 3), ..., utime (14), stime (15).
    let mut fields = s.get(s.rfind(')')? + 1..)?.split_whitespace().skip(11);
    let (user, system): (u64, u64) = (fields.next()?.parse().ok()?, fields.next()?.parse().ok()?);
    Some((user + system) as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// Server CA PEM; writes cert.pem, key.pem and web.yml (TLS + one bcrypt user) into `dir`.
fn tls_files(dir: &Path) -> String {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".into()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    // Cost 10, as `htpasswd -nBC 10` makes: the auth cache must keep it off the scrape path.
    let hash = bcrypt::hash(PASSWORD, 10).unwrap();
    std::fs::write(
        dir.join("web.yml"),
        format!("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  prometheus: '{hash}'\n"),
    )
    .unwrap();
    ca.pem()
}

fn reads_total(body: &str) -> Option<u64> {
    body.lines()
        .find(|l| l.starts_with("crowdsec_exporter_source_reads_total{") && l.contains("lapi_db"))?
        .rsplit(' ')
        .next()?
        .parse()
        .ok()
}

fn main() {
    // `cargo test --all-targets` (CI) runs bench targets without `--bench`: compile-checked, not run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("load: run with `cargo bench --bench load`");
        return;
    }
    let clients = env_or("CSBE_LOAD_CLIENTS", 100) as usize;
    let seconds = env_or("CSBE_LOAD_SECONDS", 30);
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("crowdsec.db");
    let reporting = env_or("CSBE_LOAD_REPORTING", 1) == 1;
    let gzip = env_or("CSBE_LOAD_GZIP", 1) == 1;
    let t = Instant::now();
    db::generate_with(&db_path, BOUNCERS, reporting);
    println!(
        "every bouncer reporting (13 remediation series each): {reporting}; clients ask gzip: {gzip}"
    );
    println!(
        "generated {BOUNCERS} bouncers in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let ca = tls_files(dir.path());

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let exporter = std::env::var("CSBE_LOAD_EXPORTER")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter").to_owned());
    let mut child = std::process::Command::new(exporter)
        .arg("--lapi.db")
        .arg(&db_path)
        .arg("--web.config.file")
        .arg(dir.path().join("web.yml"))
        .args([
            "--lapi.cache-interval",
            &format!("{}s", CACHE_INTERVAL.as_secs()),
        ])
        .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
        .args(["--log.level", "warn"])
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "exporter did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let rt = crowdsec_bouncer_exporter::exporter::runtime().unwrap();
    let url = format!("https://127.0.0.1:{port}/metrics");
    let new_client = || {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
            .pool_max_idle_per_host(clients)
            // Well below the exporter's 10 s: a connection idle in the pool longer may be closed by then (below).
            .pool_idle_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(60))
            .gzip(gzip)
            .build()
            .unwrap()
    };
    let client = new_client();
    // What goes on the wire: a client that does not decompress, asking gzip as Prometheus does.
    let raw_client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .no_gzip()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    // Warm up: the first read, the first bcrypt; reads are counted from here.
    let first = rt.block_on(async {
        let r = client
            .get(&url)
            .basic_auth("prometheus", Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    });
    let reads_before = reads_total(&first).expect("crowdsec_exporter_source_reads_total");
    // Issue 22's "peak RSS, 10,000 bouncers, one scrape": the start, the first reading and its encoding.
    println!(
        "exporter peak RSS (VmHWM) after its first scrape: {:.1} MB",
        status_kb(pid, "VmHWM").unwrap_or(0) as f64 / 1024.0
    );
    let wire = rt.block_on(async {
        let r = raw_client
            .get(&url)
            .basic_auth("prometheus", Some(PASSWORD))
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        let encoding = r
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap_or("?").to_owned());
        (encoding, r.bytes().await.unwrap().len())
    });
    println!(
        "exposition: {} KiB; with Accept-Encoding: gzip {} KiB ({:.1} %, content-encoding {:?}); {clients} clients for {seconds} s, cache interval {CACHE_INTERVAL:?}",
        first.len() / 1024,
        wire.1 / 1024,
        wire.1 as f64 * 100.0 / first.len() as f64,
        wire.0
    );

    // Burst: all clients at once, each holding its response until every one has answered.
    let answered = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let release = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let burst_began = Instant::now();
    let (burst_ok, burst_rss, burst_elapsed) = rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                let (answered, release) = (answered.clone(), release.clone());
                tokio::spawn(async move {
                    let r = client
                        .get(&url)
                        .basic_auth("prometheus", Some(PASSWORD))
                        .send()
                        .await;
                    // Every task reaches both barriers, failed or not, so none waits forever.
                    answered.wait().await;
                    release.wait().await;
                    match r {
                        Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                        _ => false,
                    }
                })
            })
            .collect();
        answered.wait().await;
        // Let the exporter fill the sockets it can before reading its memory.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss = status_kb(pid, "VmRSS").unwrap_or(0);
        release.wait().await;
        let mut ok = 0u64;
        for t in tasks {
            ok += u64::from(t.await.unwrap_or(false));
        }
        (ok, rss, burst_began.elapsed())
    });
    println!(
        "burst: {burst_ok}/{clients} scrapes ok in {:.1} s; exporter VmRSS with all {clients} responses in flight: {:.1} MB",
        burst_elapsed.as_secs_f64(),
        burst_rss as f64 / 1024.0
    );

    // The sustained phase opens its own connections. The burst's sat idle in the exporter while their answers were
    // held (a gzip'd answer fits the socket buffers, so the exporter has sent it all): the exporter closes a
    // connection idle for 10 s (hyper's header-read timeout also bounds the wait for a next request, from the
    // moment the last answer was written), and reqwest does not retry a request sent on a connection closed under
    // it: a burst over 10 s (a loaded machine) made the first sustained scrapes on them fail ("peer closed
    // connection without sending TLS close_notify"). So did a spare connection left idle in the pool for 10 s,
    // hence the pool's idle timeout.
    let client = new_client();
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut rss = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Some(kb) = status_kb(pid, "VmRSS") {
                    rss.push(kb);
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            rss
        })
    };
    let deadline = Duration::from_secs(seconds);
    let cpu_before = cpu_seconds(pid);
    let began = Instant::now();
    let latencies = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (client, url, ok, failed, bytes) = (
                client.clone(),
                url.clone(),
                ok.clone(),
                failed.clone(),
                bytes.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                while began.elapsed() < deadline
                    && ok.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < MAX_REQUESTS
                {
                    let t = Instant::now();
                    let r = client
                        .get(&url)
                        .basic_auth("prometheus", Some(PASSWORD))
                        .send()
                        .await;
                    let body = match r {
                        Ok(r) if r.status() == 200 => r.bytes().await.ok(),
                        Ok(r) => {
                            eprintln!("status {}", r.status());
                            None
                        }
                        Err(e) => {
                            let mut chain = e.to_string();
                            let mut source = std::error::Error::source(&e);
                            while let Some(s) = source {
                                chain.push_str(&format!(": {s}"));
                                source = s.source();
                            }
                            eprintln!("error after {:.1} s: {chain}", t.elapsed().as_secs_f64());
                            None
                        }
                    };
                    match body {
                        Some(b) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                            lat.push(t.elapsed());
                        }
                        None => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let elapsed = began.elapsed();
    let cpu = cpu_seconds(pid)
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let last = rt.block_on(async {
        client
            .get(&url)
            .basic_auth("prometheus", Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    stop.store(true, Ordering::Relaxed);
    let rss = sampler.join().unwrap();
    let peak = status_kb(pid, "VmHWM").unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();

    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let mut lat = latencies;
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "scrapes: {ok} ok, {failed} failed in {:.1} s = {:.0}/s, {:.0} MiB/s",
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        bytes.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64() / 1048576.0
    );
    if let Some(cpu) = cpu {
        // The exporter's own CPU: what a scrape costs it, whatever the client (on the same machine) costs.
        println!(
            "exporter CPU during the load: {cpu:.1} s, {:.1} ms per scrape (database reads included)",
            cpu * 1000.0 / ok.max(1) as f64
        );
    }
    println!(
        "latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );

    // One read per cache interval: the burst, the load window and the final scrape span that many intervals.
    let reads = reads_total(&last).expect("reads_total") - reads_before;
    let intervals = (burst_elapsed + elapsed).as_secs_f64() / CACHE_INTERVAL.as_secs_f64();
    // At most one read per interval (concurrent scrapes never add reads); fewer when reads are slow, since the
    // next interval starts when a read ends, but never so few that a reading outlives two intervals.
    let reads_ok = reads as f64 <= intervals + 1.0 && reads as f64 >= intervals / 2.0 - 1.0;
    println!("database reads during the load: {reads} for {intervals:.1} cache intervals");

    let mb = |kb: u64| kb as f64 / 1024.0;
    let third = (rss.len() / 3).max(1);
    let early = rss.iter().take(third).max().copied().unwrap_or(0);
    let late = rss.iter().rev().take(third).max().copied().unwrap_or(0);
    println!(
        "exporter VmRSS: min {:.1} MB, max {:.1} MB; max of the first third {:.1} MB, of the last third {:.1} MB ({} samples, 1/s)",
        mb(rss.iter().min().copied().unwrap_or(0)),
        mb(rss.iter().max().copied().unwrap_or(0)),
        mb(early),
        mb(late),
        rss.len()
    );
    println!("exporter peak RSS (VmHWM): {:.1} MB", mb(peak));
    let mut fail = false;
    if burst_ok != clients as u64 {
        println!("FAIL: {} burst scrapes failed", clients as u64 - burst_ok);
        fail = true;
    }
    if failed > 0 || ok == 0 {
        println!("FAIL: {failed} scrapes failed");
        fail = true;
    }
    if !reads_ok {
        println!("FAIL: {reads} database reads, expected at most one per cache interval ({intervals:.1}) and at least one per two");
        fail = true;
    }
    if fail {
        std::process::exit(1);
    }
}
