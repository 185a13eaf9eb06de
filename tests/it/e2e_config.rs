//! End to end: bouncer configuration checks, LAPI reachability and `diagnose`, against the real CrowdSec 1.4.6
//! LAPI and the real crowdsec-custom-bouncer from Debian. Proves too that the checks never touch the bouncer's
//! row: its last_pull, type and ip_address (and, on 1.4.6, created_at, rewritten by any keyed request) stay put.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::real::*;
use common::*;

const KEY: &str = "e2eConfigKey0123456789abcdefABCD";
const WRONG: &str = "e2eWrongKey0123456789abcdefABCDE";

fn diagnose(args: &[&str], output: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
        .args(args)
        .args(["diagnose", "--output", output])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        !stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    (out.status.code().unwrap(), stdout)
}

fn json(args: &[&str]) -> (i32, serde_json::Value) {
    let (code, text) = diagnose(args, "json");
    (
        code,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

/// The bouncer's row as the real cscli and the database show it.
fn row(lapi: &Lapi) -> (serde_json::Value, (String, String, String)) {
    let cscli = lapi
        .bouncers_json()
        .into_iter()
        .find(|r| r["name"] == "custom")
        .unwrap();
    let sql = lapi
        .sql()
        .query_row(
            "SELECT last_pull, type, ip_address FROM bouncers WHERE name = 'custom'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    (cscli, sql)
}

fn write_config(path: &Path, lapi: &Lapi, key: &str) {
    std::fs::write(
        path,
        format!(
            "api_url: \"{}\"\napi_key: \"{key}\"\nbin_path: /bin/true\nupdate_frequency: 2s\nlog_mode: stdout\n",
            lapi.url()
        ),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn metric(exporter: &ExporterProc, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    value(&parse_samples(&exporter.metrics()), name, labels)
}

#[test]
fn config_checks_lapi_health_and_diagnose_with_the_real_lapi() {
    let mut lapi = Lapi::start();
    lapi.add_bouncer("custom", KEY);
    let mut bouncer = lapi.custom_bouncer(KEY);
    wait_until(
        "the custom bouncer's first pull",
        Duration::from_secs(20),
        || {
            lapi.bouncers_json()
                .iter()
                .any(|r| r["name"] == "custom" && r["type"] == "crowdsec-custom-bouncer")
        },
    );
    // Stopped: from now on nothing but the exporter could touch the row.
    bouncer.kill();
    let before = row(&lapi);

    let dir = lapi.dir.path().join("bouncers");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("crowdsec-custom-bouncer.yaml");
    let path = file.display().to_string();
    write_config(&file, &lapi, KEY);
    let config = lapi.config.display().to_string();
    let dir_s = dir.display().to_string();
    let args = [
        "--crowdsec.config",
        &config,
        "--lapi.name",
        "e2e",
        "--lapi.cache-interval",
        "1s",
        "--bouncers.config-dir",
        &dir_s,
        "--bouncers.check-interval",
        "1s",
    ];
    let exporter = ExporterProc::start(&args, lapi.dir.path());

    // A correct file: valid, matched to its bouncer, LAPI up.
    wait_until("the config to be valid", Duration::from_secs(15), || {
        metric(
            &exporter,
            "crowdsec_bouncer_config_valid",
            &[("path", &path), ("bouncer", "custom")],
        ) == Some(1.0)
    });
    let samples = parse_samples(&exporter.metrics());
    for check in [
        "readable",
        "parses",
        "api_url",
        "api_key",
        "key_registered",
        "lapi_reachable",
        "endpoint_reachable",
        "permissions",
    ] {
        assert_eq!(
            value(
                &samples,
                "crowdsec_bouncer_config_check",
                &[("path", &path), ("check", check)]
            ),
            Some(1.0),
            "{check}"
        );
    }
    assert_eq!(
        value(&samples, "crowdsec_lapi_up", &[("lapi", "e2e")]),
        Some(1.0)
    );
    let took = value(
        &samples,
        "crowdsec_lapi_health_duration_seconds",
        &[("lapi", "e2e")],
    )
    .unwrap();
    assert!((0.0..2.0).contains(&took), "{took}");
    assert_eq!(
        value(
            &samples,
            "crowdsec_exporter_source_up",
            &[("source", "bouncer_config"), ("name", "e2e")]
        ),
        Some(1.0)
    );

    let (code, text) = diagnose(&args, "text");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(": all fine"), "{text}");
    assert!(
        text.contains(&format!("LAPI e2e at {}: up", lapi.url())),
        "{text}"
    );
    assert!(text.contains("bouncer custom: ok, last pull "), "{text}");
    assert!(text.contains("crowdsec-custom-bouncer"), "{text}");
    assert!(text.contains(&format!("    config: {path}\n")), "{text}");
    assert!(
        text.contains(&format!(
            "  {path}: valid (Go bouncer (YAML)), bouncer: custom"
        )),
        "{text}"
    );
    assert!(!text.contains(KEY), "{text}");
    let (code, report) = json(&args);
    assert_eq!(code, 0);
    assert_eq!(report["status"], "ok");
    let b = &report["lapis"][0]["bouncers"][0];
    assert_eq!(b["name"], "custom");
    assert_eq!(b["verdict"], "ok");
    assert_eq!(b["config_files"][0], path.as_str());
    assert!(
        b["last_pull_ago"].as_str().unwrap().ends_with(" ago"),
        "{b}"
    );
    assert_eq!(report["config_files"][0]["valid"], true);
    assert_eq!(report["config_files"][0]["bouncer"], "custom");

    // Several check cycles with the right key (1 s interval, scrapes and diagnose runs): the row is untouched.
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(1100));
        exporter.metrics();
    }
    let after = row(&lapi);
    assert_eq!(before, after, "the checks never make a keyed request");

    // The same file with a wrong key: invalid, key_registered fails, the operator is told what to do.
    write_config(&file, &lapi, WRONG);
    wait_until("the wrong key to be seen", Duration::from_secs(15), || {
        metric(
            &exporter,
            "crowdsec_bouncer_config_valid",
            &[("path", &path), ("bouncer", "")],
        ) == Some(0.0)
    });
    let samples = parse_samples(&exporter.metrics());
    assert_eq!(
        value(
            &samples,
            "crowdsec_bouncer_config_check",
            &[("path", &path), ("check", "key_registered")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &samples,
            "crowdsec_bouncer_config_check",
            &[("path", &path), ("check", "lapi_reachable")]
        ),
        Some(1.0)
    );
    // A warning (CrowdSecBouncerConfigInvalid), not critical while its bouncer pulls: exit 3.
    let (code, text) = diagnose(&args, "text");
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("WARNING"), "{text}");
    assert!(
        text.contains(&format!(
            "  {path}: INVALID (Go bouncer (YAML)), bouncer: none matched"
        )),
        "{text}"
    );
    assert!(
        text.contains("FAIL key_registered: no bouncer is registered with this api_key"),
        "{text}"
    );
    assert!(
        text.contains("try: run `cscli bouncers add <name>`"),
        "{text}"
    );
    assert!(!text.contains(WRONG), "{text}");
    let (code, report) = json(&args);
    assert_eq!(code, 3);
    assert_eq!(report["status"], "warning");
    let f = &report["config_files"][0];
    assert_eq!(f["valid"], false);
    let kr = f["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "key_registered")
        .unwrap();
    assert_eq!(kr["status"], "fail");
    assert!(kr["fix"].as_str().unwrap().contains("cscli bouncers add"));
    assert_eq!(
        report["lapis"][0]["bouncers"][0]["config_files"],
        serde_json::json!([])
    );
    assert_eq!(
        row(&lapi),
        before,
        "a wrong key is not tried against the LAPI either"
    );

    // LAPI stopped: lapi_up 0, reachability fails, diagnose says so.
    lapi.stop();
    wait_until("lapi_up to drop", Duration::from_secs(15), || {
        metric(&exporter, "crowdsec_lapi_up", &[("lapi", "e2e")]) == Some(0.0)
    });
    wait_until("lapi_reachable to fail", Duration::from_secs(15), || {
        metric(
            &exporter,
            "crowdsec_bouncer_config_check",
            &[("path", &path), ("check", "lapi_reachable")],
        ) == Some(0.0)
    });
    wait_until(
        "endpoint_reachable to fail",
        Duration::from_secs(15),
        || {
            metric(
                &exporter,
                "crowdsec_bouncer_config_check",
                &[("path", &path), ("check", "endpoint_reachable")],
            ) == Some(0.0)
        },
    );
    let (code, text) = diagnose(&args, "text");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("FAIL endpoint_reachable: tcp: connection refused by 127.0.0.1:"),
        "the failing layer is named: {text}"
    );
    assert!(
        text.contains(&format!("LAPI e2e at {}: DOWN (cannot connect", lapi.url())),
        "{text}"
    );
    assert!(text.contains("FAIL lapi_reachable"), "{text}");
    let (code, report) = json(&args);
    assert_eq!(code, 1);
    assert_eq!(report["lapis"][0]["up"], false);
    assert!(report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_str().unwrap().starts_with("LAPI e2e does not answer")));

    // The tool itself cannot run: no database to read.
    let (code, report) = json(&[
        "--lapi.db",
        "/nonexistent/crowdsec.db",
        "--lapi.url",
        &lapi.url(),
        "--bouncers.config-dir",
        &dir_s,
    ]);
    assert_eq!(code, 2);
    assert_eq!(report["status"], "error");
    let (code, _) = diagnose(&["--lapi.url", "ftp://x"], "text");
    assert_eq!(code, 2, "bad flags");
}

/// Issue 11 #9: with the cscli source only, a key cannot be compared (cscli >= 1.6.1 prints no hashes; the
/// cscli source keeps none of 1.4.x's). The file must not be called valid: its valid and key_registered series
/// are absent and `diagnose --output json` carries the reason. Its other checks still run.
#[test]
fn cscli_source_says_the_key_was_not_checked() {
    let lapi = Lapi::start();
    lapi.add_bouncer("nginx", KEY);
    let dir = lapi.dir.path().join("bouncers");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("crowdsec-nginx-bouncer.conf");
    std::fs::write(
        &file,
        format!(
            "API_URL={}\nAPI_KEY={WRONG}\n",
            lapi.url().trim_end_matches('/')
        ),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(dir.join("crowdsec-nginx-bouncer.conf.id"), "nginx\n").unwrap();
    let path = file.display().to_string();
    let command = format!(
        "{} -c {} bouncers list -o json",
        part("cscli").display(),
        lapi.config.display()
    );
    let dir_s = dir.display().to_string();
    let url = lapi.url();
    let args = [
        "--lapi.cscli-command",
        &command,
        "--lapi.name",
        "c",
        "--lapi.url",
        &url,
        "--bouncers.config-dir",
        &dir_s,
        "--bouncers.check-interval",
        "1s",
    ];
    let exporter = ExporterProc::start(&args, lapi.dir.path());
    wait_until("the api_key check", Duration::from_secs(15), || {
        metric(
            &exporter,
            "crowdsec_bouncer_config_check",
            &[("path", &path), ("check", "api_key")],
        ) == Some(1.0)
    });
    let body = exporter.metrics();
    assert!(
        !body.contains("crowdsec_bouncer_config_valid{"),
        "no evidence, no verdict:\n{body}"
    );
    assert!(!body.contains("check=\"key_registered\""), "{body}");
    assert_eq!(
        metric(
            &exporter,
            "crowdsec_bouncer_config_enabled",
            &[("path", &path)]
        ),
        Some(1.0)
    );
    let (_, report) = json(&args);
    let f = &report["config_files"][0];
    let skipped = f["skipped"].as_array().expect("skipped checks listed");
    let kr = skipped
        .iter()
        .find(|s| s["check"] == "key_registered")
        .unwrap_or_else(|| panic!("{f}"));
    let why = kr["why"].as_str().unwrap();
    assert!(
        why.starts_with("not checked:") && why.contains("cscli") && why.contains(".id"),
        "{why}"
    );
    assert_eq!(f["bouncer"], "nginx", "linked by its .id file, said so");
    assert!(
        f["valid"].is_null(),
        "issue 11 #9: never valid for an unchecked key: {f}"
    );
    assert!(!report.to_string().contains(WRONG));
    let (_, text) = diagnose(&args, "text");
    let line = text
        .lines()
        .find(|l| l.contains("crowdsec-nginx-bouncer.conf:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        !line.contains("valid (") && line.contains("key could not be checked"),
        "{line}"
    );
    assert!(text.contains("skip key_registered: not checked:"), "{text}");
}
