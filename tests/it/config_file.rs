//! `--config.file` with several LAPIs, `--config.check`, and how the file and the flags combine.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::real::ExporterProc;
use common::*;
use crowdsec_bouncer_exporter::cli::Cli;
use crowdsec_bouncer_exporter::settings::{
    CheckSettings, LapiDbLocation, ServiceApiSettings, Thresholds,
};

fn check(file: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
        .arg("--config.check")
        .arg("--config.file")
        .arg(file)
        .env_remove("CROWDSEC_SERVICE_API_KEY")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_exits_0_or_1_with_the_error_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.yaml");
    std::fs::write(
        &file,
        "lapis:\n  - name: edge\n    db: /var/lib/crowdsec/data/crowdsec.db\n  - name: k8s\n    cscli_command: kubectl exec -n crowdsec deploy/lapi -- cscli bouncers list -o json\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = check(&file);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("edge, k8s"), "{stdout}");

    std::fs::write(
        &file,
        "web:\n  telemetry_path: /metrics\nlapis:\n  - name: edge\n    db: /x.db\n    cache_intervall: 5s\n",
    )
    .unwrap();
    let (ok, _, stderr) = check(&file);
    assert!(!ok);
    assert!(stderr.contains("cache_intervall"), "{stderr}");
    assert!(stderr.contains("line 6"), "{stderr}");

    let (ok, _, stderr) = check(&dir.path().join("missing.yaml"));
    assert!(!ok);
    assert!(stderr.contains("cannot read config file"), "{stderr}");
}

#[test]
fn the_file_wins_over_flags_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.yaml");
    std::fs::write(
        &file,
        "web:\n  telemetry_path: /m\nlog:\n  format: json\nlapis:\n  - name: a\n    db: /a.db\n    url: http://127.0.0.1:8080\n  - name: b\n    crowdsec_config: /etc/cs/config.yaml\n    timeout: 3s\n",
    )
    .unwrap();
    let cli = parse_cli(&[
        "x",
        "--config.file",
        file.to_str().unwrap(),
        "--web.telemetry-path",
        "/flag",
        "--web.listen-address",
        "127.0.0.1:9",
        "--lapi.name",
        "ignored",
        "--lapi.timeout",
        "9s",
    ]);
    let s = cli.settings_with_key_env(None).unwrap();
    assert_eq!(s.web.telemetry_path, "/m", "the file wins");
    assert_eq!(
        s.web.listen_addresses,
        ["127.0.0.1:9"],
        "the flag stays where the file is silent"
    );
    assert_eq!(
        s.log.format,
        crowdsec_bouncer_exporter::settings::LogFormat::Json
    );
    let names: Vec<_> = s.lapis.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["a", "b"], "`lapis` replaces the flags' LAPI");
    assert_eq!(
        s.lapis[0].read_timeout.as_secs(),
        9,
        "--lapi.timeout is the default"
    );
    assert_eq!(s.lapis[1].read_timeout.as_secs(), 3);
    assert_eq!(
        s.lapis[1].db,
        LapiDbLocation::FromCrowdsecConfig("/etc/cs/config.yaml".into())
    );
    assert_eq!(
        s.lapis[0].url.as_ref().unwrap().as_str(),
        "http://127.0.0.1:8080/"
    );

    // Without `lapis`, the flags describe the one LAPI.
    std::fs::write(&file, "web:\n  telemetry_path: /m\n").unwrap();
    let s = parse_cli(&[
        "x",
        "--config.file",
        file.to_str().unwrap(),
        "--lapi.db",
        "/f.db",
    ])
    .settings_with_key_env(None)
    .unwrap();
    assert_eq!(s.lapis[0].db, LapiDbLocation::Sqlite("/f.db".into()));

    // The Service API from the file: key from its key_file.
    let key = dir.path().join("sapi.key");
    std::fs::write(&key, "sapi-key-0123\n").unwrap();
    std::fs::write(
        &file,
        format!(
            "service_api:\n  key_file: {}\n  tags: [prod]\n  refresh_interval: 10m\n",
            key.display()
        ),
    )
    .unwrap();
    let sa = parse_cli(&["x", "--config.file", file.to_str().unwrap()])
        .settings_with_key_env(None)
        .unwrap()
        .group::<ServiceApiSettings>()
        .cloned()
        .unwrap();
    assert_eq!(sa.key.expose(), "sapi-key-0123");
    assert_eq!(sa.tags, ["prod"]);
    assert_eq!(sa.refresh_interval.as_secs(), 600);
}

