//! Properties of the `--web.config.file` reader (`web::web_config::load`): no panic on any file; a secret planted where
//! the file holds one (an inline TLS key, a basic-auth bcrypt hash), well-formed or broken, never reaches the
//! error text nor the loaded config's `Debug`.

use proptest::prelude::*;

use crowdsec_bouncer_exporter::web::web_config::load;

fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{20}".prop_map(|s| format!("S3cr3t{s}"))
}

fn line(secret: String) -> impl Strategy<Value = String> {
    let s = secret;
    prop_oneof![
        Just("tls_server_config:".to_owned()),
        Just(format!("  key: {s}")),
        Just(format!("  key: \"{s}")),
        Just(format!("  key: [{s}]")),
        Just(format!("  key: {{a: {s}}}")),
        Just(format!("  key: |\n    {s}")),
        Just("  cert: not a pem".to_owned()),
        Just("  cert_file: /nonexistent/c.pem".to_owned()),
        Just("  client_auth_type: RequireAndVerifyClientCert".to_owned()),
        Just("  min_version: TLS10".to_owned()),
        Just("  unknown_key: 1".to_owned()),
        Just("basic_auth_users:".to_owned()),
        Just(format!("  alice: {s}")),
        Just(format!("  alice: \"$2y$10${s}\"")),
        Just(format!("  bob: [{s}]")),
        Just(format!("  alice: {s}\n  alice: {s}")),
        Just(format!("basic_auth_users: {s}")),
        Just(format!("  \"a:b\": {s}")),
        Just("http_server_config:\n  headers:\n    X-Frame-Options: deny".to_owned()),
        Just("rate_limit:\n  interval: soon".to_owned()),
        Just("\tkey: x".to_owned()),
        Just("&a [*a]".to_owned()),
        Just("---".to_owned()),
        "[ -~]{0,24}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_planted_secret_is_never_shown(
        (secret, lines) in secret().prop_flat_map(|s| (Just(s.clone()), prop::collection::vec(line(s), 0..8)))
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, lines.join("\n")).unwrap();
        let shown = match load(&path) {
            Ok(cfg) => format!("{cfg:?}"),
            Err(e) => format!("{e} {e:?}"),
        };
        prop_assert!(!shown.contains(&secret), "shows the secret: {}", shown);
    }

    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, bytes).unwrap();
        let _ = load(&path);
    }
}
