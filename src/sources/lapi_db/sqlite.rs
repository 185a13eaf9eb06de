//! CrowdSec's default database: a SQLite file, opened read-only.
//!
//! Read-only opening has one trap: a WAL database needs its `-wal`/`-shm` files. While CrowdSec runs they exist
//! and SQLite (3.22+) reads them without write access. When they are absent and cannot be created (read-only
//! mount, folder not writable), no writer is running and everything is checkpointed, so the file is opened with
//! `immutable=1` instead, which needs neither.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};

mod decision_count;
mod machine_rows;

use super::usage_cursor::{self, Batch, Payload, UsageCursor};
use super::{auth_type, interpret_row, LapiDbError, NameMap, NameSet, RawRow, Schema};
use crate::crowdsec::bouncers::{Bouncer, BouncerSnapshot, RawTime};
use crate::values::time::{parse_timestamp, UnixSeconds};

/// The longest wait SQLite's `busy_timeout` can take: `i32::MAX` milliseconds.
const MAX_BUSY_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// A CrowdSec SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteDb {
    path: PathBuf,
    busy_timeout: Duration,
    /// Set while a read runs on a blocking thread: a hung file system must not pile up threads.
    running: Arc<AtomicBool>,
    /// Newest usage-metrics push per bouncer and the usage counters, read incrementally (see [`UsageCursor`]).
    usage: Arc<Mutex<UsageCursor>>,
    /// Time a read may spend on usage reports after its first batch.
    usage_budget: Duration,
    /// Rows of the previous read: the next read's room, so 10,000 rows are not moved by doubling (issue 22).
    rows_seen: Arc<AtomicUsize>,
}

impl SqliteDb {
    /// The SQLite file at `path`, opened read-only per read; `busy_timeout` bounds the wait on CrowdSec's locks.
    pub fn new(path: impl Into<PathBuf>, busy_timeout: Duration) -> Self {
        SqliteDb {
            path: path.into(),
            busy_timeout,
            running: Arc::new(AtomicBool::new(false)),
            usage: Arc::new(Mutex::new(UsageCursor::default())),
            usage_budget: usage_cursor::BUDGET,
            rows_seen: Arc::default(),
        }
    }

    /// The same database with another time budget per read for the usage reports (default 1 s; zero: one batch
    /// of 5,000 rows per read), so tests and benchmarks can watch the backlog being read behind the rows.
    pub fn with_usage_budget(mut self, budget: Duration) -> Self {
        self.usage_budget = budget;
        self
    }

