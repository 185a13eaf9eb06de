//! Issue 23 rows 2 and 3: a key or a URL password written where no secret is expected. Every text the tool prints
//! (diagnose's text and JSON, the logs in both formats, the exposition in both formats, the landing page, start-up
//! errors) is searched for it. Before, diagnose printed `FAIL api_url: api_url "<key>" is not an absolute URL` and
//! `FAIL lapi_reachable: http://u:SECRET@127.0.0.1:1/: tcp: ...`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common;
use common::real::{wait_until, ExporterProc};

const BIN: &str = env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter");
/// Row 2's key, written as both `api_url` and `api_key`.
const KEY: &str = "9f2c0d6a7b1e4f3a8c5d2e1f0a9b8c7d";

fn run(args: &[&str]) -> (String, String) {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("CROWDSEC_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.args(args).output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn bouncers(dir: &Path, text: &str) -> String {
    let b = dir.join("bouncers");
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(b.join("crowdsec-firewall-bouncer.yaml"), text).unwrap();
    b.display().to_string()
}

/// diagnose (text and JSON) and the running exporter's exposition (both formats) and log (both formats).
fn every_output(dir: &Path, bouncer_dir: &str) -> Vec<(String, String)> {
    let base = [
        "--lapi.db",
        "/nonexistent/crowdsec.db",
        "--crowdsec.config",
        "/nonexistent/config.yaml",
        "--bouncers.config-dir",
        bouncer_dir,
    ];
    let mut outputs = Vec::new();
    for output in ["text", "json"] {
        let (stdout, stderr) = run(&[
            &base[..],
            &["--log.level", "debug", "diagnose", "--output", output],
        ]
        .concat());
        outputs.push((format!("diagnose {output}"), stdout));
        outputs.push((format!("diagnose {output} stderr"), stderr));
    }
    for format in ["logfmt", "json"] {
        let logs = dir.join(format);
        std::fs::create_dir_all(&logs).unwrap();
        let exporter = ExporterProc::start(
            &[
                &base[..],
                &["--log.format", format, "--bouncers.check-interval", "1s"],
            ]
            .concat(),
            &logs,
        );
        // (ExporterProc logs at debug.) The bouncer checks have run once the file's family is exposed.
        let mut body = String::new();
        wait_until("the bouncer checks", Duration::from_secs(20), || {
            body = exporter.metrics();
            body.contains("crowdsec_bouncer_config_check{")
        });
        outputs.push((format!("metrics ({format} run)"), body));
        let (_, _, om) = common::http(
            exporter.addr,
            "GET",
            "/metrics",
            &[("Accept", "application/openmetrics-text")],
        );
        outputs.push(("openmetrics".into(), om));
        // The landing page (issue 25 #9): diagnose's problems and causes, the sources' messages.
        let (status, _, page) = common::http(exporter.addr, "GET", "/", &[]);
        assert_eq!(status, 200);
        assert!(page.contains("<h2>Bouncers</h2>"), "{page}");
        outputs.push((format!("landing page ({format} run)"), page));
        outputs.push((format!("log {format}"), exporter.proc.log_text()));
    }
    outputs
}

#[test]
fn a_key_written_as_api_url_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let b = bouncers(dir.path(), &format!("api_url: {KEY}\napi_key: {KEY}\n"));
    let outputs = every_output(dir.path(), &b);
    for (what, text) in &outputs {
        assert!(!text.contains(KEY), "{what} prints the key: {text}");
    }
    let diagnose = &outputs[0].1;
    assert!(
        diagnose.contains(r#"FAIL api_url: api_url "<redacted>" is not an absolute URL"#),
        "the finding stays, without the key: {diagnose}"
    );
}

#[test]
fn url_userinfo_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let b = bouncers(
        dir.path(),
        "api_url: http://u:SECRET@127.0.0.1:1/\napi_key: 0123456789abcdef0123\n",
    );
    let outputs = every_output(dir.path(), &b);
    for (what, text) in &outputs {
        assert!(
            !text.contains("SECRET"),
            "{what} prints the password: {text}"
        );
        assert!(!text.contains("u:"), "{what} prints the userinfo: {text}");
    }
    assert!(
        outputs[0].1.contains("http://<redacted>@127.0.0.1:1/"),
        "{}",
        outputs[0].1
    );
}

/// A refused value on the command line is quoted by the error: not its password.
#[test]
fn start_up_errors_do_not_quote_a_password() {
    let (_, stderr) = run(&[
        "--config.check",
        "--lapi.db",
        "postgres://crowdsec:SECRET@127.0.0.1:1/cs?sslmode=bogus",
    ]);
    assert!(!stderr.contains("SECRET"), "{stderr}");
    let (_, stderr) = run(&[
        "--config.check",
        "--lapi.url",
        "http://u:SECRET@127.0.0.1:1/",
    ]);
    assert!(!stderr.is_empty() && !stderr.contains("SECRET"), "{stderr}");
}
