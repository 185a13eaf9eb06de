//! Source `lapi_db`: the bouncers of one Local API, read straight from its database (read-only), because LAPI has
//! no HTTP endpoint that lists bouncers. Columns are chosen by name, as CrowdSec only ever appends columns and
//! upgraded databases keep old ones.

pub(crate) mod access;
pub(crate) mod db_tls;
pub mod lapi_settings;
pub(crate) mod mysql;
pub(crate) mod postgres;
pub(crate) mod server;
pub mod sqlite;
pub mod target;
pub(crate) mod usage_cursor;

use std::path::PathBuf;

use crate::sources::{Failure, Reason};
use server::Lookup;

pub(crate) const SOURCE: &str = "lapi_db";

/// Where a LAPI's database is (built by the settings from `--lapi.db`, `--crowdsec.config`, `--lapi.cscli-command`
/// or the config file).
#[derive(Debug, Clone, PartialEq)]
pub enum LapiDbLocation {
    /// A SQLite file given explicitly.
    Sqlite(PathBuf),
    /// Whatever CrowdSec's config (plus `.local`) says, resolved when read.
    FromCrowdsecConfig(PathBuf),
    /// No database access: the output of a `cscli bouncers list -o json` command (argv, run without a shell).
    Cscli(Vec<String>),
    /// A PostgreSQL or MySQL/MariaDB database (its password is a `Secret`).
    Server(target::ServerDb),
}

/// Why a LAPI database read failed; [`Failure::reason`] maps each to its metric reason.
#[derive(Debug, thiserror::Error)]
pub enum LapiDbError {
    /// Reason `missing_file`.
    #[error("database file {0} does not exist")]
    MissingFile(PathBuf),
    /// Reason `permission`.
    #[error("permission denied reading {path}: {hint}")]
    Permission {
        /// The database file.
        path: PathBuf,
        /// Who may read the file and how to let the exporter do so (see [`access::permission_hint`]).
        hint: String,
    },
    /// Reason `not_sqlite`.
    #[error("{0} is not a SQLite database")]
    NotSqlite(PathBuf),
    /// Reason `open`.
    #[error("cannot open {path}: {message}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's message.
        message: String,
    },
    /// Reason `locked`.
    #[error("database is locked: no read possible within the busy timeout")]
    Locked,
    /// Reason `corrupt`.
    #[error("database is corrupt: {0}")]
    Corrupt(String),
    /// Reason `schema`.
    #[error("no `bouncers` table: not a CrowdSec Local API database")]
    NoBouncersTable,
    /// Reason `schema`.
    #[error("no `decisions` table: not a CrowdSec Local API database")]
    NoDecisionsTable,
    /// Reason `schema`: no `machines` table (CrowdSec < 1.0 or not a LAPI database).
    #[error("no `machines` table: not a CrowdSec Local API database")]
    NoMachinesTable,
    /// Reason `schema`: the `machines` table lacks a column the log-processor judgement needs.
    #[error("the `machines` table has no `{0}` column: a CrowdSec older than 1.4, or a schema this exporter does not know")]
    NoMachinesColumn(&'static str),
    /// Reason `permission`: a server database role without SELECT on a table the exporter reads.
    #[error("permission denied: this database role may not read table {table}; run (as its owner): {grant}")]
    NoPrivilege {
        /// `schema.table`.
        table: String,
        /// The statement that gives every privilege the exporter needs.
        grant: String,
    },
    /// Reason `schema`: the table exists, but in a schema the role does not look in.
    #[error("table {table} is in schema {schema}, not in this role's search_path: {fix}")]
    OtherSchema {
        /// The table.
        table: String,
        /// Where it is.
        schema: String,
        /// The statement that makes the role look there.
        fix: String,
    },
    /// Reason `query`.
    #[error("query failed: {0}")]
    Query(String),
    /// Reason `timeout`: the session is held by another read.
    #[error("a previous read is still running")]
    Busy,
    /// Reason `connect`.
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// The server, password redacted.
        target: String,
        /// Why.
        message: String,
    },
    /// Reason `unauthorized`: the server refused the user or its password.
    #[error("{target} refused the credentials: {message}")]
    Auth {
        /// The server, password redacted.
        target: String,
        /// Why (the server's words, never the password).
        message: String,
    },
    /// Reason `timeout`.
    #[error("{0}")]
    Timeout(String),
    /// TLS to a database server: bad settings or files, a failed handshake, a rejected certificate.
    #[error("TLS to {target}: {message}")]
    Tls {
        /// The server, password redacted.
        target: String,
        /// Why.
        message: String,
    },
}

