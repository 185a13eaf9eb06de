//! The SQLite source against databases built with each CrowdSec version's schema.

use crate::common;

use std::time::Duration;

use common::*;
use crowdsec_bouncer_exporter::crowdsec::bouncers::{BouncerSnapshot, LastPull};
use crowdsec_bouncer_exporter::sources::lapi_db::sqlite::SqliteDb;
use crowdsec_bouncer_exporter::sources::Failure;

fn read(path: &std::path::Path) -> BouncerSnapshot {
    SqliteDb::new(path, Duration::from_millis(200))
        .read_blocking()
        .unwrap()
}

fn reason(path: &std::path::Path) -> &'static str {
    SqliteDb::new(path, Duration::from_millis(200))
        .read_blocking()
        .unwrap_err()
        .reason()
        .as_str()
}

fn find<'a>(
    s: &'a BouncerSnapshot,
    name: &str,
) -> &'a crowdsec_bouncer_exporter::crowdsec::bouncers::Bouncer {
    s.bouncers
        .iter()
        .find(|b| b.name() == name)
        .unwrap_or_else(|| panic!("{name} missing"))
}

const INSERT_146: &str = "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, until, last_pull, auth_type) VALUES (?1, ?1, ?2, 'secret-hash-0123', 0, ?3, ?4, ?5, ?1, ?6, ?7)";

type Row146<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    String,
    &'a str,
);

#[test]
fn crowdsec_1_4_6_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = db_1_4_6(&path);
    // name, ip_address, type, version, last_pull, auth_type
    let rows: [Row146; 5] = [
        (
            "nginx",
            "10.0.0.5",
            Some("crowdsec-nginx-bouncer"),
            Some("v1.0.5"),
            ts(100),
            "api-key",
        ),
        // Registered, never used: 1.4.6 puts the creation time in last_pull and leaves type NULL.
        ("never", "", None, None, ts(0), "api-key"),
        (
            "tls-cn@127.0.0.1",
            "127.0.0.1",
            Some("crowdsec-firewall-bouncer"),
            Some("v0.0.28"),
            ts(50),
            "tls",
        ),
        ("quo\"te\\back", "", Some("x"), Some("1"), ts(10), "api-key"),
        (
            "pare-feu-été-防火墙",
            "::1",
            Some("y"),
            Some("2"),
            ts(20),
            "api-key",
        ),
    ];
    for (name, ip, t, v, last_pull, auth) in &rows {
        conn.execute(
            INSERT_146,
            rusqlite::params![ts(0), name, ip, t, v, last_pull, auth],
        )
        .unwrap();
    }
    let snap = read(&path);
    assert_eq!(snap.schema, "1.4");
    assert_eq!(snap.bouncers.len(), 5);
    let nginx = find(&snap, "nginx");
    assert_eq!(nginx.last_pull, LastPull::At(BASE_TS + 100.0));
    assert_eq!(nginx.bouncer_type(), "crowdsec-nginx-bouncer");
    assert_eq!(nginx.version(), "v1.0.5");
    assert_eq!(nginx.ip_address(), "10.0.0.5");
    assert_eq!(
        nginx.registered_at, None,
        "1.4.6 rewrites created_at: not a registration time"
    );
    assert_eq!(
        (nginx.os(), nginx.auto_created, nginx.revoked),
        ("", "", "false")
    );
    let never = find(&snap, "never");
    assert_eq!(never.last_pull, LastPull::Never);
    assert_eq!(
        never.age_seconds(BASE_TS + 1e6),
        None,
        "no trustworthy registration time on 1.4.6"
    );
    let tls = find(&snap, "tls-cn@127.0.0.1");
    assert_eq!((&*tls.auth_type, tls.base_name()), ("tls", "tls-cn"));
    assert!(
        snap.bouncers.iter().all(|b| b.last_usage_metrics.is_none()),
        "1.4.6 has no metrics table"
    );
    assert_eq!(
        find(&snap, "quo\"te\\back").last_pull,
        LastPull::At(BASE_TS + 10.0)
    );
    assert_eq!(find(&snap, "pare-feu-été-防火墙").ip_address(), "::1");
    assert_eq!(snap.bad_rows, 0);
}

const INSERT_17: &str = "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES (?1, ?1, ?2, 'secret-hash-0123', 0, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

