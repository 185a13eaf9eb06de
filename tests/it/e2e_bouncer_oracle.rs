//! The real bouncers as oracles (issue 11 part 3): for every Go-format variant Debian 12's
//! crowdsec-firewall-bouncer 0.0.25 and crowdsec-custom-bouncer 0.0.15 understand, the real bouncer runs on the
//! file against the real CrowdSec 1.4.6 LAPI, and the exporter's verdict on the same file
//! (`crowdsec_bouncer_config_valid`, from the `bouncer_config` source) must equal "the bouncer started and its
//! last_pull moved". Where today's bouncers behave differently from these builds, or where the exporter cannot
//! see the evidence, the row says so and cites the source.
//!
//! The firewall bouncer is run in iptables mode with stub `iptables`/`ipset` programs first in its PATH (it finds
//! them with `exec.LookPath`, cs-firewall-bouncer v0.0.25 iptables.go): its backend starts without touching the
//! host's firewall, and everything after it (go-cs-bouncer's config checks, the pulls) is the real code.
//! All the variants run at once, each as its own registration, so the whole test takes a few seconds.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::real::*;
use crowdsec_bouncer_exporter::settings::LapiDbLocation;
use crowdsec_bouncer_exporter::sources::bouncer_config::BouncerConfigSource;
use crowdsec_bouncer_exporter::sources::lapi_db::LapiDbSource;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Bin {
    Firewall,
    Custom,
}

/// Why a row's exporter verdict may differ from what these old builds do.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Differs {
    No,
    /// The old build does not expand `${VAR}`; today's do (cs-firewall-bouncer f7dc74e "substitute envvars in
    /// config file" 2023-05, then csstring.StrictExpand in cmd/root.go since 0d19a68, #364, v0.0.28; HEAD
    /// bcb81cd5). The exporter follows today's bouncers, and cannot see the bouncer's environment anyway
    /// (issue 11 #8: a warning, still valid).
    EnvExpansion,
}

struct Variant {
    name: &'static str,
    bin: Bin,
    /// `@URL@` = the LAPI (with its `/`), `@KEY@` = this variant's registered key.
    main: &'static str,
    local: Option<&'static str>,
    /// The key is registered (else another key is, for the row to watch).
    registered: bool,
    differs: Differs,
}

const FW: &str = "mode: iptables\nupdate_frequency: 1s\nlog_mode: stdout\ndisable_ipv6: true\niptables_chains:\n  - CSBE_ORACLE\n";
const CUSTOM: &str = "bin_path: /bin/true\nupdate_frequency: 1s\nlog_mode: stdout\n";

fn variants() -> Vec<Variant> {
    use Bin::*;
    let v = |name, bin, main, local, registered, differs| Variant {
        name,
        bin,
        main,
        local,
        registered,
        differs,
    };
    vec![
        v("plain", Firewall, "api_url: @URL@\napi_key: @KEY@\n", None, true, Differs::No),
        v("no trailing slash (go-cs-bouncer adds it)", Firewall, "api_url: @URLNOSLASH@\napi_key: @KEY@\n", None, true, Differs::No),
        v("double trailing slash", Firewall, "api_url: @URL@/\napi_key: @KEY@\n", None, true, Differs::No),
        v("missing key", Firewall, "api_url: @URL@\n", None, true, Differs::No),
        v("missing url", Firewall, "api_key: @KEY@\n", None, true, Differs::No),
        v("installer placeholder", Firewall, "api_url: @URL@\napi_key: <API_KEY>\n", None, true, Differs::No),
        v("unregistered key", Firewall, "api_url: @URL@\napi_key: @KEY@\n", None, false, Differs::No),
        v(".local sets the key over a placeholder", Firewall, "api_url: @URL@\napi_key: <API_KEY>\n", Some("api_key: @KEY@\n"), true, Differs::No),
        v(".local null key (issue 11 #2)", Firewall, "api_url: @URL@\napi_key: @KEY@\n", Some("api_key:\n"), true, Differs::No),
        v(".local empty key", Firewall, "api_url: @URL@\napi_key: @KEY@\n", Some("api_key: ''\n"), true, Differs::No),
        v("duplicate key", Firewall, "api_url: @URL@\napi_key: @KEY@\napi_key: @KEY@\n", None, true, Differs::No),
        v("TAB indentation", Firewall, "api_url: @URL@\nnftables:\n\tipv4:\n\t\tenabled: true\napi_key: @KEY@\n", None, true, Differs::No),
        v("TLS without its files", Firewall, "api_url: @URL@\ncert_path: /nonexistent/bouncer.pem\nkey_path: /nonexistent/bouncer-key.pem\n", None, true, Differs::No),
        v("${VAR} defined in the bouncer's environment only", Firewall, "api_url: @URL@\napi_key: ${CSBE_ORACLE_KEY}\n", None, true, Differs::EnvExpansion),
        v("custom: plain", Custom, "api_url: @URL@\napi_key: @KEY@\n", None, true, Differs::No),
        v("custom: .local null key", Custom, "api_url: @URL@\napi_key: @KEY@\n", Some("api_key: ~\n"), true, Differs::No),
        v("custom: unregistered key", Custom, "api_url: @URL@\napi_key: @KEY@\n", None, false, Differs::No),
    ]
}