impl Failure for LapiDbError {
    fn reason(&self) -> Reason {
        match self {
            LapiDbError::MissingFile(_) => Reason::MissingFile,
            LapiDbError::Permission { .. } => Reason::Permission,
            LapiDbError::NotSqlite(_) => Reason::NotSqlite,
            LapiDbError::Open { .. } => Reason::Open,
            LapiDbError::Locked => Reason::Locked,
            LapiDbError::Corrupt(_) => Reason::Corrupt,
            LapiDbError::NoBouncersTable
            | LapiDbError::NoDecisionsTable
            | LapiDbError::NoMachinesTable
            | LapiDbError::NoMachinesColumn(_)
            | LapiDbError::OtherSchema { .. } => Reason::Schema,
            LapiDbError::NoPrivilege { .. } => Reason::Permission,
            LapiDbError::Query(_) => Reason::Query,
            LapiDbError::Busy => Reason::Timeout,
            LapiDbError::Connect { .. } => Reason::Connect,
            LapiDbError::Auth { .. } => Reason::Unauthorized,
            LapiDbError::Timeout(_) => Reason::Timeout,
            LapiDbError::Tls { .. } => Reason::Tls,
        }
    }
}

pub(crate) use crate::crowdsec::rows::{
    auth_type, interpret, interpret_row, NameMap, NameSet, RawRow, Schema, BOUNCER_COLUMNS,
};

/// A LAPI's database, found once (explicitly, or through CrowdSec's config) and then read on demand.
#[derive(Debug)]
pub struct LapiDbSource {
    /// The `name` label (the LAPI's).
    name: String,
    location: LapiDbLocation,
    busy_timeout: std::time::Duration,
    resolved: std::sync::Mutex<Option<Resolved>>,
    /// For a database found through CrowdSec's config: the config files' stamp and the database they named when
    /// it was resolved, so that an edited `config.yaml` / `.local` (the documented move to another database, a new
    /// `db_path`) is followed on the next read instead of reading the abandoned database forever.
    followed: std::sync::Mutex<Option<(ConfigStamp, String)>>,
    /// The `bouncers_autodelete` last logged (the first read logs it: start-up).
    autodelete_logged: std::sync::Mutex<Option<Vec<crate::crowdsec::config_yaml::Autodelete>>>,
}

/// Modification time and length of CrowdSec's config and its `.local` (`None` when absent).
type ConfigStamp = [Option<(std::time::SystemTime, u64)>; 2];

fn config_stamp(config: &std::path::Path) -> ConfigStamp {
    let stat = |p: &std::path::Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().unwrap_or(std::time::UNIX_EPOCH), m.len()))
    };
    let mut local = config.as_os_str().to_owned();
    local.push(".local");
    [stat(config), stat(std::path::Path::new(&local))]
}

/// The database CrowdSec's config names, as the log may show it (no password).
fn config_target(cfg: &crate::crowdsec::config_yaml::CrowdsecConfig) -> String {
    match cfg.db.sqlite_path() {
        Some(p) => format!("SQLite {}", p.display()),
        None => match target::ServerDb::from_crowdsec(&cfg.db) {
            Ok(t) => t.redacted(),
            Err(e) => format!("unusable ({e})"),
        },
    }
}

/// A found database, ready to read.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    Sqlite(sqlite::SqliteDb),
    Postgres(postgres::PostgresDb),
    Mysql(mysql::MysqlDb),
}

impl Resolved {
    /// For logs: `SQLite /path` or the server's URL without its password.
    pub(crate) fn describe(&self) -> String {
        match self {
            Resolved::Sqlite(db) => format!("SQLite {}", db.path().display()),
            Resolved::Postgres(db) => db.target().redacted(),
            Resolved::Mysql(db) => db.target().redacted(),
        }
    }

    pub(crate) async fn read(
        &self,
    ) -> Result<crate::crowdsec::bouncers::BouncerSnapshot, LapiDbError> {
        match self {
            Resolved::Sqlite(db) => db.read().await,
            Resolved::Postgres(db) => db.read().await,
            Resolved::Mysql(db) => db.read().await,
        }
    }

    /// The active decisions at `now` (the server engines use the server's clock), with the self-bans against the
    /// registered bouncers' and machines' addresses, loopback and `lapi_host`.
    pub async fn active_decisions(
        &self,
        now: crate::values::time::UnixSeconds,
        lapi_host: Vec<std::net::IpAddr>,
    ) -> Result<crate::crowdsec::active_decisions::ActiveDecisions, LapiDbError> {
        match self {
            Resolved::Sqlite(db) => db.active_decisions(now, lapi_host).await,
            Resolved::Postgres(db) => db.active_decisions(&lapi_host).await,
            Resolved::Mysql(db) => db.active_decisions(&lapi_host).await,
        }
    }

