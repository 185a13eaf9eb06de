//! The MySQL/MariaDB source against a real MariaDB 10.11 (Debian's package) whose global time zone is +05:30,
//! with CrowdSec 1.4.6 and 1.7.x tables written the way CrowdSec's Go driver writes them (UTC wall-clock in a
//! session left at the server's zone): the same rows give the same bouncers, and ages, as the SQLite source.

use crate::common;

use std::time::Duration;

use common::servers::{assert_config_key_lookup, assert_same_bouncers, block_on, Mariadb};
use common::*;
use crowdsec_bouncer_exporter::crowdsec::bouncers::{BouncerSnapshot, LastPull};
use crowdsec_bouncer_exporter::settings::LapiDbLocation;
use crowdsec_bouncer_exporter::sources::lapi_db::sqlite::SqliteDb;
use crowdsec_bouncer_exporter::sources::lapi_db::target::ServerDb;
use crowdsec_bouncer_exporter::sources::lapi_db::LapiDbSource;
use crowdsec_bouncer_exporter::sources::SourceFailure;

const PASSWORD: &str = "My-db-p@ss/word";
const PASSWORD_IN_URL: &str = "My-db-p%40ss%2Fword";
const ZONE: &str = "+05:30";

fn source(location: LapiDbLocation) -> LapiDbSource {
    LapiDbSource::new(location, Duration::from_secs(3))
}

fn read(src: &LapiDbSource) -> Result<BouncerSnapshot, SourceFailure> {
    block_on(src.read())
}

fn url_location(db: &Mariadb, name: &str, extra: &str) -> LapiDbLocation {
    LapiDbLocation::Server(
        ServerDb::from_url(&format!(
            "{}{extra}",
            db.url("crowdsec", PASSWORD_IN_URL, name)
        ))
        .unwrap(),
    )
}

/// Run on SQLite and on MariaDB alike: UTC wall-clock text, whole seconds (`timestamp` has no fraction).
const ROWS_1_7: &[&str] = &[
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 10:00:00', '2024-01-02 03:04:05', 'fw', 'hash-fw', false, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v0.0.31', '2024-01-02 03:04:05', 'api-key', 'debian', '12', false)",
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 11:00:00', '2024-01-01 11:00:00', 'never', 'hash-never', false, '', NULL, NULL, NULL, 'api-key', NULL, NULL, false)",
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 12:00:00', '2024-01-02 00:00:00', 'fw@10.0.0.9', 'hash-fw', false, '10.0.0.9', 'crowdsec-firewall-bouncer', 'v0.0.31', '2023-12-31 23:59:59', 'api-key', 'debian', '', true)",
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 12:00:00', '2024-01-02 00:00:00', 'nginx', 'hash-nginx', false, '10.0.0.2', 'crowdsec-nginx-bouncer', 'v1.0.8', '2024-01-01 12:00:01', 'api-key', 'ubuntu', '24.04', false)",
    "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', 'nginx', '2024-01-02 03:00:00', '{}')",
    "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', 'nginx', '2024-01-02 03:15:00', '{}')",
    "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('LP', 'fw', '2024-01-02 04:00:00', '{}')",
];

#[test]
fn crowdsec_1_7_on_mariadb_in_another_time_zone_gives_the_same_bouncers_as_sqlite() {
    let my = Mariadb::start(ZONE);
    my.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    let mut writes = vec!["USE crowdsec"];
    writes.extend_from_slice(ROWS_1_7);
    my.admin_sql(&writes);
    let dir = tempfile::tempdir().unwrap();
    let sqlite_path = dir.path().join("crowdsec.db");
    let conn = db_1_7(&sqlite_path);
    for sql in ROWS_1_7 {
        conn.execute(sql, []).unwrap();
    }
    let from_sqlite = SqliteDb::new(&sqlite_path, Duration::from_secs(2))
        .read_blocking()
        .unwrap();

    let src = source(url_location(&my, "crowdsec", ""));
    let from_my = read(&src).unwrap();
    assert_same_bouncers(&from_sqlite, &from_my);
    assert_eq!(from_my.schema, "1.7.1+");
    let fw = from_my.bouncers.iter().find(|b| b.name == "fw").unwrap();
    assert_eq!(
        fw.last_pull,
        LastPull::At(1_704_164_645.0),
        "2024-01-02T03:04:05Z"
    );
    assert_eq!(fw.os, "debian/12");
    let nginx = from_my.bouncers.iter().find(|b| b.name == "nginx").unwrap();
    assert_eq!(nginx.last_usage_metrics, Some(1_704_165_300.0));
    let never = from_my.bouncers.iter().find(|b| b.name == "never").unwrap();
    assert_eq!(never.last_pull, LastPull::Never);
    assert_eq!(never.registered_at, Some(1_704_106_800.0));

    // New usage metrics are picked up by the next read (incremental cursor).
    let push = "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', 'nginx', '2024-01-02 05:00:00', '{}')";
    my.admin_sql(&["USE crowdsec", push]);
    conn.execute(push, []).unwrap();
    let from_sqlite = SqliteDb::new(&sqlite_path, Duration::from_secs(2))
        .read_blocking()
        .unwrap();
    let again = read(&src).unwrap();
    assert_same_bouncers(&from_sqlite, &again);
    let nginx = again.bouncers.iter().find(|b| b.name == "nginx").unwrap();
    assert_eq!(nginx.last_usage_metrics, Some(1_704_171_600.0));

    // Found through CrowdSec's config, password from it.
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "db_config:\n  type: mysql\n  host: 127.0.0.1\n  port: {}\n  user: crowdsec\n  password: \"{PASSWORD}\"\n  db_name: crowdsec\n",
            my.port
        ),
    )
    .unwrap();
    let via_config = read(&source(LapiDbLocation::FromCrowdsecConfig(cfg))).unwrap();
    assert_same_bouncers(&from_sqlite, &via_config);
}

