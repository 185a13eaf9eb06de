//! Command line: flags (each also from an environment variable) into [`Settings`], then run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::settings::{
    LapiDbLocation, LapiSettings, LogFormat, LogLevel, LogSettings, ServiceApiSettings, Settings,
    WebSettings,
};
use crate::sources::lapi_db::target::ServerDb;
use crate::sources::service_api;
use crate::values::secret::Secret;

/// Environment variable holding the Service API key (there is deliberately no flag for the key itself).
pub use crate::settings::SERVICE_API_KEY_ENV;

const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("CSBE_GIT_REVISION"),
    ")"
);

#[derive(Debug, Clone, Parser)]
#[command(
    name = "crowdsec-bouncer-exporter",
    version = LONG_VERSION,
    about = "Prometheus exporter: when did each CrowdSec bouncer last pull decisions, and why did it stop."
)]
pub struct Cli {
    /// CrowdSec's config file; the LAPI database is found through it (and its `.local` overlay).
    #[arg(
        long = "crowdsec.config",
        env = "CROWDSEC_EXPORTER_CROWDSEC_CONFIG",
        default_value = "/etc/crowdsec/config.yaml"
    )]
    pub crowdsec_config: PathBuf,

    /// SQLite database of the LAPI, overriding the one CrowdSec's config names.
    #[arg(long = "lapi.db", env = "CROWDSEC_EXPORTER_LAPI_DB")]
    pub lapi_db: Option<PathBuf>,

    /// Name of this LAPI: the `lapi` label of every series.
    #[arg(
        long = "lapi.name",
        env = "CROWDSEC_EXPORTER_LAPI_NAME",
        default_value = "local"
    )]
    pub lapi_name: String,

    /// How long one database reading serves scrapes (concurrent scrapes share one read).
    #[arg(long = "lapi.cache-interval", env = "CROWDSEC_EXPORTER_LAPI_CACHE_INTERVAL", default_value = "5s", value_parser = crate::values::duration::parse)]
    pub lapi_cache_interval: Duration,

    /// Longest a database read may take; SQLite waits up to half of it for a lock.
    #[arg(long = "lapi.timeout", env = "CROWDSEC_EXPORTER_LAPI_TIMEOUT", default_value = "5s", value_parser = crate::values::duration::parse)]
    pub lapi_timeout: Duration,

    /// Address to listen on (repeatable): `:10423`, `127.0.0.1:10423`, `[::1]:10423`.
    #[arg(
        long = "web.listen-address",
        env = "CROWDSEC_EXPORTER_WEB_LISTEN_ADDRESS",
        value_delimiter = ',',
        default_value = ":10423"
    )]
    pub listen_addresses: Vec<String>,

    /// Path under which metrics are served.
    #[arg(
        long = "web.telemetry-path",
        env = "CROWDSEC_EXPORTER_WEB_TELEMETRY_PATH",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,

    /// Longest a scrape waits for its sources when Prometheus does not send X-Prometheus-Scrape-Timeout-Seconds.
    #[arg(long = "web.max-scrape-wait", env = "CROWDSEC_EXPORTER_WEB_MAX_SCRAPE_WAIT", default_value = "10s", value_parser = crate::values::duration::parse)]
    pub max_scrape_wait: Duration,

    /// exporter-toolkit web configuration file: TLS (incl. client certificates), basic auth, response headers.
    /// Re-read when it or a certificate changes. See README.md for the supported keys.
    #[arg(long = "web.config.file", env = "CROWDSEC_EXPORTER_WEB_CONFIG_FILE")]
    pub web_config_file: Option<PathBuf>,

    /// File holding a CrowdSec Service API key (Console > Settings > Service API Keys, scope "Blocklists
    /// Integrations: read"); enables the Blocklist-as-a-Service source. The key may instead come from the
    /// environment variable CROWDSEC_SERVICE_API_KEY, never from a flag (it would show in `ps`).
    #[arg(
        long = "service-api.key-file",
        env = "CROWDSEC_EXPORTER_SERVICE_API_KEY_FILE"
    )]
    pub service_api_key_file: Option<PathBuf>,

    /// Base URL of the CrowdSec Service API.
    #[arg(long = "service-api.url", env = "CROWDSEC_EXPORTER_SERVICE_API_URL", default_value = service_api::DEFAULT_URL)]
    pub service_api_url: String,

    /// Only integrations with this tag (repeatable; any of them matches).
    #[arg(
        long = "service-api.tag",
        env = "CROWDSEC_EXPORTER_SERVICE_API_TAG",
        value_delimiter = ','
    )]
    pub service_api_tags: Vec<String>,

    /// How long one Service API reading serves scrapes (the API is rate-limited and its data coarse).
    #[arg(long = "service-api.refresh-interval", env = "CROWDSEC_EXPORTER_SERVICE_API_REFRESH_INTERVAL", default_value = "5m", value_parser = crate::values::duration::parse)]
    pub service_api_refresh_interval: Duration,

    /// Longest one Service API read (every page) may take.
    #[arg(long = "service-api.timeout", env = "CROWDSEC_EXPORTER_SERVICE_API_TIMEOUT", default_value = "30s", value_parser = crate::values::duration::parse)]
    pub service_api_timeout: Duration,

    /// Log level.
    #[arg(
        long = "log.level",
        env = "CROWDSEC_EXPORTER_LOG_LEVEL",
        value_enum,
        default_value = "info"
    )]
    pub log_level: LogLevel,

    /// Log format.
    #[arg(
        long = "log.format",
        env = "CROWDSEC_EXPORTER_LOG_FORMAT",
        value_enum,
        default_value = "logfmt"
    )]
    pub log_format: LogFormat,

    /// Read the bouncers from this command's output instead of the database, e.g. `docker exec crowdsec cscli
    /// bouncers list -o json` (split into words like a shell would, but run without one; default command:
    /// `cscli bouncers list -o json`). It is killed when --lapi.timeout runs out.
    #[arg(long = "lapi.cscli-command", env = "CROWDSEC_EXPORTER_LAPI_CSCLI_COMMAND", num_args = 0..=1, default_missing_value = crate::sources::cscli::DEFAULT_COMMAND)]
    pub lapi_cscli_command: Option<String>,

    /// YAML config file: several LAPIs, the Service API, web and log settings, bouncer checks, diagnose thresholds
    /// (see README). A key in the file wins
    /// over its flag or environment variable.
    #[arg(long = "config.file", env = "CROWDSEC_EXPORTER_CONFIG_FILE")]
    pub config_file: Option<PathBuf>,

    /// Check the settings (flags and --config.file) and exit: 0 when valid, 1 with the error otherwise.
    #[arg(long = "config.check")]
    pub config_check: bool,

    /// File holding the password of a `postgres://` or `mysql://` --lapi.db (instead of putting it in the URL);
    /// the password may also come from the environment variable CROWDSEC_EXPORTER_LAPI_DB_PASSWORD.
    #[arg(
        long = "lapi.db-password-file",
        env = "CROWDSEC_EXPORTER_LAPI_DB_PASSWORD_FILE"
    )]
    pub lapi_db_password_file: Option<PathBuf>,
    /// Folder of bouncer configuration files to check (repeatable; a missing folder is skipped).
    #[arg(
        long = "bouncers.config-dir",
        env = "CROWDSEC_EXPORTER_BOUNCERS_CONFIG_DIR",
        value_delimiter = ',',
        default_value = "/etc/crowdsec/bouncers"
    )]
    pub bouncers_config_dirs: Vec<PathBuf>,

    /// A bouncer configuration file to check besides the folders' (repeatable).
    #[arg(
        long = "bouncers.config-file",
        env = "CROWDSEC_EXPORTER_BOUNCERS_CONFIG_FILE",
        value_delimiter = ','
    )]
    pub bouncers_config_files: Vec<PathBuf>,

    /// How often the bouncer configuration checks run at most (they read files and ask LAPI's /health).
    #[arg(long = "bouncers.check-interval", env = "CROWDSEC_EXPORTER_BOUNCERS_CHECK_INTERVAL", default_value = "30s", value_parser = crate::values::duration::parse)]
    pub bouncers_check_interval: Duration,

    /// URL of the LAPI, for its /health; default: from api.server.listen_uri of CrowdSec's config.
    #[arg(long = "lapi.url", env = "CROWDSEC_EXPORTER_LAPI_URL")]
    pub lapi_url: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Without a subcommand the exporter serves metrics.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Run every source and check once and say what is wrong and what to try; flags go before `diagnose`.
    /// Exit status: 0 all fine, 1 something critical, 2 the tool could not run.
    Diagnose {
        /// `text` for people (colour on a terminal), `json` for scripts.
        #[arg(long, value_enum, default_value = "text")]
        output: crate::diagnose::Output,
    },
}

