//! The exporter's YAML config file (`--config.file`): what flags cannot say well, chiefly several LAPIs, plus the
//! configuration checks (`bouncers`) and `diagnose`'s `thresholds`.
//!
//! Every key is optional and wins over its flag (or environment variable); a key the file does not set keeps the
//! flag's value. `lapis`, when present, replaces the one LAPI the `--lapi.*` flags describe (their
//! `--lapi.cache-interval` and `--lapi.timeout` still serve as the defaults of each entry). Unknown keys are
//! errors, reported with their line and column, so a typo never silently falls back to a default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::settings::{LapiSettings, Thresholds};
use crate::sources::bouncer_checks_settings::BouncersSection;
use crate::values::dyn_group::Sections;

/// Why `--config.file` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why, in words that never quote the content (a FIFO or device is refused, not waited on).
        reason: crate::values::file::FileError,
    },
    // serde_yaml_ng's messages name the key and its position (line, column).
    /// The file is not valid YAML or has a refused key or value.
    #[error("config file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// serde_yaml_ng's message, through `values::yaml::redact_values`: the key and its line, never a value.
        message: String,
    },
}

/// The file, as written: the core's sections, and the registered settings groups' (read by their key, see
/// [`parse`]).
#[derive(Debug, Default, Deserialize)]
pub struct ConfigFile {
    /// The file's text, kept to find the line of a key whose value is refused after parsing (`values::yaml::line_of`).
    #[serde(skip)]
    pub text: String,
    /// Listen addresses, telemetry path, scrape wait (`--web.*`).
    #[serde(default)]
    pub web: Option<WebSection>,
    /// Log level and format (`--log.*`).
    #[serde(default)]
    pub log: Option<LogSection>,
    /// Several LAPIs; replaces the one the `--lapi.*` flags describe.
    #[serde(default)]
    pub lapis: Option<Vec<crate::sources::lapi_db::lapi_settings::LapiSection>>,
    /// When `diagnose` calls a bouncer late or offline (no flag: the file only).
    #[serde(default)]
    pub thresholds: Option<ThresholdsSection>,
    /// The sections of the registered sources' settings groups (`service_api`, `bouncers`, ...), by group.
    #[serde(skip)]
    pub sections: Sections,
}

/// The core's top-level keys, before and after the registered settings groups' (in the order unknown-key errors
/// list them).
const CORE_KEYS: ([&str; 3], [&str; 1]) = (["web", "log", "lapis"], ["thresholds"]);

/// `web:` (`--web.*`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    /// `--web.listen-address`, as many as wanted.
    pub listen_addresses: Option<Vec<String>>,
    /// `--web.telemetry-path`.
    pub telemetry_path: Option<String>,
    /// Raw text: parsed with `--web.max-scrape-wait`'s parser, so an error names this key and its line.
    pub max_scrape_wait: Option<String>,
}

/// `log:` (`--log.*`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// `--log.level`.
    pub level: Option<crate::settings::LogLevel>,
    /// `--log.format`.
    pub format: Option<crate::settings::LogFormat>,
}

/// `diagnose`'s thresholds, named as the rule file's recording rules (`crowdsec:<name>_seconds`), given as
/// durations. The alerts and dashboards read the recording rules: set both alike. Durations are kept as written and
/// parsed by [`ConfigFile::thresholds`], so that an error names `file:line thresholds.key` (read while parsing the
/// YAML, it named the section's first line).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsSection {
    /// `offline` is the name of releases before the verdicts issue.
    #[serde(default, alias = "offline")]
    pub bouncer_offline_threshold: Option<String>,
    /// `late` is the name of releases before the verdicts issue.
    #[serde(default, alias = "late")]
    pub early_warning_threshold: Option<String>,
    /// Recording rule `crowdsec:never_pulled_grace_seconds`.
    #[serde(default)]
    pub never_pulled_grace: Option<String>,
    /// Recording rule `crowdsec:usage_metrics_freshness_seconds`.
    #[serde(default)]
    pub usage_metrics_freshness: Option<String>,
    /// Unset: follows `bouncer_offline_threshold`, as the recording rule does.
    #[serde(default)]
    pub integration_offline_threshold: Option<String>,
    /// Recording rule `crowdsec:partial_enforcement_ratio` (mixin `partialEnforcementRatio`), in (0, 1].
    #[serde(default)]
    pub partial_enforcement_ratio: Option<f64>,
    /// Recording rule `crowdsec:community_integration_offline_threshold_seconds`; unset: the integration threshold
    /// plus 6 h.
    #[serde(default)]
    pub community_integration_offline_threshold: Option<String>,
    /// Recording rule `crowdsec:log_processor_offline_threshold_seconds`.
    #[serde(default)]
    pub log_processor_offline_threshold: Option<String>,
}

