//! Texts from flags, environment and `--config.file` into [`Settings`]: one parse function per value, each error
//! naming where the refused value came from.

use std::path::Path;
use std::time::Duration;

use super::{Cli, LAPI_DB_PASSWORD_ENV, SERVICE_API_KEY_ENV};
use crate::settings::{
    CheckSettings, LapiDbLocation, LapiSettings, LogSettings, Origin, ServiceApiSettings, Settings,
    SettingsError, WebSettings,
};
use crate::sources::lapi_db::target::ServerDb;
use crate::sources::service_api;
use crate::values::secret::Secret;

/// Bounds of a duration setting.
enum AtLeast {
    /// More than zero.
    NonZero,
    /// At least one second (a source read more often would hammer what it reads).
    OneSecond,
    /// Zero allowed (no cache).
    Any,
}

impl Cli {
    /// The settings, from flags, environment and `--config.file`.
    ///
    /// # Errors
    /// The first refused value, naming its origin (`--flag`, `ENV_VAR` or `file:line key`).
    pub(crate) fn settings(&self) -> Result<Settings, SettingsError> {
        self.settings_with_key_env(std::env::var(SERVICE_API_KEY_ENV).ok())
    }

    /// [`Cli::settings`] with the value of CROWDSEC_SERVICE_API_KEY given (tests pass their own).
    ///
    /// # Errors
    /// As [`Cli::settings`].
    pub fn settings_with_key_env(
        &self,
        key_env: Option<String>,
    ) -> Result<Settings, SettingsError> {
        if let Some(path) = &self.config.file {
            return self.settings_from_file(path, key_env);
        }
        let telemetry_path = &self.web.telemetry_path;
        if !telemetry_path.starts_with('/') || telemetry_path == "/" {
            return Err(self.refuse(
                "web.telemetry-path",
                format!("{telemetry_path:?} must start with / and not be /"),
            ));
        }
        for address in &self.web.listen_addresses {
            crate::web::parse_listen_address(address)
                .map_err(|e| self.refuse("web.listen-address", e.to_string()))?;
        }
        if self.lapi.name.is_empty() {
            return Err(self.refuse("lapi.name", "must not be empty"));
        }
        let read_timeout = self.duration("lapi.timeout", &self.lapi.timeout, AtLeast::NonZero)?;
        let cache_interval = self.duration(
            "lapi.cache-interval",
            &self.lapi.cache_interval,
            AtLeast::Any,
        )?;
        let decisions_interval = self.duration(
            "lapi.decisions-interval",
            &self.lapi.decisions_interval,
            AtLeast::Any,
        )?;
        let max_scrape_wait = self.duration(
            "web.max-scrape-wait",
            &self.web.max_scrape_wait,
            AtLeast::Any,
        )?;
        let db = match (&self.lapi.db, &self.lapi.cscli_command) {
            (Some(_), Some(_)) => {
                return Err(SettingsError::combined(
                    "give either --lapi.db or --lapi.cscli-command, not both",
                ))
            }
            (None, Some(command)) => LapiDbLocation::Cscli(
                crate::sources::cscli::split_command(command)
                    .map_err(|e| self.refuse("lapi.cscli-command", e.to_string()))?,
            ),
            (Some(path), None) => match path.to_str() {
                Some(url) if ServerDb::is_url(url) => LapiDbLocation::Server(
                    ServerDb::from_url(url)
                        .and_then(|t| {
                            t.with_password(
                                self.lapi.db_password_file.as_deref(),
                                std::env::var(LAPI_DB_PASSWORD_ENV).ok(),
                            )
                        })
                        .map_err(|e| self.refuse("lapi.db", e.to_string()))?,
                ),
                _ => LapiDbLocation::Sqlite(path.clone()),
            },
            (None, None) => LapiDbLocation::FromCrowdsecConfig(self.lapi.crowdsec_config.clone()),
        };
        let service_api = self.service_api_settings(key_env)?;
        Ok(Settings {
            web: WebSettings {
                listen_addresses: self.web.listen_addresses.clone(),
                telemetry_path: telemetry_path.clone(),
                max_scrape_wait,
                config_file: self.web.config_file.clone(),
            },
            lapis: if service_api.is_some() && self.no_lapi_here(&db) {
                vec![]
            } else {
                vec![LapiSettings {
                    name: self.lapi.name.clone(),
                    db,
                    cache_interval,
                    decisions_interval,
                    read_timeout,
                    url: None,
                }]
            },
            log: LogSettings {
                level: self.log.level,
                format: self.log.format,
            },
            service_api,
            checks: Some(self.check_settings()?),
            thresholds: crate::settings::Thresholds::default(),
        })
    }

