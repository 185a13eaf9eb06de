//! The named checks of one bouncer configuration file. [`inspect`] runs the offline ones (readable, parses,
//! api_url, api_key or tls_files, permissions); the `bouncer_config` source then adds key_registered (a hash
//! compared in the LAPI database) and lapi_reachable (`GET /health`, no key) through [`Inspection`].
//! Every failed check carries the fix to try, in operator words.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha512};

use super::parse::{parse, ParseError};
use super::tls::read_cert;
use super::{read_capped, sibling, Kind, Parsed, ReadError};
use crate::values::secret::Secret;

/// Host of the CrowdSec Service API: a URL there is a Blocklist-as-a-Service integration, not a LAPI.
pub const SERVICE_API_HOST: &str = "admin.api.crowdsec.net";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Readable,
    Parses,
    ApiUrl,
    ApiKey,
    TlsFiles,
    KeyRegistered,
    LapiReachable,
    Permissions,
    /// A Blocklist-as-a-Service URL names an integration the Service API lists.
    Integration,
}

impl Check {
    /// The `check` label.
    pub fn name(self) -> &'static str {
        match self {
            Check::Readable => "readable",
            Check::Parses => "parses",
            Check::ApiUrl => "api_url",
            Check::ApiKey => "api_key",
            Check::TlsFiles => "tls_files",
            Check::KeyRegistered => "key_registered",
            Check::LapiReachable => "lapi_reachable",
            Check::Permissions => "permissions",
            Check::Integration => "integration",
        }
    }
}

/// A warning does not make the file invalid (it still works), but is shown and exported as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub check: Check,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// A check that did not run because its evidence was out of reach; never exported as a metric (no evidence, no
/// series), shown by `diagnose`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub check: Check,
    /// Why, in operator words, e.g. "not checked: the LAPI is read through cscli, whose JSON has no key hashes".
    pub why: String,
}

/// Everything known about one file; holds no secret (the key stays in [`Inspection`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub kind: Kind,
    pub api_url: Option<String>,
    /// The registered bouncer this file belongs to (its key's row, its certificate CN's newest `CN@ip` row, else
    /// its `.id` file).
    pub bouncer: Option<String>,
    /// The LAPI (by name) whose database knows the key.
    pub lapi: Option<String>,
    /// `false` when the file says `ENABLED=false` (Lua): the bouncer is disabled, a state and not an error.
    pub enabled: bool,
    /// Lua `MODE` as the bouncer reads it: `live` or `stream`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Subject CN of the client certificate (mTLS): LAPI registers the bouncer as `<CN>@<ip>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cn: Option<String>,
    /// The name in `<file>.id`, written by the installers at registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_name: Option<String>,
    pub checks: Vec<CheckResult>,
    /// Checks that could not run, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// How the bouncer reads the file differently from how it looks (BOM, values it replaces by defaults...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl FileReport {
    /// No check failed (warnings allowed).
    pub fn valid(&self) -> bool {
        !self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// The file's verdict, as `crowdsec_bouncer_config_valid` exports it: `Some(false)` when a check failed,
    /// `None` when none failed but the key could not be compared with the LAPI's registrations (no evidence
    /// either way: never called valid), else `Some(true)`.
    pub fn verdict(&self) -> Option<bool> {
        if !self.valid() {
            Some(false)
        } else if self.skipped.iter().any(|s| s.check == Check::KeyRegistered) {
            None
        } else {
            Some(true)
        }
    }

    pub fn check(&self, check: Check) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.check == check)
    }

    pub fn skipped(&self, check: Check) -> Option<&Skipped> {
        self.skipped.iter().find(|s| s.check == check)
    }
}

