//! TLS to the LAPI's database against the REAL servers (Debian's PostgreSQL 15 and MariaDB 10.11) with TLS on
//! and forced (pg_hba `hostssl`, MariaDB `REQUIRE SSL`), certificates made here by rcgen: libpq's sslmode
//! rules, CrowdSec 1.7's `ssl_*` keys, clear reasons for certificate problems, client certificates.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::servers::{block_on, Mariadb, Pki, Postgres};
use crowdsec_bouncer_exporter::crowdsec::bouncers::BouncerSnapshot;
use crowdsec_bouncer_exporter::settings::LapiDbLocation;
use crowdsec_bouncer_exporter::sources::lapi_db::target::ServerDb;
use crowdsec_bouncer_exporter::sources::lapi_db::LapiDbSource;
use crowdsec_bouncer_exporter::sources::SourceFailure;

const PASSWORD: &str = "Tls-db-p@ss/word";
const PASSWORD_IN_URL: &str = "Tls-db-p%40ss%2Fword";

const BOUNCER_PG: &str = "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 10:00:00+00:00', '2024-01-02 03:04:05+00:00', 'fw', 'hash-fw', false, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v0.0.31', '2024-01-02 03:04:05+00:00', 'api-key', 'debian', '12', false)";
const BOUNCER_MY: &str = "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 10:00:00', '2024-01-02 03:04:05', 'fw', 'hash-fw', false, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v0.0.31', '2024-01-02 03:04:05', 'api-key', 'debian', '12', false)";

/// One fresh source (so one fresh connection) per read.
fn read(location: LapiDbLocation) -> Result<BouncerSnapshot, SourceFailure> {
    block_on(LapiDbSource::new(location, Duration::from_secs(5)).read())
}

fn url(base: &str, query: &str) -> LapiDbLocation {
    LapiDbLocation::Server(ServerDb::from_url(&format!("{base}?{query}")).unwrap())
}

fn reads_fw(result: Result<BouncerSnapshot, SourceFailure>, case: &str) {
    let snap = result.unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(snap.bouncers.len(), 1, "{case}");
    assert_eq!(snap.bouncers[0].name(), "fw", "{case}");
}

/// Fails with reason `tls`, the message naming `want`, never the password.
fn fails(result: Result<BouncerSnapshot, SourceFailure>, want: &str, case: &str) {
    let err = result.map(|_| ()).expect_err(case);
    eprintln!("{case}: {err}");
    assert_eq!(err.reason, "tls", "{case}: {err}");
    assert!(err.message.contains(want), "{case}: {err}");
    assert!(!err.message.contains("p@ss"), "{case}: {err}");
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn postgres_sslmodes_as_libpq_means_them() {
    let pki = Pki::new();
    let pg = Postgres::start_tls("UTC0", &pki);
    pg.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    pg.admin_sql("crowdsec", BOUNCER_PG);
    let base = pg.url("crowdsec", PASSWORD_IN_URL, "crowdsec");
    let ca = p(&pki.path("ca.pem"));
    let other = p(&pki.path("other-ca.pem"));

    reads_fw(
        read(url(&base, &format!("sslmode=verify-full&sslrootcert={ca}"))),
        "verify-full, right CA",
    );
    reads_fw(read(url(&base, "sslmode=require")), "require without CA");
    reads_fw(read(url(&base, "sslmode=prefer")), "prefer (hostssl only)");
    fails(
        read(url(
            &base,
            &format!("sslmode=verify-full&sslrootcert={other}"),
        )),
        "unknown CA",
        "verify-full, wrong CA",
    );
    fails(
        read(url(&base, &format!("sslmode=require&sslrootcert={other}"))),
        "unknown CA",
        "require with a root certificate verifies the chain (libpq)",
    );
    fails(
        read(url(&base, "sslmode=verify-ca")),
        "ssl_ca_cert",
        "verify-ca without CA",
    );
    fails(
        read(url(&base, "sslmode=disable")),
        "pg_hba",
        "a server that forces TLS refuses a clear connection",
    );

    // A unix socket has no TLS, as with libpq: sslmode is ignored there (pg_hba: `local ... trust`).
    reads_fw(
        read(url(
            &format!("postgres://crowdsec@localhost:{}/crowdsec", pg.port),
            &format!(
                "host={}&sslmode=verify-full&sslrootcert={ca}",
                pg.dir.path().display()
            ),
        )),
        "unix socket, verify-full",
    );

    // CrowdSec 1.7's keys in its config file.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "db_config:\n  type: postgresql\n  host: 127.0.0.1\n  port: {}\n  user: crowdsec\n  password: \"{PASSWORD}\"\n  db_name: crowdsec\n  sslmode: verify-full\n  ssl_ca_cert: {ca}\n",
            pg.port
        ),
    )
    .unwrap();
    reads_fw(
        read(LapiDbLocation::FromCrowdsecConfig(cfg)),
        "db_config ssl_ca_cert",
    );

    // A certificate for another host name: verify-full refuses it, verify-ca accepts it.
    pg.use_server_cert(&pki, "mismatch");
    fails(
        read(url(&base, &format!("sslmode=verify-full&sslrootcert={ca}"))),
        "host name mismatch",
        "verify-full, certificate for db.example",
    );
    reads_fw(
        read(url(&base, &format!("sslmode=verify-ca&sslrootcert={ca}"))),
        "verify-ca, certificate for db.example",
    );

    // An expired certificate is named as such.
    pg.use_server_cert(&pki, "expired");
    fails(
        read(url(&base, &format!("sslmode=verify-ca&sslrootcert={ca}"))),
        "expired",
        "verify-ca, expired certificate",
    );
    reads_fw(
        read(url(&base, "sslmode=require")),
        "require ignores expiry",
    );
}

