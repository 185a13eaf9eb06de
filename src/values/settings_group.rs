//! A settings group: the flags (with their environment variables), the config-file section and the checks of one
//! concern, defined beside the code it configures (a source defines its own, see `sources::service_api`) and
//! resolved into that code's settings. The top layer lists each group once, with its source (`exporter::REGISTRY`,
//! through [`crate::values::dyn_group`]): its flags are added to the command line, its section read from the config
//! file by its key, its merge and resolve called by the one settings path, and its settings kept by type
//! (`Settings::group`).
//!
//! One settings path whatever a value's origin: the section's keys replace the flags' texts ([`SectionKeys`]), then
//! [`SettingsGroup::resolve`] parses every text with one function and names the origin of a refused one
//! ([`Resolver::refuse`]): `--flag`, `ENV_VAR` or `file:line key`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One concern's settings: its flags, its config-file section and how they resolve.
pub trait SettingsGroup {
    /// The flags: a clap group (a `next_help_heading`), each flag `global` with its environment variable.
    type Args: clap::Args;
    /// The config-file section, every key optional (`#[serde(deny_unknown_fields)]`, so a typo is an error).
    type Section;
    /// What the group takes from the groups resolved before it (`()`: nothing).
    type Needs<'a>;
    /// What the group resolves to, when its sources are on.
    type Settings;
    /// The section's key in the config file.
    const SECTION: &'static str;

    /// Each key `section` sets replaces its flag's text (record it with [`SectionKeys::set`]).
    ///
    /// # Errors
    /// A value of a key no flag holds (the file's only) that is refused: why, naming the key (the caller names the
    /// file).
    fn merge(
        args: &mut Self::Args,
        section: &Self::Section,
        keys: &mut SectionKeys<'_>,
    ) -> Result<(), String>;

    /// The settings from the flags' texts (the config file's merged in), checked; `None`: the group's sources are
    /// off (absent, each saying which setting would enable it).
    ///
    /// # Errors
    /// The first refused value, naming its origin ([`Resolver::refuse`]).
    fn resolve(
        args: &Self::Args,
        needs: Self::Needs<'_>,
        r: &Resolver<'_>,
    ) -> Result<Option<Self::Settings>, SettingsError>;
}

/// What a group resolves with: where each value came from, and the environment.
pub struct Resolver<'a> {
    origins: &'a BTreeMap<String, Origin>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Resolver<'a> {
    /// `origins`: by flag name (without `--`), the values that came from an environment variable or a config-file
    /// key; `env` reads an environment variable (tests give their own).
    pub fn new(
        origins: &'a BTreeMap<String, Origin>,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Self {
        Resolver { origins, env }
    }

    /// A refusal of the value of `--<flag>`, naming where that value came from.
    pub fn refuse(&self, flag: &str, message: impl Into<String>) -> SettingsError {
        SettingsError {
            origin: origin(self.origins, flag),
            message: message.into(),
        }
    }

    /// The environment variable `name`, when set.
    pub fn env(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    /// A duration setting, parsed as every duration is (`values::duration::parse`) and bounded.
    ///
    /// # Errors
    /// Not a duration, or out of `bound`, naming the value's origin.
    pub fn duration(
        &self,
        flag: &str,
        text: &str,
        bound: AtLeast,
    ) -> Result<Duration, SettingsError> {
        let d = crate::values::duration::parse(text).map_err(|e| self.refuse(flag, e))?;
        match bound {
            AtLeast::NonZero if d.is_zero() => Err(self.refuse(flag, "must be more than 0")),
            AtLeast::OneSecond if d < Duration::from_secs(1) => {
                Err(self.refuse(flag, "must be at least 1s"))
            }
            _ => Ok(d),
        }
    }
}

/// Where the value of `--<flag>` came from: its recorded origin, else the flag (given, or its default).
pub fn origin(origins: &BTreeMap<String, Origin>, flag: &str) -> Origin {
    origins
        .get(flag)
        .cloned()
        .unwrap_or_else(|| Origin::Flag(format!("--{flag}")))
}

/// Bounds of a duration setting.
#[derive(Debug, Clone, Copy)]
pub enum AtLeast {
    /// More than zero.
    NonZero,
    /// At least one second (a source read more often would hammer what it reads).
    OneSecond,
    /// Zero allowed (no cache).
    Any,
}

/// A config-file section being merged over its group's flags: each key it sets replaces its flag's text and
/// becomes that value's origin (`file:line section.key`).
pub struct SectionKeys<'a> {
    path: &'a Path,
    text: &'a str,
    section: &'static str,
    origins: &'a mut Vec<(String, Origin)>,
}

impl<'a> SectionKeys<'a> {
    /// Section `section` of the config file at `path`, whose text is `text` (to find each key's line); the origins
    /// of the values it sets are pushed on `origins`.
    pub fn new(
        path: &'a Path,
        text: &'a str,
        section: &'static str,
        origins: &'a mut Vec<(String, Origin)>,
    ) -> Self {
        SectionKeys {
            path,
            text,
            section,
            origins,
        }
    }

