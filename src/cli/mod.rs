//! Command line: flags (each also from an environment variable, some also from `--config.file`) into
//! [`Settings`], then run.
//!
//! One settings path: clap collects texts per concern (argument groups, all `global`, so they may come before or
//! after `diagnose`: web, log and config below, each source's settings group with its source, see
//! `values::settings_group`); [`resolve`] merges each config-file section over its group's flags, then parses each
//! value with one function whatever its origin (flag, environment variable or config-file key) and names that
//! origin when it refuses it ([`SettingsError`]).
//! `--config.check` runs start-up's own checks ([`check`]) and exits 1 on a refused setting, as start-up does.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};

use crate::settings::{self as defaults, LogFormat, LogLevel, Origin, Settings, SettingsError};
use crate::sources::lapi_db::lapi_settings::LapiArgs;
use crate::values::dyn_group::{AnyValue, DynGroup};

mod resolve;
#[cfg(test)]
mod tests;

const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("CSBE_GIT_REVISION"),
    ")"
);

/// The command line: flags by concern (clap groups, `global`, so they go before or after `diagnose`): the core's
/// ([`CoreArgs`]), then each registered source's settings group's, then `--config.*` ([`Cli::command`], the order
/// of `--help`). clap's `Parser` methods (`try_parse_from`, ...) parse all of them.
#[derive(Debug, Clone)]
pub struct Cli {
    /// `--lapi.*`: the one LAPI of the command line.
    pub lapi: LapiArgs,
    /// `--web.*`: listen addresses, telemetry path, web config file.
    pub web: WebArgs,
    /// `--log.*`.
    pub log: LogArgs,
    /// The flags of the registered sources' settings groups (`--service-api.*`, `--bouncers.*`, ...).
    pub groups: GroupArgs,
    /// `--config.file`, `--config.check`.
    pub config: ConfigArgs,
    /// Where each value given by an environment variable or a config-file key came from, by flag name (without
    /// `--`); a flag absent here came from the command line or its default.
    pub origins: BTreeMap<String, Origin>,
    /// `diagnose`, or none to serve.
    pub command: Option<Command>,
}

/// The core of the command line: what [`Cli`] holds before the settings groups' flags.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "crowdsec-bouncer-exporter",
    version = LONG_VERSION,
    about = "Prometheus exporter: when did each CrowdSec bouncer last pull decisions, and why did it stop."
)]
struct CoreArgs {
    #[command(flatten)]
    lapi: LapiArgs,
    #[command(flatten)]
    web: WebArgs,
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The flags' texts of each registered settings group, in the registry's order (see `exporter::REGISTRY`).
#[derive(Debug, Clone, Default)]
pub struct GroupArgs(pub Vec<(&'static dyn DynGroup, Box<dyn AnyValue>)>);

impl CommandFactory for Cli {
    fn command() -> clap::Command {
        let command = CoreArgs::command();
        // A group's `augment_args` sets its doc comment as the command's description: keep the exporter's.
        let about = command.get_about().cloned().unwrap_or_default();
        let command = crate::exporter::settings_groups().fold(command, |c, g| g.augment(c));
        <ConfigArgs as clap::Args>::augment_args(command).about(about)
    }

    fn command_for_update() -> clap::Command {
        Cli::command()
    }
}

impl FromArgMatches for Cli {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Cli, clap::Error> {
        let core = CoreArgs::from_arg_matches(matches)?;
        let mut groups = GroupArgs::default();
        for g in crate::exporter::settings_groups() {
            groups.0.push((g, g.args(matches)?));
        }
        Ok(Cli {
            lapi: core.lapi,
            web: core.web,
            log: core.log,
            groups,
            config: ConfigArgs::from_arg_matches(matches)?,
            origins: BTreeMap::new(),
            command: core.command,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        let origins = std::mem::take(&mut self.origins);
        *self = Cli::from_arg_matches(matches)?;
        self.origins = origins;
        Ok(())
    }
}

impl Parser for Cli {}

/// HTTP: where and how metrics are served.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Web")]
pub struct WebArgs {
    /// Address to listen on (repeatable): `:10423`, `127.0.0.1:10423`, `[::1]:10423`.
    #[arg(id = "web.listen-address",
        value_name = "ADDRESS", long = "web.listen-address", env = "CROWDSEC_EXPORTER_WEB_LISTEN_ADDRESS", value_delimiter = ',', default_value = defaults::DEFAULT_LISTEN_ADDRESS, global = true)]
    pub listen_addresses: Vec<String>,

    /// Path under which metrics are served.
    #[arg(id = "web.telemetry-path",
        value_name = "PATH", long = "web.telemetry-path", env = "CROWDSEC_EXPORTER_WEB_TELEMETRY_PATH", default_value = defaults::DEFAULT_TELEMETRY_PATH, global = true)]
    pub telemetry_path: String,

    /// Longest a scrape waits for its sources when Prometheus does not send X-Prometheus-Scrape-Timeout-Seconds.
    #[arg(id = "web.max-scrape-wait",
        value_name = "DURATION", long = "web.max-scrape-wait", env = "CROWDSEC_EXPORTER_WEB_MAX_SCRAPE_WAIT", default_value = defaults::DEFAULT_MAX_SCRAPE_WAIT, global = true)]
    pub max_scrape_wait: String,

    /// exporter-toolkit web configuration file: TLS (incl. client certificates), basic auth, response headers.
    /// Re-read when it or a certificate changes. See docs/configuration.md for the supported keys.
    #[arg(
        id = "web.config.file",
        value_name = "PATH",
        long = "web.config.file",
        env = "CROWDSEC_EXPORTER_WEB_CONFIG_FILE",
        global = true
    )]
    pub config_file: Option<PathBuf>,
}