#[test]
fn crowdsec_1_7_rows_with_usage_metrics_and_ip_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = db_1_7(&path);
    let p = |c: &str, name: &str, lp: Option<String>, t: Option<&str>, auto: bool| {
        conn.execute(
            INSERT_17,
            rusqlite::params![
                c,
                name,
                "10.0.0.2",
                t,
                t.map(|_| "v0.0.31"),
                lp,
                "api-key",
                "debian",
                "12",
                auto
            ],
        )
        .unwrap();
    };
    p(
        &ts(0),
        "fw",
        Some(ts(-90_000)),
        Some("crowdsec-firewall-bouncer"),
        false,
    );
    p(
        &ts(10),
        "fw@10.0.0.2",
        Some(ts(500)),
        Some("crowdsec-firewall-bouncer"),
        true,
    );
    p(&ts(-3600), "fresh-never", None, None, false);
    p(
        &ts(0),
        "nginx-live",
        Some(ts(-200_000)),
        Some("crowdsec-nginx-bouncer"),
        false,
    );
    let m = "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES (?1, ?2, ?3, '{}')";
    conn.execute(m, rusqlite::params!["RC", "nginx-live", ts(-900)])
        .unwrap();
    conn.execute(m, rusqlite::params!["RC", "nginx-live", ts(-60)])
        .unwrap();
    conn.execute(m, rusqlite::params!["RC", "nginx-live", ts(-1800)])
        .unwrap();
    conn.execute(m, rusqlite::params!["LP", "fw", ts(0)])
        .unwrap();
    let snap = read(&path);
    assert_eq!(snap.schema, "1.7.1+");
    let fw = find(&snap, "fw");
    assert_eq!(fw.last_pull, LastPull::At(BASE_TS - 90_000.0));
    assert_eq!(fw.os(), "debian/12");
    assert_eq!(fw.auto_created, "false");
    assert_eq!(
        fw.last_usage_metrics, None,
        "LP (machine) metrics are not a bouncer's"
    );
    let dup = find(&snap, "fw@10.0.0.2");
    assert_eq!((dup.base_name(), dup.auto_created), ("fw", "true"));
    let never = find(&snap, "fresh-never");
    assert_eq!(never.last_pull, LastPull::Never);
    assert_eq!(never.registered_at, Some(BASE_TS - 3600.0));
    assert_eq!(
        never.age_seconds(BASE_TS),
        Some(3600.0),
        "age since registration on 1.6+"
    );
    assert_eq!(
        find(&snap, "nginx-live").last_usage_metrics,
        Some(BASE_TS - 60.0),
        "newest RC push"
    );
}

#[test]
fn upgraded_database_keeps_old_columns_and_tolerates_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = db_1_4_6(&path);
    conn.execute(
        INSERT_146,
        rusqlite::params![
            ts(0),
            "old",
            "",
            "crowdsec-firewall-bouncer",
            "v1",
            ts(5),
            "api-key"
        ],
    )
    .unwrap();
    conn.execute_batch(
        "ALTER TABLE bouncers ADD COLUMN osname text NULL; ALTER TABLE bouncers ADD COLUMN osversion text NULL;
         ALTER TABLE bouncers ADD COLUMN featureflags text NULL;
         ALTER TABLE bouncers ADD COLUMN auto_created bool NOT NULL DEFAULT false;
         ALTER TABLE bouncers ADD COLUMN some_future_column text NULL DEFAULT 'x';
         CREATE TABLE metrics (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, generated_type text NOT NULL, generated_by text NOT NULL, received_at datetime NOT NULL, pushed_at datetime NULL, payload text NOT NULL);",
    )
    .unwrap();
    // A bouncer created after the upgrade: NULL last_pull is not possible (NOT NULL survives), creation time instead.
    conn.execute(
        INSERT_146,
        rusqlite::params![
            ts(7),
            "new",
            "",
            None::<String>,
            None::<String>,
            ts(7),
            "api-key"
        ],
    )
    .unwrap();
    let snap = read(&path);
    assert_eq!(snap.schema, "1.6.4+");
    let old = find(&snap, "old");
    assert_eq!(old.last_pull, LastPull::At(BASE_TS + 5.0));
    assert_eq!(old.auto_created, "false");
    let new = find(&snap, "new");
    assert_eq!(new.last_pull, LastPull::Never);
    assert_eq!(new.age_seconds(BASE_TS + 100.0), Some(93.0));
}

