//! Source `lapi_db`: the bouncers of one Local API, read straight from its database (read-only), because LAPI has
//! no HTTP endpoint that lists bouncers. Columns are chosen by name, as CrowdSec only ever appends columns and
//! upgraded databases keep old ones.

pub mod access;
pub mod mysql;
pub mod postgres;
pub mod server;
pub mod sqlite;
pub mod target;
pub mod tls;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::bouncers::{interpret_last_pull, Bouncer, RawTime};
use crate::cache::Reason;
use crate::timefmt::UnixSeconds;

pub const SOURCE: &str = "lapi_db";

#[derive(Debug, thiserror::Error)]
pub enum LapiDbError {
    #[error("database file {0} does not exist")]
    MissingFile(PathBuf),
    /// `hint` says who may read the file and how to let the exporter do so (see [`access::permission_hint`]).
    #[error("permission denied reading {path}: {hint}")]
    Permission { path: PathBuf, hint: String },
    #[error("{0} is not a SQLite database")]
    NotSqlite(PathBuf),
    #[error("cannot open {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("database is locked: no read possible within the busy timeout")]
    Locked,
    #[error("database is corrupt: {0}")]
    Corrupt(String),
    #[error("no `bouncers` table: not a CrowdSec Local API database")]
    NoBouncersTable,
    #[error("query failed: {0}")]
    Query(String),
    #[error("a previous read is still running")]
    Busy,
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("{0}")]
    Timeout(String),
    /// TLS to a database server: bad settings or files, a failed handshake, a rejected certificate.
    #[error("TLS to {target}: {message}")]
    Tls { target: String, message: String },
}

impl Reason for LapiDbError {
    fn reason(&self) -> &'static str {
        match self {
            LapiDbError::MissingFile(_) => "missing_file",
            LapiDbError::Permission { .. } => "permission",
            LapiDbError::NotSqlite(_) => "not_sqlite",
            LapiDbError::Open { .. } => "open",
            LapiDbError::Locked => "locked",
            LapiDbError::Corrupt(_) => "corrupt",
            LapiDbError::NoBouncersTable => "schema",
            LapiDbError::Query(_) => "query",
            LapiDbError::Busy => "timeout",
            LapiDbError::Connect { .. } => "connect",
            LapiDbError::Timeout(_) => "timeout",
            LapiDbError::Tls { .. } => "tls",
        }
    }
}

/// Columns of `bouncers` the exporter reads; `api_key` is deliberately not among them.
pub const BOUNCER_COLUMNS: [&str; 11] = [
    "name",
    "ip_address",
    "type",
    "version",
    "auth_type",
    "revoked",
    "last_pull",
    "created_at",
    "osname",
    "osversion",
    "auto_created",
];

/// What the `bouncers` table's columns say about the CrowdSec version that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub columns: HashSet<String>,
    /// `last_pull` may be NULL: CrowdSec >= 1.6, where `created_at` also stopped moving.
    pub last_pull_nullable: bool,
}

