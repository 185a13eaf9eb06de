//! Layer 3, sources: one module per place the exporter reads from, each implementing [`Source`]. A source turns its
//! own typed errors into a [`SourceFailure`] with a closed [`Reason`], and never panics on what it reads.
//! Sources import only from [`crate::values`] and [`crate::crowdsec`]; each takes its own config (built by the
//! top layer from the settings), never the settings themselves.

pub mod bouncer_checks_settings;
pub mod bouncer_config;
pub mod cscli;
pub mod endpoint_probe;
pub mod host_probes;
pub mod lapi_db;
pub mod lapi_decisions;
pub mod lapi_health;
pub mod lapi_machines;
pub mod lapi_table;
pub mod own_process;
pub(crate) mod process_group;
pub mod service_api;

use std::future::Future;
use std::sync::Arc;

/// One place the exporter reads from. A [`crate::scrape::Cached`] built at start-up holds it, reads it at most
/// once per cache interval and publishes its last good [`Source::Snapshot`] with its health.
pub trait Source: Send + Sync + 'static {
    /// What one good read returns: a type of this source's own, by which the metrics and `diagnose` find its
    /// reports among every registered source's ([`crate::scrape::Scrape::reports`]); `lapi_db` and `cscli` share
    /// theirs, being one source read two ways.
    type Snapshot: std::fmt::Debug + Send + Sync + 'static;

    /// The `source` label: `lapi_db`, `cscli`, `service_api`, `bouncer_config`, `lapi_health`.
    fn source(&self) -> &'static str;

    /// The `name` label: the LAPI's name (its `lapi`), or the Service API's host.
    fn name(&self) -> &str;

    /// The `lapi` label: the LAPI this source reads about (lapi_db, cscli, lapi_health), or `None` for a source
    /// bound to no single LAPI (service_api, bouncer_config), whose series carry `lapi=""`. Required, so a new
    /// source decides: Alertmanager routes and inhibits `CrowdSecExporterSourceDown` by it.
    fn lapi(&self) -> Option<&str>;

    /// Reads once, with no cache: one snapshot or why not.
    ///
    /// # Errors
    /// A [`SourceFailure`] whose [`Reason`] is one of the source's own (see each source's error type).
    fn read(self: Arc<Self>) -> impl Future<Output = Result<Self::Snapshot, SourceFailure>> + Send;
}

/// Why a source read failed: the closed set of `reason` label values of
/// `crowdsec_exporter_source_errors_total` (docs/metrics-contract.md lists exactly these; a test checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// CrowdSec's config (or the exporter's view of it) does not say where to read.
    Config,
    /// A TCP connection could not be made.
    Connect,
    /// The SQLite file is damaged.
    Corrupt,
    /// The cscli command exited non-zero.
    Exit,
    /// The Service API refused the key for this resource (HTTP 403).
    Forbidden,
    /// Any other HTTP failure, or an HTTP client that cannot be built.
    Http,
    /// The exporter itself failed (a checking thread died).
    Internal,
    /// Reading the cscli command's output failed.
    Io,
    /// The SQLite database stayed locked.
    Locked,
    /// The Service API answered something that is not its documented shape.
    Malformed,
    /// The database file does not exist.
    MissingFile,
    /// The file is not a SQLite database.
    NotSqlite,
    /// The database could not be opened.
    Open,
    /// The Service API's pages point back to an earlier page.
    PageLoop,
    /// cscli's output is not its JSON.
    Parse,
    /// The exporter's user may not read the database.
    Permission,
    /// A query failed.
    Query,
    /// The Service API rate-limits the key (HTTP 429, or the exporter waits as asked).
    RateLimited,
    /// The database has no `bouncers` table.
    Schema,
    /// The Service API answered 5xx.
    ServerError,
    /// The cscli command could not be started.
    Spawn,
    /// No answer in time (read timeout or scrape deadline).
    Timeout,
    /// A TLS handshake with the database failed.
    Tls,
    /// The Service API's answer exceeds the size bound.
    TooLarge,
    /// The Service API refused the key (HTTP 401).
    Unauthorized,
    /// The database engine named by CrowdSec's config is not supported.
    Unsupported,
    /// The Service API refused the request's parameters (HTTP 422).
    Validation,
}

impl Reason {
    /// Every reason, in label order: the test of docs/metrics-contract.md's "Failure reasons" compares it.
    #[cfg(test)]
    pub(crate) const ALL: [Reason; 27] = [
        Reason::Config,
        Reason::Connect,
        Reason::Corrupt,
        Reason::Exit,
        Reason::Forbidden,
        Reason::Http,
        Reason::Internal,
        Reason::Io,
        Reason::Locked,
        Reason::Malformed,
        Reason::MissingFile,
        Reason::NotSqlite,
        Reason::Open,
        Reason::PageLoop,
        Reason::Parse,
        Reason::Permission,
        Reason::Query,
        Reason::RateLimited,
        Reason::Schema,
        Reason::ServerError,
        Reason::Spawn,
        Reason::Timeout,
        Reason::Tls,
        Reason::TooLarge,
        Reason::Unauthorized,
        Reason::Unsupported,
        Reason::Validation,
    ];

