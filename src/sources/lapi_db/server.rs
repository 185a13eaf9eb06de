//! What PostgreSQL and MySQL/MariaDB share: columns found through `information_schema`, rows read as text (one
//! parser for both engines), times read as Unix seconds computed by the server (so neither the session time zone
//! nor a date crate matters), and the incremental usage-metrics cursor.

use std::collections::{HashMap, HashSet};
use std::future::Future;

pub(crate) use super::usage_cursor::UsageCursor;
use super::usage_cursor::{self, Batch, Payload};
use super::{interpret, LapiDbError, NameSet, RawRow, Schema, BOUNCER_COLUMNS};
use crate::crowdsec::bouncers::{BouncerSnapshot, RawTime};
use crate::crowdsec::usage_reports::MAX_PAYLOAD_BYTES;
use crate::values::time::parse_timestamp;

/// One row of text values (`None` = SQL NULL).
pub(crate) type TextRow = Vec<Option<String>>;

/// A connection that runs a statement and returns its rows as text.
pub(crate) trait TextConn {
    /// Quotes an identifier.
    fn quote(column: &str) -> String;
    /// SQL giving a time column as Unix seconds or as a UTC timestamp text (NULL stays NULL).
    fn epoch(column: &str) -> String;
    /// Whether a NOT NULL `last_pull` tells CrowdSec < 1.6. Not on MySQL, where ent makes every `timestamp`
    /// column NULL-able; there the `until` column (1.4/1.5 only) tells it.
    const NULLABILITY_IS_A_VERSION_SIGN: bool;
    /// The schema the tables are looked up in (`current_schema()`, `DATABASE()`).
    const CURRENT_SCHEMA: &'static str;
    /// SQL of the current instant, comparable with CrowdSec's `until` as the LAPI compares it.
    const NOW: &'static str;
    fn rows(&mut self, sql: &str)
        -> impl Future<Output = Result<Vec<TextRow>, LapiDbError>> + Send;
    /// The placeholder of a statement's one bound parameter (`$1`, `?`).
    const PARAM: &'static str;
    /// SQL finding a table information_schema does not show (it shows only tables the role may use), with its
    /// name bound: one text `schema|may select|in the current schema|role`, identifiers quoted. `None` where the
    /// server hides tables without privilege everywhere (MySQL/MariaDB).
    const TABLE_LOOKUP: Option<&'static str>;
    /// The first column of the first row of `sql`, run with `param` bound (never spliced into the SQL).
    fn first(
        &mut self,
        sql: &str,
        param: &str,
    ) -> impl Future<Output = Result<Option<String>, LapiDbError>> + Send;
}

/// A key lookup of the configuration checks.
#[derive(Clone, Copy)]
pub(crate) enum Lookup<'a> {
    /// The bouncer registered with this key hash (`auth_type = 'api-key'`).
    KeyHash(&'a crate::values::secret::Secret),
    /// A bouncer of this name (the installers' `<config>.id` files).
    Name(&'a str),
}

// Never the hash: a Debug of a lookup names only its kind.
impl std::fmt::Debug for Lookup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Lookup::KeyHash(_) => "KeyHash(..)",
            Lookup::Name(_) => "Name(..)",
        })
    }
}

/// The registered name `what` finds, asked in the database (no hash is ever loaded), with the value bound as a
/// parameter so a hash is in no SQL text and no message. The one key lookup of PostgreSQL and MySQL.
pub(crate) async fn lookup<C: TextConn>(
    c: &mut C,
    what: Lookup<'_>,
) -> Result<Option<String>, LapiDbError> {
    let (filter, value) = match what {
        Lookup::KeyHash(hash) => ("api_key = {} AND auth_type = 'api-key'", hash.expose()),
        Lookup::Name(name) => ("name = {}", name),
    };
    let sql = format!(
        "SELECT name FROM bouncers WHERE {} LIMIT 1",
        filter.replace("{}", C::PARAM)
    );
    c.first(&sql, value).await
}

