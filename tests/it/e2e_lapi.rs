//! End to end against the real CrowdSec 1.4.6 LAPI, cscli and crowdsec-custom-bouncer from Debian.

use crate::common;

use std::time::Duration;

use common::real::*;
use common::*;
use crowdsec_bouncer_exporter::values::time::parse_timestamp;

const PULLING_KEY: &str = "e2eKeyPulling0123456789abcdefABCD";
const IDLE_KEY: &str = "e2eKeyIdle0123456789abcdefABCDEFG";

fn cscli_row<'a>(rows: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in cscli output"))
}

fn s(v: &serde_json::Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_default()
}

/// Compares the exporter's view of every bouncer with `cscli bouncers list -o json`. The bouncer pulls every 2 s,
/// so the comparison is retried until cscli reads the same rows before and after the scrape.
fn assert_matches_cscli(lapi: &Lapi, exporter: &ExporterProc) -> Vec<Sample> {
    for _ in 0..20 {
        let before = lapi.bouncers_json();
        let samples = parse_samples(&exporter.metrics());
        if before != lapi.bouncers_json() {
            continue;
        }
        for row in &before {
            let name = s(&row["name"]);
            let key = [("lapi", "e2e"), ("bouncer", name.as_str())];
            let info = [
                ("lapi", "e2e"),
                ("bouncer", name.as_str()),
                ("ip_address", &s(&row["ip_address"])),
                ("bouncer_type", &s(&row["type"])),
                ("version", &s(&row["version"])),
                ("auth_type", &s(&row["auth_type"])),
                (
                    "revoked",
                    if row["revoked"].as_bool().unwrap() {
                        "true"
                    } else {
                        "false"
                    },
                ),
            ];
            assert_eq!(
                value(&samples, "crowdsec_bouncer_info", &info),
                Some(1.0),
                "{name}: {row}"
            );
            let last_pull = parse_timestamp(row["last_pull"].as_str().unwrap()).unwrap();
            if s(&row["type"]).is_empty() {
                // 1.4.6 shows the creation time for a bouncer that never pulled; the exporter says never.
                assert_eq!(
                    value(&samples, "crowdsec_bouncer_pulled", &key),
                    Some(0.0),
                    "{name}"
                );
                assert_eq!(
                    value(
                        &samples,
                        "crowdsec_bouncer_last_pull_timestamp_seconds",
                        &key
                    ),
                    None
                );
            } else {
                let got = value(
                    &samples,
                    "crowdsec_bouncer_last_pull_timestamp_seconds",
                    &key,
                )
                .unwrap();
                assert!(
                    (got - last_pull).abs() < 1e-6,
                    "{name}: exporter {got} vs cscli {last_pull}"
                );
                assert_eq!(value(&samples, "crowdsec_bouncer_pulled", &key), Some(1.0));
            }
        }
        assert_eq!(
            value(&samples, "crowdsec_bouncers", &[("lapi", "e2e")]),
            Some(before.len() as f64)
        );
        return samples;
    }
    panic!("cscli never read the same rows twice in a row");
}