/// Environment variable holding the password of a `postgres://` or `mysql://` --lapi.db.
pub const LAPI_DB_PASSWORD_ENV: &str = "CROWDSEC_EXPORTER_LAPI_DB_PASSWORD";

impl Cli {
    pub fn settings(&self) -> Result<Settings, String> {
        self.settings_with_key_env(std::env::var(SERVICE_API_KEY_ENV).ok())
    }

    /// [`Cli::settings`] with the value of CROWDSEC_SERVICE_API_KEY given (tests pass their own).
    pub fn settings_with_key_env(&self, key_env: Option<String>) -> Result<Settings, String> {
        if let Some(path) = &self.config_file {
            return self.settings_from_file(path, key_env);
        }
        if !self.telemetry_path.starts_with('/') || self.telemetry_path == "/" {
            return Err(format!(
                "--web.telemetry-path {:?} must start with / and not be /",
                self.telemetry_path
            ));
        }
        if self.lapi_name.is_empty() {
            return Err("--lapi.name must not be empty".to_owned());
        }
        if self.lapi_timeout.is_zero() {
            return Err("--lapi.timeout must be more than 0".to_owned());
        }
        let db = match (&self.lapi_db, &self.lapi_cscli_command) {
            (Some(_), Some(_)) => {
                return Err("give either --lapi.db or --lapi.cscli-command, not both".to_owned())
            }
            (None, Some(command)) => LapiDbLocation::Cscli(
                crate::sources::cscli::split_command(command)
                    .map_err(|e| format!("--lapi.cscli-command: {e}"))?,
            ),
            (Some(path), None) => match path.to_str() {
                Some(url) if ServerDb::is_url(url) => LapiDbLocation::Server(
                    ServerDb::from_url(url)
                        .and_then(|t| {
                            t.with_password(
                                self.lapi_db_password_file.as_deref(),
                                std::env::var(LAPI_DB_PASSWORD_ENV).ok(),
                            )
                        })
                        .map_err(|e| format!("--lapi.db: {e}"))?,
                ),
                _ => LapiDbLocation::Sqlite(path.clone()),
            },
            (None, None) => LapiDbLocation::FromCrowdsecConfig(self.crowdsec_config.clone()),
        };
        Ok(Settings {
            web: WebSettings {
                listen_addresses: self.listen_addresses.clone(),
                telemetry_path: self.telemetry_path.clone(),
                max_scrape_wait: self.max_scrape_wait,
                config_file: self.web_config_file.clone(),
            },
            lapis: vec![LapiSettings {
                name: self.lapi_name.clone(),
                db,
                cache_interval: self.lapi_cache_interval,
                read_timeout: self.lapi_timeout,
                url: None,
            }],
            log: LogSettings {
                level: self.log_level,
                format: self.log_format,
            },
            service_api: self.service_api_settings(key_env)?,
            checks: Some(self.check_settings()?),
            thresholds: crate::settings::Thresholds::default(),
        })
    }

