//! The named checks of one bouncer configuration file. [`inspect`] runs the offline ones (readable, parses, api_url,
//! api_key or tls_files, permissions); the `bouncer_config` source adds the others through [`Inspection`]
//! (key_registered: a hash compared in the LAPI database; reachability and host evidence). Every failed check
//! carries the fix to try, in operator words.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha512};

use super::blaas::SERVICE_API_HOST;
pub(crate) use super::offline_checks::LUA_SLASH_NOTE;
use super::offline_checks::{check_auth, check_permissions, check_url, parse_fix, read_fix};
use super::parse::parse;
use super::{read_capped, sibling, Kind, Parsed, ReadError};
use crate::values::secret::Secret;

/// One check of a bouncer configuration file: the `check` label of `crowdsec_bouncer_config_check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The exporter can read the file.
    Readable,
    /// The bouncer's own reader accepts it.
    Parses,
    /// `api_url` is a URL the bouncer can use.
    ApiUrl,
    /// An API key is given (or TLS files instead).
    ApiKey,
    /// The TLS client certificate and key exist and match.
    TlsFiles,
    /// The key's hash is registered in the LAPI's database.
    KeyRegistered,
    /// The LAPI at `api_url` answers `/health`.
    LapiReachable,
    /// The file is not readable by others (it holds a key).
    Permissions,
    /// A Blocklist-as-a-Service URL names an integration the Service API lists.
    Integration,
    /// The bouncer behind the file runs on this host (its process, its systemd unit, or for module bouncers the
    /// web server that loads the CrowdSec module). Host evidence: never part of [`FileReport::valid`].
    Running,
    /// The bouncer's own recent log has no error of a known class (auth, connect, tls, config). Host evidence.
    Log,
    /// TCP + TLS + HTTP to the file's API URL answers, without any key (LAPI `GET /health`; a
    /// Blocklist-as-a-Service URL: its host). Host evidence; generalises `lapi_reachable`.
    EndpointReachable,
}

impl Check {
    /// The `check` label.
    pub(crate) fn name(self) -> &'static str {
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
            Check::Running => "running",
            Check::Log => "log",
            Check::EndpointReachable => "endpoint_reachable",
        }
    }

    /// Whether the check judges the file itself. The host checks (running, log, endpoint_reachable) name causes
    /// of an outage, not faults of the file: a stopped bouncer's correct file stays valid.
    pub fn judges_file(self) -> bool {
        !matches!(self, Check::Running | Check::Log | Check::EndpointReachable)
    }
}

/// A warning does not make the file invalid (it still works), but is shown and exported as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Passed.
    Pass,
    /// Works, but not as probably meant (metric value 0, the file stays valid).
    Warn,
    /// The bouncer cannot work with this (the file is invalid).
    Fail,
}

/// The result of one check on one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// Which check.
    pub check: Check,
    /// Its outcome.
    pub status: Status,
    /// What was found, in operator words; never a secret.
    pub detail: String,
    /// What to do, when it did not pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// A check that did not run because its evidence was out of reach; never exported as a metric (no evidence, no
/// series), shown by `diagnose`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// Which check.
    pub check: Check,
    /// Why, in operator words, e.g. "not checked: the LAPI is read through cscli, whose JSON has no key hashes".
    pub why: String,
}

/// Everything known about one file; holds no secret (the key stays in [`Inspection`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Which bouncer's format, from the file name.
    pub kind: Kind,
    /// The LAPI URL the bouncer would use, as it reads it.
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
    /// Every check that ran.
    pub checks: Vec<CheckResult>,
    /// Checks that could not run, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// How the bouncer reads the file differently from how it looks (BOM, values it replaces by defaults...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Errors of a known class in the bouncer's own recent log (check `log`), by class: `auth`, `connect`, `tls`,
    /// `config`. Empty when the log was clean or not seen; counts only, never log text.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub log_errors: std::collections::BTreeMap<&'static str, u64>,
}

impl FileReport {
    /// No check failed (warnings allowed).
    pub fn valid(&self) -> bool {
        !self
            .checks
            .iter()
            .any(|c| c.status == Status::Fail && c.check.judges_file())
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

    /// The result of `check`, if it ran.
    pub fn check(&self, check: Check) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.check == check)
    }

    /// Why `check` did not run, if it did not.
    pub fn skipped(&self, check: Check) -> Option<&Skipped> {
        self.skipped.iter().find(|s| s.check == check)
    }
}