#[test]
fn a_bad_timestamp_spoils_one_row_not_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = db_1_7(&path);
    insert_plain_17(&conn, "weird", "yesterday-ish");
    insert_plain_17(&conn, "ok", ts(1));
    let snap = read(&path);
    assert_eq!(snap.bad_rows, 1);
    assert_eq!(find(&snap, "weird").last_pull, LastPull::Unreadable);
    assert_eq!(find(&snap, "ok").last_pull, LastPull::At(BASE_TS + 1.0));
}

#[test]
fn failures_have_clear_reasons() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(reason(&temp_path(&dir, "absent.db")), "missing_file");
    let text = temp_path(&dir, "not.db");
    std::fs::write(
        &text,
        "this is not a database, just text that is long enough to look like a header......",
    )
    .unwrap();
    assert_eq!(reason(&text), "not_sqlite");
    assert_eq!(reason(dir.path()), "not_sqlite", "a directory");
    let empty_db = temp_path(&dir, "other.db");
    rusqlite::Connection::open(&empty_db)
        .unwrap()
        .execute_batch("CREATE TABLE t (x int)")
        .unwrap();
    assert_eq!(reason(&empty_db), "schema");
    let err = SqliteDb::new(&text, Duration::from_millis(100))
        .read_blocking()
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a SQLite database"), "{err}");
}

#[test]
fn a_locked_database_is_reported_after_the_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = db_1_4_6(&path);
    // Rollback journal (1.4.6's default): an exclusive writer blocks readers.
    conn.execute_batch("BEGIN EXCLUSIVE; UPDATE bouncers SET name = name;")
        .unwrap();
    assert_eq!(reason(&path), "locked");
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(read(&path).bouncers.len(), 0);
}

/// A tester's `--lapi.timeout 1000d` passed `--config.check`, then every read panicked in rusqlite ("too big":
/// SQLite's busy timeout is an i32 of milliseconds, 24.8 days): the wait is capped where it is set.
#[test]
fn a_timeout_longer_than_sqlite_can_wait_reads_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = db_1_7(&path);
    insert_plain_17(&conn, "ok", ts(1));
    let snap = SqliteDb::new(&path, Duration::from_secs(1000 * 86_400))
        .read_blocking()
        .unwrap();
    assert_eq!(find(&snap, "ok").last_pull, LastPull::At(BASE_TS + 1.0));
}

#[test]
fn wal_database_reads_the_wal_while_crowdsec_writes_and_after_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = db_1_7(&path);
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch("PRAGMA wal_autocheckpoint=0").unwrap();
    insert_plain_17(&conn, "in-wal", ts(3));
    assert!(std::path::Path::new(&format!("{}-wal", path.display())).exists());
    // The row is only in the -wal file: a correct reader must see it.
    assert_eq!(
        find(&read(&path), "in-wal").last_pull,
        LastPull::At(BASE_TS + 3.0)
    );
    drop(conn);
    assert_eq!(
        find(&read(&path), "in-wal").last_pull,
        LastPull::At(BASE_TS + 3.0)
    );
}

/// A 1.7 row with only a name and a last pull (stored as given: a `ts(..)` text or any SQL value).
fn insert_plain_17(conn: &rusqlite::Connection, name: &str, last_pull: impl rusqlite::ToSql) {
    conn.execute(
        INSERT_17,
        rusqlite::params![
            ts(0),
            name,
            "",
            "t",
            "v",
            last_pull,
            "api-key",
            None::<String>,
            None::<String>,
            false
        ],
    )
    .unwrap();
}

fn wal_db_with_one_row(path: &std::path::Path) -> rusqlite::Connection {
    let conn = db_1_7(path);
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch("PRAGMA wal_autocheckpoint=0").unwrap();
    insert_plain_17(&conn, "b", ts(3));
    conn
}

#[test]
fn wal_database_whose_wal_file_cannot_be_created_is_read_immutable() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    drop(wal_db_with_one_row(&path)); // checkpoints and removes -wal/-shm, as a stopped CrowdSec leaves it
                                      // A directory where the -wal file would go: SQLite's read-only open fails, as on a read-only folder.
    std::fs::create_dir(format!("{}-wal", path.display())).unwrap();
    assert_eq!(
        find(&read(&path), "b").last_pull,
        LastPull::At(BASE_TS + 3.0)
    );
}

