//! The `bouncers` settings group, shared by sources `bouncer_config` (the bouncers' configuration files and their
//! checks) and `lapi_health` (the LAPI's `/health` those checks ask): the `--bouncers.*` flags, the config file's
//! `bouncers:` section, and [`CheckSettings`]. It takes CrowdSec's config and `--lapi.url` from the LAPI group
//! ([`FromLapi`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::values::dyn_group::{Earlier, FromEarlier};
use crate::values::settings_group::{AtLeast, Resolver, SectionKeys, SettingsError, SettingsGroup};

/// `--bouncers.config-dir`'s default.
pub(crate) const DEFAULT_CONFIG_DIR: &str = "/etc/crowdsec/bouncers";
/// `--bouncers.check-interval`'s default.
pub(crate) const DEFAULT_CHECK_INTERVAL: &str = "30s";

/// The settings group of the bouncer configuration checks.
pub struct BouncerChecks;

/// Bouncer configuration checks (and the LAPI /health they ask).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Bouncer checks")]
pub struct BouncersArgs {
    /// Folder of bouncer configuration files to check (repeatable; a missing folder is skipped).
    #[arg(id = "bouncers.config-dir",
        value_name = "DIR", long = "bouncers.config-dir", env = "CROWDSEC_EXPORTER_BOUNCERS_CONFIG_DIR", value_delimiter = ',', default_value = DEFAULT_CONFIG_DIR, global = true)]
    pub config_dirs: Vec<PathBuf>,

    /// A bouncer configuration file to check besides the folders' (repeatable).
    #[arg(
        id = "bouncers.config-file",
        value_name = "PATH",
        long = "bouncers.config-file",
        env = "CROWDSEC_EXPORTER_BOUNCERS_CONFIG_FILE",
        value_delimiter = ',',
        global = true
    )]
    pub config_files: Vec<PathBuf>,

    /// How often the bouncer configuration checks run at most (they read files and ask LAPI's /health).
    #[arg(id = "bouncers.check-interval",
        value_name = "DURATION", long = "bouncers.check-interval", env = "CROWDSEC_EXPORTER_BOUNCERS_CHECK_INTERVAL", default_value = DEFAULT_CHECK_INTERVAL, global = true)]
    pub check_interval: String,

    /// The config file's `bouncers.timeout` (no flag), as written: parsed when resolved, so that its error names
    /// the key and its line.
    #[arg(skip)]
    pub timeout: Option<String>,
}

/// The configuration checks; each key replaces its `--bouncers.*` flag (lists included, not merged).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BouncersSection {
    /// `--bouncers.config-dir`: folders whose bouncer configuration files are found and checked.
    pub config_dirs: Option<Vec<PathBuf>>,
    /// `--bouncers.config-file`: single files to check.
    pub config_files: Option<Vec<PathBuf>>,
    /// Raw text, parsed by `--bouncers.check-interval`'s parser (errors name this key and its line).
    pub check_interval: Option<String>,
    /// Bounds each LAPI `/health` request; default: the check interval, at most 5 s. Raw text, parsed when
    /// resolved (an error names `file:line bouncers.timeout`, not the section's first line).
    pub timeout: Option<String>,
}

impl BouncersSection {
    /// Refuses what no flag would have refused first: the file-only `timeout` at 0.
    ///
    /// # Errors
    /// Why, naming the key (the caller names the file).
    pub fn check(&self) -> Result<(), String> {
        if let Some(text) = &self.timeout {
            match crate::values::duration::parse(text) {
                Err(e) => return Err(format!("bouncers.timeout: {e}")),
                Ok(t) if t.is_zero() => {
                    return Err("bouncers.timeout must be more than 0".to_owned())
                }
                Ok(_) => {}
            }
        }
        Ok(())
    }
}