#[test]
fn real_lapi_and_bouncer() {
    let mut lapi = Lapi::start();
    lapi.add_bouncer("custom-pulling", PULLING_KEY);
    lapi.add_bouncer("never-used", IDLE_KEY);
    let mut bouncer = lapi.custom_bouncer(PULLING_KEY);
    // The exporter finds the database through CrowdSec's own config, as on a default install.
    let config = lapi.config.display().to_string();
    let exporter = ExporterProc::start(
        &[
            "--crowdsec.config",
            &config,
            "--lapi.name",
            "e2e",
            "--lapi.cache-interval",
            "0s",
        ],
        lapi.dir.path(),
    );
    wait_until(
        "the custom bouncer's first pull",
        Duration::from_secs(20),
        || {
            s(&cscli_row(&lapi.bouncers_json(), "custom-pulling")["type"])
                == "crowdsec-custom-bouncer"
        },
    );

    let samples = assert_matches_cscli(&lapi, &exporter);
    let pulling = [("lapi", "e2e"), ("bouncer", "custom-pulling")];
    let first = value(
        &samples,
        "crowdsec_bouncer_last_pull_timestamp_seconds",
        &pulling,
    )
    .unwrap();
    let age = value(&samples, "crowdsec_bouncer_last_pull_age_seconds", &pulling).unwrap();
    assert!((0.0..10.0).contains(&age), "fresh pull, age {age}");
    let never = [("lapi", "e2e"), ("bouncer", "never-used")];
    assert_eq!(
        value(&samples, "crowdsec_bouncer_last_pull_age_seconds", &never),
        None,
        "1.4.6: no registration time"
    );
    assert_eq!(
        value(
            &samples,
            "crowdsec_exporter_source_up",
            &[("source", "lapi_db"), ("name", "e2e")]
        ),
        Some(1.0)
    );

    // last_pull advances while the bouncer runs.
    wait_until("last_pull to advance", Duration::from_secs(15), || {
        let s = parse_samples(&exporter.metrics());
        value(&s, "crowdsec_bouncer_last_pull_timestamp_seconds", &pulling).unwrap() > first
    });

    // promtool's linter accepts the live output.
    let body = exporter.metrics();
    assert_promtool_check_metrics_clean(&body);

    // Stop the bouncer and make it 25 h stale, as an outage would: cscli and the exporter agree.
    bouncer.kill();
    lapi.sql()
        .execute(
            "UPDATE bouncers SET last_pull = strftime('%Y-%m-%d %H:%M:%f+00:00','now','-25 hours') WHERE name = ?1",
            ["custom-pulling"],
        )
        .unwrap();
    let samples = assert_matches_cscli(&lapi, &exporter);
    let age = value(&samples, "crowdsec_bouncer_last_pull_age_seconds", &pulling).unwrap();
    // Ages are computed at the scrape's whole second (concurrent scrapes of a second share one body), so up to a
    // second below the true age.
    assert!((89_999.0..90_060.0).contains(&age), "25 h stale, age {age}");

    // No secret reaches the output or the logs: neither the keys nor their hashes.
    let hashes: Vec<String> = lapi
        .sql()
        .prepare("SELECT api_key FROM bouncers")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let body = exporter.metrics();
    let log = exporter.proc.log_text();
    for secret in hashes
        .iter()
        .map(String::as_str)
        .chain([PULLING_KEY, IDLE_KEY])
    {
        assert!(
            !body.contains(secret) && !log.contains(secret),
            "a secret leaked"
        );
    }

    // The LAPI going away does not matter to a database reader; a vanished database does, and is reported.
    lapi.stop();
    std::fs::rename(&lapi.db, lapi.db.with_extension("moved")).unwrap();
    let s2 = parse_samples(&exporter.metrics());
    assert_eq!(
        value(&s2, "crowdsec_exporter_source_up", &[("source", "lapi_db")]),
        Some(0.0)
    );
    assert_eq!(
        value(
            &s2,
            "crowdsec_exporter_source_errors_total",
            &[("source", "lapi_db"), ("reason", "missing_file")]
        ),
        Some(1.0)
    );

    // SIGTERM: a clean, quick exit.
    let mut exporter = exporter;
    let status = exporter
        .proc
        .terminate(Duration::from_secs(10))
        .expect("exporter exits on SIGTERM");
    assert!(status.success(), "{status}");
}

