//! The usage-report fixture (tests/fixtures/usage/reports.json) and the values it must give, computed by hand.

use super::{value, Sample, FIXTURES};

/// One row of table `metrics`: generated_type, generated_by, received_at offset (s after BASE_TS), payload text.
pub struct Row {
    pub kind: String,
    pub by: String,
    pub offset: i64,
    pub payload: String,
}

pub fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/usage/reports.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Row {
            kind: r["type"].as_str().unwrap().to_owned(),
            by: r["by"].as_str().unwrap().to_owned(),
            offset: r["offset"].as_i64().unwrap(),
            payload: r["payload"].to_string(),
        })
        .collect()
}

/// (metric, labels besides lapi, value) the fixture must give, by hand:
/// fw processed bytes 1000 + 200 (ipv6) + 2000.7 truncated = 3200; packets 10 + 2 + 20 = 32; dropped bytes CAPI
/// 300 + 600 + 100 (ipv6) = 1000, cscli 50, lists 120 + 0; packets CAPI 3 + 6 + 1 = 10, cscli 1, lists 2; active
/// decisions from the newest report only (the first report's CAPI/ipv6 40 is gone). nginx requests 500 + 20 + 400
/// = 920; dropped CAPI/ban 7 + 2 = 9, cscli/captcha 3; its newest report has no active_decisions item although an
/// earlier one had: one series at 0. The LP row counts nowhere.
/// A metric name, the labels it must have (besides `lapi`), its value.
pub type Expected = (&'static str, &'static [(&'static str, &'static str)], f64);

pub const EXPECTED: &[Expected] = &[
    (
        "crowdsec_bouncer_processed_bytes_total",
        &[("bouncer", "fw"), ("origin", ""), ("remediation", "")],
        3200.0,
    ),
    (
        "crowdsec_bouncer_processed_packets_total",
        &[("bouncer", "fw"), ("origin", ""), ("remediation", "")],
        32.0,
    ),
    (
        "crowdsec_bouncer_dropped_bytes_total",
        &[("bouncer", "fw"), ("origin", "CAPI"), ("remediation", "")],
        1000.0,
    ),
    (
        "crowdsec_bouncer_dropped_bytes_total",
        &[("bouncer", "fw"), ("origin", "cscli"), ("remediation", "")],
        50.0,
    ),
    (
        "crowdsec_bouncer_dropped_bytes_total",
        &[
            ("bouncer", "fw"),
            ("origin", "lists:firehol_voipbl"),
            ("remediation", ""),
        ],
        120.0,
    ),
    (
        "crowdsec_bouncer_dropped_packets_total",
        &[("bouncer", "fw"), ("origin", "CAPI"), ("remediation", "")],
        10.0,
    ),
    (
        "crowdsec_bouncer_dropped_packets_total",
        &[("bouncer", "fw"), ("origin", "cscli"), ("remediation", "")],
        1.0,
    ),
    (
        "crowdsec_bouncer_dropped_packets_total",
        &[
            ("bouncer", "fw"),
            ("origin", "lists:firehol_voipbl"),
            ("remediation", ""),
        ],
        2.0,
    ),
    (
        "crowdsec_bouncer_active_decisions",
        &[("bouncer", "fw"), ("origin", "CAPI"), ("ip_type", "ipv4")],
        14990.0,
    ),
    (
        "crowdsec_bouncer_active_decisions",
        &[("bouncer", "fw"), ("origin", "cscli"), ("ip_type", "ipv4")],
        3.0,
    ),
    (
        "crowdsec_bouncer_active_decisions",
        &[
            ("bouncer", "fw"),
            ("origin", "lists:firehol_voipbl"),
            ("ip_type", "ipv4"),
        ],
        800.0,
    ),
    (
        "crowdsec_bouncer_processed_requests_total",
        &[("bouncer", "nginx"), ("origin", ""), ("remediation", "")],
        920.0,
    ),
    (
        "crowdsec_bouncer_dropped_requests_total",
        &[
            ("bouncer", "nginx"),
            ("origin", "CAPI"),
            ("remediation", "ban"),
        ],
        9.0,
    ),
    (
        "crowdsec_bouncer_dropped_requests_total",
        &[
            ("bouncer", "nginx"),
            ("origin", "cscli"),
            ("remediation", "captcha"),
        ],
        3.0,
    ),
    (
        "crowdsec_bouncer_active_decisions",
        &[("bouncer", "nginx"), ("origin", ""), ("ip_type", "")],
        0.0,
    ),
    ("crowdsec_exporter_usage_reports_total", &[], 4.0),
    (
        "crowdsec_exporter_usage_reports_skipped_total",
        &[("reason", "malformed")],
        0.0,
    ),
];