    /// The `bouncer_config` and `lapi_health` sources.
    fn check_settings(&self) -> Result<crate::settings::CheckSettings, String> {
        let lapi_url = match &self.lapi_url {
            None => None,
            Some(text) => {
                let url = reqwest::Url::parse(text.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                    .ok_or_else(|| {
                        format!("--lapi.url {text:?} must be an http(s) URL such as http://127.0.0.1:8080/")
                    })?;
                Some(url)
            }
        };
        if self.bouncers_check_interval < Duration::from_secs(1) {
            return Err("--bouncers.check-interval must be at least 1s".to_owned());
        }
        Ok(crate::settings::CheckSettings {
            config_dirs: self.bouncers_config_dirs.clone(),
            config_files: self.bouncers_config_files.clone(),
            lapi_url,
            crowdsec_config: self.crowdsec_config.clone(),
            interval: self.bouncers_check_interval,
            timeout: self.bouncers_check_interval.min(Duration::from_secs(5)),
        })
    }

    /// Settings from `--config.file`: its keys over the flags' values, its `lapis` instead of the flags' LAPI.
    fn settings_from_file(
        &self,
        path: &std::path::Path,
        key_env: Option<String>,
    ) -> Result<Settings, String> {
        let file = crate::config_file::load(path).map_err(|e| e.to_string())?;
        let mut merged = self.clone();
        merged.config_file = None;
        if let Some(web) = &file.web {
            if let Some(v) = &web.listen_addresses {
                merged.listen_addresses = v.clone();
            }
            if let Some(v) = &web.telemetry_path {
                merged.telemetry_path = v.clone();
            }
            if let Some(v) = web.max_scrape_wait {
                merged.max_scrape_wait = v;
            }
        }
        if let Some(log) = &file.log {
            merged.log_level = log.level.unwrap_or(merged.log_level);
            merged.log_format = log.format.unwrap_or(merged.log_format);
        }
        if let Some(sa) = &file.service_api {
            if sa.key_file.is_some() {
                merged.service_api_key_file = sa.key_file.clone();
            }
            if let Some(v) = &sa.url {
                merged.service_api_url = v.clone();
            }
            if let Some(v) = &sa.tags {
                merged.service_api_tags = v.clone();
            }
            merged.service_api_refresh_interval = sa
                .refresh_interval
                .unwrap_or(merged.service_api_refresh_interval);
            merged.service_api_timeout = sa.timeout.unwrap_or(merged.service_api_timeout);
        }
        file.check_bouncers(path).map_err(|e| e.to_string())?;
        if let Some(b) = &file.bouncers {
            if let Some(v) = &b.config_dirs {
                merged.bouncers_config_dirs = v.clone();
            }
            if let Some(v) = &b.config_files {
                merged.bouncers_config_files = v.clone();
            }
            merged.bouncers_check_interval =
                b.check_interval.unwrap_or(merged.bouncers_check_interval);
        }
        let thresholds = file.thresholds(path).map_err(|e| e.to_string())?;
        let lapis = file
            .lapi_settings(path, self.lapi_cache_interval, self.lapi_timeout)
            .map_err(|e| e.to_string())?;
        let mut settings = merged.settings_with_key_env(key_env)?;
        if let Some(lapis) = lapis {
            settings.lapis = lapis;
        }
        if let (Some(checks), Some(t)) = (
            settings.checks.as_mut(),
            file.bouncers.as_ref().and_then(|b| b.timeout),
        ) {
            checks.timeout = t;
        }
        settings.thresholds = thresholds;
        Ok(settings)
    }

    /// The `service_api` source, when a key is given. Messages name the file, never the key.
    fn service_api_settings(
        &self,
        key_env: Option<String>,
    ) -> Result<Option<ServiceApiSettings>, String> {
        // An empty variable (`CROWDSEC_SERVICE_API_KEY=` in a unit or compose file) means "not set".
        let key_env = key_env.filter(|k| !k.trim().is_empty());
        let key = match (&self.service_api_key_file, key_env) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "give the Service API key either with --service-api.key-file or with {SERVICE_API_KEY_ENV}, not both"
                ))
            }
            (None, None) => return Ok(None),
            (None, Some(k)) => Secret::new(k.trim()),
            (Some(path), None) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "cannot read --service-api.key-file {}: {}",
                        path.display(),
                        e.kind()
                    )
                })?;
                let key = text.trim_end_matches(['\n', '\r']).trim();
                if key.is_empty() {
                    return Err(format!(
                        "--service-api.key-file {} is empty",
                        path.display()
                    ));
                }
                Secret::new(key)
            }
        };
        if reqwest::header::HeaderValue::from_str(key.expose()).is_err() {
            return Err(
                "the Service API key holds characters an HTTP header cannot carry (is it the right file?)"
                    .to_owned(),
            );
        }
        let url = service_api::parse_base_url(&self.service_api_url)?;
        if self.service_api_refresh_interval < Duration::from_secs(1) {
            return Err("--service-api.refresh-interval must be at least 1s".to_owned());
        }
        if self.service_api_timeout.is_zero() {
            return Err("--service-api.timeout must be more than 0".to_owned());
        }
        let tags: Vec<String> = self
            .service_api_tags
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        Ok(Some(ServiceApiSettings {
            url,
            key,
            tags,
            refresh_interval: self.service_api_refresh_interval,
            timeout: self.service_api_timeout,
        }))
    }
}

