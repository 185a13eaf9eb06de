//! The landing page in a real browser (issue 25 #9): Debian's Chromium, headless, loads `/` of the exporter binary
//! (a CrowdSec 1.7 database with a bouncer in every state, a bouncer configuration file, the fake Service API),
//! saves a screenshot (target/landing-page.png, kept by CI as an artefact) and dumps the DOM it parsed. The
//! verdicts it shows for each bouncer base and integration, the overall status and each likely cause are those of
//! `diagnose --output json` run on the same state; every source has its row (`lapi_decisions` too); no key is shown.

use crate::common;
use crate::fake_service_api;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::real::{free_port, ExporterProc};
use crowdsec_bouncer_exporter::crowdsec::bouncer_files::checks::key_hash;
use crowdsec_bouncer_exporter::values::secret::Secret;

const SAPI_KEY: &str = "sapi-k3y-landing-page-test";
const BOUNCER_KEY: &str = "landingPageBouncerKey0123";
/// A base name that needs escaping in HTML text and attributes.
const ODD_NAME: &str = "nginx \"<edge>\" & co";

/// Rows relative to now (SQLite's clock, as CrowdSec writes its timestamps): fresh, late (2 h), offline (25 h,
/// the key of the configuration file), never pulled past its grace (30 h), never pulled in its grace (10 min).
fn database(dir: &Path) -> PathBuf {
    let path = dir.join("crowdsec.db");
    let conn = common::db_1_7(&path);
    let at = |m: &str| format!("strftime('%Y-%m-%d %H:%M:%f+00:00','now','{m}')");
    let offline_key = key_hash(&Secret::new(BOUNCER_KEY)).expose().to_owned();
    for (name, key, created, pull) in [
        ("fw-fresh", "k1", at("-30 days"), Some(at("-30 seconds"))),
        ("fw-late", "k2", at("-30 days"), Some(at("-2 hours"))),
        (
            ODD_NAME,
            offline_key.as_str(),
            at("-30 days"),
            Some(at("-25 hours")),
        ),
        ("never-old", "k4", at("-30 hours"), None),
        ("never-new", "k5", at("-10 minutes"), None),
    ] {
        let pull = pull.unwrap_or_else(|| "NULL".to_owned());
        conn.execute(
            &format!(
                "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, ip_address, type, version, last_pull, auth_type) \
                 VALUES ({created}, {created}, ?1, ?2, 0, '10.0.0.9', 'crowdsec-nginx-bouncer', 'v1.0.8', {pull}, 'api-key')"
            ),
            rusqlite::params![name, key],
        )
        .unwrap();
    }
    path
}

/// `tag`'s attributes as Chromium serializes them (`name="value"`, `&amp;` and `&quot;` escaped).
fn attributes(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap()
            .to_owned();
        let value_end = rest[eq + 2..].find('"').unwrap();
        let value = rest[eq + 2..eq + 2 + value_end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&nbsp;", "\u{a0}")
            .replace("&amp;", "&");
        out.insert(name, value);
        rest = &rest[eq + 2 + value_end + 1..];
    }
    out
}

/// The text of `html` without its tags, unescaped.
fn text_of(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    unescape(&text)
}

/// Every element of `dom` whose opening tag has attribute `attr`: its attributes and the text of each of its
/// cells (`<td>`), or its whole text when it has none.
fn elements_with(dom: &str, attr: &str) -> Vec<(BTreeMap<String, String>, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(at) = rest.find(&format!(" {attr}=\"")) {
        let open = rest[..at].rfind('<').unwrap();
        let name_end = rest[open..].find(' ').unwrap() + open;
        let tag_name = &rest[open + 1..name_end];
        let close = rest[at..].find('>').unwrap() + at;
        let attrs = attributes(&rest[open..close]);
        let end = rest[close..].find(&format!("</{tag_name}>")).unwrap() + close;
        let inner = &rest[close + 1..end];
        let cells: Vec<String> = if inner.contains("<td") {
            inner
                .split("<td")
                .skip(1)
                .map(|c| text_of(&format!("<td{c}")))
                .collect()
        } else {
            vec![text_of(inner)]
        };
        out.push((attrs, cells));
        rest = &rest[end..];
    }
    out
}

