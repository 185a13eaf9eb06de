//! Log processors (issue 21 #2): the `machines` table read by source `lapi_machines`, from the real CrowdSec 1.4.6
//! LAPI (a machine registered with `cscli machines add`, logged in and sending `GET /v1/heartbeat` as an agent
//! does), and from the same rows in SQLite (1.4.6 and 1.7 schemas), PostgreSQL and MariaDB, which must agree.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::real::Lapi;
use common::servers::{block_on, Mariadb, Postgres};
use common::*;
use crowdsec_bouncer_exporter::crowdsec::machines::{Machine, MachineSnapshot};
use crowdsec_bouncer_exporter::settings::LapiDbLocation;
use crowdsec_bouncer_exporter::sources::lapi_db::target::ServerDb;
use crowdsec_bouncer_exporter::sources::lapi_db::LapiDbSource;
use crowdsec_bouncer_exporter::sources::lapi_machines::LapiMachinesSource;
use crowdsec_bouncer_exporter::sources::{Source, SourceFailure};

const PASSWORD: &str = "Cs-db-p@ss/word";
const PASSWORD_IN_URL: &str = "Cs-db-p%40ss%2Fword";

fn read(location: LapiDbLocation) -> Result<MachineSnapshot, SourceFailure> {
    let src = Arc::new(LapiMachinesSource::new(LapiDbSource::new(
        location,
        Duration::from_secs(3),
    )));
    block_on(src.read())
}

/// The same machines everywhere: `web-1` beating, `cscli` (never a heartbeat), `web-2` silent for days and not
/// validated. `{z}` is the UTC offset suffix of the text times (none for MariaDB, whose session runs in UTC).
fn rows(z: &str) -> Vec<String> {
    let row = |created: &str,
               push: &str,
               beat: &str,
               id: &str,
               ip: &str,
               version: &str,
               valid: &str| {
        let t = |v: &str| {
            if v == "NULL" {
                v.to_owned()
            } else {
                format!("'{v}{z}'")
            }
        };
        format!(
            "INSERT INTO machines (created_at, updated_at, last_push, last_heartbeat, machine_id, password, ip_address, version, is_validated, auth_type) VALUES ({}, {}, {}, {}, '{id}', 'bcrypt-hash-{id}', '{ip}', {version}, {valid}, 'password')",
            t(created),
            t(created),
            t(push),
            t(beat)
        )
    };
    vec![
        row(
            "2024-01-01 10:00:00",
            "2024-01-02 01:00:00",
            "2024-01-02 03:04:05",
            "web-1",
            "192.0.2.21",
            "'v1.7.2-debian'",
            "true",
        ),
        row(
            "2024-01-01 10:00:00",
            "2024-01-01 10:00:00",
            "NULL",
            "cscli",
            "127.0.0.1",
            "NULL",
            "true",
        ),
        row(
            "2023-12-20 08:00:00",
            "NULL",
            "2023-12-31 02:00:00",
            "web-2",
            "192.0.2.22",
            "'v1.4.6-debian-pragmatic'",
            "false",
        ),
    ]
}

fn expected() -> Vec<Machine> {
    let m = |name: &str,
             ip: &str,
             version: &str,
             validated: &str,
             beat: Option<f64>,
             push: Option<f64>| Machine {
        name: name.into(),
        ip_address: ip.into(),
        version: version.into(),
        auth_type: "password".into(),
        validated: validated.into(),
        last_heartbeat: beat,
        last_push: push,
    };
    vec![
        // 2024-01-02T03:04:05Z, 2024-01-02T01:00:00Z
        m(
            "web-1",
            "192.0.2.21",
            "v1.7.2-debian",
            "true",
            Some(1_704_164_645.0),
            Some(1_704_157_200.0),
        ),
        m(
            "cscli",
            "127.0.0.1",
            "",
            "true",
            None,
            Some(1_704_103_200.0),
        ),
        // 2023-12-31T02:00:00Z
        m(
            "web-2",
            "192.0.2.22",
            "v1.4.6-debian-pragmatic",
            "false",
            Some(1_703_988_000.0),
            None,
        ),
    ]
}

