//! The real parts (Debian's CrowdSec 1.4.6 LAPI, cscli, crowdsec-custom-bouncer, Prometheus, Alertmanager) and
//! the exporter binary, run on 127.0.0.1 in temp folders. `scripts/fetch-parts.sh` puts them in target/parts;
//! a missing part fails the test (it is never skipped).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUPPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support");

pub fn part(name: &str) -> PathBuf {
    let root = std::env::var_os("PARTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/parts"));
    // The version matrix (scripts/check-prometheus-matrix.sh) swaps in another Debian release's Prometheus and
    // Alertmanager: PROMETHEUS_PARTS_DIR is a folder of scripts/fetch-prometheus-matrix.sh (SUITE/).
    let root = match std::env::var_os("PROMETHEUS_PARTS_DIR") {
        Some(dir)
            if matches!(
                name,
                "prometheus" | "promtool" | "prometheus-alertmanager" | "amtool"
            ) =>
        {
            PathBuf::from(dir)
        }
        _ => root,
    };
    let p = root.join("root/usr/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/fetch-parts.sh (or the test command in README.md)",
        p.display()
    );
    p
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that the real `promtool check metrics` (Prometheus' exposition linter, of the version the tests run)
/// accepts `exposition` and has nothing to say about it: exit status 0 and no line on stdout or stderr.
pub fn assert_promtool_check_metrics_clean(exposition: &str) {
    let mut promtool = Command::new(part("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(promtool.stdin.as_mut().unwrap(), exposition.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {report}\n{exposition}"
    );
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(cmd: &mut Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Proc { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status (None if it did not exit within `timeout`).
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn render(template: &str, vars: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(Path::new(SUPPORT).join(template)).unwrap();
    for (k, v) in vars {
        text = text.replace(k, v);
    }
    text
}

/// A real CrowdSec Local API (`crowdsec -no-cs`), SQLite in a temp folder.
pub struct Lapi {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub config: PathBuf,
    pub db: PathBuf,
    pub proc: Option<Proc>,
}

impl Lapi {
    pub fn start() -> Lapi {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("data")).unwrap();
        std::fs::copy(
            Path::new(SUPPORT).join("profiles.yaml"),
            d.join("profiles.yaml"),
        )
        .unwrap();
        let port = free_port();
        let config = d.join("config.yaml");
        let dir_str = format!("{}", d.display());
        std::fs::write(
            &config,
            render(
                "lapi-config.yaml.tmpl",
                &[
                    ("@DIR@", dir_str.as_str()),
                    ("@LAPI_PORT@", &port.to_string()),
                    ("@PROM_PORT@", &free_port().to_string()),
                ],
            ),
        )
        .unwrap();
        let mut lapi = Lapi {
            db: d.join("data/crowdsec.db"),
            dir,
            port,
            config,
            proc: None,
        };
        lapi.resume();
        lapi
    }

    /// Starts (again) the LAPI process and waits until it answers.
    pub fn resume(&mut self) {
        let log = self.dir.path().join(format!(
            "crowdsec-{}.log",
            Instant::now().elapsed().as_nanos()
        ));
        let proc = Proc::spawn(
            Command::new(part("crowdsec"))
                .arg("-no-cs")
                .arg("-c")
                .arg(&self.config),
            log,
        );
        self.proc = Some(proc);
        let port = self.port;
        wait_until("the LAPI to listen", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub fn cscli(&self, args: &[&str]) -> String {
        let out = Command::new(part("cscli"))
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cscli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn add_bouncer(&self, name: &str, key: &str) {
        self.cscli(&["bouncers", "add", name, "-k", key]);
    }

    pub fn bouncers_json(&self) -> Vec<serde_json::Value> {
        let text = self.cscli(&["bouncers", "list", "-o", "json"]);
        match serde_json::from_str(&text).unwrap() {
            serde_json::Value::Array(a) => a,
            serde_json::Value::Null => vec![],
            other => panic!("unexpected cscli output {other}"),
        }
    }

    /// A read-write connection, as CrowdSec would have, for what tests do behind its back.
    pub fn sql(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(&self.db).unwrap();
        c.busy_timeout(Duration::from_secs(5)).unwrap();
        c
    }

    /// The real crowdsec-custom-bouncer pulling every 2 s with `key`.
    pub fn custom_bouncer(&self, key: &str) -> Proc {
        let d = self.dir.path();
        let file = d.join(format!("custom-{key}.yaml"));
        std::fs::write(
            &file,
            render(
                "custom-bouncer.yaml.tmpl",
                &[
                    ("@API_URL@", &self.url()),
                    ("@API_KEY@", key),
                    ("@BIN_PATH@", "/bin/true"),
                ],
            ),
        )
        .unwrap();
        Proc::spawn(
            Command::new(part("crowdsec-custom-bouncer"))
                .arg("-c")
                .arg(&file),
            d.join(format!("custom-{key}.log")),
        )
    }
}

impl Drop for Lapi {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The exporter binary under test.
pub struct ExporterProc {
    pub proc: Proc,
    pub addr: std::net::SocketAddr,
}

impl ExporterProc {
    pub fn start(args: &[&str], log_dir: &Path) -> ExporterProc {
        let port = free_port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"));
        cmd.args([
            "--web.listen-address",
            &addr.to_string(),
            "--log.level",
            "debug",
        ])
        .args(args);
        let proc = Proc::spawn(&mut cmd, log_dir.join(format!("exporter-{port}.log")));
        wait_until("the exporter to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect(addr).is_ok()
        });
        ExporterProc { proc, addr }
    }

    pub fn metrics(&self) -> String {
        let (status, _, body) = super::http(self.addr, "GET", "/metrics", &[]);
        assert_eq!(status, 200);
        body
    }
}
