//! One rule per offline check of a bouncer configuration file: api_url, api_key or tls_files, permissions, and
//! the fix each failure names. [`super::checks::inspect`] runs them; each rule's source is cited where it is
//! written.

use std::path::{Path, PathBuf};

use super::blaas::SERVICE_API_HOST;
use super::checks::{fail, pass, warn, Check, CheckResult};
use super::client_cert::read_cert;
use super::parse::ParseError;
use super::{read_capped, Kind, Parsed, ReadError};
use crate::values::secret::Secret;

pub(super) fn read_fix(e: &ReadError) -> String {
    match e {
        ReadError::Missing => "the file (or the target of its symlink) is gone: reinstall the bouncer's package or point --bouncers.config-file at the right file".into(),
        ReadError::Permission => "let the exporter's user read it, as root: `setfacl -m u:<exporter user>:r <file>` (the package's user: crowdsec-bouncer-exporter; docs/install.md, \"Permissions: one step at most\"); the file's owner, group and mode stay as they are".into(),
        ReadError::Directory | ReadError::NotFile(_) => "this is not a configuration file: move it out of the bouncers' folder".into(),
        ReadError::TooLarge(_) => "this is not a bouncer configuration (a stray log or dump?): move it out of the bouncers' folder".into(),
        ReadError::Io(_) => "check the file and its symlinks (`ls -lL`, `readlink -f`): a symlink loop or a broken disk stops the bouncer too".into(),
    }
}

pub(super) fn parse_fix(e: &ParseError) -> String {
    match e {
        ParseError::Empty => "the installer did not write it: reinstall the bouncer's package or copy its example configuration".into(),
        ParseError::Binary(_) => "this is not a text configuration: restore the bouncer's configuration from its package or a backup".into(),
        ParseError::Limit { .. } => "this is not a bouncer configuration (a bouncer's file has no aliases nor deep nesting): restore the file from the bouncer's package".into(),
        ParseError::Yaml { .. } => "fix the YAML at that line (indentation with spaces, a `:` after each key, quotes around values with `: ` or `#`), then restart the bouncer".into(),
        ParseError::Tab { .. } => "indent with spaces only, then restart the bouncer".into(),
        ParseError::Duplicate { .. } => "keep one line per key (put overrides in the `.local` file), then restart the bouncer".into(),
        ParseError::NotMapping(_) => "the file must hold `key: value` settings: restore it from the bouncer's example configuration".into(),
        ParseError::TooDeep(_) => "this is not a bouncer configuration (collections nested over 128 levels): restore it from the bouncer's example configuration".into(),
        ParseError::Toml(_) => "fix the TOML at that line (`key = \"value\"`, tables in `[brackets]`); Traefik's file provider reloads it".into(),
        ParseError::Caddy(_) => "write that line of the `crowdsec` block as its module reads it (api_url with http:// or https://, api_key <key>, ticker_interval 15s...), then `caddy validate` and reload Caddy".into(),
        ParseError::LuaError(_) => "write that setting as KEY=VALUE (or start the line with `#`), then reload haproxy".into(),
        ParseError::Merge(_) => "give the setting the same shape in the `.local` file as in the main file (a value for a value, a list for a list, keys for a section), then restart the bouncer".into(),
    }
}

/// An address that passes [`check_url`] for this kind: Go bouncers add a missing `/` themselves, the Lua ones
/// strip it (and broke on it before lua-cs-bouncer 1.0.6), the apache module breaks on it.
pub(crate) fn example_url(kind: Kind) -> &'static str {
    match kind {
        Kind::Go | Kind::Cloudflare | Kind::CrowdsecConfig | Kind::Traefik | Kind::Caddy => {
            "http://127.0.0.1:8080/"
        }
        Kind::Lua | Kind::LuaHaproxy | Kind::Apache => "http://127.0.0.1:8080",
    }
}

