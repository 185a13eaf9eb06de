//! The named checks of one bouncer configuration file. [`inspect`] runs the offline ones (readable, parses,
//! api_url, api_key or tls_files, permissions); the `bouncer_config` source then adds key_registered (a hash
//! compared in the LAPI database) and lapi_reachable (`GET /health`, no key) through [`Inspection`].
//! Every failed check carries the fix to try, in operator words.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha512};

use super::parse::{parse, ParseError};
use super::{read_capped, sibling, Kind, Parsed, ReadError};
use crate::secret::Secret;

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

/// Everything known about one file; holds no secret (the key stays in [`Inspection`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub kind: Kind,
    pub api_url: Option<String>,
    /// The registered bouncer this file belongs to (its key's row, else its `.id` file).
    pub bouncer: Option<String>,
    /// The LAPI (by name) whose database knows the key.
    pub lapi: Option<String>,
    pub checks: Vec<CheckResult>,
}

impl FileReport {
    /// No check failed (warnings allowed).
    pub fn valid(&self) -> bool {
        !self.checks.iter().any(|c| c.status == Status::Fail)
    }

    pub fn check(&self, check: Check) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.check == check)
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
    /// Name in `<file>.id`, written by the installers at registration.
    id_name: Option<String>,
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

/// Runs the offline checks on `path`; `env` expands `$VAR` in YAML files as the bouncer would.
pub fn inspect(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Inspection {
    let kind = Kind::from_path(path);
    let mut insp = Inspection {
        report: FileReport {
            path: path.to_owned(),
            kind,
            api_url: None,
            bouncer: None,
            lapi: None,
            checks: Vec::new(),
        },
        key: None,
        health_url: None,
        id_name: None,
    };
    let checks = &mut insp.report.checks;
    let main = match read_capped(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            checks.push(fail(Check::Readable, format!("the file {e}"), read_fix(&e)));
            return insp;
        }
    };
    let overlay_path = sibling(path, ".local");
    let overlay = if kind.is_yaml() {
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
    match &parsed.stopped_at {
        Some(at) => checks.push(fail(
            Check::Parses,
            format!("{at} has no `=`: the bouncer stops reading the file there and ignores every setting after it"),
            "comment that line out with `#` or write it as KEY=VALUE, then restart the bouncer",
        )),
        None => checks.push(pass(Check::Parses, "parses")),
    }
    insp.health_url = check_url(kind, &parsed, checks);
    insp.report.api_url = parsed.api_url.clone();
    let holds_key = check_auth(kind, &parsed, checks);
    // A Blocklist-as-a-Service key belongs to the Service API, not to any LAPI database.
    let blaas = parsed
        .api_url
        .as_deref()
        .and_then(|u| reqwest::Url::parse(u.trim()).ok())
        .is_some_and(|u| u.host_str() == Some(SERVICE_API_HOST));
    if holds_key && !blaas && checks.last().is_some_and(|c| c.status == Status::Pass) {
        insp.key = parsed.api_key.clone();
    }
    check_permissions(
        path,
        overlay.is_some().then_some(&overlay_path),
        holds_key,
        checks,
    );
    insp.id_name = read_capped(&sibling(path, ".id"))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.len() <= 256);
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
        ParseError::NotMapping(_) => "the file must hold `key: value` settings: restore it from the bouncer's example configuration".into(),
    }
}