fn parse_cli(args: &[&str]) -> Cli {
    <Cli as clap::Parser>::try_parse_from(args).unwrap()
}

#[test]
fn two_lapis_in_one_exporter_and_one_failing_leaves_the_other_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("edge.db");
    let conn = db_1_7(&db);
    conn.execute(
        "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type) VALUES (?1, ?1, 'fw', 'hash', 0, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v1', ?2, 'api-key')",
        rusqlite::params![ts(0), ts(60)],
    )
    .unwrap();
    let fixture = Path::new(FIXTURES).join("cscli-1.7-bouncers-list.json");
    let file = dir.path().join("exporter.yaml");
    std::fs::write(
        &file,
        format!(
            "lapis:\n  - name: edge\n    db: {}\n    cache_interval: 0s\n  - name: container\n    cscli_command: cat '{}'\n    cache_interval: 0s\n",
            db.display(),
            fixture.display()
        ),
    )
    .unwrap();
    let exporter = ExporterProc::start(&["--config.file", file.to_str().unwrap()], dir.path());
    let samples = parse_samples(&exporter.metrics());
    let pull = |s: &[Sample], lapi: &str, bouncer: &str| {
        value(
            s,
            "crowdsec_bouncer_last_pull_timestamp_seconds",
            &[("lapi", lapi), ("bouncer", bouncer)],
        )
    };
    assert!(pull(&samples, "edge", "fw").is_some());
    assert!(pull(&samples, "container", "cs-firewall-bouncer@1.2.3.4").is_some());
    assert_eq!(pull(&samples, "edge", "cs-firewall-bouncer@1.2.3.4"), None);
    for (source, name) in [("lapi_db", "edge"), ("cscli", "container")] {
        assert_eq!(
            value(
                &samples,
                "crowdsec_exporter_source_up",
                &[("source", source), ("name", name)]
            ),
            Some(1.0)
        );
    }

    // The SQLite file goes away: its LAPI is down (last data kept), the other one is untouched.
    drop(conn);
    std::fs::remove_file(&db).unwrap();
    let samples = parse_samples(&exporter.metrics());
    assert_eq!(
        value(
            &samples,
            "crowdsec_exporter_source_up",
            &[("source", "lapi_db"), ("name", "edge")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &samples,
            "crowdsec_exporter_source_up",
            &[("source", "cscli"), ("name", "container")]
        ),
        Some(1.0)
    );
    assert!(pull(&samples, "container", "cs-firewall-bouncer@1.2.3.4").is_some());
    assert!(
        pull(&samples, "container", "nginx-frontend").is_none(),
        "never pulled"
    );
}

