//! CrowdSec's own configuration (`/etc/crowdsec/config.yaml`), read the way CrowdSec reads it: the file, then
//! `config.yaml.local` merged over it, environment variables expanded first. Only what the exporter needs is
//! extracted: where the Local API keeps its database and where it listens.

use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use crate::values::secret::Secret;

/// Where CrowdSec keeps its database when `db_config.db_path` is not set.
pub(crate) const DEFAULT_DB_PATH: &str = "/var/lib/crowdsec/data/crowdsec.db";

/// Why CrowdSec's config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It cannot be read.
    #[error("cannot read CrowdSec config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    // serde_yaml_ng's syntax errors give a location, never the offending value.
    /// Not valid YAML.
    #[error("CrowdSec config {path} is not valid YAML: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The syntax error's location.
        message: String,
    },
    /// A value the exporter cannot use.
    #[error("CrowdSec config {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// `db_config` of CrowdSec's config.
#[derive(Debug, Clone, PartialEq)]
pub struct DbConfig {
    /// `sqlite`, `mysql`, `postgres`, `postgresql` or `pgx`, lower-cased.
    pub db_type: String,
    /// SQLite file (or the MySQL/PostgreSQL unix socket path).
    pub db_path: Option<PathBuf>,
    /// `db_config.user`.
    pub user: Option<String>,
    /// `db_config.password` (redacted in `Debug`).
    pub password: Option<Secret>,
    /// `db_config.db_name`.
    pub db_name: Option<String>,
    /// `db_config.host`.
    pub host: Option<String>,
    /// `db_config.port`.
    pub port: Option<u16>,
    /// `db_config.sslmode`.
    pub sslmode: Option<String>,
    /// `db_config.use_wal` (SQLite).
    pub use_wal: Option<bool>,
    /// CrowdSec 1.7: TLS to the database server.
    pub ssl_ca_cert: Option<PathBuf>,
    /// `db_config.ssl_client_cert`.
    pub ssl_client_cert: Option<PathBuf>,
    /// `db_config.ssl_client_key`.
    pub ssl_client_key: Option<PathBuf>,
}

impl DbConfig {
    /// The SQLite file this config points at, or `None` when the database is not SQLite.
    pub(crate) fn sqlite_path(&self) -> Option<&Path> {
        (self.db_type == "sqlite").then(|| {
            self.db_path
                .as_deref()
                .unwrap_or(Path::new(DEFAULT_DB_PATH))
        })
    }
}

/// What the exporter reads of CrowdSec's `config.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct CrowdsecConfig {
    /// `db_config`: where the LAPI's database is.
    pub db: DbConfig,
    /// `api.server.listen_uri`, e.g. `127.0.0.1:8080`.
    pub lapi_listen_uri: Option<String>,
    /// `config_paths.config_dir`, e.g. `/usr/local/etc/crowdsec/` on FreeBSD, OPNsense and pfSense.
    pub config_dir: Option<PathBuf>,
    /// `db_config.flush.bouncers_autodelete`: rows CrowdSec deletes by itself.
    pub bouncers_autodelete: Vec<Autodelete>,
}

/// Bouncer configurations kept outside CrowdSec's folders at a package's standard place, found under `root` (`/`
/// on a host) when the operator gave no file: Caddy's Debian/RPM package reads `/etc/caddy/Caddyfile`, where the
/// `crowdsec { … }` global option of caddy-crowdsec-bouncer lives. Only files that exist.
pub fn default_bouncer_files(root: &Path) -> Vec<PathBuf> {
    ["etc/caddy/Caddyfile"]
        .iter()
        .map(|p| root.join(p))
        .filter(|p| p.is_file())
        .collect()
}

