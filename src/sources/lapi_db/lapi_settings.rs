//! The LAPI settings group, shared by the sources that read a LAPI (`lapi_db` or `cscli` for its bouncers,
//! `lapi_decisions`, `lapi_machines`, `lapi_health`): the `--lapi.*` flags (with `--crowdsec.config`), the config
//! file's `lapis:` list (which replaces the one LAPI the flags describe, the flags' durations serving as each entry's
//! defaults), and [`LapiSettings`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sources::lapi_db::target::ServerDb;
use crate::sources::lapi_db::LapiDbLocation;
use crate::values::settings_group::{
    AtLeast, Origin, Resolver, SectionKeys, SettingsError, SettingsGroup,
};

/// Why `--lapi.db-password-file` is refused beside a config file's `lapis`.
pub(crate) const PASSWORD_UNUSED_WITH_LAPIS: &str = "unused: the config file's `lapis` replace the LAPI of the --lapi.* flags; give the entry's `db_password_file` (or `db_password_env`) instead";

/// Environment variable holding the password of a `postgres://` or `mysql://` --lapi.db.
pub const LAPI_DB_PASSWORD_ENV: &str = "CROWDSEC_EXPORTER_LAPI_DB_PASSWORD";
/// `--crowdsec.config`'s default.
pub const DEFAULT_CROWDSEC_CONFIG: &str = "/etc/crowdsec/config.yaml";
/// `--lapi.name`'s default.
pub(crate) const DEFAULT_NAME: &str = "local";
/// `--lapi.cache-interval`'s default.
pub(crate) const DEFAULT_CACHE_INTERVAL: &str = "5s";
/// `--lapi.timeout`'s default.
pub(crate) const DEFAULT_TIMEOUT: &str = "5s";
/// Active decisions are counted at most this often (a community blocklist is tens of thousands of rows).
pub(crate) const DEFAULT_DECISIONS_INTERVAL: &str = "60s";
/// Why a password option (`--lapi.db-password-file`, `db_password_file`, `db_password_env`) is refused without a
/// database URL: it would be silently ignored.
pub(crate) const PASSWORD_NEEDS_SERVER_DB: &str =
    "a database password needs a postgres:// or mysql:// database URL (`db`, --lapi.db), not a SQLite file, CrowdSec's config or cscli";

/// The settings group of the LAPIs.
pub struct Lapis;

