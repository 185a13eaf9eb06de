//! Bouncer configuration files: found in the bouncers' folder, read with a size cap, parsed the way each bouncer
//! parses its own file ([`parse`]), then checked ([`checks`]). Nothing here sends a request: the checks that need
//! the network or the LAPI database get their answers from the `bouncer_config` source.

mod blaas;
pub(crate) use blaas::refresh_fix;
pub mod checks;
pub(crate) mod client_cert;
pub(crate) mod host_checks;
pub mod link;
mod offline_checks;
pub mod parse;
pub mod reachability;

use std::path::{Path, PathBuf};

use crate::values::secret::Secret;

/// A bouncer configuration is a few KB; anything past this is not one (and must not fill memory).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// How a bouncer reads its file: decides the parser, the keys and the pitfalls checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// firewall, custom, spoa...: YAML `api_url`/`api_key`, `.local` overlay, `$VAR` expansion.
    Go,
    /// cloudflare: YAML `crowdsec_lapi_url`/`crowdsec_lapi_key`.
    Cloudflare,
    /// cloudflare worker, blocklist mirror: YAML `crowdsec_config.lapi_url`/`lapi_key`.
    CrowdsecConfig,
    /// nginx, openresty: Lua `KEY=VALUE`.
    Lua,
    /// haproxy (legacy Lua): `KEY=VALUE`, the URL lives in haproxy.cfg.
    LuaHaproxy,
    /// apache: `CrowdsecURL`, `CrowdsecAPIKey` directives.
    Apache,
    /// Traefik plugin: a middleware of Traefik's dynamic configuration (`crowdsecLapiKey`, `crowdsecLapiHost`...).
    Traefik,
    /// Caddy's bouncer: the `crowdsec { … }` global option of the Caddyfile, or `apps.crowdsec` of Caddy's JSON.
    Caddy,
}

impl Kind {
    /// The kind from the file name; YAML files are refined by their keys once parsed.
    pub(crate) fn from_path(path: &Path) -> Kind {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if name == "caddyfile"
            || name.ends_with(".caddyfile")
            || (name.contains("caddy") && name.ends_with(".json"))
        {
            Kind::Caddy
        } else if name.ends_with(".toml") {
            // Traefik's dynamic configuration in TOML (no bouncer's own file is TOML).
            Kind::Traefik
        } else if name.contains("cloudflare-worker") || name.contains("blocklist-mirror") {
            Kind::CrowdsecConfig
        } else if name.contains("cloudflare") && yaml {
            Kind::Cloudflare
        } else if yaml {
            Kind::Go
        } else if name.contains("apache") {
            Kind::Apache
        } else if name.contains("haproxy") {
            Kind::LuaHaproxy
        } else {
            Kind::Lua
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::Go => "Go bouncer (YAML)",
            Kind::Cloudflare => "cloudflare bouncer (YAML)",
            Kind::CrowdsecConfig => "cloudflare worker / blocklist mirror (YAML)",
            Kind::Lua => "nginx/openresty bouncer (Lua KEY=VALUE)",
            Kind::LuaHaproxy => "haproxy bouncer (Lua KEY=VALUE)",
            Kind::Apache => "apache bouncer (directives)",
            Kind::Traefik => "Traefik plugin (Traefik dynamic configuration)",
            Kind::Caddy => "Caddy bouncer (Caddyfile or Caddy JSON)",
        }
    }

    /// Names of the URL and key settings, as the operator has to write them.
    pub(crate) fn url_key(self) -> (&'static str, &'static str) {
        match self {
            Kind::Go => ("api_url", "api_key"),
            Kind::Cloudflare => ("crowdsec_lapi_url", "crowdsec_lapi_key"),
            Kind::CrowdsecConfig => ("crowdsec_config.lapi_url", "crowdsec_config.lapi_key"),
            Kind::Lua | Kind::LuaHaproxy => ("API_URL", "API_KEY"),
            Kind::Apache => ("CrowdsecURL", "CrowdsecAPIKey"),
            Kind::Traefik => (
                "crowdsecLapiScheme/crowdsecLapiHost/crowdsecLapiPath",
                "crowdsecLapiKey",
            ),
            Kind::Caddy => ("api_url", "api_key"),
        }
    }