fn chromium(args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    // A browser that hangs must not hold the suite: coreutils' timeout ends it (and its children, by group).
    let out = Command::new("timeout")
        .args([
            "120",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium (Debian's package `chromium`) must be installed: .ci/run installs it");
    assert!(
        out.status.success(),
        "chromium {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn chromium_shows_the_verdicts_of_diagnose() {
    let root = tempfile::tempdir().unwrap();
    let db = database(root.path());
    let fake = fake_service_api::FakeServiceApi::start(
        SAPI_KEY,
        vec![
            fake_service_api::integration(7, "edge <blocklist>", false),
            fake_service_api::integration(8, "palo", true),
        ],
    );
    let configs = root.path().join("bouncers");
    std::fs::create_dir(&configs).unwrap();
    let file = configs.join("crowdsec-nginx-bouncer.conf");
    // The offline bouncer's file: its key is registered, its LAPI does not answer.
    std::fs::write(
        &file,
        format!(
            "API_URL=http://127.0.0.1:{}/\nAPI_KEY={BOUNCER_KEY}\n",
            free_port()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let db_arg = db.display().to_string();
    let dir_arg = configs.display().to_string();
    let sapi = fake.base_url();
    let key_file = root.path().join("sapi.key");
    std::fs::write(&key_file, SAPI_KEY).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let key_arg = key_file.display().to_string();
    let args = [
        "--service-api.key-file",
        key_arg.as_str(),
        "--lapi.db",
        db_arg.as_str(),
        "--service-api.url",
        sapi.as_str(),
        "--bouncers.config-dir",
        dir_arg.as_str(),
    ];
    let exporter = ExporterProc::start(&args, root.path());
    let url = format!("http://{}/", exporter.addr);

    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/landing-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,1600",
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a PNG of the page"
    );
    let dom = chromium(&["--dump-dom"], &url);

    let out = Command::new(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
        .args(args)
        .args(["diagnose", "--output", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));

    // Bouncers: (lapi, base) -> (verdict, likely cause's check) on the page and in diagnose's report.
    let mut page_bouncers = BTreeMap::new();
    for (a, cells) in elements_with(&dom, "data-bouncer") {
        // bouncer, verdict, alert, last pull, likely cause (and what to try).
        assert_eq!(cells[0], a["data-bouncer"], "{dom}");
        let cause = cells[4].split("try: ").next().unwrap().to_owned();
        page_bouncers.insert(
            (a["data-lapi"].clone(), a["data-bouncer"].clone()),
            (a["data-verdict"].clone(), cause),
        );
    }
    let mut report_bouncers = BTreeMap::new();
    for l in report["lapis"].as_array().unwrap() {
        for b in l["bouncers"].as_array().unwrap() {
            let cause = b["causes"][0]["check"].as_str().unwrap_or_default();
            report_bouncers.insert(
                (
                    l["name"].as_str().unwrap().to_owned(),
                    b["name"].as_str().unwrap().to_owned(),
                ),
                (b["verdict"].as_str().unwrap().to_owned(), cause.to_owned()),
            );
        }
    }
    assert_eq!(report_bouncers.len(), 5, "{report:#}");
    let verdicts: Vec<&str> = report_bouncers.values().map(|v| v.0.as_str()).collect();
    for v in [
        "ok",
        "late",
        "offline",
        "never_pulled",
        "never_pulled_in_grace",
    ] {
        assert!(verdicts.contains(&v), "{v} missing: {report:#}");
    }
    assert_eq!(
        page_bouncers.keys().collect::<Vec<_>>(),
        report_bouncers.keys().collect::<Vec<_>>(),
        "{dom}"
    );
    for (k, (verdict, check)) in &report_bouncers {
        let (page_verdict, page_cause) = &page_bouncers[k];
        assert_eq!(page_verdict, verdict, "{k:?}: {dom}");
        // The page's cause starts with the check diagnose names first (e.g. `endpoint (path): ...`).
        assert_eq!(
            page_cause.split([' ', ':']).next().unwrap_or_default(),
            check,
            "{k:?}: {dom}"
        );
    }
    let offline = &page_bouncers[&("local".to_owned(), ODD_NAME.to_owned())];
    assert_eq!(offline.0, "offline");
    assert!(
        !offline.1.is_empty(),
        "the offline bouncer has a likely cause"
    );

    // Integrations: id -> verdict.
    let page_integrations: BTreeMap<String, String> = elements_with(&dom, "data-integration")
        .into_iter()
        .map(|(a, _)| (a["data-integration"].clone(), a["data-verdict"].clone()))
        .collect();
    let report_integrations: BTreeMap<String, String> = report["integrations"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(report_integrations.len(), 2, "{report:#}");
    assert_eq!(page_integrations, report_integrations, "{dom}");

    // The LAPI's verdict and the overall status.
    let lapi = elements_with(&dom, "data-lapi")
        .into_iter()
        .find(|(a, _)| !a.contains_key("data-bouncer"))
        .unwrap();
    assert_eq!(
        Some(lapi.0["data-verdict"].as_str()),
        report["lapis"][0]["verdict"].as_str()
    );
    let status = elements_with(&dom, "data-status");
    assert_eq!(
        Some(status[0].0["data-status"].as_str()),
        report["status"].as_str(),
        "{dom}"
    );

    // Every source has a row, lapi_decisions included, each up.
    for source in ["lapi_db", "service_api", "bouncer_config", "lapi_decisions"] {
        let row = format!("<tr><td>{source}</td><td>");
        let at = dom
            .find(&row)
            .unwrap_or_else(|| panic!("no row for {source}: {dom}"));
        assert!(
            dom[at..].split("</tr>").next().unwrap().contains(">up<"),
            "{source} up: {dom}"
        );
    }
    // The odd name is text, not markup; no key is shown.
    assert!(unescape(&dom).contains(ODD_NAME));
    assert!(!dom.contains("</edge>"), "{dom}");
    for secret in [SAPI_KEY, BOUNCER_KEY] {
        assert!(!dom.contains(secret), "{secret} on the page");
    }
    drop(exporter);
}