/// Where the bouncers' configuration files are, when the operator did not say: `bouncers/` under CrowdSec's
/// `config_paths.config_dir` (read from `crowdsec_config`, unreadable: skipped), under the folder of
/// `crowdsec_config` itself, then the packages' places: `/etc/crowdsec/bouncers` (Linux) and
/// `/usr/local/etc/crowdsec/bouncers` (FreeBSD ports, OPNsense, pfSense). In that order, without duplicates.
pub fn default_bouncer_dirs(crowdsec_config: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = load(crowdsec_config).ok().and_then(|c| c.config_dir) {
        dirs.push(dir.join("bouncers"));
    }
    if let Some(parent) = crowdsec_config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        dirs.push(parent.join("bouncers"));
    }
    dirs.push(PathBuf::from("/etc/crowdsec/bouncers"));
    dirs.push(PathBuf::from("/usr/local/etc/crowdsec/bouncers"));
    let mut out: Vec<PathBuf> = Vec::new();
    for d in dirs {
        // `/usr/local/etc/crowdsec/` and `/usr/local/etc/crowdsec` name one folder.
        let d: PathBuf = d.components().collect();
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// One `db_config.flush.bouncers_autodelete` entry: every minute CrowdSec deletes the rows of that `auth_type`
/// whose `last_pull` is at least `after` old; never-pulled rows (NULL) are kept (crowdsecurity/crowdsec
/// `pkg/database/flush.go`, `flushBouncers`, v1.7.8: `LastPullLTE(now - duration)`, per `AuthTypeEQ`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Autodelete {
    /// `api-key` (key `api_key`) or `tls` (key `cert`), as the rows' `auth_type`.
    pub auth_type: &'static str,
    /// The duration.
    pub after: std::time::Duration,
}

/// A duration as CrowdSec parses `bouncers_autodelete` (`ParseDuration` of `pkg/database/utils.go`, v1.6, and
/// go-cs-lib `cstime.ParseDuration` since, crowdsecurity/go-cs-lib `cstime/cstime.go`): an optional sign, an
/// optional `<integer>d` (days) first, then Go's `time.ParseDuration` (decimal numbers with units `ns`, `us`/`µs`,
/// `ms`, `s`, `m`, `h`, e.g. `2h`, `1h30m`, `90m`). A negative duration is [`Duration::ZERO`]: CrowdSec's cutoff
/// `now - duration` is then in the future and every row that pulled is deleted each minute, as with `0`.
/// `None` when it does not parse (CrowdSec then refuses to start).
///
/// [`Duration::ZERO`]: std::time::Duration::ZERO
pub(crate) fn parse_crowdsec_duration(text: &str) -> Option<std::time::Duration> {
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (days, rest) = match t.split_once('d') {
        Some((days, rest)) => (Some(days.parse::<u64>().ok()?), rest),
        None => (None, t),
    };
    let after = match (days, rest) {
        (None, "") => return None,
        (_, "") | (_, "0") => std::time::Duration::ZERO,
        (_, rest) => go_duration(rest)?,
    };
    let after = after.checked_add(std::time::Duration::from_secs(
        days.unwrap_or(0).checked_mul(86_400)?,
    ))?;
    Some(if negative {
        std::time::Duration::ZERO
    } else {
        after
    })
}

/// Go's `time.ParseDuration` without sign (the caller took it off).
fn go_duration(text: &str) -> Option<std::time::Duration> {
    let mut rest = text;
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    std::time::Duration::try_from_secs_f64(total).ok()
}

/// Loads `path` and `<path>.local` (when present) as CrowdSec does.
///
/// # Errors
/// [`ConfigError::Read`] when the file cannot be read, [`ConfigError::Yaml`] when it (or its `.local`) is not
/// YAML, [`ConfigError::Invalid`] for a value the exporter cannot use.
pub fn load(path: &Path) -> Result<CrowdsecConfig, ConfigError> {
    let mut merged = read_yaml(path)?.ok_or_else(|| ConfigError::Read {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
    })?;
    let mut local = path.as_os_str().to_owned();
    local.push(".local");
    if let Some(overlay) = read_yaml(Path::new(&local))? {
        merge(&mut merged, overlay).map_err(|message| ConfigError::Invalid {
            path: PathBuf::from(&local),
            message,
        })?;
    }
    extract(path, &merged)
}