    fn is_yaml(self) -> bool {
        matches!(self, Kind::Go | Kind::Cloudflare | Kind::CrowdsecConfig)
    }

    /// Whether the bouncer reads `<file>.local` over its file: the Go bouncers (go-cs-lib csyaml Patcher) and the
    /// nginx/openresty ones since lua-cs-bouncer 1.0.7; never the legacy haproxy bouncer nor apache.
    pub(crate) fn reads_overlay(self) -> bool {
        self.is_yaml() || self == Kind::Lua
    }
}

/// What a bouncer would read from its file (after its `.local` overlay and, for Go bouncers, the expansion of the
/// variables the exporter can see).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The LAPI URL, as the bouncer reads it.
    pub api_url: Option<String>,
    /// The API key, as the bouncer reads it (redacted in `Debug`).
    pub api_key: Option<Secret>,
    /// TLS client authentication instead of a key.
    pub tls: Option<TlsFiles>,
    /// Where the bouncer would silently stop reading (Lua: a line without `=`), e.g. `line 2`.
    pub stopped_at: Option<String>,
    /// Lua `ENABLED` (default true): a disabled bouncer reads nothing else. Go bouncers have no such switch.
    pub enabled: bool,
    /// Lua `MODE`: `live` or `stream` (the default, also for a value the bouncer does not accept).
    pub mode: Option<&'static str>,
    /// What the bouncer reads differently from what its author probably meant (BOM, a value it replaces with
    /// its default); no secret, no value.
    pub notes: Vec<String>,
    /// Lua: the keys the `.local` overlay sets.
    pub overlay_keys: Vec<String>,
    /// Where the key comes from when the exporter does not read it (Traefik `crowdsecLapiKeyFile`), said, never
    /// guessed.
    pub key_elsewhere: Option<String>,
    /// Why the file is not judged at all (a Traefik or Caddy configuration without the bouncer): no check fails.
    pub unjudged: Option<String>,
    /// Go: `$VAR`s of api_url / api_key the exporter's environment does not define (the bouncer's may).
    pub url_undefined_vars: Vec<String>,
    /// Go: the same for api_key.
    pub key_undefined_vars: Vec<String>,
    /// Go bouncers: `log_mode` (`file` or `stdout`) and `log_dir`, where the `log` check finds their log.
    pub log_mode: Option<String>,
    /// Go bouncers: the folder of `<program>.log` when `log_mode: file`.
    pub log_dir: Option<String>,
    /// How the bouncer verifies the LAPI's certificate.
    pub trust: Trust,
}

impl Default for Parsed {
    fn default() -> Self {
        Parsed {
            api_url: None,
            api_key: None,
            tls: None,
            stopped_at: None,
            enabled: true,
            mode: None,
            notes: Vec::new(),
            overlay_keys: Vec::new(),
            key_elsewhere: None,
            unjudged: None,
            url_undefined_vars: Vec::new(),
            key_undefined_vars: Vec::new(),
            log_mode: None,
            log_dir: None,
            trust: Trust::default(),
        }
    }
}

/// How the bouncer verifies the LAPI's certificate, so `endpoint_reachable` verifies it the same way and never
/// calls a private-CA LAPI unreachable (go-cs-bouncer tls.go getCertPool at 5e664e66: the system roots plus
/// `ca_cert_path`; client.go: `insecure_skip_verify`, for key and certificate auth alike; lua-cs-bouncer:
/// `SSL_VERIFY=false`).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Trust {
    /// A CA file trusted on top of the system's roots.
    pub ca: Option<PathBuf>,
    /// The bouncer does not verify the certificate at all.
    pub insecure: bool,
}

/// TLS client authentication files named by a bouncer's configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsFiles {
    /// Client certificate.
    pub cert: Option<PathBuf>,
    /// Its private key.
    pub key: Option<PathBuf>,
    /// CA that verifies the LAPI.
    pub ca: Option<PathBuf>,
}

