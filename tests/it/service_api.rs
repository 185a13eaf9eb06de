//! Source `service_api` against a fake Service API (tests/fake_service_api), through the real HTTP server:
//! paging, tolerant parsing, each failure as a state with the last good snapshot kept, rate limits, and the key
//! never leaving the `x-api-key` header.

use crate::common;
use crate::fake_service_api;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::*;
use crowdsec_bouncer_exporter::settings::{
    LogFormat, LogLevel, LogSettings, ServiceApiSettings, Settings, WebSettings,
};
use crowdsec_bouncer_exporter::sources::service_api;
use crowdsec_bouncer_exporter::values::secret::Secret;
use fake_service_api::{integration, sample_integrations, FakeServiceApi, Mode};
use serde_json::json;

const KEY: &str = "sapi-k3y-DO-NOT-LEAK-4f8a2c91";
const SRC: (&str, &str) = ("source", "service_api");

// ---- harness ----

/// Every tracing event of this test binary, at TRACE level, for the leak check.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .init();
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn settings(base: &str, refresh: Duration, timeout: Duration, tags: &[&str]) -> Settings {
    let mut s = Settings {
        web: WebSettings {
            listen_addresses: vec![],
            telemetry_path: "/metrics".into(),
            // The scrape waits for the whole read: a slow read on a loaded machine must end in its own verdict
            // (timeout, page loop), not in a scrape that gave up first.
            max_scrape_wait: timeout.max(Duration::from_secs(10)) + Duration::from_secs(5),
            config_file: None,
        },
        lapis: vec![],
        log: LogSettings {
            level: LogLevel::Debug,
            format: LogFormat::Logfmt,
        },
        groups: Default::default(),
        thresholds: Default::default(),
    };
    s.set_group(Some(ServiceApiSettings {
        url: service_api::parse_base_url(base).unwrap(),
        key: Secret::new(KEY),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        refresh_interval: refresh,
        timeout,
    }));
    s
}

type Running = InProcess;

fn start(settings: Settings) -> Running {
    captured_logs();
    start_in_process(settings)
}

/// An exporter reading `fake` on every scrape (refresh 0), with a 2 s read timeout.
fn start_on(fake: &FakeServiceApi) -> Running {
    start(settings(
        &fake.base_url(),
        Duration::ZERO,
        Duration::from_secs(2),
        &[],
    ))
}