/// A server engine's kept connection and usage cursor. Reads and key lookups take turns on it.
pub(crate) struct Session<C> {
    pub conn: Option<C>,
    pub usage: UsageCursor,
}

impl<C> Default for Session<C> {
    fn default() -> Self {
        Session {
            conn: None,
            usage: UsageCursor::default(),
        }
    }
}

// Never the connection itself: some clients print their options, password included, in Debug.
impl<C> std::fmt::Debug for Session<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

/// How a call gets the session while another holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Fail at once with `Busy` (scrape reads: the cache already coalesces them).
    Now,
    /// Wait for it, within the timeout (key lookups of the configuration checks).
    Wait,
}

/// Runs `work` on the session within `timeout`. A failure drops the connection: it may be broken or half-way
/// through a query, so the next call starts on a fresh one.
pub(crate) async fn with_session<C, T>(
    session: &std::sync::Arc<tokio::sync::Mutex<Session<C>>>,
    turn: Turn,
    timeout: std::time::Duration,
    target: &super::target::ServerDb,
    work: impl AsyncFnOnce(&mut Session<C>) -> Result<T, LapiDbError>,
) -> Result<T, LapiDbError> {
    let timed_out = || {
        LapiDbError::Timeout(format!(
            "{} did not answer within {timeout:?}",
            target.redacted()
        ))
    };
    let mut guard = match turn {
        Turn::Now => session
            .clone()
            .try_lock_owned()
            .map_err(|_| LapiDbError::Busy)?,
        Turn::Wait => tokio::time::timeout(timeout, session.clone().lock_owned())
            .await
            .map_err(|_| timed_out())?,
    };
    let result = tokio::time::timeout(timeout, work(&mut guard))
        .await
        .unwrap_or_else(|_| Err(timed_out()));
    if result.is_err() {
        guard.conn = None;
    }
    result
}

async fn columns<C: TextConn>(
    c: &mut C,
    table: &str,
) -> Result<HashMap<String, bool>, LapiDbError> {
    let sql = format!(
        "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = {} AND table_name = '{table}'",
        C::CURRENT_SCHEMA
    );
    Ok(c.rows(&sql)
        .await?
        .into_iter()
        .filter_map(|mut r| {
            let nullable = r
                .get(1)
                .cloned()
                .flatten()
                .is_some_and(|v| v.eq_ignore_ascii_case("YES"));
            r.get_mut(0)?
                .take()
                .map(|n| (n.to_ascii_lowercase(), nullable))
        })
        .collect())
}

fn text(row: &mut TextRow, i: usize) -> Option<String> {
    row.get_mut(i).and_then(Option::take)
}

fn boolean(v: Option<String>) -> Option<bool> {
    match v?.as_str() {
        "1" | "t" | "true" | "TRUE" => Some(true),
        "0" | "f" | "false" | "FALSE" => Some(false),
        _ => None,
    }
}

fn time(v: Option<String>) -> RawTime {
    match v {
        None => RawTime::Null,
        Some(t) => match t.trim().parse::<f64>() {
            Ok(secs) if secs.is_finite() => RawTime::At(secs),
            _ => parse_timestamp(&t).map_or(RawTime::Unparseable, RawTime::At),
        },
    }
}

/// Why a table information_schema does not show is missing: no privilege on it (reason `permission`, with the
/// GRANT to run: every table the exporter reads), another schema (reason `schema`, naming it), else `absent`.
async fn missing_table<C: TextConn>(c: &mut C, table: &str, absent: LapiDbError) -> LapiDbError {
    let Some(sql) = C::TABLE_LOOKUP else {
        return absent;
    };
    let Ok(Some(found)) = c.first(sql, table).await else {
        return absent;
    };
    let p: Vec<&str> = found.splitn(4, '|').collect();
    let [schema, may_select, current, role] = p[..] else {
        return absent;
    };
    if current != "true" {
        return LapiDbError::OtherSchema {
            table: table.to_owned(),
            schema: schema.to_owned(),
            fix: format!("ALTER ROLE {role} SET search_path = {schema}"),
        };
    }
    if may_select == "true" {
        return absent;
    }
    LapiDbError::NoPrivilege {
        table: format!("{schema}.{table}"),
        grant: format!(
            "GRANT SELECT ON {schema}.bouncers, {schema}.metrics, {schema}.decisions, {schema}.machines TO {role}"
        ),
    }
}

