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