/// Runs this test binary again, filtered to `test`, inside a user+mount namespace where `dir` is a read-only
/// bind mount (tests run as root, so file modes alone would not stop SQLite from writing).
fn in_read_only_mount(dir: &std::path::Path, test: &str, db: &std::path::Path) {
    let exe = std::env::current_exe().unwrap();
    let d = dir.display();
    let status = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", &format!("mount --bind '{d}' '{d}' && mount -o remount,bind,ro '{d}' && exec \"$0\" --exact {test} --nocapture")])
        .arg(exe)
        .env("CSBE_RO_CHILD_DB", db)
        .status()
        .expect("unshare (util-linux) runs");
    assert!(
        status.success(),
        "read in the read-only mount failed: {status}"
    );
}

/// In the child: the mount must really be read-only, and the read must see the row.
fn read_only_child() -> bool {
    let Some(db) = std::env::var_os("CSBE_RO_CHILD_DB") else {
        return false;
    };
    let db = std::path::PathBuf::from(db);
    let probe = db.with_file_name("probe");
    assert!(
        std::fs::write(&probe, "x").is_err(),
        "the mount is not read-only"
    );
    assert_eq!(find(&read(&db), "b").last_pull, LastPull::At(BASE_TS + 3.0));
    true
}

#[test]
fn wal_database_on_a_read_only_mount_while_crowdsec_runs() {
    if read_only_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let writer = wal_db_with_one_row(&path); // CrowdSec running: -wal and -shm exist, the row is only in -wal
    in_read_only_mount(
        dir.path(),
        "wal_database_on_a_read_only_mount_while_crowdsec_runs",
        &path,
    );
    drop(writer);
}

#[test]
fn wal_database_on_a_read_only_mount_after_crowdsec_stopped() {
    if read_only_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    drop(wal_db_with_one_row(&path));
    in_read_only_mount(
        dir.path(),
        "wal_database_on_a_read_only_mount_after_crowdsec_stopped",
        &path,
    );
}

#[test]
fn the_reader_never_writes_to_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = db_1_4_6(&path);
    conn.execute(
        INSERT_146,
        rusqlite::params![ts(0), "a", "", "t", "v", ts(1), "api-key"],
    )
    .unwrap();
    drop(conn);
    let before = std::fs::read(&path).unwrap();
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    read(&path);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        modified
    );
    assert!(!std::path::Path::new(&format!("{}-journal", path.display())).exists());
}

#[test]
fn usage_metrics_are_read_incrementally_and_a_replaced_database_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = db_1_7(&path);
    insert_plain_17(&conn, "live", ts(1));
    let m = "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', ?1, ?2, '{}')";
    conn.execute(m, rusqlite::params!["live", ts(100)]).unwrap();
    let db = SqliteDb::new(&path, Duration::from_millis(200));
    let usage = |db: &SqliteDb| find(&db.read_blocking().unwrap(), "live").last_usage_metrics;
    assert_eq!(usage(&db), Some(BASE_TS + 100.0));
    conn.execute(m, rusqlite::params!["live", ts(900)]).unwrap();
    assert_eq!(usage(&db), Some(BASE_TS + 900.0), "a new push is seen");
    // CrowdSec's 7-day flush deletes old rows; an out-of-order older row never moves the newest back.
    conn.execute("DELETE FROM metrics", []).unwrap();
    conn.execute(m, rusqlite::params!["live", ts(500)]).unwrap();
    assert_eq!(usage(&db), Some(BASE_TS + 900.0));
    // The database is replaced by an older copy (ids go back): start over from what it holds.
    drop(conn);
    std::fs::remove_file(&path).unwrap();
    let conn = db_1_7(&path);
    insert_plain_17(&conn, "live", ts(1));
    conn.execute(m, rusqlite::params!["live", ts(42)]).unwrap();
    assert_eq!(usage(&db), Some(BASE_TS + 42.0));
}

/// Field case R2-01 from the database: chained `name@ip@ip` rows (LAPI 1.6.4-1.7.0) all group under `envoy`.
#[test]
fn chained_ip_suffixes_group_under_one_base() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let conn = db_1_7(&path);
    for name in [
        "envoy",
        "envoy@192.0.2.147",
        "envoy@192.0.2.147@192.0.2.179",
        "envoy@192.0.2.147@192.0.2.242",
        "caddy@2001:db8::15",
        "ops@example.com",
        "@10.0.0.1",
    ] {
        insert_plain_17(&conn, name, ts(1));
    }
    let snap = read(&path);
    for (name, base) in [
        ("envoy", "envoy"),
        ("envoy@192.0.2.147", "envoy"),
        ("envoy@192.0.2.147@192.0.2.179", "envoy"),
        ("envoy@192.0.2.147@192.0.2.242", "envoy"),
        ("caddy@2001:db8::15", "caddy"),
        ("ops@example.com", "ops@example.com"),
        ("@10.0.0.1", "@10.0.0.1"),
    ] {
        assert_eq!(find(&snap, name).base_name(), base, "{name}");
    }
}