/// Quotes or an inline `# comment` in a Lua value: lua-cs-bouncer keeps both (config.lua only trims spaces).
pub(super) fn lua_literal_junk(value: &str) -> bool {
    value.starts_with(['"', '\''])
        || value.ends_with(['"', '\''])
        || value.contains(" #")
        || value.contains("\t#")
}

/// api_url: present, absolute http(s) with a host, and no trailing slash where the bouncer breaks on it.
/// Returns the URL whose `/health` says whether the LAPI answers.
pub(super) fn check_url(
    kind: Kind,
    parsed: &Parsed,
    checks: &mut Vec<CheckResult>,
) -> Option<reqwest::Url> {
    let (url_key, _) = kind.url_key();
    let example = example_url(kind);
    let text = parsed.api_url.as_deref().map(str::trim).unwrap_or_default();
    if text.is_empty() {
        if kind == Kind::LuaHaproxy {
            // haproxy's legacy bouncer takes the URL from haproxy.cfg, not from this file.
            return None;
        }
        checks.push(fail(
            Check::ApiUrl,
            format!("{url_key} is not set"),
            format!(
                "set {url_key} to your LAPI's address, e.g. {example}, then restart the bouncer"
            ),
        ));
        return None;
    }
    if !parsed.url_undefined_vars.is_empty() {
        checks.push(warn(
            Check::ApiUrl,
            format!(
                "{url_key} comes from the bouncer's environment ({}), not checked: the variable is not set for the exporter",
                vars(&parsed.url_undefined_vars)
            ),
            "make sure the bouncer's service defines it (systemd Environment=, container env); give the exporter the same variable to have it checked",
        ));
        return None;
    }
    let lua = matches!(kind, Kind::Lua | Kind::LuaHaproxy);
    if lua && text.contains('$') {
        checks.push(fail(
            Check::ApiUrl,
            format!("{url_key} holds an unexpanded variable: the nginx/openresty bouncer does not expand environment variables, so the templating step did not run"),
            format!("write the address itself, e.g. {url_key}={example}, or run the templating (envsubst) that was meant to fill it"),
        ));
        return None;
    }
    if lua && lua_literal_junk(text) {
        checks.push(fail(
            Check::ApiUrl,
            format!("{url_key} holds quotes or an inline `# comment`: the Lua bouncer keeps them in the address"),
            format!("write {url_key}={example} alone on its line: no quotes, comments on their own line starting with `#`"),
        ));
        return None;
    }
    let url = match reqwest::Url::parse(text) {
        Ok(u) => u,
        Err(_) => {
            checks.push(fail(
                Check::ApiUrl,
                format!("{url_key} {text:?} is not an absolute URL"),
                format!("write it as {example} (scheme, host and port)"),
            ));
            return None;
        }
    };
    if !matches!(url.scheme(), "http" | "https") {
        checks.push(fail(
            Check::ApiUrl,
            format!(
                "{url_key} uses {}://; the LAPI speaks only http or https",
                url.scheme()
            ),
            format!("write it as {example}"),
        ));
        return None;
    }
    if url.host_str().is_none_or(str::is_empty) {
        checks.push(fail(
            Check::ApiUrl,
            format!("{url_key} {text:?} has no host"),
            format!("write it as {example}"),
        ));
        return None;
    }
    let blaas = url.host_str() == Some(SERVICE_API_HOST);
    if text.ends_with('/') && kind == Kind::Apache {
        checks.push(fail(
            Check::ApiUrl,
            "CrowdsecURL ends with `/`: the apache module then asks for `//v1/decisions` and gets no decisions",
            "remove the trailing slash from CrowdsecURL and reload apache",
        ));
    } else if text.ends_with("//") && kind.is_yaml() {
        // go-cs-bouncer adds a `/` only when none ends the URL, so `//` stays and the requests go to
        // `//v1/decisions/stream`; the real crowdsec-firewall-bouncer 0.0.25 never pulled with it
        // (tests/it/e2e_bouncer_oracle.rs).
        checks.push(fail(
            Check::ApiUrl,
            format!("{url_key} ends with `//`: the bouncer then requests `//v1/decisions/stream`, which the LAPI does not serve"),
            format!("write it with one trailing slash, e.g. {example}, then restart the bouncer"),
        ));
    } else if text.ends_with('/') && lua {
        // Judged by version once the file is linked to its registration (see link::trailing_slash).
        checks.push(pass(
            Check::ApiUrl,
            format!("{} ({LUA_SLASH_NOTE})", url.as_str()),
        ));
    } else {
        checks.push(pass(Check::ApiUrl, url.as_str()));
    }
    (!blaas).then(|| normalise(url))
}