/// The Local API(s): where the bouncers are read.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "LAPI")]
pub struct LapiArgs {
    /// CrowdSec's config file; the LAPI database is found through it (and its `.local` overlay).
    #[arg(id = "crowdsec.config",
        value_name = "PATH", long = "crowdsec.config", env = "CROWDSEC_EXPORTER_CROWDSEC_CONFIG", default_value = DEFAULT_CROWDSEC_CONFIG, global = true)]
    pub crowdsec_config: PathBuf,

    /// SQLite database of the LAPI, or a `postgres://` / `mysql://` URL, overriding the one CrowdSec's config names.
    #[arg(
        id = "lapi.db",
        value_name = "PATH|URL",
        long = "lapi.db",
        env = "CROWDSEC_EXPORTER_LAPI_DB",
        global = true
    )]
    pub db: Option<PathBuf>,

    /// File holding the password of a `postgres://` or `mysql://` --lapi.db (instead of putting it in the URL);
    /// the password may also come from the environment variable CROWDSEC_EXPORTER_LAPI_DB_PASSWORD.
    #[arg(
        id = "lapi.db-password-file",
        value_name = "PATH",
        long = "lapi.db-password-file",
        env = "CROWDSEC_EXPORTER_LAPI_DB_PASSWORD_FILE",
        global = true
    )]
    pub db_password_file: Option<PathBuf>,

    /// Read the bouncers from this command's output instead of the database, e.g. `docker exec crowdsec cscli
    /// bouncers list -o json` (split into words like a shell would, but run without one; default command:
    /// `cscli bouncers list -o json`). It is killed, with every process it started, after 9/10 of --lapi.timeout.
    #[arg(id = "lapi.cscli-command",
        value_name = "COMMAND", long = "lapi.cscli-command", env = "CROWDSEC_EXPORTER_LAPI_CSCLI_COMMAND", num_args = 0..=1, default_missing_value = crate::sources::cscli::DEFAULT_COMMAND, global = true)]
    pub cscli_command: Option<String>,

    /// Name of this LAPI: the `lapi` label of every series.
    #[arg(id = "lapi.name",
        value_name = "NAME", long = "lapi.name", env = "CROWDSEC_EXPORTER_LAPI_NAME", default_value = DEFAULT_NAME, global = true)]
    pub name: String,

    /// URL of the LAPI, for its /health; default: from api.server.listen_uri of CrowdSec's config.
    #[arg(
        id = "lapi.url",
        value_name = "URL",
        long = "lapi.url",
        env = "CROWDSEC_EXPORTER_LAPI_URL",
        global = true
    )]
    pub url: Option<String>,

    /// How long one database reading serves scrapes (concurrent scrapes share one read).
    #[arg(id = "lapi.cache-interval",
        value_name = "DURATION", long = "lapi.cache-interval", env = "CROWDSEC_EXPORTER_LAPI_CACHE_INTERVAL", default_value = DEFAULT_CACHE_INTERVAL, global = true)]
    pub cache_interval: String,

    /// How long one count of the LAPI's active decisions serves scrapes (crowdsec_lapi_active_decisions).
    #[arg(id = "lapi.decisions-interval",
        value_name = "DURATION", long = "lapi.decisions-interval", env = "CROWDSEC_EXPORTER_LAPI_DECISIONS_INTERVAL", default_value = DEFAULT_DECISIONS_INTERVAL, global = true)]
    pub decisions_interval: String,

    /// Longest a database read may take; SQLite waits up to half of it for a lock.
    #[arg(id = "lapi.timeout",
        value_name = "DURATION", long = "lapi.timeout", env = "CROWDSEC_EXPORTER_LAPI_TIMEOUT", default_value = DEFAULT_TIMEOUT, global = true)]
    pub timeout: String,

    /// The config file's `lapis`, when it has the key: they replace the one LAPI of these flags.
    #[arg(skip)]
    pub file: Option<FileLapis>,
}

/// The config file's `lapis`, kept by the merge for the resolve.
#[derive(Debug, Clone)]
pub struct FileLapis {
    /// The config file (its errors name it).
    path: PathBuf,
    /// Its text (its errors give their line).
    text: String,
    /// Its entries.
    lapis: Vec<LapiSection>,
}

/// One Local API. Exactly one of `db`, `crowdsec_config` and `cscli_command` says where its bouncers are.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LapiSection {
    /// The `lapi` label.
    pub name: String,
    /// Where the LAPI serves, e.g. `http://127.0.0.1:8080/`.
    pub url: Option<String>,
    /// The LAPI's SQLite database file, or a `postgres://` / `mysql://` URL.
    pub db: Option<String>,
    /// CrowdSec's config file, through which the database is found.
    pub crowdsec_config: Option<PathBuf>,
    /// A `cscli bouncers list -o json` command line (run without a shell).
    pub cscli_command: Option<String>,
    /// The password of a `postgres://` or `mysql://` `db`, when not in the URL: a file, or the name of an
    /// environment variable.
    pub db_password_file: Option<PathBuf>,
    /// (See `db_password_file`.)
    pub db_password_env: Option<String>,
    /// How long a reading serves scrapes; default `--lapi.cache-interval`. Raw text, parsed by the flag's parser
    /// (errors name `lapis[i].cache_interval` and its line).
    pub cache_interval: Option<String>,
    /// How often active decisions are counted; default `--lapi.decisions-interval` (raw text, as `cache_interval`).
    pub decisions_interval: Option<String>,
    /// Bounds one read; default `--lapi.timeout` (raw text, as `cache_interval`).
    pub timeout: Option<String>,
}

