//! Issue 23 row 4: every file the exporter reads may be a FIFO (or a device); it must be refused at once with the
//! reason, never waited on. Each test makes a real FIFO with mkfifo(1) and runs the real binary under a deadline,
//! so a regression fails instead of hanging the suite. Before the fix, `--config.check --crowdsec.config <fifo>`
//! exited 0 and `--config.check --config.file <fifo>` never returned.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use common::real::ExporterProc;

const BIN: &str = env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter");
const DEADLINE: Duration = Duration::from_secs(20);

fn fifo(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    assert!(Command::new("mkfifo").arg(&p).status().unwrap().success());
    p
}

/// Exit code, stdout and stderr of the binary, killed (and the test failed) past [`DEADLINE`].
fn run_bounded(args: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("CROWDSEC_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} hung for {DEADLINE:?} (a FIFO was waited on)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code(),
        std::fs::read_to_string(out).unwrap(),
        std::fs::read_to_string(err).unwrap(),
    )
}

fn check_refuses(args: &[&str], origin: &str) -> String {
    let mut all = vec!["--config.check"];
    all.extend_from_slice(args);
    let (code, _, stderr) = run_bounded(&all);
    assert_eq!(code, Some(1), "{args:?}: {stderr}");
    assert!(stderr.contains(origin), "{args:?} names {origin}: {stderr}");
    assert!(
        stderr.contains("is a FIFO (named pipe), not a regular file"),
        "{args:?} says why: {stderr}"
    );
    stderr
}

#[test]
fn config_check_refuses_a_fifo_for_every_file_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.display().to_string();
    let db = ["--lapi.db", "/nonexistent/crowdsec.db"];

    // CrowdSec's config.yaml, and its .local overlay beside a regular config.yaml.
    let cfg = fifo(d, "config.yaml");
    check_refuses(&["--crowdsec.config", &s(&cfg)], "--crowdsec.config");
    let real = d.join("real.yaml");
    std::fs::write(&real, "common:\n  daemonize: true\n").unwrap();
    fifo(d, "real.yaml.local");
    check_refuses(&["--crowdsec.config", &s(&real)], "--crowdsec.config");

    // The exporter's own config file.
    let conf = fifo(d, "exporter.yml");
    check_refuses(
        &[&db[..], &["--config.file", &s(&conf)]].concat(),
        "config file",
    );

    // The web config file, and a certificate it names.
    let web = fifo(d, "web.yml");
    check_refuses(
        &[&db[..], &["--web.config.file", &s(&web)]].concat(),
        "--web.config.file",
    );
    let cert = fifo(d, "cert.pem");
    let web2 = d.join("web2.yml");
    std::fs::write(
        &web2,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            s(&cert),
            s(&cert)
        ),
    )
    .unwrap();
    check_refuses(
        &[&db[..], &["--web.config.file", &s(&web2)]].concat(),
        "--web.config.file",
    );

    // Credentials files: the database password, the Service API key.
    let password = fifo(d, "db-password");
    check_refuses(
        &[
            "--lapi.db",
            "postgres://crowdsec@127.0.0.1:1/crowdsec",
            "--lapi.db-password-file",
            &s(&password),
        ],
        "",
    );
    let key = fifo(d, "service-api-key");
    check_refuses(
        &[&db[..], &["--service-api.key-file", &s(&key)]].concat(),
        "--service-api.key-file",
    );
}

/// A bouncer file, its `.local` overlay and a CA file as FIFOs: diagnose ends, and names each.
#[test]
fn diagnose_reports_fifo_bouncer_files_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bouncers = d.join("bouncers");
    std::fs::create_dir(&bouncers).unwrap();
    fifo(&bouncers, "crowdsec-firewall-bouncer.yaml");
    std::fs::write(
        bouncers.join("crowdsec-custom-bouncer.yaml"),
        "api_url: http://127.0.0.1:1/\napi_key: 0123456789abcdef\n",
    )
    .unwrap();
    fifo(&bouncers, "crowdsec-custom-bouncer.yaml.local");
    // A CA file (read to verify the LAPI as the bouncer would).
    let ca = fifo(d, "ca.pem");
    std::fs::write(
        bouncers.join("crowdsec-blocker-bouncer.yaml"),
        format!(
            "api_url: https://127.0.0.1:1/\napi_key: 0123456789abcdef\nca_cert_path: {}\n",
            ca.display()
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = run_bounded(&[
        "--lapi.db",
        "/nonexistent/crowdsec.db",
        "--crowdsec.config",
        &d.join("none.yaml").display().to_string(),
        "--bouncers.config-dir",
        &bouncers.display().to_string(),
        // A file named explicitly is opened (non-blocking) and fails its `readable` check.
        "--bouncers.config-file",
        &fifo(d, "named.yaml").display().to_string(),
        "diagnose",
        "--output",
        "json",
    ]);
    assert!(code.is_some(), "{stderr}");
    assert_eq!(
        stdout
            .matches("is a FIFO (named pipe), not a regular file")
            .count(),
        2 + 2,
        "the named file, the overlay and the CA file (endpoint_reachable, lapi_reachable) are reported: {stdout}"
    );
    // The folder's scan never opens a FIFO: it is counted, and said.
    assert!(
        stdout.contains("1 FIFOs, sockets or devices, never opened (not_regular)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "cannot read the CA file {}: is a FIFO",
            ca.display()
        )),
        "{stdout}"
    );
}

/// The running exporter with CrowdSec's config a FIFO (no --lapi.db, so the database is found through it): it
/// listens and answers /metrics, and says why the source is down.
#[test]
fn a_fifo_crowdsec_config_does_not_hang_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = fifo(dir.path(), "config.yaml");
    let exporter = ExporterProc::start(
        &[
            "--crowdsec.config",
            &cfg.display().to_string(),
            "--bouncers.config-dir",
            &dir.path().join("none").display().to_string(),
        ],
        dir.path(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = exporter.addr;
    std::thread::spawn(move || {
        let _ = tx.send(common::http(addr, "GET", "/metrics", &[]));
    });
    let (status, _, body) = rx
        .recv_timeout(DEADLINE)
        .expect("/metrics answers with CrowdSec's config a FIFO");
    assert_eq!(status, 200);
    assert!(
        body.contains("crowdsec_exporter_source_up{source=\"lapi_db\"") && body.contains("} 0"),
        "the database source is down, not hung: {body}"
    );
    let log = exporter.proc.log_text();
    assert!(
        log.contains("is a FIFO (named pipe), not a regular file"),
        "logged with the reason: {log}"
    );
}
