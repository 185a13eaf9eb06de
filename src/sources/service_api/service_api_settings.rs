//! The `service_api` settings group: the `--service-api.*` flags, the config file's `service_api:` section, and the
//! source's resolved settings ([`ServiceApiSettings`], `None` without a key). The key itself never comes from a flag
//! (it would show in `ps`): a file, or the environment variable [`SERVICE_API_KEY_ENV`].

use std::path::PathBuf;
use std::time::Duration;

use crate::values::secret::Secret;
use crate::values::settings_group::{AtLeast, Resolver, SectionKeys, SettingsError, SettingsGroup};

/// Environment variable holding the Service API key (there is deliberately no flag for the key itself).
pub const SERVICE_API_KEY_ENV: &str = "CROWDSEC_SERVICE_API_KEY";
/// `--service-api.refresh-interval`'s default.
pub(crate) const DEFAULT_REFRESH_INTERVAL: &str = "5m";
/// `--service-api.timeout`'s default.
pub(crate) const DEFAULT_TIMEOUT: &str = "30s";

/// The settings group of source `service_api`.
pub struct ServiceApi;

/// The CrowdSec Service API (Blocklist-as-a-Service integrations).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Service API")]
pub struct ServiceApiArgs {
    /// File holding a CrowdSec Service API key (Console > Settings > Service API Keys, scope "Blocklists
    /// Integrations: read"); enables the Blocklist-as-a-Service source. The key may instead come from the
    /// environment variable CROWDSEC_SERVICE_API_KEY, never from a flag (it would show in `ps`).
    #[arg(
        id = "service-api.key-file",
        value_name = "PATH",
        long = "service-api.key-file",
        env = "CROWDSEC_EXPORTER_SERVICE_API_KEY_FILE",
        global = true
    )]
    pub key_file: Option<PathBuf>,

    /// Base URL of the CrowdSec Service API.
    #[arg(id = "service-api.url",
        value_name = "URL", long = "service-api.url", env = "CROWDSEC_EXPORTER_SERVICE_API_URL", default_value = super::DEFAULT_URL, global = true)]
    pub url: String,

    /// Only integrations with this tag (repeatable; any of them matches).
    #[arg(
        id = "service-api.tag",
        value_name = "TAG",
        long = "service-api.tag",
        env = "CROWDSEC_EXPORTER_SERVICE_API_TAG",
        value_delimiter = ',',
        global = true
    )]
    pub tags: Vec<String>,

    /// How long one Service API reading serves scrapes (the API is rate-limited and its data coarse).
    #[arg(id = "service-api.refresh-interval",
        value_name = "DURATION", long = "service-api.refresh-interval", env = "CROWDSEC_EXPORTER_SERVICE_API_REFRESH_INTERVAL", default_value = DEFAULT_REFRESH_INTERVAL, global = true)]
    pub refresh_interval: String,

    /// Longest one Service API read (every page) may take.
    #[arg(id = "service-api.timeout",
        value_name = "DURATION", long = "service-api.timeout", env = "CROWDSEC_EXPORTER_SERVICE_API_TIMEOUT", default_value = DEFAULT_TIMEOUT, global = true)]
    pub timeout: String,
}

/// `service_api:` (`--service-api.*`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceApiSection {
    /// File holding the key (or CROWDSEC_SERVICE_API_KEY); never the key itself.
    pub key_file: Option<PathBuf>,
    /// `--service-api.url`.
    pub url: Option<String>,
    /// `--service-api.tag`: only integrations with any of these tags.
    pub tags: Option<Vec<String>>,
    /// Raw texts, parsed by the same functions as their flags' (errors name the key and its line).
    pub refresh_interval: Option<String>,
    /// (See `refresh_interval`.)
    pub timeout: Option<String>,
}

/// Source `service_api`: the CrowdSec Service API's integrations list.
#[derive(Debug, Clone)]
pub struct ServiceApiSettings {
    /// Base URL, checked by [`super::parse_base_url`], e.g. `https://admin.api.crowdsec.net/v1`.
    pub url: reqwest::Url,
    /// Sent as `x-api-key`; `Debug` prints `<redacted>`.
    pub key: Secret,
    /// Only integrations with any of these tags (none = all).
    pub tags: Vec<String>,
    /// A reading serves scrapes for this long (the API is rate-limited and its data coarse).
    pub refresh_interval: Duration,
    /// One read, all pages, may take this long.
    pub timeout: Duration,
}

