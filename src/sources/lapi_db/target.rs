//! Where a LAPI's PostgreSQL or MySQL/MariaDB database is: from a `postgres://` / `mysql://` URL or from
//! CrowdSec's `db_config`. The password is a [`Secret`]; [`ServerDb::redacted`] is what messages show.

use std::path::PathBuf;

use crate::values::secret::Secret;

/// A database server engine CrowdSec supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl Engine {
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Engine::Postgres => 5432,
            Engine::Mysql => 3306,
        }
    }

    fn scheme(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }
}

/// A database server and the database on it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerDb {
    /// Which engine.
    pub engine: Engine,
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Unix socket (MySQL: the socket file; PostgreSQL: the folder holding it), used instead of host/port.
    pub socket: Option<PathBuf>,
    /// Login.
    pub user: String,
    /// Password, when any (redacted in `Debug` and in [`ServerDb::redacted`]).
    pub password: Option<Secret>,
    /// Database name.
    pub db_name: String,
    /// PostgreSQL `sslmode` / MySQL `tls`: `disable`, `prefer`, `require`, `verify-ca`, `verify-full`...
    pub sslmode: Option<String>,
    /// CA, client certificate and key for TLS.
    pub tls_files: super::db_tls::TlsFiles,
}

impl ServerDb {
    /// `scheme://user@host:port/db` (never the password), for logs and errors.
    pub(crate) fn redacted(&self) -> String {
        let at = match &self.socket {
            Some(s) => format!("unix:{}", s.display()),
            // An IPv6 address in brackets, as in the URL (`[::1]:3306`, not `::1:3306`).
            None if self.host.contains(':') => format!("[{}]:{}", self.host, self.port),
            None => format!("{}:{}", self.host, self.port),
        };
        format!(
            "{}://{}@{}/{}",
            self.engine.scheme(),
            self.user,
            at,
            self.db_name
        )
    }

    /// Parses `postgres://` (or `postgresql://`) and `mysql://` URLs: `scheme://user[:password]@host[:port]/db
    /// [?sslmode=...]`. Errors never repeat the URL (it may hold the password).
    ///
    /// # Errors
    /// Not a URL, an unknown scheme, no host, user or database, or a query parameter it cannot use; in words,
    /// without the URL.
    pub fn from_url(text: &str) -> Result<ServerDb, String> {
        let url =
            reqwest::Url::parse(text.trim()).map_err(|e| format!("not a database URL ({e})"))?;
        let engine = match url.scheme() {
            "postgres" | "postgresql" => Engine::Postgres,
            "mysql" | "mariadb" => Engine::Mysql,
            other => return Err(format!("unknown database URL scheme {other:?}")),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the database URL has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let db_name = percent_decode(url.path().trim_start_matches('/'))?;
        if db_name.is_empty() {
            return Err("the database URL names no database (…/crowdsec)".to_owned());
        }
        let user = percent_decode(url.username())?;
        if user.is_empty() {
            return Err("the database URL names no user".to_owned());
        }
        let password = match url.password() {
            Some(p) => {
                Some(Secret::new(percent_decode(p)?)).inspect(crate::values::secret::remember)
            }
            None => None,
        };
        let mut sslmode = None;
        let mut socket = None;
        let mut tls_files = super::db_tls::TlsFiles::default();
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "sslmode" | "tls" | "ssl-mode" => sslmode = Some(v.to_ascii_lowercase()),
                "host" | "socket" if v.starts_with('/') => socket = Some(PathBuf::from(v.as_ref())),
                "sslrootcert" | "ssl-ca" | "ssl_ca_cert" => {
                    tls_files.ca = Some(PathBuf::from(v.as_ref()))
                }
                "sslcert" | "ssl-cert" | "ssl_client_cert" => {
                    tls_files.client_cert = Some(PathBuf::from(v.as_ref()))
                }
                "sslkey" | "ssl-key" | "ssl_client_key" => {
                    tls_files.client_key = Some(PathBuf::from(v.as_ref()))
                }
                other => return Err(format!("unknown database URL parameter {other:?}")),
            }
        }
        // What the connection would refuse on every read is refused now, at start-up and by --config.check.
        // (The TLS files are read at each connection, so one provisioned later is picked up: not checked here.)
        super::db_tls::TlsMode::parse(sslmode.as_deref())?;
        Ok(ServerDb {
            engine,
            port: url.port().unwrap_or(engine.default_port()),
            host,
            socket,
            user,
            password,
            db_name,
            sslmode,
            tls_files,
        })
    }

    /// From CrowdSec's `db_config`, as CrowdSec connects: `db_path`, when set, is the unix socket.
    pub(crate) fn from_crowdsec(
        db: &crate::crowdsec::config_yaml::DbConfig,
    ) -> Result<ServerDb, String> {
        let engine = match db.db_type.as_str() {
            "postgres" | "postgresql" | "pgx" => Engine::Postgres,
            "mysql" => Engine::Mysql,
            other => return Err(format!("db_config.type {other:?} is not a database server")),
        };
        super::db_tls::TlsMode::parse(db.sslmode.as_deref())
            .map_err(|e| format!("db_config.sslmode: {e}"))?;
        Ok(ServerDb {
            engine,
            host: db
                .host
                .clone()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "127.0.0.1".to_owned()),
            port: db.port.unwrap_or(engine.default_port()),
            socket: db.db_path.clone(),
            user: db.user.clone().unwrap_or_default(),
            password: db.password.clone(),
            db_name: db.db_name.clone().unwrap_or_else(|| "crowdsec".to_owned()),
            sslmode: db.sslmode.clone().map(|s| s.to_ascii_lowercase()),
            tls_files: super::db_tls::TlsFiles {
                ca: db.ssl_ca_cert.clone(),
                client_cert: db.ssl_client_cert.clone(),
                client_key: db.ssl_client_key.clone(),
            },
        })
    }

    /// Adds the password from a file (first line) or an environment variable's value, when one is given; more
    /// than one source of the password is an error. Messages name the file, never the password.
    pub(crate) fn with_password(
        mut self,
        file: Option<&std::path::Path>,
        env_value: Option<String>,
    ) -> Result<ServerDb, String> {
        let env_value = env_value.filter(|v| !v.is_empty());
        let given = [self.password.is_some(), file.is_some(), env_value.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if given > 1 {
            return Err(
                "the database password is given more than once (URL, password file, environment): give it once"
                    .to_owned(),
            );
        }
        if let Some(path) = file {
            let text = crate::values::file::read_text(path, crate::values::file::SECRET_FILE_BYTES)
                .map_err(|e| {
                    format!(
                        "cannot read the database password file {}: {e}",
                        crate::values::secret::shown_path(path),
                    )
                })?;
            self.password = Some(Secret::new(text.trim_end_matches(['\n', '\r'])))
                .inspect(crate::values::secret::remember);
        }
        if let Some(v) = env_value {
            self.password = Some(Secret::new(v)).inspect(crate::values::secret::remember);
        }
        Ok(self)
    }

    /// Whether the URL-like text names a database server rather than a SQLite file.
    pub(crate) fn is_url(text: &str) -> bool {
        // A URL's scheme is case-insensitive (RFC 3986 3.1): a tester's `POSTGRES://` was refused as unknown.
        let text = text.trim_start();
        ["postgres://", "postgresql://", "mysql://", "mariadb://"]
            .iter()
            .any(|p| {
                text.get(..p.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(p))
            })
    }
}

