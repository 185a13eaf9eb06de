//! The PostgreSQL source against a real PostgreSQL 15 (Debian's package), with CrowdSec 1.4.6 and 1.7.x tables,
//! in a server whose time zone is not UTC: the same rows give the same bouncers as the SQLite source.

use crate::common;

use std::time::Duration;

use common::real::ExporterProc;
use common::servers::{assert_config_key_lookup, assert_same_bouncers, block_on, Postgres};
use common::*;
use crowdsec_bouncer_exporter::crowdsec::bouncers::{BouncerSnapshot, LastPull};
use crowdsec_bouncer_exporter::settings::LapiDbLocation;
use crowdsec_bouncer_exporter::sources::lapi_db::sqlite::SqliteDb;
use crowdsec_bouncer_exporter::sources::lapi_db::target::ServerDb;
use crowdsec_bouncer_exporter::sources::lapi_db::LapiDbSource;
use crowdsec_bouncer_exporter::sources::SourceFailure;

const PASSWORD: &str = "Cs-db-p@ss/word";
const PASSWORD_IN_URL: &str = "Cs-db-p%40ss%2Fword";
/// Not UTC, and not a whole hour: +05:30 (POSIX sign is inverted).
const ZONE: &str = "XYZ-05:30";

fn source(location: LapiDbLocation) -> LapiDbSource {
    LapiDbSource::new(location, Duration::from_secs(3))
}

fn read(src: &LapiDbSource) -> Result<BouncerSnapshot, SourceFailure> {
    block_on(src.read())
}

fn url_location(pg: &Postgres, db: &str, extra: &str) -> LapiDbLocation {
    LapiDbLocation::Server(
        ServerDb::from_url(&format!(
            "{}{extra}",
            pg.url("crowdsec", PASSWORD_IN_URL, db)
        ))
        .unwrap(),
    )
}

/// The same statements run on SQLite and PostgreSQL (text times with an explicit +00:00 offset).
const ROWS_1_7: &[&str] = &[
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 10:00:00.25+00:00', '2024-01-02 03:04:05.123456+00:00', 'fw', 'hash-fw', false, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v0.0.31', '2024-01-02 03:04:05.123456+00:00', 'api-key', 'debian', '12', false)",
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 11:00:00+00:00', '2024-01-01 11:00:00+00:00', 'never', 'hash-never', false, '', NULL, NULL, NULL, 'api-key', NULL, NULL, false)",
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 12:00:00+00:00', '2024-01-02 00:00:00+00:00', 'fw@10.0.0.9', 'hash-fw', false, '10.0.0.9', 'crowdsec-firewall-bouncer', 'v0.0.31', '2023-12-31 23:59:59.999999+00:00', 'api-key', 'debian', '', true)",
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 12:00:00+00:00', '2024-01-02 00:00:00+00:00', 'nginx', 'hash-nginx', false, '10.0.0.2', 'crowdsec-nginx-bouncer', 'v1.0.8', '2024-01-01 12:00:01+00:00', 'api-key', 'ubuntu', '24.04', false)",
    "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', 'nginx', '2024-01-02 03:00:00.5+00:00', '{}')",
    "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', 'nginx', '2024-01-02 03:15:00.75+00:00', '{}')",
    "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('LP', 'fw', '2024-01-02 04:00:00+00:00', '{}')",
];

