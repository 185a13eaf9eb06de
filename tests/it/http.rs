//! The HTTP side, in process: landing page, formats, status codes, fresh series per scrape, a broken source.

use crate::common;

use std::time::Duration;

use common::*;
use crowdsec_bouncer_exporter::settings::{LapiDbLocation, Settings};

type Running = InProcess;

fn start(db: LapiDbLocation, cache: Duration) -> Running {
    let settings = {
        let mut s = Settings::single_lapi("edge-1", db);
        s.web.max_scrape_wait = Duration::from_secs(5);
        s.lapis[0].cache_interval = cache;
        s.lapis[0].read_timeout = Duration::from_secs(2);
        s
    };
    start_in_process(settings)
}

fn seeded_db(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("crowdsec.db");
    let conn = db_1_7(&path);
    let sql = "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type) VALUES (?1, ?1, ?2, 'deadbeefhash', 0, '10.0.0.1', ?3, 'v1', ?4, 'api-key')";
    conn.execute(
        sql,
        rusqlite::params![ts(0), "fw \"main\"", "crowdsec-firewall-bouncer", ts(60)],
    )
    .unwrap();
    conn.execute(
        sql,
        rusqlite::params![ts(0), "never", None::<String>, None::<String>],
    )
    .unwrap();
    path
}

#[test]
fn serves_landing_page_health_and_status_codes() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(LapiDbLocation::Sqlite(seeded_db(&dir)), Duration::ZERO);
    let (status, headers, body) = http(srv.addr, "GET", "/", &[]);
    assert_eq!(status, 200);
    assert!(headers["content-type"].starts_with("text/html"));
    assert!(body.contains("href=\"/metrics\""), "{body}");
    assert_eq!(http(srv.addr, "GET", "/-/healthy", &[]).0, 200);
    assert_eq!(http(srv.addr, "GET", "/nope", &[]).0, 404);
    let (status, headers, _) = http(srv.addr, "POST", "/metrics", &[("Content-Length", "0")]);
    assert_eq!(status, 405);
    assert_eq!(headers["allow"], "GET, HEAD");
    let (status, _, body) = http(srv.addr, "HEAD", "/metrics", &[]);
    assert_eq!((status, body.as_str()), (200, ""));
}

#[test]
fn classic_and_openmetrics_by_accept() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(LapiDbLocation::Sqlite(seeded_db(&dir)), Duration::ZERO);
    let (_, h, classic) = http(srv.addr, "GET", "/metrics", &[]);
    assert_eq!(
        h["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(!classic.contains("# EOF"));
    assert!(classic.contains("# TYPE crowdsec_bouncer_last_pull_age_seconds gauge"));
    let (_, h, om) = http(
        srv.addr,
        "GET",
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )],
    );
    assert!(h["content-type"].starts_with("application/openmetrics-text"));
    assert!(om.ends_with("# EOF\n"));
    for body in [&classic, &om] {
        let s = parse_samples(body);
        let fw = [("lapi", "edge-1"), ("bouncer", "fw \"main\"")];
        assert_eq!(
            value(&s, "crowdsec_bouncer_last_pull_timestamp_seconds", &fw),
            Some(BASE_TS + 60.0)
        );
        assert_eq!(value(&s, "crowdsec_bouncer_pulled", &fw), Some(1.0));
        let age = value(&s, "crowdsec_bouncer_last_pull_age_seconds", &fw).unwrap();
        assert!(age > 1e7, "age since 2024: {age}");
        let never = [("lapi", "edge-1"), ("bouncer", "never")];
        assert_eq!(value(&s, "crowdsec_bouncer_pulled", &never), Some(0.0));
        assert_eq!(
            value(&s, "crowdsec_bouncer_last_pull_timestamp_seconds", &never),
            None
        );
        assert!(
            value(&s, "crowdsec_bouncer_last_pull_age_seconds", &never).unwrap() > 1e7,
            "since registration on 1.7"
        );
        assert_eq!(
            value(
                &s,
                "crowdsec_bouncer_info",
                &[
                    ("bouncer", "fw \"main\""),
                    ("bouncer_type", "crowdsec-firewall-bouncer"),
                    ("bouncer_base", "fw \"main\""),
                    ("auto_created", "false"),
                    ("os", "")
                ]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(&s, "crowdsec_bouncers", &[("lapi", "edge-1")]),
            Some(2.0)
        );
        assert_eq!(
            value(
                &s,
                "crowdsec_exporter_source_up",
                &[("source", "lapi_db"), ("name", "edge-1")]
            ),
            Some(1.0)
        );
        assert_eq!(
            s.iter()
                .filter(|x| x.name == "crowdsec_exporter_build_info")
                .count(),
            1
        );
        assert!(
            !body.contains("deadbeefhash"),
            "the api_key hash never leaves the database"
        );
    }
}

