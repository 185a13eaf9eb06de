//! Properties of the parsers of outside input that are not bouncer files nor the web config (those have their
//! own files): timestamps, `cscli bouncers list -o json`, Service API pages, CrowdSec's config.
//! For any input: no panic; a secret planted in the input (a key, password or hash value) never reaches an
//! error text or a `Debug` print; inputs at the readers' size caps are parsed in bounded time (the test would
//! hang otherwise; no timing is asserted).
//! Case counts keep the whole property suite (this file and tests/properties_*.rs) under 30 s on 2 cores.

use proptest::prelude::*;

use crowdsec_bouncer_exporter::sources::cscli::parse_output;
use crowdsec_bouncer_exporter::sources::service_api::model::parse_page;
use crowdsec_bouncer_exporter::values::time::{format_rfc3339, parse_timestamp, GO_ZERO_TIME};

/// A token shaped like an API key, unlikely to arise from anything else.
fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{20}".prop_map(|s| format!("S3cr3t{s}"))
}

/// JSON scalars and small structures, the planted secret among them.
fn json_value(secret: String) -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        Just(Value::String(secret.clone())),
        Just(Value::String("2026-07-25T22:58:10+11:00".into())),
        Just(Value::String("0001-01-01T00:00:00Z".into())),
        Just(Value::String("2024-09-17T07:06:21".into())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with the given field names (known ones, mostly), any values.
fn object(
    fields: &'static [&'static str],
    secret: String,
) -> impl Strategy<Value = serde_json::Value> {
    prop::collection::vec(
        (prop::sample::select(fields), json_value(secret)),
        0..fields.len() + 2,
    )
    .prop_map(|pairs| {
        serde_json::Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

const CSCLI_FIELDS: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "name",
    "api_key",
    "revoked",
    "ip_address",
    "type",
    "version",
    "until",
    "last_pull",
    "auth_type",
    "os",
    "auto_created",
    "featureflags",
];

const INTEGRATION_FIELDS: &[&str] = &[
    "id",
    "name",
    "organization_id",
    "description",
    "created_at",
    "updated_at",
    "entity_type",
    "output_format",
    "last_pull",
    "blocklists",
    "endpoint",
    "stats",
    "tags",
];

/// Deletes or flips bytes of `text` so that mostly-valid inputs also take the error paths.
fn damaged(text: String) -> impl Strategy<Value = Vec<u8>> {
    let len = text.len().max(1);
    prop::collection::vec((0..len, any::<u8>(), any::<bool>()), 0..3).prop_map(move |edits| {
        let mut b = text.clone().into_bytes();
        for (at, byte, delete) in edits {
            if at < b.len() {
                if delete {
                    b.remove(at);
                } else {
                    b[at] = byte;
                }
            }
        }
        b
    })
}

fn assert_no_secret(what: &str, text: &str, secret: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !text.contains(secret),
        "{what} shows the planted secret: {text}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 250, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any text: no panic, and an answer is a finite instant.
    #[test]
    fn timestamps_never_panic(text in "\\PC{0,40}") {
        if let Some(ts) = parse_timestamp(&text) {
            prop_assert!(ts.is_finite());
        }
    }

    /// Every whole second from year 1 to 9999 survives format + parse, in every spelling CrowdSec and its
    /// drivers use (SQLite text, RFC 3339 `Z`, an offset, naive UTC).
    #[test]
    fn timestamps_round_trip(secs in -62_135_596_800i64..253_402_300_799, offset_min in -14 * 60i64..=14 * 60) {
        let ts = secs as f64;
        let z = format_rfc3339(ts);
        prop_assert_eq!(parse_timestamp(&z), Some(ts));
        prop_assert_eq!(parse_timestamp(&z.replace('T', " ").replace('Z', "+00:00")), Some(ts));
        prop_assert_eq!(parse_timestamp(z.trim_end_matches('Z')), Some(ts));
        // The same instant written in another zone: local wall clock + offset.
        let local = format_rfc3339(ts + (offset_min * 60) as f64);
        let sign = if offset_min < 0 { '-' } else { '+' };
        let spelled = format!("{}{sign}{:02}:{:02}", local.trim_end_matches('Z'), offset_min.abs() / 60, offset_min.abs() % 60);
        if local.len() == 20 && !local.starts_with('-') {
            prop_assert_eq!(parse_timestamp(&spelled), Some(ts), "{}", spelled);
        }
    }

    /// Any bytes as cscli's output: no panic; an error is a category and a position.
    #[test]
    fn cscli_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_output(&bytes);
    }

    /// cscli-shaped JSON with any values, whole or damaged: no panic, and the planted secret (say an `api_key`
    /// hash of 1.4.6's raw rows, or a value in any field) is in no error and never in the snapshot's `Debug`
    /// when it was only in `api_key`.
    #[test]
    fn cscli_json_never_shows_a_secret(
        (secret, rows, hash_only, bytes) in secret().prop_flat_map(|s| {
            let rows = prop::collection::vec(object(CSCLI_FIELDS, s.clone()), 0..4);
            (Just(s), rows, any::<bool>()).prop_flat_map(|(s, rows, hash_only)| {
                let mut rows = rows;
                if hash_only {
                    // The secret only as 1.4.6's `api_key` (the key's hash): the one field never read.
                    for r in rows.iter_mut() {
                        let o = r.as_object_mut().unwrap();
                        o.retain(|_, v| v.as_str() != Some(s.as_str()) && !v.to_string().contains(&s));
                        o.insert("api_key".into(), serde_json::Value::String(s.clone()));
                    }
                }
                let text = serde_json::to_string(&rows).unwrap();
                (Just(s), Just(rows), Just(hash_only), prop_oneof![Just(text.clone().into_bytes()), damaged(text)])
            })
        })
    ) {
        let _ = rows;
        match parse_output(&bytes) {
            Ok(snapshot) if hash_only => assert_no_secret("snapshot", &format!("{snapshot:?}"), &secret)?,
            Ok(_) => {}
            Err(e) => assert_no_secret("error", &format!("{e:?}"), &secret)?,
        }
    }

    /// Any bytes as a Service API page: no panic.
    #[test]
    fn service_api_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_page(&bytes);
    }

    /// Page-shaped JSON with any values (wrong types included), whole or damaged: no panic, no secret in the
    /// error.
    #[test]
    fn service_api_pages_never_show_a_secret(
        (secret, bytes) in secret().prop_flat_map(|s| {
            let items = prop::collection::vec(object(INTEGRATION_FIELDS, s.clone()), 0..3);
            let next = json_value(s.clone());
            (Just(s), items, next).prop_flat_map(|(s, items, next)| {
                let text = serde_json::json!({"items": items, "links": {"next": next}, "total": null}).to_string();
                (Just(s), prop_oneof![Just(text.clone().into_bytes()), damaged(text)])
            })
        })
    ) {
        if let Err(e) = parse_page(&bytes) {
            assert_no_secret("error", &format!("{e:?} {}", e.0), &secret)?;
        }
    }
}