/// Reads and parses one file; `Ok(None)` when it does not exist.
fn read_yaml(path: &Path) -> Result<Option<Value>, ConfigError> {
    let text = match crate::values::yaml::read_capped(path) {
        Ok(t) => t,
        Err(crate::values::yaml::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(crate::values::yaml::ReadError::Io(source)) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            })
        }
        Err(e) => {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: e.to_string(),
            })
        }
    };
    let expanded = expand_env(&text, process_env);
    if expanded.trim().is_empty() {
        return Ok(Some(Value::Mapping(Mapping::new())));
    }
    if crate::values::yaml::too_deep(&expanded) {
        return Err(ConfigError::Yaml {
            path: path.to_owned(),
            message: format!(
                "collections nested deeper than {} levels",
                crate::values::yaml::MAX_FLOW_DEPTH
            ),
        });
    }
    serde_yaml_ng::from_str(&expanded)
        .map(Some)
        .map_err(|e| ConfigError::Yaml {
            path: path.to_owned(),
            message: yaml_error_location(&e),
        })
}

fn yaml_error_location(e: &serde_yaml_ng::Error) -> String {
    if let Some(refused) = crate::values::yaml::limit_refused(e) {
        return refused.to_owned();
    }
    match e.location() {
        Some(loc) => format!(
            "syntax error at line {}, column {}",
            loc.line(),
            loc.column()
        ),
        None => "syntax error".to_owned(),
    }
}

/// Expands `${VAR}` and `$VAR` with the variables `lookup` knows; unknown ones are left as written, so a literal
/// `$` in a password survives. Same result as [`strict_expand`] (CrowdSec's own rule).
pub(crate) fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    strict_expand(text, lookup, |_| {})
}

/// Output past this many bytes, or after this many substitutions, is not expanded further: a variable whose
/// value names itself (`V=a$V`) makes the Go original grow forever; here it stops.
pub(crate) const MAX_EXPANDED_BYTES: usize = 1024 * 1024;
pub(crate) const MAX_SUBSTITUTIONS: usize = 4096;

/// A port of go-cs-lib `csstring.StrictExpand` (crowdsecurity/go-cs-lib csstring/expand.go, commit 257ca800),
/// which CrowdSec and the Go bouncers apply to their configuration text:
/// - `${NAME}` up to the first `}` (NAME may be anything, even empty); without a closing `}` nothing changes;
/// - `$NAME` with NAME made of `[A-Za-z0-9_]` (a leading digit is allowed);
/// - a variable `lookup` does not know is left as written (and reported to `undefined`); one defined as empty
///   becomes empty;
/// - scanning goes on inside a substituted value after its first byte, as the Go loop does.
///
/// Differences, both where the Go code fails: a `$` at the very end is kept (Go indexes past the end and
/// panics), and expansion stops at [`MAX_EXPANDED_BYTES`] or [`MAX_SUBSTITUTIONS`].
pub(crate) fn strict_expand(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
    mut undefined: impl FnMut(&str),
) -> String {
    let mut s: Vec<u8> = text.as_bytes().to_vec();
    let mut i = 0;
    let mut substitutions = 0;
    while i < s.len() && s.len() <= MAX_EXPANDED_BYTES && substitutions < MAX_SUBSTITUTIONS {
        if s[i] == b'$' && i + 1 < s.len() {
            // `$`, `{` and `}` are ASCII, so every cut below falls on a UTF-8 boundary.
            let (name_range, replace_end) = if s[i + 1] == b'{' {
                match s[i + 2..].iter().position(|&c| c == b'}') {
                    Some(p) => ((i + 2)..(i + 2 + p), i + 2 + p + 1),
                    None => (0..0, 0),
                }
            } else {
                let mut j = i + 1;
                while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'_') {
                    j += 1;
                }
                if j > i + 1 {
                    ((i + 1)..j, j)
                } else {
                    (0..0, 0)
                }
            };
            if replace_end > 0 {
                let name = String::from_utf8_lossy(&s[name_range]).into_owned();
                match lookup(&name) {
                    Some(value) => {
                        s.splice(i..replace_end, value.into_bytes());
                        substitutions += 1;
                    }
                    None => undefined(&name),
                }
            }
        }
        i += 1;
    }
    String::from_utf8(s).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// An environment lookup safe for any name a file may hold: names the OS cannot have (empty, `=`, NUL) are
/// undefined, as Go's `os.LookupEnv` says, instead of reaching `std::env::var`, which may panic on them.
pub(crate) fn process_env(name: &str) -> Option<String> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return None;
    }
    std::env::var(name).ok()
}

