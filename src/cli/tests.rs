//! Flags into settings: defaults, overrides, the Service API key, origins of errors.
use std::time::Duration;

use super::*;
use crate::settings::LapiDbLocation;

#[test]
fn defaults_find_the_database_through_crowdsec_config() {
    let cli = Cli::try_parse_from(["x"]).unwrap();
    let s = cli.settings().unwrap();
    assert_eq!(s.web.listen_addresses, vec![":10423"]);
    assert_eq!(s.web.telemetry_path, "/metrics");
    assert_eq!(s.lapis[0].name, "local");
    assert_eq!(
        s.lapis[0].db,
        LapiDbLocation::FromCrowdsecConfig("/etc/crowdsec/config.yaml".into())
    );
}

#[test]
fn flags_override() {
    let cli = Cli::try_parse_from([
        "x",
        "--lapi.db",
        "/tmp/c.db",
        "--web.listen-address",
        "127.0.0.1:1",
        "--web.listen-address",
        "[::1]:2",
        "--lapi.cache-interval",
        "1m",
    ])
    .unwrap();
    let s = cli.settings().unwrap();
    assert_eq!(s.lapis[0].db, LapiDbLocation::Sqlite("/tmp/c.db".into()));
    assert_eq!(s.web.listen_addresses, vec!["127.0.0.1:1", "[::1]:2"]);
    assert_eq!(s.lapis[0].cache_interval, Duration::from_secs(60));
    assert!(
        Cli::try_parse_from(["x", "--web.telemetry-path", "metrics"])
            .unwrap()
            .settings()
            .is_err()
    );
    let e = Cli::try_parse_from(["x", "--lapi.cache-interval", "soon"])
        .unwrap()
        .settings()
        .unwrap_err();
    assert_eq!(e.origin, Origin::Flag("--lapi.cache-interval".into()));
    assert!(
        e.to_string()
            .starts_with("--lapi.cache-interval: invalid duration"),
        "{e}"
    );
}

#[test]
fn cscli_command_flag() {
    let s = Cli::try_parse_from(["x", "--lapi.cscli-command"])
        .unwrap()
        .settings()
        .unwrap();
    assert_eq!(
        s.lapis[0].db,
        LapiDbLocation::Cscli(
            ["cscli", "bouncers", "list", "-o", "json"]
                .map(String::from)
                .to_vec()
        )
    );
    let s = Cli::try_parse_from([
        "x",
        "--lapi.cscli-command",
        "docker exec 'crowd sec' cscli bouncers list -o json",
    ])
    .unwrap()
    .settings()
    .unwrap();
    let LapiDbLocation::Cscli(argv) = &s.lapis[0].db else {
        panic!("{:?}", s.lapis[0].db)
    };
    assert_eq!(argv[..3], ["docker", "exec", "crowd sec"]);
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret\n").unwrap();
    let s = Cli::try_parse_from([
        "x",
        "--lapi.db",
        "postgres://crowdsec@db:5433/cs",
        "--lapi.db-password-file",
        pw.to_str().unwrap(),
    ])
    .unwrap()
    .settings()
    .unwrap();
    let LapiDbLocation::Server(t) = &s.lapis[0].db else {
        panic!("{:?}", s.lapis[0].db)
    };
    assert_eq!(t.redacted(), "postgres://crowdsec@db:5433/cs");
    assert_eq!(t.password.as_ref().unwrap().expose(), "s3cret");
    for bad in [
        vec![
            "x",
            "--lapi.db",
            "postgres://u:hunter2@db/cs",
            "--lapi.db-password-file",
            pw.to_str().unwrap(),
        ],
        vec!["x", "--lapi.db", "postgres://u:hunter2@db/"],
        vec!["x", "--lapi.cscli-command", "a", "--lapi.db", "/x.db"],
        vec!["x", "--lapi.cscli-command", "a 'b"],
    ] {
        let e = Cli::try_parse_from(bad)
            .unwrap()
            .settings()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }
}