/// Lines of a CrowdSec config: its real keys, YAML's awkward corners, and the planted password.
fn crowdsec_config_text(secret: String) -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("db_config:".to_owned()),
        Just("  type: mysql".to_owned()),
        Just("  type: oracle".to_owned()),
        Just("  port: nope".to_owned()),
        Just("  use_wal: maybe".to_owned()),
        Just("  host: ${DB_HOST}".to_owned()),
        Just("api:\n  server:\n    listen_uri: 127.0.0.1:8080".to_owned()),
        Just(format!("  password: {secret}")),
        Just(format!("  password: \"{secret}")),
        Just(format!("  password: [{secret}")),
        Just(format!("  password: {{a: {secret}}}")),
        Just(format!("  user: {secret}\n\tpassword: x")),
        // Anchors and aliases, without copying the password into a field that is not secret (a user whose name
        // IS the password would be shown as a user name, rightly).
        Just("  user: &u admin\n  password: *u".to_owned()),
        Just(format!("  password: &p {secret}\n  db_name: x")),
        Just("  - x".to_owned()),
        Just("&a [*a]".to_owned()),
        "[ -~]{0,20}",
    ];
    prop::collection::vec(line, 0..8).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, failure_persistence: None, ..ProptestConfig::default() })]

    /// CrowdSec's config and its `.local` overlay, any mix of lines: no panic; the password never in the error
    /// nor in the loaded config's `Debug`.
    #[test]
    fn crowdsec_config_never_shows_a_password(
        (secret, main, overlay) in secret().prop_flat_map(|s| {
            (Just(s.clone()), crowdsec_config_text(s.clone()), prop::option::of(crowdsec_config_text(s)))
        })
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, &main).unwrap();
        if let Some(o) = &overlay {
            std::fs::write(dir.path().join("config.yaml.local"), o).unwrap();
        }
        match crowdsec_bouncer_exporter::crowdsec::config_yaml::load(&path) {
            Ok(cfg) => assert_no_secret("config", &format!("{cfg:?}"), &secret)?,
            Err(e) => assert_no_secret("error", &format!("{e} {e:?}"), &secret)?,
        }
    }
}