/// Merges an overlay document (`<file>.local`) over `base`, the way go-cs-lib `csyaml.Merge` does
/// (crowdsecurity/go-cs-lib csyaml/merge.go, commit 257ca800; crowdsec 1.4's `pkg/yamlpatch` is the same rule):
/// an overlay without content (empty, comments only) changes nothing; otherwise maps are merged key by key,
/// recursively, sequences and scalars are replaced, and an explicit null (`key:` or `key: ~`) replaces too, so
/// `api_key:` in the overlay clears the key. A mapping merged into a scalar or sequence (or the reverse) is an
/// error, as in the strict mode both use; the message names the key, never a value.
pub(crate) fn merge(base: &mut Value, overlay: Value) -> Result<(), String> {
    if overlay.is_null() {
        return Ok(());
    }
    merge_value(base, overlay, "")
}

fn merge_value(into: &mut Value, from: Value, at: &str) -> Result<(), String> {
    let kind = |v: &Value| match v {
        Value::Mapping(_) => "mapping",
        Value::Sequence(_) => "sequence",
        _ => "scalar",
    };
    match (into, from) {
        (into @ Value::Null, from) => *into = from,
        (into, Value::Null) => *into = Value::Null,
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                let name = match &k {
                    Value::String(s) => s.clone(),
                    other => serde_yaml_ng::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                };
                let path = if at.is_empty() {
                    name
                } else {
                    format!("{at}.{name}")
                };
                match b.get_mut(&k) {
                    Some(existing) => merge_value(existing, v, &path)?,
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (into, from) if kind(into) == kind(&from) && !matches!(from, Value::Mapping(_)) => {
            *into = from
        }
        (into, from) => {
            let at = if at.is_empty() { "the top level" } else { at };
            return Err(format!(
                "can't merge a {} into a {} at {at}",
                kind(&from),
                kind(into)
            ));
        }
    }
    Ok(())
}

fn extract(path: &Path, root: &Value) -> Result<CrowdsecConfig, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
    let db = root.get("db_config");
    let text = |key: &str| -> Result<Option<String>, ConfigError> {
        match db.and_then(|d| d.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(invalid(format!("db_config.{key} must be a scalar"))),
        }
    };
    let db_type = text("type")?
        .unwrap_or_else(|| "sqlite".to_owned())
        .to_ascii_lowercase();
    if !matches!(
        db_type.as_str(),
        "sqlite" | "mysql" | "postgres" | "postgresql" | "pgx"
    ) {
        return Err(invalid(format!(
            "db_config.type {db_type:?} is not one CrowdSec knows"
        )));
    }
    let port = match text("port")? {
        None => None,
        Some(p) => Some(
            p.parse()
                .map_err(|_| invalid("db_config.port is not a port number".to_owned()))?,
        ),
    };
    let use_wal = match text("use_wal")? {
        None => None,
        Some(v) => Some(
            v.parse()
                .map_err(|_| invalid("db_config.use_wal is not a boolean".to_owned()))?,
        ),
    };
    let lapi_listen_uri = match root
        .get("api")
        .and_then(|a| a.get("server"))
        .and_then(|s| s.get("listen_uri"))
    {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    Ok(CrowdsecConfig {
        db: DbConfig {
            db_type,
            db_path: text("db_path")?
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            user: text("user")?,
            password: text("password")?
                .map(Secret::new)
                .inspect(crate::values::secret::remember),
            db_name: text("db_name")?,
            host: text("host")?,
            port,
            sslmode: text("sslmode")?,
            use_wal,
            ssl_ca_cert: text("ssl_ca_cert")?
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            ssl_client_cert: text("ssl_client_cert")?
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            ssl_client_key: text("ssl_client_key")?
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
        },
        lapi_listen_uri,
        config_dir: match root.get("config_paths").and_then(|c| c.get("config_dir")) {
            Some(Value::String(s)) if !s.is_empty() => Some(PathBuf::from(s)),
            _ => None,
        },
        bouncers_autodelete: [("api_key", "api-key"), ("cert", "tls")]
            .into_iter()
            .filter_map(|(key, auth_type)| {
                let v = root
                    .get("db_config")?
                    .get("flush")?
                    .get("bouncers_autodelete")?
                    .get(key)?;
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                parse_crowdsec_duration(&text).map(|after| Autodelete { auth_type, after })
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caddys_standard_caddyfile_is_found_when_it_exists() {
        let root = tempfile::tempdir().unwrap();
        assert!(default_bouncer_files(root.path()).is_empty());
        std::fs::create_dir_all(root.path().join("etc/caddy")).unwrap();
        std::fs::write(root.path().join("etc/caddy/Caddyfile"), "{\n}\n").unwrap();
        assert_eq!(
            default_bouncer_files(root.path()),
            [root.path().join("etc/caddy/Caddyfile")]
        );
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "DB_PASS" => Some("s3cr$t".into()),
            "DATA" => Some("/srv/cs".into()),
            _ => None,
        }
    }

    #[test]
    fn expands_defined_variables_only() {
        assert_eq!(expand_env("p: ${DB_PASS}", env), "p: s3cr$t");
        assert_eq!(
            expand_env("d: $DATA/crowdsec.db", env),
            "d: /srv/cs/crowdsec.db"
        );
        assert_eq!(
            expand_env("x: ${NOPE} $NOPE $ $1 ${", env),
            "x: ${NOPE} $NOPE $ $1 ${"
        );
        assert_eq!(expand_env("ünï: $DATA", env), "ünï: /srv/cs");
    }

    #[test]
    fn local_file_overrides_and_merges() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("config.yaml");
        std::fs::write(
            &main,
            "api:\n  server:\n    listen_uri: 127.0.0.1:8080\ndb_config:\n  type: sqlite\n  db_path: /a.db\n  use_wal: false\n",
        )
        .unwrap();
        let cfg = load(&main).unwrap();
        assert_eq!(cfg.db.sqlite_path(), Some(Path::new("/a.db")));
        assert_eq!(cfg.lapi_listen_uri.as_deref(), Some("127.0.0.1:8080"));
        std::fs::write(
            dir.path().join("config.yaml.local"),
            "db_config:\n  db_path: /b.db\n  use_wal: true\n",
        )
        .unwrap();
        let cfg = load(&main).unwrap();
        assert_eq!(cfg.db.sqlite_path(), Some(Path::new("/b.db")));
        assert_eq!(cfg.db.use_wal, Some(true));
        assert_eq!(
            cfg.lapi_listen_uri.as_deref(),
            Some("127.0.0.1:8080"),
            "untouched keys survive the merge"
        );
    }

    /// Issue 19 #1: `bouncers_autodelete: {api_key: 2h}` in the `.local`, with env expansion; Go's and CrowdSec's
    /// duration forms.
    #[test]
    fn bouncers_autodelete_is_read_with_local_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("config.yaml");
        std::fs::write(
            &main,
            "db_config:\n  type: sqlite\n  flush:\n    max_items: 5000\n    bouncers_autodelete:\n      cert: 7d\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config.yaml.local"),
            "db_config:\n  flush:\n    bouncers_autodelete:\n      api_key: ${CSBE_TEST_AUTODELETE_19}\n",
        )
        .unwrap();
        std::env::set_var("CSBE_TEST_AUTODELETE_19", "2h"); // a name no other test reads
        let cfg = load(&main).unwrap();
        assert_eq!(
            cfg.bouncers_autodelete,
            [
                Autodelete {
                    auth_type: "api-key",
                    after: std::time::Duration::from_secs(7200)
                },
                Autodelete {
                    auth_type: "tls",
                    after: std::time::Duration::from_secs(7 * 86_400)
                },
            ]
        );
        for (text, secs) in [
            ("90m", Some(5400.0)),
            ("1h30m", Some(5400.0)),
            ("1.5h", Some(5400.0)),
            ("2d", Some(172_800.0)),
            ("0", Some(0.0)),
            ("2 h", None),
            ("h", None),
            ("1.5d", None),
            // A negative duration puts CrowdSec's cutoff (`now - duration`) in the future: every row that pulled is
            // deleted each minute, as with `0` (Go's `time.ParseDuration` and go-cs-lib `cstime.ParseDuration`
            // both accept the sign; crowdsecurity/go-cs-lib `cstime/cstime.go`).
            ("-1h", Some(0.0)),
            ("-2d", Some(0.0)),
            // go-cs-lib `cstime.ParseDuration`: days first, then Go's units.
            ("0d12h", Some(43_200.0)),
            ("1d2h", Some(93_600.0)),
            ("1h2d", None),
            ("d", None),
            ("-", None),
        ] {
            assert_eq!(
                parse_crowdsec_duration(text).map(|d| d.as_secs_f64()),
                secs,
                "{text}"
            );
        }
    }

    #[test]
    fn defaults_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("config.yaml");
        std::fs::write(&main, "common:\n  daemonize: true\n").unwrap();
        assert_eq!(
            load(&main).unwrap().db.sqlite_path(),
            Some(Path::new(DEFAULT_DB_PATH))
        );
        std::fs::write(
            &main,
            "db_config:\n  type: postgres\n  password: hunter2\n  port: 5432\n",
        )
        .unwrap();
        let cfg = load(&main).unwrap();
        assert_eq!(cfg.db.sqlite_path(), None);
        assert!(!format!("{cfg:?}").contains("hunter2"));
        std::fs::write(&main, "db_config:\n  type: oracle\n").unwrap();
        assert!(matches!(load(&main), Err(ConfigError::Invalid { .. })));
        std::fs::write(&main, "db_config: [\n  password: hunter2\n").unwrap();
        let err = load(&main).unwrap_err().to_string();
        assert!(err.contains("line"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(matches!(
            load(&dir.path().join("missing.yaml")),
            Err(ConfigError::Read { .. })
        ));
    }

    /// go-cs-lib `csstring/expand.go` `StrictExpand` (crowdsecurity/go-cs-lib commit 257ca800), case by case.
    #[test]
    fn strict_expand_is_go_cs_lib_s() {
        let env = |n: &str| match n {
            "A" => Some("x".to_owned()),
            "EMPTY" => Some(String::new()),
            "1" => Some("one".to_owned()),
            "CHAIN" => Some("<$A>".to_owned()),
            "SELF" => Some("a$SELF".to_owned()),
            _ => None,
        };
        for (input, want) in [
            ("${A}", "x"),
            ("$A", "x"),
            ("$A.b", "x.b"),
            ("${EMPTY}|$EMPTY", "|"),
            ("${NOPE}$NOPE", "${NOPE}$NOPE"),
            ("$1", "one"),
            ("${", "${"),
            ("${A", "${A"),
            ("${}", "${}"),
            ("$ $-", "$ $-"),
            ("end$", "end$"),
            // The Go loop goes on scanning inside a substituted value.
            ("$CHAIN", "<x>"),
            ("ünï $A", "ünï x"),
        ] {
            assert_eq!(strict_expand(input, env, |_| {}), want, "{input}");
        }
        let mut undefined = Vec::new();
        strict_expand("${NOPE} $A $OTHER", env, |n| undefined.push(n.to_owned()));
        assert_eq!(undefined, ["NOPE", "OTHER"]);
        // Go grows `a$SELF` forever; here it stops.
        assert!(strict_expand("$SELF", env, |_| {}).len() <= MAX_EXPANDED_BYTES + 16);
    }

    #[test]
    fn overlay_merge_rules() {
        let y = |s: &str| serde_yaml_ng::from_str::<Value>(s).unwrap();
        let mut base = y("a: 1\nm:\n  x: 1\n  y: [1, 2]\n");
        merge(&mut base, y("m:\n  y: [3]\n  z: 2\na:\n")).unwrap();
        assert_eq!(base, y("a: ~\nm:\n  x: 1\n  y: [3]\n  z: 2\n"));
        let mut base = y("a: 1\n");
        merge(&mut base, Value::Null).unwrap();
        assert_eq!(
            base,
            y("a: 1\n"),
            "an overlay with no content changes nothing"
        );
        let err = merge(&mut y("m:\n  k: v\n"), y("m: [1]\n")).unwrap_err();
        assert_eq!(err, "can't merge a sequence into a mapping at m");
    }
}
