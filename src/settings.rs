//! Settings, independent of where they come from (flags and env today; a YAML file can fill the same structs).

use std::path::PathBuf;
use std::time::Duration;

/// Default port: above 10000, used by no exporter in Prometheus' port list nor by any CrowdSec component
/// (LAPI 8080, metrics 6060, AppSec 7422).
pub const DEFAULT_PORT: u16 = 10423;

/// The environment variable that holds the Service API key (the alternative to `--service-api.key-file`).
pub const SERVICE_API_KEY_ENV: &str = "CROWDSEC_SERVICE_API_KEY";

#[derive(Debug, Clone)]
pub struct Settings {
    pub web: WebSettings,
    pub lapis: Vec<LapiSettings>,
    pub log: LogSettings,
    /// The Blocklist-as-a-Service source, enabled when a Service API key is given.
    pub service_api: Option<ServiceApiSettings>,
    /// Bouncer configuration checks and LAPI reachability (`None`: off).
    pub checks: Option<CheckSettings>,
    /// The thresholds `diagnose` judges with: the rule file's defaults unless the config file's `thresholds` says
    /// otherwise (the alerts read theirs from the recording rules).
    pub thresholds: Thresholds,
}

impl Settings {
    /// One LAPI read from `db`, read on every scrape (no cache), default web and log settings, no optional source:
    /// the starting point of tests, benchmarks and one-shot tools, which then change what they need.
    pub fn single_lapi(name: &str, db: LapiDbLocation) -> Settings {
        Settings {
            web: WebSettings {
                listen_addresses: Vec::new(),
                telemetry_path: "/metrics".to_owned(),
                max_scrape_wait: Duration::from_secs(10),
                config_file: None,
            },
            lapis: vec![LapiSettings {
                name: name.to_owned(),
                db,
                cache_interval: Duration::ZERO,
                read_timeout: Duration::from_secs(5),
                url: None,
            }],
            log: LogSettings {
                level: LogLevel::Warn,
                format: LogFormat::Logfmt,
            },
            service_api: None,
            checks: None,
            thresholds: Thresholds::default(),
        }
    }
}

/// Sources `bouncer_config` and `lapi_health`.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    /// Folders holding bouncer configuration files.
    pub config_dirs: Vec<PathBuf>,
    /// Configuration files checked besides the folders' ones.
    pub config_files: Vec<PathBuf>,
    /// The LAPI's URL; `None`: CrowdSec's `api.server.listen_uri`.
    pub lapi_url: Option<reqwest::Url>,
    /// CrowdSec's config, where `listen_uri` is read.
    pub crowdsec_config: PathBuf,
    /// The checks run at most this often.
    pub interval: Duration,
    /// Bounds each `/health` request.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct WebSettings {
    /// `host:port`, `:port` (every interface) or `[v6]:port`.
    pub listen_addresses: Vec<String>,
    pub telemetry_path: String,
    /// Upper bound of a scrape's wait when Prometheus does not send its timeout.
    pub max_scrape_wait: Duration,
    /// exporter-toolkit web config (TLS, basic auth, headers); `None`: plain HTTP, no authentication.
    pub config_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct LapiSettings {
    /// The `lapi` label.
    pub name: String,
    pub db: LapiDbLocation,
    /// A reading serves scrapes for this long.
    pub cache_interval: Duration,
    /// One database read may take this long.
    pub read_timeout: Duration,
    /// Where the LAPI serves (from the config file), when known.
    pub url: Option<reqwest::Url>,
}

/// Source `service_api`: the CrowdSec Service API's integrations list.
#[derive(Debug, Clone)]
pub struct ServiceApiSettings {
    /// Base URL, checked by [`crate::sources::service_api::parse_base_url`], e.g. `https://admin.api.crowdsec.net/v1`.
    pub url: reqwest::Url,
    /// Sent as `x-api-key`; `Debug` prints `<redacted>`.
    pub key: crate::values::secret::Secret,
    /// Only integrations with any of these tags (none = all).
    pub tags: Vec<String>,
    /// A reading serves scrapes for this long (the API is rate-limited and its data coarse).
    pub refresh_interval: Duration,
    /// One read, all pages, may take this long.
    pub timeout: Duration,
}

/// Where a LAPI's database is: the `lapi_db`/`cscli` sources' own config.
pub use crate::sources::lapi_db::LapiDbLocation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Copy)]
pub struct LogSettings {
    pub level: LogLevel,
    pub format: LogFormat,
}

/// When a bouncer, a LAPI or an integration is late, offline, past its never-pulled grace: the rule file's
/// thresholds, defined with the judgement itself.
pub use crate::crowdsec::verdict::Thresholds;