/// The id in a Blocklist-as-a-Service URL, `https://admin.api.crowdsec.net/v1/integrations/<id>[/...]`.
pub fn integration_id(api_url: &str) -> Option<String> {
    let url = reqwest::Url::parse(api_url.trim()).ok()?;
    if url.host_str() != Some(SERVICE_API_HOST) {
        return None;
    }
    let mut segments = url.path_segments()?;
    segments.find(|s| *s == "integrations")?;
    segments
        .next()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

impl FileReport {
    /// Adds the `integration` check when the file points at a Blocklist-as-a-Service integration and the
    /// Service API's list (`known_ids`) was read.
    pub fn with_integrations(mut self, known_ids: Option<&[&str]>) -> FileReport {
        let (Some(ids), Some(id)) = (known_ids, self.api_url.as_deref().and_then(integration_id))
        else {
            return self;
        };
        self.checks.push(if ids.contains(&id.as_str()) {
            pass(Check::Integration, format!("integration {id} exists"))
        } else {
            fail(
                Check::Integration,
                format!("the Service API lists no integration {id}: it was deleted, or the URL belongs to another organization"),
                "copy the endpoint URL again from the Console (Blocklists > Integrations) and restart the bouncer",
            )
        });
        self.checks.sort_by_key(|c| c.check);
        self
    }
}

/// What the LAPI database says about a key hash.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyLookup {
    Registered {
        lapi: String,
        bouncer: String,
    },
    Unknown,
    /// The database could not be asked (the reason holds no secret).
    Unavailable(String),
}

/// A file after the offline checks, waiting for the database and network ones.
#[derive(Debug)]
pub struct Inspection {
    pub report: FileReport,
    /// Only set when api_key passed.
    key: Option<Secret>,
    /// The URL to ask `/health`, when api_url passed and it is a LAPI.
    health_url: Option<reqwest::Url>,
}

/// sha512 hex of a key, as CrowdSec stores it in `bouncers.api_key`. A secret itself: never log it.
pub fn key_hash(key: &Secret) -> Secret {
    let digest = Sha512::digest(key.expose().as_bytes());
    let mut hex = String::with_capacity(128);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    Secret::new(hex)
}

fn pass(check: Check, detail: impl Into<String>) -> CheckResult {
    CheckResult {
        check,
        status: Status::Pass,
        detail: detail.into(),
        fix: None,
    }
}

