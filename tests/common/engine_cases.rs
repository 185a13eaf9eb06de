//! The tests the MySQL/MariaDB and PostgreSQL sources share, one body each, parameterised by the engine
//! ([`EngineCase`]): tests/it/lapi_db_mariadb.rs and tests/it/lapi_db_postgres.rs call them and keep what only one
//! engine has (the rows each writes as CrowdSec's driver does, PostgreSQL's pg_hba.conf, grants, two LAPIs).

use std::time::Duration;

use super::servers::{assert_config_key_lookup, assert_same_bouncers, block_on, Engine, Server};
use super::{db_1_7, usage};
use crowdsec_bouncer_exporter::crowdsec::bouncers::{BouncerSnapshot, LastPull};
use crowdsec_bouncer_exporter::settings::LapiDbLocation;
use crowdsec_bouncer_exporter::sources::lapi_db::sqlite::SqliteDb;
use crowdsec_bouncer_exporter::sources::lapi_db::target::ServerDb;
use crowdsec_bouncer_exporter::sources::lapi_db::LapiDbSource;
use crowdsec_bouncer_exporter::sources::lapi_decisions::LapiDecisionsSource;
use crowdsec_bouncer_exporter::sources::{Source, SourceFailure};

/// What one engine's tests differ by.
pub trait EngineCase: Engine {
    /// The server's own time zone, as its `start` takes it: not UTC, and not a whole hour (+05:30).
    const ZONE: &'static str;
    /// The `crowdsec` user's password, and as written in a URL.
    const PASSWORD: &'static str;
    const PASSWORD_IN_URL: &'static str;
    /// CrowdSec 1.7 rows run on SQLite and on the server alike, as CrowdSec's driver writes times there.
    const ROWS_1_7: &'static [&'static str];
    /// What `fw`'s `last_pull` and `nginx`'s newest usage report of [`Self::ROWS_1_7`] are, in Unix seconds.
    const FW_LAST_PULL: f64;
    const NGINX_LAST_USAGE: f64;
    /// Appended to a `YYYY-MM-DD HH:MM:SS` UTC time to write it (`+00:00` where the column holds an instant).
    const UTC_SUFFIX: &'static str;
    /// The server's word for a wrong password, the URL suffix that demands TLS and its refusal.
    const WRONG_PASSWORD: &'static str;
    const TLS_QUERY: &'static str;
    const NO_TLS: &'static str;

    /// Creates database `db` with CrowdSec's tables (`schema_file` of tests/fixtures), owned by user `crowdsec`
    /// with [`Self::PASSWORD`].
    fn create_crowdsec_db(server: &Server<Self>, db: &str, schema_file: &str);
    /// Runs `statements` in database `db` as the administrator.
    fn write(server: &Server<Self>, db: &str, statements: &[&str]);
    /// Writes [`Self::ROWS_1_7`] into database `crowdsec` (each engine as CrowdSec's driver would).
    fn write_rows_1_7(server: &Server<Self>);
    /// `db_config` of CrowdSec's config.yaml for the `crowdsec` database on `port`.
    fn db_config(port: u16) -> String;
    /// Creates database `name` without CrowdSec's tables, readable by `crowdsec`.
    fn create_empty_db(server: &Server<Self>, name: &str);
    /// The usage fixture's time `offset` seconds from its base, as an SQL literal.
    fn at(offset: i64) -> String;
}

pub fn source(location: LapiDbLocation) -> LapiDbSource {
    LapiDbSource::new(location, Duration::from_secs(3))
}

pub fn read(src: &LapiDbSource) -> Result<BouncerSnapshot, SourceFailure> {
    block_on(src.read())
}

/// Database `db` of `server` as user `crowdsec`, with `extra` after the URL.
pub fn url_location<E: EngineCase>(server: &Server<E>, db: &str, extra: &str) -> LapiDbLocation {
    LapiDbLocation::Server(
        ServerDb::from_url(&format!(
            "{}{extra}",
            server.url("crowdsec", E::PASSWORD_IN_URL, db)
        ))
        .unwrap(),
    )
}

fn sqlite_reading(path: &std::path::Path) -> BouncerSnapshot {
    SqliteDb::new(path, Duration::from_secs(2))
        .read_blocking()
        .unwrap()
}