#[test]
fn crowdsec_1_7_on_postgres_gives_the_same_bouncers_as_sqlite() {
    let pg = Postgres::start(ZONE);
    pg.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    // Written through a session in yet another zone: timestamptz stores the instant.
    pg.admin_sql(
        "crowdsec",
        &format!(
            "SET TIME ZONE INTERVAL '-07:00' HOUR TO MINUTE; {};",
            ROWS_1_7.join(";")
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let sqlite_path = dir.path().join("crowdsec.db");
    let conn = db_1_7(&sqlite_path);
    for sql in ROWS_1_7 {
        conn.execute(sql, []).unwrap();
    }
    let from_sqlite = SqliteDb::new(&sqlite_path, Duration::from_secs(2))
        .read_blocking()
        .unwrap();

    let src = source(url_location(&pg, "crowdsec", ""));
    let from_pg = read(&src).unwrap();
    assert_same_bouncers(&from_sqlite, &from_pg);
    assert_eq!(from_pg.schema, "1.7.1+");
    let nginx = from_pg.bouncers.iter().find(|b| b.name == "nginx").unwrap();
    assert_eq!(nginx.last_usage_metrics, Some(1_704_165_300.75));
    assert_eq!(nginx.os, "ubuntu/24.04");
    let never = from_pg.bouncers.iter().find(|b| b.name == "never").unwrap();
    assert_eq!(never.last_pull, LastPull::Never);
    assert_eq!(never.registered_at, Some(1_704_106_800.0));

    // New usage metrics are picked up by the next read (incremental cursor).
    let push = "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', 'nginx', '2024-01-02 05:00:00+00:00', '{}')";
    pg.admin_sql("crowdsec", push);
    conn.execute(push, []).unwrap();
    let from_sqlite = SqliteDb::new(&sqlite_path, Duration::from_secs(2))
        .read_blocking()
        .unwrap();
    let again = read(&src).unwrap();
    let nginx = again.bouncers.iter().find(|b| b.name == "nginx").unwrap();
    assert_eq!(nginx.last_usage_metrics, Some(1_704_171_600.0));

    // Found through CrowdSec's config, password from it.
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "db_config:\n  type: pgx\n  host: 127.0.0.1\n  port: {}\n  user: crowdsec\n  password: \"{PASSWORD}\"\n  db_name: crowdsec\n  sslmode: disable\n",
            pg.port
        ),
    )
    .unwrap();
    let via_config = read(&source(LapiDbLocation::FromCrowdsecConfig(cfg))).unwrap();
    assert_same_bouncers(&from_sqlite, &via_config);
}

