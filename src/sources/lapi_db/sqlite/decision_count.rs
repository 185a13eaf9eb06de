//! `crowdsec_lapi_active_decisions` from a SQLite database: the `decisions` table, counted by origin.

use std::sync::atomic::Ordering;

use super::{text, time, SqliteDb};
use crate::crowdsec::active_decisions::{origin_label, ActiveDecisions};
use crate::crowdsec::bouncers::RawTime;
use crate::sources::lapi_db::LapiDbError;
use crate::values::time::UnixSeconds;

impl SqliteDb {
    /// The active decisions (see [`crate::crowdsec::active_decisions`]) at `now`, off the async runtime.
    ///
    /// # Errors
    /// `Busy` while another count runs, `NoDecisionsTable` (reason `schema`), and the open/query errors of a read.
    pub async fn active_decisions(&self, now: UnixSeconds) -> Result<ActiveDecisions, LapiDbError> {
        if self.running.swap(true, Ordering::SeqCst) {
            return Err(LapiDbError::Busy);
        }
        let db = self.clone();
        let result = tokio::task::spawn_blocking(move || {
            let r = db.active_decisions_blocking(now);
            db.running.store(false, Ordering::SeqCst);
            r
        })
        .await;
        result.unwrap_or_else(|e| {
            self.running.store(false, Ordering::SeqCst);
            Err(LapiDbError::Query(format!("reader thread failed: {e}")))
        })
    }

    /// As [`SqliteDb::active_decisions`], on the calling thread. Times are text whose format depends on the
    /// driver (and on pre-1.3 local offsets), so each `until` is parsed here; the SQL only drops, through the
    /// `until` index, rows that ended more than a day before (a date prefix compares the same in every format).
    ///
    /// # Errors
    /// As [`SqliteDb::active_decisions`], without `Busy`.
    pub fn active_decisions_blocking(
        &self,
        now: UnixSeconds,
    ) -> Result<ActiveDecisions, LapiDbError> {
        let conn = self.open()?;
        let has_table: bool = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'decisions'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.classify(e))?;
        if !has_table {
            return Err(LapiDbError::NoDecisionsTable);
        }
        let cutoff = crate::values::time::format_rfc3339(now - 86_400.0);
        let day = cutoff.get(..10).unwrap_or("0000-00-00").to_owned();
        let mut stmt = conn
            .prepare(
                "SELECT origin, CASE WHEN origin = 'lists' THEN scenario END, until FROM decisions \
                 WHERE until >= ?1 AND NOT simulated",
            )
            .map_err(|e| self.classify(e))?;
        let mut rows = stmt.query([day]).map_err(|e| self.classify(e))?;
        let mut counts: std::collections::BTreeMap<(String, Option<String>), u64> =
            Default::default();
        while let Some(r) = rows.next().map_err(|e| self.classify(e))? {
            let active = matches!(time(r.get_ref(2).map_err(|e| self.classify(e))?), RawTime::At(t) if t > now);
            if !active {
                continue;
            }
            let origin = text(r.get_ref(0).map_err(|e| self.classify(e))?).unwrap_or_default();
            let scenario = text(r.get_ref(1).map_err(|e| self.classify(e))?);
            *counts.entry((origin, scenario)).or_default() += 1;
        }
        let mut out = ActiveDecisions::default();
        for ((origin, scenario), n) in counts {
            out.add(origin_label(&origin, scenario.as_deref()), n);
        }
        Ok(out)
    }
}