/// CrowdSec 1.7 tables on the server give the bouncers SQLite gives for the same rows (times, the OS, a
/// never-pulled row's registration), a new usage report is seen by the next read, and the database is found
/// through CrowdSec's config with the password from it.
pub fn same_bouncers_as_sqlite<E: EngineCase>() {
    let server = Server::<E>::start(E::ZONE);
    E::create_crowdsec_db(&server, "crowdsec", "schema-1.7.sql");
    E::write_rows_1_7(&server);
    let dir = tempfile::tempdir().unwrap();
    let sqlite_path = dir.path().join("crowdsec.db");
    let conn = db_1_7(&sqlite_path);
    for sql in E::ROWS_1_7 {
        conn.execute(sql, []).unwrap();
    }
    let from_sqlite = sqlite_reading(&sqlite_path);

    let src = source(url_location(&server, "crowdsec", ""));
    let from_server = read(&src).unwrap();
    assert_same_bouncers(&from_sqlite, &from_server);
    assert_eq!(from_server.schema, "1.7.1+");
    let find = |s: &BouncerSnapshot, name: &str| {
        s.bouncers
            .iter()
            .find(|b| b.name() == name)
            .cloned()
            .unwrap()
    };
    let fw = find(&from_server, "fw");
    let LastPull::At(fw_pull) = fw.last_pull else {
        panic!("fw pulled: {fw:?}")
    };
    assert!(
        (fw_pull - E::FW_LAST_PULL).abs() < 1e-6,
        "2024-01-02T03:04:05Z: {fw_pull}"
    );
    assert_eq!(fw.os(), "debian/12");
    let nginx = find(&from_server, "nginx");
    assert_eq!(nginx.last_usage_metrics, Some(E::NGINX_LAST_USAGE));
    assert_eq!(nginx.os(), "ubuntu/24.04");
    let never = find(&from_server, "never");
    assert_eq!(never.last_pull, LastPull::Never);
    assert_eq!(never.registered_at, Some(1_704_106_800.0));

    // New usage metrics are picked up by the next read (incremental cursor).
    let push = format!(
        "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', 'nginx', '2024-01-02 05:00:00{}', '{{}}')",
        E::UTC_SUFFIX
    );
    E::write(&server, "crowdsec", &[&push]);
    conn.execute(&push, []).unwrap();
    let from_sqlite = sqlite_reading(&sqlite_path);
    let again = read(&src).unwrap();
    assert_same_bouncers(&from_sqlite, &again);
    assert_eq!(
        find(&again, "nginx").last_usage_metrics,
        Some(1_704_171_600.0)
    );

    // Found through CrowdSec's config, password from it.
    let cfg = dir.path().join("config.yaml");
    std::fs::write(&cfg, E::db_config(server.port)).unwrap();
    let via_config = read(&source(LapiDbLocation::FromCrowdsecConfig(cfg))).unwrap();
    assert_same_bouncers(&from_sqlite, &via_config);
}