/// Every usage series of `lapi`, as (name, labels, value) text lines, sorted: for "nothing else changed".
pub fn usage_series(samples: &[Sample], lapi: &str) -> Vec<String> {
    let mut out: Vec<String> = samples
        .iter()
        .filter(|s| {
            s.labels.get("lapi").map(String::as_str) == Some(lapi)
                && (s.name.starts_with("crowdsec_bouncer_processed_")
                    || s.name.starts_with("crowdsec_bouncer_dropped_")
                    || s.name == "crowdsec_bouncer_active_decisions")
        })
        .map(|s| format!("{} {:?} {}", s.name, s.labels, s.value))
        .collect();
    out.sort();
    out
}

/// Asserts the fixture's values, and that no other usage series exists.
pub fn assert_expected(samples: &[Sample], lapi: &str) {
    for (name, labels, want) in EXPECTED {
        let mut l = vec![("lapi", lapi)];
        l.extend_from_slice(labels);
        assert_eq!(value(samples, name, &l), Some(*want), "{name} {labels:?}");
    }
    let usage_expected = EXPECTED
        .iter()
        .filter(|(n, _, _)| !n.starts_with("crowdsec_exporter_"))
        .count();
    assert_eq!(
        usage_series(samples, lapi).len(),
        usage_expected,
        "no other usage series: {:#?}",
        usage_series(samples, lapi)
    );
}

/// A SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The fixture as SQL statements for the 1.7 tables of any engine: its two bouncers, every `metrics` row, and
/// decisions (CAPI and a blocklist active, one expired, one simulated). `at(offset)` writes a time literal
/// `offset` seconds after 2024-01-02T03:04:05Z as the engine takes it; `far` is a literal far in the future.
pub fn statements(at: &dyn Fn(i64) -> String, far: &str) -> Vec<String> {
    let mut out: Vec<String> = ["fw", "nginx"]
        .iter()
        .map(|name| {
            format!(
                "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type, osname, osversion, auto_created) VALUES ({t}, {t}, '{name}', 'hash-{name}', false, '10.0.0.2', 'x', 'v1', {t}, 'api-key', 'debian', '12', false)",
                t = at(0)
            )
        })
        .collect();
    for r in rows() {
        out.push(report_statement(&r.kind, &r.by, &at(r.offset), &r.payload));
    }
    for (until, scenario, origin, simulated) in [
        (far.to_owned(), "http:scan", "CAPI", "false"),
        (far.to_owned(), "firehol_voipbl", "lists", "false"),
        (far.to_owned(), "firehol_voipbl", "lists", "false"),
        (at(-86_400), "manual", "cscli", "false"),
        (far.to_owned(), "x", "crowdsec", "true"),
    ] {
        out.push(format!(
            "INSERT INTO decisions (created_at, updated_at, until, scenario, type, scope, value, origin, simulated) VALUES ({t}, {t}, {until}, '{scenario}', 'ban', 'Ip', '192.0.2.1', '{origin}', {simulated})",
            t = at(0)
        ));
    }
    out
}

/// One `metrics` row.
pub fn report_statement(kind: &str, by: &str, at: &str, payload: &str) -> String {
    format!(
        "INSERT INTO metrics (generated_type, generated_by, received_at, payload) VALUES ('{kind}', {}, {at}, {})",
        lit(by),
        lit(payload)
    )
}

/// A new report of `fw` (5 more dropped bytes from CAPI) and a broken one, for the "while running" steps.
pub const NEW_REPORT: &str = r#"{"metrics":[{"meta":{"utc_now_timestamp":1704166545,"window_size_seconds":900},"items":[{"name":"dropped","unit":"byte","value":5,"labels":{"ip_type":"ipv4","origin":"CAPI"}}]}]}"#;
pub const BROKEN_REPORT: &str = "{\"metrics\": [{\"items\": [oops";