    /// The log processors (table `machines`, see [`crate::crowdsec::machines`]).
    pub async fn machines(
        &self,
    ) -> Result<crate::crowdsec::machines::MachineSnapshot, LapiDbError> {
        match self {
            Resolved::Sqlite(db) => db.machines().await,
            Resolved::Postgres(db) => db.machines().await,
            Resolved::Mysql(db) => db.machines().await,
        }
    }

    /// The bouncer registered with this key hash (configuration checks). Call it from a blocking thread inside
    /// the runtime (the checks run under `spawn_blocking`): the server engines' clients are async.
    pub(crate) fn bouncer_for_key_hash(
        &self,
        hash: &crate::values::secret::Secret,
    ) -> Result<Option<String>, LapiDbError> {
        match self {
            Resolved::Sqlite(db) => db.bouncer_for_key_hash(hash),
            Resolved::Postgres(db) => Self::runtime()?.block_on(db.lookup(Lookup::KeyHash(hash))),
            Resolved::Mysql(db) => Self::runtime()?.block_on(db.lookup(Lookup::KeyHash(hash))),
        }
    }

    /// Whether a bouncer of that name is registered (for the installers' `<config>.id` files); same threading.
    pub(crate) fn bouncer_registered(&self, name: &str) -> Result<bool, LapiDbError> {
        match self {
            Resolved::Sqlite(db) => db.bouncer_registered(name),
            Resolved::Postgres(db) => Ok(Self::runtime()?
                .block_on(db.lookup(Lookup::Name(name)))?
                .is_some()),
            Resolved::Mysql(db) => Ok(Self::runtime()?
                .block_on(db.lookup(Lookup::Name(name)))?
                .is_some()),
        }
    }

    fn runtime() -> Result<tokio::runtime::Handle, LapiDbError> {
        tokio::runtime::Handle::try_current()
            .map_err(|_| LapiDbError::Query("key lookup outside the exporter's runtime".to_owned()))
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError {
    #[error(transparent)]
    Config(#[from] crate::crowdsec::config_yaml::ConfigError),
    #[error(
        "the LAPI database is {0}, which this exporter cannot read (yet): use the cscli source"
    )]
    Unsupported(String),
    #[error("CrowdSec's config: {0}")]
    Server(String),
}

impl Failure for ResolveError {
    fn reason(&self) -> Reason {
        match self {
            ResolveError::Config(_) => Reason::Config,
            ResolveError::Unsupported(_) => Reason::Unsupported,
            ResolveError::Server(_) => Reason::Config,
        }
    }
}

impl LapiDbSource {
    /// A LAPI's database at `location`; `busy_timeout` bounds SQLite's wait on CrowdSec's locks (a server
    /// database gets 9/5 of it per read). Nothing is opened before the first read.
    pub fn new(location: LapiDbLocation, busy_timeout: std::time::Duration) -> Self {
        LapiDbSource {
            name: String::new(),
            location,
            busy_timeout,
            resolved: std::sync::Mutex::new(None),
            followed: std::sync::Mutex::new(None),
            autodelete_logged: std::sync::Mutex::new(None),
        }
    }

    /// [`LapiDbSource::resolve`], its error as the source's failure: what a source reading another table of the
    /// database starts with (`sources::lapi_table`).
    pub(crate) fn found(&self) -> Result<Resolved, crate::sources::SourceFailure> {
        self.resolve().map_err(|e| e.to_failure())
    }