impl Schema {
    pub fn generation(&self) -> &'static str {
        if self.columns.contains("osfamily") {
            "1.7.1+"
        } else if self.columns.contains("auto_created") {
            "1.6.4+"
        } else if self.columns.contains("osname") {
            "1.6.3+"
        } else if self.last_pull_nullable {
            "1.6"
        } else {
            "1.4"
        }
    }

    /// Registration time can be trusted only where CrowdSec stopped rewriting `created_at`.
    pub fn registration_trustworthy(&self) -> bool {
        self.last_pull_nullable || self.columns.contains("osname")
    }

    /// `SELECT` list in [`BOUNCER_COLUMNS`] order, `NULL` for columns this version lacks.
    pub fn select_list(&self) -> String {
        BOUNCER_COLUMNS
            .iter()
            .map(|c| {
                if self.columns.contains(*c) {
                    format!("\"{c}\"")
                } else {
                    "NULL".to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One row as read by an engine, in [`BOUNCER_COLUMNS`] order, before interpretation.
#[derive(Debug, Default)]
pub struct RawRow {
    pub name: Option<String>,
    pub ip_address: Option<String>,
    pub bouncer_type: Option<String>,
    pub version: Option<String>,
    pub auth_type: Option<String>,
    pub revoked: Option<bool>,
    pub last_pull: Option<RawTime>,
    pub created_at: Option<RawTime>,
    pub osname: Option<String>,
    pub osversion: Option<String>,
    pub auto_created: Option<bool>,
}

fn bool_label(v: Option<bool>) -> String {
    v.map(|b| b.to_string()).unwrap_or_default()
}

/// Turns engine rows into bouncers; `usage` maps bouncer names to their newest usage-metrics push.
/// Returns the bouncers and how many rows had an unreadable value.
pub fn interpret(
    schema: &Schema,
    rows: Vec<RawRow>,
    usage: &HashMap<String, UnixSeconds>,
) -> (Vec<Bouncer>, usize) {
    let mut bad = 0;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (bouncer, unreadable) = interpret_row(schema, row, usage);
        bad += usize::from(unreadable);
        out.push(bouncer);
    }
    (out, bad)
}

/// One row into a bouncer; `true` when a value could not be read.
pub fn interpret_row(
    schema: &Schema,
    row: RawRow,
    usage: &HashMap<String, UnixSeconds>,
) -> (Bouncer, bool) {
    let name = row.name.unwrap_or_default();
    let bouncer_type = row.bouncer_type.unwrap_or_default();
    let last_pull = interpret_last_pull(row.last_pull.unwrap_or(RawTime::Null), &bouncer_type);
    // Go's zero time in created_at: registration unknown.
    let created = row.created_at.unwrap_or(RawTime::Null).unset_if_go_zero();
    let unreadable = matches!(row.last_pull, Some(RawTime::Unparseable))
        || matches!(created, RawTime::Unparseable);
    if unreadable {
        tracing::warn!(bouncer = %name, "unreadable timestamp in the bouncers table");
    }
    let registered_at = match created {
        RawTime::At(ts) if schema.registration_trustworthy() => Some(ts),
        _ => None,
    };
    let os = match (
        row.osname.unwrap_or_default(),
        row.osversion.unwrap_or_default(),
    ) {
        (n, v) if n.is_empty() && v.is_empty() => String::new(),
        (n, v) if v.is_empty() => n,
        (n, v) => format!("{n}/{v}"),
    };
    let bouncer = Bouncer {
        last_usage_metrics: usage.get(&name).copied(),
        name,
        ip_address: row.ip_address.unwrap_or_default(),
        bouncer_type,
        version: row.version.unwrap_or_default(),
        auth_type: row.auth_type.unwrap_or_default(),
        os,
        auto_created: bool_label(row.auto_created),
        revoked: bool_label(row.revoked),
        last_pull,
        registered_at,
    };
    (bouncer, unreadable)
}

/// A LAPI's database, found once (explicitly, or through CrowdSec's config) and then read on demand.
#[derive(Debug)]
pub struct LapiDbSource {
    location: crate::settings::LapiDbLocation,
    busy_timeout: std::time::Duration,
    resolved: std::sync::Mutex<Option<Resolved>>,
}

/// A found database, ready to read.
#[derive(Debug, Clone)]
pub enum Resolved {
    Sqlite(sqlite::SqliteDb),
    Postgres(postgres::PostgresDb),
    Mysql(mysql::MysqlDb),
}

impl Resolved {
    /// For logs: `SQLite /path` or the server's URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Resolved::Sqlite(db) => format!("SQLite {}", db.path().display()),
            Resolved::Postgres(db) => db.target().redacted(),
            Resolved::Mysql(db) => db.target().redacted(),
        }
    }

    pub async fn read(&self) -> Result<crate::bouncers::BouncerSnapshot, LapiDbError> {
        match self {
            Resolved::Sqlite(db) => db.read().await,
            Resolved::Postgres(db) => db.read().await,
            Resolved::Mysql(db) => db.read().await,
        }
    }

    /// The bouncer registered with this key hash (configuration checks). Call it from a blocking thread inside
    /// the runtime (the checks run under `spawn_blocking`): the server engines' clients are async.
    pub fn bouncer_for_key_hash(
        &self,
        hash: &crate::secret::Secret,
    ) -> Result<Option<String>, LapiDbError> {
        match self {
            Resolved::Sqlite(db) => db.bouncer_for_key_hash(hash),
            Resolved::Postgres(db) => Self::runtime()?.block_on(db.bouncer_for_key_hash(hash)),
            Resolved::Mysql(db) => Self::runtime()?.block_on(db.bouncer_for_key_hash(hash)),
        }
    }

    /// Whether a bouncer of that name is registered (for the installers' `<config>.id` files); same threading.
    pub fn bouncer_registered(&self, name: &str) -> Result<bool, LapiDbError> {
        match self {
            Resolved::Sqlite(db) => db.bouncer_registered(name),
            Resolved::Postgres(db) => Self::runtime()?.block_on(db.bouncer_registered(name)),
            Resolved::Mysql(db) => Self::runtime()?.block_on(db.bouncer_registered(name)),
        }
    }

    fn runtime() -> Result<tokio::runtime::Handle, LapiDbError> {
        tokio::runtime::Handle::try_current()
            .map_err(|_| LapiDbError::Query("key lookup outside the exporter's runtime".to_owned()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Config(#[from] crate::crowdsec_config::ConfigError),
    #[error(
        "the LAPI database is {0}, which this exporter cannot read (yet): use the cscli source"
    )]
    Unsupported(String),
    #[error("CrowdSec's config: {0}")]
    Server(String),
}

impl Reason for ResolveError {
    fn reason(&self) -> &'static str {
        match self {
            ResolveError::Config(_) => "config",
            ResolveError::Unsupported(_) => "unsupported",
            ResolveError::Server(_) => "config",
        }
    }
}

impl LapiDbSource {
    pub fn new(
        location: crate::settings::LapiDbLocation,
        busy_timeout: std::time::Duration,
    ) -> Self {
        LapiDbSource {
            location,
            busy_timeout,
            resolved: std::sync::Mutex::new(None),
        }
    }

    /// Finds the database. Kept once found; a broken CrowdSec config is retried on the next read, so the
    /// exporter recovers when CrowdSec gets installed or fixed after it started.
    pub fn resolve(&self) -> Result<Resolved, ResolveError> {
        let mut slot = self
            .resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(db) = slot.as_ref() {
            return Ok(db.clone());
        }
        let server = |t: target::ServerDb| -> Result<Resolved, ResolveError> {
            tracing::debug!(database = %t.redacted(), "reading the LAPI database");
            match t.engine {
                target::Engine::Postgres => Ok(Resolved::Postgres(postgres::PostgresDb::new(
                    t,
                    self.busy_timeout * 9 / 5,
                ))),
                target::Engine::Mysql => Ok(Resolved::Mysql(mysql::MysqlDb::new(
                    t,
                    self.busy_timeout * 9 / 5,
                ))),
            }
        };
        let path = match &self.location {
            crate::settings::LapiDbLocation::Sqlite(p) => p.clone(),
            crate::settings::LapiDbLocation::FromCrowdsecConfig(cfg) => {
                let cfg = crate::crowdsec_config::load(cfg)?;
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
            crate::settings::LapiDbLocation::Server(t) => {
                let db = server(t.clone())?;
                *slot = Some(db.clone());
                return Ok(db);
            }
            crate::settings::LapiDbLocation::Cscli(_) => {
                return Err(ResolveError::Unsupported("cscli".to_owned()))
            }
        };
        tracing::debug!(path = %path.display(), "reading the LAPI database");
        let db = Resolved::Sqlite(sqlite::SqliteDb::new(path, self.busy_timeout));
        *slot = Some(db.clone());
        Ok(db)
    }

    pub async fn read(
        &self,
    ) -> Result<crate::bouncers::BouncerSnapshot, crate::cache::SourceFailure> {
        let db = self.resolve().map_err(|e| e.to_failure())?;
        db.read().await.map_err(|e| e.to_failure())
    }
}