/// api_url: present, absolute http(s) with a host, and no trailing slash where the bouncer breaks on it.
/// Returns the URL whose `/health` says whether the LAPI answers.
fn check_url(kind: Kind, parsed: &Parsed, checks: &mut Vec<CheckResult>) -> Option<reqwest::Url> {
    let (url_key, _) = kind.url_key();
    let example = if kind == Kind::Apache {
        "http://127.0.0.1:8080"
    } else {
        "http://127.0.0.1:8080/"
    };
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
    let url = match reqwest::Url::parse(text) {
        Ok(u) => u,
        Err(_) => {
            checks.push(fail(
                Check::ApiUrl,
                format!("{url_key} {text:?} is not an absolute URL"),
                format!("write it as {example} (scheme, host and port); an unexpanded ${{VAR}} means the variable is not set for the bouncer"),
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
    } else if text.ends_with('/') && matches!(kind, Kind::Lua | Kind::LuaHaproxy) {
        checks.push(warn(
            Check::ApiUrl,
            "API_URL ends with `/`: older Lua bouncers then ask for `//v1/decisions` and get nothing",
            "remove the trailing slash from API_URL and reload nginx/openresty",
        ));
    } else {
        checks.push(pass(Check::ApiUrl, url.as_str()));
    }
    (!blaas).then_some(url)
}

/// api_key (or tls_files when the file uses a client certificate). Returns whether the file holds a key.
fn check_auth(kind: Kind, parsed: &Parsed, checks: &mut Vec<CheckResult>) -> bool {
    let (_, key_name) = kind.url_key();
    if let Some(tls) = &parsed.tls {
        let mut problems = Vec::new();
        for (what, p, required) in [
            ("certificate", &tls.cert, true),
            ("private key", &tls.key, true),
            ("CA certificate", &tls.ca, false),
        ] {
            match p {
                None if required => problems.push(format!("no client {what} set")),
                None => {}
                Some(p) => {
                    if let Err(e) = read_capped(p) {
                        problems.push(format!("the {what} {} {e}", p.display()));
                    }
                }
            }
        }
        if problems.is_empty() {
            checks.push(pass(Check::TlsFiles, "certificate files readable"));
        } else {
            checks.push(fail(
                Check::TlsFiles,
                problems.join("; "),
                "put the client certificate and key (and the CA that signed the LAPI's certificate) where the file says, readable by the bouncer, or switch to an API key",
            ));
        }
        return false;
    }
    let key = parsed
        .api_key
        .as_ref()
        .map(|k| k.expose().trim())
        .unwrap_or_default();
    let register = format!("register the bouncer with `cscli bouncers add <name>` on the LAPI host, put the key it prints in {key_name}, then restart the bouncer");
    if key.is_empty() {
        checks.push(fail(
            Check::ApiKey,
            format!("{key_name} is not set"),
            register,
        ));
        return false;
    }
    if is_placeholder(key) {
        checks.push(fail(
            Check::ApiKey,
            format!("{key_name} is a placeholder, not a key: the installer could not register the bouncer"),
            register,
        ));
        return true;
    }
    checks.push(pass(Check::ApiKey, format!("{key_name} set")));
    true
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

    /// Records what the LAPI database said about the key; `registered` lists every registered name (for `.id`).
    pub fn key_registered(&mut self, lookup: KeyLookup, registered: &dyn Fn(&str) -> bool) {
        let (_, key_name) = self.report.kind.url_key();
        let checks = &mut self.report.checks;
        match lookup {
            KeyLookup::Registered { lapi, bouncer } => {
                let mut detail = format!("the key belongs to bouncer {bouncer:?}");
                if let Some(id) = self.id_name.as_ref().filter(|id| **id != bouncer) {
                    detail.push_str(&format!(" (the .id file says {id:?})"));
                }
                checks.push(pass(Check::KeyRegistered, detail));
                self.report.bouncer = Some(bouncer);
                self.report.lapi = Some(lapi);
            }
            KeyLookup::Unknown => {
                checks.push(fail(
                    Check::KeyRegistered,
                    format!("no bouncer is registered with this {key_name}: it was deleted (`cscli bouncers delete`, auto-delete of idle bouncers) or the key was mistyped"),
                    format!("run `cscli bouncers add <name>` on the LAPI host, put the new key in {key_name}, restart the bouncer"),
                ));
            }
            KeyLookup::Unavailable(why) => {
                // Not a verdict on the file: the exporter's own source is down (see crowdsec_exporter_source_up).
                tracing::debug!(path = %self.report.path.display(), reason = %why, "key not checked");
                self.report.bouncer = self.id_name.clone().filter(|n| registered(n));
            }
        }
    }

    /// A file without a key (TLS, or none found) may still name its bouncer in `.id`.
    pub fn name_from_id(&mut self, registered: &dyn Fn(&str) -> bool) {
        if self.report.bouncer.is_none() {
            self.report.bouncer = self.id_name.clone().filter(|n| registered(n));
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
            checks: vec![pass(Check::ApiUrl, "ok")],
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