/// The newcomer's: `--lapi.db /var/lib/crowdsec/data/crowdsec.db --lapi.db-password-file pw` was accepted (the
/// password silently unused) while the file's `db_password_file` with a SQLite `db` was refused. Refused alike now,
/// with the same words, naming the flag (or its variable); without `--lapi.db` too (CrowdSec's config, cscli).
#[test]
fn a_password_file_without_a_database_url_is_refused_as_the_files_is() {
    for db in [
        &["--lapi.db", "/var/lib/crowdsec/data/crowdsec.db"][..],
        &["--lapi.cscli-command", "cscli bouncers list -o json"][..],
        &[][..],
    ] {
        let mut args = vec!["x", "--lapi.db-password-file", "/etc/pw"];
        args.extend_from_slice(db);
        let e = Cli::try_parse_from(&args)
            .unwrap()
            .settings()
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "--lapi.db-password-file: {}",
                crate::sources::lapi_db::lapi_settings::PASSWORD_NEEDS_SERVER_DB
            ),
            "{args:?}"
        );
    }
    let e = Cli::try_parse_with_origins(["x", "--lapi.db", "/var/lib/crowdsec/data/crowdsec.db"])
        .map(|mut cli| {
            cli.lapi.db_password_file = Some("/etc/pw".into());
            cli.origins.insert(
                "lapi.db-password-file".to_owned(),
                Origin::Env("CROWDSEC_EXPORTER_LAPI_DB_PASSWORD_FILE".to_owned()),
            );
            cli
        })
        .unwrap()
        .settings()
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("CROWDSEC_EXPORTER_LAPI_DB_PASSWORD_FILE: a database password needs a postgres:// or mysql:// database URL"),
        "{e}"
    );
}

/// The newcomer's (M6): beside a config file's `lapis`, `--lapi.db-password-file` was refused with the SQLite
/// reason ("needs a postgres:// or mysql:// database URL"); the reason is that the flag is unused.
#[test]
fn a_password_file_flag_beside_the_files_lapis_is_refused_as_unused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, "lapis:\n  - name: a\n    db: postgres://u@h/d\n").unwrap();
    let e = Cli::try_parse_from([
        "x",
        "--config.file",
        file.to_str().unwrap(),
        "--lapi.db-password-file",
        "/etc/pw",
    ])
    .unwrap()
    .settings()
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "--lapi.db-password-file: unused: the config file's `lapis` replace the LAPI of the --lapi.* flags; give the entry's `db_password_file` (or `db_password_env`) instead"
    );
}

const KEY: &str = "sapi-TEST-key-0123456789";

fn with_key_file(content: Option<&[u8]>, extra: &[&str]) -> Result<Settings, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    if let Some(c) = content {
        std::fs::write(&path, c).unwrap();
    }
    let mut args = vec![
        "x".to_owned(),
        "--service-api.key-file".to_owned(),
        path.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Cli::try_parse_from(args)
        .unwrap()
        .settings_with_key_env(None)
        .map_err(|e| e.to_string())
}

#[test]
fn service_api_is_off_without_a_key_and_on_with_defaults() {
    let cli = Cli::try_parse_from(["x"]).unwrap();
    assert!(cli
        .settings_with_key_env(None)
        .unwrap()
        .group::<crate::settings::ServiceApiSettings>()
        .cloned()
        .is_none());
    assert!(cli
        .settings_with_key_env(Some(String::new()))
        .unwrap()
        .group::<crate::settings::ServiceApiSettings>()
        .cloned()
        .is_none());
    let s = cli
        .settings_with_key_env(Some(KEY.to_owned()))
        .unwrap()
        .group::<crate::settings::ServiceApiSettings>()
        .cloned()
        .unwrap();
    assert_eq!(s.key.expose(), KEY);
    assert_eq!(s.url.as_str(), "https://admin.api.crowdsec.net/v1");
    assert_eq!(s.refresh_interval, Duration::from_secs(300));
    assert_eq!(s.timeout, Duration::from_secs(30));
    assert!(s.tags.is_empty());
    assert!(!format!("{s:?}").contains(KEY));
}