#[test]
fn a_deleted_bouncer_disappears_and_a_broken_database_keeps_the_server_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = seeded_db(&dir);
    let srv = start(LapiDbLocation::Sqlite(path.clone()), Duration::ZERO);
    let s = parse_samples(&http(srv.addr, "GET", "/metrics", &[]).2);
    assert!(value(&s, "crowdsec_bouncer_pulled", &[("bouncer", "never")]).is_some());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM bouncers WHERE name = 'never'", [])
        .unwrap();
    let s = parse_samples(&http(srv.addr, "GET", "/metrics", &[]).2);
    assert!(
        s.iter()
            .all(|x| x.labels.get("bouncer").map(String::as_str) != Some("never")),
        "deleted bouncer gone"
    );
    assert_eq!(
        value(&s, "crowdsec_bouncers", &[("lapi", "edge-1")]),
        Some(1.0)
    );

    // The database becomes garbage: the source is down with a reason, the last good data stays, the server serves.
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    let (status, _, body) = http(srv.addr, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    let s = parse_samples(&body);
    assert_eq!(
        value(&s, "crowdsec_exporter_source_up", &[("source", "lapi_db")]),
        Some(0.0)
    );
    assert_eq!(
        value(
            &s,
            "crowdsec_exporter_source_errors_total",
            &[
                ("source", "lapi_db"),
                ("name", "edge-1"),
                ("reason", "not_sqlite")
            ]
        ),
        Some(1.0)
    );
    assert!(value(
        &s,
        "crowdsec_exporter_source_last_success_timestamp_seconds",
        &[("source", "lapi_db")]
    )
    .is_some());
    assert_eq!(
        value(&s, "crowdsec_bouncer_pulled", &[("bouncer", "fw \"main\"")]),
        Some(1.0),
        "last good data kept"
    );
}

#[test]
fn missing_crowdsec_config_is_a_source_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(
        LapiDbLocation::FromCrowdsecConfig(dir.path().join("config.yaml")),
        Duration::ZERO,
    );
    let (status, _, body) = http(srv.addr, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    let s = parse_samples(&body);
    assert_eq!(
        value(&s, "crowdsec_exporter_source_up", &[("source", "lapi_db")]),
        Some(0.0)
    );
    assert_eq!(
        value(
            &s,
            "crowdsec_exporter_source_errors_total",
            &[("source", "lapi_db"), ("reason", "config")]
        ),
        Some(1.0)
    );
    // CrowdSec gets installed afterwards: the exporter finds it without a restart.
    let db = seeded_db(&dir);
    std::fs::write(
        dir.path().join("config.yaml"),
        format!("db_config:\n  type: sqlite\n  db_path: {}\n", db.display()),
    )
    .unwrap();
    let s = parse_samples(&http(srv.addr, "GET", "/metrics", &[]).2);
    assert_eq!(
        value(&s, "crowdsec_exporter_source_up", &[("source", "lapi_db")]),
        Some(1.0)
    );
    assert_eq!(
        value(&s, "crowdsec_bouncers", &[("lapi", "edge-1")]),
        Some(2.0)
    );
}