/// What the LAPI database says about a key hash.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KeyLookup {
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
    /// What is known so far (no secret).
    pub report: FileReport,
    /// Only set when api_key passed.
    key: Option<Secret>,
    /// The URL to ask `/health`, when api_url passed and it is a LAPI.
    health_url: Option<reqwest::Url>,
    /// What the host checks (running, log) need from the file.
    pub(super) host: super::host_checks::HostHints,
    /// How the bouncer verifies the LAPI's certificate (endpoint_reachable verifies it the same way).
    pub(super) trust: super::Trust,
}

/// sha512 hex of a key, as CrowdSec stores it in `bouncers.api_key`. A secret itself: never log it.
pub fn key_hash(key: &Secret) -> Secret {
    Secret::new(format!("{:x}", Sha512::digest(key.expose().as_bytes())))
}

pub(super) fn pass(check: Check, detail: impl Into<String>) -> CheckResult {
    CheckResult {
        check,
        status: Status::Pass,
        detail: detail.into(),
        fix: None,
    }
}

pub(super) fn fail(check: Check, detail: impl Into<String>, fix: impl Into<String>) -> CheckResult {
    CheckResult {
        check,
        status: Status::Fail,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

pub(super) fn warn(check: Check, detail: impl Into<String>, fix: impl Into<String>) -> CheckResult {
    CheckResult {
        status: Status::Warn,
        ..fail(check, detail, fix)
    }
}

pub(super) fn skip(check: Check, why: impl Into<String>) -> Skipped {
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
pub(crate) fn inspect_at(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    now: i64,
) -> Inspection {
    let kind = Kind::from_path(path);
    let mut insp = Inspection::empty(path, kind);
    insp.report.id_name = read_capped(&sibling(path, ".id"))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.len() <= 256);
    let checks = &mut insp.report.checks;
    let overlay_path = sibling(path, ".local");
    let Some((main, overlay)) = read_with_overlay(path, kind, &overlay_path, checks) else {
        return insp;
    };
    checks.push(pass(Check::Readable, "readable"));
    let (kind, parsed) = match parse(kind, &main, overlay.as_deref(), env) {
        Ok(p) => p,
        Err(e) => {
            checks.push(fail(Check::Parses, e.to_string(), parse_fix(&e)));
            return insp;
        }
    };
    // The key is hidden from every output from now on, wherever else in the file it was written.
    if let Some(key) = &parsed.api_key {
        crate::values::secret::remember(key);
    }
    insp.report.kind = kind;
    if let Some(why) = &parsed.unjudged {
        // Nothing of a bouncer to judge: said, and no verdict (never called valid).
        insp.report.skipped.push(skip(Check::Parses, why.clone()));
        insp.report
            .skipped
            .push(skip(Check::KeyRegistered, why.clone()));
        return insp;
    }
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
    insp.host = super::host_checks::HostHints::from_parsed(&parsed);
    if skipped_by_mode(kind, &parsed, &mut insp.report.skipped) {
        return insp;
    }
    insp.health_url = check_url(kind, &parsed, checks);
    insp.trust = parsed.trust.clone();
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

impl Inspection {
    /// Nothing checked yet: `path`'s report with its kind guessed from its name.
    fn empty(path: &Path, kind: Kind) -> Inspection {
        Inspection {
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
                log_errors: Default::default(),
            },
            key: None,
            health_url: None,
            host: Default::default(),
            trust: Default::default(),
        }
    }
}

/// The file and, for a kind that reads one, its `.local` overlay (absent is fine); a failure is a `Readable` fail
/// in `checks` and `None`.
fn read_with_overlay(
    path: &Path,
    kind: Kind,
    overlay_path: &Path,
    checks: &mut Vec<CheckResult>,
) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let main = match read_capped(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            checks.push(fail(Check::Readable, format!("the file {e}"), read_fix(&e)));
            return None;
        }
    };
    let overlay = if kind.reads_overlay() {
        match read_capped(overlay_path) {
            Ok(b) => Some(b),
            Err(ReadError::Missing) => None,
            Err(e) => {
                checks.push(fail(
                    Check::Readable,
                    format!("its overlay {} {e}", overlay_path.display()),
                    read_fix(&e),
                ));
                return None;
            }
        }
    } else {
        None
    };
    Some((main, overlay))
}