/// Issue 21 #1 against the real CrowdSec 1.4.6: `cscli decisions add -i 127.0.0.1` (the Console's "Security Engine
/// Self-Report", its own test case) and a range covering it are self-bans of target loopback, and of target
/// bouncer and machine for the rows whose `ip_address` the LAPI recorded as 127.0.0.1 (`cscli bouncers list`,
/// `cscli machines list` are the oracle); a ban elsewhere is not; deleting the ban ends it. Counts only: the banned
/// address is in no series.
#[test]
fn self_bans_as_the_real_lapi_1_4_6_writes_them() {
    let lapi = Lapi::start();
    lapi.cscli(&["machines", "add", "-a", "--force"]);
    lapi.add_bouncer("custom-pulling", PULLING_KEY);
    let mut bouncer = lapi.custom_bouncer(PULLING_KEY);
    wait_until(
        "the custom bouncer's first pull",
        Duration::from_secs(20),
        || {
            s(&cscli_row(&lapi.bouncers_json(), "custom-pulling")["type"])
                == "crowdsec-custom-bouncer"
        },
    );
    lapi.cscli(&["decisions", "add", "-i", "127.0.0.1", "-d", "1h"]);
    lapi.cscli(&["decisions", "add", "-r", "127.0.0.0/8", "-d", "1h"]);
    lapi.cscli(&["decisions", "add", "-i", "192.0.2.1", "-d", "1h"]);
    lapi.cscli(&[
        "decisions",
        "add",
        "-i",
        "127.0.0.2",
        "-d",
        "1h",
        "-t",
        "captcha",
    ]);
    let listed: serde_json::Value =
        serde_json::from_str(&lapi.cscli(&["decisions", "list", "-o", "json"])).unwrap();
    let decisions: Vec<&serde_json::Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["decisions"].as_array().unwrap())
        .collect();
    assert_eq!(decisions.len(), 4, "cscli's own view: {listed}");
    let scenario = s(&decisions
        .iter()
        .find(|d| d["value"] == "127.0.0.1")
        .unwrap()["scenario"]);
    assert!(scenario.starts_with("manual 'ban' from"), "{scenario}");
    let bouncer_ip = s(&cscli_row(&lapi.bouncers_json(), "custom-pulling")["ip_address"]);
    let machines: serde_json::Value =
        serde_json::from_str(&lapi.cscli(&["machines", "list", "-o", "json"])).unwrap();
    let machines_on_loopback = machines
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            s(&m["ipAddress"]).starts_with("127.") || s(&m["ip_address"]).starts_with("127.")
        })
        .count();
    assert_eq!(bouncer_ip, "127.0.0.1", "the bouncer pulls over loopback");

    let config = lapi.config.display().to_string();
    let exporter = ExporterProc::start(
        &[
            "--crowdsec.config",
            &config,
            "--lapi.name",
            "e2e",
            "--lapi.cache-interval",
            "0s",
            "--lapi.decisions-interval",
            "0s",
        ],
        lapi.dir.path(),
    );
    let samples = parse_samples(&exporter.metrics());
    let ban = |target: &str| {
        value(
            &samples,
            "crowdsec_lapi_self_ban_decisions",
            &[
                ("lapi", "e2e"),
                ("target", target),
                ("origin", "cscli"),
                ("scenario", &scenario),
            ],
        )
    };
    // The /8 and its one address; the captcha is no ban, 192.0.2.1 is nobody's.
    assert_eq!(ban("loopback"), Some(2.0));
    assert_eq!(ban("bouncer"), Some(2.0));
    assert_eq!(
        ban("machine"),
        (machines_on_loopback > 0).then_some(2.0),
        "machines: {machines}"
    );
    assert_eq!(ban("lapi_host"), None, "the LAPI listens on loopback");
    assert_eq!(
        value(
            &samples,
            "crowdsec_lapi_self_ban_bouncer_decisions",
            &[("lapi", "e2e"), ("bouncer", "custom-pulling")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &samples,
            "crowdsec_lapi_active_ip_decisions",
            &[("lapi", "e2e"), ("origin", "cscli")]
        ),
        Some(4.0)
    );
    assert!(
        samples
            .iter()
            .filter(|x| x.name.starts_with("crowdsec_lapi_self_ban"))
            .all(|x| x.labels.values().all(|v| !v.contains("127.0.0."))),
        "no banned address in a self-ban series"
    );

    lapi.cscli(&["decisions", "delete", "-i", "127.0.0.1"]);
    lapi.cscli(&["decisions", "delete", "-r", "127.0.0.0/8"]);
    let samples = parse_samples(&exporter.metrics());
    assert!(
        !samples
            .iter()
            .any(|x| x.name.starts_with("crowdsec_lapi_self_ban")),
        "deleted: no self-ban left"
    );
    bouncer.kill();
}
