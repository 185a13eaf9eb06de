//! A LAPI database on MySQL or MariaDB: one connection, opened lazily and reopened after any failure, in a
//! read-only session.
//!
//! Times: CrowdSec's Go driver (default `loc=UTC`, no `time_zone` set) writes the UTC wall-clock, which the
//! server takes as a wall-clock of the session time zone, i.e. the server's global zone. What CrowdSec meant is
//! therefore the wall-clock text read back in that same zone, taken as UTC: `DATE_FORMAT(col, ...)` in a session
//! left at the global zone. `UNIX_TIMESTAMP(col)` or a `+00:00` session would be off by the server's UTC offset
//! on any server not running in UTC. Ages then equal those of the SQLite source for the same rows.
//!
//! TLS (rustls, through mysql_async) as the Go driver's `tls=false|preferred|skip-verify|true` or libpq-like
//! `sslmode` names (see [`super::db_tls`]); `preferred` falls back to clear only when the server offers no TLS.
//! Unlike PostgreSQL, a given CA always means the host name is checked too (see `ssl_opts`).

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row, Value};
use tokio::sync::Mutex;

use super::db_tls::{self, TlsMode, Verify};
use super::server::{
    lookup, read_snapshot, with_session, Lookup, Session, TextConn, TextRow, Turn,
};
use super::target::ServerDb;
use super::LapiDbError;
use crate::crowdsec::bouncers::BouncerSnapshot;

#[derive(Debug, Clone)]
pub(crate) struct MysqlDb {
    target: Arc<ServerDb>,
    timeout: Duration,
    state: Arc<Mutex<State>>,
}

type State = Session<Conn>;

struct TextConnection<'a>(&'a mut Conn);

impl TextConn for TextConnection<'_> {
    const CURRENT_SCHEMA: &'static str = "DATABASE()";
    // CrowdSec writes UTC wall-clocks (module doc): compared with the UTC wall-clock, in the session's zone.
    const NOW: &'static str = "UTC_TIMESTAMP(6)";

    fn quote(column: &str) -> String {
        format!("`{column}`")
    }

    fn epoch(column: &str) -> String {
        format!("DATE_FORMAT(`{column}`, '%Y-%m-%d %H:%i:%s.%f')")
    }

    const NULLABILITY_IS_A_VERSION_SIGN: bool = false;

    async fn rows(&mut self, sql: &str) -> Result<Vec<TextRow>, LapiDbError> {
        let rows: Vec<Row> = self
            .0
            .query(sql)
            .await
            .map_err(|e| LapiDbError::Query(e.to_string()))?;
        Ok(rows
            .into_iter()
            .map(|r| r.unwrap().into_iter().map(text).collect())
            .collect())
    }

    const PARAM: &'static str = "?";
    const TABLE_LOOKUP: Option<&'static str> = None;

    async fn first(&mut self, sql: &str, param: &str) -> Result<Option<String>, LapiDbError> {
        let row: Option<Row> = self
            .0
            .exec_first(sql, (param,))
            .await
            .map_err(|e| LapiDbError::Query(e.to_string()))?;
        row.and_then(|mut r| r.take_opt::<String, _>(0))
            .transpose()
            .map_err(|e| LapiDbError::Query(format!("unexpected value type: {e:?}")))
    }
}

/// mysql_async's TLS options for a mode other than `Disable`: only the given CA is trusted. Without one nothing is
/// verified; the built-in roots stay then only because mysql_async cannot build its verifier from none.
fn ssl_opts(mode: TlsMode, files: &db_tls::TlsFiles) -> mysql_async::SslOpts {
    use mysql_async::{ClientIdentity, SslOpts};
    let path = |p: &std::path::PathBuf| p.clone().into();
    // mysql_async 0.37.1 cannot check the chain without the host name (its skip-domain test matches a rustls
    // message that rustls 0.23 no longer prints): a chain check is a full check here, stricter, never laxer.
    let verify = match mode.verify(files.ca.is_some()) {
        Verify::Chain => Verify::ChainAndHost,
        v => v,
    };
    SslOpts::default()
        .with_disable_built_in_roots(files.ca.is_some())
        .with_root_certs(files.ca.iter().map(path).collect())
        .with_client_identity(match (&files.client_cert, &files.client_key) {
            (Some(c), Some(k)) => Some(ClientIdentity::new(path(c), path(k))),
            _ => None,
        })
        .with_danger_accept_invalid_certs(verify == Verify::Nothing)
}