/// Why a bouncer configuration file cannot be read: the exporter's one file-reading error.
pub use crate::values::file::FileError as ReadError;

/// Reads at most [`MAX_FILE_BYTES`] of `path`, following symlinks (a loop is an I/O error, not a hang), through
/// the exporter's one non-blocking reader ([`crate::values::file::read_regular`]: a FIFO is refused, not waited on).
///
/// # Errors
/// A [`ReadError`]: missing, permission, a directory or other non-regular file, too large, another I/O error.
pub fn read_capped(path: &Path) -> Result<Vec<u8>, ReadError> {
    crate::values::file::read_regular(path, MAX_FILE_BYTES)
}

/// `<file><suffix>`, e.g. the `.local` overlay or the `.id` file.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Files checked at most per pass. A host runs a handful of bouncers; a folder of 100,000 files (issue 23: 41 MB
/// grew to 400-900 MB, every second scrape waited 10 s) is not a bouncers' folder, and checking it whole would
/// cost every scrape. The first files by name are checked; the rest are counted as skipped (`limit`).
pub const MAX_FILES_PER_PASS: usize = 256;

/// Why a file found was not checked this pass: the `reason` label of `crowdsec_bouncer_config_files_skipped`.
pub const SKIP_REASONS: [&str; 3] = ["limit", "not_regular", "time"];

/// The files of one pass ([`scan`]) and how many were left out, by reason ([`SKIP_REASONS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// The files to check, sorted, at most [`MAX_FILES_PER_PASS`].
    pub files: Vec<PathBuf>,
    /// Left out: `limit` past [`MAX_FILES_PER_PASS`], `not_regular` a FIFO, socket or device with a
    /// configuration's name (never opened), `time` not reached within the pass's time budget.
    pub skipped: std::collections::BTreeMap<&'static str, u64>,
}

/// Configuration files in `dirs` (missing folders are skipped) plus `files`, sorted, without duplicates, at most
/// `max_files` of them (see [`Discovery`]). Overlays (`.local`), `.id` files, backups and package leftovers are
/// not configurations of their own; only names a bouncer's package installs (`.yaml`, `.yml`, `.conf`, not
/// hidden) are kept. A folder is listed entry by entry without keeping what is not kept, so memory follows the
/// files kept, not the folder's size.
pub fn scan(dirs: &[PathBuf], files: &[PathBuf], max_files: usize) -> Discovery {
    let mut found: Vec<PathBuf> = files.to_vec();
    let mut skipped = std::collections::BTreeMap::new();
    // Past this, names are only counted: sorting keeps the first `max_files`, so a bounded buffer suffices.
    let keep = max_files.saturating_mul(4).max(64);
    let mut over = 0u64;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let wanted = [".yaml", ".yml", ".conf"].iter().any(|e| name.ends_with(e))
                && !name.starts_with('.');
            if !wanted {
                continue;
            }
            // The entry's type from the listing (no stat): a real folder is skipped; a symlink is kept, so a
            // broken or looping one is reported; a FIFO, socket or device is never opened.
            match entry.file_type() {
                Ok(t) if t.is_dir() => continue,
                Ok(t) if !(t.is_file() || t.is_symlink()) => {
                    *skipped.entry("not_regular").or_insert(0) += 1;
                    continue;
                }
                _ => {}
            }
            found.push(entry.path());
            if found.len() > keep * 2 {
                found.sort();
                found.dedup();
                over += found.len().saturating_sub(keep) as u64;
                found.truncate(keep);
            }
        }
    }
    found.sort();
    found.dedup();
    over += found.len().saturating_sub(max_files) as u64;
    found.truncate(max_files);
    if over > 0 {
        skipped.insert("limit", over);
    }
    Discovery {
        files: found,
        skipped,
    }
}

/// [`scan`] with [`MAX_FILES_PER_PASS`], the files only.
pub fn discover(dirs: &[PathBuf], files: &[PathBuf]) -> Vec<PathBuf> {
    scan(dirs, files, MAX_FILES_PER_PASS).files
}