fn scrape(srv: &Running) -> (String, Vec<Sample>) {
    let (status, _, body) = http(srv.addr, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    assert!(!body.contains(KEY), "the key is in the metrics");
    let samples = parse_samples(&body);
    (body, samples)
}

fn up(s: &[Sample]) -> Option<f64> {
    value(s, "crowdsec_exporter_source_up", &[SRC])
}

fn errors(s: &[Sample], reason: &str) -> Option<f64> {
    value(
        s,
        "crowdsec_exporter_source_errors_total",
        &[SRC, ("reason", reason)],
    )
}

fn last_success(s: &[Sample]) -> Option<f64> {
    value(
        s,
        "crowdsec_exporter_source_last_success_timestamp_seconds",
        &[SRC],
    )
}

fn by_id(n: u32) -> (&'static str, String) {
    ("integration_id", format!("{n:024x}"))
}

fn v(s: &[Sample], name: &str, n: u32) -> Option<f64> {
    let (k, id) = by_id(n);
    value(s, name, &[(k, &id)])
}

fn count(s: &[Sample], name: &str) -> usize {
    s.iter().filter(|x| x.name == name).count()
}

/// The exporter called nothing but the list and `/info` (never an integration's content or stream endpoint),
/// always with the key.
fn assert_only_list_requests(fake: &FakeServiceApi) {
    let seen = fake.all_seen();
    assert!(!seen.is_empty());
    for r in &seen {
        assert_eq!(r.method, "GET", "{r:?}");
        assert!(
            r.target.starts_with("/v1/integrations?") || r.target == "/v1/info",
            "{r:?}"
        );
        assert!(
            !r.target.contains("/content") && !r.target.contains("decisions"),
            "{r:?}"
        );
        assert_eq!(r.api_key.as_deref(), Some(KEY), "{r:?}");
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

// ---- what a good read serves ----

#[test]
fn pages_are_followed_and_every_integration_is_served() {
    let mut items = vec![
        integration(1, "paloalto-prod", true),
        integration(2, "nginx-rc", false),
        integration(3, "never-null", true),
        integration(4, "never-absent", false),
        integration(5, "bad-time", true),
    ];
    items[1]["last_pull"] = json!("2024-06-07T16:00:31.5+02:00");
    items[2]["last_pull"] = json!(null);
    items[2]["created_at"] = json!("2024-01-02T03:04:05");
    items[3].as_object_mut().unwrap().remove("last_pull");
    items[3]["stats"] = json!({"count": 0});
    items[4]["last_pull"] = json!("last tuesday");
    items.extend(sample_integrations(230).into_iter().skip(10));
    // The list shifted while paged: the same integration again on page 3 is served once.
    let mut dup = integration(1, "paloalto-prod-renamed", true);
    dup["last_pull"] = json!(null);
    items.push(dup);
    let total = items.len() - 1;
    assert!(total > 200, "three pages of 100");

    let fake = FakeServiceApi::start(KEY, items);
    fake.state.lock().unwrap().null_totals = true;
    let srv = start(settings(
        &fake.base_url(),
        Duration::from_secs(60),
        Duration::from_secs(5),
        &[],
    ));
    let (body, s) = scrape(&srv);

    assert_eq!(up(&s), Some(1.0));
    let ls = last_success(&s).unwrap();
    assert!((now() - ls).abs() < 60.0);
    assert_eq!(
        count(&s, "crowdsec_exporter_source_errors_total"),
        0,
        "no error yet"
    );
    assert_eq!(count(&s, "crowdsec_integration_info"), total);
    assert_eq!(count(&s, "crowdsec_integration_pulled"), total - 1);

    // Firewall, naive timestamp (= UTC).
    let (k, id1) = by_id(1);
    assert_eq!(
        value(
            &s,
            "crowdsec_integration_info",
            &[
                (k, &id1),
                ("integration", "paloalto-prod"),
                ("entity_type", "firewall_integration"),
                ("output_format", "paloalto")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        v(&s, "crowdsec_integration_last_pull_timestamp_seconds", 1),
        Some(1_726_556_781.0)
    );
    assert_eq!(v(&s, "crowdsec_integration_pulled", 1), Some(1.0));
    let age = v(&s, "crowdsec_integration_last_pull_age_seconds", 1).unwrap();
    assert!((age - (now() - 1_726_556_781.0)).abs() < 60.0, "{age}");
    assert_eq!(
        v(&s, "crowdsec_integration_blocklist_items", 1),
        Some(1001.0)
    );
    assert_eq!(v(&s, "crowdsec_integration_blocklists", 1), Some(2.0));

    // Remediation component, offset timestamp with a fraction.
    assert_eq!(
        value(
            &s,
            "crowdsec_integration_info",
            &[
                ("integration", "nginx-rc"),
                ("entity_type", "remediation_component_integration"),
                ("output_format", "remediation_component")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        v(&s, "crowdsec_integration_last_pull_timestamp_seconds", 2),
        Some(1_717_768_831.5)
    );

    // Never pulled (null, and absent): no timestamp, pulled 0, age since creation.
    for n in [3, 4] {
        assert_eq!(
            v(&s, "crowdsec_integration_last_pull_timestamp_seconds", n),
            None
        );
        assert_eq!(v(&s, "crowdsec_integration_pulled", n), Some(0.0));
    }
    let age = v(&s, "crowdsec_integration_last_pull_age_seconds", 3).unwrap();
    assert!((age - (now() - 1_704_164_645.0)).abs() < 60.0, "{age}");
    let age = v(&s, "crowdsec_integration_last_pull_age_seconds", 4).unwrap();
    assert!(
        (age - (now() - 1_717_768_831.645_929)).abs() < 60.0,
        "{age}"
    );
    assert_eq!(
        v(&s, "crowdsec_integration_blocklist_items", 4),
        Some(0.0),
        "pulling zero IPs"
    );

    // An unreadable last_pull spoils that integration's time series only.
    assert_eq!(v(&s, "crowdsec_integration_info", 5), Some(1.0));
    for name in [
        "crowdsec_integration_last_pull_timestamp_seconds",
        "crowdsec_integration_last_pull_age_seconds",
        "crowdsec_integration_pulled",
    ] {
        assert_eq!(v(&s, name, 5), None, "{name}");
    }
    assert_eq!(v(&s, "crowdsec_integration_blocklists", 5), Some(2.0));

    // Every sample integration is there, whatever its shape.
    for n in 10..230 {
        assert_eq!(v(&s, "crowdsec_integration_info", n), Some(1.0), "{n}");
    }
    assert!(
        body.contains("cached for --service-api.refresh-interval."),
        "HELP says it is cached, in a static text"
    );

    let seen = fake.seen();
    let targets: Vec<&str> = seen.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/v1/integrations?page=1&size=100",
            "/v1/integrations?page=2&size=100",
            "/v1/integrations?page=3&size=100"
        ]
    );
    assert!(seen.iter().all(|r| r
        .accept_encoding
        .as_deref()
        .is_some_and(|a| a.contains("gzip"))));
    assert_only_list_requests(&fake);

    // Within the refresh interval, scrapes are served from the cache.
    let (_, again) = scrape(&srv);
    assert_eq!(last_success(&again), Some(ls));
    assert_eq!(fake.seen().len(), 3);
}

#[test]
fn tags_filter_the_list_and_follow_the_pages() {
    let fake = FakeServiceApi::start(KEY, sample_integrations(250));
    let srv = start(settings(
        &fake.base_url(),
        Duration::ZERO,
        Duration::from_secs(5),
        &["prod", "a b"],
    ));
    let (_, s) = scrape(&srv);
    assert_eq!(up(&s), Some(1.0));
    assert_eq!(count(&s, "crowdsec_integration_info"), 125, "the odd ones");
    assert_eq!(v(&s, "crowdsec_integration_info", 1), Some(1.0));
    assert_eq!(v(&s, "crowdsec_integration_info", 2), None);
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].target,
        "/v1/integrations?page=1&size=100&tag=prod&tag=a+b"
    );
    assert!(seen[1]
        .target
        .starts_with("/v1/integrations?page=2&size=100&tag=prod&tag=a"));
    assert_only_list_requests(&fake);
}

#[test]
fn an_empty_organisation_is_up_with_no_integration_series() {
    let fake = FakeServiceApi::start(KEY, vec![]);
    let srv = start_on(&fake);
    let (body, s) = scrape(&srv);
    assert_eq!(up(&s), Some(1.0));
    assert!(!body.contains("crowdsec_integration_"), "{body}");
    assert_only_list_requests(&fake);
}

/// Issue 21 #4: the organisation's tier from `GET /info`, per integration; `community` (any case) is the Community
/// tier, another subscription is `other`; a later `/info` failure keeps the last answer.
#[test]
fn the_tier_comes_from_info_and_is_kept_when_info_fails() {
    let fake = FakeServiceApi::start(KEY, sample_integrations(3));
    fake.state.lock().unwrap().subscription_type = "COMMUNITY".to_owned();
    let srv = start_on(&fake);
    let (_, s) = scrape(&srv);
    let tier = |s: &[Sample], n: u32, tier: &str, st: &str| {
        let (k, id) = by_id(n);
        value(
            s,
            "crowdsec_integration_subscription_info",
            &[(k, &id), ("tier", tier), ("subscription_type", st)],
        )
    };
    assert_eq!(count(&s, "crowdsec_integration_subscription_info"), 3);
    assert_eq!(tier(&s, 1, "community", "COMMUNITY"), Some(1.0));
    assert!(fake.all_seen().iter().any(|r| r.target == "/v1/info"));
    assert_only_list_requests(&fake);

    fake.state.lock().unwrap().subscription_type = "enterprise".to_owned();
    let (_, s) = scrape(&srv);
    assert_eq!(tier(&s, 1, "other", "enterprise"), Some(1.0));

    // /info refused from now on (a key without its scope): the last tier stays, the source stays up.
    fake.state.lock().unwrap().subscription_type = "community".to_owned();
    let _ = scrape(&srv);
    fake.state.lock().unwrap().key = "another-key-only-for-the-list".to_owned();
    let (_, s) = scrape(&srv);
    assert_eq!(up(&s), Some(0.0), "the key is refused for the list too");
    assert_eq!(
        tier(&s, 1, "community", "community"),
        Some(1.0),
        "last good snapshot"
    );
}

// ---- failures: a state, the last good snapshot kept ----

/// A good read, then `mode`: the source goes down with `reason` counted once, the integrations stay served, and
/// the last success does not move.
fn assert_failure(mode: Mode, reason: &str) -> FakeServiceApi {
    assert_failure_within(mode, reason, Duration::from_secs(2))
}

fn assert_failure_within(mode: Mode, reason: &str, timeout: Duration) -> FakeServiceApi {
    let fake = FakeServiceApi::start(KEY, sample_integrations(150));
    let srv = start(settings(&fake.base_url(), Duration::ZERO, timeout, &[]));
    let (_, good) = scrape(&srv);
    assert_eq!(up(&good), Some(1.0), "{reason}");
    let ls = last_success(&good).unwrap();
    assert_eq!(count(&good, "crowdsec_integration_info"), 150);

    fake.set_mode(mode);
    let (_, s) = scrape(&srv);
    assert_eq!(up(&s), Some(0.0), "{reason}");
    let seen_errors: Vec<_> = s
        .iter()
        .filter(|x| x.name == "crowdsec_exporter_source_errors_total")
        .collect();
    assert_eq!(errors(&s, reason), Some(1.0), "{reason}: {seen_errors:?}");
    assert_eq!(
        count(&s, "crowdsec_exporter_source_errors_total"),
        1,
        "{reason}: only that reason"
    );
    assert_eq!(last_success(&s), Some(ls), "{reason}");
    assert_eq!(
        count(&s, "crowdsec_integration_info"),
        150,
        "{reason}: last good snapshot kept"
    );
    assert_eq!(
        v(&s, "crowdsec_integration_last_pull_timestamp_seconds", 4),
        Some(1_726_556_781.0)
    );
    assert_only_list_requests(&fake);

    // And it recovers.
    fake.set_mode(Mode::Normal);
    let (_, s) = scrape(&srv);
    if reason != "rate_limited" {
        assert_eq!(up(&s), Some(1.0), "{reason}: recovers");
        assert!(last_success(&s).unwrap() >= ls);
    }
    fake
}

fn status(status: u16, body: &str) -> Mode {
    Mode::Status {
        status,
        headers: vec![],
        body: body.to_owned(),
    }
}

#[test]
fn unauthorized_forbidden_and_validation() {
    // A server that echoes the key in its error body: the exporter never shows bodies.
    assert_failure(
        status(401, &format!(r#"{{"message": "bad key {KEY}"}}"#)),
        "unauthorized",
    );
    assert_failure(status(403, r#"{"message": "Forbidden"}"#), "forbidden");
    assert_failure(status(422, r#"{"detail": [{"msg": "x"}]}"#), "validation");
}

#[test]
fn server_errors_and_other_statuses() {
    for code in [500, 502, 503, 504] {
        assert_failure(status(code, "<html>bad gateway</html>"), "server_error");
    }
    assert_failure(status(404, r#"{"detail": "Not Found"}"#), "http");
    // A redirect is not followed: it would carry the key wherever it points.
    let fake = assert_failure(
        Mode::Status {
            status: 302,
            headers: vec![(
                "location".into(),
                "/v1/integrations/000000000000000000000001/content".into(),
            )],
            body: String::new(),
        },
        "http",
    );
    assert!(fake.seen().iter().all(|r| !r.target.contains("content")));
}

#[test]
fn malformed_truncated_and_cut_answers() {
    assert_failure(Mode::Truncate { page: 2 }, "malformed");
    assert_failure(Mode::Truncate { page: 1 }, "malformed");
    assert_failure(Mode::CutConnection { page: 2 }, "malformed");
    assert_failure(Mode::Body("<html>maintenance</html>".into()), "malformed");
    assert_failure(
        Mode::Body(r#"{"items": 3, "links": {}}"#.into()),
        "malformed",
    );
    assert_failure(
        Mode::Body(r#"{"items": [{"name": "no id"}], "links": {"next": null}}"#.into()),
        "malformed",
    );
    assert_failure(Mode::Body(r#"{"items": []}"#.into()), "malformed");
    // A next link to another host is not followed (the key would go with it).
    assert_failure(Mode::ForeignNext, "malformed");
}

#[test]
fn page_loops_are_cut() {
    let fake = assert_failure(Mode::LoopBack { page: 2 }, "page_loop");
    // good read (2 pages), looping read (2 pages, the loop is seen before calling page 1 again), recovery (2 pages)
    assert_eq!(fake.seen().len(), 6);
    // A thousand requests in a debug build on a loaded machine: a generous read timeout.
    let fake = assert_failure_within(Mode::Endless, "page_loop", Duration::from_secs(30));
    assert_eq!(
        fake.seen().len(),
        2 + service_api::MAX_PAGES + 2,
        "stops at the page cap"
    );
}

#[test]
fn a_gzip_bomb_is_cut_at_the_size_cap_counting_decompressed_bytes() {
    let size = service_api::MAX_TOTAL_BYTES + 1024;
    let bomb = fake_service_api::gzip_run(b"{", b' ', size, b"}");
    assert!(bomb.len() < 200_000, "{} bytes on the wire", bomb.len());
    // Inflating 16 MiB in a debug build takes a while: a generous read timeout.
    assert_failure_within(Mode::GzipBomb(size), "too_large", Duration::from_secs(30));
}

#[test]
fn a_slow_api_is_a_timeout() {
    assert_failure(Mode::Slow(Duration::from_secs(5)), "timeout");
}

#[test]
fn an_unreachable_api_is_a_connect_error_with_no_integration_series() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let srv = start(settings(
        &format!("http://127.0.0.1:{port}/v1"),
        Duration::ZERO,
        Duration::from_secs(2),
        &[],
    ));
    let (body, s) = scrape(&srv);
    assert_eq!(up(&s), Some(0.0));
    assert_eq!(errors(&s, "connect"), Some(1.0));
    assert_eq!(last_success(&s), None);
    assert!(!body.contains("crowdsec_integration_"));
    assert_eq!(
        value(
            &s,
            "crowdsec_exporter_source_up",
            &[SRC, ("name", &format!("127.0.0.1:{port}"))]
        ),
        Some(0.0)
    );
}

// ---- rate limits ----

fn too_many(retry_after: Option<String>) -> Mode {
    Mode::Status {
        status: 429,
        headers: retry_after
            .map(|r| vec![("retry-after".to_owned(), r)])
            .unwrap_or_default(),
        body: r#"{"message": "Too Many Requests"}"#.into(),
    }
}

#[test]
fn rate_limited_reads_fail_fast_until_retry_after_passes() {
    let fake = FakeServiceApi::start(KEY, sample_integrations(50));
    let srv = start_on(&fake);
    assert_eq!(up(&scrape(&srv).1), Some(1.0));
    fake.set_mode(too_many(Some("1".into())));
    let (_, s) = scrape(&srv);
    assert_eq!(errors(&s, "rate_limited"), Some(1.0));
    fake.set_mode(Mode::Normal);
    let (_, s) = scrape(&srv);
    assert_eq!(up(&s), Some(0.0), "still waiting");
    assert_eq!(errors(&s, "rate_limited"), Some(2.0));
    assert_eq!(count(&s, "crowdsec_integration_info"), 50, "snapshot kept");
    assert_eq!(fake.seen().len(), 2, "no call while Retry-After runs");
    std::thread::sleep(Duration::from_millis(1050));
    let (_, s) = scrape(&srv);
    assert_eq!(up(&s), Some(1.0));
    assert_eq!(fake.seen().len(), 3);
    assert_only_list_requests(&fake);
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for a Unix time.
fn http_date(t: f64) -> String {
    let rfc = crowdsec_bouncer_exporter::values::time::format_rfc3339(t); // 1994-11-06T08:49:37Z
    let days = (t / 86_400.0).floor() as i64;
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][rfc[5..7].parse::<usize>().unwrap() - 1];
    format!(
        "{weekday}, {} {month} {} {} GMT",
        &rfc[8..10],
        &rfc[0..4],
        &rfc[11..19]
    )
}

#[test]
fn retry_after_as_an_http_date() {
    assert_eq!(http_date(784_111_777.0), "Sun, 06 Nov 1994 08:49:37 GMT");
    let fake = FakeServiceApi::start(KEY, sample_integrations(5));
    let srv = start_on(&fake);
    // A date in the past: no wait.
    fake.set_mode(too_many(Some(http_date(now() - 3600.0))));
    assert_eq!(errors(&scrape(&srv).1, "rate_limited"), Some(1.0));
    fake.set_mode(Mode::Normal);
    assert_eq!(up(&scrape(&srv).1), Some(1.0));
    assert_eq!(fake.seen().len(), 2);
    // An hour ahead: no call for an hour.
    fake.set_mode(too_many(Some(http_date(now() + 3600.0))));
    assert_eq!(errors(&scrape(&srv).1, "rate_limited"), Some(2.0));
    fake.set_mode(Mode::Normal);
    let (_, s) = scrape(&srv);
    assert_eq!(errors(&s, "rate_limited"), Some(3.0));
    assert_eq!(count(&s, "crowdsec_integration_info"), 5);
    assert_eq!(fake.seen().len(), 3);
}

#[test]
fn without_retry_after_it_backs_off() {
    let fake = FakeServiceApi::start(KEY, sample_integrations(5));
    let srv = start_on(&fake);
    fake.set_mode(too_many(None));
    let (_, s) = scrape(&srv);
    assert_eq!(errors(&s, "rate_limited"), Some(1.0));
    assert_eq!(up(&s), Some(0.0));
    fake.set_mode(Mode::Normal);
    for n in 2..4 {
        assert_eq!(errors(&scrape(&srv).1, "rate_limited"), Some(n as f64));
    }
    assert_eq!(fake.seen().len(), 1, "backed off: no call");
}

// ---- the key ----

#[test]
fn the_key_never_leaks_into_metrics_errors_debug_or_logs() {
    let logs = captured_logs();
    let fake = FakeServiceApi::start(KEY, sample_integrations(120));
    let mut texts = Vec::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let settings = settings(
        &fake.base_url(),
        Duration::ZERO,
        Duration::from_secs(2),
        &[],
    );
    texts.push(format!("{settings:?}"));
    let exporter =
        crowdsec_bouncer_exporter::exporter::Exporter::new(&settings).expect("the sources build");
    for mode in [
        Mode::Normal,
        status(401, &format!("key {KEY} refused")),
        Mode::Truncate { page: 2 },
        Mode::CutConnection { page: 1 },
        Mode::ForeignNext,
        too_many(Some("0".into())),
        Mode::Normal,
    ] {
        fake.set_mode(mode);
        let scrape = rt.block_on(exporter.scrape(Duration::from_secs(5)));
        let report = scrape.report::<service_api::IntegrationSnapshot>().unwrap();
        if let Some(e) = &report.last_error {
            texts.push(e.to_string());
            texts.push(format!("{e:?}"));
        }
        texts.push(format!("{scrape:?}"));
        for format in [
            crowdsec_bouncer_exporter::metrics::Format::Classic,
            crowdsec_bouncer_exporter::metrics::Format::OpenMetrics,
        ] {
            let scrape = rt.block_on(exporter.scrape(Duration::from_secs(5)));
            texts.push(crowdsec_bouncer_exporter::exporter::encode(scrape, format));
        }
    }
    // Every read went out with the key, so there was something to leak.
    assert!(fake
        .seen()
        .iter()
        .all(|r| r.api_key.as_deref() == Some(KEY)));
    let all = texts.join("\n");
    for reason in ["unauthorized", "malformed", "rate_limited"] {
        assert!(all.contains(reason), "{reason} was exercised");
    }
    assert!(!all.contains(KEY), "the key leaked:\n{all}");
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logs.contains("source read failed"), "logs were captured");
    assert!(!logs.contains(KEY), "the key is in the logs");
}
