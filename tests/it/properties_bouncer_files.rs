//! Properties of the bouncer configuration parser (`bouncer_config::parse::parse`) for every kind, with and
//! without a `.local` overlay: no panic on any input; the key planted in the file (as the kind's key, a
//! password, a hash, through an environment variable) never reaches an error text nor a `Debug` print; a file at
//! the reader's size cap is read and parsed in bounded time (the test would hang otherwise; no timing asserts).

use proptest::prelude::*;

use crowdsec_bouncer_exporter::crowdsec::bouncer_files::parse::parse;
use crowdsec_bouncer_exporter::crowdsec::bouncer_files::{
    read_capped, Kind, ReadError, MAX_FILE_BYTES,
};

const KINDS: [Kind; 8] = [
    Kind::Go,
    Kind::Cloudflare,
    Kind::CrowdsecConfig,
    Kind::Lua,
    Kind::LuaHaproxy,
    Kind::Apache,
    Kind::Traefik,
    Kind::Caddy,
];

fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{20}".prop_map(|s| format!("S3cr3t{s}"))
}

/// Lines every kind's file may hold: its keys, the other kinds' keys, comments (raw and indented), a BOM, CRLF
/// pieces, quotes, tabs, YAML anchors and flow syntax, installer placeholders, and the planted secret in the
/// places a key, password or hash goes (also broken: an unterminated quote or bracket).
fn line(secret: String) -> impl Strategy<Value = String> {
    let s = secret;
    prop_oneof![
        Just(format!("api_key: {s}")),
        Just(format!("api_key: \"{s}")),
        Just(format!("api_key: [{s}")),
        Just(format!("api_key: {{k: {s}}}")),
        Just(format!("api_key: &k {s}")),
        Just(format!("api_key:\n  - {s}")),
        Just(format!("crowdsec_lapi_key: {s}")),
        Just(format!("crowdsec_config:\n  lapi_key: {s}")),
        Just(format!("  lapi_key: \"{s}\"")),
        Just(format!("password: {s}")),
        Just(format!("\tapi_key: {s}")),
        Just(format!("API_KEY={s}")),
        Just(format!("API_KEY=\"{s}\"   # prod key")),
        Just(format!("API_KEY = {s}\r")),
        Just(format!("\u{feff}API_KEY={s}")),
        Just(format!("CrowdsecAPIKey {s}")),
        Just(format!("CrowdsecAPIKey \"{s}")),
        // Traefik's dynamic configuration with the plugin's middleware (issue 20), the key in several spellings.
        Just(format!("http:\n  middlewares:\n    cs:\n      plugin:\n        bouncer:\n          crowdsecLapiKey: {s}")),
        Just(format!("http:\n  middlewares:\n    cs:\n      plugin:\n        bouncer:\n          CROWDSECLAPIKEY: \"{s}\"\n          enabled: true")),
        Just(format!("          crowdsecLapiKey: '{s}\"'")),
        Just("          crowdsecLapiKeyFile: /run/secrets/lapi".to_owned()),
        Just("        bouncer:\n          crowdsecLapiHost: 127.0.0.1:8080\n          crowdsecMode: alone".to_owned()),
        Just("http:\n  routers: {}".to_owned()),
        Just("[http.middlewares.cs.plugin.bouncer]".to_owned()),
        Just(format!("crowdsecLapiKey = \"{s}\"")),
        Just(format!("crowdsecLapiKey = \"{s}")),
        Just(format!("crowdsecLapiKey = '{s}' # c")),
        Just(format!("{s} = 1")),
        // Caddy's global option and JSON (issue 20), the key quoted, in a placeholder, misspelt, unterminated.
        Just(format!("{{\n  crowdsec {{\n    api_key {s}\n  }}\n}}")),
        Just(format!("  crowdsec {{\n    api_key \"{s}")),
        Just(format!("    apikey {s}")),
        Just(format!("    api_url http://{s}")),
        Just(format!("    api_key `{s}` # c")),
        Just("    api_key {env.API_KEY}".to_owned()),
        Just("    api_key {$SECRET_FROM_ENV:x}".to_owned()),
        Just(format!("{{\"apps\": {{\"crowdsec\": {{\"api_key\": \"{s}\"}}}}}}")),
        Just("}".to_owned()),
        Just("api_key: ${API_KEY}".to_owned()),
        Just("api_key: $SECRET_FROM_ENV".to_owned()),
        Just("API_KEY=${API_KEY}".to_owned()),
        Just("api_url: http://127.0.0.1:8080/".to_owned()),
        Just("api_url:".to_owned()),
        Just("api_url: ~".to_owned()),
        Just("cert_path: /etc/c.pem\nkey_path: /etc/k.pem".to_owned()),
        Just("API_URL=http://127.0.0.1:8080".to_owned()),
        Just("USE_TLS_AUTH=true".to_owned()),
        Just("ENABLED=false".to_owned()),
        Just("CrowdsecURL http://127.0.0.1:8080".to_owned()),
        Just("# comment".to_owned()),
        Just("  # indented comment".to_owned()),
        Just("crowdsec_config:".to_owned()),
        Just("---".to_owned()),
        Just("&a [*a, *a]".to_owned()),
        Just("<API_KEY>".to_owned()),
        Just(String::new()),
        "[ -~]{0,30}",
        "\\PC{0,10}",
    ]
}