/// Reads and checks the file's syntax and keys.
pub(crate) fn load(path: &Path) -> Result<ConfigFile, ConfigFileError> {
    let text = crate::values::file::read_text(path, crate::values::yaml::MAX_FILE_BYTES).map_err(
        |reason| ConfigFileError::Read {
            path: path.to_owned(),
            reason,
        },
    )?;
    parse(path, &text)
}

/// Parses the file's text (`path` only names it in errors); an empty file is no settings.
///
/// The text is read three ways, each error with its key's line: its top-level keys (each known, at most once), the
/// core's sections, and each registered settings group's section (by its key). The error reported is the first in
/// the text, as a single reading would report it.
///
/// # Errors
/// [`ConfigFileError::Invalid`]: not YAML, an unknown key, or a value of the wrong type, with its line.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigFileError> {
    if text.trim().is_empty() {
        return Ok(ConfigFile::default());
    }
    let mut errors = Vec::new();
    if let Err(e) = top_keys(text) {
        errors.push(e);
    }
    let core = serde_yaml_ng::from_str::<Option<ConfigFile>>(text)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let mut sections = Sections::default();
    for group in crate::exporter::settings_groups() {
        match group.section(text) {
            Ok(Some(section)) => sections.insert(group, section),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    let first = errors
        .into_iter()
        .min_by_key(|e| e.location().map_or(usize::MAX, |at| at.index()));
    if let Some(e) = first {
        // Never a value of the file: it may be a secret (a key file passed as the config file).
        let mut message = crate::values::yaml::redact_values(&e.to_string());
        // serde_yaml_ng leaves out a position at line 1, column 1 (a first top-level key): say it anyway.
        if let Some(at) = e.location().filter(|_| !message.contains(" line ")) {
            message.push_str(&format!(" at line {} column {}", at.line(), at.column()));
        }
        return Err(ConfigFileError::Invalid {
            path: path.to_owned(),
            message,
        });
    }
    Ok(ConfigFile {
        text: text.to_owned(),
        sections,
        ..core.unwrap_or_default()
    })
}

/// Every top-level key of the file is the core's or a registered settings group's, and appears once (serde's
/// `deny_unknown_fields`, for a list of keys known at run time).
fn top_keys(text: &str) -> Result<(), serde_yaml_ng::Error> {
    use serde::de::{Error, IgnoredAny, MapAccess, Visitor};
    static KEYS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let groups = crate::exporter::settings_groups().map(|g| g.section_key());
        let (before, after) = CORE_KEYS;
        before.into_iter().chain(groups).chain(after).collect()
    });
    /// A key, checked against the known ones.
    struct Key(&'static [&'static str]);
    impl<'de> serde::de::DeserializeSeed<'de> for Key {
        type Value = &'static str;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<&'static str, D::Error> {
            d.deserialize_identifier(self)
        }
    }
    impl Visitor<'_> for Key {
        type Value = &'static str;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("field identifier")
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<&'static str, E> {
            let known = self.0.iter().find(|k| **k == v);
            known.copied().ok_or_else(|| E::unknown_field(v, self.0))
        }
    }
    /// The file's top-level mapping (or nothing).
    struct Top(&'static [&'static str]);
    impl<'de> Visitor<'de> for Top {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("struct ConfigFile")
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_none<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = Vec::new();
            while let Some(key) = map.next_key_seed(Key(self.0))? {
                if seen.contains(&key) {
                    return Err(A::Error::duplicate_field(key));
                }
                seen.push(key);
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }
    serde::Deserializer::deserialize_any(serde_yaml_ng::Deserializer::from_str(text), Top(keys))
}

