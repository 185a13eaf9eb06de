//! CrowdSec's own configuration (`/etc/crowdsec/config.yaml`), read the way CrowdSec reads it: the file, then
//! `config.yaml.local` merged over it, environment variables expanded first. Only what the exporter needs is
//! extracted: where the Local API keeps its database and where it listens.

use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use crate::secret::Secret;

/// Where CrowdSec keeps its database when `db_config.db_path` is not set.
pub const DEFAULT_DB_PATH: &str = "/var/lib/crowdsec/data/crowdsec.db";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read CrowdSec config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    // serde_yaml_ng's syntax errors give a location, never the offending value.
    #[error("CrowdSec config {path} is not valid YAML: {message}")]
    Yaml { path: PathBuf, message: String },
    #[error("CrowdSec config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// `db_config` of CrowdSec's config.
#[derive(Debug, Clone, PartialEq)]
pub struct DbConfig {
    /// `sqlite`, `mysql`, `postgres`, `postgresql` or `pgx`, lower-cased.
    pub db_type: String,
    /// SQLite file (or the MySQL/PostgreSQL unix socket path).
    pub db_path: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub db_name: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub sslmode: Option<String>,
    pub use_wal: Option<bool>,
    /// CrowdSec 1.7: TLS to the database server.
    pub ssl_ca_cert: Option<PathBuf>,
    pub ssl_client_cert: Option<PathBuf>,
    pub ssl_client_key: Option<PathBuf>,
}

impl DbConfig {
    /// The SQLite file this config points at, or `None` when the database is not SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        (self.db_type == "sqlite").then(|| {
            self.db_path
                .as_deref()
                .unwrap_or(Path::new(DEFAULT_DB_PATH))
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CrowdsecConfig {
    pub db: DbConfig,
    /// `api.server.listen_uri`, e.g. `127.0.0.1:8080`.
    pub lapi_listen_uri: Option<String>,
}

/// Loads `path` and `<path>.local` (when present) as CrowdSec does.
pub fn load(path: &Path) -> Result<CrowdsecConfig, ConfigError> {
    let mut merged = read_yaml(path)?.ok_or_else(|| ConfigError::Read {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
    })?;
    let mut local = path.as_os_str().to_owned();
    local.push(".local");
    if let Some(overlay) = read_yaml(Path::new(&local))? {
        merge(&mut merged, overlay);
    }
    extract(path, &merged)
}

/// Reads and parses one file; `Ok(None)` when it does not exist.
fn read_yaml(path: &Path) -> Result<Option<Value>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            })
        }
    };
    let expanded = expand_env(&text, |name| std::env::var(name).ok());
    if expanded.trim().is_empty() {
        return Ok(Some(Value::Mapping(Mapping::new())));
    }
    serde_yaml_ng::from_str(&expanded)
        .map(Some)
        .map_err(|e| ConfigError::Yaml {
            path: path.to_owned(),
            message: yaml_error_location(&e),
        })
}

fn yaml_error_location(e: &serde_yaml_ng::Error) -> String {
    match e.location() {
        Some(loc) => format!(
            "syntax error at line {}, column {}",
            loc.line(),
            loc.column()
        ),
        None => "syntax error".to_owned(),
    }
}

/// Expands `${VAR}` and `$VAR` with the variables `lookup` knows; unknown ones are left as written, as CrowdSec
/// (1.5+) does, so a literal `$` in a password survives.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        match valid.then(|| lookup(name)).flatten() {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[pos..pos + 1 + consumed]),
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

/// Merges `overlay` into `base`: maps key by key, recursively; anything else is replaced.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        // An empty overlay document leaves the base alone.
        (_, Value::Null) => {}
        (b, o) => *b = o,
    }
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
            password: text("password")?.map(Secret::new),
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
