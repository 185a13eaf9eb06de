//! A LAPI database on PostgreSQL: one connection, opened lazily and reopened after any failure, with
//! `default_transaction_read_only` and a `statement_timeout`. `timestamptz` columns are read as
//! `extract(epoch from ...)`, so the session time zone never matters.
//!
//! TLS (rustls) follows libpq's `sslmode` (see [`super::db_tls`]); `allow` is taken as `prefer`. Over a unix
//! socket there is no TLS, as with libpq.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::db_tls::{self, TlsMode};
use super::server::{
    lookup, read_snapshot, with_session, Lookup, Session, TextConn, TextRow, Turn,
};
use super::target::ServerDb;
use super::LapiDbError;
use crate::crowdsec::bouncers::BouncerSnapshot;

#[derive(Debug, Clone)]
pub(crate) struct PostgresDb {
    target: Arc<ServerDb>,
    timeout: Duration,
    state: Arc<Mutex<State>>,
}

type State = Session<Client>;

struct Conn<'a>(&'a Client);

impl TextConn for Conn<'_> {
    const CURRENT_SCHEMA: &'static str = "current_schema()";
    const NOW: &'static str = "now()";

    fn quote(column: &str) -> String {
        format!("\"{column}\"")
    }

    fn epoch(column: &str) -> String {
        format!("extract(epoch from \"{column}\")")
    }

    const NULLABILITY_IS_A_VERSION_SIGN: bool = true;

    async fn rows(&mut self, sql: &str) -> Result<Vec<TextRow>, LapiDbError> {
        let messages = self
            .0
            .simple_query(sql)
            .await
            .map_err(|e| LapiDbError::Query(message(&e)))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                }
                _ => None,
            })
            .collect())
    }

    const PARAM: &'static str = "$1";

    // pg_class lists every table to every role, with or without privilege.
    const TABLE_LOOKUP: Option<&'static str> = Some(
        "SELECT quote_ident(n.nspname) || '|' || has_table_privilege(c.oid, 'SELECT')::text || '|' || (n.nspname = current_schema())::text || '|' || quote_ident(current_user) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1 AND c.relkind IN ('r', 'p', 'v') ORDER BY n.nspname = current_schema() DESC LIMIT 1",
    );

    async fn first(&mut self, sql: &str, param: &str) -> Result<Option<String>, LapiDbError> {
        let row = self
            .0
            .query_opt(sql, &[&param])
            .await
            .map_err(|e| LapiDbError::Query(message(&e)))?;
        row.map(|r| r.try_get::<_, String>(0))
            .transpose()
            .map_err(|e| LapiDbError::Query(message(&e)))
    }
}