#[test]
fn config_check_validates_the_bouncers_and_thresholds_sections() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.yaml");
    std::fs::write(
        &file,
        "bouncers:\n  config_dirs: [/etc/crowdsec/bouncers]\n  check_interval: 1m\n  timeout: 3s\nthresholds:\n  late: 10m\n  offline: 2h\n",
    )
    .unwrap();
    let (ok, _, stderr) = check(&file);
    assert!(ok, "{stderr}");
    for (text, want) in [
        (
            "lapis:\n  - name: a\n    db: /a.db\nbouncers:\n  config_dirs: [/x]\n  check_intervall: 5s\n",
            ["check_intervall", "line 6"],
        ),
        (
            "thresholds:\n  late: 10m\n  ofline: 1h\n",
            ["ofline", "line 3"],
        ),
        ("checks:\n  config_dirs: [/x]\n", ["checks", "line 1"]),
        (
            "thresholds:\n  late: soon\n",
            ["invalid duration", "exporter.yaml:2 thresholds.late"],
        ),
        (
            "thresholds:\n  late: 2d\n",
            ["thresholds", "late < offline"],
        ),
        ("thresholds:\n  late: 0s\n", ["thresholds", "0 < late"]),
        (
            "bouncers:\n  check_interval: 0s\n",
            ["bouncers.check_interval", "at least 1s"],
        ),
        ("bouncers:\n  timeout: 0s\n", ["bouncers.timeout", "more than 0"]),
    ] {
        std::fs::write(&file, text).unwrap();
        let (ok, _, stderr) = check(&file);
        assert!(!ok, "{text}");
        for w in want {
            assert!(stderr.contains(w), "{text}: {stderr}");
        }
    }
}

#[test]
fn bouncers_section_replaces_the_check_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.yaml");
    std::fs::write(
        &file,
        "bouncers:\n  config_dirs: [/file/dir]\n  check_interval: 2m\n  timeout: 4s\n",
    )
    .unwrap();
    let s = parse_cli(&[
        "x",
        "--config.file",
        file.to_str().unwrap(),
        "--bouncers.config-dir",
        "/flag/dir",
        "--bouncers.config-file",
        "/flag/one.yaml",
        "--bouncers.check-interval",
        "7s",
        "--lapi.url",
        "http://127.0.0.1:8081/",
    ])
    .settings_with_key_env(None)
    .unwrap();
    let checks = s.group::<CheckSettings>().cloned().unwrap();
    assert_eq!(
        checks.config_dirs,
        [Path::new("/file/dir")],
        "the file wins"
    );
    assert_eq!(
        checks.config_files,
        [Path::new("/flag/one.yaml")],
        "the flag stays where the file is silent"
    );
    assert_eq!(checks.interval.as_secs(), 120);
    assert_eq!(checks.timeout.as_secs(), 4);
    assert_eq!(checks.lapi_url.unwrap().as_str(), "http://127.0.0.1:8081/");
    assert_eq!(s.thresholds, Thresholds::default());

    // Without `timeout`, it follows the file's interval as it follows the flag's: the interval, at most 5 s.
    std::fs::write(&file, "bouncers:\n  check_interval: 2s\n").unwrap();
    let checks = parse_cli(&["x", "--config.file", file.to_str().unwrap()])
        .settings_with_key_env(None)
        .unwrap()
        .group::<CheckSettings>()
        .cloned()
        .unwrap();
    assert_eq!(checks.timeout.as_secs(), 2);
    // Left at its default, the folder follows CrowdSec's config (issue 20 #4), then the packages' places.
    assert_eq!(
        checks.config_dirs,
        [
            Path::new("/etc/crowdsec/bouncers"),
            Path::new("/usr/local/etc/crowdsec/bouncers")
        ]
    );
}

/// A 1.7 database with bouncers that last pulled `minutes` ago each.
fn db_pulled_minutes_ago(path: &Path, bouncers: &[(&str, i64)]) {
    let conn = db_1_7(path);
    for (name, minutes) in bouncers {
        conn.execute(
            "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type) VALUES (?1, ?1, ?2, 'hash', 0, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v1', strftime('%Y-%m-%d %H:%M:%S', 'now', ?3) || '.123456789+00:00', 'api-key')",
            rusqlite::params![ts(0), name, format!("-{minutes} minutes")],
        )
        .unwrap();
    }
}