/// Go's zero time is "unset" in every source that reads CrowdSec times (field case R2-04): never a pull.
#[test]
fn go_zero_time_is_never_a_pull() {
    assert_eq!(
        parse_timestamp("0001-01-01 00:00:00+00:00"),
        Some(GO_ZERO_TIME)
    );
    let snap = parse_output(
        br#"[{"name":"z","type":"t","last_pull":"0001-01-01T00:00:00Z","created_at":"0001-01-01T00:00:00Z","os":"?"}]"#,
    )
    .unwrap();
    assert_eq!(snap.bouncers[0].last_pull.pulled(), Some(0.0));
}

/// Size caps: input as deep as a Service API read's cap (16 MiB) allows is refused at serde_json's nesting
/// limit, not by a stack overflow; a 10,000-bouncer cscli output (4 MiB) is read whole (tests/it/cscli.rs proves the
/// reader refuses more than its 64 MiB cap); a timestamp of any length is decided on its prefix.
#[test]
fn inputs_at_the_caps_finish() {
    use crowdsec_bouncer_exporter::sources::service_api::MAX_TOTAL_BYTES;
    // Deep nesting: serde_json's recursion limit answers, no stack overflow.
    let deep = "[".repeat(MAX_TOTAL_BYTES);
    assert!(parse_page(deep.as_bytes()).is_err());
    assert!(parse_output(deep.as_bytes()).is_err());
    // A cap-sized list of rows.
    let row = r#"{"name":"n","type":"t","last_pull":"2026-07-25T11:58:10Z","os":"?"},"#;
    let mut big = String::from("[");
    while big.len() + row.len() < 4 << 20 {
        big.push_str(row);
    }
    big.pop();
    big.push(']');
    assert!(parse_output(big.as_bytes()).unwrap().bouncers.len() > 50_000);
    let long = format!("2026-07-25T11:58:10.{}Z", "1".repeat(1 << 20));
    assert!(parse_timestamp(&long).is_some());
    assert_eq!(parse_timestamp(&"9".repeat(1 << 20)), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Issue 23: the one redaction on any text never panics, never leaves a remembered secret standing whole, and
    /// on an exposition touches label values only (names, numbers and the line structure stay).
    #[test]
    fn redaction_hides_secrets_and_keeps_expositions_valid(
        secret in "[A-Za-z0-9]{8,40}",
        text in "\\PC{0,80}",
        value in "[ -~]{0,40}",
    ) {
        use crowdsec_bouncer_exporter::values::secret::{redact, redact_label_values, remember, Secret};
        remember(&Secret::new(secret.clone()));
        let _ = redact(&text);
        let printed = format!("api_url \"{secret}\" and {text} url=http://u:{secret}@h/");
        let hidden = redact(&printed);
        prop_assert!(!hidden.contains(&format!("\"{secret}\"")), "{}", hidden);
        prop_assert!(!hidden.contains(&format!(":{secret}@")), "{}", hidden);
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        let exposition = format!(
            "# HELP m help {secret}\nm{{a=\"{escaped}\",k=\"{secret}\"}} 1\nn 2\n"
        );
        let out = redact_label_values(exposition.clone());
        prop_assert_eq!(out.lines().count(), 3);
        prop_assert!(out.starts_with(&format!("# HELP m help {secret}\nm{{a=\"")), "{}", out);
        prop_assert!(out.ends_with(",k=\"<redacted>\"} 1\nn 2\n"), "{}", out);
    }
}