/// Said of a Lua API_URL ending with `/` while the bouncer's version is unknown or recent.
pub(crate) const LUA_SLASH_NOTE: &str =
    "trailing `/` stripped by lua-cs-bouncer >= 1.0.6; older ones request `//v1/decisions`";

/// The LAPI's base URL with exactly one trailing `/`, so `http://h:8080`, `http://h:8080/` and
/// `http://h:8080//` compare (and are asked `/health`) as one.
pub(crate) fn normalise(mut url: reqwest::Url) -> reqwest::Url {
    let path = format!("{}/", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

pub(super) fn vars(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("${{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What [`check_auth`] learnt.
#[derive(Default)]
pub(super) struct Auth {
    /// The file holds a secret (so its permissions matter).
    pub(super) holds_key: bool,
    /// The key is worth looking up in the LAPI's registrations.
    pub(super) key_usable: bool,
    pub(super) tls_cn: Option<String>,
    pub(super) tls_skipped: Option<String>,
}

/// api_key, or tls_files when the file uses a client certificate.
pub(super) fn check_auth(
    kind: Kind,
    parsed: &Parsed,
    checks: &mut Vec<CheckResult>,
    now: i64,
) -> Auth {
    let (_, key_name) = kind.url_key();
    if let Some(tls) = &parsed.tls {
        return check_tls(tls, checks, now);
    }
    let mut auth = Auth::default();
    let raw = parsed
        .api_key
        .as_ref()
        .map(|k| k.expose().trim())
        .unwrap_or_default();
    if let Some(source) = &parsed.key_elsewhere {
        checks.push(warn(
            Check::ApiKey,
            format!("{key_name} comes from {source}, not checked: the exporter does not read it"),
            "make sure that file holds the key of a registered bouncer (`cscli bouncers list` on the LAPI host), readable by Traefik",
        ));
        return auth;
    }
    let register = if kind == Kind::Traefik {
        format!("register the bouncer with `cscli bouncers add <name>` on the LAPI host and put the key it prints in {key_name} of the plugin's middleware; Traefik's file provider reloads it")
    } else {
        format!("register the bouncer with `cscli bouncers add <name>` on the LAPI host, put the key it prints in {key_name}, then restart the bouncer")
    };
    if raw.is_empty() {
        let detail = missing_key_detail(kind, key_name);
        checks.push(fail(Check::ApiKey, detail, register));
        return auth;
    }
    auth.holds_key = true;
    if !parsed.key_undefined_vars.is_empty() {
        auth.holds_key = false;
        checks.push(warn(
            Check::ApiKey,
            format!(
                "{key_name} comes from the bouncer's environment ({}), not checked: the variable is not set for the exporter",
                vars(&parsed.key_undefined_vars)
            ),
            "make sure the bouncer's service defines it (systemd Environment=, container env); give the exporter the same variable to have the key compared with the LAPI's registrations",
        ));
        // Known to be out of the exporter's sight (the ApiKey warning says so): the file stays valid.
        return auth;
    }
    let sent = parsed
        .api_key
        .as_ref()
        .map(Secret::expose)
        .unwrap_or_default();
    if let Some((detail, fix)) = key_fault(kind, key_name, raw, sent, &register) {
        checks.push(fail(Check::ApiKey, detail, fix));
        return auth;
    }
    checks.push(pass(Check::ApiKey, format!("{key_name} set")));
    auth.key_usable = true;
    auth
}

/// What an empty key does to each kind of bouncer.
fn missing_key_detail(kind: Kind, key_name: &str) -> String {
    if kind.is_yaml() {
        // go-cs-bouncer StreamBouncer.Init: "config does not contain LAPI key or certificate".
        format!("{key_name} is empty or null (after the .local overlay) and no certificate is set: the bouncer refuses to start")
    } else if kind == Kind::Caddy {
        // caddy-crowdsec-bouncer crowdsec.go Validate (f1e77b2d).
        "api_key is not set: Caddy refuses the configuration (\"crowdsec API key must not be empty\")".to_owned()
    } else if kind == Kind::Traefik {
        // crowdsec-bouncer-traefik-plugin ValidateParams (9b8d6b93): "cannot be all empty".
        "crowdsecLapiKey is empty and no client certificate is set (crowdsecLapiTlsCertificateBouncerFile and ...KeyFile): the plugin refuses to load the middleware".to_owned()
    } else if kind == Kind::LuaHaproxy {
        "API_KEY is not set: the haproxy bouncer reads only a line `API_KEY=<key>` exactly (no space around `=`, from the first column)".to_owned()
    } else {
        format!("{key_name} is not set")
    }
}

/// A key written so the bouncer sends something the LAPI refuses, or no key at all (an installer placeholder, an
/// unexpanded variable): what is wrong and the fix; `raw` is trimmed, `sent` as the bouncer reads it.
fn key_fault(
    kind: Kind,
    key_name: &str,
    raw: &str,
    sent: &str,
    register: &str,
) -> Option<(String, String)> {
    if kind == Kind::LuaHaproxy && sent != raw {
        // cs-haproxy-bouncer config.lua (031e1e3) trims nothing: the header X-Api-Key carries the CR or spaces.
        let what = if sent.ends_with('\r') {
            "ends with a carriage return (the file has Windows CRLF line ends)"
        } else {
            "has spaces around it"
        };
        return Some((
            format!("API_KEY {what}: the haproxy bouncer trims nothing and sends them as part of the key, so the LAPI refuses it (403)"),
            "write `API_KEY=<key>` with nothing around the key and Unix line ends (`sed -i 's/\\r$//' <file>`), then reload haproxy".into(),
        ));
    }
    if kind == Kind::Traefik && !super::parse::traefik_key_accepted(raw) {
        return Some((
            "crowdsecLapiKey holds a character the plugin refuses (validateParamsAPIKey allows letters, digits and ` !#$%&'*+,-./^_`|~=`): the middleware fails to load".into(),
            format!("write the key itself, unquoted inside the YAML string; {register}"),
        ));
    }
    if raw.starts_with('<') && raw.ends_with('>') {
        return Some((
            format!("{key_name} is the installer's placeholder {raw}: no key was generated at install time (cscli missing or failed)"),
            register.into(),
        ));
    }
    if matches!(kind, Kind::Lua | Kind::LuaHaproxy) && raw.contains('$') {
        return Some((
            format!("{key_name} holds an unexpanded variable: the nginx/openresty bouncer does not expand environment variables, so the templating step did not run"),
            format!("write the key itself in {key_name}, or run the templating (envsubst) that was meant to fill it"),
        ));
    }
    if matches!(kind, Kind::Lua | Kind::LuaHaproxy) && lua_literal_junk(raw) {
        return Some((
            format!("{key_name} holds quotes or an inline `# comment`: the Lua bouncer sends them literally as part of the key, so LAPI answers 403"),
            format!("write {key_name}=<the key> alone on its line: no quotes, comments on their own line starting with `#`"),
        ));
    }
    if is_placeholder(raw) {
        return Some((
            format!("{key_name} is a placeholder, not a key: the installer could not register the bouncer"),
            register.into(),
        ));
    }
    None
}

/// Client-certificate files: the certificate and its key must be readable by the bouncer; the certificate's
/// CN names the bouncer in LAPI. An unreadable certificate for the exporter (permissions) is no evidence.
pub(super) fn check_tls(tls: &super::TlsFiles, checks: &mut Vec<CheckResult>, now: i64) -> Auth {
    let mut auth = Auth::default();
    let mut problems = Vec::new();
    let mut cert_note = None;
    for (what, p, required) in [
        ("certificate", &tls.cert, true),
        ("private key", &tls.key, true),
        ("CA certificate", &tls.ca, false),
    ] {
        match p {
            None if required => problems.push(format!("no client {what} set")),
            None => {}
            Some(p) => match read_capped(p) {
                Err(ReadError::Permission) => {
                    if what == "certificate" {
                        cert_note = Some(format!(
                            "cannot read certificate {} to learn its CN; linkage skipped",
                            p.display()
                        ));
                    }
                }
                Err(e) => problems.push(format!("the {what} {} {e}", p.display())),
                Ok(bytes) if what == "certificate" => match read_cert(&bytes) {
                    Ok(info) => {
                        if info.not_after < now {
                            problems.push(format!(
                                "the certificate {} expired at {}",
                                p.display(),
                                crate::values::time::format_rfc3339(info.not_after as f64)
                            ));
                        }
                        match info.cn {
                            Some(cn) => auth.tls_cn = Some(cn),
                            None => {
                                cert_note = Some(format!(
                                    "the certificate {} has no subject CN; linkage skipped",
                                    p.display()
                                ))
                            }
                        }
                    }
                    Err(e) => problems.push(format!("the certificate {} {e}", p.display())),
                },
                Ok(_) => {}
            },
        }
    }
    auth.tls_skipped = cert_note;
    if problems.is_empty() {
        let detail = match &auth.tls_cn {
            Some(cn) => format!("certificate files readable, not expired (CN {cn:?})"),
            None => "certificate files set".to_owned(),
        };
        checks.push(pass(Check::TlsFiles, detail));
    } else {
        checks.push(fail(
            Check::TlsFiles,
            problems.join("; "),
            "put a valid client certificate and its key (and the CA that signed the LAPI's certificate) where the file says, readable by the bouncer, or switch to an API key",
        ));
    }
    auth
}

/// What installers and examples leave instead of a key.
pub(super) fn is_placeholder(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    key.contains(['<', '>', ' '])
        || key.starts_with('$')
        || key.contains("${")
        || matches!(
            lower.as_str(),
            "api_key"
                | "apikey"
                | "your_api_key"
                | "your-api-key"
                | "changeme"
                | "change_me"
                | "xxx"
                | "none"
                | "null"
        )
}

pub(super) fn check_permissions(
    path: &Path,
    overlay: Option<&PathBuf>,
    holds_key: bool,
    checks: &mut Vec<CheckResult>,
) {
    use std::os::unix::fs::PermissionsExt;
    if !holds_key {
        return;
    }
    let open: Vec<String> = std::iter::once(path)
        .chain(overlay.map(PathBuf::as_path))
        .filter_map(|p| {
            let mode = std::fs::metadata(p).ok()?.permissions().mode() & 0o777;
            (mode & 0o004 != 0).then(|| format!("{} (mode {mode:04o})", p.display()))
        })
        .collect();
    if open.is_empty() {
        checks.push(pass(Check::Permissions, "not readable by every user"));
    } else {
        checks.push(warn(
            Check::Permissions,
            format!(
                "every user on this host can read the API key in {}",
                open.join(", ")
            ),
            format!(
                "chmod 600 {} (or 640 with the bouncer's group)",
                path.display()
            ),
        ));
    }
}