#[test]
fn concurrent_scrapes_within_the_cache_interval_share_one_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = seeded_db(&dir);
    let srv = start(
        LapiDbLocation::Sqlite(path.clone()),
        Duration::from_secs(60),
    );
    let first = parse_samples(&http(srv.addr, "GET", "/metrics", &[]).2);
    let d1 = value(
        &first,
        "crowdsec_exporter_source_last_success_timestamp_seconds",
        &[("source", "lapi_db")],
    );
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM bouncers", [])
        .unwrap();
    let addr = srv.addr;
    let threads: Vec<_> = (0..16)
        .map(|_| std::thread::spawn(move || http(addr, "GET", "/metrics", &[])))
        .collect();
    for t in threads {
        let (status, _, body) = t.join().unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            value(
                &parse_samples(&body),
                "crowdsec_bouncers",
                &[("lapi", "edge-1")]
            ),
            Some(2.0)
        );
    }
    let again = parse_samples(&http(srv.addr, "GET", "/metrics", &[]).2);
    assert_eq!(
        value(&again, "crowdsec_bouncers", &[("lapi", "edge-1")]),
        Some(2.0),
        "served from cache"
    );
    assert_eq!(
        value(
            &again,
            "crowdsec_exporter_source_last_success_timestamp_seconds",
            &[("source", "lapi_db")]
        ),
        d1
    );
}

/// The `/` page (issue 13): one row per configured source with its state and reason, the same reading a scrape
/// gets, so the page and `crowdsec_exporter_source_up`/`_errors_total` agree; the message is HTML-escaped.
#[test]
fn landing_page_shows_each_source_state_and_reason_as_the_metrics_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config <&>.yaml");
    let srv = start(
        LapiDbLocation::FromCrowdsecConfig(config.clone()),
        Duration::ZERO,
    );
    let (status, _, page) = http(srv.addr, "GET", "/", &[]);
    assert_eq!(status, 200);
    let s = parse_samples(&http(srv.addr, "GET", "/metrics", &[]).2);
    assert_eq!(
        value(&s, "crowdsec_exporter_source_up", &[("source", "lapi_db")]),
        Some(0.0)
    );
    assert!(
        value(
            &s,
            "crowdsec_exporter_source_errors_total",
            &[("source", "lapi_db"), ("reason", "config")]
        )
        .is_some(),
        "{s:?}"
    );
    assert!(
        page.contains(
            "<tr><td>lapi_db</td><td>edge-1</td><td class=\"down\">down</td><td>config</td><td>"
        ),
        "{page}"
    );
    assert!(page.contains("config &lt;&amp;&gt;.yaml"), "{page}");
    assert!(!page.contains("config <&>.yaml"), "{page}");
    // No Service API key given: that source is absent from the page, not down.
    assert!(!page.contains("service_api"), "{page}");
    // Every registered source has its row, the active decisions' too (once forgotten there, issue 24).
    assert!(
        page.contains("<tr><td>lapi_decisions</td><td>edge-1</td>"),
        "{page}"
    );

    // CrowdSec appears: the next page says up, with no reason.
    let db = seeded_db(&dir);
    std::fs::write(
        &config,
        format!("db_config:\n  type: sqlite\n  db_path: {}\n", db.display()),
    )
    .unwrap();
    let page = http(srv.addr, "GET", "/", &[]).2;
    assert!(
        page.contains(
            "<tr><td>lapi_db</td><td>edge-1</td><td class=\"up\">up</td><td></td><td></td></tr>"
        ),
        "{page}"
    );
}

/// Checks on, no LAPI URL, CrowdSec's config at `crowdsec_config`.
fn with_checks(db: LapiDbLocation, crowdsec_config: std::path::PathBuf) -> Settings {
    let mut s = Settings::single_lapi("docker", db);
    s.web.max_scrape_wait = Duration::from_secs(5);
    s.set_group(Some(crowdsec_bouncer_exporter::settings::CheckSettings {
        config_dirs: Vec::new(),
        config_files: Vec::new(),
        lapi_url: None,
        crowdsec_config,
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
    }));
    s
}

fn series_of(samples: &[Sample], source: &str) -> Vec<String> {
    samples
        .iter()
        .filter(|s| s.labels.get("source").map(String::as_str) == Some(source))
        .map(|s| s.name.clone())
        .collect()
}