fn sqlite_with(
    schema: fn(&std::path::Path) -> rusqlite::Connection,
    dir: &std::path::Path,
) -> LapiDbLocation {
    let path = dir.join("crowdsec.db");
    let conn = schema(&path);
    for r in rows("+00:00") {
        conn.execute_batch(&r).unwrap();
    }
    LapiDbLocation::Sqlite(path)
}

#[test]
fn sqlite_1_4_6_and_1_7_give_the_machines() {
    for schema in [
        db_1_4_6 as fn(&std::path::Path) -> rusqlite::Connection,
        db_1_7,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let got = read(sqlite_with(schema, dir.path())).unwrap();
        assert_eq!(got.machines, expected());
        assert_eq!(got.bad_rows, 0);
    }
}

#[test]
fn postgres_and_mariadb_give_the_same_machines_as_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = read(sqlite_with(db_1_7, dir.path())).unwrap();

    // PostgreSQL, server in +05:30, written through a session in -07:00: timestamptz keeps the instant.
    let pg = Postgres::start("XYZ-05:30");
    pg.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    pg.create_crowdsec_db("cs146", "crowdsec146", PASSWORD, "schema-1.4.6.sql");
    for db in ["crowdsec", "cs146"] {
        pg.admin_sql(
            db,
            &format!(
                "SET TIME ZONE INTERVAL '-07:00' HOUR TO MINUTE; {};",
                rows("+00:00").join("; ")
            ),
        );
    }
    for (db, user) in [("crowdsec", "crowdsec"), ("cs146", "crowdsec146")] {
        let loc =
            LapiDbLocation::Server(ServerDb::from_url(&pg.url(user, PASSWORD_IN_URL, db)).unwrap());
        assert_eq!(read(loc).unwrap(), sqlite, "PostgreSQL {db}");
    }

    // MariaDB, global zone +05:30: UTC wall-clock text written in the default session, as CrowdSec's driver
    // (loc=UTC) writes it.
    let my = Mariadb::start("+05:30");
    my.create_crowdsec_db("crowdsec", "crowdsec", PASSWORD, "schema-1.7.sql");
    my.create_crowdsec_db("cs146", "crowdsec", PASSWORD, "schema-1.4.6.sql");
    for db in ["crowdsec", "cs146"] {
        let mut writes = vec![format!("USE {db}")];
        writes.extend(rows(""));
        let writes: Vec<&str> = writes.iter().map(String::as_str).collect();
        my.admin_sql(&writes);
        let loc = LapiDbLocation::Server(
            ServerDb::from_url(&my.url("crowdsec", PASSWORD_IN_URL, db)).unwrap(),
        );
        assert_eq!(read(loc).unwrap(), sqlite, "MariaDB {db}");
    }
}

#[test]
fn a_database_without_machines_or_without_last_heartbeat_says_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crowdsec.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE bouncers (id integer PRIMARY KEY, name text)")
        .unwrap();
    let e = read(LapiDbLocation::Sqlite(path.clone())).unwrap_err();
    assert_eq!(e.reason.as_str(), "schema", "{e}");
    assert!(e.message.contains("no `machines` table"), "{e}");
    conn.execute_batch(
        "CREATE TABLE machines (id integer PRIMARY KEY, machine_id text, password text)",
    )
    .unwrap();
    let e = read(LapiDbLocation::Sqlite(path)).unwrap_err();
    assert_eq!(e.reason.as_str(), "schema", "{e}");
    assert!(e.message.contains("`last_heartbeat`"), "{e}");
    assert!(!e.message.contains("password"), "{e}");
}