/// Logging.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Log")]
pub struct LogArgs {
    /// Log level.
    #[arg(id = "log.level",
        value_name = "LEVEL", long = "log.level", env = "CROWDSEC_EXPORTER_LOG_LEVEL", value_enum, default_value = defaults::DEFAULT_LOG_LEVEL, global = true)]
    pub level: LogLevel,

    /// Log format.
    #[arg(id = "log.format",
        value_name = "FORMAT", long = "log.format", env = "CROWDSEC_EXPORTER_LOG_FORMAT", value_enum, default_value = defaults::DEFAULT_LOG_FORMAT, global = true)]
    pub format: LogFormat,
}

/// The YAML config file (which also holds `diagnose`'s thresholds, which have no flag).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Config file")]
pub struct ConfigArgs {
    /// YAML config file: several LAPIs, the Service API, web and log settings, bouncer checks, diagnose thresholds
    /// (see docs/configuration.md). A key in the file wins over its flag or environment variable.
    #[arg(
        id = "config.file",
        value_name = "PATH",
        long = "config.file",
        env = "CROWDSEC_EXPORTER_CONFIG_FILE",
        global = true
    )]
    pub file: Option<PathBuf>,

    /// Run start-up's checks of every setting (flags, environment, --config.file, the web config file and its
    /// certificates) and exit: 0 when valid, 1 with the error otherwise.
    #[arg(id = "config.check", long = "config.check", global = true)]
    pub check: bool,
}

/// Without a subcommand the exporter serves metrics.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Run every source and check once and say what is wrong and what to try; flags may come before or after
    /// `diagnose`. Exit status: 0 nothing above info, 1 something critical, 3 warnings only, 2 the tool could not
    /// run.
    Diagnose {
        /// `text` for people (colour on a terminal), `json` for scripts.
        #[arg(long, value_enum, default_value = "text")]
        output: crate::diagnose::Output,
    },
}

impl Cli {
    /// Parses `args` (the program name first) and records which values came from environment variables.
    ///
    /// # Errors
    /// clap's usage error (unknown flag, bad enumerated value, `--help`, `--version`).
    pub(crate) fn try_parse_with_origins<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let command = Cli::command();
        let matches = command.clone().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        for arg in command.get_arguments() {
            let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
                continue;
            };
            if matches.value_source(arg.get_id().as_str())
                == Some(clap::parser::ValueSource::EnvVariable)
            {
                cli.origins.insert(
                    long.to_owned(),
                    Origin::Env(env.to_string_lossy().into_owned()),
                );
            }
        }
        Ok(cli)
    }

    /// A refusal of the value of `--<flag>`, naming where that value came from.
    pub(crate) fn refuse(&self, flag: &str, message: impl Into<String>) -> SettingsError {
        SettingsError {
            origin: crate::values::settings_group::origin(&self.origins, flag),
            message: message.into(),
        }
    }
}