#[test]
fn the_bouncers_section_drives_the_exporter_checks() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("edge.db");
    db_pulled_minutes_ago(&db, &[("fw", 1)]);
    let (from_file, from_flag) = (dir.path().join("file-dir"), dir.path().join("flag-dir"));
    for d in [&from_file, &from_flag] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(
            d.join("crowdsec-firewall-bouncer.yaml"),
            "api_url: http://127.0.0.1:1/\napi_key: not-a-registered-key-0123\n",
        )
        .unwrap();
    }
    let file = dir.path().join("exporter.yaml");
    std::fs::write(
        &file,
        format!(
            "lapis:\n  - name: edge\n    db: {}\n    url: http://127.0.0.1:1/\n    cache_interval: 0s\nbouncers:\n  config_dirs: [{}]\n  check_interval: 1s\n  timeout: 2s\n",
            db.display(),
            from_file.display()
        ),
    )
    .unwrap();
    let exporter = ExporterProc::start(
        &[
            "--config.file",
            file.to_str().unwrap(),
            "--bouncers.config-dir",
            from_flag.to_str().unwrap(),
        ],
        dir.path(),
    );
    let samples = parse_samples(&exporter.metrics());
    let valid = |dir: &Path| {
        let path = dir.join("crowdsec-firewall-bouncer.yaml");
        value(
            &samples,
            "crowdsec_bouncer_config_valid",
            &[("path", path.to_str().unwrap())],
        )
    };
    assert_eq!(valid(&from_file), Some(0.0), "the key is not registered");
    assert_eq!(valid(&from_flag), None, "the file's config_dirs win");
    assert_eq!(
        value(
            &samples,
            "crowdsec_exporter_source_up",
            &[("source", "bouncer_config")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "crowdsec_lapi_up", &[("lapi", "edge")]),
        Some(0.0),
        "the LAPI url of the file is asked"
    );
}