/// One LAPI and where its bouncers are read.
#[derive(Debug, Clone)]
pub struct LapiSettings {
    /// The `lapi` label.
    pub name: String,
    /// Where its bouncers are read.
    pub db: LapiDbLocation,
    /// A reading serves scrapes for this long.
    pub cache_interval: Duration,
    /// A count of the active decisions serves scrapes for this long (source `lapi_decisions`).
    pub decisions_interval: Duration,
    /// One database read may take this long.
    pub read_timeout: Duration,
    /// Where the LAPI serves (from the config file), when known.
    pub url: Option<reqwest::Url>,
}

impl SettingsGroup for Lapis {
    type Args = LapiArgs;
    type Section = Vec<LapiSection>;
    type Needs<'a> = ();
    type Settings = Vec<LapiSettings>;
    const SECTION: &'static str = "lapis";

    fn merge(
        args: &mut LapiArgs,
        section: &Vec<LapiSection>,
        keys: &mut SectionKeys<'_>,
    ) -> Result<(), String> {
        args.file = Some(FileLapis {
            path: keys.path().to_owned(),
            text: keys.text().to_owned(),
            lapis: section.clone(),
        });
        Ok(())
    }

    /// The flags' LAPI, checked even when the file's `lapis` replace it.
    fn resolve(
        args: &LapiArgs,
        (): (),
        r: &Resolver<'_>,
    ) -> Result<Option<Vec<LapiSettings>>, SettingsError> {
        if args.name.is_empty() {
            return Err(r.refuse("lapi.name", "must not be empty"));
        }
        let read_timeout = r.duration("lapi.timeout", &args.timeout, AtLeast::NonZero)?;
        let cache_interval =
            r.duration("lapi.cache-interval", &args.cache_interval, AtLeast::Any)?;
        let decisions_interval = r.duration(
            "lapi.decisions-interval",
            &args.decisions_interval,
            AtLeast::Any,
        )?;
        let db = flag_db(args, r)?;
        if let Some(file) = &args.file {
            let env = |name: &str| r.env(name);
            return from_file(
                &file.path,
                &file.text,
                &file.lapis,
                [cache_interval, decisions_interval, read_timeout],
                &env,
            )
            .map(Some);
        }
        Ok(Some(vec![LapiSettings {
            name: args.name.clone(),
            db,
            cache_interval,
            decisions_interval,
            read_timeout,
            url: None,
        }]))
    }
}

/// Where the flags' LAPI is read: `--lapi.db`, `--lapi.cscli-command` (not both), else CrowdSec's config.
fn flag_db(args: &LapiArgs, r: &Resolver<'_>) -> Result<LapiDbLocation, SettingsError> {
    // The file's `lapis` replace the flags' LAPI: its password file would be unused (it was refused with the SQLite
    // reason, the flags' LAPI being CrowdSec's config by default).
    if args.file.is_some() && args.db_password_file.is_some() {
        return Err(r.refuse("lapi.db-password-file", PASSWORD_UNUSED_WITH_LAPIS));
    }
    let db = match (&args.db, &args.cscli_command) {
        (Some(_), Some(_)) => {
            return Err(SettingsError::combined(
                "give either --lapi.db or --lapi.cscli-command, not both",
            ))
        }
        (None, Some(command)) => LapiDbLocation::Cscli(
            crate::sources::cscli::split_command(command)
                .map_err(|e| r.refuse("lapi.cscli-command", e.to_string()))?,
        ),
        (Some(path), None) => match path.to_str() {
            Some(url) if ServerDb::is_url(url) => LapiDbLocation::Server(
                ServerDb::from_url(url)
                    .and_then(|t| {
                        t.with_password(
                            args.db_password_file.as_deref(),
                            r.env(LAPI_DB_PASSWORD_ENV),
                        )
                    })
                    .map_err(|e| r.refuse("lapi.db", e.to_string()))?,
            ),
            Some(db) if unknown_scheme(db).is_some() => {
                return Err(r.refuse("lapi.db", unknown_scheme(db).unwrap_or_default()))
            }
            _ => LapiDbLocation::Sqlite(path.clone()),
        },
        (None, None) => LapiDbLocation::FromCrowdsecConfig(args.crowdsec_config.clone()),
    };
    // A password for a database it cannot go to would be silently ignored (the file's `db_password_file` with a
    // SQLite `db` is refused alike).
    if args.db_password_file.is_some() && !matches!(db, LapiDbLocation::Server(_)) {
        return Err(r.refuse("lapi.db-password-file", PASSWORD_NEEDS_SERVER_DB));
    }
    Ok(db)
}