/// Go's zero time, as old schemas and hand-made rows hold it: never pulled, unknown registration, not a pull
/// at -62135596800 with `pulled 1`.
#[test]
fn go_zero_time_is_never_pulled() {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let zero = "0001-01-01 00:00:00+00:00";
    let conn = db_1_7(&path);
    conn.execute(
        INSERT_17,
        rusqlite::params![
            zero,
            "zero",
            "192.0.2.5",
            "crowdsec-firewall-bouncer",
            "v0.0.31",
            zero,
            "api-key",
            None::<String>,
            None::<String>,
            false
        ],
    )
    .unwrap();
    let snap = read(&path);
    let b = find(&snap, "zero");
    assert_eq!(b.last_pull, LastPull::Never);
    assert_eq!(b.last_pull.pulled(), Some(0.0));
    assert_eq!(b.registered_at, None, "a zero created_at is unknown");
    assert_eq!(b.age_seconds(BASE_TS), None);
    assert_eq!(snap.bad_rows, 0);
    // The same through the exporter: no timestamp series, pulled 0.
    let srv = start_in_process({
        let mut s = crowdsec_bouncer_exporter::settings::Settings::single_lapi(
            "local",
            crowdsec_bouncer_exporter::settings::LapiDbLocation::Sqlite(path.clone()),
        );
        s.web.max_scrape_wait = Duration::from_secs(5);
        s
    });
    let samples = parse_samples(&http(srv.addr, "GET", "/metrics", &[]).2);
    let want = [("bouncer", "zero")];
    assert_eq!(value(&samples, "crowdsec_bouncer_pulled", &want), Some(0.0));
    assert_eq!(
        value(
            &samples,
            "crowdsec_bouncer_last_pull_timestamp_seconds",
            &want
        ),
        None
    );
    assert_eq!(
        value(&samples, "crowdsec_bouncer_last_pull_age_seconds", &want),
        None
    );
}