fn fail(check: Check, detail: impl Into<String>, fix: impl Into<String>) -> CheckResult {
    CheckResult {
        check,
        status: Status::Fail,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

fn warn(check: Check, detail: impl Into<String>, fix: impl Into<String>) -> CheckResult {
    CheckResult {
        status: Status::Warn,
        ..fail(check, detail, fix)
    }
}

fn skip(check: Check, why: impl Into<String>) -> Skipped {
    Skipped {
        check,
        why: why.into(),
    }
}

/// Runs the offline checks on `path`; `env` expands `$VAR` in YAML files as the bouncer would. `now` (Unix
/// seconds) judges certificate expiry.
pub fn inspect(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Inspection {
    inspect_at(path, env, crate::values::time::now() as i64)
}

/// [`inspect`] at a given clock.
pub fn inspect_at(path: &Path, env: &dyn Fn(&str) -> Option<String>, now: i64) -> Inspection {
    let kind = Kind::from_path(path);
    let mut insp = Inspection {
        report: FileReport {
            path: path.to_owned(),
            kind,
            api_url: None,
            bouncer: None,
            lapi: None,
            enabled: true,
            mode: None,
            tls_cn: None,
            id_name: None,
            checks: Vec::new(),
            skipped: Vec::new(),
            notes: Vec::new(),
        },
        key: None,
        health_url: None,
    };
    insp.report.id_name = read_capped(&sibling(path, ".id"))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.len() <= 256);
    let checks = &mut insp.report.checks;
    let main = match read_capped(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            checks.push(fail(Check::Readable, format!("the file {e}"), read_fix(&e)));
            return insp;
        }
    };
    let overlay_path = sibling(path, ".local");
    let overlay = if kind.reads_overlay() {
        match read_capped(&overlay_path) {
            Ok(b) => Some(b),
            Err(ReadError::Missing) => None,
            Err(e) => {
                checks.push(fail(
                    Check::Readable,
                    format!("its overlay {} {e}", overlay_path.display()),
                    read_fix(&e),
                ));
                return insp;
            }
        }
    } else {
        None
    };
    checks.push(pass(Check::Readable, "readable"));
    let (kind, parsed) = match parse(kind, &main, overlay.as_deref(), env) {
        Ok(p) => p,
        Err(e) => {
            checks.push(fail(Check::Parses, e.to_string(), parse_fix(&e)));
            return insp;
        }
    };
    insp.report.kind = kind;
    insp.report.enabled = parsed.enabled;
    insp.report.mode = parsed.mode.map(str::to_owned);
    insp.report.notes = parsed.notes.clone();
    match &parsed.stopped_at {
        Some(at) => checks.push(fail(
            Check::Parses,
            format!("{at} has no `=`; the bouncer ignores everything after it"),
            "start that line with `#` in its very first column (an indented `#` is not a comment for the bouncer) or write it as KEY=VALUE, then reload the bouncer",
        )),
        None => checks.push(pass(Check::Parses, "parses")),
    }
    insp.report.api_url = parsed.api_url.clone();
    if !parsed.enabled {
        // lua-cs-bouncer csmod.init returns "Disabled" before it looks at any other setting.
        let why = "ENABLED=false: the bouncer is disabled and reads no other setting";
        insp.report.skipped.push(skip(Check::ApiUrl, why));
        insp.report.skipped.push(skip(Check::ApiKey, why));
        return insp;
    }
    insp.health_url = check_url(kind, &parsed, checks);
    let auth = check_auth(kind, &parsed, checks, now);
    if let Some(cn) = auth.tls_cn {
        insp.report.tls_cn = Some(cn);
    }
    if let Some(why) = auth.tls_skipped {
        insp.report.skipped.push(skip(Check::TlsFiles, why));
    }
    // A Blocklist-as-a-Service key belongs to the Service API, not to any LAPI database.
    let blaas = parsed
        .api_url
        .as_deref()
        .and_then(|u| reqwest::Url::parse(u.trim()).ok())
        .is_some_and(|u| u.host_str() == Some(SERVICE_API_HOST));
    if auth.key_usable && !blaas {
        insp.key = parsed.api_key.clone();
    }
    check_permissions(
        path,
        overlay.is_some().then_some(&overlay_path),
        auth.holds_key,
        &mut insp.report.checks,
    );
    insp
}

fn read_fix(e: &ReadError) -> String {
    match e {
        ReadError::Missing => "the file (or the target of its symlink) is gone: reinstall the bouncer's package or point --bouncers.config-file at the right file".into(),
        ReadError::Permission => "let the exporter read it: run it as root or add its user to the file's group (chmod 640, chgrp)".into(),
        ReadError::Directory | ReadError::NotFile => "this is not a configuration file: move it out of the bouncers' folder".into(),
        ReadError::TooLarge(_) => "this is not a bouncer configuration (a stray log or dump?): move it out of the bouncers' folder".into(),
        ReadError::Io(_) => "check the file and its symlinks (`ls -lL`, `readlink -f`): a symlink loop or a broken disk stops the bouncer too".into(),
    }
}

fn parse_fix(e: &ParseError) -> String {
    match e {
        ParseError::Empty => "the installer did not write it: reinstall the bouncer's package or copy its example configuration".into(),
        ParseError::Binary(_) => "this is not a text configuration: restore the bouncer's configuration from its package or a backup".into(),
        ParseError::Yaml { .. } => "fix the YAML at that line (indentation with spaces, a `:` after each key, quotes around values with `: ` or `#`), then restart the bouncer".into(),
        ParseError::Tab { .. } => "indent with spaces only, then restart the bouncer".into(),
        ParseError::Duplicate { .. } => "keep one line per key (put overrides in the `.local` file), then restart the bouncer".into(),
        ParseError::NotMapping(_) => "the file must hold `key: value` settings: restore it from the bouncer's example configuration".into(),
        ParseError::Merge(_) => "give the setting the same shape in the `.local` file as in the main file (a value for a value, a list for a list, keys for a section), then restart the bouncer".into(),
    }
}

/// An address that passes [`check_url`] for this kind: Go bouncers add a missing `/` themselves, the Lua ones
/// strip it (and broke on it before lua-cs-bouncer 1.0.6), the apache module breaks on it.
pub fn example_url(kind: Kind) -> &'static str {
    match kind {
        Kind::Go | Kind::Cloudflare | Kind::CrowdsecConfig => "http://127.0.0.1:8080/",
        Kind::Lua | Kind::LuaHaproxy | Kind::Apache => "http://127.0.0.1:8080",
    }
}

/// Quotes or an inline `# comment` in a Lua value: lua-cs-bouncer keeps both (config.lua only trims spaces).
fn lua_literal_junk(value: &str) -> bool {
    value.starts_with(['"', '\''])
        || value.ends_with(['"', '\''])
        || value.contains(" #")
        || value.contains("\t#")
}