/// What start-up checks beyond [`Cli::settings`], before serving: every listen address parses, and the web config
/// file reads, parses and its certificates load. The very functions start-up calls ([`crate::web::bind`] parses
/// with [`crate::web::parse_listen_address`]; [`crate::web::reload::Live::load`] with [`crate::web::web_config::load`]).
/// CrowdSec's config (`--crowdsec.config`, each `lapis[i].crowdsec_config`) that is a folder, FIFO or device is
/// refused (it can never be read); one that cannot be read now (missing: CrowdSec not installed yet) is what
/// start-up accepts, the LAPI down until it can, so it is a warning.
///
/// # Errors
/// The first refused value, naming its origin; else the warnings, each naming its origin.
pub(crate) fn check(cli: &Cli, settings: &Settings) -> Result<Vec<String>, SettingsError> {
    use crate::values::file::FileError;
    for address in &settings.web.listen_addresses {
        crate::web::parse_listen_address(address)
            .map_err(|e| cli.refuse("web.listen-address", e.to_string()))?;
    }
    if let Some(path) = &settings.web.config_file {
        crate::web::web_config::load(path)
            .map_err(|e| cli.refuse("web.config.file", e.to_string()))?;
    }
    // CrowdSec's config may be absent (read again on every check), but one that is a FIFO or a device can never be
    // read: start-up would only log it, so --config.check says it.
    let flag = || crate::values::settings_group::origin(&cli.origins, "crowdsec.config");
    let mut crowdsec = vec![(cli.lapi.crowdsec_config.clone(), flag())];
    let checks = settings.group::<crate::settings::CheckSettings>();
    crowdsec.extend(checks.map(|c| (c.crowdsec_config.clone(), flag())));
    // The file's `lapis` replace the flags' LAPI: each entry's CrowdSec config, named by its key and line.
    let file = cli.config.file.as_deref().and_then(|path| {
        let file = crate::config_file::load(path).ok()?;
        file.lapis.is_some().then_some((path, file.text))
    });
    let mut warnings = Vec::new();
    for (i, lapi) in settings.lapis.iter().enumerate() {
        // A SQLite `db` that is a folder, FIFO or device can never be read (a missing one is what start-up accepts).
        if let crate::settings::LapiDbLocation::Sqlite(db) = &lapi.db {
            if let Err(e @ (FileError::NotFile(_) | FileError::Directory)) =
                crate::values::file::open_regular(db)
            {
                let origin = match &file {
                    Some((path, text)) => crate::sources::lapi_db::lapi_settings::entry_origin(
                        path,
                        text,
                        i,
                        Some("db"),
                    ),
                    None => crate::values::settings_group::origin(&cli.origins, "lapi.db"),
                };
                return Err(SettingsError {
                    origin,
                    message: format!("{}: {e}: not a SQLite database file", db.display()),
                });
            }
        }
        let crate::settings::LapiDbLocation::FromCrowdsecConfig(main) = &lapi.db else {
            continue;
        };
        let origin = match &file {
            Some((path, text)) => crate::sources::lapi_db::lapi_settings::entry_origin(
                path,
                text,
                i,
                Some("crowdsec_config"),
            ),
            None => flag(),
        };
        crowdsec.push((main.clone(), origin.clone()));
        if let Err(e) = crate::values::file::open_regular(main) {
            warnings.push(format!(
                "{origin}: {}: {e}: the LAPI {:?} is reported down until it can be read (start-up accepts it and tries again on every read)",
                main.display(),
                lapi.name
            ));
        }
    }
    for (main, origin) in crowdsec {
        let local = crate::crowdsec::bouncer_files::sibling(&main, ".local");
        for path in [main, local] {
            if let Err(e @ (FileError::NotFile(_) | FileError::Directory)) =
                crate::values::file::open_regular(&path)
            {
                return Err(SettingsError {
                    origin,
                    message: format!("{}: {e}", path.display()),
                });
            }
        }
    }
    Ok(warnings)
}

/// What `--config.check` says of valid settings: the LAPIs (`none` when there is none: a host with
/// Blocklist-as-a-Service integrations only) and whether the Service API is read.
fn summary(s: &Settings) -> String {
    let service_api = s.group::<crate::settings::ServiceApiSettings>().is_some();
    let names: Vec<&str> = s.lapis.iter().map(|l| l.name.as_str()).collect();
    let lapis = match (names.is_empty(), service_api) {
        (false, _) => names.join(", "),
        (true, true) => "none (blocklists only)".to_owned(),
        (true, false) => "none".to_owned(),
    };
    format!(
        "LAPIs: {lapis}; Service API: {}",
        if service_api { "on" } else { "off" }
    )
}