#[test]
fn service_api_key_file_and_flags() {
    let s = with_key_file(
        Some(format!("{KEY}\n").as_bytes()),
        &[
            "--service-api.tag",
            "prod",
            "--service-api.tag",
            "edge,dmz",
            "--service-api.refresh-interval",
            "10m",
            "--service-api.timeout",
            "5s",
            "--service-api.url",
            "http://127.0.0.1:9/v1/",
        ],
    )
    .unwrap()
    .group::<crate::settings::ServiceApiSettings>()
    .cloned()
    .unwrap();
    assert_eq!(s.key.expose(), KEY, "trailing newline trimmed");
    assert_eq!(s.tags, ["prod", "edge", "dmz"]);
    assert_eq!(s.refresh_interval, Duration::from_secs(600));
    assert_eq!(s.timeout, Duration::from_secs(5));
    assert_eq!(s.url.as_str(), "http://127.0.0.1:9/v1");
    let crlf = with_key_file(Some(format!("{KEY}\r\n").as_bytes()), &[]).unwrap();
    assert_eq!(
        crlf.group::<crate::settings::ServiceApiSettings>()
            .cloned()
            .unwrap()
            .key
            .expose(),
        KEY
    );
}

#[test]
fn a_bad_service_api_value_is_refused_without_a_key_too() {
    // Seen in the field test of issue 24: `--service-api.timeout 1x` with no key was silently "Service API: off".
    for (flag, value, why) in [
        ("--service-api.timeout", "1x", "--service-api.timeout"),
        (
            "--service-api.refresh-interval",
            "0s",
            "--service-api.refresh-interval",
        ),
        (
            "--service-api.url",
            "ftp://admin.api.crowdsec.net/v1",
            "--service-api.url",
        ),
    ] {
        let e = Cli::try_parse_from(["x", flag, value])
            .unwrap()
            .settings_with_key_env(None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{flag} {value}: {e}");
    }
    // Good values without a key: the source is off, not an error.
    let s = Cli::try_parse_from([
        "x",
        "--service-api.timeout",
        "5s",
        "--service-api.tag",
        "prod",
    ])
    .unwrap()
    .settings_with_key_env(None)
    .unwrap();
    assert!(s
        .group::<crate::settings::ServiceApiSettings>()
        .cloned()
        .is_none());
}

#[test]
fn a_bad_key_or_url_refuses_to_start_without_printing_the_key() {
    let errors = [
        with_key_file(None, &[]).unwrap_err(),
        with_key_file(Some(b"\n"), &[]).unwrap_err(),
        with_key_file(Some(format!("{KEY}\x01x").as_bytes()), &[]).unwrap_err(),
        with_key_file(
            Some(KEY.as_bytes()),
            &["--service-api.url", "http://admin.api.crowdsec.net/v1"],
        )
        .unwrap_err(),
        with_key_file(
            Some(KEY.as_bytes()),
            &["--service-api.refresh-interval", "0s"],
        )
        .unwrap_err(),
        Cli::try_parse_from(["x", "--service-api.key-file", "/nonexistent/key"])
            .unwrap()
            .settings_with_key_env(Some(KEY.to_owned()))
            .unwrap_err()
            .to_string(),
    ];
    assert!(errors[0].contains("cannot read"), "{}", errors[0]);
    assert!(errors[1].contains("is empty"), "{}", errors[1]);
    assert_eq!(
        errors[5],
        "give the Service API key either with --service-api.key-file or with CROWDSEC_SERVICE_API_KEY, not both"
    );
    // The newcomer's: given by the config file, the key file was named as the flag.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, "lapis: []\nservice_api:\n  key_file: /k\n").unwrap();
    let e = Cli::try_parse_from(["x", "--config.file", file.to_str().unwrap()])
        .unwrap()
        .settings_with_key_env(Some(KEY.to_owned()))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "give the Service API key either with {}:3 service_api.key_file or with CROWDSEC_SERVICE_API_KEY, not both",
            file.display()
        )
    );
    for e in &errors {
        assert!(!e.contains(KEY), "{e}");
    }
    assert!(
        Cli::try_parse_from(["x", "--service-api.key", KEY]).is_err(),
        "no flag takes the key itself"
    );
}

