//! Texts from flags, environment and `--config.file` into [`Settings`]: one parse function per value, each error
//! naming where the refused value came from.

use std::path::Path;

use super::Cli;
use crate::config_file::ConfigFileError;
use crate::settings::{LogSettings, Origin, Settings, SettingsError, WebSettings};
use crate::sources::lapi_db::lapi_settings::{self, Lapis};
use crate::sources::service_api::{ServiceApiSettings, SERVICE_API_KEY_ENV};
use crate::values::dyn_group::{AnyValue, DynGroup, Earlier, Groups, Sections};
use crate::values::settings_group::{AtLeast, Resolver, SectionKeys, SettingsGroup};

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
        // A tester's `/-/healthy` served the whole exposition to every liveness probe.
        if matches!(telemetry_path.as_str(), "/-/healthy" | "/-/ready") {
            return Err(self.refuse(
                "web.telemetry-path",
                format!("{telemetry_path:?} is the health endpoint's path: give another"),
            ));
        }
        for address in &self.web.listen_addresses {
            crate::web::parse_listen_address(address)
                .map_err(|e| self.refuse("web.listen-address", e.to_string()))?;
        }
        // No address: start-up served nothing and exited 0, a clean exit to a supervisor.
        if self.web.listen_addresses.is_empty() {
            return Err(self.refuse(
                "web.listen-address",
                "at least one listen address is needed (the exporter serves nothing without one)",
            ));
        }
        if let Some((first, second)) =
            crate::web::colliding_listen_addresses(&self.web.listen_addresses)
        {
            let why = if first == second {
                format!("{first:?} is listed twice")
            } else {
                format!("{first:?} and {second:?} overlap (the same address, or one listens on every interface, on the same port)")
            };
            return Err(self.refuse(
                "web.listen-address",
                format!("{why}: start-up could not bind both (address already in use)"),
            ));
        }
        let env = environment(key_env);
        let resolver = Resolver::new(&self.origins, &env);
        let max_scrape_wait = resolver.duration(
            "web.max-scrape-wait",
            &self.web.max_scrape_wait,
            AtLeast::Any,
        )?;
        let mut lapis = Lapis::resolve(&self.lapi, (), &resolver)?.unwrap_or_default();
        // Each registered group in turn, with what it needs from the LAPI group's and the groups' before it.
        let mut earlier = Earlier::default();
        earlier.add(&self.lapi);
        let mut groups = Groups::default();
        for (group, args) in &self.groups.0 {
            if let Some(settings) = group.resolve(&**args, &earlier, &resolver)? {
                groups.push(settings);
            }
            earlier.add((**args).as_any());
        }
        if groups.get::<ServiceApiSettings>().is_some()
            && lapi_settings::blocklists_only(&self.lapi, &lapis)
        {
            lapis.clear();
        }
        Ok(Settings {
            web: WebSettings {
                listen_addresses: self.web.listen_addresses.clone(),
                telemetry_path: telemetry_path.clone(),
                max_scrape_wait,
                config_file: self.web.config_file.clone(),
            },
            lapis,
            log: LogSettings {
                level: self.log.level,
                format: self.log.format,
            },
            groups,
            thresholds: crate::settings::Thresholds::default(),
        })
    }

    /// Settings from `--config.file`: its keys over the flags' values, its `lapis` instead of the flags' LAPI.
    fn settings_from_file(
        &self,
        path: &Path,
        key_env: Option<String>,
    ) -> Result<Settings, SettingsError> {
        let file_error = |e: ConfigFileError| SettingsError {
            origin: Origin::Combined,
            message: e.to_string(),
        };
        let file = crate::config_file::load(path).map_err(file_error)?;
        let mut merged = self.clone();
        merged.config.file = None;
        // Each key the file sets replaces its flag's value and becomes that value's origin.
        let mut over = FileMerge {
            path,
            text: &file.text,
            origins: Vec::new(),
        };
        if let Some(web) = &file.web {
            let (w, mut keys) = (&mut merged.web, over.section("web"));
            keys.set(
                &mut w.listen_addresses,
                "web.listen-address",
                "listen_addresses",
                &web.listen_addresses,
            );
            keys.set(
                &mut w.telemetry_path,
                "web.telemetry-path",
                "telemetry_path",
                &web.telemetry_path,
            );
            keys.set(
                &mut w.max_scrape_wait,
                "web.max-scrape-wait",
                "max_scrape_wait",
                &web.max_scrape_wait,
            );
        }
        if let Some(log) = &file.log {
            merged.log.level = log.level.unwrap_or(merged.log.level);
            merged.log.format = log.format.unwrap_or(merged.log.format);
        }
        over.group::<Lapis>(&mut merged.lapi, &file.lapis)?;
        for (group, args) in &mut merged.groups.0 {
            over.dyn_group(*group, &mut **args, &file.sections)?;
        }
        merged.origins.extend(over.origins);
        let thresholds = file.thresholds(path)?;
        let mut settings = merged.settings_with_key_env(key_env)?;
        settings.thresholds = thresholds;
        Ok(settings)
    }
}

/// The environment as the settings read it, but CROWDSEC_SERVICE_API_KEY's value is `key_env` (tests give theirs).
fn environment(key_env: Option<String>) -> impl Fn(&str) -> Option<String> {
    move |name| {
        if name == SERVICE_API_KEY_ENV {
            key_env.clone()
        } else {
            std::env::var(name).ok()
        }
    }
}

/// The config file being merged over the flags: the origins of the values its keys set.
struct FileMerge<'a> {
    path: &'a Path,
    text: &'a str,
    origins: Vec<(String, Origin)>,
}

impl FileMerge<'_> {
    /// The keys of section `name`.
    fn section(&mut self, name: &'static str) -> SectionKeys<'_> {
        SectionKeys::new(self.path, self.text, name, &mut self.origins)
    }

    /// Group `G`'s section, when the file has it, over the group's flags' texts `args`.
    fn group<G: SettingsGroup>(
        &mut self,
        args: &mut G::Args,
        section: &Option<G::Section>,
    ) -> Result<(), SettingsError> {
        let Some(section) = section else {
            return Ok(());
        };
        G::merge(args, section, &mut self.section(G::SECTION))
            .map_err(|message| SettingsError::in_file(self.path, message))
    }

    /// A registered group's section, when the file has it, over the group's flags' texts `args`.
    fn dyn_group(
        &mut self,
        group: &dyn DynGroup,
        args: &mut dyn AnyValue,
        sections: &Sections,
    ) -> Result<(), SettingsError> {
        let Some(section) = sections.of(group) else {
            return Ok(());
        };
        group
            .merge(args, section, &mut self.section(group.section_key()))
            .map_err(|message| SettingsError::in_file(self.path, message))
    }
}