/// Entry point of the binary. Exit 0 on a clean shutdown (or valid settings under `--config.check`), 1 when a
/// setting is refused (serving or under `--config.check` alike: `promtool check config`'s 1) or the exporter cannot
/// run, 2 on bad usage (clap's: an unknown flag, a missing value). `diagnose` has its own (2: could not run, a
/// refused setting included).
pub fn run() -> ExitCode {
    use crate::values::secret::redact;
    // A panic's message passes the one redaction too; the default hook (backtraces) when nothing is hidden.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info.to_string();
        match redact(&text) {
            std::borrow::Cow::Borrowed(_) => default_hook(info),
            std::borrow::Cow::Owned(hidden) => eprintln!("{hidden}"),
        }
    }));
    crate::allocator::limit_arenas();
    let args: Vec<OsString> = std::env::args_os().collect();
    let config_check = args.iter().any(|a| a == "--config.check");
    // A refused setting (flag, variable or file key): 1, serving or under --config.check; `diagnose` keeps its
    // documented 2, "the tool could not run" (its 1 means something critical was found).
    let diagnose = !config_check && args.iter().any(|a| a == "diagnose");
    let refused = if diagnose {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    };
    let cli = match Cli::try_parse_with_origins(&args) {
        Ok(cli) => cli,
        // clap quotes the refused value, which may be a URL with a password.
        Err(e) if e.use_stderr() => {
            eprint!("{}", redact(&e.render().to_string()));
            use clap::error::ErrorKind;
            // A value clap refuses (`--log.level loud`) is a refused setting as every other, and so is a missing or
            // empty one (`--lapi.timeout` last, `--bouncers.config-dir=`, an empty variable: clap's InvalidValue):
            // the variable case cannot be told from the flag's, and a setting refused by its origin is 1 wherever it
            // comes from. The command line itself wrong (an unknown flag or subcommand) is clap's usage error, 2.
            return match e.kind() {
                ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::InvalidUtf8 => {
                    refused
                }
                _ => ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)),
            };
        }
        Err(e) => e.exit(),
    };
    let settings = match cli.settings() {
        Ok(s) if cli.config.check => {
            match check(&cli, &s) {
                Ok(warnings) => {
                    for w in warnings {
                        eprintln!("crowdsec-bouncer-exporter: warning: {}", redact(&w));
                    }
                }
                Err(e) => {
                    eprintln!("crowdsec-bouncer-exporter: {}", redact(&e.to_string()));
                    return ExitCode::FAILURE;
                }
            }
            println!(
                "crowdsec-bouncer-exporter: settings are valid; {}",
                summary(&s)
            );
            return ExitCode::SUCCESS;
        }
        Ok(s) => s,
        Err(e) => {
            eprintln!("crowdsec-bouncer-exporter: {}", redact(&e.to_string()));
            return refused;
        }
    };
    if let Some(Command::Diagnose { output }) = cli.command {
        return crate::diagnose::run(settings, output);
    }
    crate::logging::init(settings.log);
    let runtime = match crate::exporter::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let judge = crate::diagnose::judge(settings.thresholds);
    let code = match runtime.block_on(crate::exporter::serve(settings, Some(judge))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "exporter stopped");
            ExitCode::FAILURE
        }
    };
    // Dropping a runtime waits for its blocking tasks without limit (a bcrypt check, a file read on a stuck
    // mount): SIGTERM must end the process all the same.
    runtime.shutdown_timeout(SHUTDOWN_BLOCKING_WAIT);
    code
}

/// The exporter as `run` serves it (the landing page judged as `diagnose` judges), on already bound listeners,
/// until `shutdown` completes: what the tests start in process.
///
/// # Errors
/// As [`crate::exporter::serve_listeners`].
pub async fn serve_listeners(
    settings: crate::settings::Settings,
    listeners: Vec<tokio::net::TcpListener>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), crate::web::ServerError> {
    let judge = crate::diagnose::judge(settings.thresholds);
    crate::exporter::serve_listeners(settings, Some(judge), listeners, shutdown).await
}

/// How long shutdown waits for blocking work still running (bcrypt checks are bounded by
/// [`crate::web::auth::MAX_BCRYPT_COST`] to a few seconds).
const SHUTDOWN_BLOCKING_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