/// The exporter binary as `nobody` (tests run as root, who reads anything), with `groups` as its supplementary
/// groups: its first scrape and its log.
fn scrape_as_nobody(db: &std::path::Path, groups: Option<&str>) -> (Vec<Sample>, String) {
    use common::real::{free_port, wait_until, Proc};
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534"]);
    match groups {
        Some(g) => cmd.arg(format!("--groups={g}")),
        None => cmd.arg("--clear-groups"),
    };
    cmd.arg(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
        .args(["--web.listen-address", &addr.to_string()])
        .args(["--crowdsec.config", "/nonexistent/config.yaml"])
        .args(["--bouncers.config-dir", "/nonexistent/bouncers"])
        .args(["--lapi.cache-interval", "0s", "--lapi.db"])
        .arg(db);
    let log_dir = tempfile::tempdir().unwrap();
    let mut proc = Proc::spawn(&mut cmd, log_dir.path().join("exporter.log"));
    wait_until("the exporter to listen", Duration::from_secs(10), || {
        std::net::TcpStream::connect(addr).is_ok()
    });
    let (status, _, body) = http(addr, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    proc.terminate(Duration::from_secs(5));
    (parse_samples(&body), proc.log_text())
}

/// A folder `nobody` may enter, holding a CrowdSec 1.7 database with one row, owned by root:adm (gid 4) with `mode`.
fn database_for_nobody(dir: &tempfile::TempDir, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = temp_path(dir, "crowdsec.db");
    insert_plain_17(&db_1_7(&path), "fw", ts(1));
    std::os::unix::fs::chown(&path, Some(0), Some(4)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// The commonest first-run failure: a 0640 database the exporter's user cannot read. Reason `permission` with the
/// fix, never `open` nor the internal immutable=1 fallback; following the fix (joining the group) works.
#[test]
fn a_0640_database_the_exporter_cannot_read_is_a_permission_error_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let db = database_for_nobody(&dir, 0o640);
    let (samples, log) = scrape_as_nobody(&db, None);
    let up = &[("source", "lapi_db")];
    assert_eq!(
        value(&samples, "crowdsec_exporter_source_up", up),
        Some(0.0),
        "{log}"
    );
    let reasons: Vec<&str> = samples
        .iter()
        .filter(|s| s.name == "crowdsec_exporter_source_errors_total")
        .filter(|s| s.labels["source"] == "lapi_db")
        .map(|s| s.labels["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["permission"], "{log}");
    for want in [
        "permission denied reading",
        "owner root, group adm, mode 0640",
        "user nobody",
        "Fix, as root: setfacl -m u:nobody:x,d:u:nobody:r ",
    ] {
        assert!(log.contains(want), "{want:?} missing in:\n{log}");
    }
    assert!(!log.contains("immutable"), "{log}");
    assert!(!log.contains("unable to open database file"), "{log}");
    assert!(
        !log.contains("usermod") && !log.contains("run the exporter as"),
        "{log}"
    );
}

/// Issue 25: a stock CrowdSec host (database 0640 root:root in a 0750 root folder, no `crowdsec` group). The log
/// gives one step; run word for word, as root, it lets the exporter's user read the database, and the -wal/-shm
/// files SQLite creates afterwards (the default ACL), without changing the files' owner, group or mode.
#[test]
fn the_logged_step_makes_a_stock_database_readable_with_its_later_wal() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o750)).unwrap();
    let db = data.join("crowdsec.db");
    insert_plain_17(&db_1_7(&db), "fw", ts(1));
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    let modes = |p: &std::path::Path| {
        let m = std::fs::metadata(p).unwrap();
        (m.uid(), m.gid(), m.mode() & 0o7777)
    };
    let before = (modes(&data), modes(&db));

    let (samples, log) = scrape_as_nobody(&db, None);
    let up = &[("source", "lapi_db")];
    assert_eq!(
        value(&samples, "crowdsec_exporter_source_up", up),
        Some(0.0),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "the folder {} (owner root, group root, mode 0750)",
            data.display()
        )),
        "{log}"
    );
    // The logfmt line quotes the message: the step is between "Fix, as root: " and " then restart".
    let step = log
        .split("Fix, as root: ")
        .nth(1)
        .and_then(|s| s.split(" then restart").next())
        .unwrap_or_else(|| panic!("no step in:\n{log}"))
        .replace("\\\"", "\"");
    assert_eq!(
        step,
        format!(
            "setfacl -m u:nobody:x,d:u:nobody:r {} && setfacl -m u:nobody:r {}*",
            data.display(),
            db.display()
        )
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &step])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{step}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // CrowdSec running after the step: its -wal/-shm files are new, and hold the only copy of the second row.
    let writer = rusqlite::Connection::open(&db).unwrap();
    writer
        .query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .unwrap();
    writer.execute_batch("PRAGMA wal_autocheckpoint=0").unwrap();
    insert_plain_17(&writer, "wal-only", ts(2));
    assert!(data.join("crowdsec.db-wal").exists());
    let (samples, log) = scrape_as_nobody(&db, None);
    assert_eq!(
        value(&samples, "crowdsec_exporter_source_up", up),
        Some(1.0),
        "{log}"
    );
    assert_eq!(
        value(&samples, "crowdsec_bouncers", &[]),
        Some(2.0),
        "{log}"
    );
    assert_eq!(
        (modes(&data), modes(&db)),
        before,
        "CrowdSec's owner, group or mode changed"
    );
    drop(writer);
}

/// A readable database whose live -wal file is not readable: `permission` naming the -wal file, not a silent
/// immutable read that would miss the pulls only the -wal file holds.
#[test]
fn an_unreadable_wal_file_is_a_permission_error_not_stale_data() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = temp_path(&dir, "crowdsec.db");
    let writer = wal_db_with_one_row(&path); // CrowdSec running: the row is only in -wal
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (samples, log) = scrape_as_nobody(&path, None);
    assert_eq!(
        value(
            &samples,
            "crowdsec_exporter_source_errors_total",
            &[("source", "lapi_db"), ("reason", "permission")]
        ),
        Some(1.0),
        "{log}"
    );
    assert!(
        log.contains(&format!("permission denied reading {}", wal.display())),
        "{log}"
    );
    assert_eq!(value(&samples, "crowdsec_bouncers", &[]), None);
    drop(writer);
}

