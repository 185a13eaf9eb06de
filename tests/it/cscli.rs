//! The cscli source: against the real cscli 1.4.6 from Debian, against 1.6/1.7-shaped output written from
//! DOMAIN.md's facts, and against commands that hang, fail or print garbage.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::real::{part, Lapi};
use common::*;
use crowdsec_bouncer_exporter::crowdsec::bouncers::{BouncerSnapshot, LastPull};
use crowdsec_bouncer_exporter::settings::{LapiDbLocation, Settings};
use crowdsec_bouncer_exporter::sources::cscli::{split_command, CscliSource};
use crowdsec_bouncer_exporter::sources::lapi_db::sqlite::SqliteDb;
use crowdsec_bouncer_exporter::sources::SourceFailure;
use crowdsec_bouncer_exporter::values::time::parse_timestamp;

fn run(argv: &[&str], timeout: Duration) -> Result<BouncerSnapshot, SourceFailure> {
    let source = CscliSource::new(argv.iter().map(|s| s.to_string()).collect(), timeout);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(source.read())
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

fn run_sh(script: &str, timeout: Duration) -> Result<BouncerSnapshot, SourceFailure> {
    let argv = sh(script);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    run(&argv, timeout)
}

fn find<'a>(
    s: &'a BouncerSnapshot,
    name: &str,
) -> &'a crowdsec_bouncer_exporter::crowdsec::bouncers::Bouncer {
    s.bouncers
        .iter()
        .find(|b| b.name() == name)
        .unwrap_or_else(|| panic!("{name} missing in {s:?}"))
}

#[test]
fn real_cscli_1_4_6_matches_the_database() {
    let lapi = Lapi::start();
    lapi.add_bouncer("never-pulled", "key-never-0123456789");
    lapi.add_bouncer("pulling", "key-pulling-0123456789");
    lapi.add_bouncer("stale", "key-stale-0123456789");
    // What a pull writes on 1.4.6 (type/version from the User-Agent, last_pull), done behind its back.
    let conn = lapi.sql();
    conn.execute(
        "UPDATE bouncers SET type = 'crowdsec-custom-bouncer', version = '-', ip_address = '127.0.0.1' WHERE name != 'never-pulled'",
        [],
    )
    .unwrap();
    conn.execute(
        "UPDATE bouncers SET last_pull = strftime('%Y-%m-%d %H:%M:%f+00:00','now','-25 hours') WHERE name = 'stale'",
        [],
    )
    .unwrap();
    drop(conn);
    let hashes: Vec<String> = lapi
        .sql()
        .prepare("SELECT api_key FROM bouncers")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(hashes.len(), 3);

    let cscli = part("cscli");
    let config = lapi.config.display().to_string();
    let snap = run(
        &[
            cscli.to_str().unwrap(),
            "-c",
            &config,
            "bouncers",
            "list",
            "-o",
            "json",
        ],
        Duration::from_secs(20),
    )
    .unwrap();
    assert_eq!(snap.bouncers.len(), 3);
    assert_eq!(snap.schema, "1.4");
    assert_eq!(snap.bad_rows, 0);
    let never = find(&snap, "never-pulled");
    assert_eq!(
        never.last_pull,
        LastPull::Never,
        "1.4.6: type empty = never pulled"
    );
    assert_eq!(never.registered_at, None, "1.4.6 rewrites created_at");
    let stale = find(&snap, "stale");
    assert_eq!(stale.bouncer_type(), "crowdsec-custom-bouncer");
    assert_eq!(stale.version(), "-");
    assert_eq!(stale.ip_address(), "127.0.0.1");
    assert_eq!(stale.auth_type, "api-key");
    assert_eq!(stale.revoked, "false");
    assert_eq!(stale.os(), "");
    assert_eq!(stale.auto_created, "");
    let now = crowdsec_bouncer_exporter::values::time::now();
    let age = stale.age_seconds(now).unwrap();
    assert!((age - 25.0 * 3600.0).abs() < 60.0, "age {age}");

    // The same rows read from the database give the same timestamps.
    let db = SqliteDb::new(&lapi.db, Duration::from_secs(2))
        .read_blocking()
        .unwrap();
    for b in &db.bouncers {
        let c = find(&snap, b.name());
        match (b.last_pull, c.last_pull) {
            (LastPull::At(x), LastPull::At(y)) => assert!((x - y).abs() < 1e-3, "{}", b.name()),
            (x, y) => assert_eq!(x, y, "{}", b.name()),
        }
    }
    // The api_key hashes cscli prints are never kept.
    let debug = format!("{snap:?}");
    for h in &hashes {
        assert!(!debug.contains(h.as_str()));
    }
}