impl PostgresDb {
    /// `timeout` bounds connecting and each read.
    pub(crate) fn new(target: ServerDb, timeout: Duration) -> Self {
        PostgresDb {
            target: Arc::new(target),
            timeout,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    pub(crate) fn target(&self) -> &ServerDb {
        &self.target
    }

    pub(crate) async fn read(&self) -> Result<BouncerSnapshot, LapiDbError> {
        with_session(
            &self.state,
            Turn::Now,
            self.timeout,
            &self.target,
            async |state| {
                let client = self.connected(&mut state.conn).await?;
                read_snapshot(&mut Conn(client), &mut state.usage).await
            },
        )
        .await
    }

    /// The active decisions, on the kept connection (waiting for a running read, bounded by the timeout).
    pub(crate) async fn active_decisions(
        &self,
        lapi_host: &[std::net::IpAddr],
    ) -> Result<crate::crowdsec::active_decisions::ActiveDecisions, LapiDbError> {
        self.on_kept_connection(async |c| super::server::read_active_decisions(c, lapi_host).await)
            .await
    }

    /// The log processors (table `machines`) on the kept connection, bounded by the timeout.
    pub(crate) async fn machines(
        &self,
    ) -> Result<crate::crowdsec::machines::MachineSnapshot, LapiDbError> {
        self.on_kept_connection(async |c| super::server::read_machines(c).await)
            .await
    }

    /// `read` on the kept connection (made if there is none), after a running read, bounded by the timeout.
    async fn on_kept_connection<T>(
        &self,
        read: impl AsyncFnOnce(&mut Conn<'_>) -> Result<T, LapiDbError>,
    ) -> Result<T, LapiDbError> {
        with_session(
            &self.state,
            Turn::Wait,
            self.timeout,
            &self.target,
            async |state| {
                let client = self.connected(&mut state.conn).await?;
                read(&mut Conn(client)).await
            },
        )
        .await
    }

    /// One key lookup ([`Lookup`]) on the kept connection, waiting for a running read, bounded by the timeout.
    pub(crate) async fn lookup(&self, what: Lookup<'_>) -> Result<Option<String>, LapiDbError> {
        with_session(
            &self.state,
            Turn::Wait,
            self.timeout,
            &self.target,
            async |state| {
                let client = self.connected(&mut state.conn).await?;
                lookup(&mut Conn(client), what).await
            },
        )
        .await
    }

    /// The kept client, (re)connecting when there is none or the server closed it.
    async fn connected<'s>(&self, conn: &'s mut Option<Client>) -> Result<&'s Client, LapiDbError> {
        if conn.as_ref().is_none_or(Client::is_closed) {
            *conn = Some(self.connect().await?);
        }
        Ok(conn.as_ref().expect("just connected"))
    }

    async fn connect(&self) -> Result<Client, LapiDbError> {
        let t = &self.target;
        let mut cfg = tokio_postgres::Config::new();
        cfg.user(&t.user)
            .dbname(&t.db_name)
            .application_name("crowdsec-bouncer-exporter")
            .connect_timeout(self.timeout)
            .options(format!(
                "-c default_transaction_read_only=on -c statement_timeout={}",
                // PostgreSQL's setting is an int of milliseconds: a longer timeout is the longest it takes.
                self.timeout.as_millis().clamp(1, i32::MAX as u128)
            ));
        if let Some(p) = &t.password {
            cfg.password(p.expose());
        }
        match &t.socket {
            Some(dir) => cfg.host_path(dir),
            None => cfg.host(&t.host),
        };
        cfg.port(t.port);
        let tls_failed = |message: String| LapiDbError::Tls {
            target: t.redacted(),
            message,
        };
        let mode = TlsMode::parse(t.sslmode.as_deref()).map_err(tls_failed)?;
        cfg.ssl_mode(match mode {
            // libpq ignores sslmode on a unix socket; tokio-postgres would ask the server for TLS there.
            _ if t.socket.is_some() => SslMode::Disable,
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        });
        // With sslmode disable the connector is never used: a file-less one, so no file is read.
        let config = match mode {
            TlsMode::Disable => db_tls::client_config(TlsMode::Require, &Default::default()),
            m => db_tls::client_config(m, &t.tls_files),
        }
        .map_err(tls_failed)?;
        let (client, connection) = cfg
            .connect(tokio_postgres_rustls::MakeRustlsConnect::new(config))
            .await
            .map_err(|e| {
                let text = message(&e);
                // A server that only accepts TLS answers a clear connection with a pg_hba refusal.
                match db_tls::explain(&text) {
                    Some(why) if mode != TlsMode::Disable || text.contains("no encryption") => {
                        tls_failed(format!("{why}: {text}"))
                    }
                    // SQLSTATE class 28, invalid authorization (28P01 wrong password, 28000 role or pg_hba
                    // refusal): PostgreSQL's errcodes.txt.
                    _ if e.code().is_some_and(|c| c.code().starts_with("28")) => {
                        LapiDbError::Auth {
                            target: t.redacted(),
                            message: text,
                        }
                    }
                    _ => LapiDbError::Connect {
                        target: t.redacted(),
                        message: text,
                    },
                }
            })?;
        let target = t.redacted();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(database = %target, error = %e, "PostgreSQL connection closed");
            }
        });
        tracing::info!(database = %t.redacted(), "connected to the LAPI database");
        Ok(client)
    }
}

/// The server's own message when there is one (`db error` alone says nothing), else the error and its cause.
fn message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
