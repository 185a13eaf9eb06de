//! `process_*` (issue 25 #7): the exporter binary reports its own process as client_golang's process collector
//! does for every Go exporter, and the figures are those of its `/proc/<pid>`, read here independently: the open
//! file limit the test gave it, its start time, its descriptors; both formats; `promtool check metrics` is clean.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::real::{assert_promtool_check_metrics_clean, free_port, wait_until, Proc};
use common::{http, parse_samples, value};

fn scrape(addr: std::net::SocketAddr, accept: &[(&str, &str)]) -> String {
    let (status, _, body) = http(addr, "GET", "/metrics", accept);
    assert_eq!(status, 200);
    body
}

#[test]
fn the_binary_reports_its_own_process_as_client_golang() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crowdsec.db");
    drop(common::db_1_7(&db));
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let before = crowdsec_bouncer_exporter::values::time::now();
    // A soft limit of open files no default has, set by the shell that execs the exporter (same pid).
    let mut exporter = Proc::spawn(
        Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 1234 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
            .args(["--web.listen-address", &addr.to_string()])
            .arg("--lapi.db")
            .arg(&db),
        dir.path().join("exporter.log"),
    );
    wait_until("the exporter to listen", Duration::from_secs(10), || {
        std::net::TcpStream::connect(addr).is_ok()
    });
    let pid = exporter.child.id();
    let proc = std::path::PathBuf::from(format!("/proc/{pid}"));

    let body = scrape(addr, &[]);
    let s = parse_samples(&body);
    let get = |name: &str| value(&s, name, &[]).unwrap_or_else(|| panic!("{name} missing: {body}"));
    assert_eq!(get("process_max_fds"), 1234.0);
    // Its descriptors now: the listener, the scrape's connection, the database's, the runtime's...
    let fds_now = std::fs::read_dir(proc.join("fd")).unwrap().count() as f64;
    let open = get("process_open_fds");
    assert!(
        open >= 3.0 && (open - fds_now).abs() <= 3.0,
        "{open} vs {fds_now}"
    );
    let start = get("process_start_time_seconds");
    assert!(
        start >= before.floor() - 1.0
            && start <= crowdsec_bouncer_exporter::values::time::now() + 1.0,
        "start {start}, spawned at {before}"
    );
    // The same resident memory as the kernel's own count (VmRSS, kB), within what a scrape allocates.
    let status = std::fs::read_to_string(proc.join("status")).unwrap();
    let vm_rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    let rss = get("process_resident_memory_bytes");
    assert!(
        (rss - vm_rss_kb * 1024.0).abs() < 0.5 * vm_rss_kb * 1024.0,
        "{rss} vs VmRSS {vm_rss_kb} kB"
    );
    assert!(get("process_virtual_memory_bytes") > rss);
    assert!(get("process_virtual_memory_max_bytes") > 0.0);
    let cpu = get("process_cpu_seconds_total");
    assert!(cpu >= 0.0);
    // A counter: it never goes back.
    for _ in 0..20 {
        scrape(addr, &[]);
    }
    let later = parse_samples(&scrape(addr, &[]));
    assert!(value(&later, "process_cpu_seconds_total", &[]).unwrap() >= cpu);

    // OpenMetrics names the counter's sample `_total` too, and declares the family without it.
    let om = scrape(
        addr,
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
    );
    assert!(
        om.contains("# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total "),
        "{om}"
    );
    assert!(om.contains("\nprocess_max_fds 1234\n"), "{om}");

    // promtool's linter accepts the exposition with them.
    assert_promtool_check_metrics_clean(&body);
    exporter.kill();
}