fn stubs(dir: &Path) -> PathBuf {
    let bin = dir.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["iptables", "ip6tables", "ipset"] {
        let p = bin.join(name);
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn last_pull(lapi: &Lapi, name: &str) -> String {
    lapi.sql()
        .query_row(
            "SELECT last_pull FROM bouncers WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn the_real_bouncers_agree_with_the_exporter() {
    let started = Instant::now();
    let lapi = Lapi::start();
    let root = tempfile::tempdir().unwrap();
    let stub_bin = stubs(root.path());
    let url = lapi.url();
    let variants = variants();
    let mut files = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let name = format!("oracle{i:02}");
        let key = format!("oracleKey{i:02}0123456789abcdefABCDEF");
        lapi.add_bouncer(
            &name,
            &if v.registered {
                key.clone()
            } else {
                format!("otherKey{i:02}0123456789abcdef")
            },
        );
        let dir = root.path().join(&name);
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join(match v.bin {
            Bin::Firewall => "crowdsec-firewall-bouncer.yaml",
            Bin::Custom => "crowdsec-custom-bouncer.yaml",
        });
        let fill = |t: &str| {
            let prefix = match v.bin {
                Bin::Firewall => FW,
                Bin::Custom => CUSTOM,
            };
            format!("{prefix}{t}")
                .replace("@URLNOSLASH@", url.trim_end_matches('/'))
                .replace("@URL@", &url)
                .replace("@KEY@", &key)
        };
        std::fs::write(&file, fill(v.main)).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        if let Some(local) = v.local {
            let local_path = dir.join(format!(
                "{}.local",
                file.file_name().unwrap().to_string_lossy()
            ));
            // The overlay holds no prefix: only what it changes.
            std::fs::write(
                &local_path,
                local.replace("@URL@", &url).replace("@KEY@", &key),
            )
            .unwrap();
        }
        files.push((name, key, file));
    }
    // Registration (and 1.4.6's creation) set last_pull: push it back, so any move is a pull.
    lapi.sql()
        .execute(
            "UPDATE bouncers SET last_pull = '2000-01-01 00:00:00+00:00'",
            [],
        )
        .unwrap();
    let before: Vec<String> = files.iter().map(|(n, _, _)| last_pull(&lapi, n)).collect();

    // The exporter's verdicts, before any bouncer runs (the checks never move last_pull).
    let source = Arc::new(
        BouncerConfigSource::new(
            vec![],
            files.iter().map(|(_, _, f)| f.clone()).collect(),
            vec![(
                "lapi".to_owned(),
                Arc::new(LapiDbSource::new(
                    LapiDbLocation::Sqlite(lapi.db.clone()),
                    Duration::from_secs(2),
                )),
            )],
            Duration::from_secs(3),
        )
        .unwrap(),
    );
    let reports = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(source.read())
        .unwrap()
        .files;
    for ((n, _, _), b) in files.iter().zip(&before) {
        assert_eq!(&last_pull(&lapi, n), b, "the checks moved {n}'s last_pull");
    }

    // The real bouncers, all at once.
    let mut procs: Vec<Proc> = variants
        .iter()
        .zip(&files)
        .map(|(v, (name, key, file))| {
            let mut cmd = Command::new(part(match v.bin {
                Bin::Firewall => "crowdsec-firewall-bouncer",
                Bin::Custom => "crowdsec-custom-bouncer",
            }));
            cmd.arg("-c")
                .arg(file)
                .env(
                    "PATH",
                    format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", stub_bin.display()),
                )
                // Only the bouncer's environment has it (the exporter's does not).
                .env("CSBE_ORACLE_KEY", key);
            Proc::spawn(&mut cmd, root.path().join(format!("{name}.log")))
        })
        .collect();
    let moved = |i: usize| last_pull(&lapi, &files[i].0) != before[i];
    // Every bouncer pulls at once on start, then every second: wait until each has pulled or exited, 10 s at most.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let settled = (0..procs.len())
            .all(|i| moved(i) || procs[i].child.try_wait().ok().flatten().is_some());
        if settled || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // The ones still running got at least 3 of their 1 s periods.
    std::thread::sleep(Duration::from_millis(500));
    let mut table = String::new();
    let mut wrong = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let report = reports
            .iter()
            .find(|r| r.path == files[i].2)
            .unwrap_or_else(|| panic!("{}: no report", v.name));
        let pulled = moved(i);
        let verdict = report.verdict();
        table.push_str(&format!(
            "{:<52} bouncer pulled: {pulled:<5} exporter valid: {verdict:?} ({:?})\n",
            v.name, v.differs
        ));
        let agrees = match v.differs {
            Differs::No => verdict == Some(pulled),
            // The old build sends `${CSBE_ORACLE_KEY}` literally (403); today's expand it; the exporter warns.
            Differs::EnvExpansion => {
                !pulled
                    && verdict == Some(true)
                    && report
                        .checks
                        .iter()
                        .any(|c| c.detail.contains("comes from the bouncer's environment"))
            }
        };
        if !agrees {
            wrong.push(format!(
                "{}: {:#?}\n--- bouncer log:\n{}",
                v.name,
                report,
                procs[i].log_text()
            ));
        }
    }
    for p in &mut procs {
        p.kill();
    }
    eprintln!("{table}oracle test took {:?}", started.elapsed());
    assert!(
        wrong.is_empty(),
        "{table}\nthe exporter disagrees with the real bouncer:\n{}",
        wrong.join("\n")
    );
    // The oracle really ran: the good files pulled, the broken ones did not.
    assert!(moved(0) && !moved(3), "{table}");
}