    /// Whether usage reports stored before the first read are still to be read (see [`UsageCursor`]): benchmarks
    /// and tests read until it is false.
    pub fn usage_backlog_pending(&self) -> bool {
        self.usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .backlog_pending()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads every bouncer off the async runtime.
    pub(crate) async fn read(&self) -> Result<BouncerSnapshot, LapiDbError> {
        if self.running.swap(true, Ordering::SeqCst) {
            return Err(LapiDbError::Busy);
        }
        let db = self.clone();
        let result = tokio::task::spawn_blocking(move || {
            let r = db.read_blocking();
            db.running.store(false, Ordering::SeqCst);
            r
        })
        .await;
        result.unwrap_or_else(|e| {
            self.running.store(false, Ordering::SeqCst);
            Err(LapiDbError::Query(format!("reader thread failed: {e}")))
        })
    }

    /// Reads every bouncer, on the calling thread.
    ///
    /// # Errors
    /// A [`LapiDbError`]: missing file, permission, not SQLite, cannot open, locked, corrupt, no `bouncers` table,
    /// a failed query.
    pub fn read_blocking(&self) -> Result<BouncerSnapshot, LapiDbError> {
        let conn = self.open()?;
        let schema = bouncers_schema(&conn)
            .map_err(|e| self.classify(e))?
            .ok_or(LapiDbError::NoBouncersTable)?;
        // The rows first, with no usage map yet: their names are the registered ones the usage backlog is read
        // for (no second scan of the table for them), and each row's newest report is filled in after.
        let room = self.rows_seen.load(Ordering::Relaxed);
        let (mut bouncers, bad_rows) =
            read_bouncers(&conn, &schema, &NameMap::default(), room + room / 64)
                .map_err(|e| self.classify(e))?;
        self.rows_seen.store(bouncers.len(), Ordering::Relaxed);
        let registered: NameSet<'_> = bouncers.iter().map(Bouncer::name).collect();
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        advance(&mut usage, &conn, &registered, self.usage_budget).map_err(|e| self.classify(e))?;
        // Forget deleted bouncers, so the maps never outgrow the table.
        usage.retain(&registered);
        drop(registered);
        for b in &mut bouncers {
            b.last_usage_metrics = usage.newest.get(b.name()).copied();
        }
        Ok(BouncerSnapshot {
            bouncers,
            schema: schema.generation(),
            bad_rows,
            usage: usage.totals.clone(),
            autodelete: Vec::new(),
        })
    }

    /// The bouncer registered with this key hash (`auth_type = 'api-key'`), asked row by row in the database so
    /// no hash is ever loaded. The hash is bound as a parameter and never logged nor put in an error.
    pub(crate) fn bouncer_for_key_hash(
        &self,
        hash: &crate::values::secret::Secret,
    ) -> Result<Option<String>, LapiDbError> {
        use rusqlite::OptionalExtension;
        let conn = self.open()?;
        conn.query_row(
            "SELECT name FROM bouncers WHERE api_key = ?1 AND auth_type = 'api-key' LIMIT 1",
            [hash.expose()],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| self.classify(e))
    }

    /// Whether a bouncer of that name is registered (for the installers' `<config>.id` files).
    pub(crate) fn bouncer_registered(&self, name: &str) -> Result<bool, LapiDbError> {
        let conn = self.open()?;
        conn.query_row(
            "SELECT count(*) FROM bouncers WHERE name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| self.classify(e))
    }

    fn open(&self) -> Result<Connection, LapiDbError> {
        match std::fs::metadata(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LapiDbError::MissingFile(self.path.clone()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(permission(&self.path))
            }
            Err(e) => {
                return Err(LapiDbError::Open {
                    path: self.path.clone(),
                    message: e.kind().to_string(),
                })
            }
            Ok(m) if !m.is_file() => return Err(LapiDbError::NotSqlite(self.path.clone())),
            Ok(_) => {}
        }
        // SQLite says only "unable to open database file" for a file it may not read, and the immutable fallback
        // below would then fail with the same words: ask the file system first, so the cause and its fix are
        // named. A -wal or -shm file that exists but cannot be read is the same problem (the fallback would
        // silently skip the newest pulls, which live in the -wal file).
        readable(&self.path)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = self.path.as_os_str().to_owned();
            side.push(suffix);
            let side = PathBuf::from(side);
            if std::fs::metadata(&side).is_ok_and(|m| m.is_file()) {
                readable(&side)?;
            }
        }
        match self.open_with("mode=ro") {
            Err(first @ (LapiDbError::Open { .. } | LapiDbError::Permission { .. })) => {
                tracing::debug!(path = %self.path.display(), "WAL files not usable read-only; opening immutable");
                // The fallback is an implementation detail: when it fails too, report the first attempt.
                self.open_with("immutable=1").map_err(|_| first)
            }
            other => other,
        }
    }

    fn open_with(&self, params: &str) -> Result<Connection, LapiDbError> {
        let uri = format!("file:{}?{params}", uri_path(&self.path));
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(uri, flags).map_err(|e| self.classify(e))?;
        // SQLite takes an i32 of milliseconds (24.8 days) and rusqlite panics above it ("too big"): a longer
        // `--lapi.timeout` (a user's 1000d) waits that long, the same for any read.
        conn.busy_timeout(self.busy_timeout.min(MAX_BUSY_TIMEOUT))
            .map_err(|e| self.classify(e))?;
        // Opening is lazy: touch the schema now so WAL and format problems surface here.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(|e| self.classify(e))?;
        Ok(conn)
    }

    fn classify(&self, e: rusqlite::Error) -> LapiDbError {
        let code = match &e {
            rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
            _ => None,
        };
        match code {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => LapiDbError::Locked,
            Some(ErrorCode::NotADatabase) => LapiDbError::NotSqlite(self.path.clone()),
            Some(ErrorCode::PermissionDenied) => permission(&self.path),
            Some(ErrorCode::DatabaseCorrupt) => LapiDbError::Corrupt(e.to_string()),
            Some(ErrorCode::CannotOpen) | Some(ErrorCode::ReadOnly) => LapiDbError::Open {
                path: self.path.clone(),
                message: without_uri(&e.to_string()),
            },
            _ => LapiDbError::Query(e.to_string()),
        }
    }
}

/// The permission error for `path`, with who may read it and the fix.
fn permission(path: &Path) -> LapiDbError {
    LapiDbError::Permission {
        path: path.to_owned(),
        hint: super::access::permission_hint(path),
    }
}

/// Ok when the exporter's user may open `path` for reading.
fn readable(path: &Path) -> Result<(), LapiDbError> {
    match crate::values::file::open_regular(path) {
        Err(crate::values::file::FileError::Permission) => Err(permission(path)),
        // Anything else is for SQLite to report.
        _ => Ok(()),
    }
}

/// SQLite's open errors end with the URI opened (`...: file:/x.db?immutable=1`): the path is already in the
/// error, and the URI's parameters are internals.
fn without_uri(message: &str) -> String {
    match message.find(": file:") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Percent-encodes a path for a `file:` URI (SQLite decodes `%HH`; `?` and `#` would end the path).
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn bouncers_schema(conn: &Connection) -> rusqlite::Result<Option<Schema>> {
    let mut stmt = conn.prepare("SELECT name, \"notnull\" FROM pragma_table_info('bouncers')")?;
    let mut columns = HashSet::new();
    let mut last_pull_nullable = false;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        if name == "last_pull" {
            last_pull_nullable = row.get::<_, i64>(1)? == 0;
        }
        columns.insert(name);
    }
    Ok((!columns.is_empty()).then_some(Schema {
        columns,
        last_pull_nullable,
    }))
}

/// Reads the `metrics` rows (CrowdSec 1.6.3+) this read takes: the new ones (counted), then the backlog, within
/// `budget` (see [`UsageCursor`]).
fn advance(
    cursor: &mut UsageCursor,
    conn: &Connection,
    registered: &NameSet<'_>,
    budget: Duration,
) -> rusqlite::Result<()> {
    let cols: HashSet<String> = conn
        .prepare("SELECT name FROM pragma_table_info('metrics')")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if !["id", "generated_type", "generated_by", "received_at"]
        .iter()
        .all(|c| cols.contains(*c))
    {
        cursor.no_table();
        return Ok(());
    }
    let has_payload = cols.contains("payload");
    // Two queries, each O(log n) on the rowid: SQLite's min/max optimization takes a query with one aggregate only
    // (`SELECT min(id), max(id)` scans the whole table: 0.6 s at 1.3 million rows). NULL when the table is empty.
    let end = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, Option<i64>>(0));
    let bounds = end("SELECT min(id) FROM metrics")?.zip(end("SELECT max(id) FROM metrics")?);
    cursor.bounds(bounds);
    let payload = if has_payload { "payload" } else { "NULL" };
    let forward = format!("SELECT generated_by, received_at, id, {payload} FROM metrics WHERE id > ?1 AND id <= ?2 AND generated_type = 'RC' ORDER BY id");
    let backlog = format!("SELECT generated_by, received_at, id, {payload} FROM metrics WHERE id >= ?1 AND id < ?2 AND generated_type = 'RC' ORDER BY id DESC");
    let deadline = Instant::now() + budget;
    let mut first = true;
    while let Some(batch) = cursor.next(first || Instant::now() < deadline, registered) {
        first = false;
        let (sql, bounds) = match batch {
            Batch::Forward { after, upto } => (&forward, [after, upto]),
            Batch::Backlog { from, below } => (&backlog, [from, below]),
        };
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query(bounds)?;
        while let Some(row) = rows.next()? {
            let name = text(row.get_ref(0)?);
            let at = time(row.get_ref(1)?);
            let id: i64 = row.get(2)?;
            // Borrowed from SQLite's buffer: a payload is never copied before its size is checked.
            let payload = match row.get_ref(3)? {
                _ if !has_payload => Payload::NoColumn,
                ValueRef::Text(t) | ValueRef::Blob(t) => Payload::Text(t),
                _ => Payload::Text(&[][..]),
            };
            match batch {
                Batch::Forward { .. } => cursor.forward(id, name.as_deref(), at, payload),
                Batch::Backlog { .. } => cursor.backlog(id, name.as_deref(), at, payload),
            }
        }
        cursor.done(batch);
    }
    Ok(())
}

