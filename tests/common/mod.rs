//! Shared test helpers: fixture databases with CrowdSec's schemas, and a parser for the exposition text.
#![allow(dead_code)]

pub mod engine_cases;
pub mod real;
pub mod servers;
pub mod usage;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Runs a schema file (one statement per line, `--` comments) against a new database.
pub fn create_db(path: &Path, schema_file: &str) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    let sql = std::fs::read_to_string(Path::new(FIXTURES).join(schema_file)).unwrap();
    for line in sql
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
    {
        conn.execute_batch(line)
            .unwrap_or_else(|e| panic!("{schema_file}: {e}: {line}"));
    }
    conn
}

/// A CrowdSec 1.4.6 database (the schema the real 1.4.6 created).
pub fn db_1_4_6(path: &Path) -> rusqlite::Connection {
    create_db(path, "real-1.4.6/schema.sql")
}

/// A CrowdSec 1.7.x database.
pub fn db_1_7(path: &Path) -> rusqlite::Connection {
    create_db(path, "schema-1.7.sql")
}

/// Timestamp text exactly as CrowdSec's SQLite driver writes it, `secs` after 2024-01-02T03:04:05Z.
pub fn ts(offset_secs: i64) -> String {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.query_row(
        "SELECT strftime('%Y-%m-%d %H:%M:%S', 1704164645 + ?1, 'unixepoch') || '.123456789+00:00'",
        [offset_secs],
        |r| r.get(0),
    )
    .unwrap()
}

pub const BASE_TS: f64 = 1_704_164_645.123_456_7; // 2024-01-02T03:04:05.123456789Z as the nearest f64

/// One sample of an exposition: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the samples of a text exposition (classic or OpenMetrics), unescaping label values.
pub fn parse_samples(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => panic!("bad line {line}"),
        };
        let mut labels = BTreeMap::new();
        let mut rest = rest;
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut key = String::new();
            let end;
            loop {
                let (i, c) = chars.next().expect("unterminated labels");
                match c {
                    '}' => {
                        end = i;
                        break;
                    }
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|x| x.1), Some('"'));
                        let mut value = String::new();
                        loop {
                            let (_, c) = chars.next().expect("unterminated value");
                            match c {
                                '\\' => match chars.next().unwrap().1 {
                                    'n' => value.push('\n'),
                                    other => value.push(other),
                                },
                                '"' => break,
                                c => value.push(c),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    c => key.push(c),
                }
            }
            rest = &body[end + 1..];
        }
        let value = rest.split_whitespace().next().unwrap().parse().unwrap();
        out.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    out
}

/// The value of the one sample with that name whose labels include `want`.
pub fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    let hits: Vec<_> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && want
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(
        hits.len() <= 1,
        "{name} {want:?} matches {} samples",
        hits.len()
    );
    hits.first().map(|s| s.value)
}

pub fn temp_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// A plain HTTP/1.1 request over TCP (no client crate needed): returns status, lower-cased headers, body.
pub fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, BTreeMap<String, String>, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect::<BTreeMap<_, _>>();
    let body = if headers.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, headers, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// The exporter served in process on 127.0.0.1 (its own runtime on a thread), stopped when dropped.
pub struct InProcess {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap();
    }
}

pub fn start_in_process(settings: crowdsec_bouncer_exporter::settings::Settings) -> InProcess {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = crowdsec_bouncer_exporter::web::bind("127.0.0.1:0")
                .await
                .unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            crowdsec_bouncer_exporter::cli::serve_listeners(settings, vec![listener], async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
    });
    InProcess {
        addr: addr_rx.recv().unwrap(),
        stop: Some(tx),
        thread: Some(thread),
    }
}
