//! `crowdsec_lapi_active_decisions`, `crowdsec_lapi_active_ip_decisions` and the self-bans from a SQLite database:
//! the `decisions` table read once, with the bouncers' and machines' addresses.

use std::sync::atomic::Ordering;

use super::{text, text_ref, time, SqliteDb};
use crate::crowdsec::active_decisions::{
    origin_label, ActiveDecisions, IpTally, OwnAddresses, SelfBanCheck,
};
use crate::crowdsec::bouncers::RawTime;
use crate::sources::lapi_db::LapiDbError;
use crate::values::time::UnixSeconds;

impl SqliteDb {
    /// The active decisions (see [`crate::crowdsec::active_decisions`]) at `now`, off the async runtime.
    ///
    /// # Errors
    /// `Busy` while another count runs, `NoDecisionsTable` (reason `schema`), and the open/query errors of a read.
    pub async fn active_decisions(
        &self,
        now: UnixSeconds,
        lapi_host: Vec<std::net::IpAddr>,
    ) -> Result<ActiveDecisions, LapiDbError> {
        if self.running.swap(true, Ordering::SeqCst) {
            return Err(LapiDbError::Busy);
        }
        let db = self.clone();
        let result = tokio::task::spawn_blocking(move || {
            let r = db.active_decisions_blocking(now, &lapi_host);
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
        lapi_host: &[std::net::IpAddr],
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
        let own = own_addresses(&conn, lapi_host).map_err(|e| self.classify(e))?;
        let check = SelfBanCheck::new(&own);
        let cutoff = crate::values::time::format_rfc3339(now - 86_400.0);
        let day = cutoff.get(..10).unwrap_or("0000-00-00").to_owned();
        let mut stmt = conn
            .prepare(
                "SELECT origin, scenario, until, type, scope, value FROM decisions \
                 WHERE until >= ?1 AND NOT simulated",
            )
            .map_err(|e| self.classify(e))?;
        let mut rows = stmt.query([day]).map_err(|e| self.classify(e))?;
        let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
        let mut ips = IpTally::default();
        let mut out = ActiveDecisions::default();
        while let Some(r) = rows.next().map_err(|e| self.classify(e))? {
            let active = matches!(time(r.get_ref(2).map_err(|e| self.classify(e))?), RawTime::At(t) if t > now);
            if !active {
                continue;
            }
            let col = |i| r.get_ref(i).map(text).map_err(|e| self.classify(e));
            let origin = col(0)?.unwrap_or_default();
            let scenario = col(1)?.unwrap_or_default();
            let (kind, scope, value) = (
                col(3)?.unwrap_or_default(),
                col(4)?.unwrap_or_default(),
                col(5)?.unwrap_or_default(),
            );
            let label = origin_label(
                &origin,
                Some(scenario.as_str()).filter(|_| origin == "lists"),
            );
            ips.add(&label, &scope, &value);
            check.check(&mut out, &kind, &scope, &value, &label, &scenario);
            *counts.entry(label).or_default() += 1;
        }
        for (origin, n) in counts {
            out.add(origin, n);
        }
        ips.finish(&mut out);
        check.finish(&mut out);
        Ok(out)
    }
}

/// The addresses of the registered bouncers and machines (a database without a `machines` table, or one it may
/// not read, leaves the machines unread).
fn own_addresses(
    conn: &rusqlite::Connection,
    lapi_host: &[std::net::IpAddr],
) -> Result<OwnAddresses, rusqlite::Error> {
    let mut own = OwnAddresses::new(lapi_host.to_vec());
    let mut stmt = conn.prepare("SELECT name, ip_address FROM bouncers")?;
    let mut rows = stmt.query([])?;
    // Borrowed from SQLite's buffers: no string per row (issue 22's cold scrape).
    while let Some(r) = rows.next()? {
        own.add_bouncer(&text_ref(r.get_ref(0)?), &text_ref(r.get_ref(1)?));
    }
    if let Ok(mut stmt) = conn.prepare("SELECT ip_address FROM machines") {
        own.machines = Some(Vec::new());
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            own.add_machine(&text_ref(r.get_ref(0)?));
        }
    }
    Ok(own)
}