/// Streams the rows into bouncers (no intermediate copy of the table: it matters at 10,000 bouncers).
fn read_bouncers(
    conn: &Connection,
    schema: &Schema,
    usage: &NameMap<UnixSeconds>,
    room: usize,
) -> rusqlite::Result<(Vec<Bouncer>, usize)> {
    let sql = format!("SELECT {} FROM bouncers ORDER BY id", schema.select_list());
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::with_capacity(room);
    let mut bad = 0;
    while let Some(r) = rows.next()? {
        // The text borrowed from SQLite's buffers: the bouncer's one string is made of it (issue 22).
        let row = RawRow {
            name: text_cow(r.get_ref(0)?),
            ip_address: text_cow(r.get_ref(1)?),
            bouncer_type: text_cow(r.get_ref(2)?),
            version: text_cow(r.get_ref(3)?),
            auth_type: match r.get_ref(4)? {
                ValueRef::Null => None,
                v => Some(auth_type(&text_ref(v))),
            },
            revoked: boolean(r.get_ref(5)?),
            last_pull: Some(time(r.get_ref(6)?)),
            created_at: Some(time(r.get_ref(7)?)),
            osname: text_cow(r.get_ref(8)?),
            osversion: text_cow(r.get_ref(9)?),
            auto_created: boolean(r.get_ref(10)?),
        };
        let (bouncer, unreadable) = interpret_row(schema, row, usage);
        bad += usize::from(unreadable);
        out.push(bouncer);
    }
    Ok((out, bad))
}

fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        // UTF-8 checked first (the fast path of valid text, what CrowdSec writes), lossy only when it is not.
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(match std::str::from_utf8(t) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        }),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
    }
}

/// As [`text`], borrowed from SQLite's buffer when it can be.
fn text_cow(v: ValueRef<'_>) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        ValueRef::Null => None,
        v => Some(text_ref(v)),
    }
}

/// As [`text`], borrowed from SQLite's buffer when it can be (empty for NULL).
fn text_ref(v: ValueRef<'_>) -> std::borrow::Cow<'_, str> {
    match v {
        ValueRef::Null => "".into(),
        // As in `text`: the UTF-8 check first, the lossy path only for invalid text.
        ValueRef::Text(t) | ValueRef::Blob(t) => match std::str::from_utf8(t) {
            Ok(s) => s.into(),
            Err(_) => String::from_utf8_lossy(t),
        },
        ValueRef::Integer(i) => i.to_string().into(),
        ValueRef::Real(f) => f.to_string().into(),
    }
}

fn boolean(v: ValueRef<'_>) -> Option<bool> {
    match v {
        ValueRef::Integer(i) => Some(i != 0),
        ValueRef::Real(f) => Some(f != 0.0),
        ValueRef::Text(t) => match t {
            b"1" | b"true" | b"TRUE" | b"t" => Some(true),
            b"0" | b"false" | b"FALSE" | b"f" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn time(v: ValueRef<'_>) -> RawTime {
    match v {
        ValueRef::Null => RawTime::Null,
        ValueRef::Text(t) => std::str::from_utf8(t)
            .ok()
            .and_then(parse_timestamp)
            .map_or(RawTime::Unparseable, RawTime::At),
        // Not what CrowdSec writes, but a Unix time is unambiguous.
        ValueRef::Integer(i) => RawTime::At(i as f64),
        ValueRef::Real(f) if f.is_finite() => RawTime::At(f),
        _ => RawTime::Unparseable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_errors_do_not_show_the_uri() {
        assert_eq!(
            without_uri("unable to open database file: file:/a%20b.db?immutable=1"),
            "unable to open database file"
        );
        assert_eq!(without_uri("disk I/O error"), "disk I/O error");
    }

    #[test]
    fn uri_path_escapes_what_would_end_the_path() {
        assert_eq!(
            uri_path(Path::new("/var/lib/a b/c?d#e%.db")),
            "/var/lib/a%20b/c%3Fd%23e%25.db"
        );
    }
}
