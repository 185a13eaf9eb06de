//! Settings, independent of where they come from (flags and env today; a YAML file can fill the same structs).

use std::time::Duration;

/// Default listen address, every interface. Port 10423: above 10000, used by no exporter in Prometheus' port list
/// nor by any CrowdSec component (LAPI 8080, metrics 6060, AppSec 7422).
pub(crate) const DEFAULT_LISTEN_ADDRESS: &str = ":10423";
/// Defaults of the flags, as clap takes them (texts, parsed by the same function as a given value).
pub(crate) const DEFAULT_TELEMETRY_PATH: &str = "/metrics";
pub(crate) const DEFAULT_MAX_SCRAPE_WAIT: &str = "10s";
pub(crate) const DEFAULT_LOG_LEVEL: &str = "info";
pub(crate) const DEFAULT_LOG_FORMAT: &str = "logfmt";

/// Where a setting's value came from, and a refused one: defined with the settings groups (layer `values`).
pub use crate::values::settings_group::{Origin, SettingsError};

/// Everything the exporter runs with, from the flags, the environment and `--config.file`, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// HTTP serving.
    pub web: WebSettings,
    /// The LAPIs whose bouncers are read, at least one.
    pub lapis: Vec<LapiSettings>,
    /// Logging.
    pub log: LogSettings,
    /// What the registered sources' settings groups resolved to, by type ([`Settings::group`]): e.g.
    /// [`ServiceApiSettings`] (the Blocklist-as-a-Service source, when a Service API key is given) and
    /// [`CheckSettings`] (the bouncer configuration checks and LAPI reachability); absent: those sources are off.
    pub groups: Groups,
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
                telemetry_path: DEFAULT_TELEMETRY_PATH.to_owned(),
                max_scrape_wait: Duration::from_secs(10),
                config_file: None,
            },
            lapis: vec![LapiSettings {
                name: name.to_owned(),
                db,
                cache_interval: Duration::ZERO,
                decisions_interval: Duration::ZERO,
                read_timeout: Duration::from_secs(5),
                url: None,
            }],
            log: LogSettings {
                level: LogLevel::Warn,
                format: LogFormat::Logfmt,
            },
            groups: Groups::default(),
            thresholds: Thresholds::default(),
        }
    }

    /// The settings of type `T` of a registered settings group (e.g. [`ServiceApiSettings`]), when its sources are
    /// on.
    pub fn group<T: std::any::Any>(&self) -> Option<&T> {
        self.groups.get::<T>()
    }

    /// Turns a group's sources on with `value` (`Some`) or off (`None`): what tests and benchmarks set.
    pub fn set_group<T: std::any::Any + std::fmt::Debug + Clone + Send + Sync>(
        &mut self,
        value: Option<T>,
    ) {
        self.groups.set(value);
    }
}

/// The settings of the registered sources' groups, by type.
pub use crate::values::dyn_group::Groups;

/// Sources `bouncer_config` and `lapi_health`'s settings group, defined with them.
pub use crate::sources::bouncer_checks_settings::CheckSettings;

/// The web layer's options ([`crate::web::Options`]), built here from the `--web.*` flags and config-file keys.
pub use crate::web::Options as WebSettings;

/// The LAPIs' settings group, defined with the sources that read them.
pub use crate::sources::lapi_db::lapi_settings::LapiSettings;

/// Source `service_api`'s settings group, defined with the source.
pub use crate::sources::service_api::{ServiceApiSettings, SERVICE_API_KEY_ENV};

/// Where a LAPI's database is: the `lapi_db`/`cscli` sources' own config.
pub use crate::sources::lapi_db::LapiDbLocation;

/// `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `key=value` pairs.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// `--log.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything, including each source read.
    Debug,
    /// Start-up, sources failing and recovering.
    Info,
    /// Only problems.
    Warn,
    /// Only errors.
    Error,
}

/// How the exporter logs (to stderr).
#[derive(Debug, Clone, Copy)]
pub struct LogSettings {
    /// The lowest level logged.
    pub level: LogLevel,
    /// Text or JSON.
    pub format: LogFormat,
}

/// When a bouncer, a LAPI or an integration is late, offline, past its never-pulled grace: the rule file's
/// thresholds, defined with the judgement itself.
pub use crate::crowdsec::verdict::Thresholds;
