//! The PostgreSQL source against a real PostgreSQL 15 (Debian's package), with CrowdSec 1.4.6 and 1.7.x tables,
//! in a server whose time zone is not UTC: the same rows give the same bouncers as the SQLite source. The test
//! bodies MariaDB shares are in [`engine_cases`]; this file says how PostgreSQL differs and has the tests only it
//! needs (two LAPIs, pg_hba.conf, README's grant).

use crate::common;

use common::engine_cases::{self, read, source, url_location, EngineCase};
use common::real::ExporterProc;
use common::servers::{block_on, Pg, Postgres};
use common::*;
use crowdsec_bouncer_exporter::settings::LapiDbLocation;
use crowdsec_bouncer_exporter::sources::lapi_db::target::ServerDb;

const PASSWORD: &str = "Cs-db-p@ss/word";
const PASSWORD_IN_URL: &str = "Cs-db-p%40ss%2Fword";
/// Not UTC, and not a whole hour: +05:30 (POSIX sign is inverted).
const ZONE: &str = "XYZ-05:30";

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

impl EngineCase for Pg {
    const ZONE: &'static str = ZONE;
    const PASSWORD: &'static str = PASSWORD;
    const PASSWORD_IN_URL: &'static str = PASSWORD_IN_URL;
    const ROWS_1_7: &'static [&'static str] = ROWS_1_7;
    const FW_LAST_PULL: f64 = 1_704_164_645.123_456;
    const NGINX_LAST_USAGE: f64 = 1_704_165_300.75;
    const UTC_SUFFIX: &'static str = "+00:00";
    const WRONG_PASSWORD: &'static str = "password authentication failed";
    const TLS_QUERY: &'static str = "?sslmode=require";
    const NO_TLS: &'static str = "does not support TLS";

    fn create_crowdsec_db(server: &Postgres, db: &str, schema_file: &str) {
        server.create_crowdsec_db(db, "crowdsec", Self::PASSWORD, schema_file);
    }

    fn write(server: &Postgres, db: &str, statements: &[&str]) {
        for sql in statements {
            server.admin_sql(db, sql);
        }
    }

    /// Written through a session in yet another zone: timestamptz stores the instant.
    fn write_rows_1_7(server: &Postgres) {
        server.admin_sql(
            "crowdsec",
            &format!(
                "SET TIME ZONE INTERVAL '-07:00' HOUR TO MINUTE; {};",
                ROWS_1_7.join(";")
            ),
        );
    }

    fn db_config(port: u16) -> String {
        format!(
            "db_config:\n  type: pgx\n  host: 127.0.0.1\n  port: {port}\n  user: crowdsec\n  password: \"{PASSWORD}\"\n  db_name: crowdsec\n  sslmode: disable\n"
        )
    }

    fn create_empty_db(server: &Postgres, name: &str) {
        server.admin_sql(
            "postgres",
            &format!("CREATE DATABASE {name} OWNER crowdsec"),
        );
    }

    fn at(offset: i64) -> String {
        format!("'{}'", ts(offset))
    }
}

#[test]
fn crowdsec_1_7_on_postgres_gives_the_same_bouncers_as_sqlite() {
    engine_cases::same_bouncers_as_sqlite::<Pg>();
}

#[test]
fn crowdsec_1_4_6_on_postgres_and_connection_failures() {
    engine_cases::crowdsec_1_4_6_and_connection_failures::<Pg>();
}

#[test]
fn config_checks_look_keys_up_in_postgres() {
    engine_cases::config_checks_look_keys_up::<Pg>();
}

/// Issue 14 on PostgreSQL (`payload` is `text`).
#[test]
fn usage_reports_and_active_decisions_on_postgres() {
    engine_cases::usage_reports_and_active_decisions::<Pg>();
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

/// Issue 19 #6: a read-only role with docs/configuration.md's grant reads every table (bouncers, usage metrics, decisions); with
/// the old grant (`bouncers, metrics`) the decisions source says `permission`, naming the table and the GRANT
/// (main: "no `decisions` table: not a CrowdSec database", down forever); a table in another schema is named so.
#[test]
fn readmes_grant_covers_every_table_and_a_missing_one_says_permission() {
    use crowdsec_bouncer_exporter::sources::lapi_decisions::LapiDecisionsSource;
    use crowdsec_bouncer_exporter::sources::Source;
    let pg = Postgres::start(ZONE);
    pg.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let grant = readme
        .split('`')
        .find(|s| s.starts_with("GRANT SELECT ON "))
        .expect("docs/configuration.md's PostgreSQL section gives a GRANT")
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