#[test]
fn recorded_1_7_output() {
    let fixture = Path::new(FIXTURES).join("cscli-1.7-bouncers-list.json");
    let snap = run(&["cat", fixture.to_str().unwrap()], Duration::from_secs(5)).unwrap();
    assert_eq!(snap.schema, "1.6.4+");
    assert_eq!(snap.bouncers.len(), 3);
    let never = find(&snap, "nginx-frontend");
    assert_eq!(never.last_pull, LastPull::Never);
    assert_eq!(
        never.registered_at,
        parse_timestamp("2025-11-10T14:02:11.401733052Z"),
        "1.6+: created_at is the registration time"
    );
    assert_eq!(never.os(), "", "`?` means unknown");
    assert_eq!(never.auto_created, "false");
    let fw = find(&snap, "cs-firewall-bouncer@1.2.3.4");
    assert_eq!(fw.base_name(), "cs-firewall-bouncer");
    assert_eq!(fw.os(), "debian/12");
    assert_eq!(fw.auto_created, "true");
    assert_eq!(
        fw.last_pull,
        LastPull::At(parse_timestamp("2025-11-12T09:41:50.003817226Z").unwrap())
    );
    assert_eq!(find(&snap, "haproxy-spoa@10.0.5.21").auth_type, "tls");
}

#[test]
fn recorded_1_6_3_output_and_stderr_noise() {
    // 1.6.3: `os` but no `auto_created` yet; featureflags when the bouncer sent some; a warning on stderr.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.json");
    std::fs::write(
        &file,
        r#"[{"created_at":"2024-09-01T10:00:00Z","updated_at":"2024-09-02T10:00:00Z","name":"fw","revoked":false,
"ip_address":"10.1.1.1","type":"crowdsec-firewall-bouncer","version":"v0.0.31","last_pull":"2024-09-02T10:00:00.5Z",
"auth_type":"api-key","os":"linux/6.1","featureflags":["re2_grok_support"]},
{"created_at":"2024-09-01T10:00:00Z","updated_at":"2024-09-01T10:00:00Z","name":"new","revoked":false,
"ip_address":"","type":"","version":"","last_pull":null,"auth_type":"api-key","os":"?"}]"#,
    )
    .unwrap();
    let snap = run_sh(
        &format!(
            "echo 'level=warning msg=\"You are using sqlite without WAL\"' >&2; cat '{}'",
            file.display()
        ),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(snap.schema, "1.6.3+");
    let fw = find(&snap, "fw");
    assert_eq!(fw.os(), "linux/6.1");
    assert_eq!(fw.auto_created, "");
    assert_eq!(fw.last_pull, LastPull::At(1_725_271_200.5));
    let new = find(&snap, "new");
    assert_eq!(new.last_pull, LastPull::Never);
    assert_eq!(new.age_seconds(1_725_184_800.0 + 60.0), Some(60.0));
}

#[test]
fn a_hanging_command_is_killed_and_reaped() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let started = Instant::now();
    let err = run_sh(
        &format!("echo $$ > '{}'; exec sleep 30", pidfile.display()),
        Duration::from_millis(500),
    )
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.reason, "timeout", "{err}");
    assert!(err.message.contains("killed"), "{err}");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    // Neither running nor a zombie: the process is gone from /proc.
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "child {pid} still exists"
    );
}

/// Pids of running `sleep <secs>` processes.
fn sleeps(secs: &str) -> std::collections::BTreeSet<u32> {
    let cmdline = format!("sleep\0{secs}\0").into_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == cmdline))
        .collect()
}