impl ConfigFile {
    /// `diagnose`'s thresholds: the file's, else the rule file's defaults, checked (every one above zero, the early
    /// warning below the offline threshold).
    ///
    /// # Errors
    /// Naming the key and its line (`file:line thresholds.key`): a threshold not above zero, or the early warning
    /// not below the offline threshold.
    pub fn thresholds(&self, path: &Path) -> Result<Thresholds, crate::settings::SettingsError> {
        let mut t = Thresholds::default();
        // The key as written (a name or its old alias), with its line; the first name when neither is written.
        let refuse = |names: &[&str], message: String| {
            let line =
                |name: &&str| crate::values::yaml::line_of(&self.text, &["thresholds", name]);
            let (name, line) = names
                .iter()
                .find_map(|n| line(n).map(|l| (*n, Some(l))))
                .unwrap_or((names[0], None));
            crate::settings::SettingsError {
                origin: crate::settings::Origin::File {
                    path: path.to_owned(),
                    line,
                    key: format!("thresholds.{name}"),
                },
                message,
            }
        };
        if let Some(section) = &self.thresholds {
            // Each duration as written, parsed here with its key's line.
            let d = |names: &[&str], text: &Option<String>| -> Result<Option<Duration>, _> {
                text.as_deref()
                    .map(|text| crate::values::duration::parse(text).map_err(|e| refuse(names, e)))
                    .transpose()
            };
            let offline = ["bouncer_offline_threshold", "offline"];
            let late = ["early_warning_threshold", "late"];
            t.bouncer_offline =
                d(&offline, &section.bouncer_offline_threshold)?.unwrap_or(t.bouncer_offline);
            t.early_warning =
                d(&late, &section.early_warning_threshold)?.unwrap_or(t.early_warning);
            t.never_pulled_grace = d(&["never_pulled_grace"], &section.never_pulled_grace)?
                .unwrap_or(t.never_pulled_grace);
            t.usage_metrics_freshness = d(
                &["usage_metrics_freshness"],
                &section.usage_metrics_freshness,
            )?
            .unwrap_or(t.usage_metrics_freshness);
            t.integration_offline = d(
                &["integration_offline_threshold"],
                &section.integration_offline_threshold,
            )?;
            t.partial_enforcement_ratio = section
                .partial_enforcement_ratio
                .unwrap_or(t.partial_enforcement_ratio);
            t.community_integration_offline = d(
                &["community_integration_offline_threshold"],
                &section.community_integration_offline_threshold,
            )?;
            t.log_processor_offline = d(
                &["log_processor_offline_threshold"],
                &section.log_processor_offline_threshold,
            )?
            .unwrap_or(t.log_processor_offline);
        }
        let human = |d: Duration| crate::values::time::human_duration(d.as_secs_f64());
        if t.early_warning.is_zero() || t.bouncer_offline <= t.early_warning {
            // The value that breaks the order: a zero early warning, else the one the file set (the offline
            // threshold first: the early warning is compared with it).
            let (late, offline) = (
                ["early_warning_threshold", "late"],
                ["bouncer_offline_threshold", "offline"],
            );
            let offline_set = offline
                .iter()
                .any(|n| crate::values::yaml::line_of(&self.text, &["thresholds", n]).is_some());
            let names = if t.early_warning.is_zero() || !offline_set {
                late
            } else {
                offline
            };
            return Err(refuse(
                &names,
                format!(
                    "need 0 < late < offline (early_warning_threshold {}, bouncer_offline_threshold {})",
                    human(t.early_warning),
                    human(t.bouncer_offline)
                ),
            ));
        }
        for (name, d) in [
            ("never_pulled_grace", Some(t.never_pulled_grace)),
            ("usage_metrics_freshness", Some(t.usage_metrics_freshness)),
            ("integration_offline_threshold", t.integration_offline),
            (
                "community_integration_offline_threshold",
                t.community_integration_offline,
            ),
            (
                "log_processor_offline_threshold",
                Some(t.log_processor_offline),
            ),
        ] {
            if d.is_some_and(|d| d.is_zero()) {
                return Err(refuse(&[name], "must be above 0".to_owned()));
            }
        }
        if !(t.partial_enforcement_ratio > 0.0 && t.partial_enforcement_ratio <= 1.0) {
            return Err(refuse(
                &["partial_enforcement_ratio"],
                format!("must be in (0, 1], not {}", t.partial_enforcement_ratio),
            ));
        }
        Ok(t)
    }