/// Why a `db` written as a URL (`scheme://`) of a scheme other than PostgreSQL's or MySQL's is refused: it was taken
/// as a SQLite file of that name (`sqlite:///var/lib/...` read the file `sqlite:`). `None` for an accepted URL or a
/// path. Only the scheme is quoted (the rest may hold a password).
pub(crate) fn unknown_scheme(db: &str) -> Option<String> {
    let text = db.trim_start();
    let (scheme, _) = text.split_once("://")?;
    let scheme_like = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_like || ServerDb::is_url(text) {
        return None;
    }
    let lower = scheme.to_ascii_lowercase();
    let hint = if lower.starts_with("sqlite") || lower == "file" {
        "; for SQLite give the database file's path, not a URL (e.g. /var/lib/crowdsec/data/crowdsec.db)"
    } else {
        ""
    };
    Some(format!(
        "unknown database URL scheme \"{scheme}://\": give postgres:// (or postgresql://), mysql:// (or mariadb://), or a SQLite file's path{hint}"
    ))
}

/// With a Service API key given, a host with Blocklist-as-a-Service only: no `lapis` in the file, no LAPI flag given
/// and the default CrowdSec config certainly absent (`try_exists` says no; an unreadable directory keeps the LAPI,
/// reported down with its reason). Then there is no LAPI source rather than one down forever.
pub fn blocklists_only(args: &LapiArgs, lapis: &[LapiSettings]) -> bool {
    args.file.is_none()
        && args.url.is_none()
        && matches!(lapis, [l] if matches!(&l.db, LapiDbLocation::FromCrowdsecConfig(p)
            if p == std::path::Path::new(DEFAULT_CROWDSEC_CONFIG) && matches!(p.try_exists(), Ok(false))))
}

/// Where the value of `lapis[index].key` (`key` `None`: the entry itself) of the config file `path` (text `text`)
/// is, as a refusal names it: `file:line lapis[1].timeout` (the entry's line when the key is not found there).
pub fn entry_origin(path: &Path, text: &str, index: usize, key: Option<&str>) -> Origin {
    use crate::values::yaml::line_of_item;
    Origin::File {
        path: path.to_owned(),
        line: key
            .and_then(|k| line_of_item(text, SECTION_KEY, index, Some(k)))
            .or_else(|| line_of_item(text, SECTION_KEY, index, None)),
        key: match key {
            Some(k) => format!("{SECTION_KEY}[{index}].{k}"),
            None => format!("{SECTION_KEY}[{index}]"),
        },
    }
}

/// The config file's key of the LAPIs.
const SECTION_KEY: &str = <Lapis as SettingsGroup>::SECTION;

/// Why `db_password_env`'s variable `var` gave no password: its name, unless it may be the password itself given
/// where the name belongs (a tester's `db_password_env: S3cr3tV@lue` was printed).
fn unset(var: &str) -> String {
    if crate::values::secret::reads_as_variable_name(var) {
        format!("the variable {var} is not set")
    } else {
        "no variable of the name given is set, and it does not read as a variable name (A-Z, 0-9, _; not \
         shown: is it the password itself?)"
            .to_owned()
    }
}