/// Only --lapi.db (or only --lapi.cscli-command) and no LAPI URL, as in a Docker deployment: LAPI reachability is
/// not configured, so `lapi_health` is absent (no source_up, no errors), not down with reason `config`; the
/// exporter says why and which setting enables it.
#[test]
fn lapi_health_without_a_url_is_absent_not_down() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(&dir);
    let no_config = dir.path().join("no-crowdsec/config.yaml");
    let cat = crowdsec_bouncer_exporter::sources::cscli::split_command("cat /dev/null").unwrap();
    for location in [
        LapiDbLocation::Sqlite(db.clone()),
        LapiDbLocation::Cscli(cat),
    ] {
        let settings = with_checks(location.clone(), no_config.clone());
        let exporter = crowdsec_bouncer_exporter::exporter::Exporter::new(&settings)
            .expect("the sources build");
        let skipped: Vec<_> = exporter
            .unmonitored()
            .iter()
            .filter(|u| u.source == "lapi_health")
            .collect();
        assert_eq!(skipped.len(), 1, "{location:?}");
        assert!(
            skipped[0]
                .why
                .contains("give --lapi.url or --crowdsec.config"),
            "{}",
            skipped[0].why
        );
        let srv = start_in_process(settings);
        let samples = parse_samples(&http(srv.addr, "GET", "/metrics", &[]).2);
        assert_eq!(series_of(&samples, "lapi_health"), Vec::<String>::new());
        assert_eq!(
            value(
                &samples,
                "crowdsec_exporter_source_up",
                &[("source", "bouncer_config")]
            ),
            Some(1.0)
        );
        assert_eq!(value(&samples, "crowdsec_lapi_up", &[]), None);
    }
    // CrowdSec's config names the LAPI: then it is watched, and a LAPI that does not answer is `crowdsec_lapi_up 0`
    // (the source itself works).
    let config = dir.path().join("config.yaml");
    let port = common::real::free_port();
    std::fs::write(
        &config,
        format!("api:\n  server:\n    listen_uri: 127.0.0.1:{port}\n"),
    )
    .unwrap();
    let srv = start_in_process(with_checks(LapiDbLocation::Sqlite(db), config));
    let samples = parse_samples(&http(srv.addr, "GET", "/metrics", &[]).2);
    assert_eq!(
        value(
            &samples,
            "crowdsec_exporter_source_up",
            &[("source", "lapi_health")]
        ),
        Some(1.0)
    );
    assert_eq!(value(&samples, "crowdsec_lapi_up", &[]), Some(0.0));
}

/// Where the database is found through CrowdSec's config, that config is the configuration: when it cannot be
/// read, `lapi_health` is down with reason `config`, like `lapi_db` (nothing is hidden).
#[test]
fn lapi_health_through_an_unreadable_crowdsec_config_in_use_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let srv = start_in_process(with_checks(
        LapiDbLocation::FromCrowdsecConfig(config.clone()),
        config,
    ));
    let samples = parse_samples(&http(srv.addr, "GET", "/metrics", &[]).2);
    for source in ["lapi_db", "lapi_health"] {
        assert_eq!(
            value(
                &samples,
                "crowdsec_exporter_source_errors_total",
                &[("source", source), ("reason", "config")]
            ),
            Some(1.0),
            "{source}"
        );
    }
}

/// At start-up the binary logs one line per source: what it watches and where it was found, or why not and
/// which flag enables it.
#[test]
fn start_up_logs_one_line_per_source() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(&dir);
    let log_dir = tempfile::tempdir().unwrap();
    let exporter = common::real::ExporterProc::start(
        &[
            "--lapi.db",
            db.to_str().unwrap(),
            "--crowdsec.config",
            dir.path().join("none.yaml").to_str().unwrap(),
            "--bouncers.config-dir",
            dir.path().to_str().unwrap(),
        ],
        log_dir.path(),
    );
    // The port opens before the sources are built (after the web config file is accepted): wait for the last
    // start-up line (the active decisions', the last source registered) rather than read a half-written log.
    common::real::wait_until("the start-up lines", Duration::from_secs(10), || {
        exporter.proc.log_text().contains("source=lapi_decisions")
    });
    let log = exporter.proc.log_text();
    let lines = |source: &str| {
        log.lines()
            .filter(|l| l.contains(&format!(" source={source} ")))
            .filter(|l| !l.contains("source read failed"))
            .count()
    };
    for want in [
        "msg=\"watching the LAPI's bouncers in its database\" source=lapi_db name=local",
        "found_in=--lapi.db",
        "msg=\"no LAPI URL: LAPI reachability is not monitored; give --lapi.url or --crowdsec.config",
        "msg=\"no Service API key: Blocklist-as-a-Service integrations are not monitored; give --service-api.key-file or CROWDSEC_SERVICE_API_KEY\"",
        "msg=\"checking bouncer configuration files",
    ] {
        assert!(log.contains(want), "{want:?} missing in:\n{log}");
    }
    for source in ["lapi_db", "lapi_health", "service_api", "bouncer_config"] {
        assert_eq!(lines(source), 1, "{source} in:\n{log}");
    }
}