    /// Checks the values of the `bouncers` section that flags would have checked (as merging it does).
    ///
    /// # Errors
    /// [`ConfigFileError::Invalid`] naming the key for a value its flag would refuse.
    pub fn check_bouncers(&self, path: &Path) -> Result<(), ConfigFileError> {
        let Some(b) = self.sections.get::<BouncersSection>() else {
            return Ok(());
        };
        b.check().map_err(|message| ConfigFileError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// The LAPIs the file lists, checked; `None` when it has no `lapis` key.
    ///
    /// # Errors
    /// Naming the entry's key and its line (`file:line lapis[i].key`): no LAPI listed, an empty or duplicate name,
    /// not exactly one of `db`/`crowdsec_config`/`cscli_command`, a password option without a server `db` or naming
    /// an unset variable, a URL, command or duration the flags would refuse, a timeout of 0.
    pub fn lapi_settings(
        &self,
        path: &Path,
        default_cache_interval: Duration,
        default_decisions_interval: Duration,
        default_timeout: Duration,
    ) -> Result<Option<Vec<LapiSettings>>, crate::settings::SettingsError> {
        let Some(lapis) = &self.lapis else {
            return Ok(None);
        };
        let env = |name: &str| std::env::var(name).ok();
        crate::sources::lapi_db::lapi_settings::from_file(
            path,
            &self.text,
            lapis,
            [
                default_cache_interval,
                default_decisions_interval,
                default_timeout,
            ],
            &env,
        )
        .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::LapiDbLocation;

    fn err(text: &str) -> String {
        parse(Path::new("c.yaml"), text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_are_errors_with_their_line() {
        let e = err("web:\n  telemetry_path: /m\nlapis:\n  - name: a\n    db: /a.db\n    cach_interval: 5s\n");
        assert!(e.contains("cach_interval"), "{e}");
        assert!(e.contains("line 6"), "{e}");
        let e = err("web:\n  listen_addresses: [':1']\nlogs:\n  level: info\n");
        assert!(e.contains("logs") && e.contains("line 3"), "{e}");
        let e = err("log:\n  level: loud\n");
        assert!(e.contains("line 2"), "{e}");
        let e = err("thresholds:\n  late: 1h\n  ofline: 1d\n");
        assert!(e.contains("ofline") && e.contains("line 3"), "{e}");
        let e = err("bouncers:\n  config_dir: [/x]\n");
        assert!(e.contains("config_dir") && e.contains("line 2"), "{e}");
        let e = err("checks:\n  config_dirs: [/x]\n");
        assert!(e.contains("checks") && e.contains("line 1"), "{e}");
    }

    #[test]
    fn a_group_section_is_read_by_its_key_and_the_first_error_in_the_text_is_reported() {
        let file = parse(Path::new("c.yaml"), "bouncers:\n  config_dirs: [/x]\n").unwrap();
        let section = file.sections.get::<BouncersSection>().unwrap();
        assert_eq!(section.config_dirs.as_deref(), Some(&["/x".into()][..]));
        // A group's section before an unknown key, and after it: the first in the text either way.
        let e = err("service_api:\n  ur: x\nlogs: 1\n");
        assert!(
            e.starts_with("config file c.yaml: service_api: unknown field `ur`"),
            "{e}"
        );
        let e = err("logs: 1\nservice_api:\n  ur: x\n");
        assert!(e.contains("unknown field `logs`, expected one of `web`, `log`, `lapis`, `service_api`, `bouncers`, `thresholds` at line 1"), "{e}");
        let e = err("service_api:\n  url: x\nservice_api:\n  url: y\n");
        assert!(e.contains("duplicate field `service_api`"), "{e}");
    }

    #[test]
    fn lapis_are_checked() {
        let ok = parse(
            Path::new("c.yaml"),
            "lapis:\n  - name: a\n    db: /a.db\n    url: http://127.0.0.1:8080/\n  - name: b\n    cscli_command: docker exec cs cscli bouncers list -o json\n    cache_interval: 1m\n    decisions_interval: 5m\n    timeout: 2s\n  - name: c\n    crowdsec_config: /etc/crowdsec/config.yaml\n",
        )
        .unwrap()
        .lapi_settings(
            Path::new("c.yaml"),
            Duration::from_secs(5),
            Duration::from_secs(60),
            Duration::from_secs(7),
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].db, LapiDbLocation::Sqlite("/a.db".into()));
        assert_eq!(ok[0].cache_interval, Duration::from_secs(5));
        assert_eq!(ok[0].read_timeout, Duration::from_secs(7));
        assert_eq!(
            ok[0].url.as_ref().unwrap().as_str(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(ok[1].cache_interval, Duration::from_secs(60));
        assert_eq!(ok[0].decisions_interval, Duration::from_secs(60));
        assert_eq!(ok[1].decisions_interval, Duration::from_secs(300));
        assert_eq!(ok[1].read_timeout, Duration::from_secs(2));
        assert!(matches!(&ok[1].db, LapiDbLocation::Cscli(a) if a[0] == "docker"));
        // Every refusal names the entry's key and its line (`file:line lapis[i].key`), as the other sections do.
        for (text, want) in [
            (
                "lapis:\n  - name: a\n",
                "c.yaml:2 lapis[0]: give exactly one of `db`, `crowdsec_config` and `cscli_command`",
            ),
            (
                "lapis:\n  - name: a\n    db: /a\n    cscli_command: c\n",
                "c.yaml:2 lapis[0]: give exactly one of",
            ),
            (
                "lapis:\n  - name: a\n    db: /a\n  - name: a\n    db: /b\n",
                "c.yaml:4 lapis[1].name: the name \"a\" is used twice",
            ),
            (
                "lapis:\n  - name: ''\n    db: /a\n",
                "c.yaml:2 lapis[0].name: must not be empty",
            ),
            // Field test of issue 24: an empty `db` was "settings are valid".
            (
                "lapis:\n  - name: a\n    db: ''\n",
                "c.yaml:3 lapis[0].db: is empty: give a SQLite file or a database URL",
            ),
            // The newcomer's (R1): an unknown scheme was read as a SQLite file of that name.
            (
                "lapis:\n  - name: a\n    db: sqlite:///tmp/crowdsec.db\n",
                "c.yaml:3 lapis[0].db: unknown database URL scheme \"sqlite://\": give postgres:// (or postgresql://), mysql:// (or mariadb://), or a SQLite file's path; for SQLite give the database file's path",
            ),
            (
                "lapis:\n  - name: a\n    db: pgx://u:hunter2@h/db\n",
                "c.yaml:3 lapis[0].db: unknown database URL scheme \"pgx://\"",
            ),
            (
                "lapis:\n  - name: a\n    db: ftp://x\n",
                "c.yaml:3 lapis[0].db: unknown database URL scheme \"ftp://\"",
            ),
            (
                "lapis:\n  - name: a\n    db: /a\n    url: ftp://x/\n",
                "c.yaml:4 lapis[0].url: ",
            ),
            (
                "lapis:\n  - name: a\n    db: /a\n    url: http://u:hunter2@x/\n",
                "credentials",
            ),
            (
                "lapis:\n  - name: a\n    db: /a\n    timeout: 0s\n",
                "c.yaml:4 lapis[0].timeout: must be more than 0",
            ),
            (
                "lapis:\n  - name: a\n    db: /a\n    db_password_file: /p\n",
                "c.yaml:4 lapis[0].db_password_file: a database password needs a postgres:// or mysql:// database URL",
            ),
            // Given with CrowdSec's config or cscli, a password was silently ignored.
            (
                "lapis:\n  - name: a\n    crowdsec_config: /etc/crowdsec/config.yaml\n    db_password_env: PW\n",
                "c.yaml:4 lapis[0].db_password_env: a database password needs",
            ),
            (
                "lapis:\n  - name: a\n    db: postgres://u@h/d\n    db_password_env: CSBE_TEST_UNSET_VAR\n",
                "c.yaml:4 lapis[0].db_password_env: the variable CSBE_TEST_UNSET_VAR is not set",
            ),
            // The newcomer's: a duration error named the entry (`lapis[1]: invalid duration ... at line 6`), not its key.
            (
                "# exporter\nlapis:\n  - name: a\n    db: /a\n  - name: b\n    db: /b\n    timeout: soon\n",
                "c.yaml:7 lapis[1].timeout: invalid duration \"soon\"",
            ),
            (
                "lapis:\n  - name: a\n    db: /a\n    cache_interval: 5x\n",
                "c.yaml:4 lapis[0].cache_interval: invalid duration \"5x\": units are",
            ),
            (
                "lapis:\n  - {name: a, db: /a, decisions_interval: often}\n",
                "c.yaml:2 lapis[0].decisions_interval: invalid duration \"often\"",
            ),
        ] {
            let e = parse(Path::new("c.yaml"), text)
                .unwrap()
                .lapi_settings(
                    Path::new("c.yaml"),
                    Duration::from_secs(5),
                    Duration::from_secs(60),
                    Duration::from_secs(5),
                )
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(want) || e.contains(want), "{text}: {e}");
            assert!(e.starts_with("c.yaml:"), "{text}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn thresholds_default_and_are_checked() {
        let t = |text: &str| {
            parse(Path::new("c.yaml"), text)
                .unwrap()
                .thresholds(Path::new("c.yaml"))
        };
        assert_eq!(t("").unwrap(), Thresholds::default());
        let got = t("thresholds:\n  late: 10m\n").unwrap();
        assert_eq!(got.early_warning, Duration::from_secs(600));
        assert_eq!(got.bouncer_offline, Duration::from_secs(86_400));
        // The recording rules' names; the integration threshold follows the bouncer one unless set.
        let got = t("thresholds:\n  bouncer_offline_threshold: 12h\n  early_warning_threshold: 30m\n  never_pulled_grace: 2h\n  usage_metrics_freshness: 20m\n").unwrap();
        assert_eq!(
            (
                got.bouncer_offline,
                got.early_warning,
                got.never_pulled_grace,
                got.usage_metrics_freshness
            ),
            (
                Duration::from_secs(43_200),
                Duration::from_secs(1800),
                Duration::from_secs(7200),
                Duration::from_secs(1200)
            )
        );
        assert_eq!(got.integration_offline(), Duration::from_secs(43_200));
        let got = t("thresholds:\n  integration_offline_threshold: 48h\n").unwrap();
        assert_eq!(got.integration_offline(), Duration::from_secs(172_800));
        assert!(t("thresholds:\n  never_pulled_grace: 0s\n").is_err());
        assert!(
            parse(
                Path::new("c.yaml"),
                "thresholds:\n  late: 1h\n  early_warning_threshold: 1h\n"
            )
            .is_err(),
            "a name and its old alias together are ambiguous"
        );
        assert!(
            t("thresholds:\n  offline: 30m\n").is_err(),
            "below the default late"
        );
        assert!(t("thresholds:\n  late: 1h\n  offline: 1h\n").is_err());
        // The newcomer's: these refusals said `config file c.yaml: thresholds: ...`, no key's line.
        let e = |text: &str| t(text).unwrap_err().to_string();
        assert_eq!(
            e("# diagnose\nthresholds:\n  late: 1h\n  offline: 1h\n"),
            "c.yaml:4 thresholds.offline: need 0 < late < offline (early_warning_threshold 1h 0m, bouncer_offline_threshold 1h 0m)"
        );
        assert_eq!(
            e("thresholds:\n  early_warning_threshold: 2d\n"),
            "c.yaml:2 thresholds.early_warning_threshold: need 0 < late < offline (early_warning_threshold 2d 0h, bouncer_offline_threshold 1d 0h)"
        );
        assert_eq!(
            e("thresholds:\n  bouncer_offline_threshold: 2h\n  late: 0s\n"),
            "c.yaml:3 thresholds.late: need 0 < late < offline (early_warning_threshold 0s, bouncer_offline_threshold 2h 0m)"
        );
        // The newcomer's (M1): a duration that does not parse named the section's first line.
        assert_eq!(
            e("thresholds:\n  late: 10m\n  integration_offline_threshold: xyz\n"),
            "c.yaml:3 thresholds.integration_offline_threshold: invalid duration \"xyz\""
        );
        assert_eq!(
            t("thresholds:\n  late: ~\n").unwrap(),
            Thresholds::default()
        );
        assert_eq!(
            e("thresholds:\n  usage_metrics_freshness: 0s\n"),
            "c.yaml:2 thresholds.usage_metrics_freshness: must be above 0"
        );
        assert_eq!(
            e("thresholds:\n  partial_enforcement_ratio: 1.5\n"),
            "c.yaml:2 thresholds.partial_enforcement_ratio: must be in (0, 1], not 1.5"
        );
    }

    #[test]
    fn empty_file_is_no_setting() {
        assert!(parse(Path::new("c.yaml"), "").unwrap().lapis.is_none());
        // Issue 19 #5: `lapis: []` is a host without LAPI (Blocklist-as-a-Service only), not an error.
        let none = parse(Path::new("c.yaml"), "lapis: []\n").unwrap();
        let lapis = none
            .lapi_settings(
                Path::new("c.yaml"),
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(5),
            )
            .unwrap();
        assert_eq!(lapis.map(|l| l.len()), Some(0));
        assert!(parse(Path::new("c.yaml"), "# nothing\n")
            .unwrap()
            .lapis
            .is_none());
    }
}
