//! Bouncer configuration files: found in the bouncers' folder, read with a size cap, parsed the way each bouncer
//! parses its own file ([`parse`]), then checked ([`checks`]). Nothing here sends a request: the checks that need
//! the network or the LAPI database get their answers from the `bouncer_config` source.

mod blaas;
pub(crate) use blaas::refresh_fix;
pub mod checks;
pub mod endpoint;
pub(crate) mod host;
pub mod link;
pub mod parse;
mod rules;
pub(crate) mod tls;

use std::io::Read;
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

    /// A module of a web server (nginx/openresty, apache, haproxy Lua) rather than a program of its own.
    pub fn is_module(self) -> bool {
        !self.is_yaml()
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

/// Why a bouncer configuration file cannot be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReadError {
    /// No such file.
    #[error("does not exist")]
    Missing,
    /// The exporter's user may not read it.
    #[error("permission denied")]
    Permission,
    /// A directory.
    #[error("is a directory, not a file")]
    Directory,
    /// A socket, device or other special file.
    #[error("is not a regular file")]
    NotFile,
    /// Larger than a configuration file can be (its size in bytes).
    #[error("is too large ({0} bytes; a bouncer config is a few KB, at most {MAX_FILE_BYTES} bytes are read)")]
    TooLarge(u64),
    /// Another I/O error (its kind).
    #[error("cannot be read: {0}")]
    Io(String),
}

/// Reads at most [`MAX_FILE_BYTES`] of `path`, following symlinks (a loop is an I/O error, not a hang).
///
/// # Errors
/// A [`ReadError`]: missing, permission, a directory or other non-regular file, too large, another I/O error.
pub fn read_capped(path: &Path) -> Result<Vec<u8>, ReadError> {
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::Missing,
        std::io::ErrorKind::PermissionDenied => ReadError::Permission,
        std::io::ErrorKind::IsADirectory => ReadError::Directory,
        _ => ReadError::Io(e.to_string()),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(ReadError::Directory);
    }
    if !meta.is_file() {
        // A FIFO or device would block or never end.
        return Err(ReadError::NotFile);
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(io)?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(out.len() as u64));
    }
    Ok(out)
}

/// `<file><suffix>`, e.g. the `.local` overlay or the `.id` file.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Configuration files in `dirs` (missing folders are skipped) plus `files`, sorted, without duplicates.
/// Overlays (`.local`), `.id` files, backups and package leftovers are not configurations of their own.
pub fn discover(dirs: &[PathBuf], files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = files.to_vec();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let wanted = [".yaml", ".yml", ".conf"].iter().any(|e| name.ends_with(e))
                && !name.starts_with('.');
            // A real folder is skipped; a symlink is kept, so a broken or looping one is reported.
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if wanted && !is_dir {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