/// A part of the database URL, %-decoded; a `%` not followed by two hex digits is refused (the crate passes it
/// through as it is, a typo then reaching the server as a wrong password).
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let malformed = b.iter().enumerate().any(|(i, &c)| {
        c == b'%'
            && !b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if malformed {
        return Err("bad %-escape in the database URL".to_owned());
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| "the database URL is not UTF-8 once decoded".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn percent_escapes_decode_and_a_malformed_one_is_refused() {
        assert_eq!(percent_decode("p%40ss%2Fw%C3%A9").unwrap(), "p@ss/wé");
        assert_eq!(percent_decode("plain").unwrap(), "plain");
        for bad in ["%", "a%4", "%zz", "%4%41", "x%"] {
            assert_eq!(
                percent_decode(bad).unwrap_err(),
                "bad %-escape in the database URL",
                "{bad}"
            );
        }
        assert_eq!(
            percent_decode("%FF").unwrap_err(),
            "the database URL is not UTF-8 once decoded"
        );
    }

    #[test]
    fn urls_parse_and_never_show_the_password() {
        let t = ServerDb::from_url(
            "postgres://crowdsec:p%40ss%2Fw0rd@db.example:6432/cs?sslmode=disable",
        )
        .unwrap();
        assert_eq!(t.engine, Engine::Postgres);
        assert_eq!((t.host.as_str(), t.port), ("db.example", 6432));
        assert_eq!(t.user, "crowdsec");
        assert_eq!(t.password.as_ref().unwrap().expose(), "p@ss/w0rd");
        assert_eq!(t.db_name, "cs");
        assert_eq!(t.sslmode.as_deref(), Some("disable"));
        assert_eq!(t.redacted(), "postgres://crowdsec@db.example:6432/cs");
        assert!(!format!("{t:?}").contains("p@ss"));
        let m = ServerDb::from_url("mysql://u@[::1]/crowdsec").unwrap();
        assert_eq!(
            (m.engine, m.host.as_str(), m.port),
            (Engine::Mysql, "::1", 3306)
        );
        assert!(m.password.is_none());
        assert_eq!(m.redacted(), "mysql://u@[::1]:3306/crowdsec");
        // A scheme is case-insensitive (RFC 3986 3.1); a tester's `POSTGRES://` was refused as unknown.
        assert!(ServerDb::is_url("POSTGRES://u@h/d") && ServerDb::is_url(" MariaDB://u@h/d"));
        assert!(!ServerDb::is_url("pgx://u@h/d") && !ServerDb::is_url("post"));
        assert_eq!(
            ServerDb::from_url("POSTGRES://u@h/d").unwrap().engine,
            Engine::Postgres
        );
        let tls = ServerDb::from_url(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/c.key",
        )
        .unwrap();
        assert_eq!(tls.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(tls.tls_files.ca.as_deref(), Some(Path::new("/ca.pem")));
        assert_eq!(
            tls.tls_files.client_cert.as_deref(),
            Some(Path::new("/c.pem"))
        );
        assert_eq!(
            tls.tls_files.client_key.as_deref(),
            Some(Path::new("/c.key"))
        );
        for bad in [
            "postgres://u:hunter2@h/",
            "postgres://:hunter2@h/db",
            "ftp://u:hunter2@h/db",
            "postgres://u:hunter2@h/db?password=x",
            "postgres://u:hunter2%zz@h/db",
        ] {
            let e = ServerDb::from_url(bad).unwrap_err();
            assert!(!e.contains("hunter2"), "{bad}: {e}");
        }
    }
}