impl SettingsGroup for ServiceApi {
    type Args = ServiceApiArgs;
    type Section = ServiceApiSection;
    /// `None` without a key: the source is absent.
    type Settings = ServiceApiSettings;
    const SECTION: &'static str = "service_api";

    type Needs<'a> = ();

    fn merge(
        args: &mut ServiceApiArgs,
        section: &ServiceApiSection,
        keys: &mut SectionKeys<'_>,
    ) -> Result<(), String> {
        let s = section;
        keys.set(
            &mut args.key_file,
            "service-api.key-file",
            "key_file",
            &s.key_file,
        );
        keys.set(&mut args.url, "service-api.url", "url", &s.url);
        keys.set(&mut args.tags, "service-api.tag", "tags", &s.tags);
        keys.set(
            &mut args.refresh_interval,
            "service-api.refresh-interval",
            "refresh_interval",
            &s.refresh_interval,
        );
        keys.set(
            &mut args.timeout,
            "service-api.timeout",
            "timeout",
            &s.timeout,
        );
        Ok(())
    }

    /// Messages name the key's file, never the key.
    fn resolve(
        args: &ServiceApiArgs,
        (): (),
        r: &Resolver<'_>,
    ) -> Result<Option<ServiceApiSettings>, SettingsError> {
        // Every value is checked even without a key: a bad one given for a source left off is still refused, not
        // silently kept for the day a key is added.
        let key = key(args, r)?;
        // parse_base_url's messages start with the flag's name; the origin says it (it may be the file's key).
        let url = super::parse_base_url(&args.url).map_err(|e| {
            let e = e
                .strip_prefix("--service-api.url ")
                .unwrap_or(&e)
                .to_owned();
            r.refuse("service-api.url", e)
        })?;
        let refresh_interval = r.duration(
            "service-api.refresh-interval",
            &args.refresh_interval,
            AtLeast::OneSecond,
        )?;
        let timeout = r.duration("service-api.timeout", &args.timeout, AtLeast::NonZero)?;
        let Some(key) = key else {
            return Ok(None);
        };
        let tags: Vec<String> = args
            .tags
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        Ok(Some(ServiceApiSettings {
            url,
            key,
            tags,
            refresh_interval,
            timeout,
        }))
    }
}

/// The key, from `--service-api.key-file` or [`SERVICE_API_KEY_ENV`] (not both); `None` without either.
fn key(args: &ServiceApiArgs, r: &Resolver<'_>) -> Result<Option<Secret>, SettingsError> {
    // An empty variable (`CROWDSEC_SERVICE_API_KEY=` in a unit or compose file) means "not set".
    let key_env = r.env(SERVICE_API_KEY_ENV).filter(|k| !k.trim().is_empty());
    let key = match (&args.key_file, key_env) {
        (Some(_), Some(_)) => {
            // Named by its origin: `--service-api.key-file`, its variable or `file:line service_api.key_file`.
            let file = r.refuse("service-api.key-file", "").origin;
            return Err(SettingsError::combined(format!(
                "give the Service API key either with {file} or with {SERVICE_API_KEY_ENV}, not both"
            )));
        }
        (None, None) => return Ok(None),
        (None, Some(k)) => Secret::new(k.trim()),
        (Some(path), None) => {
            let refuse = |m: String| r.refuse("service-api.key-file", m);
            let text = crate::values::file::read_text(path, crate::values::file::SECRET_FILE_BYTES)
                .map_err(|e| {
                    let path = crate::values::secret::shown_path(path);
                    refuse(format!("cannot read {path}: {e}"))
                })?;
            let key = text.trim_end_matches(['\n', '\r']).trim();
            if key.is_empty() {
                return Err(refuse(format!("{} is empty", path.display())));
            }
            Secret::new(key)
        }
    };
    crate::values::secret::remember(&key);
    if reqwest::header::HeaderValue::from_str(key.expose()).is_err() {
        return Err(SettingsError::combined(
            "the Service API key holds characters an HTTP header cannot carry (is it the right file?)",
        ));
    }
    Ok(Some(key))
}