    /// The `reason` label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Config => "config",
            Reason::Connect => "connect",
            Reason::Corrupt => "corrupt",
            Reason::Exit => "exit",
            Reason::Forbidden => "forbidden",
            Reason::Http => "http",
            Reason::Internal => "internal",
            Reason::Io => "io",
            Reason::Locked => "locked",
            Reason::Malformed => "malformed",
            Reason::MissingFile => "missing_file",
            Reason::NotSqlite => "not_sqlite",
            Reason::Open => "open",
            Reason::PageLoop => "page_loop",
            Reason::Parse => "parse",
            Reason::Permission => "permission",
            Reason::Query => "query",
            Reason::RateLimited => "rate_limited",
            Reason::Schema => "schema",
            Reason::ServerError => "server_error",
            Reason::Spawn => "spawn",
            Reason::Timeout => "timeout",
            Reason::Tls => "tls",
            Reason::TooLarge => "too_large",
            Reason::Unauthorized => "unauthorized",
            Reason::Unsupported => "unsupported",
            Reason::Validation => "validation",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Why a source read failed: a [`Reason`] for the metric label, and a message for logs and diagnose.
/// The message must never hold a secret; sources build it from their own typed errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailure {
    /// The `reason` label.
    pub reason: Reason,
    /// In operator words, secret-free.
    pub message: String,
}

impl std::fmt::Display for SourceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.reason)
    }
}

/// A typed source error that knows its metric [`Reason`].
pub trait Failure: std::fmt::Display {
    /// The `reason` label of this error.
    fn reason(&self) -> Reason;

    /// This error as a [`SourceFailure`].
    fn to_failure(&self) -> SourceFailure {
        SourceFailure {
            reason: self.reason(),
            message: self.to_string(),
        }
    }
}

/// The causes of an error, outermost first, without the error itself: the one walk of an error chain (reqwest
/// and rustls hide the useful part in their sources).
pub(crate) fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(e.source(), |c| c.source())
}

/// The innermost cause of an error (the error itself when it has none): the one line a probe's failure reports.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    causes(e).last().unwrap_or(e).to_string()
}

/// An error and its causes, `a: b: c`: the one way sources write an error chain (reqwest's own text is only
/// "builder error" or "error sending request", the reason is in the causes).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    std::iter::once(e.to_string())
        .chain(causes(e).map(ToString::to_string))
        .collect::<Vec<_>>()
        .join(": ")
}

/// The bouncers of one LAPI, read from its database or through cscli: one [`Source`] whatever the way, so
/// every LAPI sits behind the same kind of cache.
pub(crate) enum LapiBouncers {
    /// `lapi_db`.
    Db(Box<lapi_db::LapiDbSource>),
    /// `cscli`.
    Cscli(cscli::CscliSource),
}

impl Source for LapiBouncers {
    type Snapshot = crate::crowdsec::bouncers::BouncerSnapshot;
    fn source(&self) -> &'static str {
        match self {
            LapiBouncers::Db(s) => s.source(),
            LapiBouncers::Cscli(s) => s.source(),
        }
    }
    fn name(&self) -> &str {
        match self {
            LapiBouncers::Db(s) => Source::name(s.as_ref()),
            LapiBouncers::Cscli(s) => Source::name(s),
        }
    }
    fn lapi(&self) -> Option<&str> {
        match self {
            LapiBouncers::Db(s) => s.lapi(),
            LapiBouncers::Cscli(s) => s.lapi(),
        }
    }
    async fn read(self: Arc<Self>) -> Result<Self::Snapshot, SourceFailure> {
        match &*self {
            LapiBouncers::Db(s) => s.read().await,
            LapiBouncers::Cscli(s) => s.read().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reasons in the `reason` column of docs/metrics-contract.md's "Failure reasons" table.
    fn documented() -> Vec<String> {
        let doc = include_str!("../../docs/metrics-contract.md");
        let section = doc
            .split("## Failure reasons")
            .nth(1)
            .expect("docs/metrics-contract.md has a Failure reasons section");
        section
            .lines()
            .skip_while(|l| !l.starts_with("| reason"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                l.split('|')
                    .nth(1)
                    .unwrap_or_default()
                    .trim()
                    .trim_matches('`')
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn the_metrics_contract_lists_exactly_the_reasons_emitted() {
        let emitted: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(documented(), emitted);
    }

    #[test]
    fn reasons_are_listed_once_in_label_order() {
        // The errors map is ordered by Reason; its series come out in label order only when the enum is.
        let labels: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        let mut sorted = labels.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(labels, sorted);
        let mut by_ord = Reason::ALL;
        by_ord.sort();
        assert_eq!(by_ord, Reason::ALL);
    }
}