fn diagnose_json(file: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
        .arg("--config.file")
        .arg(file)
        .args(["diagnose", "--output", "json"])
        .env_remove("CROWDSEC_SERVICE_API_KEY")
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn diagnose_uses_the_files_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("edge.db");
    db_pulled_minutes_ago(&db, &[("recent", 5), ("twenty", 20), ("hour", 90)]);
    let empty = dir.path().join("bouncers");
    std::fs::create_dir(&empty).unwrap();
    let file = dir.path().join("exporter.yaml");
    let base = format!(
        "lapis:\n  - name: edge\n    db: {}\nbouncers:\n  config_dirs: [{}]\n",
        db.display(),
        empty.display()
    );
    let states = |report: &serde_json::Value| -> Vec<(String, String)> {
        report["lapis"][0]["bouncers"]
            .as_array()
            .unwrap_or_else(|| panic!("{report:#}"))
            .iter()
            .map(|b| {
                (
                    b["name"].as_str().unwrap().to_owned(),
                    b["verdict"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let sorted = |mut v: Vec<(String, String)>| {
        v.sort();
        v
    };
    let want = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        sorted(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    };

    std::fs::write(&file, &base).unwrap();
    assert_eq!(
        sorted(states(&diagnose_json(&file))),
        want(&[("hour", "late"), ("recent", "ok"), ("twenty", "ok")]),
        "defaults: late after 1 h"
    );

    std::fs::write(&file, format!("{base}thresholds:\n  late: 10m\n")).unwrap();
    assert_eq!(
        sorted(states(&diagnose_json(&file))),
        want(&[("hour", "late"), ("recent", "ok"), ("twenty", "late")])
    );

    std::fs::write(
        &file,
        format!("{base}thresholds:\n  late: 10m\n  offline: 1h\n"),
    )
    .unwrap();
    let report = diagnose_json(&file);
    assert_eq!(
        sorted(states(&report)),
        want(&[("hour", "offline"), ("recent", "ok"), ("twenty", "late")])
    );
    assert_eq!(report["status"], "critical", "{report:#}");
}

#[test]
fn the_documented_example_is_a_valid_file() {
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .unwrap();
    let section = &readme[readme.find("## Config file").unwrap()..];
    let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
    let yaml = &section[start..start + section[start..].find("```").unwrap()];
    let path = Path::new("docs/configuration.md");
    let file = crowdsec_bouncer_exporter::config_file::parse(path, yaml).unwrap();
    assert_eq!(file.thresholds(path).unwrap(), Thresholds::default());
    file.check_bouncers(path).unwrap();
    // Its `pg` entry reads its password from the variable `db_password_env` names: given here, unset below.
    let lapis = |env: &dyn Fn(&str) -> Option<String>| {
        crowdsec_bouncer_exporter::sources::lapi_db::lapi_settings::from_file(
            path,
            &file.text,
            file.lapis.as_deref().unwrap(),
            [Duration::ZERO, Duration::ZERO, Duration::from_secs(5)],
            env,
        )
    };
    // A value no other test's label holds: a password read is registered for redaction in the whole test process
    // (`values::secret`), so a common word here ("example") was redacted from another test's bouncer names.
    const PASSWORD: &str = "pg-pw-config-file-example-7f3a";
    let set = |name: &str| (name == "LAPI_PG_PASSWORD").then(|| PASSWORD.to_owned());
    let got = lapis(&set).unwrap();
    let names: Vec<&str> = got.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["edge", "k8s", "pg"]);
    let LapiDbLocation::Server(pg) = &got[2].db else {
        panic!("{:?}", got[2].db)
    };
    assert_eq!(pg.password.as_ref().map(|p| p.expose()), Some(PASSWORD));
    let line = yaml
        .lines()
        .position(|l| l.trim_start().starts_with("db_password_env:"))
        .unwrap()
        + 1;
    assert_eq!(
        lapis(&|_| None).unwrap_err().to_string(),
        format!("docs/configuration.md:{line} lapis[2].db_password_env: the variable LAPI_PG_PASSWORD is not set")
    );
}

/// The newcomer's: `lapis: - crowdsec_config: <folder>` (or a missing file) passed `--config.check` ("settings are
/// valid"). Start-up accepts both (it logs that the database is not found yet and tries CrowdSec's config again on
/// every read, the LAPI down meanwhile), so neither makes start-up fail. A folder can never be CrowdSec's config:
/// `--config.check` refuses it (exit 1), as it already refused `--crowdsec.config <folder or FIFO>` (issue 23),
/// naming `file:line lapis[i].crowdsec_config`. A missing file may be CrowdSec installed after the exporter, which
/// start-up accepts: valid (exit 0), with a warning naming the key and saying the LAPI is down until it appears.
#[test]
fn config_check_refuses_a_folder_as_a_lapis_crowdsec_config_and_warns_of_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.yaml");
    let folder = dir.path().join("crowdsec");
    std::fs::create_dir(&folder).unwrap();
    let text = |config: &Path| {
        format!(
            "lapis:\n  - name: edge\n    db: /x.db\n  - name: cs\n    crowdsec_config: {}\n",
            config.display()
        )
    };
    std::fs::write(&file, text(&folder)).unwrap();
    let (ok, stdout, stderr) = check(&file);
    assert!(!ok, "{stdout}");
    assert_eq!(
        stderr,
        format!(
            "crowdsec-bouncer-exporter: {}:5 lapis[1].crowdsec_config: {}: is a directory, not a file\n",
            file.display(),
            folder.display()
        )
    );
    let missing = folder.join("config.yaml");
    std::fs::write(&file, text(&missing)).unwrap();
    let (ok, stdout, stderr) = check(&file);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout,
        "crowdsec-bouncer-exporter: settings are valid; LAPIs: edge, cs; Service API: off\n"
    );
    assert_eq!(
        stderr,
        format!(
            "crowdsec-bouncer-exporter: warning: {}:5 lapis[1].crowdsec_config: {}: does not exist: the LAPI \"cs\" is reported down until it can be read (start-up accepts it and tries again on every read)\n",
            file.display(),
            missing.display()
        )
    );
    // Once it appears, no warning.
    std::fs::write(&missing, "db_config:\n  type: sqlite\n").unwrap();
    let (ok, _, stderr) = check(&file);
    assert!(ok && stderr.is_empty(), "{stderr}");
}

/// The newcomer's: a `lapis` duration refused at parse time named its entry (`lapis[1]: invalid duration "soon" at
/// line 5 column 5`), not its key; now `file:line lapis[1].timeout`, as `web.max_scrape_wait` or
/// `service_api.timeout` are named. Every refusal of a `lapis` value after parsing gives its line too, and so do
/// those of `bouncers.timeout` and `thresholds` (they said `config file PATH: bouncers.timeout must be more than 0`).
#[test]
fn config_check_names_the_key_and_line_of_a_value_refused_after_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yml");
    for (text, want) in [
        (
            "# exporter\nlapis:\n  - name: a\n    db: /a.db\n  - name: b\n    db: /b.db\n    timeout: soon\n",
            "7 lapis[1].timeout: invalid duration \"soon\"",
        ),
        (
            "lapis:\n  - name: a\n    db: /a.db\n    cache_interval: 1x\n",
            "4 lapis[0].cache_interval: invalid duration \"1x\": units are ms, s, m, h, d, w",
        ),
        (
            "lapis:\n  - name: a\n    db: /a.db\n    decisions_interval: ''\n",
            "4 lapis[0].decisions_interval: empty duration",
        ),
        (
            "lapis:\n  - name: a\n    db: /a.db\n    timeout: 0s\n",
            "4 lapis[0].timeout: must be more than 0",
        ),
        (
            "lapis:\n  - name: a\n    db: /var/lib/crowdsec/data/crowdsec.db\n    db_password_file: /etc/pw\n",
            "4 lapis[0].db_password_file: a database password needs a postgres:// or mysql:// database URL (`db`, --lapi.db), not a SQLite file, CrowdSec's config or cscli",
        ),
        (
            "lapis:\n  - name: a\n    db: /a.db\nbouncers:\n  timeout: 0s\n",
            "5 bouncers.timeout: must be more than 0",
        ),
        (
            "lapis:\n  - name: a\n    db: /a.db\nthresholds:\n  late: 2h\n  never_pulled_grace: 0s\n",
            "6 thresholds.never_pulled_grace: must be above 0",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let (ok, _, stderr) = check(&file);
        assert!(!ok, "{text}");
        assert_eq!(
            stderr,
            format!("crowdsec-bouncer-exporter: {}:{want}\n", file.display()),
            "{text}"
        );
    }
}

/// The newcomer's: with only a Service API key (no LAPI), `--config.check` printed `LAPIs: ;`.
#[test]
fn config_check_says_a_blocklists_only_host_has_no_lapi() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.yaml");
    std::fs::write(&file, "lapis: []\n").unwrap();
    let run = |key: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"));
        cmd.arg("--config.check").arg("--config.file").arg(&file);
        cmd.env_remove("CROWDSEC_SERVICE_API_KEY");
        if let Some(key) = key {
            cmd.env("CROWDSEC_SERVICE_API_KEY", key);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        run(Some("sapi-TEST-key-0123456789")),
        "crowdsec-bouncer-exporter: settings are valid; LAPIs: none (blocklists only); Service API: on\n"
    );
    assert_eq!(
        run(None),
        "crowdsec-bouncer-exporter: settings are valid; LAPIs: none; Service API: off\n"
    );
}

/// Security (S1): a config-file parse error quoted the value as written, so the Service API key file passed as
/// `--config.file` by mistake (its content `K3YSECRETxyz123`) was printed as `invalid type: string
/// "K3YSECRETxyz123", expected struct ConfigFile`. Values are never shown; the line and column are.
#[test]
fn a_parse_error_never_shows_a_value_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sapi.key");
    for (text, want) in [
        (
            "K3YSECRETxyz123",
            "invalid type: a string (value not shown), expected a map of sections (the file's top level) at line 1 column 1",
        ),
        (
            "service_api: K3YSECRETxyz123\n",
            "service_api: invalid type: a string (value not shown), expected a map (section service_api) at line 1 column 14",
        ),
        (
            "bouncers: K3YSECRETxyz123\n",
            "expected a map (section bouncers)",
        ),
        ("log:\n  level: K3YSECRETxyz123\n", "line 2"),
        ("service_api:\n  K3YSECRETxyz123: 1\n", "line 2"),
    ] {
        std::fs::write(&file, text).unwrap();
        let (ok, stdout, stderr) = check(&file);
        assert!(!ok, "{text}");
        assert!(stderr.contains(want), "{text}: {stderr}");
        assert!(
            !stderr.contains("K3YSECRETxyz123") && !stdout.contains("K3YSECRETxyz123"),
            "{text}: {stderr}"
        );
    }
}