/// The fixture's steps on one engine, through its source, whose first read finds the fixture stored: the same
/// starting point as SQLite's (every stored series at 0, counted from the start on, the newest report's gauge),
/// a new report counted once, a flush changing nothing, a broken payload changing nothing but its count. `read`
/// reads the source; `exec` runs SQL on the database.
pub fn check_engine(
    read: &dyn Fn() -> crowdsec_bouncer_exporter::crowdsec::bouncers::BouncerSnapshot,
    exec: &dyn Fn(&str),
    at: &dyn Fn(i64) -> String,
    sqlite: &crowdsec_bouncer_exporter::crowdsec::usage_reports::UsageTotals,
) {
    use crowdsec_bouncer_exporter::crowdsec::usage_reports::Family;
    let dropped_capi = |u: &crowdsec_bouncer_exporter::crowdsec::usage_reports::UsageTotals| {
        u.bouncers["fw"]
            .counter(Family::DroppedBytes, "CAPI", "")
            .expect("the series")
    };
    let first = read().usage.expect("a metrics table");
    assert_eq!(&first, sqlite, "the same starting point as from SQLite");
    assert_eq!(dropped_capi(&first), 0, "stored reports are not counted");
    assert!(first
        .bouncers
        .values()
        .all(|b| b.counters.values().all(|v| *v == 0)));
    assert_eq!(first.bouncers["fw"].active_total(), Some(14990 + 3 + 800));
    assert_eq!(first.bouncers["nginx"].active_total(), Some(0));
    assert_eq!(first.reports, 0);

    exec(&report_statement("RC", "fw", &at(1900), NEW_REPORT));
    for _ in 0..2 {
        assert_eq!(dropped_capi(&read().usage.unwrap()), 5, "counted once");
    }
    let before = read().usage.unwrap();
    exec("DELETE FROM metrics WHERE id <= 4");
    assert_eq!(
        read().usage.unwrap().bouncers,
        before.bouncers,
        "a flush changes nothing"
    );
    exec("DELETE FROM metrics");
    assert_eq!(
        read().usage.unwrap().bouncers,
        before.bouncers,
        "nor does flushing everything"
    );
    exec(&report_statement("RC", "fw", &at(2800), BROKEN_REPORT));
    let after = read().usage.unwrap();
    assert_eq!(
        after.bouncers, before.bouncers,
        "a broken payload changes nothing else"
    );
    assert_eq!(after.skipped.malformed, 1);
}

/// The fixture's starting point as the SQLite source reads it when the fixture is stored before its first read
/// (the reference of the server engines).
pub fn sqlite_totals() -> crowdsec_bouncer_exporter::crowdsec::usage_reports::UsageTotals {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crowdsec.db");
    let conn = super::db_1_7(&path);
    for sql in statements(
        &|o| format!("'{}'", super::ts(o)),
        "'2099-01-01 00:00:00+00:00'",
    ) {
        conn.execute(&sql, []).unwrap();
    }
    crowdsec_bouncer_exporter::sources::lapi_db::sqlite::SqliteDb::new(
        &path,
        std::time::Duration::from_secs(2),
    )
    .read_blocking()
    .unwrap()
    .usage
    .unwrap()
}

/// Issue 21: self-bans and IP decisions for any engine, after [`statements`] (whose bouncers `fw` and `nginx` are at
/// 10.0.0.2): a machine at 10.0.0.3,
/// a ban on 127.0.0.1 (loopback), a range over both bouncers and the machine, and what is no self-ban: a country,
/// a simulated ban on ::1, a captcha on a bouncer's address. `far` is a time literal far in the future.
pub fn self_ban_statements(at: &dyn Fn(i64) -> String, far: &str) -> Vec<String> {
    // The schemas' own `machines` table (CrowdSec's ent schema): its NOT NULL columns given.
    let mut out = vec![format!(
        "INSERT INTO machines (created_at, updated_at, machine_id, password, ip_address, is_validated, auth_type) VALUES ({t}, {t}, 'm1', 'not-a-hash', '10.0.0.3', true, 'password')",
        t = at(0)
    )];
    for (scenario, origin, simulated, kind, scope, value) in [
        (
            "crowdsecurity/http-probing",
            "crowdsec",
            "false",
            "ban",
            "Ip",
            "127.0.0.1",
        ),
        ("manual", "cscli", "false", "ban", "Range", "10.0.0.0/24"),
        ("manual", "cscli", "false", "ban", "Country", "FR"),
        ("manual", "cscli", "true", "ban", "Ip", "::1"),
        ("manual", "cscli", "false", "captcha", "Ip", "10.0.0.2"),
    ] {
        out.push(format!(
            "INSERT INTO decisions (created_at, updated_at, until, scenario, type, scope, value, origin, simulated) VALUES ({t}, {t}, {far}, '{scenario}', '{kind}', '{scope}', '{value}', '{origin}', {simulated})",
            t = at(0)
        ));
    }
    out
}

/// What SQLite gives for [`statements`] and [`self_ban_statements`]: the reference the server engines must equal.
pub fn sqlite_decisions() -> crowdsec_bouncer_exporter::crowdsec::active_decisions::ActiveDecisions
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crowdsec.db");
    let conn = super::db_1_7(&path);
    let at = |o| format!("'{}'", super::ts(o));
    let far = "'2099-01-01 00:00:00+00:00'";
    for sql in statements(&at, far)
        .into_iter()
        .chain(self_ban_statements(&at, far))
    {
        conn.execute(&sql, []).unwrap();
    }
    crowdsec_bouncer_exporter::sources::lapi_db::sqlite::SqliteDb::new(
        &path,
        std::time::Duration::from_secs(2),
    )
    .active_decisions_blocking(crowdsec_bouncer_exporter::values::time::now(), &[])
    .unwrap()
}