#[test]
fn lapi_url_refuses_credentials_as_the_files_url_does() {
    let e = Cli::try_parse_from(["x", "--lapi.url", "http://admin:hunter2@127.0.0.1:8080/"])
        .unwrap()
        .settings()
        .unwrap_err();
    assert_eq!(e.origin, Origin::Flag("--lapi.url".into()));
    assert!(e.message.contains("credentials"), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    for bad in ["ftp://127.0.0.1/", "not a url", "http://"] {
        assert!(Cli::try_parse_from(["x", "--lapi.url", bad])
            .unwrap()
            .settings()
            .is_err());
    }
    let s = Cli::try_parse_from(["x", "--lapi.url", "http://127.0.0.1:8080/"])
        .unwrap()
        .settings()
        .unwrap();
    assert_eq!(
        s.group::<crate::settings::CheckSettings>()
            .cloned()
            .unwrap()
            .lapi_url
            .unwrap()
            .as_str(),
        "http://127.0.0.1:8080/"
    );
}

#[test]
fn every_duration_is_parsed_and_bounded_naming_its_flag() {
    for (flag, value, want) in [
        ("--lapi.timeout", "0s", "more than 0"),
        ("--lapi.timeout", "soon", "invalid duration"),
        ("--lapi.cache-interval", "1y", "units are"),
        ("--web.max-scrape-wait", "x", "invalid duration"),
        ("--bouncers.check-interval", "500ms", "at least 1s"),
    ] {
        let e = Cli::try_parse_from(["x", flag, value])
            .unwrap()
            .settings()
            .unwrap_err();
        assert_eq!(e.origin, Origin::Flag(flag.into()), "{e}");
        assert!(e.message.contains(want), "{flag} {value}: {e}");
    }
    // The Service API's only when it is on.
    for (flag, want) in [
        ("--service-api.refresh-interval", "at least 1s"),
        ("--service-api.timeout", "more than 0"),
    ] {
        let e = with_key_file(Some(KEY.as_bytes()), &[flag, "0s"]).unwrap_err();
        assert!(
            e.starts_with(&format!("{flag}: ")) && e.contains(want),
            "{e}"
        );
    }
    assert!(with_key_file(
        Some(KEY.as_bytes()),
        &["--service-api.url", "http://u:p@127.0.0.1/"]
    )
    .unwrap_err()
    .starts_with("--service-api.url: must not hold credentials"));
}

#[test]
fn listen_addresses_are_parsed_as_start_up_binds_them() {
    for good in [
        ":10423",
        "127.0.0.1:1",
        "[::1]:2",
        "localhost:3",
        "0.0.0.0:0",
    ] {
        assert!(
            Cli::try_parse_from(["x", "--web.listen-address", good])
                .unwrap()
                .settings()
                .is_ok(),
            "{good}"
        );
    }
    for bad in [
        "foo",
        ":http",
        "127.0.0.1",
        "::1:2",
        "host:70000",
        ":",
        "[::1]",
    ] {
        let e = Cli::try_parse_from(["x", "--web.listen-address", bad])
            .unwrap()
            .settings()
            .unwrap_err();
        assert_eq!(e.origin, Origin::Flag("--web.listen-address".into()), "{e}");
        assert!(e.message.contains("invalid listen address"), "{bad}: {e}");
    }
}

/// The newcomer's (W3): duplicates passed the check, then start-up exited 1 "Address already in use".
#[test]
fn listen_addresses_start_up_cannot_all_bind_are_refused() {
    for (addresses, why) in [
        (&[":19001", ":19001"][..], "\":19001\" is listed twice"),
        (
            &[":19002", "0.0.0.0:19002"][..],
            "\":19002\" and \"0.0.0.0:19002\" overlap",
        ),
        (&["127.0.0.1:19003", "0.0.0.0:19003"][..], "overlap"),
        (&["[::]:19004", "localhost:19004"][..], "overlap"),
        // A tester's: `[::]` takes IPv4 too (bindv6only 0), the same IPv4 address mapped, a host name's case.
        (&["[::]:19009", "0.0.0.0:19009"][..], "overlap"),
        (&["0.0.0.0:19010", "[::]:19010"][..], "overlap"),
        (
            &["[::ffff:127.0.0.1]:19011", "127.0.0.1:19011"][..],
            "overlap",
        ),
        (&["LOCALHOST:19012", "localhost:19012"][..], "overlap"),
    ] {
        let mut args = vec!["x"];
        for a in addresses {
            args.extend(["--web.listen-address", a]);
        }
        let e = Cli::try_parse_from(args).unwrap().settings().unwrap_err();
        assert_eq!(e.origin, Origin::Flag("--web.listen-address".into()), "{e}");
        assert!(e.message.contains(why), "{addresses:?}: {e}");
    }
    for fine in [
        &["127.0.0.1:19005", "[::1]:19005"][..],
        &["0.0.0.0:19006", "[::1]:19006"][..],
        &[":0", ":0"][..],
        &["127.0.0.1:19007", "127.0.0.1:19008"][..],
    ] {
        let fine: Vec<String> = fine.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            crate::web::colliding_listen_addresses(&fine),
            None,
            "{fine:?}"
        );
    }
}

