//! The exposition as the Prometheus users run reads it (issue 13). The real Prometheus (Debian's 2.42 by default;
//! scripts/check-prometheus-matrix.sh also runs this on trixie's 2.53 and sid's 3.5 via PROMETHEUS_PARTS_DIR)
//! scrapes the exporter with every protocol it offers: its default `Accept` (OpenMetrics first; Prometheus 3 adds
//! `escaping=allow-utf-8`), and, from 2.49 on, `scrape_protocols` pinned to OpenMetrics only and to the classic
//! text format only. Each job must be up and hold the same series with the same values, UTF-8 and quotes in label
//! values included; `promtool check metrics` of that version accepts the classic text.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::real::{assert_promtool_check_metrics_clean, free_port, part, wait_until, Proc};
use common::*;
use crowdsec_bouncer_exporter::settings::{LapiDbLocation, Settings};

/// Registered names as an operator may write them (bouncer names are free text in CrowdSec).
const NAMES: [&str; 3] = ["pare-feu-é", "fw \"main\"", "nginx@192.0.2.7"];

fn seeded_db(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("crowdsec.db");
    let conn = db_1_7(&path);
    for (i, name) in NAMES.iter().enumerate() {
        conn.execute(
            "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type) VALUES (?1, ?1, ?2, 'deadbeefhash', 0, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v1', ?3, 'api-key')",
            rusqlite::params![ts(0), name, ts(60 * i as i64)],
        )
        .unwrap();
    }
    path
}

/// `(major, minor)` of the Prometheus under test.
fn prometheus_version() -> (u32, u32) {
    let out = Command::new(part("prometheus"))
        .arg("--version")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let v = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .unwrap_or_else(|| panic!("no version in {text:?}"));
    let mut it = v.split(['.', '+', '-']).map(|n| n.parse::<u32>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

fn query(prom: std::net::SocketAddr, q: &str) -> Vec<serde_json::Value> {
    let encoded: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, _, body) = http(prom, "GET", &format!("/api/v1/query?query={encoded}"), &[]);
    assert_eq!(status, 200, "{q}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"].as_array().unwrap().clone()
}

#[test]
fn every_scrape_protocol_of_this_prometheus_reads_the_same_series() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path());
    let exporter = start_in_process({
        let mut s = Settings::single_lapi("proto", LapiDbLocation::Sqlite(db));
        s.web.max_scrape_wait = Duration::from_secs(5);
        s
    });

    // promtool check metrics of the same version accepts the classic text.
    let (_, _, classic) = http(exporter.addr, "GET", "/metrics", &[]);
    assert_promtool_check_metrics_clean(&classic);

    let version = prometheus_version();
    // scrape_protocols exists from Prometheus 2.49 on; before, the default Accept is the only one.
    let jobs: Vec<(&str, &str)> = if version >= (2, 49) {
        vec![
            ("default", ""),
            (
                "openmetrics",
                "    scrape_protocols: [OpenMetricsText1.0.0]\n",
            ),
            ("classic", "    scrape_protocols: [PrometheusText0.0.4]\n"),
        ]
    } else {
        vec![("default", "")]
    };
    let mut config =
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
            .to_owned();
    for (job, protocols) in &jobs {
        config.push_str(&format!(
            "  - job_name: {job}\n{protocols}    static_configs:\n      - targets: ['{}']\n",
            exporter.addr
        ));
    }
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let mut prom = Proc::spawn(
        Command::new(part("prometheus"))
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}")),
        dir.path().join("prometheus.log"),
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_until(
        "every job scraped the exporter",
        Duration::from_secs(30),
        || {
            assert!(
                prom.child.try_wait().unwrap().is_none(),
                "prometheus exited: {}",
                prom.log_text()
            );
            std::net::TcpStream::connect(addr).is_ok()
                && http(addr, "GET", "/-/ready", &[]).0 == 200
                && query(addr, "up == 1").len() == jobs.len()
                && query(addr, "crowdsec_bouncer_info").len() == jobs.len() * NAMES.len()
        },
    );
    // Same series, same values, whichever format carried them.
    for (job, _) in &jobs {
        let samples = query(addr, &format!("scrape_samples_scraped{{job=\"{job}\"}}"));
        assert_eq!(samples.len(), 1, "{job}");
        for name in NAMES {
            let selector = format!(
                "crowdsec_bouncer_last_pull_timestamp_seconds{{job=\"{job}\",bouncer=\"{}\"}}",
                name.replace('"', "\\\"")
            );
            let r = query(addr, &selector);
            assert_eq!(r.len(), 1, "{selector}: {r:?}");
            let v: f64 = r[0]["value"][1].as_str().unwrap().parse().unwrap();
            let i = NAMES.iter().position(|n| *n == name).unwrap() as f64;
            assert!((v - (BASE_TS + 60.0 * i)).abs() < 1e-3, "{selector}: {v}");
            assert_eq!(r[0]["metric"]["bouncer"], name);
        }
    }
    // The same metric names for every job (OpenMetrics may add `_created` samples the classic text lacks).
    let names = |job: &str| -> std::collections::BTreeSet<String> {
        query(addr, &format!("count by (__name__) ({{job=\"{job}\"}})"))
            .iter()
            .map(|r| r["metric"]["__name__"].as_str().unwrap().to_owned())
            .filter(|n| !n.ends_with("_created"))
            .collect()
    };
    let default = names("default");
    assert!(default.contains("crowdsec_bouncer_info"), "{default:?}");
    for (job, _) in &jobs {
        assert_eq!(names(job), default, "job {job} (prometheus {version:?})");
    }
    prom.kill();
}