/// Issue 19 #3: CrowdSec's documented move to another database (register again, edit `db_config`, restart; the old
/// `crowdsec.db` stays). The next read follows the config and its `.local` instead of the frozen file (main kept
/// reading it with `source_up 1`), and a config that no longer loads stops the reading of the old file.
#[test]
fn a_changed_crowdsec_config_is_followed_on_the_next_read() {
    use crowdsec_bouncer_exporter::settings::LapiDbLocation;
    use crowdsec_bouncer_exporter::sources::lapi_db::LapiDbSource;
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("crowdsec.db"), dir.path().join("moved.db"));
    insert_plain_17(&db_1_7(&old), "frozen", ts(3));
    insert_plain_17(&db_1_7(&new), "moved", ts(3));
    let cfg = dir.path().join("config.yaml");
    let local = dir.path().join("config.yaml.local");
    let db_path =
        |p: &std::path::Path| format!("db_config:\n  type: sqlite\n  db_path: {}\n", p.display());
    std::fs::write(&cfg, db_path(&old)).unwrap();
    let source = LapiDbSource::new(
        LapiDbLocation::FromCrowdsecConfig(cfg.clone()),
        Duration::from_millis(200),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let names = |s: &LapiDbSource| -> Vec<String> {
        let snapshot = rt.block_on(s.read()).unwrap();
        snapshot
            .bouncers
            .iter()
            .map(|b| b.name().to_owned())
            .collect()
    };
    assert_eq!(names(&source), ["frozen"]);
    std::fs::write(&local, db_path(&new)).unwrap();
    assert_eq!(
        names(&source),
        ["moved"],
        "the .local names the new database"
    );
    std::fs::remove_file(&local).unwrap();
    assert_eq!(names(&source), ["frozen"]);
    std::fs::write(&cfg, format!("# moved\n{}", db_path(&new))).unwrap();
    assert_eq!(names(&source), ["moved"], "db_path edited in config.yaml");
    // Issue 19 #1: the autodelete setting comes with the rows, and follows the config too.
    std::fs::write(
        &local,
        "db_config:\n  flush:\n    bouncers_autodelete:\n      api_key: 2h\n",
    )
    .unwrap();
    let snapshot = rt.block_on(source.read()).unwrap();
    assert_eq!(snapshot.autodelete.len(), 1);
    assert_eq!(
        (
            snapshot.autodelete[0].auth_type,
            snapshot.autodelete[0].after
        ),
        ("api-key", Duration::from_secs(7200))
    );
    std::fs::write(&cfg, "db_config: [\n").unwrap();
    let failure = rt.block_on(source.read()).unwrap_err();
    assert_eq!(failure.reason.as_str(), "config", "{failure}");
}

/// Issue 21 #1 and #3 on SQLite, the reference PostgreSQL and MariaDB must equal (`usage::sqlite_decisions`): the
/// loopback ban, the range over both bouncers (10.0.0.2) and the machine, and what is no self-ban (a country, a
/// simulated ban, a captcha); the IP decisions as distinct values per origin.
#[test]
fn self_bans_and_ip_decisions() {
    use crowdsec_bouncer_exporter::crowdsec::active_decisions::SelfBanTarget::*;
    let got = usage::sqlite_decisions();
    let pairs = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>()
    };
    let o = |s: &str| s.to_owned();
    assert_eq!(
        pairs(&got.by_origin),
        [
            (o("CAPI"), 1),
            (o("crowdsec"), 1),
            (o("cscli"), 3),
            (o("lists:firehol_voipbl"), 2)
        ]
    );
    // The blocklist's two decisions are on one value; the country is no IP decision.
    assert_eq!(
        pairs(&got.ip_by_origin),
        [
            (o("CAPI"), 1),
            (o("crowdsec"), 1),
            (o("cscli"), 2),
            (o("lists:firehol_voipbl"), 1)
        ]
    );
    assert_eq!(
        got.self_bans.into_iter().collect::<Vec<_>>(),
        [
            (
                (Loopback, o("crowdsec"), o("crowdsecurity/http-probing")),
                1
            ),
            ((Bouncer, o("cscli"), o("manual")), 1),
            ((Machine, o("cscli"), o("manual")), 1),
        ]
    );
    assert_eq!(pairs(&got.banned_bouncers), [(o("fw"), 1), (o("nginx"), 1)]);
    assert!(got.machines_read);
}