/// The real CrowdSec 1.4.6: a machine added with cscli has no heartbeat (never judged); once it logs in
/// (`POST /v1/watchers/login`) and calls `GET /v1/heartbeat` as an agent does every minute, the LAPI writes
/// `last_heartbeat` and the exporter serves it, next to the bouncers, and `diagnose` names its state.
#[test]
fn real_crowdsec_1_4_6_heartbeat_is_read() {
    let lapi = Lapi::start();
    let creds = lapi.dir.path().join("agent-creds.yaml");
    lapi.cscli(&[
        "machines",
        "add",
        "agent-1",
        "-p",
        "Agent-Pass-1234",
        "-f",
        creds.to_str().unwrap(),
    ]);
    let before = read(LapiDbLocation::Sqlite(lapi.db.clone())).unwrap();
    let agent = before
        .machines
        .iter()
        .find(|m| m.name == "agent-1")
        .expect("cscli machines add writes a row");
    // 1.4.6 writes the registration time in last_heartbeat; never logged in (no version), it is no heartbeat.
    assert_eq!(agent.version, "", "{agent:?}");
    assert_eq!(agent.last_heartbeat, None, "{agent:?}");
    let raw: Option<String> = lapi
        .sql()
        .query_row(
            "SELECT last_heartbeat FROM machines WHERE machine_id = 'agent-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        raw.is_some(),
        "1.4.6 sets last_heartbeat at `cscli machines add`"
    );
    assert_eq!(agent.validated, "true", "cscli machines add validates");

    // The credentials as cscli wrote them for the agent (local_api_credentials.yaml format).
    let creds_text = std::fs::read_to_string(&creds).unwrap();
    let field = |k: &str| {
        creds_text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(k)
                    .map(|v| v.trim().trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| panic!("no {k} in {creds_text}"))
    };
    let (login_name, password) = (field("login:"), field("password:"));
    let url = lapi.url();
    let started = crowdsec_bouncer_exporter::values::time::now();
    block_on(async {
        // 1.4.6's login refuses a User-Agent that is not `<name>/<version>` (the agent sends `crowdsec/<version>`)
        // and stores its version part in `machines.version`.
        let client = reqwest::Client::builder()
            .user_agent("crowdsec/v1.4.6-test-agent")
            .build()
            .unwrap();
        let login: serde_json::Value = client
            .post(format!("{url}v1/watchers/login"))
            .json(&serde_json::json!({"machine_id": login_name, "password": password, "scenarios": []}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["token"]
            .as_str()
            .unwrap_or_else(|| {
                panic!("no token: {login} ({creds_text:?} minus nothing secret: a test password)")
            })
            .to_owned();
        let beat = client
            .get(format!("{url}v1/heartbeat"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(beat.status().as_u16(), 200);
    });
    let after = read(LapiDbLocation::Sqlite(lapi.db.clone())).unwrap();
    let agent = after.machines.iter().find(|m| m.name == "agent-1").unwrap();
    let beat = agent.last_heartbeat.expect("the heartbeat is written");
    assert!(
        beat >= started - 2.0 && beat <= crowdsec_bouncer_exporter::values::time::now() + 2.0,
        "{beat} vs {started}"
    );
    assert_eq!(agent.version, "v1.4.6-test-agent", "{agent:?}");
    assert_eq!(agent.ip_address, "127.0.0.1");

    // Served by the exporter next to the bouncers.
    let exporter = common::real::ExporterProc::start(
        &["--lapi.db", lapi.db.to_str().unwrap()],
        lapi.dir.path(),
    );
    let text = exporter.metrics();
    assert!(
        text.lines().any(
            |l| l.starts_with("crowdsec_machine_last_heartbeat_timestamp_seconds{")
                && l.contains("machine=\"agent-1\"")
        ),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("crowdsec_machine_info{")
            && l.contains("machine=\"agent-1\"")
            && l.contains("validated=\"true\"")),
        "{text}"
    );
    assert!(
        text.contains("crowdsec_exporter_source_up{source=\"lapi_machines\""),
        "{text}"
    );
}