/// api_url: present, absolute http(s) with a host, and no trailing slash where the bouncer breaks on it.
/// Returns the URL whose `/health` says whether the LAPI answers.
fn check_url(kind: Kind, parsed: &Parsed, checks: &mut Vec<CheckResult>) -> Option<reqwest::Url> {
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
        // (tests/e2e_bouncer_oracle.rs).
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
pub const LUA_SLASH_NOTE: &str =
    "trailing `/` stripped by lua-cs-bouncer >= 1.0.6; older ones request `//v1/decisions`";

/// The LAPI's base URL with exactly one trailing `/`, so `http://h:8080`, `http://h:8080/` and
/// `http://h:8080//` compare (and are asked `/health`) as one.
pub fn normalise(mut url: reqwest::Url) -> reqwest::Url {
    let path = format!("{}/", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

fn vars(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("${{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What [`check_auth`] learnt.
#[derive(Default)]
struct Auth {
    /// The file holds a secret (so its permissions matter).
    holds_key: bool,
    /// The key is worth looking up in the LAPI's registrations.
    key_usable: bool,
    tls_cn: Option<String>,
    tls_skipped: Option<String>,
}

/// api_key, or tls_files when the file uses a client certificate.
fn check_auth(kind: Kind, parsed: &Parsed, checks: &mut Vec<CheckResult>, now: i64) -> Auth {
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
    let register = format!("register the bouncer with `cscli bouncers add <name>` on the LAPI host, put the key it prints in {key_name}, then restart the bouncer");
    let lua = matches!(kind, Kind::Lua | Kind::LuaHaproxy);
    if raw.is_empty() {
        let detail = if kind.is_yaml() {
            // go-cs-bouncer StreamBouncer.Init: "config does not contain LAPI key or certificate".
            format!("{key_name} is empty or null (after the .local overlay) and no certificate is set: the bouncer refuses to start")
        } else {
            format!("{key_name} is not set")
        };
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
    if raw.starts_with('<') && raw.ends_with('>') {
        checks.push(fail(
            Check::ApiKey,
            format!("{key_name} is the installer's placeholder {raw}: no key was generated at install time (cscli missing or failed)"),
            register,
        ));
        return auth;
    }
    if lua && raw.contains('$') {
        checks.push(fail(
            Check::ApiKey,
            format!("{key_name} holds an unexpanded variable: the nginx/openresty bouncer does not expand environment variables, so the templating step did not run"),
            format!("write the key itself in {key_name}, or run the templating (envsubst) that was meant to fill it"),
        ));
        return auth;
    }
    if lua && lua_literal_junk(raw) {
        checks.push(fail(
            Check::ApiKey,
            format!("{key_name} holds quotes or an inline `# comment`: the Lua bouncer sends them literally as part of the key, so LAPI answers 403"),
            format!("write {key_name}=<the key> alone on its line: no quotes, comments on their own line starting with `#`"),
        ));
        return auth;
    }
    if is_placeholder(raw) {
        checks.push(fail(
            Check::ApiKey,
            format!("{key_name} is a placeholder, not a key: the installer could not register the bouncer"),
            register,
        ));
        return auth;
    }
    checks.push(pass(Check::ApiKey, format!("{key_name} set")));
    auth.key_usable = true;
    auth
}

/// Client-certificate files: the certificate and its key must be readable by the bouncer; the certificate's
/// CN names the bouncer in LAPI. An unreadable certificate for the exporter (permissions) is no evidence.
fn check_tls(tls: &super::TlsFiles, checks: &mut Vec<CheckResult>, now: i64) -> Auth {
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
fn is_placeholder(key: &str) -> bool {
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

fn check_permissions(
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

impl Inspection {
    /// The key's sha512, to look up in the LAPI database (`None` when there is no usable key).
    pub fn key_hash(&self) -> Option<Secret> {
        self.key.as_ref().map(key_hash)
    }

    pub fn health_url(&self) -> Option<&reqwest::Url> {
        self.health_url.as_ref()
    }

    /// Records what the LAPI database said about the key; `registered` says whether a name is registered
    /// (`None`: nobody can tell, e.g. cscli-only LAPIs), for the `.id` file.
    pub fn key_registered(&mut self, lookup: KeyLookup, registered: &dyn Fn(&str) -> Option<bool>) {
        let (_, key_name) = self.report.kind.url_key();
        match lookup {
            KeyLookup::Registered { lapi, bouncer } => {
                let mut detail = format!("the key belongs to bouncer {bouncer:?}");
                if let Some(id) = self.report.id_name.as_ref().filter(|id| **id != bouncer) {
                    detail.push_str(&format!(" (the .id file says {id:?})"));
                }
                self.report.checks.push(pass(Check::KeyRegistered, detail));
                self.report.bouncer = Some(bouncer);
                self.report.lapi = Some(lapi);
            }
            KeyLookup::Unknown => {
                self.report.checks.push(fail(
                    Check::KeyRegistered,
                    format!("no bouncer is registered with this {key_name}: it was deleted (`cscli bouncers delete`, auto-delete of idle bouncers) or the key was mistyped"),
                    format!("run `cscli bouncers add <name>` on the LAPI host, put the new key in {key_name}, restart the bouncer"),
                ));
            }
            KeyLookup::Unavailable(why) => {
                // Not a verdict on the file: no evidence either way.
                tracing::debug!(path = %self.report.path.display(), reason = %why, "key not checked");
                self.report
                    .skipped
                    .push(skip(Check::KeyRegistered, format!("not checked: {why}")));
                self.name_from_id(registered);
            }
        }
    }

    /// A file without a key (TLS, or none found) may still name its bouncer in `.id`; a name nobody can confirm
    /// (`None`) is kept, said so in the skipped reason by the caller.
    pub fn name_from_id(&mut self, registered: &dyn Fn(&str) -> Option<bool>) {
        if self.report.bouncer.is_none() {
            self.report.bouncer = self
                .report
                .id_name
                .clone()
                .filter(|n| registered(n) != Some(false));
        }
    }

    /// Records the answer of `GET <api_url>/health`.
    pub fn lapi_reachable(&mut self, answer: &Result<(), String>) {
        let url = self
            .health_url
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_default();
        self.report.checks.push(match answer {
            Ok(()) => pass(Check::LapiReachable, format!("{url} answers")),
            Err(e) => fail(
                Check::LapiReachable,
                format!("{url}: {e}"),
                "start CrowdSec (`systemctl status crowdsec`), check api.server.listen_uri in its config matches this URL, and that no firewall or proxy stands between the bouncer and the LAPI",
            ),
        });
    }

    pub fn finish(mut self) -> FileReport {
        self.report.checks.sort_by_key(|c| c.check);
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_cscli() {
        // sha512("abc"), the NIST test vector.
        assert!(key_hash(&Secret::new("abc"))
            .expose()
            .starts_with("ddaf35a193617aba"));
    }

    #[test]
    fn integration_urls() {
        let id = "0123456789abcdef01234567";
        let url = format!("https://admin.api.crowdsec.net/v1/integrations/{id}/");
        assert_eq!(integration_id(&url).as_deref(), Some(id));
        assert_eq!(integration_id("http://127.0.0.1:8080/"), None);
        let report = FileReport {
            path: "/x.yaml".into(),
            kind: Kind::Go,
            api_url: Some(url),
            bouncer: None,
            lapi: None,
            enabled: true,
            mode: None,
            tls_cn: None,
            id_name: None,
            checks: vec![pass(Check::ApiUrl, "ok")],
            skipped: Vec::new(),
            notes: Vec::new(),
        };
        assert!(report
            .clone()
            .with_integrations(None)
            .check(Check::Integration)
            .is_none());
        let known = report.clone().with_integrations(Some(&[id]));
        assert_eq!(
            known.check(Check::Integration).unwrap().status,
            Status::Pass
        );
        let gone = report.with_integrations(Some(&["ffffffffffffffffffffffff"]));
        assert_eq!(gone.check(Check::Integration).unwrap().status, Status::Fail);
        assert!(!gone.valid());
    }

    #[test]
    fn placeholders() {
        for p in ["<API_KEY>", "${API_KEY}", "$API_KEY", "API_KEY", "changeme"] {
            assert!(is_placeholder(p), "{p}");
        }
        assert!(!is_placeholder("e2eKeyPulling0123456789abcdefABCD"));
    }
}
