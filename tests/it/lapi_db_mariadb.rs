//! The MySQL/MariaDB source against a real MariaDB 10.11 (Debian's package) whose global time zone is +05:30,
//! with CrowdSec 1.4.6 and 1.7.x tables written the way CrowdSec's Go driver writes them (UTC wall-clock in a
//! session left at the server's zone): the same rows give the same bouncers, and ages, as the SQLite source. The
//! test bodies are PostgreSQL's too ([`engine_cases`]); this file says how MariaDB differs.

use crate::common;

use common::engine_cases::{self, EngineCase};
use common::servers::{Maria, Mariadb};

impl EngineCase for Maria {
    const ZONE: &'static str = "+05:30";
    const PASSWORD: &'static str = "My-db-p@ss/word";
    const PASSWORD_IN_URL: &'static str = "My-db-p%40ss%2Fword";
    /// UTC wall-clock text, whole seconds (`timestamp` has no fraction).
    const ROWS_1_7: &'static [&'static str] = &[
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 10:00:00', '2024-01-02 03:04:05', 'fw', 'hash-fw', false, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v0.0.31', '2024-01-02 03:04:05', 'api-key', 'debian', '12', false)",
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 11:00:00', '2024-01-01 11:00:00', 'never', 'hash-never', false, '', NULL, NULL, NULL, 'api-key', NULL, NULL, false)",
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 12:00:00', '2024-01-02 00:00:00', 'fw@10.0.0.9', 'hash-fw', false, '10.0.0.9', 'crowdsec-firewall-bouncer', 'v0.0.31', '2023-12-31 23:59:59', 'api-key', 'debian', '', true)",
    "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ('2024-01-01 12:00:00', '2024-01-02 00:00:00', 'nginx', 'hash-nginx', false, '10.0.0.2', 'crowdsec-nginx-bouncer', 'v1.0.8', '2024-01-01 12:00:01', 'api-key', 'ubuntu', '24.04', false)",
    "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', 'nginx', '2024-01-02 03:00:00', '{}')",
    "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', 'nginx', '2024-01-02 03:15:00', '{}')",
    "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('LP', 'fw', '2024-01-02 04:00:00', '{}')",
];
    const FW_LAST_PULL: f64 = 1_704_164_645.0;
    const NGINX_LAST_USAGE: f64 = 1_704_165_300.0;
    const UTC_SUFFIX: &'static str = "";
    const WRONG_PASSWORD: &'static str = "Access denied";
    const TLS_QUERY: &'static str = "?tls=skip-verify";
    const NO_TLS: &'static str = "does not offer TLS";

    fn create_crowdsec_db(server: &Mariadb, db: &str, schema_file: &str) {
        server.create_crowdsec_db(db, "crowdsec", Self::PASSWORD, schema_file);
    }

    fn write(server: &Mariadb, db: &str, statements: &[&str]) {
        let use_db = format!("USE {db}");
        let mut all = vec![use_db.as_str()];
        all.extend_from_slice(statements);
        server.admin_sql(&all);
    }

    fn write_rows_1_7(server: &Mariadb) {
        Self::write(server, "crowdsec", Self::ROWS_1_7);
    }

    fn db_config(port: u16) -> String {
        format!(
            "db_config:\n  type: mysql\n  host: 127.0.0.1\n  port: {port}\n  user: crowdsec\n  password: \"{}\"\n  db_name: crowdsec\n",
            Self::PASSWORD
        )
    }

    fn create_empty_db(server: &Mariadb, name: &str) {
        server.admin_sql(&[
            &format!("CREATE DATABASE {name}"),
            &format!("GRANT ALL PRIVILEGES ON {name}.* TO 'crowdsec'@'127.0.0.1'"),
        ]);
    }

    /// CrowdSec writes UTC wall-clocks (see the MySQL source).
    fn at(offset: i64) -> String {
        let t = crowdsec_bouncer_exporter::values::time::format_rfc3339(
            1_704_164_645.0 + offset as f64,
        );
        format!("'{}'", t.replace('T', " ").trim_end_matches('Z'))
    }
}

#[test]
fn crowdsec_1_7_on_mariadb_in_another_time_zone_gives_the_same_bouncers_as_sqlite() {
    engine_cases::same_bouncers_as_sqlite::<Maria>();
}

#[test]
fn crowdsec_1_4_6_on_mariadb_and_connection_failures() {
    engine_cases::crowdsec_1_4_6_and_connection_failures::<Maria>();
}

#[test]
fn config_checks_look_keys_up_in_mariadb() {
    engine_cases::config_checks_look_keys_up::<Maria>();
}

/// Issue 14 on MariaDB (`payload` is `longtext`, `until` a `datetime`).
#[test]
fn usage_reports_and_active_decisions_on_mariadb() {
    engine_cases::usage_reports_and_active_decisions::<Maria>();
}