/// CrowdSec 1.4.6 tables (`until` marks them; an empty type is a never-pulled bouncer); a wrong password
/// (`unauthorized`), an unknown database, TLS demanded of a server without it (`tls`), nothing listening
/// (`connect`), never the password in the message; a database without CrowdSec's tables (`schema`).
pub fn crowdsec_1_4_6_and_connection_failures<E: EngineCase>() {
    let server = Server::<E>::start(E::ZONE);
    E::create_crowdsec_db(&server, "cs146", "schema-1.4.6.sql");
    let t = |hms: &str| format!("'2024-01-02 {hms}{}'", E::UTC_SUFFIX);
    let rows = format!(
        "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, until, last_pull, auth_type) VALUES \
         ({a}, {a}, 'never', 'h1', false, '', NULL, NULL, {a}, {a}, 'api-key'), \
         ({a}, {a}, 'custom', 'h2', false, '127.0.0.1', 'crowdsec-custom-bouncer', '-', {a}, {b}, 'api-key')",
        a = t("03:04:05"),
        b = t("04:00:00")
    );
    E::write(&server, "cs146", &[&rows]);
    let snap = read(&source(url_location(&server, "cs146", ""))).unwrap();
    assert_eq!(
        snap.schema, "1.4",
        "`until` marks 1.4 even with a NULL-able last_pull"
    );
    let never = snap.bouncers.iter().find(|b| b.name() == "never").unwrap();
    assert_eq!(
        never.last_pull,
        LastPull::Never,
        "1.4.6: type empty = never pulled"
    );
    assert_eq!(never.registered_at, None);
    let custom = snap.bouncers.iter().find(|b| b.name() == "custom").unwrap();
    assert_eq!(custom.last_pull, LastPull::At(1_704_168_000.0));

    let wrong = LapiDbLocation::Server(
        ServerDb::from_url(&server.url("crowdsec", "hunter2-wrong", "cs146")).unwrap(),
    );
    let closed = LapiDbLocation::Server(
        ServerDb::from_url(&format!(
            "{}://crowdsec:hunter2-wrong@127.0.0.1:{}/cs146",
            E::SCHEME,
            super::real::free_port()
        ))
        .unwrap(),
    );
    for (location, want, reason) in [
        // Issue 23 row 8: a wrong password is `unauthorized` (before, `connect`).
        (wrong, E::WRONG_PASSWORD, "unauthorized"),
        (url_location(&server, "nope", ""), "nope", "connect"),
        // tests/it/lapi_db_tls.rs has the TLS cases.
        (
            url_location(&server, "cs146", E::TLS_QUERY),
            E::NO_TLS,
            "tls",
        ),
        (closed, "connect", "connect"),
    ] {
        let err = read(&source(location)).unwrap_err();
        assert_eq!(err.reason, reason, "{err}");
        assert!(err.message.contains(want), "{err}");
        assert!(!err.message.contains("hunter2"), "{err}");
        assert!(!err.message.contains("p@ss"), "{err}");
    }

    E::create_empty_db(&server, "empty");
    let err = read(&source(url_location(&server, "empty", ""))).unwrap_err();
    assert_eq!(err.reason, "schema", "{err}");
}

/// The configuration checks find a file's key among the server's registrations.
pub fn config_checks_look_keys_up<E: EngineCase>() {
    let server = Server::<E>::start(E::ZONE);
    E::create_crowdsec_db(&server, "crowdsec", "schema-1.7.sql");
    assert_config_key_lookup(
        &server.url("crowdsec", E::PASSWORD_IN_URL, "crowdsec"),
        |hash| {
            E::write(
            &server,
            "crowdsec",
            &[&format!("INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, auth_type, auto_created) VALUES (NOW(), NOW(), 'keyed', '{hash}', false, '', 'api-key', false)")],
        )
        },
    );
}

/// Issue 14 on the server: the usage fixture gives SQLite's totals, a new report counts once, flushes and broken
/// payloads change nothing; the active decisions are counted by the server, in a server whose time zone is not
/// UTC.
pub fn usage_reports_and_active_decisions<E: EngineCase>() {
    let server = Server::<E>::start(E::ZONE);
    E::create_crowdsec_db(&server, "crowdsec", "schema-1.7.sql");
    let far = format!("'2099-01-01 00:00:00{}'", E::UTC_SUFFIX);
    let mut statements = usage::statements(&E::at, &far);
    statements.extend(usage::self_ban_statements(&E::at, &far));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    E::write(&server, "crowdsec", &statements);
    // A new source per read: a pooled server connection belongs to the runtime of its read.
    let read_decisions = || {
        block_on(
            std::sync::Arc::new(LapiDecisionsSource::new(source(url_location(
                &server, "crowdsec", "",
            ))))
            .read(),
        )
        .unwrap()
    };
    let mut active = read_decisions();
    if !active.machines_read {
        // PostgreSQL: the `machines` table was created by the admin, so the role may not read it: target `machine`
        // is left unjudged, and nothing fails. Then granted, it is judged.
        let mut without_machines = usage::sqlite_decisions();
        without_machines.machines_read = false;
        without_machines.self_bans.retain(|(t, _, _), _| {
            *t != crowdsec_bouncer_exporter::crowdsec::active_decisions::SelfBanTarget::Machine
        });
        assert_eq!(active, without_machines);
        E::write(
            &server,
            "crowdsec",
            &["GRANT SELECT ON machines TO crowdsec"],
        );
        active = read_decisions();
    }
    // Issue 21: the counts, IP decisions and self-bans SQLite gives (lapi_db_sqlite::self_bans_and_ip_decisions).
    assert_eq!(active, usage::sqlite_decisions());
    let src = source(url_location(&server, "crowdsec", ""));
    usage::check_engine(
        &|| read(&src).unwrap(),
        &|sql| E::write(&server, "crowdsec", &[sql]),
        &E::at,
        &usage::sqlite_totals(),
    );
}