/// A second newcomer's: a secret given where its file's path or its variable's name belongs was printed in the
/// refusal ("the variable S3cr3tV@lue is not set", "cannot read Xk9pQ2...: does not exist").
#[test]
fn a_secret_given_as_a_path_or_a_variable_name_is_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.yaml");
    for (text, secret) in [
        (
            "lapis: [{name: a, db: \"postgres://u@h/d\", db_password_env: \"S3cr3tV@lue\"}]\n",
            "S3cr3tV@lue",
        ),
        (
            "lapis: [{name: a, db: \"postgres://u@h/d\", db_password_file: \"hunter2pass\"}]\n",
            "hunter2pass",
        ),
        (
            "service_api: {key_file: Xk9pQ2wE7rT5yU3iO1pA8sD6fG4hJ2kL}\n",
            "Xk9pQ2wE7rT5yU3iO1pA8sD6fG4hJ2kL",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let (ok, stdout, stderr) = check(&file);
        assert!(!ok, "{text}");
        assert!(stderr.contains("not shown"), "{text}: {stderr}");
        assert!(
            !stderr.contains(secret) && !stdout.contains(secret),
            "{text}: {stderr}"
        );
    }
}

/// The newcomer's (M1): `bouncers.timeout` and every `thresholds.*` duration were parsed while reading the YAML, so
/// the error named the section's first line (`config file b3.yaml: bouncers: invalid duration "xyz" at line 2 column
/// 3`); now `file:line section.key`, as `lapis[i].timeout`. `~` is unset, as everywhere else.
#[test]
fn a_duration_of_bouncers_or_thresholds_is_refused_with_its_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b3.yaml");
    let shown = file.display().to_string();
    for (text, want) in [
        (
            "bouncers:\n  config_dirs: [/x]\n  timeout: xyz\n",
            format!("crowdsec-bouncer-exporter: {shown}:3 bouncers.timeout: invalid duration \"xyz\""),
        ),
        (
            "# diagnose\nthresholds:\n  late: 10m\n  never_pulled_grace: soon\n",
            format!("crowdsec-bouncer-exporter: {shown}:4 thresholds.never_pulled_grace: invalid duration \"soon\""),
        ),
        (
            "thresholds:\n  offline: 1x\n",
            format!("crowdsec-bouncer-exporter: {shown}:2 thresholds.offline: invalid duration \"1x\": units are"),
        ),
        (
            "thresholds:\n  log_processor_offline_threshold: often\n",
            format!("crowdsec-bouncer-exporter: {shown}:2 thresholds.log_processor_offline_threshold: invalid duration"),
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
            .args(["--config.check", "--lapi.db", "/nonexistent/crowdsec.db", "--config.file"])
            .arg(&file)
            .env_remove("CROWDSEC_SERVICE_API_KEY")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {stderr}");
        assert!(stderr.starts_with(&want), "{text}: {stderr}");
    }
    std::fs::write(
        &file,
        "lapis:\n  - name: a\n    db: /a.db\nbouncers:\n  timeout: ~\nthresholds:\n  late: ~\n",
    )
    .unwrap();
    let (ok, _, stderr) = check(&file);
    assert!(ok, "`~` is unset: {stderr}");
}