#[test]
fn crowdsec_1_4_6_on_mariadb_and_connection_failures() {
    let my = Mariadb::start(ZONE);
    my.create_crowdsec_db("cs146", "crowdsec", PASSWORD, "schema-1.4.6.sql");
    my.admin_sql(&[
        "USE cs146",
        "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, until, last_pull, auth_type) VALUES \
         ('2024-01-02 03:04:05', '2024-01-02 03:04:05', 'never', 'h1', false, '', NULL, NULL, '2024-01-02 03:04:05', '2024-01-02 03:04:05', 'api-key'), \
         ('2024-01-02 03:04:05', '2024-01-02 03:04:05', 'custom', 'h2', false, '127.0.0.1', 'crowdsec-custom-bouncer', '-', '2024-01-02 03:04:05', '2024-01-02 04:00:00', 'api-key')",
    ]);
    let snap = read(&source(url_location(&my, "cs146", ""))).unwrap();
    assert_eq!(
        snap.schema, "1.4",
        "`until` marks 1.4 even with a NULL-able last_pull"
    );
    let never = snap.bouncers.iter().find(|b| b.name == "never").unwrap();
    assert_eq!(
        never.last_pull,
        LastPull::Never,
        "1.4.6: type empty = never pulled"
    );
    assert_eq!(never.registered_at, None);
    let custom = snap.bouncers.iter().find(|b| b.name == "custom").unwrap();
    assert_eq!(custom.last_pull, LastPull::At(1_704_168_000.0));

    let wrong = LapiDbLocation::Server(
        ServerDb::from_url(&my.url("crowdsec", "hunter2-wrong", "cs146")).unwrap(),
    );
    let closed = LapiDbLocation::Server(
        ServerDb::from_url(&format!(
            "mysql://crowdsec:hunter2-wrong@127.0.0.1:{}/cs146",
            common::real::free_port()
        ))
        .unwrap(),
    );
    for (location, want) in [
        (wrong, "Access denied"),
        (url_location(&my, "nope", ""), "nope"),
        (
            url_location(&my, "cs146", "?tls=skip-verify"),
            "does not offer TLS",
        ),
        (closed, "connect"),
    ] {
        let err = read(&source(location)).unwrap_err();
        // TLS demanded of a server without it: reason `tls` (tests/it/lapi_db_tls.rs has the TLS cases).
        // A wrong password: reason `unauthorized` (issue 23 row 8; before, `connect`).
        let reason = if want.contains("TLS") {
            "tls"
        } else if want == "Access denied" {
            "unauthorized"
        } else {
            "connect"
        };
        assert_eq!(err.reason, reason, "{err}");
        assert!(err.message.contains(want), "{err}");
        assert!(!err.message.contains("hunter2"), "{err}");
        assert!(!err.message.contains("p@ss"), "{err}");
    }

    // A database without CrowdSec's tables.
    my.admin_sql(&[
        "CREATE DATABASE empty",
        "GRANT ALL PRIVILEGES ON empty.* TO 'crowdsec'@'127.0.0.1'",
    ]);
    let err = read(&source(url_location(&my, "empty", ""))).unwrap_err();
    assert_eq!(err.reason, "schema", "{err}");
}

#[test]
fn config_checks_look_keys_up_in_mariadb() {
    let my = Mariadb::start(ZONE);
    my.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    assert_config_key_lookup(&my.url("crowdsec", PASSWORD_IN_URL, "crowdsec"), |hash| {
        my.admin_sql(&[
            "USE crowdsec",
            &format!("INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, auth_type, auto_created) VALUES (NOW(), NOW(), 'keyed', '{hash}', false, '', 'api-key', false)"),
        ])
    });
}

/// Issue 14 on MariaDB (`payload` is `longtext`, `until` a `datetime`): the usage fixture gives SQLite's totals, a
/// new report counts once, flushes and broken payloads change nothing; the active decisions are counted by the
/// server, in a server whose time zone is not UTC.
#[test]
fn usage_reports_and_active_decisions_on_mariadb() {
    use crowdsec_bouncer_exporter::sources::lapi_decisions::LapiDecisionsSource;
    use crowdsec_bouncer_exporter::sources::Source;
    let my = Mariadb::start(ZONE);
    my.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    // CrowdSec writes UTC wall-clocks (see the MySQL source).
    let at = |o: i64| {
        let t = crowdsec_bouncer_exporter::values::time::format_rfc3339(1_704_164_645.0 + o as f64);
        format!("'{}'", t.replace('T', " ").trim_end_matches('Z'))
    };
    let far = "'2099-01-01 00:00:00'";
    let mut statements = usage::statements(&at, far);
    statements.extend(usage::self_ban_statements(&at, far));
    let mut writes = vec!["USE crowdsec"];
    writes.extend(statements.iter().map(String::as_str));
    my.admin_sql(&writes);
    let decisions = std::sync::Arc::new(LapiDecisionsSource::new(source(url_location(
        &my, "crowdsec", "",
    ))));
    let active = block_on(decisions.read()).unwrap();
    // Issue 21: the counts, IP decisions and self-bans SQLite gives (lapi_db_sqlite::self_bans_and_ip_decisions).
    assert_eq!(active, usage::sqlite_decisions());
    let src = source(url_location(&my, "crowdsec", ""));
    usage::check_engine(
        &|| read(&src).unwrap(),
        &|sql| my.admin_sql(&["USE crowdsec", sql]),
        &at,
        &usage::sqlite_totals(),
    );
}