    /// With a Service API key given, a host with Blocklist-as-a-Service only: no LAPI flag given and the default
    /// CrowdSec config certainly absent (`try_exists` says no; an unreadable directory keeps the LAPI, reported
    /// down with its reason). Then there is no LAPI source rather than one down forever.
    fn no_lapi_here(&self, db: &LapiDbLocation) -> bool {
        matches!(db, LapiDbLocation::FromCrowdsecConfig(p)
            if p == std::path::Path::new(crate::settings::DEFAULT_CROWDSEC_CONFIG)
                && matches!(p.try_exists(), Ok(false)))
            && self.lapi.url.is_none()
    }

    /// A duration setting, parsed as every duration is ([`crate::values::duration::parse`]) and bounded.
    fn duration(&self, flag: &str, text: &str, bound: AtLeast) -> Result<Duration, SettingsError> {
        let d = crate::values::duration::parse(text).map_err(|e| self.refuse(flag, e))?;
        match bound {
            AtLeast::NonZero if d.is_zero() => Err(self.refuse(flag, "must be more than 0")),
            AtLeast::OneSecond if d < Duration::from_secs(1) => {
                Err(self.refuse(flag, "must be at least 1s"))
            }
            _ => Ok(d),
        }
    }

    /// The `bouncer_config` and `lapi_health` sources.
    fn check_settings(&self) -> Result<CheckSettings, SettingsError> {
        let lapi_url = match &self.lapi.url {
            None => None,
            // The same check as a config file's `lapis[].url`: http(s), a host, no credentials.
            Some(text) => {
                Some(crate::config_file::lapi_url(text).map_err(|e| self.refuse("lapi.url", e))?)
            }
        };
        let interval = self.duration(
            "bouncers.check-interval",
            &self.bouncers.check_interval,
            AtLeast::OneSecond,
        )?;
        // Issue 20 #4: left at its default, the folder follows CrowdSec's config (FreeBSD, OPNsense, pfSense).
        let defaults =
            self.bouncers.config_dirs == [Path::new(crate::settings::DEFAULT_BOUNCERS_CONFIG_DIR)];
        let config_dirs = if defaults {
            crate::crowdsec::config_yaml::default_bouncer_dirs(&self.lapi.crowdsec_config)
        } else {
            self.bouncers.config_dirs.clone()
        };
        // Neither folders nor files given: the packages' standard places outside CrowdSec's folders too.
        let config_files = if defaults && self.bouncers.config_files.is_empty() {
            crate::crowdsec::config_yaml::default_bouncer_files(Path::new("/"))
        } else {
            self.bouncers.config_files.clone()
        };
        Ok(CheckSettings {
            config_dirs,
            config_files,
            lapi_url,
            crowdsec_config: self.lapi.crowdsec_config.clone(),
            interval,
            timeout: interval.min(Duration::from_secs(5)),
        })
    }