/// Issue 23 row 6, its exact input: the shell exits at once but its background `sleep` holds stdout open, so the
/// read times out. Before, only `sh` was killed and one `sleep 100` was orphaned per read; now the command's whole
/// process group is killed.
#[test]
fn a_timeout_kills_the_whole_process_group() {
    let argv = split_command("sh -c 'sleep 100 & echo ['").unwrap();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let before = sleeps("100");
    let started = Instant::now();
    let err = run(&argv, Duration::from_secs(2)).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_eq!(err.reason, "timeout", "{err}");
    // SIGKILL is delivered at once, but the orphan is reaped by init: give it a moment to leave /proc.
    let deadline = Instant::now() + Duration::from_secs(3);
    let left = loop {
        let left: Vec<u32> = sleeps("100").difference(&before).copied().collect();
        if left.is_empty() || Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        left.is_empty(),
        "processes of the command's group remain: {left:?}"
    );
}

/// The read dropped before its own timeout (a scrape's deadline, shutdown): the group dies with it.
#[test]
fn a_dropped_read_kills_the_whole_process_group() {
    // `sleep 101`: not the other test's `sleep 100`, which may run at the same time.
    let argv = split_command("sh -c 'sleep 101 & echo ['").unwrap();
    let before = sleeps("101");
    let source = CscliSource::new(argv, Duration::from_secs(60));
    let dropped = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { tokio::time::timeout(Duration::from_millis(700), source.read()).await });
    assert!(dropped.is_err(), "the outer deadline ended the read");
    let deadline = Instant::now() + Duration::from_secs(3);
    let left = loop {
        let left: Vec<u32> = sleeps("101").difference(&before).copied().collect();
        if left.is_empty() || Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        left.is_empty(),
        "processes of the dropped command's group remain: {left:?}"
    );
}