/// What the checks take from the LAPI group (its flags' texts, resolved before them).
pub struct FromLapi<'a> {
    /// `--crowdsec.config`: where the default folders and `api.server.listen_uri` are found.
    pub crowdsec_config: &'a Path,
    /// `--lapi.url`'s text.
    pub url: Option<&'a str>,
}

impl<'a> FromEarlier<'a> for FromLapi<'a> {
    fn from_earlier(earlier: &Earlier<'a>) -> Option<Self> {
        let lapi = earlier.args::<crate::sources::lapi_db::lapi_settings::LapiArgs>()?;
        Some(FromLapi {
            crowdsec_config: &lapi.crowdsec_config,
            url: lapi.url.as_deref(),
        })
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

impl CheckSettings {
    /// Where bouncer files are looked for, as start-up and `diagnose` say it: each folder (`(missing: skipped)`
    /// when it is not one), then each file.
    pub fn places(&self) -> Vec<String> {
        self.config_dirs
            .iter()
            .map(|d| {
                let state = if d.is_dir() {
                    ""
                } else {
                    " (missing: skipped)"
                };
                format!("{}{state}", d.display())
            })
            .chain(self.config_files.iter().map(|f| f.display().to_string()))
            .collect()
    }
}

impl SettingsGroup for BouncerChecks {
    type Args = BouncersArgs;
    type Section = BouncersSection;
    type Needs<'a> = FromLapi<'a>;
    type Settings = CheckSettings;
    const SECTION: &'static str = "bouncers";

    fn merge(
        args: &mut BouncersArgs,
        section: &BouncersSection,
        keys: &mut SectionKeys<'_>,
    ) -> Result<(), String> {
        let s = section;
        keys.set(
            &mut args.config_dirs,
            "bouncers.config-dir",
            "config_dirs",
            &s.config_dirs,
        );
        keys.set(
            &mut args.config_files,
            "bouncers.config-file",
            "config_files",
            &s.config_files,
        );
        keys.set(
            &mut args.check_interval,
            "bouncers.check-interval",
            "check_interval",
            &s.check_interval,
        );
        // No flag: recorded under its would-be name, so that its refusal names the key and its line.
        keys.set(&mut args.timeout, "bouncers.timeout", "timeout", &s.timeout);
        Ok(())
    }

    fn resolve(
        args: &BouncersArgs,
        lapi: FromLapi<'_>,
        r: &Resolver<'_>,
    ) -> Result<Option<CheckSettings>, SettingsError> {
        let lapi_url = match lapi.url {
            None => None,
            // The same check as a config file's `lapis[].url`: http(s), a host, no credentials.
            Some(text) => {
                Some(crate::values::http_url::parse(text).map_err(|e| r.refuse("lapi.url", e))?)
            }
        };
        let interval = r.duration(
            "bouncers.check-interval",
            &args.check_interval,
            AtLeast::OneSecond,
        )?;
        let timeout = match &args.timeout {
            None => None,
            Some(text) => Some(r.duration("bouncers.timeout", text, AtLeast::NonZero)?),
        };
        // Issue 20 #4: left at its default, the folder follows CrowdSec's config (FreeBSD, OPNsense, pfSense).
        let defaults = args.config_dirs == [Path::new(DEFAULT_CONFIG_DIR)];
        let config_dirs = if defaults {
            crate::crowdsec::config_yaml::default_bouncer_dirs(lapi.crowdsec_config)
        } else {
            args.config_dirs.clone()
        };
        // Neither folders nor files given: the packages' standard places outside CrowdSec's folders too.
        let config_files = if defaults && args.config_files.is_empty() {
            crate::crowdsec::config_yaml::default_bouncer_files(Path::new("/"))
        } else {
            args.config_files.clone()
        };
        Ok(Some(CheckSettings {
            config_dirs,
            config_files,
            lapi_url,
            crowdsec_config: lapi.crowdsec_config.to_owned(),
            interval,
            timeout: timeout.unwrap_or(interval.min(Duration::from_secs(5))),
        }))
    }
}