/// The response's head (status line and headers, lower-case names) and raw body bytes.
fn http_bytes(
    addr: std::net::SocketAddr,
    headers: &[(&str, &str)],
) -> (std::collections::BTreeMap<String, String>, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (headers, raw[end + 4..].to_vec())
}

/// Issue 22: `/metrics` was never compressed (20.6 MB per scrape at 10,000 reporting bouncers). Asked with
/// `Accept-Encoding: gzip` (as Prometheus asks), it answers one gzip member (checked by a single-member decoder:
/// CRC and length) whose text is the plain body's, byte for byte, at most a fifth of its size; without the header,
/// the plain text. 2,000 bouncers, each with a usage report received while the exporter runs.
#[test]
fn gzip_when_asked_the_same_text_a_fifth_of_the_size() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let path = seeded_db(&dir);
    let srv = start_in_process({
        let mut s = Settings::single_lapi("edge-1", LapiDbLocation::Sqlite(path.clone()));
        s.lapis[0].cache_interval = Duration::from_secs(3);
        s.lapis[0].decisions_interval = Duration::from_secs(60);
        s
    });
    http_bytes(srv.addr, &[]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..2000 {
        conn.execute(
            "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type) VALUES (?1, ?1, ?2, 'hash', 0, '10.0.0.1', 'crowdsec-firewall-bouncer', 'v0.0.31', ?1, 'api-key')",
            rusqlite::params![ts(i), format!("fw-{i}")],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('RC', ?1, ?2, ?3)",
            rusqlite::params![
                format!("fw-{i}"),
                ts(i),
                format!(r#"{{"metrics":[{{"meta":{{"utc_now_timestamp":{i},"window_size_seconds":900}},"items":[{{"name":"dropped","unit":"byte","value":{i},"labels":{{"origin":"CAPI","ip_type":"ipv4"}}}},{{"name":"processed","unit":"packet","value":{},"labels":{{"ip_type":"ipv4"}}}}]}}]}}"#, i * 7)
            ],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    std::thread::sleep(Duration::from_millis(3100));
    let (_, warm) = http_bytes(srv.addr, &[]);
    assert!(String::from_utf8(warm)
        .unwrap()
        .contains("crowdsec_bouncer_dropped_bytes_total{lapi=\"edge-1\",bouncer=\"fw-1999\",origin=\"CAPI\",remediation=\"\"} 1999\n"));

    for accept in [
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        "text/plain",
    ] {
        // Plain and gzip'd scrapes of the same reading and second share one text; a new second or reading (the
        // cache is 3 s) between them is retried.
        let (plain, gz, decoded) = (0..5)
            .find_map(|_| {
                let (ph, plain) = http_bytes(srv.addr, &[("Accept", accept)]);
                let (gh, gz) =
                    http_bytes(srv.addr, &[("Accept", accept), ("Accept-Encoding", "gzip")]);
                assert_eq!(ph.get("content-encoding"), None);
                assert_eq!(gh["content-encoding"], "gzip");
                assert_eq!(gh["vary"], "Accept-Encoding");
                assert_eq!(gh["content-type"], ph["content-type"]);
                assert_eq!(gh["content-length"], gz.len().to_string());
                let mut decoded = Vec::new();
                flate2::read::GzDecoder::new(&gz[..])
                    .read_to_end(&mut decoded)
                    .expect("one valid gzip member");
                (decoded == plain).then_some((plain, gz, decoded))
            })
            .expect("the same text as the plain scrape");
        assert_eq!(decoded, plain);
        assert!(
            gz.len() * 5 <= plain.len(),
            "{} bytes gzip'd of {} plain",
            gz.len(),
            plain.len()
        );
    }
    let (h, _) = http_bytes(srv.addr, &[("Accept-Encoding", "gzip;q=0, identity")]);
    assert_eq!(h.get("content-encoding"), None, "q=0 refuses gzip");
}