/// Settings after which the bouncer reads no LAPI address or key (disabled, the traefik plugin's `alone` mode),
/// and the haproxy bouncer's unused API_URL: their skips go to `skipped`; `true` when nothing is left to check.
fn skipped_by_mode(kind: Kind, parsed: &Parsed, skipped: &mut Vec<Skipped>) -> bool {
    if !parsed.enabled {
        // lua-cs-bouncer csmod.init returns "Disabled" before it looks at any other setting.
        let why = if kind == Kind::Traefik {
            // crowdsec-bouncer-traefik-plugin bouncer.go: `if !bouncer.enabled` passes every request on.
            "enabled is not true (the plugin's default is false): the middleware lets every request through and asks no LAPI"
        } else {
            "ENABLED=false: the bouncer is disabled and reads no other setting"
        };
        skipped.push(skip(Check::ApiUrl, why));
        skipped.push(skip(Check::ApiKey, why));
        return true;
    }
    if kind == Kind::LuaHaproxy {
        // cs-haproxy-bouncer lib/crowdsec.lua (031e1e3) asks `"http://" ..
        // core.backends["crowdsec"].servers["crowdsec"]:get_addr()`: an API_URL line is read and never used.
        skipped.push(skip(
            Check::ApiUrl,
            "the haproxy bouncer takes its LAPI address from haproxy.cfg (server `crowdsec` of `backend crowdsec`), not from API_URL: nothing in this file to check or probe",
        ));
    }
    if kind == Kind::Traefik && parsed.mode == Some("alone") {
        // crowdsec-bouncer-traefik-plugin bouncer.go: `alone` pulls the community blocklist from CAPI with
        // crowdsecCapiMachineId/Password; no LAPI, no LAPI key.
        let why = "crowdsecMode alone: the plugin pulls CAPI's community blocklist with its machine credentials, no LAPI and no LAPI key";
        skipped.push(skip(Check::ApiUrl, why));
        skipped.push(skip(Check::ApiKey, why));
        skipped.push(skip(Check::KeyRegistered, why));
        return true;
    }
    false
}

impl Inspection {
    /// The key's sha512, to look up in the LAPI database (`None` when there is no usable key).
    pub(crate) fn key_hash(&self) -> Option<Secret> {
        self.key.as_ref().map(key_hash)
    }

    pub(crate) fn health_url(&self) -> Option<&reqwest::Url> {
        self.health_url.as_ref()
    }

    /// Records what the LAPI database said about the key; `registered` says whether a name is registered
    /// (`None`: nobody can tell, e.g. cscli-only LAPIs), for the `.id` file.
    pub(crate) fn key_registered(
        &mut self,
        lookup: KeyLookup,
        registered: &dyn Fn(&str) -> Option<bool>,
    ) {
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
    pub(crate) fn name_from_id(&mut self, registered: &dyn Fn(&str) -> Option<bool>) {
        if self.report.bouncer.is_none() {
            self.report.bouncer = self
                .report
                .id_name
                .clone()
                .filter(|n| registered(n) != Some(false));
        }
    }

    /// Records the answer of `GET <api_url>/health`.
    pub(crate) fn lapi_reachable(&mut self, answer: &Result<(), String>) {
        // Deprecated, kept only for the kinds it was exported for: the Traefik and Caddy bouncers mostly run in a
        // container whose LAPI name (the plugin's default `crowdsec:8080`) the exporter's host may not resolve, so
        // their reachability is only host evidence (endpoint_reachable), never a fault of the file.
        if matches!(self.report.kind, Kind::Traefik | Kind::Caddy) {
            return;
        }
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

    /// The report, the key dropped.
    pub fn finish(mut self) -> FileReport {
        self.report.checks.sort_by_key(|c| c.check);
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::super::blaas::integration_id;
    use super::*;
    use crate::crowdsec::bouncer_files::offline_checks::is_placeholder;

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
            log_errors: Default::default(),
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

    /// Issue 20 #6: a Traefik dynamic configuration passed with --bouncers.config-file is never judged as a Go
    /// bouncer: without the plugin's middleware (YAML or TOML), it is skipped with the reason and has no verdict.
    #[test]
    fn traefik_files_without_the_plugin_are_skipped_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text, why) in [
            (
                "dynamic.yml",
                "http:\n  middlewares:\n    auth:\n      basicAuth:\n        users: []\n",
                "without a middleware of the CrowdSec bouncer plugin",
            ),
            (
                "dynamic.toml",
                "[http.middlewares.auth.basicAuth]\n  users = []\n",
                "without a middleware of the CrowdSec bouncer plugin",
            ),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let r = inspect_at(&path, &|_| None, 0).finish();
            assert_eq!(r.kind, Kind::Traefik, "{name}");
            assert!(r.skipped(Check::Parses).unwrap().why.contains(why), "{r:?}");
            assert_eq!(r.verdict(), None, "never called valid nor invalid: {r:?}");
            assert!(r.checks.iter().all(|c| c.status == Status::Pass), "{r:?}");
        }
    }

    #[test]
    fn placeholders() {
        for p in ["<API_KEY>", "${API_KEY}", "$API_KEY", "API_KEY", "changeme"] {
            assert!(is_placeholder(p), "{p}");
        }
        assert!(!is_placeholder("e2eKeyPulling0123456789abcdefABCD"));
    }
}
