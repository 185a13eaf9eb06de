//! examples/demo/run.sh, the one-command demo (issue 6): it brings up the real CrowdSec LAPI and custom bouncer, the
//! exporter and Prometheus with the rules on 127.0.0.1; Prometheus sees every bouncer state and the alert rules;
//! Ctrl-C (SIGINT) and DEMO_EXIT_AFTER both stop everything it started and remove its temp folder.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http;
use common::real::{free_port, wait_until};

struct Demo {
    child: Child,
    out: PathBuf,
    _dir: tempfile::TempDir,
    ports: [u16; 3],
}

impl Demo {
    fn start(exit_after: u64) -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("demo.out");
        let ports = [free_port(), free_port(), free_port()];
        let file = std::fs::File::create(&out).unwrap();
        let child = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo/run.sh"))
            .env("DEMO_EXIT_AFTER", exit_after.to_string())
            .env("DEMO_LAPI_PORT", ports[0].to_string())
            .env("DEMO_EXPORTER_PORT", ports[1].to_string())
            .env("DEMO_PROMETHEUS_PORT", ports[2].to_string())
            .env(
                "DEMO_EXPORTER_BIN",
                env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"),
            )
            .env("TMPDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Demo {
            child,
            out,
            _dir: dir,
            ports,
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    }

    fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < timeout,
                "the demo did not stop: {}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The temp folder it printed ("logs in DIR").
    fn work_dir(&self) -> PathBuf {
        let text = self.output();
        let at = text.find("(logs in ").expect("no 'logs in' line") + "(logs in ".len();
        PathBuf::from(text[at..].split(')').next().unwrap())
    }

    fn assert_all_stopped(&self) {
        for port in self.ports {
            assert!(
                std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
                "port {port} still listens after the demo stopped"
            );
        }
    }
}

impl Drop for Demo {
    /// A failing test still lets the script stop what it started (SIGTERM runs its cleanup).
    fn drop(&mut self) {
        if self.child.try_wait().unwrap().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(15) {
                if self.child.try_wait().unwrap().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn query(prom: std::net::SocketAddr, q: &str) -> Vec<serde_json::Value> {
    let enc: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, _, body) = http(prom, "GET", &format!("/api/v1/query?query={enc}"), &[]);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"].as_array().unwrap().clone()
}

#[test]
fn demo_serves_every_state_to_prometheus_and_ctrl_c_stops_everything() {
    let mut demo = Demo::start(600);
    let prom: std::net::SocketAddr = format!("127.0.0.1:{}", demo.ports[2]).parse().unwrap();
    wait_until(
        "the demo to print where to look",
        Duration::from_secs(120),
        || {
            assert!(
                demo.child.try_wait().unwrap().is_none(),
                "the demo exited: {}",
                demo.output()
            );
            demo.output().contains("Stop with Ctrl-C.")
        },
    );
    let text = demo.output();
    for want in [
        format!("http://127.0.0.1:{}/metrics", demo.ports[1]),
        format!("http://127.0.0.1:{}/", demo.ports[2]),
        "dashboards/crowdsec-bouncers.json".to_owned(),
    ] {
        assert!(
            text.contains(&want),
            "the demo does not print {want}: {text}"
        );
    }
    let work = demo.work_dir();
    assert!(work.join("config.yaml").is_file());

    // Prometheus scrapes the exporter reading the real LAPI: the live bouncer pulls, the samples show each state.
    wait_until(
        "prometheus to scrape the demo bouncers",
        Duration::from_secs(60),
        || {
            query(
                prom,
                "crowdsec_bouncer_pulled{job=\"crowdsec-bouncer-exporter\"}",
            )
            .len()
                == 4
        },
    );
    let value = |q: &str| -> f64 {
        let r = query(prom, q);
        assert_eq!(r.len(), 1, "{q}: {r:?}");
        r[0]["value"][1].as_str().unwrap().parse().unwrap()
    };
    assert_eq!(
        value("crowdsec_bouncer_pulled{bouncer=\"demo-custom-bouncer\"}"),
        1.0
    );
    assert!(
        value("crowdsec_bouncer_last_pull_age_seconds{bouncer=\"demo-custom-bouncer\"}") < 60.0
    );
    assert_eq!(
        value("crowdsec_bouncer_pulled{bouncer=\"demo-never-started\"}"),
        0.0
    );
    let late = value("crowdsec_bouncer_last_pull_age_seconds{bouncer=\"demo-late-firewall\"}");
    assert!((3600.0..86400.0).contains(&late), "{late}");
    assert!(
        value("crowdsec_bouncer_last_pull_age_seconds{bouncer=\"demo-offline-nginx\"}") > 86400.0
    );
    // The configuration checks: the live bouncer's file is valid, the unfilled one is not; the LAPI answers.
    wait_until(
        "the config checks in prometheus",
        Duration::from_secs(30),
        || query(prom, "crowdsec_bouncer_config_valid").len() == 2,
    );
    assert_eq!(
        value("crowdsec_bouncer_config_valid{bouncer=\"demo-custom-bouncer\"}"),
        1.0
    );
    assert_eq!(value("crowdsec_bouncer_config_valid{bouncer=\"\"}"), 0.0);
    // Issue 25 #4: the `diagnose` the demo prints, run as printed: the live bouncer's file passes `running` (the demo
    // checked a copy of the file the bouncer was started with, so its first diagnose said FAIL running).
    let line = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("diagnose "))
        .expect("the demo prints a diagnose command");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.last(), Some(&"diagnose"), "{line}");
    let out = Command::new(words[0])
        .args(&words[1..])
        .args(["--output", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let file = report["config_files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/crowdsec-custom-bouncer.yaml"))
        })
        .unwrap_or_else(|| panic!("no custom bouncer file in {report:#}"));
    let running = file["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "running")
        .unwrap_or_else(|| panic!("no running check: {file:#}"));
    assert_eq!(
        running["status"].as_str().unwrap().to_lowercase(),
        "pass",
        "{file:#}"
    );
    assert_eq!(file["valid"], true, "{file:#}");
    assert_eq!(value("crowdsec_lapi_up{lapi=\"demo\"}"), 1.0);
    // The shipped rules are loaded.
    let (status, _, rules) = http(prom, "GET", "/api/v1/rules", &[]);
    assert_eq!(status, 200);
    assert!(
        rules.contains("CrowdSecBouncerOffline")
            && rules.contains("crowdsec:bouncer_offline_threshold_seconds")
    );
    // The offline bouncer is pending its `for:` already.
    wait_until(
        "CrowdSecBouncerOffline pending",
        Duration::from_secs(30),
        || {
            !query(
                prom,
                "ALERTS{alertname=\"CrowdSecBouncerOffline\",bouncer_base=\"demo-offline-nginx\"}",
            )
            .is_empty()
        },
    );

    // Ctrl-C.
    demo.signal("-INT");
    let status = demo.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "exit {status:?}: {}", demo.output());
    demo.assert_all_stopped();
    assert!(!work.exists(), "{} left behind", work.display());
    assert!(demo.output().contains("demo: stopped"));
}

#[test]
fn demo_exit_after_mode_exits_zero_and_cleans_up() {
    let mut demo = Demo::start(1);
    let status = demo.wait_exit(Duration::from_secs(120));
    let text = demo.output();
    assert!(status.success(), "exit {status:?}: {text}");
    assert!(text.contains("DEMO_EXIT_AFTER=1 reached"), "{text}");
    demo.assert_all_stopped();
    assert!(!demo.work_dir().exists());
}