    /// Finds the database. Kept once found, except that a database found through CrowdSec's config is found
    /// again when `config.yaml` or its `.local` changed (stat on every read, i.e. within one cache interval; the
    /// change is logged); a broken CrowdSec config is retried on the next read, so the exporter recovers when
    /// CrowdSec gets installed or fixed after it started.
    pub(crate) fn resolve(&self) -> Result<Resolved, ResolveError> {
        let mut slot = self
            .resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let (Some(db), LapiDbLocation::FromCrowdsecConfig(config)) =
            (slot.as_ref(), &self.location)
        {
            let mut followed = self
                .followed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let stamp = config_stamp(config);
            match followed.as_ref() {
                Some((seen, _)) if *seen == stamp => return Ok(db.clone()),
                _ => {}
            }
            // The config changed: read it again; a database it no longer names is dropped.
            let before = followed
                .as_ref()
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            match crate::crowdsec::config_yaml::load(config) {
                Ok(cfg) if config_target(&cfg) == before => {
                    *followed = Some((stamp, before));
                    return Ok(db.clone());
                }
                Ok(cfg) => tracing::warn!(
                    config = %config.display(),
                    was = %before,
                    now = %config_target(&cfg),
                    "CrowdSec's config changed: reading the LAPI database it names now"
                ),
                Err(e) => tracing::warn!(
                    config = %config.display(),
                    was = %before,
                    error = %e,
                    "CrowdSec's config changed and cannot be read: the database it named is no longer read"
                ),
            }
            *followed = None;
            *slot = None;
        } else if let Some(db) = slot.as_ref() {
            return Ok(db.clone());
        }
        let server = |t: target::ServerDb| -> Result<Resolved, ResolveError> {
            tracing::debug!(database = %t.redacted(), "reading the LAPI database");
            match t.engine {
                target::Engine::Postgres => Ok(Resolved::Postgres(postgres::PostgresDb::new(
                    t,
                    self.busy_timeout.saturating_mul(9) / 5,
                ))),
                target::Engine::Mysql => Ok(Resolved::Mysql(mysql::MysqlDb::new(
                    t,
                    self.busy_timeout.saturating_mul(9) / 5,
                ))),
            }
        };
        let path = match &self.location {
            LapiDbLocation::Sqlite(p) => p.clone(),
            LapiDbLocation::FromCrowdsecConfig(config) => {
                let stamp = config_stamp(config);
                let cfg = crate::crowdsec::config_yaml::load(config)?;
                *self
                    .followed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((stamp, config_target(&cfg)));
                match cfg.db.sqlite_path() {
                    Some(p) => p.to_owned(),
                    None => {
                        let t = target::ServerDb::from_crowdsec(&cfg.db)
                            .map_err(ResolveError::Server)?;
                        let db = server(t)?;
                        *slot = Some(db.clone());
                        return Ok(db);
                    }
                }
            }
            LapiDbLocation::Server(t) => {
                let db = server(t.clone())?;
                *slot = Some(db.clone());
                return Ok(db);
            }
            LapiDbLocation::Cscli(_) => return Err(ResolveError::Unsupported("cscli".to_owned())),
        };
        tracing::debug!(path = %path.display(), "reading the LAPI database");
        let db = Resolved::Sqlite(sqlite::SqliteDb::new(path, self.busy_timeout));
        *slot = Some(db.clone());
        Ok(db)
    }

    /// Reads every bouncer once.
    ///
    /// # Errors
    /// The reasons of [`LapiDbError`] and of resolving the database through CrowdSec's config (`config`,
    /// `unsupported`).
    pub async fn read(
        &self,
    ) -> Result<crate::crowdsec::bouncers::BouncerSnapshot, crate::sources::SourceFailure> {
        let db = self.resolve().map_err(|e| e.to_failure())?;
        let mut snapshot = db.read().await.map_err(|e| e.to_failure())?;
        if let LapiDbLocation::FromCrowdsecConfig(config) = &self.location {
            // Read again (a small file, once per cache interval) so an edited setting shows without a restart.
            if let Ok(cfg) = crate::crowdsec::config_yaml::load(config) {
                snapshot.autodelete = cfg.bouncers_autodelete;
            }
            let mut logged = self
                .autodelete_logged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if logged.as_ref() != Some(&snapshot.autodelete) {
                for a in &snapshot.autodelete {
                    tracing::warn!(
                        config = %config.display(),
                        auth_type = a.auth_type,
                        after = %crate::values::time::human_duration(a.after.as_secs_f64()),
                        "CrowdSec deletes bouncer rows of this auth_type whose last pull is this old (db_config.flush.bouncers_autodelete): a bouncer that stops loses its row, and shorter than the offline threshold (24 h by default) before it is called offline; only Prometheus remembers it (CrowdSecBouncerDeletedWhileLate)"
                    );
                }
                *logged = Some(snapshot.autodelete.clone());
            }
        }
        Ok(snapshot)
    }
}

impl LapiDbSource {
    /// Names the LAPI this database belongs to (the `name` label).
    pub(crate) fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

impl crate::sources::Source for LapiDbSource {
    type Snapshot = crate::crowdsec::bouncers::BouncerSnapshot;
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lapi(&self) -> Option<&str> {
        Some(&self.name)
    }
    async fn read(
        self: std::sync::Arc<Self>,
    ) -> Result<Self::Snapshot, crate::sources::SourceFailure> {
        LapiDbSource::read(&self).await
    }
}