fn file_text(secret: String) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(line(secret), 0..10),
        prop_oneof![Just("\n"), Just("\r\n")],
    )
        .prop_map(|(lines, eol)| lines.join(eol).into_bytes())
}

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(KINDS.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any bytes, any kind, with or without an overlay: no panic.
    #[test]
    fn any_bytes_never_panic(
        kind in kind(),
        main in prop::collection::vec(any::<u8>(), 0..300),
        overlay in prop::option::of(prop::collection::vec(any::<u8>(), 0..100)),
    ) {
        let _ = parse(kind, &main, overlay.as_deref(), &|_| None);
    }

    /// Files made of the lines bouncers' files hold, the key planted among them (also through the bouncer's
    /// environment): no panic; the key is in no error and in no `Debug` print of what was parsed (only a URL or
    /// a path the file itself put the text in could show it, and those are not where it was planted).
    #[test]
    fn the_planted_key_is_never_shown(
        (secret, kind, main, overlay) in secret().prop_flat_map(|s| {
            (Just(s.clone()), kind(), file_text(s.clone()), prop::option::of(file_text(s)))
        })
    ) {
        let env_secret = secret.clone();
        let env = move |name: &str| match name {
            "API_KEY" | "SECRET_FROM_ENV" => Some(env_secret.clone()),
            _ => None,
        };
        match parse(kind, &main, overlay.as_deref(), &env) {
            Err(e) => {
                let text = format!("{e} {e:?}");
                prop_assert!(!text.contains(&secret), "error shows the key: {}", text);
            }
            Ok((_, parsed)) => {
                // Everything but the URL and TLS paths, which show what the file put there.
                let shown = format!(
                    "{:?}",
                    crowdsec_bouncer_exporter::crowdsec::bouncer_files::Parsed {
                        api_url: None,
                        tls: None,
                        ..parsed
                    }
                );
                prop_assert!(!shown.contains(&secret), "parse result shows the key: {}", shown);
            }
        }
    }
}

/// A file one byte over the cap is refused by the reader, whatever it holds.
#[test]
fn the_reader_refuses_a_file_over_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crowdsec-firewall-bouncer.yaml");
    std::fs::write(&path, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
    assert_eq!(
        read_capped(&path),
        Err(ReadError::TooLarge(MAX_FILE_BYTES + 1))
    );
}

/// `fill(unit)`: `unit` repeated up to exactly the reader's cap.
fn at_cap(unit: &str) -> String {
    let cap = MAX_FILE_BYTES as usize;
    let mut s = unit.repeat(cap / unit.len() + 1);
    s.truncate(cap);
    s
}

/// Writes `text` and reads it back through the capped reader, as the checks do.
fn through_the_reader(text: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crowdsec-firewall-bouncer.yaml");
    std::fs::write(&path, text).unwrap();
    read_capped(&path).unwrap()
}

/// Pathological files exactly at the cap are read and parsed to an answer: an alias bomb (billion laughs), 1 MiB
/// of keys, one huge line, a huge value, block nesting, 1 MiB of `KEY=VALUE` or directive lines. The YAML kinds
/// share one YAML path, so it runs once (as Go, with the file as its own overlay where that stays quick);
/// every kind reads the line formats.
#[test]
fn files_at_the_cap_are_parsed_in_bounded_time() {
    let cap = MAX_FILE_BYTES as usize;
    let mut bomb = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..30 {
        let p = i - 1;
        bomb.push_str(&format!(
            "l{i}: &l{i} [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]\n"
        ));
    }
    let mut keys = String::new();
    for i in 0.. {
        let l = format!("k{i}: v\n");
        if keys.len() + l.len() > cap {
            break;
        }
        keys.push_str(&l);
    }
    let yaml = [
        (bomb, true),
        (keys, false),
        (at_cap("- "), true),
        (at_cap("x"), true),
        (format!("api_key: {}", at_cap("k"))[..cap].to_owned(), true),
    ];
    for (text, with_overlay) in &yaml {
        let bytes = through_the_reader(text);
        let overlay = with_overlay.then_some(bytes.as_slice());
        let _ = parse(Kind::Go, &bytes, overlay, &|_| None);
    }
    for text in [
        at_cap("API_KEY=a\n"),
        at_cap("CrowdsecAPIKey a\n"),
        format!("{{\n crowdsec {{\n{}", at_cap("  api_key a\n"))[..MAX_FILE_BYTES as usize]
            .to_owned(),
        at_cap("{\"apps\": "),
        at_cap("x"),
    ] {
        let bytes = through_the_reader(&text);
        for kind in [Kind::Lua, Kind::LuaHaproxy, Kind::Apache, Kind::Caddy] {
            let _ = parse(kind, &bytes, Some(&bytes), &|_| None);
        }
    }
}

/// Deeply nested YAML flow collections at the cap must be refused or parsed in bounded time too. serde_yaml_ng
/// (libyaml's scanner) is quadratic in flow depth, measured in a debug build at 16/32/64/128 KiB of `{a: ` as
/// 0.8/1.9/8.0/34.6 s, and 1 MiB of `[` as 85 s; it refuses nesting past 128 anyway, so src/values/yaml.rs refuses deeper
/// text before parsing (same answer). Without that check this test runs for tens of minutes.
#[test]
fn deeply_nested_flow_yaml_at_the_cap_is_parsed_in_bounded_time() {
    for unit in ["[", "{a: "] {
        let bytes = through_the_reader(&at_cap(unit));
        let _ = parse(Kind::Go, &bytes, None, &|_| None);
    }
    // Traefik's TOML form: nested arrays and inline tables at the cap, refused or parsed, no stack overflow.
    for text in [
        format!("a = {}", at_cap("[")),
        format!("a = {}", at_cap("{b = ")),
        at_cap("[a.b]\n"),
    ] {
        let bytes = through_the_reader(&text[..MAX_FILE_BYTES as usize]);
        let _ = parse(Kind::Traefik, &bytes, None, &|_| None);
    }
}
