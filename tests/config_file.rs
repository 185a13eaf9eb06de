//! `--config.file` with several LAPIs, `--config.check`, and how the file and the flags combine.

mod common;

use std::path::Path;
use std::process::Command;

use common::real::ExporterProc;
use common::*;
use crowdsec_bouncer_exporter::cli::Cli;
use crowdsec_bouncer_exporter::settings::LapiDbLocation;

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
        .service_api
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