#[test]
fn crowdsec_1_4_6_on_postgres_and_connection_failures() {
    let pg = Postgres::start(ZONE);
    pg.create_crowdsec_db("cs146", "crowdsec", PASSWORD, "schema-1.4.6.sql");
    pg.admin_sql(
        "cs146",
        "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, until, last_pull, auth_type) VALUES \
         ('2024-01-02 03:04:05+00:00', '2024-01-02 03:04:05+00:00', 'never', 'h1', false, '', NULL, NULL, '2024-01-02 03:04:05+00:00', '2024-01-02 03:04:05+00:00', 'api-key'), \
         ('2024-01-02 03:04:05+00:00', '2024-01-02 03:04:05+00:00', 'custom', 'h2', false, '127.0.0.1', 'crowdsec-custom-bouncer', '-', '2024-01-02 03:04:05+00:00', '2024-01-02 04:00:00+00:00', 'api-key')",
    );
    let snap = read(&source(url_location(&pg, "cs146", ""))).unwrap();
    assert_eq!(snap.schema, "1.4");
    let never = snap.bouncers.iter().find(|b| b.name == "never").unwrap();
    assert_eq!(
        never.last_pull,
        LastPull::Never,
        "1.4.6: type empty = never pulled"
    );
    assert_eq!(never.registered_at, None);
    let custom = snap.bouncers.iter().find(|b| b.name == "custom").unwrap();
    assert_eq!(custom.last_pull, LastPull::At(1_704_168_000.0));

    // Bad password (`unauthorized`), unknown database, TLS demanded (`tls`), nothing listening (`connect`), never
    // the password.
    let wrong = LapiDbLocation::Server(
        ServerDb::from_url(&pg.url("crowdsec", "hunter2-wrong", "cs146")).unwrap(),
    );
    let closed = LapiDbLocation::Server(
        ServerDb::from_url(&format!(
            "postgres://crowdsec:hunter2-wrong@127.0.0.1:{}/cs146",
            common::real::free_port()
        ))
        .unwrap(),
    );
    for (location, want) in [
        (wrong, "password authentication failed"),
        (url_location(&pg, "nope", ""), "nope"),
        (
            url_location(&pg, "cs146", "?sslmode=require"),
            "does not support TLS",
        ),
        (closed, "connect"),
    ] {
        let err = read(&source(location)).unwrap_err();
        // TLS demanded of a server without it: reason `tls` (tests/it/lapi_db_tls.rs has the TLS cases).
        // A wrong password: reason `unauthorized` (issue 23 row 8; before, `connect`).
        let reason = if want.contains("TLS") {
            "tls"
        } else if want == "password authentication failed" {
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
    pg.admin_sql("postgres", "CREATE DATABASE empty OWNER crowdsec");
    let err = read(&source(url_location(&pg, "empty", ""))).unwrap_err();
    assert_eq!(err.reason, "schema", "{err}");
}

#[test]
fn one_exporter_two_lapis_sqlite_and_postgres() {
    let mut pg = Postgres::start(ZONE);
    pg.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    pg.admin_sql("crowdsec", &ROWS_1_7.join(";"));
    let dir = tempfile::tempdir().unwrap();
    let sqlite_path = dir.path().join("edge.db");
    let conn = db_1_7(&sqlite_path);
    conn.execute(ROWS_1_7[0], []).unwrap();
    drop(conn);
    let pw = dir.path().join("pg-password");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let file = dir.path().join("exporter.yaml");
    std::fs::write(
        &file,
        format!(
            "lapis:\n  - name: edge\n    db: {}\n    cache_interval: 0s\n  - name: central\n    db: postgres://crowdsec@127.0.0.1:{}/crowdsec\n    db_password_file: {}\n    cache_interval: 0s\n    timeout: 2s\n",
            sqlite_path.display(),
            pg.port,
            pw.display()
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
    let up = |s: &[Sample], name: &str| {
        value(
            s,
            "crowdsec_exporter_source_up",
            &[("source", "lapi_db"), ("name", name)],
        )
    };
    assert_eq!(up(&samples, "edge"), Some(1.0));
    assert_eq!(up(&samples, "central"), Some(1.0));
    let edge_fw = pull(&samples, "edge", "fw").unwrap();
    assert!((pull(&samples, "central", "fw").unwrap() - edge_fw).abs() < 2e-6);
    assert!(pull(&samples, "central", "nginx").is_some());
    assert_eq!(pull(&samples, "edge", "nginx"), None);

    // PostgreSQL goes away: central is down (its last data kept), edge is untouched.
    pg.proc.kill();
    let samples = parse_samples(&exporter.metrics());
    assert_eq!(up(&samples, "central"), Some(0.0));
    assert_eq!(up(&samples, "edge"), Some(1.0));
    assert_eq!(pull(&samples, "edge", "fw"), Some(edge_fw));
    assert!(
        value(
            &samples,
            "crowdsec_exporter_source_errors_total",
            &[
                ("source", "lapi_db"),
                ("name", "central"),
                ("reason", "connect")
            ]
        )
        .is_some()
            || value(
                &samples,
                "crowdsec_exporter_source_errors_total",
                &[
                    ("source", "lapi_db"),
                    ("name", "central"),
                    ("reason", "query")
                ]
            )
            .is_some(),
        "{samples:?}"
    );
    let log = exporter.proc.log_text();
    assert!(!log.contains(PASSWORD), "the password reached the log");
}

#[test]
fn config_checks_look_keys_up_in_postgres() {
    let pg = Postgres::start(ZONE);
    pg.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    assert_config_key_lookup(&pg.url("crowdsec", PASSWORD_IN_URL, "crowdsec"), |hash| {
        pg.admin_sql(
            "crowdsec",
            &format!("INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, auth_type, auto_created) VALUES (now(), now(), 'keyed', '{hash}', false, '', 'api-key', false)"),
        )
    });
}

/// Issue 14 on PostgreSQL (`payload` is `text`): the usage fixture gives SQLite's totals, a new report counts once,
/// flushes and broken payloads change nothing; the active decisions are counted by the server.
#[test]
fn usage_reports_and_active_decisions_on_postgres() {
    use crowdsec_bouncer_exporter::sources::lapi_decisions::LapiDecisionsSource;
    use crowdsec_bouncer_exporter::sources::Source;
    let pg = Postgres::start(ZONE);
    pg.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    let at = |o: i64| format!("'{}'", ts(o));
    for sql in usage::statements(&at, "'2099-01-01 00:00:00+00:00'") {
        pg.admin_sql("crowdsec", &sql);
    }
    let decisions = std::sync::Arc::new(LapiDecisionsSource::new(source(url_location(
        &pg, "crowdsec", "",
    ))));
    let active = block_on(decisions.read()).unwrap();
    assert_eq!(
        active.by_origin.into_iter().collect::<Vec<_>>(),
        vec![
            ("CAPI".to_owned(), 1),
            ("lists:firehol_voipbl".to_owned(), 2)
        ]
    );
    let src = source(url_location(&pg, "crowdsec", ""));
    usage::check_engine(
        &|| read(&src).unwrap(),
        &|sql| pg.admin_sql("crowdsec", sql),
        &at,
        &usage::sqlite_totals(),
    );
}

/// Issue 23 row 8: a `pg_hba.conf` that demands TLS the usual way (`hostnossl ... reject`) refuses a clear
/// connection; the reason is `tls`, not `connect`.
#[test]
fn pg_hba_demanding_tls_is_reason_tls() {
    let pg = Postgres::start(ZONE);
    pg.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    let hba = pg.dir.path().join("data/pg_hba.conf");
    let old = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("hostnossl all crowdsec 127.0.0.1/32 reject\n{old}"),
    )
    .unwrap();
    pg.admin_sql("postgres", "SELECT pg_reload_conf()");
    let err = read(&source(url_location(&pg, "crowdsec", ""))).unwrap_err();
    assert_eq!(err.reason, "tls", "{err}");
    assert!(
        err.message.contains("pg_hba.conf rejects connection"),
        "{err}"
    );
    assert!(err.message.contains("does it require TLS"), "{err}");
}

/// Issue 19 #6: a read-only role with README's grant reads every table (bouncers, usage metrics, decisions); with
/// the old grant (`bouncers, metrics`) the decisions source says `permission`, naming the table and the GRANT
/// (main: "no `decisions` table: not a CrowdSec database", down forever); a table in another schema is named so.
#[test]
fn readmes_grant_covers_every_table_and_a_missing_one_says_permission() {
    use crowdsec_bouncer_exporter::sources::lapi_decisions::LapiDecisionsSource;
    use crowdsec_bouncer_exporter::sources::Source;
    let pg = Postgres::start(ZONE);
    pg.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let grant = readme
        .split('`')
        .find(|s| s.starts_with("GRANT SELECT ON "))
        .expect("README's PostgreSQL section gives a GRANT")
        .replace("<role>", "reader");
    pg.admin_sql(
        "postgres",
        &format!("CREATE ROLE reader LOGIN PASSWORD '{PASSWORD}'"),
    );
    pg.admin_sql("crowdsec", &grant);
    let reader = || {
        LapiDbLocation::Server(
            ServerDb::from_url(&pg.url("reader", PASSWORD_IN_URL, "crowdsec")).unwrap(),
        )
    };
    let decisions = std::sync::Arc::new(LapiDecisionsSource::new(source(reader())));
    assert!(block_on(decisions.read()).is_ok(), "{grant}");
    assert!(read(&source(reader())).is_ok());

    pg.admin_sql("crowdsec", "REVOKE SELECT ON decisions FROM reader");
    let decisions = std::sync::Arc::new(LapiDecisionsSource::new(source(reader())));
    let e = block_on(decisions.read()).unwrap_err();
    assert_eq!(e.reason.as_str(), "permission", "{e}");
    assert!(
        e.message.contains("table public.decisions")
            && e.message.contains(
                "GRANT SELECT ON public.bouncers, public.metrics, public.decisions, public.machines TO reader"
            ),
        "{e}"
    );

    pg.admin_sql(
        "crowdsec",
        "CREATE SCHEMA cs AUTHORIZATION crowdsec; ALTER TABLE bouncers SET SCHEMA cs; GRANT USAGE ON SCHEMA cs TO reader",
    );
    let e = read(&source(reader())).unwrap_err();
    assert_eq!(e.reason.as_str(), "schema", "{e}");
    assert!(
        e.message.contains("table bouncers is in schema cs")
            && e.message.contains("ALTER ROLE reader SET search_path = cs"),
        "{e}"
    );
}