/// Reads every bouncer and the usage metrics added since the last read.
pub(crate) async fn read_snapshot<C: TextConn>(
    c: &mut C,
    usage: &mut UsageCursor,
) -> Result<BouncerSnapshot, LapiDbError> {
    let cols = columns(c, "bouncers").await?;
    if cols.is_empty() {
        return Err(missing_table(c, "bouncers", LapiDbError::NoBouncersTable).await);
    }
    let nullable = cols.get("last_pull").copied().unwrap_or(false);
    let schema = Schema {
        last_pull_nullable: if C::NULLABILITY_IS_A_VERSION_SIGN {
            nullable
        } else {
            nullable && !cols.contains_key("until")
        },
        columns: cols.keys().cloned().collect::<HashSet<_>>(),
    };
    let list = BOUNCER_COLUMNS
        .iter()
        .map(|col| match *col {
            _ if !schema.columns.contains(*col) => "NULL".to_owned(),
            "last_pull" | "created_at" => C::epoch(col),
            _ => C::quote(col),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let order = if schema.columns.contains("id") {
        format!(" ORDER BY {}", C::quote("id"))
    } else {
        String::new()
    };
    let sql = format!("SELECT {list} FROM {}{order}", C::quote("bouncers"));
    let rows: Vec<RawRow> = c
        .rows(&sql)
        .await?
        .into_iter()
        .map(|mut r| RawRow {
            name: text(&mut r, 0).map(Into::into),
            ip_address: text(&mut r, 1).map(Into::into),
            bouncer_type: text(&mut r, 2).map(Into::into),
            version: text(&mut r, 3).map(Into::into),
            auth_type: text(&mut r, 4).map(Into::into),
            revoked: boolean(text(&mut r, 5)),
            last_pull: Some(time(text(&mut r, 6))),
            created_at: Some(time(text(&mut r, 7))),
            osname: text(&mut r, 8).map(Into::into),
            osversion: text(&mut r, 9).map(Into::into),
            auto_created: boolean(text(&mut r, 10)),
        })
        .collect();
    let names: NameSet<'_> = rows.iter().filter_map(|r| r.name.as_deref()).collect();
    advance(c, usage, &names).await?;
    usage.retain(&names);
    let (bouncers, bad_rows) = interpret(&schema, rows, &usage.newest);
    Ok(BouncerSnapshot {
        bouncers,
        schema: schema.generation(),
        bad_rows,
        usage: usage.totals.clone(),
        autodelete: Vec::new(),
    })
}

/// The `metrics` rows this read takes: the new ones (counted), then the backlog, within the budget (see
/// [`UsageCursor`]).
async fn advance<C: TextConn>(
    c: &mut C,
    usage: &mut UsageCursor,
    registered: &NameSet<'_>,
) -> Result<(), LapiDbError> {
    let cols = columns(c, "metrics").await?;
    if !["id", "generated_type", "generated_by", "received_at"]
        .iter()
        .all(|col| cols.contains_key(*col))
    {
        usage.no_table();
        return Ok(());
    }
    let (metrics, id) = (C::quote("metrics"), C::quote("id"));
    // NULL when the table is empty (every row flushed).
    let bounds = c
        .rows(&format!("SELECT min({id}), max({id}) FROM {metrics}"))
        .await?
        .first_mut()
        .and_then(|r| {
            let low = text(r, 0)?.parse::<i64>().ok()?;
            Some((low, text(r, 1)?.parse::<i64>().ok()?))
        });
    usage.bounds(bounds);
    // A payload over the bound is not even sent by the server (char_length <= bytes, checked again when parsed).
    let payload = if cols.contains_key("payload") {
        format!(
            "CASE WHEN char_length({p}) <= {MAX_PAYLOAD_BYTES} THEN {p} END, 1",
            p = C::quote("payload")
        )
    } else {
        "NULL, 0".to_owned()
    };
    let deadline = std::time::Instant::now() + usage_cursor::BUDGET;
    let mut first = true;
    while let Some(batch) = usage.next(first || std::time::Instant::now() < deadline, registered) {
        first = false;
        // Every bound is an integer this code formatted: nothing from the database is spliced into the SQL.
        let (range, order) = match batch {
            Batch::Forward { after, upto } => (format!("{id} > {after} AND {id} <= {upto}"), "ASC"),
            Batch::Backlog { from, below } => {
                (format!("{id} >= {from} AND {id} < {below}"), "DESC")
            }
        };
        let sql = format!(
            "SELECT {}, {}, {id}, {payload} FROM {metrics} WHERE {range} AND {} = 'RC' ORDER BY {id} {order}",
            C::quote("generated_by"),
            C::epoch("received_at"),
            C::quote("generated_type"),
        );
        for mut r in c.rows(&sql).await? {
            let name = text(&mut r, 0);
            let at = time(text(&mut r, 1));
            let Some(row_id) = text(&mut r, 2).and_then(|v| v.parse::<i64>().ok()) else {
                continue;
            };
            let text_payload = text(&mut r, 3);
            let payload = match (text(&mut r, 4).as_deref(), &text_payload) {
                (Some("1"), Some(t)) => Payload::Text(t.as_bytes()),
                (Some("1"), None) => Payload::TooLarge,
                _ => Payload::NoColumn,
            };
            match batch {
                Batch::Forward { .. } => usage.forward(row_id, name.as_deref(), at, payload),
                Batch::Backlog { .. } => usage.backlog(row_id, name.as_deref(), at, payload),
            }
        }
        usage.done(batch);
    }
    Ok(())
}

/// The active decisions (see [`crate::crowdsec::active_decisions`]): counted by the server (every decision, and the
/// distinct values of the `Ip`/`Range` ones, per origin); the active bans of those scopes read to find the
/// self-bans against the bouncers' and machines' addresses and `lapi_host`.
pub async fn read_active_decisions<C: TextConn>(
    c: &mut C,
    lapi_host: &[std::net::IpAddr],
) -> Result<crate::crowdsec::active_decisions::ActiveDecisions, LapiDbError> {
    use crate::crowdsec::active_decisions::{
        origin_label, ActiveDecisions, OwnAddresses, SelfBanCheck,
    };
    if columns(c, "decisions").await?.is_empty() {
        return Err(missing_table(c, "decisions", LapiDbError::NoDecisionsTable).await);
    }
    let q = C::quote;
    let active = format!(
        "{u} > {now} AND {sim} = false",
        u = q("until"),
        sim = q("simulated"),
        now = C::NOW,
    );
    let sql = format!(
        "SELECT {o}, CASE WHEN {o} = 'lists' THEN {s} END, count(*), count(DISTINCT CASE WHEN lower({sc}) IN ('ip', 'range') THEN {v} END) FROM {d} WHERE {active} GROUP BY 1, 2 ORDER BY 1, 2",
        o = q("origin"),
        s = q("scenario"),
        sc = q("scope"),
        v = q("value"),
        d = q("decisions"),
    );
    let mut out = ActiveDecisions::default();
    for mut r in c.rows(&sql).await? {
        let origin = text(&mut r, 0).unwrap_or_default();
        let scenario = text(&mut r, 1);
        let n = text(&mut r, 2).and_then(|v| v.parse().ok()).unwrap_or(0);
        let ips: u64 = text(&mut r, 3).and_then(|v| v.parse().ok()).unwrap_or(0);
        let label = origin_label(&origin, scenario.as_deref());
        if ips > 0 {
            out.add_ip(label.clone(), ips);
        }
        out.add(label, n);
    }
    let mut own = OwnAddresses::new(lapi_host.to_vec());
    for mut r in c
        .rows(&format!(
            "SELECT {}, {} FROM {}",
            q("name"),
            q("ip_address"),
            q("bouncers")
        ))
        .await?
    {
        own.add_bouncer(
            &text(&mut r, 0).unwrap_or_default(),
            &text(&mut r, 1).unwrap_or_default(),
        );
    }
    // The machines' addresses when the role may read them (README's grant names bouncers, metrics, decisions):
    // otherwise target `machine` is not judged, and nothing fails.
    if !columns(c, "machines").await?.is_empty() {
        let sql = format!("SELECT {} FROM {}", q("ip_address"), q("machines"));
        if let Ok(rows) = c.rows(&sql).await {
            own.machines = Some(Vec::new());
            for mut r in rows {
                own.add_machine(&text(&mut r, 0).unwrap_or_default());
            }
        }
    }
    let check = SelfBanCheck::new(&own);
    let sql = format!(
        "SELECT {o}, {s}, {sc}, {v} FROM {d} WHERE {active} AND lower({t}) = 'ban' AND lower({sc}) IN ('ip', 'range')",
        o = q("origin"),
        s = q("scenario"),
        sc = q("scope"),
        v = q("value"),
        t = q("type"),
        d = q("decisions"),
    );
    for mut r in c.rows(&sql).await? {
        let origin = text(&mut r, 0).unwrap_or_default();
        let scenario = text(&mut r, 1).unwrap_or_default();
        let scope = text(&mut r, 2).unwrap_or_default();
        let value = text(&mut r, 3).unwrap_or_default();
        let label = origin_label(&origin, Some(&scenario));
        check.check(&mut out, "ban", &scope, &value, &label, &scenario);
    }
    check.finish(&mut out);
    Ok(out)
}

/// The log processors (table `machines`, see [`crate::crowdsec::machines`]); times computed by the server.
pub async fn read_machines<C: TextConn>(
    c: &mut C,
) -> Result<crate::crowdsec::machines::MachineSnapshot, LapiDbError> {
    use crate::crowdsec::machines::{
        interpret_machines, RawMachine, MACHINE_COLUMNS, REQUIRED_MACHINE_COLUMNS,
    };
    let cols = columns(c, "machines").await?;
    if cols.is_empty() {
        return Err(missing_table(c, "machines", LapiDbError::NoMachinesTable).await);
    }
    if let Some(col) = REQUIRED_MACHINE_COLUMNS
        .iter()
        .find(|col| !cols.contains_key(**col))
    {
        return Err(LapiDbError::NoMachinesColumn(col));
    }
    let list = MACHINE_COLUMNS
        .iter()
        .map(|col| match *col {
            _ if !cols.contains_key(*col) => "NULL".to_owned(),
            "last_heartbeat" | "last_push" => C::epoch(col),
            _ => C::quote(col),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {list} FROM {} ORDER BY {}",
        C::quote("machines"),
        C::quote("id")
    );
    let rows = c
        .rows(&sql)
        .await?
        .into_iter()
        .map(|mut r| RawMachine {
            machine_id: text(&mut r, 0),
            ip_address: text(&mut r, 1),
            version: text(&mut r, 2),
            auth_type: text(&mut r, 3),
            is_validated: boolean(text(&mut r, 4)),
            last_heartbeat: Some(time(text(&mut r, 5))),
            last_push: Some(time(text(&mut r, 6))),
        })
        .collect();
    Ok(interpret_machines(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values() {
        assert_eq!(boolean(Some("t".into())), Some(true));
        assert_eq!(boolean(Some("0".into())), Some(false));
        assert_eq!(boolean(Some("maybe".into())), None);
        assert_eq!(
            time(Some("1704164645.123457".into())),
            RawTime::At(1_704_164_645.123_457)
        );
        assert_eq!(
            time(Some("1704164645".into())),
            RawTime::At(1_704_164_645.0)
        );
        assert_eq!(time(None), RawTime::Null);
        assert_eq!(time(Some("NaN".into())), RawTime::Unparseable);
        assert_eq!(time(Some("soon".into())), RawTime::Unparseable);
    }
}