#[test]
fn flags_work_before_and_after_diagnose() {
    let before =
        Cli::try_parse_from(["x", "--lapi.name", "edge", "diagnose", "--output", "json"]).unwrap();
    let after =
        Cli::try_parse_from(["x", "diagnose", "--lapi.name", "edge", "--output", "json"]).unwrap();
    for cli in [before, after] {
        assert_eq!(cli.lapi.name, "edge");
        assert!(matches!(
            cli.command,
            Some(Command::Diagnose {
                output: crate::diagnose::Output::Json
            })
        ));
    }
}

#[test]
fn clap_defaults_are_the_settings_constants() {
    // A LAPI given, so that a host without CrowdSec config still has one with a key (a_blocklist_only_host_has_no_lapi).
    let cli =
        Cli::try_parse_from(["x", "--lapi.db", "/var/lib/crowdsec/data/crowdsec.db"]).unwrap();
    let s = cli.settings_with_key_env(Some(KEY.to_owned())).unwrap();
    let d = |t: &str| crate::values::duration::parse(t).unwrap();
    assert_eq!(
        s.web.listen_addresses,
        [crate::settings::DEFAULT_LISTEN_ADDRESS]
    );
    assert_eq!(
        s.web.max_scrape_wait,
        d(crate::settings::DEFAULT_MAX_SCRAPE_WAIT)
    );
    assert_eq!(
        s.lapis[0].read_timeout,
        d(crate::sources::lapi_db::lapi_settings::DEFAULT_TIMEOUT)
    );
    assert_eq!(
        s.lapis[0].cache_interval,
        d(crate::sources::lapi_db::lapi_settings::DEFAULT_CACHE_INTERVAL)
    );
    let sa = s
        .group::<crate::settings::ServiceApiSettings>()
        .cloned()
        .unwrap();
    assert_eq!(
        sa.refresh_interval,
        d(crate::sources::service_api::DEFAULT_REFRESH_INTERVAL)
    );
    assert_eq!(sa.timeout, d(crate::sources::service_api::DEFAULT_TIMEOUT));
    assert_eq!(
        s.group::<crate::settings::CheckSettings>()
            .cloned()
            .unwrap()
            .interval,
        d(crate::sources::bouncer_checks_settings::DEFAULT_CHECK_INTERVAL)
    );
}

/// Issue 19 #5: a host with Blocklist-as-a-Service only (a Service API key, no LAPI flag, no CrowdSec config):
/// no LAPI source, instead of one down forever. Without the key, or with the config present, the LAPI stays.
#[test]
fn a_blocklist_only_host_has_no_lapi() {
    let default =
        std::path::Path::new(crate::sources::lapi_db::lapi_settings::DEFAULT_CROWDSEC_CONFIG);
    let cli = Cli::try_parse_from(["x"]).unwrap();
    let with_key = cli.settings_with_key_env(Some("k".into())).unwrap();
    assert!(with_key
        .group::<crate::settings::ServiceApiSettings>()
        .cloned()
        .is_some());
    match default.try_exists() {
        Ok(false) => assert!(with_key.lapis.is_empty(), "{:?}", with_key.lapis),
        _ => assert_eq!(with_key.lapis.len(), 1),
    }
    assert_eq!(cli.settings_with_key_env(None).unwrap().lapis.len(), 1);
    let given =
        Cli::try_parse_from(["x", "--lapi.db", "/var/lib/crowdsec/data/crowdsec.db"]).unwrap();
    assert_eq!(
        given
            .settings_with_key_env(Some("k".into()))
            .unwrap()
            .lapis
            .len(),
        1
    );
}