    /// Settings from `--config.file`: its keys over the flags' values, its `lapis` instead of the flags' LAPI.
    fn settings_from_file(
        &self,
        path: &Path,
        key_env: Option<String>,
    ) -> Result<Settings, SettingsError> {
        let file_error = |e: crate::config_file::ConfigFileError| SettingsError {
            origin: Origin::Combined,
            message: e.to_string(),
        };
        let file = crate::config_file::load(path).map_err(file_error)?;
        let mut merged = self.clone();
        merged.config.file = None;
        // Each key the file sets replaces its flag's value and becomes that value's origin.
        let mut origins = Vec::new();
        let mut from_file = |flag: &str, keys: &[&str]| {
            origins.push((
                flag.to_owned(),
                Origin::File {
                    path: path.to_owned(),
                    line: file.line_of(keys),
                    key: keys.join("."),
                },
            ));
        };
        if let Some(web) = &file.web {
            if let Some(v) = &web.listen_addresses {
                from_file("web.listen-address", &["web", "listen_addresses"]);
                merged.web.listen_addresses = v.clone();
            }
            if let Some(v) = &web.telemetry_path {
                from_file("web.telemetry-path", &["web", "telemetry_path"]);
                merged.web.telemetry_path = v.clone();
            }
            if let Some(v) = &web.max_scrape_wait {
                from_file("web.max-scrape-wait", &["web", "max_scrape_wait"]);
                merged.web.max_scrape_wait = v.clone();
            }
        }
        if let Some(log) = &file.log {
            merged.log.level = log.level.unwrap_or(merged.log.level);
            merged.log.format = log.format.unwrap_or(merged.log.format);
        }
        if let Some(sa) = &file.service_api {
            if let Some(v) = &sa.key_file {
                from_file("service-api.key-file", &["service_api", "key_file"]);
                merged.service_api.key_file = Some(v.clone());
            }
            if let Some(v) = &sa.url {
                from_file("service-api.url", &["service_api", "url"]);
                merged.service_api.url = v.clone();
            }
            if let Some(v) = &sa.tags {
                merged.service_api.tags = v.clone();
            }
            if let Some(v) = &sa.refresh_interval {
                from_file(
                    "service-api.refresh-interval",
                    &["service_api", "refresh_interval"],
                );
                merged.service_api.refresh_interval = v.clone();
            }
            if let Some(v) = &sa.timeout {
                from_file("service-api.timeout", &["service_api", "timeout"]);
                merged.service_api.timeout = v.clone();
            }
        }
        file.check_bouncers(path).map_err(file_error)?;
        if let Some(b) = &file.bouncers {
            if let Some(v) = &b.config_dirs {
                merged.bouncers.config_dirs = v.clone();
            }
            if let Some(v) = &b.config_files {
                merged.bouncers.config_files = v.clone();
            }
            if let Some(v) = &b.check_interval {
                from_file("bouncers.check-interval", &["bouncers", "check_interval"]);
                merged.bouncers.check_interval = v.clone();
            }
        }
        merged.origins.extend(origins);
        let thresholds = file.thresholds(path).map_err(file_error)?;
        // The flags' (or their environment's) values are the defaults of each `lapis` entry.
        let default_cache_interval = self.duration(
            "lapi.cache-interval",
            &self.lapi.cache_interval,
            AtLeast::Any,
        )?;
        let default_timeout =
            self.duration("lapi.timeout", &self.lapi.timeout, AtLeast::NonZero)?;
        let default_decisions_interval = self.duration(
            "lapi.decisions-interval",
            &self.lapi.decisions_interval,
            AtLeast::Any,
        )?;
        let lapis = file
            .lapi_settings(
                path,
                default_cache_interval,
                default_decisions_interval,
                default_timeout,
            )
            .map_err(file_error)?;
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
    ) -> Result<Option<ServiceApiSettings>, SettingsError> {
        // An empty variable (`CROWDSEC_SERVICE_API_KEY=` in a unit or compose file) means "not set".
        let key_env = key_env.filter(|k| !k.trim().is_empty());
        let key = match (&self.service_api.key_file, key_env) {
            (Some(_), Some(_)) => {
                return Err(SettingsError::combined(format!(
                    "give the Service API key either with --service-api.key-file or with {SERVICE_API_KEY_ENV}, not both"
                )))
            }
            (None, None) => return Ok(None),
            (None, Some(k)) => Secret::new(k.trim()),
            (Some(path), None) => {
                let refuse = |m: String| self.refuse("service-api.key-file", m);
                let text = crate::values::file::read_text(path, crate::values::file::SECRET_FILE_BYTES)
                    .map_err(|e| refuse(format!("cannot read {}: {e}", path.display())))?;
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
        // parse_base_url's messages start with the flag's name; the origin says it (it may be the file's key).
        let url = service_api::parse_base_url(&self.service_api.url).map_err(|e| {
            let e = e
                .strip_prefix("--service-api.url ")
                .unwrap_or(&e)
                .to_owned();
            self.refuse("service-api.url", e)
        })?;
        let refresh_interval = self.duration(
            "service-api.refresh-interval",
            &self.service_api.refresh_interval,
            AtLeast::OneSecond,
        )?;
        let timeout = self.duration(
            "service-api.timeout",
            &self.service_api.timeout,
            AtLeast::NonZero,
        )?;
        let tags: Vec<String> = self
            .service_api
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
