//! Command line: flags (each also from an environment variable) into [`Settings`], then run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::settings::{
    LapiDbLocation, LapiSettings, LogFormat, LogLevel, LogSettings, Settings, WebSettings,
};

const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("CSBE_GIT_REVISION"),
    ")"
);

#[derive(Debug, Parser)]
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
    #[arg(long = "lapi.cache-interval", env = "CROWDSEC_EXPORTER_LAPI_CACHE_INTERVAL", default_value = "5s", value_parser = crate::duration::parse)]
    pub lapi_cache_interval: Duration,

    /// Longest a database read may take; SQLite waits up to half of it for a lock.
    #[arg(long = "lapi.timeout", env = "CROWDSEC_EXPORTER_LAPI_TIMEOUT", default_value = "5s", value_parser = crate::duration::parse)]
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
    #[arg(long = "web.max-scrape-wait", env = "CROWDSEC_EXPORTER_WEB_MAX_SCRAPE_WAIT", default_value = "10s", value_parser = crate::duration::parse)]
    pub max_scrape_wait: Duration,

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
}

impl Cli {
    pub fn settings(&self) -> Result<Settings, String> {
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
        let db = match &self.lapi_db {
            Some(path) => LapiDbLocation::Sqlite(path.clone()),
            None => LapiDbLocation::FromCrowdsecConfig(self.crowdsec_config.clone()),
        };
        Ok(Settings {
            web: WebSettings {
                listen_addresses: self.listen_addresses.clone(),
                telemetry_path: self.telemetry_path.clone(),
                max_scrape_wait: self.max_scrape_wait,
            },
            lapis: vec![LapiSettings {
                name: self.lapi_name.clone(),
                db,
                cache_interval: self.lapi_cache_interval,
                read_timeout: self.lapi_timeout,
            }],
            log: LogSettings {
                level: self.log_level,
                format: self.log_format,
            },
            service_api: None,
        })
    }
}

/// Entry point of the binary. Exit 0 on a clean shutdown, 1 when the exporter cannot run, 2 on bad usage.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let settings = match cli.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("crowdsec-bouncer-exporter: {e}");
            return ExitCode::from(2);
        }
    };
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
    match runtime.block_on(crate::server::serve(settings)) {
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
}