#[test]
fn a_failing_command_is_an_error_without_its_output() {
    let err = run_sh(
        "echo '[{\"name\":\"x\",\"api_key\":\"c0ffee-hash-secret\"}]'; echo 'token=hunter2' >&2; exit 3",
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert_eq!(err.reason, "exit", "{err}");
    assert!(err.message.contains("exit status: 3"), "{err}");
    assert!(!err.message.contains("c0ffee"), "{err}");
    assert!(!err.message.contains("hunter2"), "{err}");

    let err = run(&["/nonexistent/cscli", "bouncers"], Duration::from_secs(5)).unwrap_err();
    assert_eq!(err.reason, "spawn", "{err}");
}

#[test]
fn garbage_is_a_parse_error_that_does_not_quote_it() {
    for out in [
        "level=fatal msg=\"cannot open hunter2\"",
        "[{\"name\": \"hunter2\", \"revoked\": \"hunter2\"}]",
        "{\"name\": \"hunter2\"}",
        "[{\"name\": \"x\"",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out");
        std::fs::write(&file, out).unwrap();
        let err = run(&["cat", file.to_str().unwrap()], Duration::from_secs(5)).unwrap_err();
        assert_eq!(err.reason, "parse", "{out}: {err}");
        assert!(!err.message.contains("hunter2"), "{err}");
    }
}

#[test]
fn the_exporter_serves_a_cscli_lapi_with_source_cscli() {
    let fixture = Path::new(FIXTURES).join("cscli-1.7-bouncers-list.json");
    let settings = {
        let cat = split_command(&format!("cat '{}'", fixture.display())).unwrap();
        let mut s = Settings::single_lapi("container", LapiDbLocation::Cscli(cat));
        s.web.max_scrape_wait = Duration::from_secs(5);
        s
    };
    let srv = start_in_process(settings);
    let (status, _, body) = http(srv.addr, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    let samples = parse_samples(&body);
    assert_eq!(
        value(
            &samples,
            "crowdsec_exporter_source_up",
            &[("source", "cscli"), ("name", "container")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "crowdsec_bouncer_last_pull_timestamp_seconds",
            &[
                ("lapi", "container"),
                ("bouncer", "cs-firewall-bouncer@1.2.3.4")
            ]
        ),
        parse_timestamp("2025-11-12T09:41:50.003817226Z")
    );
    assert_eq!(
        value(
            &samples,
            "crowdsec_bouncer_info",
            &[
                ("lapi", "container"),
                ("bouncer", "haproxy-spoa@10.0.5.21"),
                ("os", "ubuntu/24.04")
            ]
        ),
        Some(1.0)
    );
}

/// Field case R2-01 (cscli JSON of LAPI 1.7.0, IP churn; /work/shared/field-cases.md), served by the exporter.
#[test]
fn ip_churn_chained_names_offsets_and_odd_names_through_cscli() {
    let fixture = Path::new(FIXTURES).join("cscli-r2-01-ip-churn.json");
    let settings = {
        let cat = split_command(&format!("cat '{}'", fixture.display())).unwrap();
        let mut s = Settings::single_lapi("docker", LapiDbLocation::Cscli(cat));
        s.web.max_scrape_wait = Duration::from_secs(5);
        s
    };
    let srv = start_in_process(settings);
    let (status, _, body) = http(srv.addr, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    let samples = parse_samples(&body);
    // One series per row, the raw name byte for byte, and the base as LAPI's baseBouncerName makes it.
    let mut info: Vec<(String, String)> = samples
        .iter()
        .filter(|s| s.name == "crowdsec_bouncer_info")
        .map(|s| {
            (
                s.labels["bouncer"].clone(),
                s.labels["bouncer_base"].clone(),
            )
        })
        .collect();
    info.sort();
    let mut want: Vec<(String, String)> = [
        ("caddy@2001:db8::15", "caddy"),
        ("envoy", "envoy"),
        ("envoy@192.0.2.147", "envoy"),
        ("envoy@192.0.2.147@192.0.2.179", "envoy"),
        ("envoy@192.0.2.147@192.0.2.242", "envoy"),
        ("lab \"pi\"\\01", "lab \"pi\"\\01"),
        ("ops@example.com", "ops@example.com"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    want.sort();
    assert_eq!(info, want, "seven distinct series");
    assert!(
        body.contains(r#"bouncer="lab \"pi\"\\01""#),
        "quote and backslash exposition-escaped"
    );
    let ts = |bouncer: &str| {
        value(
            &samples,
            "crowdsec_bouncer_last_pull_timestamp_seconds",
            &[("lapi", "docker"), ("bouncer", bouncer)],
        )
    };
    // `+11:00` offsets are instants: envoy pulled at 11:58:10Z, not 11 h later.
    assert_eq!(ts("envoy"), parse_timestamp("2026-07-25T11:58:10Z"));
    assert_eq!(
        ts("envoy@192.0.2.147"),
        parse_timestamp("2026-07-20T08:50:52Z")
    );
    assert_eq!(ts("envoy@192.0.2.147@192.0.2.242"), None);
    assert_eq!(
        value(
            &samples,
            "crowdsec_bouncer_pulled",
            &[("bouncer", "envoy@192.0.2.147@192.0.2.242")]
        ),
        Some(0.0)
    );
}

/// Go's zero time is how cscli prints an unset time: never pulled, registration unknown (not a pull in year 1).
#[test]
fn go_zero_time_in_cscli_json_is_never_pulled() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.json");
    std::fs::write(
        &file,
        r#"[{"created_at":"0001-01-01T00:00:00Z","updated_at":"2026-07-25T11:00:00Z","name":"zero","revoked":false,
"ip_address":"192.0.2.5","type":"crowdsec-firewall-bouncer","version":"v0.0.31","last_pull":"0001-01-01T00:00:00Z",
"auth_type":"api-key","os":"?","auto_created":false}]"#,
    )
    .unwrap();
    let snap = run(&["cat", file.to_str().unwrap()], Duration::from_secs(5)).unwrap();
    let zero = find(&snap, "zero");
    assert_eq!(zero.last_pull, LastPull::Never);
    assert_eq!(zero.registered_at, None, "an unset created_at is unknown");
    assert_eq!(zero.last_pull.pulled(), Some(0.0));
    assert_eq!(zero.age_seconds(1_784_980_800.0), None);
    assert_eq!(snap.bad_rows, 0);
}

/// The reader's cap holds: output past 64 MiB is refused (reason `parse`) and the command is killed, without
/// buffering the rest; output that never ends does not either.
#[test]
fn output_past_the_cap_is_refused() {
    let err = run_sh("head -c 70000000 /dev/zero", Duration::from_secs(20)).unwrap_err();
    assert_eq!(err.reason, "parse", "{err}");
    assert!(err.message.contains("printed more than"), "{err}");
    let err = run_sh("cat /dev/zero", Duration::from_secs(20)).unwrap_err();
    assert!(err.message.contains("printed more than"), "{err}");
}