/// The LAPIs a config file lists (`path`, whose text is `text`), checked, each duration defaulting to the flags'
/// (`[cache_interval, decisions_interval, timeout]`); `env` reads the variables `db_password_env` names.
///
/// # Errors
/// Naming the entry's key and its line (`file:line lapis[i].key`): an empty or duplicate name, not exactly one of
/// `db`/`crowdsec_config`/`cscli_command`, a password option without a server `db` or naming an unset variable, a
/// URL, command or duration the flags would refuse, a timeout of 0.
pub fn from_file(
    path: &Path,
    text: &str,
    lapis: &[LapiSection],
    defaults: [Duration; 3],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<LapiSettings>, SettingsError> {
    // `lapis: []`: no LAPI at all (a host with Blocklist-as-a-Service integrations only).
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(lapis.len());
    for (i, l) in lapis.iter().enumerate() {
        let refuse = |key: Option<&str>, message: String| SettingsError {
            origin: entry_origin(path, text, i, key),
            message,
        };
        if l.name.trim().is_empty() {
            return Err(refuse(Some("name"), "must not be empty".to_owned()));
        }
        if !names.insert(l.name.as_str()) {
            return Err(refuse(
                Some("name"),
                format!("the name {:?} is used twice", l.name),
            ));
        }
        let password_key = match (&l.db_password_file, &l.db_password_env) {
            (Some(_), _) => Some("db_password_file"),
            (None, Some(_)) => Some("db_password_env"),
            (None, None) => None,
        };
        let db = match (&l.db, &l.crowdsec_config, &l.cscli_command) {
            // `db: ""` read as the SQLite path "" started and failed at every read; refused as `--lapi.db ''` is.
            (Some(db), _, _) if db.trim().is_empty() => {
                return Err(refuse(
                    Some("db"),
                    "is empty: give a SQLite file or a database URL".to_owned(),
                ));
            }
            // `sqlite:///x`, `pgx://...` were taken as a SQLite file of that name.
            (Some(db), None, None) if unknown_scheme(db).is_some() => {
                return Err(refuse(Some("db"), unknown_scheme(db).unwrap_or_default()));
            }
            (Some(db), None, None) if ServerDb::is_url(db) => {
                let password_env = match &l.db_password_env {
                    Some(var) => {
                        Some(env(var).ok_or_else(|| refuse(Some("db_password_env"), unset(var)))?)
                    }
                    None => None,
                };
                LapiDbLocation::Server(
                    ServerDb::from_url(db)
                        .and_then(|t| t.with_password(l.db_password_file.as_deref(), password_env))
                        .map_err(|e| refuse(Some("db"), e.to_string()))?,
                )
            }
            (Some(_), None, None) | (None, Some(_), None) | (None, None, Some(_))
                if password_key.is_some() =>
            {
                return Err(refuse(password_key, PASSWORD_NEEDS_SERVER_DB.to_owned()));
            }
            (Some(db), None, None) => LapiDbLocation::Sqlite(db.into()),
            (None, Some(cfg), None) => LapiDbLocation::FromCrowdsecConfig(cfg.clone()),
            (None, None, Some(cmd)) => LapiDbLocation::Cscli(
                crate::sources::cscli::split_command(cmd)
                    .map_err(|e| refuse(Some("cscli_command"), e.to_string()))?,
            ),
            _ => {
                return Err(refuse(
                    None,
                    "give exactly one of `db`, `crowdsec_config` and `cscli_command`".to_owned(),
                ))
            }
        };
        let url = match &l.url {
            None => None,
            Some(u) => Some(crate::values::http_url::parse(u).map_err(|e| refuse(Some("url"), e))?),
        };
        // Each duration parsed and bounded as its flag's is.
        let duration = |key: &str, text: &Option<String>, default: Duration, bound: AtLeast| {
            let Some(text) = text else {
                return Ok(default);
            };
            let d = crate::values::duration::parse(text).map_err(|e| refuse(Some(key), e))?;
            match bound {
                AtLeast::NonZero if d.is_zero() => {
                    Err(refuse(Some(key), "must be more than 0".to_owned()))
                }
                _ => Ok(d),
            }
        };
        let [cache_interval, decisions_interval, timeout] = defaults;
        out.push(LapiSettings {
            name: l.name.clone(),
            db,
            cache_interval: duration(
                "cache_interval",
                &l.cache_interval,
                cache_interval,
                AtLeast::Any,
            )?,
            decisions_interval: duration(
                "decisions_interval",
                &l.decisions_interval,
                decisions_interval,
                AtLeast::Any,
            )?,
            read_timeout: duration("timeout", &l.timeout, timeout, AtLeast::NonZero)?,
            url,
        });
    }
    Ok(out)
}