    /// The config file.
    pub fn path(&self) -> &Path {
        self.path
    }

    /// The config file's text (to find the line of a key refused later).
    pub fn text(&self) -> &str {
        self.text
    }

    /// When the section sets `key` (to `value`), that value replaces the text of `--<flag>` (`to`).
    pub fn set<T: Clone + Into<U>, U>(
        &mut self,
        to: &mut U,
        flag: &str,
        key: &str,
        value: &Option<T>,
    ) {
        let Some(value) = value else { return };
        let keys = [self.section, key];
        self.origins.push((
            flag.to_owned(),
            Origin::File {
                path: self.path.to_owned(),
                line: crate::values::yaml::line_of(self.text, &keys),
                key: keys.join("."),
            },
        ));
        *to = value.clone().into();
    }
}

/// Where a setting's value came from, as a user would look for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag (or its default), e.g. `--lapi.url`.
    Flag(String),
    /// The flag's environment variable, e.g. `CROWDSEC_EXPORTER_LAPI_URL`.
    Env(String),
    /// A key of the `--config.file` YAML file, e.g. `web.telemetry_path`, with its 1-based line when found.
    File {
        /// The file.
        path: PathBuf,
        /// The key's 1-based line, when found.
        line: Option<usize>,
        /// The key, dotted, e.g. `web.telemetry_path`.
        key: String,
    },
    /// Several values together (e.g. "the Service API key"), said in the message.
    Combined,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag(flag) => f.write_str(flag),
            Origin::Env(var) => f.write_str(var),
            Origin::File {
                path,
                line: Some(line),
                key,
            } => write!(f, "{}:{line} {key}", path.display()),
            Origin::File {
                path,
                line: None,
                key,
            } => write!(f, "{} {key}", path.display()),
            Origin::Combined => Ok(()),
        }
    }
}

/// A refused setting: its origin (`--flag`, `ENV_VAR` or `file:line key`) and why. Never holds a secret's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// Where the refused value came from.
    pub origin: Origin,
    /// Why it is refused, in operator words.
    pub message: String,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.origin {
            Origin::Combined => f.write_str(&self.message),
            origin => write!(f, "{origin}: {}", self.message),
        }
    }
}

impl std::error::Error for SettingsError {}

impl SettingsError {
    /// An error in the config file at `path`, the key named in `message` (as the file's own checks word it).
    pub fn in_file(path: &Path, message: impl std::fmt::Display) -> Self {
        SettingsError::combined(format!("config file {}: {message}", path.display()))
    }

    /// An error about several settings at once, each named in `message`.
    pub fn combined(message: impl Into<String>) -> Self {
        SettingsError {
            origin: Origin::Combined,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_set_by_the_file_replaces_its_flag_and_is_named_as_its_origin() {
        let text = "web:\n  url: x\nservice_api:\n  # the API\n  url: https://example.net/v1\n";
        let mut origins = Vec::new();
        let mut keys = SectionKeys::new(Path::new("c.yaml"), text, "service_api", &mut origins);
        let (mut url, mut timeout) = ("default".to_owned(), "30s".to_owned());
        keys.set(
            &mut url,
            "service-api.url",
            "url",
            &Some("https://example.net/v1".to_owned()),
        );
        keys.set(
            &mut timeout,
            "service-api.timeout",
            "timeout",
            &None::<String>,
        );
        assert_eq!(
            (url.as_str(), timeout.as_str()),
            ("https://example.net/v1", "30s")
        );
        let origins: BTreeMap<String, Origin> = origins.into_iter().collect();
        let r = Resolver::new(&origins, &|_| None);
        assert_eq!(
            r.refuse("service-api.url", "bad").to_string(),
            "c.yaml:5 service_api.url: bad"
        );
        assert_eq!(
            r.refuse("service-api.timeout", "bad").to_string(),
            "--service-api.timeout: bad"
        );
    }

    #[test]
    fn durations_are_bounded_and_refusals_name_their_origin() {
        let origins = BTreeMap::from([(
            "lapi.timeout".to_owned(),
            Origin::Env("CROWDSEC_EXPORTER_LAPI_TIMEOUT".to_owned()),
        )]);
        let env = |name: &str| (name == "SET").then(|| "v".to_owned());
        let r = Resolver::new(&origins, &env);
        assert_eq!(r.env("SET").as_deref(), Some("v"));
        assert_eq!(r.env("UNSET"), None);
        let e = r
            .duration("lapi.timeout", "0s", AtLeast::NonZero)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CROWDSEC_EXPORTER_LAPI_TIMEOUT: must be more than 0"
        );
        let e = r
            .duration("x.interval", "500ms", AtLeast::OneSecond)
            .unwrap_err();
        assert_eq!(e.to_string(), "--x.interval: must be at least 1s");
        assert_eq!(
            r.duration("x.cache", "0s", AtLeast::Any),
            Ok(Duration::ZERO)
        );
        assert_eq!(
            SettingsError::in_file(Path::new("c.yaml"), "bouncers.timeout must be more than 0")
                .to_string(),
            "config file c.yaml: bouncers.timeout must be more than 0"
        );
    }
}