/// Entry point of the binary. Exit 0 on a clean shutdown, 1 when the exporter cannot run, 2 on bad usage.
pub fn run() -> ExitCode {
    crate::allocator::limit_arenas();
    let cli = Cli::parse();
    let settings = match cli.settings() {
        Ok(s) if cli.config_check => {
            let names: Vec<&str> = s.lapis.iter().map(|l| l.name.as_str()).collect();
            println!(
                "crowdsec-bouncer-exporter: settings are valid; LAPIs: {}; Service API: {}",
                names.join(", "),
                if s.service_api.is_some() { "on" } else { "off" }
            );
            return ExitCode::SUCCESS;
        }
        Ok(s) => s,
        Err(e) if cli.config_check => {
            eprintln!("crowdsec-bouncer-exporter: {e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("crowdsec-bouncer-exporter: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Diagnose { output }) = cli.command {
        return crate::diagnose::run(settings, output);
    }
    crate::logging::init(settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(crate::web::serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "exporter stopped");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_find_the_database_through_crowdsec_config() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        let s = cli.settings().unwrap();
        assert_eq!(s.web.listen_addresses, vec![":10423"]);
        assert_eq!(s.web.telemetry_path, "/metrics");
        assert_eq!(s.lapis[0].name, "local");
        assert_eq!(
            s.lapis[0].db,
            LapiDbLocation::FromCrowdsecConfig("/etc/crowdsec/config.yaml".into())
        );
    }

    #[test]
    fn flags_override() {
        let cli = Cli::try_parse_from([
            "x",
            "--lapi.db",
            "/tmp/c.db",
            "--web.listen-address",
            "127.0.0.1:1",
            "--web.listen-address",
            "[::1]:2",
            "--lapi.cache-interval",
            "1m",
        ])
        .unwrap();
        let s = cli.settings().unwrap();
        assert_eq!(s.lapis[0].db, LapiDbLocation::Sqlite("/tmp/c.db".into()));
        assert_eq!(s.web.listen_addresses, vec!["127.0.0.1:1", "[::1]:2"]);
        assert_eq!(s.lapis[0].cache_interval, Duration::from_secs(60));
        assert!(
            Cli::try_parse_from(["x", "--web.telemetry-path", "metrics"])
                .unwrap()
                .settings()
                .is_err()
        );
        assert!(Cli::try_parse_from(["x", "--lapi.cache-interval", "soon"]).is_err());
    }

    #[test]
    fn cscli_command_flag() {
        let s = Cli::try_parse_from(["x", "--lapi.cscli-command"])
            .unwrap()
            .settings()
            .unwrap();
        assert_eq!(
            s.lapis[0].db,
            LapiDbLocation::Cscli(
                ["cscli", "bouncers", "list", "-o", "json"]
                    .map(String::from)
                    .to_vec()
            )
        );
        let s = Cli::try_parse_from([
            "x",
            "--lapi.cscli-command",
            "docker exec 'crowd sec' cscli bouncers list -o json",
        ])
        .unwrap()
        .settings()
        .unwrap();
        let LapiDbLocation::Cscli(argv) = &s.lapis[0].db else {
            panic!("{:?}", s.lapis[0].db)
        };
        assert_eq!(argv[..3], ["docker", "exec", "crowd sec"]);
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\n").unwrap();
        let s = Cli::try_parse_from([
            "x",
            "--lapi.db",
            "postgres://crowdsec@db:5433/cs",
            "--lapi.db-password-file",
            pw.to_str().unwrap(),
        ])
        .unwrap()
        .settings()
        .unwrap();
        let LapiDbLocation::Server(t) = &s.lapis[0].db else {
            panic!("{:?}", s.lapis[0].db)
        };
        assert_eq!(t.redacted(), "postgres://crowdsec@db:5433/cs");
        assert_eq!(t.password.as_ref().unwrap().expose(), "s3cret");
        for bad in [
            vec![
                "x",
                "--lapi.db",
                "postgres://u:hunter2@db/cs",
                "--lapi.db-password-file",
                pw.to_str().unwrap(),
            ],
            vec!["x", "--lapi.db", "postgres://u:hunter2@db/"],
            vec!["x", "--lapi.cscli-command", "a", "--lapi.db", "/x.db"],
            vec!["x", "--lapi.cscli-command", "a 'b"],
        ] {
            let e = Cli::try_parse_from(bad).unwrap().settings().unwrap_err();
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    const KEY: &str = "sapi-TEST-key-0123456789";

    fn with_key_file(content: Option<&[u8]>, extra: &[&str]) -> Result<Settings, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        if let Some(c) = content {
            std::fs::write(&path, c).unwrap();
        }
        let mut args = vec![
            "x".to_owned(),
            "--service-api.key-file".to_owned(),
            path.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Cli::try_parse_from(args)
            .unwrap()
            .settings_with_key_env(None)
    }

    #[test]
    fn service_api_is_off_without_a_key_and_on_with_defaults() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert!(cli
            .settings_with_key_env(None)
            .unwrap()
            .service_api
            .is_none());
        assert!(cli
            .settings_with_key_env(Some(String::new()))
            .unwrap()
            .service_api
            .is_none());
        let s = cli
            .settings_with_key_env(Some(KEY.to_owned()))
            .unwrap()
            .service_api
            .unwrap();
        assert_eq!(s.key.expose(), KEY);
        assert_eq!(s.url.as_str(), "https://admin.api.crowdsec.net/v1");
        assert_eq!(s.refresh_interval, Duration::from_secs(300));
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert!(s.tags.is_empty());
        assert!(!format!("{s:?}").contains(KEY));
    }

    #[test]
    fn service_api_key_file_and_flags() {
        let s = with_key_file(
            Some(format!("{KEY}\n").as_bytes()),
            &[
                "--service-api.tag",
                "prod",
                "--service-api.tag",
                "edge,dmz",
                "--service-api.refresh-interval",
                "10m",
                "--service-api.timeout",
                "5s",
                "--service-api.url",
                "http://127.0.0.1:9/v1/",
            ],
        )
        .unwrap()
        .service_api
        .unwrap();
        assert_eq!(s.key.expose(), KEY, "trailing newline trimmed");
        assert_eq!(s.tags, ["prod", "edge", "dmz"]);
        assert_eq!(s.refresh_interval, Duration::from_secs(600));
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!(s.url.as_str(), "http://127.0.0.1:9/v1");
        let crlf = with_key_file(Some(format!("{KEY}\r\n").as_bytes()), &[]).unwrap();
        assert_eq!(crlf.service_api.unwrap().key.expose(), KEY);
    }

    #[test]
    fn a_bad_key_or_url_refuses_to_start_without_printing_the_key() {
        let errors = [
            with_key_file(None, &[]).unwrap_err(),
            with_key_file(Some(b"\n"), &[]).unwrap_err(),
            with_key_file(Some(format!("{KEY}\x01x").as_bytes()), &[]).unwrap_err(),
            with_key_file(
                Some(KEY.as_bytes()),
                &["--service-api.url", "http://admin.api.crowdsec.net/v1"],
            )
            .unwrap_err(),
            with_key_file(
                Some(KEY.as_bytes()),
                &["--service-api.refresh-interval", "0s"],
            )
            .unwrap_err(),
            Cli::try_parse_from(["x", "--service-api.key-file", "/nonexistent/key"])
                .unwrap()
                .settings_with_key_env(Some(KEY.to_owned()))
                .unwrap_err(),
        ];
        assert!(errors[0].contains("cannot read"), "{}", errors[0]);
        assert!(errors[1].contains("is empty"), "{}", errors[1]);
        assert!(errors[5].contains("not both"), "{}", errors[5]);
        for e in &errors {
            assert!(!e.contains(KEY), "{e}");
        }
        assert!(
            Cli::try_parse_from(["x", "--service-api.key", KEY]).is_err(),
            "no flag takes the key itself"
        );
    }
}