#[test]
fn postgres_client_certificate_auth() {
    let pki = Pki::new();
    let pg = Postgres::start_tls("UTC0", &pki);
    pg.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    pg.admin_sql("crowdsec", BOUNCER_PG);
    pg.admin_sql(
        "postgres",
        "CREATE ROLE certuser LOGIN; GRANT crowdsec TO certuser",
    );
    let base = format!("postgres://certuser@127.0.0.1:{}/crowdsec", pg.port);
    let ca = p(&pki.path("ca.pem"));
    let (cert, key) = (p(&pki.path("client.pem")), p(&pki.path("client.key")));
    reads_fw(
        read(url(
            &base,
            &format!("sslmode=verify-full&sslrootcert={ca}&sslcert={cert}&sslkey={key}"),
        )),
        "client certificate",
    );
    fails(
        read(url(&base, &format!("sslmode=verify-full&sslrootcert={ca}"))),
        "requires a client certificate",
        "no client certificate",
    );
    fails(
        read(url(&base, &format!("sslmode=require&sslcert={cert}"))),
        "ssl_client_key",
        "a certificate without its key",
    );
}

#[test]
fn mariadb_tls_modes_and_client_certificates() {
    let pki = Pki::new();
    let my = Mariadb::start_tls("+00:00", &pki);
    my.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    my.admin_sql(&[
        "ALTER USER 'crowdsec'@'127.0.0.1' REQUIRE SSL",
        "CREATE USER 'certuser'@'127.0.0.1' REQUIRE SUBJECT '/CN=certuser'",
        "GRANT SELECT ON crowdsec.* TO 'certuser'@'127.0.0.1'",
        "USE crowdsec",
        BOUNCER_MY,
    ]);
    let base = my.url("crowdsec", PASSWORD_IN_URL, "crowdsec");
    let ca = p(&pki.path("ca.pem"));
    let other = p(&pki.path("other-ca.pem"));

    reads_fw(
        read(url(&base, &format!("tls=true&sslrootcert={ca}"))),
        "tls=true, right CA",
    );
    reads_fw(read(url(&base, "tls=skip-verify")), "skip-verify");
    reads_fw(
        read(url(&base, "tls=preferred")),
        "preferred on a TLS server",
    );
    reads_fw(
        read(url(&base, &format!("sslmode=verify-ca&ssl-ca={ca}"))),
        "verify-ca",
    );
    fails(
        read(url(&base, &format!("tls=true&sslrootcert={other}"))),
        "unknown CA",
        "tls=true, wrong CA",
    );
    let clear = read(url(&base, "tls=false")).unwrap_err();
    assert!(
        clear.message.contains("Access denied") && !clear.message.contains("p@ss"),
        "REQUIRE SSL refuses a clear connection: {clear}"
    );

    // CrowdSec 1.7's keys, client certificate (REQUIRE SUBJECT, no password).
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "db_config:\n  type: mysql\n  host: 127.0.0.1\n  port: {}\n  user: certuser\n  db_name: crowdsec\n  sslmode: verify-full\n  ssl_ca_cert: {ca}\n  ssl_client_cert: {}\n  ssl_client_key: {}\n",
            my.port,
            p(&pki.path("client.pem")),
            p(&pki.path("client.key"))
        ),
    )
    .unwrap();
    reads_fw(
        read(LapiDbLocation::FromCrowdsecConfig(cfg)),
        "db_config client certificate",
    );
    // A certificate for another host name: tls=true refuses it; so does verify-ca, saying why (mysql_async
    // checks the name whenever it checks the chain); skip-verify takes it. An expired one is named.
    my.use_server_cert(&pki, "mismatch");
    fails(
        read(url(&base, &format!("tls=true&sslrootcert={ca}"))),
        "host name mismatch",
        "tls=true, certificate for db.example",
    );
    fails(
        read(url(&base, &format!("sslmode=verify-ca&sslrootcert={ca}"))),
        "the host name is checked too",
        "verify-ca, certificate for db.example",
    );
    reads_fw(
        read(url(&base, "tls=skip-verify")),
        "skip-verify, certificate for db.example",
    );
    my.use_server_cert(&pki, "expired");
    fails(
        read(url(&base, &format!("sslmode=verify-ca&sslrootcert={ca}"))),
        "expired",
        "verify-ca, expired certificate",
    );
    my.use_server_cert(&pki, "server");

    let no_cert = read(url(
        &format!("mysql://certuser@127.0.0.1:{}/crowdsec", my.port),
        &format!("tls=true&sslrootcert={ca}"),
    ))
    .unwrap_err();
    assert!(
        no_cert.message.contains("Access denied"),
        "REQUIRE SUBJECT without a client certificate: {no_cert}"
    );
}
