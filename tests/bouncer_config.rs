//! Bouncer configuration checks, table-driven: one file (and sometimes a `.local`, `.id`, symlink...) per case,
//! for every bouncer kind, good and broken, checked by the real `bouncer_config` source against a SQLite LAPI
//! database and a local `/health` endpoint that records every request it gets (none may carry a key).

mod common;
mod fake_service_api;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use crowdsec_bouncer_exporter::bouncer_config::checks::{key_hash, Check, FileReport, Status};
use crowdsec_bouncer_exporter::secret::Secret;
use crowdsec_bouncer_exporter::settings::LapiDbLocation;
use crowdsec_bouncer_exporter::sources::bouncer_config::BouncerConfigSource;
use crowdsec_bouncer_exporter::sources::lapi_db::LapiDbSource;

const GOOD: &str = "goodKey0123456789abcdefABCDEFgh";
const TLS_BOUNCER: &str = "tls-fw";

/// A `/health` endpoint on 127.0.0.1 that keeps every request's head.
struct Health {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

fn health_server() -> Health {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let ok = head.starts_with("GET /health ");
            seen.lock().unwrap().push(head);
            let body = if ok { r#"{"status":"up"}"# } else { "404" };
            let status = if ok { "200 OK" } else { "404 Not Found" };
            let _ = write!(
                &stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Health { port, requests }
}

/// What a case writes next to its file.
#[derive(Clone, Copy)]
enum Extra {
    None,
    Local(&'static str),
    Id(&'static str),
    Mode(u32),
    /// 100 MB (sparse): too large to be a configuration.
    Huge,
    /// The file is a symlink to itself through another.
    SymlinkLoop,
    /// The file is a symlink to nothing.
    Dangling,
    /// The file is a symlink to a folder.
    ToDir,
    /// TLS files: cert and key written next to it (`@DIR@` in the text).
    TlsFiles,
}

struct Case {
    name: &'static str,
    file: &'static str,
    /// `@PORT@` = the health server, `@GOOD@` = the registered key, `@DIR@` = the case's folder.
    text: &'static [u8],
    extra: Extra,
    valid: bool,
    bouncer: &'static str,
    expect: &'static [(Check, Status)],
}

use Check::*;
use Status::*;

const GO_OK: &[(Check, Status)] = &[
    (Readable, Pass),
    (Parses, Pass),
    (ApiUrl, Pass),
    (ApiKey, Pass),
    (KeyRegistered, Pass),
    (LapiReachable, Pass),
    (Permissions, Pass),
];

fn cases() -> Vec<Case> {
    vec![
        Case { name: "go good", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\nupdate_frequency: 10s\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK },
        Case { name: "go without trailing slash is fine (the bouncer adds it)", file: "crowdsec-custom-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@\napi_key: '@GOOD@'\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK },
        Case { name: "go env var defined", file: "crowdsec-custom-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: ${CSBE_TEST_KEY}\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK },
        Case { name: "go env var undefined stays a placeholder", file: "crowdsec-custom-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: ${CSBE_TEST_UNSET}\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiKey, Fail)] },
        Case { name: "go placeholder key", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: <API_KEY>\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiUrl, Pass), (ApiKey, Fail), (LapiReachable, Pass)] },
        Case { name: "go unknown key", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: notRegistered0123456789abcdef\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiKey, Pass), (KeyRegistered, Fail), (LapiReachable, Pass)] },
        Case { name: "go missing url", file: "crowdsec-firewall-bouncer.yaml", text: b"api_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail), (KeyRegistered, Pass)] },
        Case { name: "go ftp url", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: ftp://127.0.0.1:@PORT@/\napi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail)] },
        Case { name: "go url without host", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: 'http://:8080/'\napi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail)] },
        Case { name: "go relative url", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: 127.0.0.1:8080\napi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail)] },
        Case { name: "go LAPI not listening", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:1/\napi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Pass), (KeyRegistered, Pass), (LapiReachable, Fail)] },
        Case { name: "go broken yaml", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: [http://x\napi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Readable, Pass), (Parses, Fail)] },
        Case { name: "go not a mapping", file: "crowdsec-firewall-bouncer.yaml", text: b"- a\n- b\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail)] },
        Case { name: "binary file", file: "crowdsec-firewall-bouncer.yaml", text: b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe", extra: Extra::None, valid: false, bouncer: "", expect: &[(Readable, Pass), (Parses, Fail)] },
        Case { name: "invalid utf-8", file: "crowdsec-nginx-bouncer.conf", text: b"API_URL=http://\xff\xfe\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail)] },
        Case { name: "empty file", file: "crowdsec-firewall-bouncer.yaml", text: b"", extra: Extra::None, valid: false, bouncer: "", expect: &[(Readable, Pass), (Parses, Fail)] },
        Case { name: "empty lua file", file: "crowdsec-nginx-bouncer.conf", text: b"\n\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail)] },
        Case { name: "100 MB file", file: "crowdsec-firewall-bouncer.yaml", text: b"", extra: Extra::Huge, valid: false, bouncer: "", expect: &[(Readable, Fail)] },
        Case { name: "symlink loop", file: "crowdsec-firewall-bouncer.yaml", text: b"", extra: Extra::SymlinkLoop, valid: false, bouncer: "", expect: &[(Readable, Fail)] },
        Case { name: "dangling symlink", file: "crowdsec-firewall-bouncer.yaml", text: b"", extra: Extra::Dangling, valid: false, bouncer: "", expect: &[(Readable, Fail)] },
        Case { name: "symlink to a folder", file: "crowdsec-firewall-bouncer.yaml", text: b"", extra: Extra::ToDir, valid: false, bouncer: "", expect: &[(Readable, Fail)] },
        Case { name: "world-readable key is a warning, still valid", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\n", extra: Extra::Mode(0o644), valid: true, bouncer: "fw", expect: &[(KeyRegistered, Pass), (Permissions, Warn)] },
        Case { name: ".local fixes a placeholder", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: ${API_KEY}\n", extra: Extra::Local("api_key: @GOOD@\n"), valid: true, bouncer: "fw", expect: GO_OK },
        Case { name: ".local breaks the url", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\n", extra: Extra::Local("api_url: ftp://nowhere/\n"), valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail), (KeyRegistered, Pass)] },
        Case { name: ".local with broken yaml", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\n", extra: Extra::Local("api_key: [\n"), valid: false, bouncer: "", expect: &[(Parses, Fail)] },
        Case { name: "go TLS files present, named by .id", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\ncert_path: @DIR@/bouncer.pem\nkey_path: @DIR@/bouncer-key.pem\n", extra: Extra::TlsFiles, valid: true, bouncer: TLS_BOUNCER, expect: &[(ApiUrl, Pass), (TlsFiles, Pass)] },
        Case { name: "go TLS files missing", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\ncert_path: @DIR@/nope.pem\nkey_path: @DIR@/nope-key.pem\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(TlsFiles, Fail)] },
        Case { name: ".id names a deleted bouncer", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\ncert_path: @DIR@/bouncer.pem\nkey_path: @DIR@/bouncer-key.pem\n", extra: Extra::Id("gone"), valid: false, bouncer: "", expect: &[(TlsFiles, Fail)] },
        Case { name: "blocklist integration URL: no LAPI key check, no request", file: "crowdsec-custom-bouncer.yaml", text: b"api_url: https://admin.api.crowdsec.net/v1/integrations/0123456789abcdef01234567/\napi_key: someIntegrationKey123\n", extra: Extra::Mode(0o600), valid: true, bouncer: "", expect: &[(ApiUrl, Pass), (ApiKey, Pass), (Permissions, Pass)] },
        Case { name: "cloudflare good", file: "crowdsec-cloudflare-bouncer.yaml", text: b"crowdsec_lapi_url: http://127.0.0.1:@PORT@/\ncrowdsec_lapi_key: @GOOD@\ncrowdsec_update_frequency: 10s\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK },
        Case { name: "cloudflare missing key", file: "crowdsec-cloudflare-bouncer.yaml", text: b"crowdsec_lapi_url: http://127.0.0.1:@PORT@/\ncrowdsec_lapi_key: ''\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiUrl, Pass), (ApiKey, Fail)] },
        Case { name: "blocklist mirror good", file: "crowdsec-blocklist-mirror.yaml", text: b"crowdsec_config:\n  lapi_url: http://127.0.0.1:@PORT@/\n  lapi_key: @GOOD@\n  update_frequency: 10s\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK },
        Case { name: "cloudflare worker placeholder", file: "crowdsec-cloudflare-worker-bouncer.yaml", text: b"crowdsec_config:\n  lapi_url: http://127.0.0.1:@PORT@/\n  lapi_key: ${API_KEY}\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiKey, Fail)] },
        Case { name: "nginx good", file: "crowdsec-nginx-bouncer.conf", text: b"# comment\nAPI_URL=http://127.0.0.1:@PORT@\nAPI_KEY=@GOOD@\nMODE=stream\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK },
        Case { name: "nginx line without = stops the bouncer's reading", file: "crowdsec-nginx-bouncer.conf", text: b"API_URL=http://127.0.0.1:@PORT@\nthis line breaks it\nAPI_KEY=@GOOD@\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail), (ApiUrl, Pass), (ApiKey, Fail)] },
        Case { name: "nginx trailing slash warns", file: "crowdsec-nginx-bouncer.conf", text: b"API_URL=http://127.0.0.1:@PORT@/\nAPI_KEY=@GOOD@\n", extra: Extra::None, valid: true, bouncer: "fw", expect: &[(ApiUrl, Warn), (KeyRegistered, Pass)] },
        Case { name: "openresty: no env expansion in Lua files", file: "crowdsec-openresty-bouncer.conf", text: b"API_URL=http://127.0.0.1:@PORT@\nAPI_KEY=${CSBE_TEST_KEY}\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiKey, Fail)] },
        Case { name: "nginx missing url", file: "crowdsec-nginx-bouncer.conf", text: b"API_KEY=@GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail), (KeyRegistered, Pass)] },
        Case { name: "haproxy: URL lives in haproxy.cfg", file: "crowdsec-haproxy-bouncer.conf", text: b"API_KEY=@GOOD@\nUPDATE_FREQUENCY=10\n", extra: Extra::None, valid: true, bouncer: "fw", expect: &[(ApiKey, Pass), (KeyRegistered, Pass)] },
        Case { name: "apache good", file: "crowdsec-apache2-bouncer.conf", text: b"CrowdsecURL http://127.0.0.1:@PORT@\nCrowdsecAPIKey @GOOD@\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK },
        Case { name: "apache trailing slash bites", file: "crowdsec-apache2-bouncer.conf", text: b"CrowdsecURL \"http://127.0.0.1:@PORT@/\"\nCrowdsecAPIKey @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail), (KeyRegistered, Pass)] },
        Case { name: "apache placeholder", file: "crowdsec-apache2-bouncer.conf", text: b"CrowdsecURL http://127.0.0.1:@PORT@\ncrowdsecapikey <API_KEY>\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiKey, Fail)] },
        Case { name: "apache missing url", file: "crowdsec-apache2-bouncer.conf", text: b"CrowdsecAPIKey @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail)] },
    ]
}

fn write_case(dir: &Path, case: &Case, port: u16) -> PathBuf {
    let path = dir.join(case.file);
    let fill = |t: &[u8]| -> Vec<u8> {
        let t = String::from_utf8_lossy(t)
            .replace("@PORT@", &port.to_string())
            .replace("@GOOD@", GOOD)
            .replace("@DIR@", &dir.display().to_string());
        if std::str::from_utf8(case.text).is_ok() {
            t.into_bytes()
        } else {
            case.text.to_vec()
        }
    };
    match case.extra {
        Extra::SymlinkLoop => {
            std::os::unix::fs::symlink(dir.join("other.yaml"), &path).unwrap();
            std::os::unix::fs::symlink(&path, dir.join("other.yaml")).unwrap();
            return path;
        }
        Extra::Dangling => {
            std::os::unix::fs::symlink(dir.join("gone"), &path).unwrap();
            return path;
        }
        Extra::ToDir => {
            std::fs::create_dir(dir.join("a-folder")).unwrap();
            std::os::unix::fs::symlink(dir.join("a-folder"), &path).unwrap();
            return path;
        }
        Extra::Huge => {
            let f = std::fs::File::create(&path).unwrap();
            f.set_len(100 * 1024 * 1024).unwrap();
            return path;
        }
        _ => {}
    }
    std::fs::write(&path, fill(case.text)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    match case.extra {
        Extra::Local(t) => {
            let local = dir.join(format!("{}.local", case.file));
            std::fs::write(&local, fill(t.as_bytes())).unwrap();
            std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Extra::Id(name) => std::fs::write(dir.join(format!("{}.id", case.file)), name).unwrap(),
        Extra::Mode(m) => {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap()
        }
        Extra::TlsFiles => {
            std::fs::write(dir.join("bouncer.pem"), "cert").unwrap();
            std::fs::write(dir.join("bouncer-key.pem"), "key").unwrap();
            std::fs::write(
                dir.join(format!("{}.id", case.file)),
                format!("{TLS_BOUNCER}\n"),
            )
            .unwrap();
        }
        _ => {}
    }
    path
}

fn lapi_db(dir: &Path) -> PathBuf {
    let path = dir.join("crowdsec.db");
    let conn = db_1_7(&path);
    let now = ts(0);
    for (name, key, auth) in [
        (
            "fw",
            key_hash(&Secret::new(GOOD)).expose().to_owned(),
            "api-key",
        ),
        (TLS_BOUNCER, String::new(), "tls"),
        // A TLS row whose (empty) key must never match anything.
        (
            "other",
            key_hash(&Secret::new("otherKey")).expose().to_owned(),
            "api-key",
        ),
    ] {
        conn.execute(
            "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, auth_type) VALUES (?1, ?1, ?2, ?3, 0, ?4)",
            rusqlite::params![now, name, key, auth],
        )
        .unwrap();
    }
    path
}

fn check_all(dirs: Vec<PathBuf>, files: Vec<PathBuf>, db: &Path) -> Vec<FileReport> {
    let source = Arc::new(BouncerConfigSource::new(
        dirs,
        files,
        vec![(
            "t".to_owned(),
            Arc::new(LapiDbSource::new(
                LapiDbLocation::Sqlite(db.to_owned()),
                Duration::from_secs(1),
            )),
        )],
        Duration::from_secs(2),
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(source.read()).unwrap().files
}

#[test]
fn every_kind_good_and_broken() {
    // SAFETY of set_var: this test binary sets it once, before any thread of this test reads the environment.
    std::env::set_var("CSBE_TEST_KEY", GOOD);
    let root = tempfile::tempdir().unwrap();
    let db = lapi_db(root.path());
    let health = health_server();
    let cases = cases();
    let mut dirs = Vec::new();
    let mut paths = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let dir = root.path().join(format!("case{i:02}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        paths.push(write_case(&dir, case, health.port));
        dirs.push(dir);
    }
    let started = std::time::Instant::now();
    let reports = check_all(dirs, vec![], &db);
    eprintln!("{} files checked in {:?}", reports.len(), started.elapsed());
    for (case, path) in cases.iter().zip(&paths) {
        let r = reports
            .iter()
            .find(|r| &r.path == path)
            .unwrap_or_else(|| panic!("{}: {} not discovered", case.name, path.display()));
        let shown = format!("{}: {:#?}", case.name, r.checks);
        assert_eq!(r.valid(), case.valid, "{shown}");
        assert_eq!(r.bouncer.as_deref().unwrap_or(""), case.bouncer, "{shown}");
        for (check, status) in case.expect {
            assert_eq!(
                r.check(*check).map(|c| c.status),
                Some(*status),
                "{check:?} {shown}"
            );
        }
        for c in &r.checks {
            if c.status != Status::Pass {
                assert!(
                    c.fix.as_ref().is_some_and(|f| !f.is_empty()),
                    "a fix for every problem: {shown}"
                );
            }
            assert!(
                !c.detail.contains(GOOD) && !c.fix.clone().unwrap_or_default().contains(GOOD),
                "{shown}"
            );
        }
        assert!(!format!("{r:?}").contains(GOOD));
        assert!(!format!("{r:?}").contains(key_hash(&Secret::new(GOOD)).expose()));
    }
    // The "other.yaml" half of the symlink loop is discovered too and fails the same way.
    assert_eq!(reports.len(), cases.len() + 1);
    let requests = health.requests.lock().unwrap();
    assert!(!requests.is_empty());
    for r in requests.iter() {
        assert!(r.starts_with("GET /health HTTP/1.1\r\n"), "{r}");
        assert!(
            !r.contains(GOOD) && !r.to_ascii_lowercase().contains("x-api-key"),
            "{r}"
        );
    }
    // One request per distinct URL and run, whatever the number of files pointing at it.
    let distinct: std::collections::HashSet<_> = reports
        .iter()
        .filter(|r| r.check(LapiReachable).is_some())
        .map(|r| r.api_url.clone().unwrap().trim_end_matches('/').to_owned())
        .collect();
    assert!(
        requests.len() <= distinct.len() * 2,
        "{} requests",
        requests.len()
    );
}

#[test]
fn unreadable_for_the_exporter_user() {
    // Tests run as root, which reads anything: run the real binary as `nobody` instead.
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = root.path().join("crowdsec-firewall-bouncer.yaml");
    std::fs::write(
        &file,
        format!("api_url: http://127.0.0.1:1/\napi_key: {GOOD}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
        .args([
            "--crowdsec.config",
            "/nonexistent/config.yaml",
            "--bouncers.config-dir",
            "/nonexistent/bouncers",
        ])
        .arg("--bouncers.config-file")
        .arg(&file)
        .args(["diagnose", "--output", "json"])
        .output()
        .expect("setpriv (util-linux) runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let f = &report["config_files"][0];
    assert_eq!(f["valid"], false, "{report:#}");
    assert_eq!(f["checks"][0]["check"], "readable");
    assert_eq!(f["checks"][0]["status"], "fail");
    assert!(
        f["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{f}"
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "no source readable: the tool could not run"
    );
}

#[test]
fn discovery_skips_overlays_ids_and_folders() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "a.yaml",
        "a.yaml.local",
        "a.yaml.id",
        "b.conf",
        ".hidden.yaml",
        "notes.txt",
        "c.yml",
    ] {
        std::fs::write(dir.path().join(f), "x").unwrap();
    }
    std::fs::create_dir(dir.path().join("sub.yaml")).unwrap();
    let extra = dir.path().join("notes.txt");
    let found = crowdsec_bouncer_exporter::bouncer_config::discover(
        &[dir.path().to_owned(), dir.path().join("missing")],
        std::slice::from_ref(&extra),
    );
    let names: Vec<_> = found
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.yaml", "b.conf", "c.yml", "notes.txt"]);
}

#[test]
fn blocklist_integration_urls_are_checked_against_the_service_api() {
    let key = "sapi-k3y-for-the-config-test";
    let fake = fake_service_api::FakeServiceApi::start(
        key,
        vec![fake_service_api::integration(7, "edge", false)],
    );
    let known = format!("{:024x}", 7);
    let root = tempfile::tempdir().unwrap();
    let db = lapi_db(root.path());
    let dir = root.path().join("bouncers");
    std::fs::create_dir(&dir).unwrap();
    let health = health_server();
    for (file, id) in [
        ("crowdsec-firewall-bouncer.yaml", known.as_str()),
        ("crowdsec-custom-bouncer.yaml", "ffffffffffffffffffffffff"),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, format!("api_url: https://admin.api.crowdsec.net/v1/integrations/{id}\napi_key: integrationKey0123456789\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
        .env("CROWDSEC_SERVICE_API_KEY", key)
        .arg("--lapi.db")
        .arg(&db)
        .args(["--lapi.url", &format!("http://127.0.0.1:{}/", health.port)])
        .args(["--service-api.url", &fake.base_url()])
        .arg("--bouncers.config-dir")
        .arg(&dir)
        .args(["diagnose", "--output", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let check = |file: &str| {
        let f = report["config_files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(file))
            .unwrap()
            .clone();
        let c = f["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "integration")
            .cloned();
        (f["valid"].clone(), c.map(|c| c["status"].clone()))
    };
    assert_eq!(
        check("crowdsec-firewall-bouncer.yaml"),
        (serde_json::json!(true), Some(serde_json::json!("pass"))),
        "{report:#}"
    );
    assert_eq!(
        check("crowdsec-custom-bouncer.yaml"),
        (serde_json::json!(false), Some(serde_json::json!("fail"))),
        "{report:#}"
    );
    // The invalid file is a warning (CrowdSecBouncerConfigInvalid); the fake's integration last pulled in 2024,
    // which is critical (integration offline): exit 1.
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "warning" && f["alert"] == "CrowdSecBouncerConfigInvalid"),
        "{report:#}"
    );
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert!(
        health
            .requests
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.starts_with("GET /health ")),
        "only the LAPI's /health is asked"
    );
}
