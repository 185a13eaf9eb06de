//! Bouncer configuration checks, table-driven: one file (and sometimes a `.local`, `.id`, symlink...) per case,
//! for every bouncer kind, good and broken, checked by the real `bouncer_config` source against a SQLite LAPI
//! database and a local `/health` endpoint that records every request it gets (none may carry a key).

use crate::common;
use crate::fake_service_api;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use crowdsec_bouncer_exporter::crowdsec::bouncer_files::checks::{
    key_hash, Check, FileReport, Status,
};
use crowdsec_bouncer_exporter::crowdsec::bouncer_files::Kind;
use crowdsec_bouncer_exporter::settings::LapiDbLocation;
use crowdsec_bouncer_exporter::sources::bouncer_config::BouncerConfigSource;
use crowdsec_bouncer_exporter::sources::lapi_db::LapiDbSource;
use crowdsec_bouncer_exporter::values::secret::Secret;

const GOOD: &str = "goodKey0123456789abcdefABCDEFgh";
const TLS_BOUNCER: &str = "tls-fw";

/// A `/health` endpoint on 127.0.0.1 that keeps every request's head.
struct Health {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

fn health_server() -> Health {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let ok = head.starts_with("GET /health ");
            seen.lock().unwrap().push(head);
            let body = if ok { r#"{"status":"up"}"# } else { "404" };
            let status = if ok { "200 OK" } else { "404 Not Found" };
            let _ = write!(
                &stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Health { port, requests }
}

/// What a case writes next to its file.
#[derive(Clone, Copy)]
enum Extra {
    None,
    Local(&'static str),
    Id(&'static str),
    Mode(u32),
    /// 100 MB (sparse): too large to be a configuration.
    Huge,
    /// The file is a symlink to itself through another.
    SymlinkLoop,
    /// The file is a symlink to nothing.
    Dangling,
    /// The file is a symlink to a folder.
    ToDir,
    /// TLS files: cert (CN `tls-fw`) and key written next to it (`@DIR@` in the text).
    TlsFiles,
    /// The same, with a certificate that expired.
    ExpiredTls,
}

struct Case {
    name: &'static str,
    file: &'static str,
    /// `@PORT@` = the health server, `@GOOD@` = the registered key, `@DIR@` = the case's folder.
    text: &'static [u8],
    extra: Extra,
    valid: bool,
    bouncer: &'static str,
    expect: &'static [(Check, Status)],
    /// Words a non-passing check's detail must hold (issue 11's "right" column), or "".
    says: &'static str,
}

use Check::*;
use Status::*;

/// Traefik and Caddy: endpoint_reachable only (host evidence), no deprecated lapi_reachable.
const PLUGIN_OK: &[(Check, Status)] = &[
    (Readable, Pass),
    (Parses, Pass),
    (ApiUrl, Pass),
    (ApiKey, Pass),
    (KeyRegistered, Pass),
    (EndpointReachable, Pass),
    (Permissions, Pass),
];

const GO_OK: &[(Check, Status)] = &[
    (Readable, Pass),
    (Parses, Pass),
    (ApiUrl, Pass),
    (ApiKey, Pass),
    (KeyRegistered, Pass),
    (LapiReachable, Pass),
    (Permissions, Pass),
];

fn cases() -> Vec<Case> {
    vec![
        Case { name: "go good", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\nupdate_frequency: 10s\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK, says: "" },
        Case { name: "go without trailing slash is fine (the bouncer adds it)", file: "crowdsec-custom-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@\napi_key: '@GOOD@'\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK, says: "" },
        Case { name: "go env var defined", file: "crowdsec-custom-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: ${CSBE_TEST_KEY}\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK, says: "" },
        // Issue 11 #8: Go bouncers expand from their own environment; undefined for the exporter is not an error.
        Case { name: "go env var undefined for the exporter", file: "crowdsec-custom-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: ${CSBE_TEST_UNSET}\n", extra: Extra::None, valid: true, bouncer: "", expect: &[(ApiKey, Warn), (LapiReachable, Pass)], says: "comes from the bouncer's environment" },
        Case { name: "go url from an undefined variable", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: ${CSBE_TEST_UNSET_URL}\napi_key: @GOOD@\n", extra: Extra::None, valid: true, bouncer: "fw", expect: &[(ApiUrl, Warn), (KeyRegistered, Pass)], says: "comes from the bouncer's environment" },
        Case { name: "go placeholder key", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: <API_KEY>\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiUrl, Pass), (ApiKey, Fail), (LapiReachable, Pass)], says: "" },
        Case { name: "go unknown key", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: notRegistered0123456789abcdef\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiKey, Pass), (KeyRegistered, Fail), (LapiReachable, Pass)], says: "" },
        Case { name: "go missing url", file: "crowdsec-firewall-bouncer.yaml", text: b"api_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail), (KeyRegistered, Pass)], says: "" },
        Case { name: "go ftp url", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: ftp://127.0.0.1:@PORT@/\napi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail)], says: "" },
        Case { name: "go url without host", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: 'http://:8080/'\napi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail)], says: "" },
        Case { name: "go relative url", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: 127.0.0.1:8080\napi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail)], says: "" },
        Case { name: "go LAPI not listening", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:1/\napi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Pass), (KeyRegistered, Pass), (LapiReachable, Fail)], says: "" },
        Case { name: "go broken yaml", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: [http://x\napi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Readable, Pass), (Parses, Fail)], says: "" },
        Case { name: "go not a mapping", file: "crowdsec-firewall-bouncer.yaml", text: b"- a\n- b\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail)], says: "" },
        Case { name: "binary file", file: "crowdsec-firewall-bouncer.yaml", text: b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe", extra: Extra::None, valid: false, bouncer: "", expect: &[(Readable, Pass), (Parses, Fail)], says: "" },
        Case { name: "invalid utf-8", file: "crowdsec-nginx-bouncer.conf", text: b"API_URL=http://\xff\xfe\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail)], says: "" },
        Case { name: "empty file", file: "crowdsec-firewall-bouncer.yaml", text: b"", extra: Extra::None, valid: false, bouncer: "", expect: &[(Readable, Pass), (Parses, Fail)], says: "" },
        Case { name: "empty lua file", file: "crowdsec-nginx-bouncer.conf", text: b"\n\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail)], says: "" },
        Case { name: "100 MB file", file: "crowdsec-firewall-bouncer.yaml", text: b"", extra: Extra::Huge, valid: false, bouncer: "", expect: &[(Readable, Fail)], says: "" },
        Case { name: "symlink loop", file: "crowdsec-firewall-bouncer.yaml", text: b"", extra: Extra::SymlinkLoop, valid: false, bouncer: "", expect: &[(Readable, Fail)], says: "" },
        Case { name: "dangling symlink", file: "crowdsec-firewall-bouncer.yaml", text: b"", extra: Extra::Dangling, valid: false, bouncer: "", expect: &[(Readable, Fail)], says: "" },
        Case { name: "symlink to a folder", file: "crowdsec-firewall-bouncer.yaml", text: b"", extra: Extra::ToDir, valid: false, bouncer: "", expect: &[(Readable, Fail)], says: "" },
        Case { name: "world-readable key is a warning, still valid", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\n", extra: Extra::Mode(0o644), valid: true, bouncer: "fw", expect: &[(KeyRegistered, Pass), (Permissions, Warn)], says: "" },
        Case { name: ".local fixes a placeholder", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: ${API_KEY}\n", extra: Extra::Local("api_key: @GOOD@\n"), valid: true, bouncer: "fw", expect: GO_OK, says: "" },
        Case { name: ".local breaks the url", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\n", extra: Extra::Local("api_url: ftp://nowhere/\n"), valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail), (KeyRegistered, Pass)], says: "" },
        Case { name: ".local with broken yaml", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\n", extra: Extra::Local("api_key: [\n"), valid: false, bouncer: "", expect: &[(Parses, Fail)], says: "" },
        Case { name: "go TLS files present, named by .id", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\ncert_path: @DIR@/bouncer.pem\nkey_path: @DIR@/bouncer-key.pem\n", extra: Extra::TlsFiles, valid: true, bouncer: TLS_BOUNCER, expect: &[(ApiUrl, Pass), (TlsFiles, Pass)], says: "" },
        Case { name: "go TLS files missing", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\ncert_path: @DIR@/nope.pem\nkey_path: @DIR@/nope-key.pem\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(TlsFiles, Fail)], says: "" },
        Case { name: ".id names a deleted bouncer", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\ncert_path: @DIR@/bouncer.pem\nkey_path: @DIR@/bouncer-key.pem\n", extra: Extra::Id("gone"), valid: false, bouncer: "", expect: &[(TlsFiles, Fail)], says: "" },
        Case { name: "blocklist integration URL: no LAPI key check, no request", file: "crowdsec-custom-bouncer.yaml", text: b"api_url: https://admin.api.crowdsec.net/v1/integrations/0123456789abcdef01234567/\napi_key: someIntegrationKey123\n", extra: Extra::Mode(0o600), valid: true, bouncer: "", expect: &[(ApiUrl, Pass), (ApiKey, Pass), (Permissions, Pass)], says: "" },
        Case { name: "cloudflare good", file: "crowdsec-cloudflare-bouncer.yaml", text: b"crowdsec_lapi_url: http://127.0.0.1:@PORT@/\ncrowdsec_lapi_key: @GOOD@\ncrowdsec_update_frequency: 10s\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK, says: "" },
        Case { name: "cloudflare missing key", file: "crowdsec-cloudflare-bouncer.yaml", text: b"crowdsec_lapi_url: http://127.0.0.1:@PORT@/\ncrowdsec_lapi_key: ''\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiUrl, Pass), (ApiKey, Fail)], says: "" },
        Case { name: "blocklist mirror good", file: "crowdsec-blocklist-mirror.yaml", text: b"crowdsec_config:\n  lapi_url: http://127.0.0.1:@PORT@/\n  lapi_key: @GOOD@\n  update_frequency: 10s\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK, says: "" },
        Case { name: "cloudflare worker key from the environment", file: "crowdsec-cloudflare-worker-bouncer.yaml", text: b"crowdsec_config:\n  lapi_url: http://127.0.0.1:@PORT@/\n  lapi_key: ${CSBE_TEST_UNSET}\n", extra: Extra::None, valid: true, bouncer: "", expect: &[(ApiKey, Warn)], says: "comes from the bouncer's environment" },
        Case { name: "cloudflare worker installer placeholder", file: "crowdsec-cloudflare-worker-bouncer.yaml", text: b"crowdsec_config:\n  lapi_url: http://127.0.0.1:@PORT@/\n  lapi_key: <API_KEY>\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiKey, Fail)], says: "no key was generated at install time" },
        Case { name: "nginx good", file: "crowdsec-nginx-bouncer.conf", text: b"# comment\nAPI_URL=http://127.0.0.1:@PORT@\nAPI_KEY=@GOOD@\nMODE=stream\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK, says: "" },
        Case { name: "nginx line without = stops the bouncer's reading", file: "crowdsec-nginx-bouncer.conf", text: b"API_URL=http://127.0.0.1:@PORT@\nthis line breaks it\nAPI_KEY=@GOOD@\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail), (ApiUrl, Pass), (ApiKey, Fail)], says: "line 2 has no `=`; the bouncer ignores everything after it" },
        // Issue 11 #3: only a `#` in the first column is a comment.
        Case { name: "nginx indented comment stops the reading", file: "crowdsec-nginx-bouncer.conf", text: b"API_URL=http://127.0.0.1:@PORT@\n  # c\nAPI_KEY=@GOOD@\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail), (ApiKey, Fail)], says: "line 2 has no `=`; the bouncer ignores everything after it" },
        // Issue 11 #4: `.conf.local` overrides key by key (lua-cs-bouncer >= 1.0.7).
        Case { name: "nginx .local supplies url and key", file: "crowdsec-nginx-bouncer.conf", text: b"API_URL=\nAPI_KEY=\n", extra: Extra::Local("API_URL=http://127.0.0.1:@PORT@\nAPI_KEY=@GOOD@\n"), valid: true, bouncer: "fw", expect: GO_OK, says: "" },
        // Issue 11 #10: quotes and comment are sent with the key.
        Case { name: "nginx quoted key with inline comment", file: "crowdsec-nginx-bouncer.conf", text: b"API_URL=http://127.0.0.1:@PORT@\nAPI_KEY=\"@GOOD@\"   # prod key\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiKey, Fail)], says: "sends them literally" },
        // R2-08 (a): the BOM hides ENABLED=false from the bouncer; CRLF is harmless.
        Case { name: "nginx BOM and CRLF", file: "crowdsec-openresty-bouncer.conf", text: b"\xef\xbb\xbfENABLED=false\r\nAPI_URL=http://127.0.0.1:@PORT@\r\nAPI_KEY=@GOOD@\r\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK, says: "" },
        // R2-08 (d): Nginx Proxy Manager's default file is a disabled bouncer, not a broken one.
        Case { name: "nginx disabled", file: "crowdsec-openresty-bouncer.conf", text: b"#Enables/Disables the Proxy (true|false)\nENABLED=false\n#URL to the crowdsec api\nAPI_URL=\n#APIKEY to the crowdsec api\nAPI_KEY=\n", extra: Extra::None, valid: true, bouncer: "", expect: &[(Readable, Pass), (Parses, Pass)], says: "" },
        // R2-09: mTLS, no key needed.
        Case { name: "openresty mTLS with an empty key", file: "crowdsec-openresty-bouncer.conf", text: b"ENABLED=true\nAPI_URL=http://127.0.0.1:@PORT@\nAPI_KEY=\nUSE_TLS_AUTH=true\nTLS_CLIENT_CERT=@DIR@/bouncer.pem\nTLS_CLIENT_KEY=@DIR@/bouncer-key.pem\n", extra: Extra::TlsFiles, valid: true, bouncer: TLS_BOUNCER, expect: &[(TlsFiles, Pass), (ApiUrl, Pass)], says: "" },
        Case { name: "go expired client certificate", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\ncert_path: @DIR@/bouncer.pem\nkey_path: @DIR@/bouncer-key.pem\n", extra: Extra::ExpiredTls, valid: false, bouncer: TLS_BOUNCER, expect: &[(TlsFiles, Fail)], says: "expired" },
        // Issue 11 #2: an explicit null or empty api_key in `.local` clears the key.
        Case { name: "go .local clears the key (null)", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\n", extra: Extra::Local("api_key:\n"), valid: false, bouncer: "", expect: &[(ApiKey, Fail)], says: "refuses to start" },
        Case { name: "go .local clears the key (empty)", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\n", extra: Extra::Local("api_key: \"\"\n"), valid: false, bouncer: "", expect: &[(ApiKey, Fail)], says: "refuses to start" },
        Case { name: "go .local of another shape", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\n", extra: Extra::Local("api_key:\n  - a\n"), valid: false, bouncer: "", expect: &[(Parses, Fail)], says: "can't merge a sequence into a scalar at api_key" },
        Case { name: "go duplicate key", file: "crowdsec-firewall-bouncer.yaml", text: b"api_url: http://127.0.0.1:@PORT@/\napi_key: @GOOD@\napi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail)], says: "duplicate key" },
        Case { name: "go tab indentation", file: "crowdsec-blocklist-mirror.yaml", text: b"crowdsec_config:\n\tlapi_url: http://127.0.0.1:@PORT@/\n\tlapi_key: @GOOD@\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail)], says: "TAB at line 2" },
        // R2-10: without an old version on the linked row, a trailing slash is no finding (see link tests).
        Case { name: "nginx trailing slash, version unknown", file: "crowdsec-nginx-bouncer.conf", text: b"API_URL=http://127.0.0.1:@PORT@//\nAPI_KEY=@GOOD@\n", extra: Extra::None, valid: true, bouncer: "fw", expect: &[(ApiUrl, Pass), (KeyRegistered, Pass), (LapiReachable, Pass)], says: "" },
        Case { name: "openresty: no env expansion in Lua files", file: "crowdsec-openresty-bouncer.conf", text: b"API_URL=http://127.0.0.1:@PORT@\nAPI_KEY=${CSBE_TEST_KEY}\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiKey, Fail)], says: "" },
        Case { name: "nginx missing url", file: "crowdsec-nginx-bouncer.conf", text: b"API_KEY=@GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail), (KeyRegistered, Pass)], says: "" },
        Case { name: "haproxy: URL lives in haproxy.cfg", file: "crowdsec-haproxy-bouncer.conf", text: b"API_KEY=@GOOD@\nUPDATE_FREQUENCY=10\n", extra: Extra::None, valid: true, bouncer: "fw", expect: &[(ApiKey, Pass), (KeyRegistered, Pass)], says: "" },
        // Issue 20 #1-#3: cs-haproxy-bouncer's own reader (lib/plugins/crowdsec/config.lua at 031e1e3, see
        // src/crowdsec/bouncer_files/parse/haproxy.rs): no trimming, lines without `=` skipped, no URL.
        Case { name: "haproxy CRLF key (issue 20 #1)", file: "crowdsec-haproxy-bouncer.conf", text: b"ENABLED=true\r\nAPI_KEY=@GOOD@\r\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Pass), (ApiKey, Fail)], says: "ends with a carriage return" },
        Case { name: "haproxy spaces around = (issue 20 #1)", file: "crowdsec-haproxy-bouncer.conf", text: b"API_KEY = @GOOD@\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Pass), (ApiKey, Fail)], says: "no space around `=`" },
        Case { name: "haproxy line without = (issue 20 #2)", file: "crowdsec-haproxy-bouncer.conf", text: b"ENABLED=true\nhaproxy\nAPI_KEY=@GOOD@\n", extra: Extra::None, valid: true, bouncer: "fw", expect: &[(Parses, Pass), (ApiKey, Pass), (KeyRegistered, Pass)], says: "" },
        Case { name: "haproxy API_URL never probed (issue 20 #3)", file: "crowdsec-haproxy-bouncer.conf", text: b"API_URL=http://127.0.0.1:1/\nAPI_KEY=@GOOD@\n", extra: Extra::None, valid: true, bouncer: "fw", expect: &[(ApiKey, Pass), (KeyRegistered, Pass)], says: "" },
        // The Traefik plugin (maxlerebourg/crowdsec-bouncer-traefik-plugin 9b8d6b93): a middleware of Traefik's
        // dynamic configuration (src/crowdsec/bouncer_files/parse/traefik.rs).
        Case { name: "traefik plugin good", file: "dynamic.yml", text: b"http:\n  routers:\n    web:\n      rule: Host(`x`)\n      middlewares: [crowdsec]\n      service: s\n  middlewares:\n    crowdsec:\n      plugin:\n        bouncer:\n          enabled: true\n          crowdsecMode: stream\n          crowdsecLapiHost: 127.0.0.1:@PORT@\n          crowdsecLapiKey: @GOOD@\n", extra: Extra::None, valid: true, bouncer: "fw", expect: PLUGIN_OK, says: "" },
        Case { name: "traefik plugin in TOML", file: "dynamic.toml", text: b"[http.middlewares.crowdsec.plugin.bouncer]\n  enabled = true\n  crowdsecLapiHost = \"127.0.0.1:@PORT@\"\n  crowdsecLapiKey = \"@GOOD@\"\n", extra: Extra::None, valid: true, bouncer: "fw", expect: PLUGIN_OK, says: "" },
        Case { name: "traefik broken TOML", file: "dynamic.toml", text: b"[http.middlewares.crowdsec.plugin.bouncer]\n  crowdsecLapiKey = \"@GOOD@\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail)], says: "not valid TOML (syntax error at line 2)" },
        Case { name: "traefik only crowdsecLapiKey (issue 20 #6)", file: "traefik-dynamic.yaml", text: b"http:\n  middlewares:\n    crowdsec:\n      plugin:\n        bouncer:\n          crowdsecLapiKey: @GOOD@\n", extra: Extra::None, valid: true, bouncer: "", expect: &[(Readable, Pass), (Parses, Pass)], says: "" },
        Case { name: "traefik key from a file", file: "dynamic.yml", text: b"http:\n  middlewares:\n    cs:\n      plugin:\n        crowdsec-bouncer-traefik-plugin:\n          enabled: true\n          crowdsecLapiHost: 127.0.0.1:@PORT@\n          crowdsecLapiKeyFile: /run/secrets/crowdsec_key\n", extra: Extra::None, valid: true, bouncer: "", expect: &[(ApiKey, Warn), (EndpointReachable, Pass)], says: "comes from crowdsecLapiKeyFile (/run/secrets/crowdsec_key)" },
        Case { name: "traefik unknown key, LAPI down", file: "dynamic.yml", text: b"http:\n  middlewares:\n    cs:\n      plugin:\n        bouncer:\n          enabled: true\n          crowdsecLapiHost: 127.0.0.1:1\n          crowdsecLapiKey: notRegistered0123456789abcdef\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiUrl, Pass), (KeyRegistered, Fail), (EndpointReachable, Fail)], says: "" },
        Case { name: "traefik key the plugin refuses", file: "dynamic.yml", text: b"http:\n  middlewares:\n    cs:\n      plugin:\n        bouncer:\n          enabled: true\n          crowdsecLapiHost: 127.0.0.1:@PORT@\n          crowdsecLapiKey: '\"@GOOD@\"'\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiKey, Fail)], says: "validateParamsAPIKey" },
        // Caddy's bouncer (hslatman/caddy-crowdsec-bouncer f1e77b2d): the `crowdsec` global option or apps.crowdsec
        // (src/crowdsec/bouncer_files/parse/caddy.rs).
        Case { name: "caddy Caddyfile good", file: "Caddyfile", text: b"{\n  crowdsec {\n    api_url http://127.0.0.1:@PORT@\n    api_key @GOOD@\n    ticker_interval 15s\n  }\n}\n\nexample.com {\n  route {\n    crowdsec\n    respond ok\n  }\n}\n", extra: Extra::None, valid: true, bouncer: "fw", expect: PLUGIN_OK, says: "" },
        Case { name: "caddy JSON good", file: "caddy.json", text: b"{\"apps\": {\"crowdsec\": {\"api_url\": \"http://127.0.0.1:@PORT@/\", \"api_key\": \"@GOOD@\"}}}", extra: Extra::None, valid: true, bouncer: "fw", expect: PLUGIN_OK, says: "" },
        Case { name: "caddy key from {$VAR} undefined here", file: "Caddyfile", text: b"{\n  crowdsec {\n    api_url http://127.0.0.1:@PORT@/\n    api_key {$CSBE_TEST_UNSET}\n  }\n}\n", extra: Extra::None, valid: true, bouncer: "", expect: &[(ApiKey, Warn), (EndpointReachable, Pass)], says: "comes from the bouncer's environment" },
        Case { name: "caddy key from {env.VAR} defined here", file: "Caddyfile", text: b"{\n  crowdsec {\n    api_url http://127.0.0.1:@PORT@/\n    api_key {env.CSBE_TEST_KEY}\n  }\n}\n", extra: Extra::None, valid: true, bouncer: "fw", expect: PLUGIN_OK, says: "" },
        Case { name: "caddy unknown option", file: "Caddyfile", text: b"{\n  crowdsec {\n    api_url http://127.0.0.1:@PORT@/\n    apikey @GOOD@\n  }\n}\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(Parses, Fail)], says: "line 4: Caddy refuses" },
        Case { name: "caddy no key", file: "Caddyfile", text: b"{\n  crowdsec {\n    api_url http://127.0.0.1:@PORT@/\n  }\n}\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiUrl, Pass), (ApiKey, Fail)], says: "must not be empty" },
        Case { name: "apache good", file: "crowdsec-apache2-bouncer.conf", text: b"CrowdsecURL http://127.0.0.1:@PORT@\nCrowdsecAPIKey @GOOD@\n", extra: Extra::None, valid: true, bouncer: "fw", expect: GO_OK, says: "" },
        Case { name: "apache trailing slash bites", file: "crowdsec-apache2-bouncer.conf", text: b"CrowdsecURL \"http://127.0.0.1:@PORT@/\"\nCrowdsecAPIKey @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail), (KeyRegistered, Pass)], says: "" },
        Case { name: "apache placeholder", file: "crowdsec-apache2-bouncer.conf", text: b"CrowdsecURL http://127.0.0.1:@PORT@\ncrowdsecapikey <API_KEY>\n", extra: Extra::None, valid: false, bouncer: "", expect: &[(ApiKey, Fail)], says: "" },
        Case { name: "apache missing url", file: "crowdsec-apache2-bouncer.conf", text: b"CrowdsecAPIKey @GOOD@\n", extra: Extra::None, valid: false, bouncer: "fw", expect: &[(ApiUrl, Fail)], says: "" },
    ]
}

fn write_case(dir: &Path, case: &Case, port: u16) -> PathBuf {
    let path = dir.join(case.file);
    let fill = |t: &[u8]| -> Vec<u8> {
        let t = String::from_utf8_lossy(t)
            .replace("@PORT@", &port.to_string())
            .replace("@GOOD@", GOOD)
            .replace("@DIR@", &dir.display().to_string());
        if std::str::from_utf8(case.text).is_ok() {
            t.into_bytes()
        } else {
            case.text.to_vec()
        }
    };
    match case.extra {
        Extra::SymlinkLoop => {
            std::os::unix::fs::symlink(dir.join("other.yaml"), &path).unwrap();
            std::os::unix::fs::symlink(&path, dir.join("other.yaml")).unwrap();
            return path;
        }
        Extra::Dangling => {
            std::os::unix::fs::symlink(dir.join("gone"), &path).unwrap();
            return path;
        }
        Extra::ToDir => {
            std::fs::create_dir(dir.join("a-folder")).unwrap();
            std::os::unix::fs::symlink(dir.join("a-folder"), &path).unwrap();
            return path;
        }
        Extra::Huge => {
            let f = std::fs::File::create(&path).unwrap();
            f.set_len(100 * 1024 * 1024).unwrap();
            return path;
        }
        _ => {}
    }
    std::fs::write(&path, fill(case.text)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    match case.extra {
        Extra::Local(t) => {
            let local = dir.join(format!("{}.local", case.file));
            std::fs::write(&local, fill(t.as_bytes())).unwrap();
            std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Extra::Id(name) => std::fs::write(dir.join(format!("{}.id", case.file)), name).unwrap(),
        Extra::Mode(m) => {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap()
        }
        Extra::TlsFiles | Extra::ExpiredTls => {
            let (cert, key) = client_cert(TLS_BOUNCER, matches!(case.extra, Extra::ExpiredTls));
            std::fs::write(dir.join("bouncer.pem"), cert).unwrap();
            std::fs::write(dir.join("bouncer-key.pem"), key).unwrap();
            std::fs::write(
                dir.join(format!("{}.id", case.file)),
                format!("{TLS_BOUNCER}\n"),
            )
            .unwrap();
        }
        _ => {}
    }
    path
}

/// A self-signed client certificate with subject CN `cn` (PEM cert, PEM key), expired or valid for a year.
fn client_cert(cn: &str, expired: bool) -> (String, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    } else {
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2100, 1, 1);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn lapi_db(dir: &Path) -> PathBuf {
    let path = dir.join("crowdsec.db");
    let conn = db_1_7(&path);
    let now = ts(0);
    for (name, key, auth) in [
        (
            "fw",
            key_hash(&Secret::new(GOOD)).expose().to_owned(),
            "api-key",
        ),
        (TLS_BOUNCER, String::new(), "tls"),
        // A TLS row whose (empty) key must never match anything.
        (
            "other",
            key_hash(&Secret::new("otherKey")).expose().to_owned(),
            "api-key",
        ),
    ] {
        conn.execute(
            "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, auth_type) VALUES (?1, ?1, ?2, ?3, 0, ?4)",
            rusqlite::params![now, name, key, auth],
        )
        .unwrap();
    }
    path
}

fn check_all(dirs: Vec<PathBuf>, files: Vec<PathBuf>, db: &Path) -> Vec<FileReport> {
    let source = Arc::new(
        BouncerConfigSource::new(
            dirs,
            files,
            vec![(
                "t".to_owned(),
                Arc::new(LapiDbSource::new(
                    LapiDbLocation::Sqlite(db.to_owned()),
                    Duration::from_secs(1),
                )),
            )],
            Duration::from_secs(2),
        )
        .unwrap(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(source.read()).unwrap().files
}

#[test]
fn every_kind_good_and_broken() {
    // set_var in a test binary whose other tests run on other threads: this is the only test that sets a
    // variable, it sets it once and never changes it, and std's environment lock orders it with every Rust read.
    std::env::set_var("CSBE_TEST_KEY", GOOD);
    let root = tempfile::tempdir().unwrap();
    let db = lapi_db(root.path());
    let health = health_server();
    let cases = cases();
    let mut dirs = Vec::new();
    let mut paths = Vec::new();
    let mut files = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let dir = root.path().join(format!("case{i:02}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = write_case(&dir, case, health.port);
        // Files no folder scan picks up (Caddyfile, caddy.json) are given as --bouncers.config-file would.
        if [".yaml", ".yml", ".conf"]
            .iter()
            .any(|e| case.file.ends_with(e))
        {
            dirs.push(dir);
        } else {
            files.push(path.clone());
        }
        paths.push(path);
    }
    let started = std::time::Instant::now();
    let reports = check_all(dirs, files, &db);
    eprintln!("{} files checked in {:?}", reports.len(), started.elapsed());
    for (case, path) in cases.iter().zip(&paths) {
        let r = reports
            .iter()
            .find(|r| &r.path == path)
            .unwrap_or_else(|| panic!("{}: {} not discovered", case.name, path.display()));
        let shown = format!("{}: {:#?} {:?}", case.name, r.checks, r.skipped);
        assert_eq!(r.valid(), case.valid, "{shown}");
        assert_eq!(
            r.verdict(),
            Some(case.valid),
            "every key here is compared: {shown}"
        );
        if !case.says.is_empty() {
            assert!(
                r.checks
                    .iter()
                    .any(|c| c.status != Status::Pass && c.detail.contains(case.says)),
                "should say {:?}: {shown}",
                case.says
            );
        }
        assert_eq!(r.bouncer.as_deref().unwrap_or(""), case.bouncer, "{shown}");
        for (check, status) in case.expect {
            assert_eq!(
                r.check(*check).map(|c| c.status),
                Some(*status),
                "{check:?} {shown}"
            );
        }
        for c in &r.checks {
            if c.status != Status::Pass {
                assert!(
                    c.fix.as_ref().is_some_and(|f| !f.is_empty()),
                    "a fix for every problem: {shown}"
                );
            }
            assert!(
                !c.detail.contains(GOOD) && !c.fix.clone().unwrap_or_default().contains(GOOD),
                "{shown}"
            );
        }
        assert!(!format!("{r:?}").contains(GOOD));
        assert!(!format!("{r:?}").contains(key_hash(&Secret::new(GOOD)).expose()));
    }
    let by_name = |name: &str| {
        let i = cases.iter().position(|c| c.name == name).unwrap();
        reports.iter().find(|r| r.path == paths[i]).unwrap()
    };
    let disabled = by_name("nginx disabled");
    assert!(!disabled.enabled);
    assert!(disabled.check(ApiUrl).is_none() && disabled.check(ApiKey).is_none());
    assert!(disabled
        .skipped(ApiKey)
        .unwrap()
        .why
        .contains("ENABLED=false"));
    let bom = by_name("nginx BOM and CRLF");
    assert!(bom.enabled, "the BOM hides ENABLED=false from the bouncer");
    assert!(
        bom.notes.iter().any(|n| n.contains("BOM")),
        "{:?}",
        bom.notes
    );
    let quoted = by_name("nginx quoted key with inline comment")
        .check(ApiKey)
        .unwrap();
    assert!(
        !quoted.detail.contains("placeholder")
            && !quoted
                .fix
                .as_deref()
                .unwrap()
                .contains("cscli bouncers add"),
        "{quoted:?}"
    );
    let haproxy = by_name("haproxy API_URL never probed (issue 20 #3)");
    assert_eq!(haproxy.api_url, None, "{haproxy:?}");
    for check in [ApiUrl, LapiReachable, EndpointReachable] {
        assert!(haproxy.check(check).is_none(), "{check:?}: {haproxy:?}");
    }
    assert!(haproxy.skipped(ApiUrl).unwrap().why.contains("haproxy.cfg"));
    let traefik = by_name("traefik only crowdsecLapiKey (issue 20 #6)");
    assert_eq!(
        traefik.kind,
        crowdsec_bouncer_exporter::crowdsec::bouncer_files::Kind::Traefik
    );
    assert!(!traefik.enabled, "the plugin's enabled defaults to false");
    assert!(traefik
        .skipped(ApiKey)
        .unwrap()
        .why
        .contains("enabled is not true"));
    assert!(traefik
        .checks
        .iter()
        .all(|c| !c.detail.contains("api_url is not set")));
    assert_eq!(
        by_name("traefik plugin good").api_url.as_deref(),
        Some(&*format!("http://127.0.0.1:{}/", health.port))
    );
    let mtls = by_name("openresty mTLS with an empty key");
    assert_eq!(mtls.tls_cn.as_deref(), Some(TLS_BOUNCER));
    assert!(mtls.check(ApiKey).is_none());
    // The "other.yaml" half of the symlink loop is discovered too and fails the same way.
    assert_eq!(reports.len(), cases.len() + 1);
    let requests = health.requests.lock().unwrap();
    assert!(!requests.is_empty());
    for r in requests.iter() {
        assert!(r.starts_with("GET /health HTTP/1.1\r\n"), "{r}");
        assert!(
            !r.contains(GOOD) && !r.to_ascii_lowercase().contains("x-api-key"),
            "{r}"
        );
    }
    // endpoint_reachable generalises lapi_reachable (kept one release): for a LAPI, the same answer.
    for r in &reports {
        let blaas = r
            .api_url
            .as_deref()
            .is_some_and(|u| u.contains("admin.api.crowdsec.net"));
        if blaas && r.check(ApiUrl).is_some_and(|c| c.status == Pass) {
            // Its host is probed (this host may have no route to it: then dns or tcp fails), never as a LAPI.
            assert!(r.check(LapiReachable).is_none(), "{r:?}");
            let e = r
                .check(EndpointReachable)
                .expect("the BLaaS host is probed");
            assert!(
                e.status == Pass
                    || ["dns:", "tcp:", "tls:"]
                        .iter()
                        .any(|l| e.detail.starts_with(l)),
                "{e:?}"
            );
            continue;
        }
        if matches!(r.kind, Kind::Traefik | Kind::Caddy) {
            assert!(r.check(LapiReachable).is_none(), "{r:?}");
            continue;
        }
        let old = r.check(LapiReachable).map(|c| c.status);
        assert_eq!(r.check(EndpointReachable).map(|c| c.status), old, "{r:?}");
        if old == Some(Fail) {
            assert!(
                r.check(EndpointReachable)
                    .unwrap()
                    .detail
                    .starts_with("tcp: connection refused by 127.0.0.1:"),
                "names the layer: {r:?}"
            );
        }
    }
    // One request per distinct URL and run, whatever the number of files pointing at it.
    let distinct: std::collections::HashSet<_> = reports
        .iter()
        .filter(|r| r.check(LapiReachable).is_some())
        .map(|r| r.api_url.clone().unwrap().trim_end_matches('/').to_owned())
        .collect();
    assert!(
        requests.len() <= distinct.len() * 2,
        "{} requests",
        requests.len()
    );
}

#[test]
fn unreadable_for_the_exporter_user() {
    // Tests run as root, which reads anything: run the real binary as `nobody` instead.
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = root.path().join("crowdsec-firewall-bouncer.yaml");
    std::fs::write(
        &file,
        format!("api_url: http://127.0.0.1:1/\napi_key: {GOOD}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
        .args([
            "--crowdsec.config",
            "/nonexistent/config.yaml",
            "--bouncers.config-dir",
            "/nonexistent/bouncers",
        ])
        .arg("--bouncers.config-file")
        .arg(&file)
        .args(["diagnose", "--output", "json"])
        .output()
        .expect("setpriv (util-linux) runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let f = &report["config_files"][0];
    assert_eq!(f["valid"], false, "{report:#}");
    assert_eq!(f["checks"][0]["check"], "readable");
    assert_eq!(f["checks"][0]["status"], "fail");
    assert!(
        f["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{f}"
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "no source readable: the tool could not run"
    );
}

#[test]
fn discovery_skips_overlays_ids_and_folders() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "a.yaml",
        "a.yaml.local",
        "a.yaml.id",
        "b.conf",
        ".hidden.yaml",
        "notes.txt",
        "c.yml",
    ] {
        std::fs::write(dir.path().join(f), "x").unwrap();
    }
    std::fs::create_dir(dir.path().join("sub.yaml")).unwrap();
    let extra = dir.path().join("notes.txt");
    let found = crowdsec_bouncer_exporter::crowdsec::bouncer_files::discover(
        &[dir.path().to_owned(), dir.path().join("missing")],
        std::slice::from_ref(&extra),
    );
    let names: Vec<_> = found
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.yaml", "b.conf", "c.yml", "notes.txt"]);
}

#[test]
fn blocklist_integration_urls_are_checked_against_the_service_api() {
    let key = "sapi-k3y-for-the-config-test";
    let fake = fake_service_api::FakeServiceApi::start(
        key,
        vec![fake_service_api::integration(7, "edge", false)],
    );
    let known = format!("{:024x}", 7);
    let root = tempfile::tempdir().unwrap();
    let db = lapi_db(root.path());
    let dir = root.path().join("bouncers");
    std::fs::create_dir(&dir).unwrap();
    let health = health_server();
    for (file, id) in [
        ("crowdsec-firewall-bouncer.yaml", known.as_str()),
        ("crowdsec-custom-bouncer.yaml", "ffffffffffffffffffffffff"),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, format!("api_url: https://admin.api.crowdsec.net/v1/integrations/{id}\napi_key: integrationKey0123456789\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crowdsec-bouncer-exporter"))
        .env("CROWDSEC_SERVICE_API_KEY", key)
        .arg("--lapi.db")
        .arg(&db)
        .args(["--lapi.url", &format!("http://127.0.0.1:{}/", health.port)])
        .args(["--service-api.url", &fake.base_url()])
        .arg("--bouncers.config-dir")
        .arg(&dir)
        .args(["diagnose", "--output", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let check = |file: &str| {
        let f = report["config_files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(file))
            .unwrap()
            .clone();
        let c = f["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "integration")
            .cloned();
        (f["valid"].clone(), c.map(|c| c["status"].clone()))
    };
    assert_eq!(
        check("crowdsec-firewall-bouncer.yaml"),
        (serde_json::json!(true), Some(serde_json::json!("pass"))),
        "{report:#}"
    );
    assert_eq!(
        check("crowdsec-custom-bouncer.yaml"),
        (serde_json::json!(false), Some(serde_json::json!("fail"))),
        "{report:#}"
    );
    // The invalid file is a warning (CrowdSecBouncerConfigInvalid); the fake's integration last pulled in 2024,
    // which is critical (integration offline): exit 1.
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "warning" && f["alert"] == "CrowdSecBouncerConfigInvalid"),
        "{report:#}"
    );
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert!(
        health
            .requests
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.starts_with("GET /health ")),
        "only the LAPI's /health is asked"
    );
}

/// Issue 11 #11: every example a fix suggests must pass our own checks. Broken files of every kind collect the
/// fix texts; each `http(s)://...` example in them is written back into a file of that kind and checked.
#[test]
fn every_suggested_fix_passes_our_own_checks() {
    use crowdsec_bouncer_exporter::crowdsec::bouncer_files::checks::inspect;
    let root = tempfile::tempdir().unwrap();
    let env = |_: &str| None;
    // (file name, file with the URL set to @URL@ and a key, broken variants)
    let kinds: &[(&str, &str, &[&str])] = &[
        (
            "crowdsec-firewall-bouncer.yaml",
            "api_url: @URL@\napi_key: k0123456789abcdef\n",
            &[
                "api_key: k0123456789abcdef\n",
                "api_url: ftp://x/\napi_key: k0123456789abcdef\n",
                "api_url: x:8080\napi_key: k0123456789abcdef\n",
                "api_url: http://x//\napi_key: k0123456789abcdef\n",
                "api_url: 'http://:1/'\napi_key: k0123456789abcdef\n",
            ],
        ),
        (
            "crowdsec-cloudflare-bouncer.yaml",
            "crowdsec_lapi_url: @URL@\ncrowdsec_lapi_key: k0123456789abcdef\n",
            &["crowdsec_lapi_key: k0123456789abcdef\n"],
        ),
        (
            "crowdsec-blocklist-mirror.yaml",
            "crowdsec_config:\n  lapi_url: @URL@\n  lapi_key: k0123456789abcdef\n",
            &["crowdsec_config:\n  lapi_key: k0123456789abcdef\n"],
        ),
        (
            "crowdsec-nginx-bouncer.conf",
            "API_URL=@URL@\nAPI_KEY=k0123456789abcdef\n",
            &[
                "API_KEY=k0123456789abcdef\n",
                "API_URL=ftp://x\nAPI_KEY=k0123456789abcdef\n",
                "API_URL=\"http://x\"\nAPI_KEY=k0123456789abcdef\n",
                "API_URL=${LAPI}\nAPI_KEY=k0123456789abcdef\n",
                "API_URL=x:8080\nAPI_KEY=k0123456789abcdef\n",
            ],
        ),
        (
            "crowdsec-apache2-bouncer.conf",
            "CrowdsecURL @URL@\nCrowdsecAPIKey k0123456789abcdef\n",
            &[
                "CrowdsecAPIKey k0123456789abcdef\n",
                "CrowdsecURL http://x/\nCrowdsecAPIKey k0123456789abcdef\n",
                "CrowdsecURL ftp://x\nCrowdsecAPIKey k0123456789abcdef\n",
            ],
        ),
    ];
    let mut tried = 0;
    for (i, (name, good, broken)) in kinds.iter().enumerate() {
        let dir = root.path().join(format!("k{i}"));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join(name);
        let mut examples = Vec::new();
        for text in *broken {
            std::fs::write(&path, text).unwrap();
            let r = inspect(&path, &env).finish();
            let c = r.check(ApiUrl).unwrap_or_else(|| panic!("{name} {text:?}"));
            assert_ne!(c.status, Pass, "{name} {text:?} is broken");
            let fix = c.fix.clone().unwrap();
            let found: Vec<String> = fix
                .split(|ch: char| ch.is_whitespace() || ch == ',' || ch == '=')
                .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
                .map(|w| w.trim_end_matches(['.', ')']).to_owned())
                .collect();
            examples.extend(found);
        }
        assert!(!examples.is_empty(), "{name}: the fixes give examples");
        examples.sort();
        examples.dedup();
        for url in examples {
            std::fs::write(&path, good.replace("@URL@", &url)).unwrap();
            let r = inspect(&path, &env).finish();
            let c = r.check(ApiUrl).unwrap();
            assert_eq!(c.status, Pass, "{name}: our own example {url} fails: {c:?}");
            assert!(!c.detail.contains("trailing"), "{name}: {url}: {c:?}");
            tried += 1;
        }
    }
    assert!(tried >= 5, "{tried}");
}

/// What the LAPI's rows add (link.rs): CN linkage of mTLS files (R2-09) and the version rule of a trailing `/`
/// in a Lua API_URL (R2-10): lua-cs-bouncer strips it since 1.0.6 (crowdsec.lua `gsub("/+$","")`, tag v1.0.6
/// b5856dc7), shipped by cs-nginx-bouncer v1.1.1 and cs-openresty-bouncer v1.1.0.
#[test]
fn registrations_link_tls_files_and_judge_trailing_slashes() {
    use crowdsec_bouncer_exporter::crowdsec::bouncer_files::link::link;
    let root = tempfile::tempdir().unwrap();
    let db = root.path().join("crowdsec.db");
    let conn = db_1_7(&db);
    let rows: &[(&str, &str, &str, &str, &str, i64)] = &[
        // name, key, auth, type, version, last pull offset
        (
            "nginx-old",
            "keyOld0123456789abcdef",
            "api-key",
            "crowdsec-nginx-bouncer",
            "v1.1.0",
            0,
        ),
        (
            "nginx-new",
            "keyNew0123456789abcdef",
            "api-key",
            "crowdsec-nginx-bouncer",
            "v1.1.3",
            0,
        ),
        (
            "resty-old",
            "keyRestyOld0123456789",
            "api-key",
            "crowdsec-openresty-bouncer",
            "v1.0.5",
            0,
        ),
        (
            "resty-new",
            "keyRestyNew0123456789",
            "api-key",
            "crowdsec-openresty-bouncer",
            "v1.1.0",
            0,
        ),
        (
            "edge-01.example.com@198.51.100.22",
            "random1",
            "tls",
            "crowdsec-openresty-bouncer",
            "v1.0.8",
            -2_000_000,
        ),
        (
            "edge-01.example.com@198.51.100.21",
            "random2",
            "tls",
            "crowdsec-openresty-bouncer",
            "v1.1.3",
            0,
        ),
        // Same CN, keyed: never a TLS match.
        (
            "edge-01.example.com@198.51.100.23",
            "random3",
            "api-key",
            "crowdsec-openresty-bouncer",
            "v1.1.3",
            100,
        ),
    ];
    for (name, key, auth, typ, version, pulled) in rows {
        conn.execute(
            "INSERT INTO bouncers (created_at, updated_at, name, api_key, revoked, auth_type, type, version, last_pull) VALUES (?1, ?1, ?2, ?3, 0, ?4, ?5, ?6, ?7)",
            rusqlite::params![ts(-3_000_000), name, key_hash(&Secret::new(*key)).expose(), auth, typ, version, ts(*pulled)],
        )
        .unwrap();
    }
    let (cert, key) = client_cert("edge-01.example.com", false);
    std::fs::write(root.path().join("host.cert"), cert).unwrap();
    std::fs::write(root.path().join("host.key"), key).unwrap();
    let files: &[(&str, String, &str, Status)] = &[
        ("nginx-old", "API_URL=http://127.0.0.1:1/\nAPI_KEY=keyOld0123456789abcdef\n".into(), "crowdsec-nginx-bouncer.conf", Warn),
        ("nginx-old //", "API_URL=http://127.0.0.1:1//\nAPI_KEY=keyOld0123456789abcdef\n".into(), "crowdsec-nginx-bouncer.conf", Warn),
        ("nginx-old no slash", "API_URL=http://127.0.0.1:1\nAPI_KEY=keyOld0123456789abcdef\n".into(), "crowdsec-nginx-bouncer.conf", Pass),
        ("nginx-new", "API_URL=http://127.0.0.1:1/\nAPI_KEY=keyNew0123456789abcdef\n".into(), "crowdsec-nginx-bouncer.conf", Pass),
        ("nginx-new //", "API_URL=http://127.0.0.1:1//\nAPI_KEY=keyNew0123456789abcdef\n".into(), "crowdsec-nginx-bouncer.conf", Pass),
        ("resty-old", "API_URL=http://127.0.0.1:1/\nAPI_KEY=keyRestyOld0123456789\n".into(), "crowdsec-openresty-bouncer.conf", Warn),
        ("resty-new", "API_URL=http://127.0.0.1:1/\nAPI_KEY=keyRestyNew0123456789\n".into(), "crowdsec-openresty-bouncer.conf", Pass),
        ("mtls", format!("ENABLED=true\nAPI_URL=http://127.0.0.1:1\nAPI_KEY=\nUSE_TLS_AUTH=true\nTLS_CLIENT_CERT={0}/host.cert\nTLS_CLIENT_KEY={0}/host.key\nMODE=stream\n", root.path().display()), "crowdsec-openresty-bouncer.conf", Pass),
    ];
    let mut paths = Vec::new();
    for (i, (_, text, name, _)) in files.iter().enumerate() {
        let dir = root.path().join(format!("f{i}"));
        std::fs::create_dir(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        paths.push(p);
    }
    let reports = check_all(vec![], paths.clone(), &db);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let snapshot = rt
        .block_on(
            LapiDbSource::new(LapiDbLocation::Sqlite(db.clone()), Duration::from_secs(1)).read(),
        )
        .unwrap();
    for ((case, _, _, want), path) in files.iter().zip(&paths) {
        let mut r = reports.iter().find(|r| &r.path == path).unwrap().clone();
        link(&mut r, &[("t", &snapshot)]);
        let url = r.check(ApiUrl).unwrap();
        assert_eq!(url.status, *want, "{case}: {url:?}");
        if *want == Warn {
            assert!(url.detail.contains("//v1/decisions"), "{case}: {url:?}");
        }
        if *case == "mtls" {
            assert_eq!(
                r.bouncer.as_deref(),
                Some("edge-01.example.com@198.51.100.21"),
                "the newest tls row of the CN: {r:?}"
            );
            assert_eq!(r.lapi.as_deref(), Some("t"));
            assert!(r.check(ApiKey).is_none() && r.check(KeyRegistered).is_none());
            assert_eq!(r.check(TlsFiles).unwrap().status, Pass);
            assert!(
                r.checks
                    .iter()
                    // Host checks (no openresty runs here) judge the host, not the file.
                    .all(|c| c.status == Pass
                        || c.check == LapiReachable
                        || !c.check.judges_file()),
                "nothing but the (unreachable) test URL fails: {r:?}"
            );
        }
    }
}

/// Issue 11 #9, at the source: a LAPI known only through cscli cannot compare keys; the file is linked by its
/// `.id`, never judged valid, and says why.
#[test]
fn keys_are_not_judged_without_hashes() {
    let root = tempfile::tempdir().unwrap();
    let health = health_server();
    let file = root.path().join("crowdsec-nginx-bouncer.conf");
    std::fs::write(
        &file,
        format!(
            "API_URL=http://127.0.0.1:{}\nAPI_KEY=unregistered0123456789\n",
            health.port
        ),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        root.path().join("crowdsec-nginx-bouncer.conf.id"),
        "nginx\n",
    )
    .unwrap();
    let source = Arc::new(
        BouncerConfigSource::new(vec![], vec![file], vec![], Duration::from_secs(1))
            .unwrap()
            .with_cscli_lapis(vec!["local".to_owned()]),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(source.read()).unwrap().files.remove(0);
    assert!(r.valid(), "nothing failed: {r:?}");
    assert_eq!(r.verdict(), None, "but nothing says the key works");
    assert!(r.check(KeyRegistered).is_none());
    let why = &r.skipped(KeyRegistered).unwrap().why;
    assert!(
        why.contains("cscli") && why.contains("no key hashes"),
        "{why}"
    );
    assert_eq!(r.bouncer.as_deref(), Some("nginx"));
}

/// Issue 23 row 7: a bouncers' folder of thousands of files (and a FIFO with a configuration's name). One pass
/// checks at most 256 files, first by name, and says how many it left out and why, in the snapshot, the exposition
/// and diagnose; a FIFO is never opened. (The issue's 100,000 files: figures in the commit, not run here.)
#[test]
fn a_huge_folder_is_scanned_within_bounds_and_the_rest_reported() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("bouncers");
    std::fs::create_dir(&b).unwrap();
    for i in 0..3_000 {
        std::fs::write(
            b.join(format!("crowdsec-firewall-bouncer-{i:05}.yaml")),
            format!("api_url: http://127.0.0.1:1/\napi_key: key{i:028}\n"),
        )
        .unwrap();
    }
    std::fs::write(b.join("notes.txt"), "not a configuration").unwrap();
    let fifo = b.join("zz-pipe.yaml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());

    let source = Arc::new(
        BouncerConfigSource::new(
            vec![b.clone()],
            Vec::new(),
            Vec::new(),
            Duration::from_secs(2),
        )
        .unwrap()
        .with_host_checks(None),
    );
    let started = std::time::Instant::now();
    let snap = servers::block_on(source.read()).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(snap.files.len(), 256);
    assert_eq!(
        snap.files[0].path,
        b.join("crowdsec-firewall-bouncer-00000.yaml"),
        "the first files by name are checked"
    );
    assert_eq!(snap.skipped.get("limit"), Some(&(3_000 - 256)));
    assert_eq!(snap.skipped.get("not_regular"), Some(&1));

    let exporter = common::real::ExporterProc::start(
        &[
            "--lapi.db",
            "/nonexistent/crowdsec.db",
            "--crowdsec.config",
            "/nonexistent/config.yaml",
            "--bouncers.config-dir",
            &b.display().to_string(),
        ],
        dir.path(),
    );
    let mut body = String::new();
    common::real::wait_until("the bouncer checks", Duration::from_secs(30), || {
        body = exporter.metrics();
        body.contains("crowdsec_bouncer_config_files_skipped{")
    });
    for (reason, n) in [("limit", 2_744), ("not_regular", 1), ("time", 0)] {
        assert!(
            body.contains(&format!(
                "crowdsec_bouncer_config_files_skipped{{reason=\"{reason}\"}} {n}\n"
            )),
            "{reason}: {body}"
        );
    }
}