/// The text protocol gives bytes; other variants only appear with prepared statements, handled anyway.
fn text(v: Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

impl MysqlDb {
    /// `timeout` bounds connecting and each read.
    pub(crate) fn target(&self) -> &ServerDb {
        &self.target
    }

    pub(crate) fn new(target: ServerDb, timeout: Duration) -> Self {
        MysqlDb {
            target: Arc::new(target),
            timeout,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    pub(crate) async fn read(&self) -> Result<BouncerSnapshot, LapiDbError> {
        with_session(&self.state, Turn::Now, self.timeout, &self.target, async |state| {
            // A kept connection may have been closed by the server (restart, wait_timeout): one retry on a
            // fresh connection tells that apart from a real failure.
            let reused = state.conn.is_some();
            match self.attempt(state).await {
                Err(LapiDbError::Query(e)) if reused => {
                    tracing::debug!(database = %self.target.redacted(), error = %e, "reconnecting");
                    state.conn = None;
                    self.attempt(state).await
                }
                other => other,
            }
        })
        .await
    }

    async fn attempt(&self, state: &mut State) -> Result<BouncerSnapshot, LapiDbError> {
        if state.conn.is_none() {
            state.conn = Some(self.connect().await?);
        }
        let State { conn, usage } = state;
        let conn = conn.as_mut().expect("just connected");
        read_snapshot(&mut TextConnection(conn), usage).await
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
        read: impl AsyncFnOnce(&mut TextConnection<'_>) -> Result<T, LapiDbError>,
    ) -> Result<T, LapiDbError> {
        with_session(
            &self.state,
            Turn::Wait,
            self.timeout,
            &self.target,
            async |state| {
                if state.conn.is_none() {
                    state.conn = Some(self.connect().await?);
                }
                let conn = state.conn.as_mut().expect("just connected");
                read(&mut TextConnection(conn)).await
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
                if state.conn.is_none() {
                    state.conn = Some(self.connect().await?);
                }
                let conn = state.conn.as_mut().expect("just connected");
                lookup(&mut TextConnection(conn), what).await
            },
        )
        .await
    }

    async fn connect(&self) -> Result<Conn, LapiDbError> {
        let t = &self.target;
        let failed = |message: String| LapiDbError::Connect {
            target: t.redacted(),
            message,
        };
        let tls_failed = |message: String| LapiDbError::Tls {
            target: t.redacted(),
            message,
        };
        let mode = TlsMode::parse(t.sslmode.as_deref()).map_err(tls_failed)?;
        db_tls::check(mode, &t.tls_files).map_err(tls_failed)?;
        let opts = OptsBuilder::default()
            .ip_or_hostname(t.host.clone())
            .tcp_port(t.port)
            .socket(t.socket.as_ref().map(|s| s.display().to_string()))
            .prefer_socket(t.socket.is_some())
            .user(Some(t.user.clone()))
            .pass(t.password.as_ref().map(|p| p.expose().to_owned()))
            .db_name(Some(t.db_name.clone()))
            .stmt_cache_size(0)
            // The session keeps the server's global time zone, as CrowdSec's own sessions do (see above).
            .init(vec!["SET SESSION TRANSACTION READ ONLY"]);
        let ssl = (mode != TlsMode::Disable).then(|| ssl_opts(mode, &t.tls_files));
        let conn = match Conn::new(opts.clone().ssl_opts(ssl)).await {
            Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer))
                if mode == TlsMode::Prefer =>
            {
                Conn::new(opts).await
            }
            other => other,
        }
        .map_err(|e| {
            let text = e.to_string();
            match db_tls::explain(&text) {
                Some(why) if text.contains("not valid for name") && mode.verify(true) == Verify::Chain => {
                    tls_failed(format!("{why} (on MySQL/MariaDB a CA means the host name is checked too, whatever the mode): {text}"))
                }
                Some(why) => tls_failed(format!("{why}: {text}")),
                // ER_ACCESS_DENIED_ERROR (1045) and ER_ACCESS_DENIED_NO_PASSWORD_ERROR (1698), MariaDB's
                // include/mysqld_error.h. An account with REQUIRE SSL refuses a clear connection in the same words.
                None if matches!(&e, mysql_async::Error::Server(s) if matches!(s.code, 1045 | 1698)) => {
                    LapiDbError::Auth {
                        target: t.redacted(),
                        message: if mode == TlsMode::Disable {
                            format!("{text} (wrong user or password, or an account that REQUIREs SSL: then give tls=true)")
                        } else {
                            text
                        },
                    }
                }
                None => failed(text),
            }
        })?;
        tracing::info!(database = %t.redacted(), "connected to the LAPI database");
        Ok(conn)
    }
}
