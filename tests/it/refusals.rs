//! Issue 23 rows 9 and 10: what can never work is refused at start and by `--config.check`, and what was refused
//! is named.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter");

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("CROWDSEC_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Row 9: `postgres://…?sslmode=bogus` passed --config.check (exit 0), then every read failed. The same for
/// MySQL's `tls=` and for the config file's `lapis[].db`.
#[test]
fn a_dsn_option_the_connection_would_refuse_is_refused_by_config_check() {
    let dir = tempfile::tempdir().unwrap();
    for dsn in [
        "postgres://crowdsec:pw@127.0.0.1:5432/crowdsec?sslmode=bogus",
        "mysql://crowdsec:pw@127.0.0.1:3306/crowdsec?tls=bogus",
    ] {
        let (code, _, stderr) = run(&["--config.check", "--lapi.db", dsn]);
        assert_eq!(code, Some(1), "{dsn}: {stderr}");
        assert!(stderr.contains("--lapi.db"), "{stderr}");
        assert!(stderr.contains(r#"unknown TLS mode "bogus""#), "{stderr}");
        // Start-up refuses it the same way instead of serving a source that always fails.
        let (code, _, stderr) = run(&["--lapi.db", dsn, "--web.listen-address", "127.0.0.1:0"]);
        assert_eq!(code, Some(1), "{dsn}: {stderr}");
        assert!(stderr.contains("unknown TLS mode"), "{stderr}");
    }
    let file = dir.path().join("exporter.yml");
    std::fs::write(
        &file,
        "lapis:\n  - name: pg\n    db: postgres://crowdsec@127.0.0.1:5432/crowdsec?sslmode=bogus\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&[
        "--config.check",
        "--config.file",
        &file.display().to_string(),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("unknown TLS mode"), "{stderr}");
}

/// The "billion laughs": 9 aliases per level, 9 levels.
fn alias_bomb() -> String {
    let mut text = format!("a: &a [{}]\n", ["\"lol\""; 9].join(","));
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let items = vec![format!("*{}", w[0]); 9].join(",");
        text.push_str(&format!("{}: &{} [{items}]\n", w[1], w[1]));
    }
    text
}

/// Row 10: an alias bomb gave "syntax error at line 0, column 0"; now the refusal says what it refused, for a
/// bouncer file and for CrowdSec's config.
#[test]
fn an_alias_bomb_is_named_not_called_a_syntax_error() {
    let dir = tempfile::tempdir().unwrap();
    let bouncers = dir.path().join("bouncers");
    std::fs::create_dir(&bouncers).unwrap();
    std::fs::write(
        bouncers.join("crowdsec-firewall-bouncer.yaml"),
        alias_bomb() + "api_url: http://127.0.0.1:8080/\napi_key: 0123456789abcdef\n",
    )
    .unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, alias_bomb()).unwrap();
    let (_, stdout, stderr) = run(&[
        "--crowdsec.config",
        &config.display().to_string(),
        "--bouncers.config-dir",
        &bouncers.display().to_string(),
        "diagnose",
    ]);
    assert!(!stdout.contains("line 0, column 0"), "{stdout}");
    assert!(
        stdout.contains("FAIL parses: is not read: refused: its aliases (`*name`) expand past the YAML reader's repetition limit (an alias bomb?)"),
        "the bouncer file: {stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "CrowdSec config {} is not valid YAML: refused: its aliases",
            config.display()
        )),
        "CrowdSec's config: {stdout} {stderr}"
    );
}
