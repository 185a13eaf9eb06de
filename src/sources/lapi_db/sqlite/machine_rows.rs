//! Log processors from a SQLite database: the `machines` table (see [`crate::crowdsec::machines`]).

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use super::{boolean, text, time, SqliteDb};
use crate::crowdsec::machines::{
    interpret_machines, MachineSnapshot, RawMachine, MACHINE_COLUMNS, REQUIRED_MACHINE_COLUMNS,
};
use crate::sources::lapi_db::LapiDbError;

impl SqliteDb {
    /// Every row of `machines`, off the async runtime.
    ///
    /// # Errors
    /// `Busy` while another read of this handle runs, `NoMachinesTable` / `NoMachinesColumn` (reason `schema`),
    /// and the open/query errors of a read.
    pub async fn machines(&self) -> Result<MachineSnapshot, LapiDbError> {
        if self.running.swap(true, Ordering::SeqCst) {
            return Err(LapiDbError::Busy);
        }
        let db = self.clone();
        let result = tokio::task::spawn_blocking(move || {
            let r = db.machines_blocking();
            db.running.store(false, Ordering::SeqCst);
            r
        })
        .await;
        result.unwrap_or_else(|e| {
            self.running.store(false, Ordering::SeqCst);
            Err(LapiDbError::Query(format!("reader thread failed: {e}")))
        })
    }

    /// As [`SqliteDb::machines`], on the calling thread. Times are parsed here, as for the bouncers (their text
    /// format depends on the driver that wrote them).
    ///
    /// # Errors
    /// As [`SqliteDb::machines`], without `Busy`.
    pub fn machines_blocking(&self) -> Result<MachineSnapshot, LapiDbError> {
        let conn = self.open()?;
        let columns: HashSet<String> = {
            let mut stmt = conn
                .prepare("SELECT name FROM pragma_table_info('machines')")
                .map_err(|e| self.classify(e))?;
            let names = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| self.classify(e))?
                .collect::<Result<_, _>>()
                .map_err(|e| self.classify(e))?;
            names
        };
        if columns.is_empty() {
            return Err(LapiDbError::NoMachinesTable);
        }
        if let Some(c) = REQUIRED_MACHINE_COLUMNS
            .iter()
            .find(|c| !columns.contains(**c))
        {
            return Err(LapiDbError::NoMachinesColumn(c));
        }
        let list = MACHINE_COLUMNS
            .iter()
            .map(|c| {
                if columns.contains(*c) {
                    format!("\"{c}\"")
                } else {
                    "NULL".to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut stmt = conn
            .prepare(&format!("SELECT {list} FROM machines ORDER BY id"))
            .map_err(|e| self.classify(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.classify(e))?;
        let mut raw = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.classify(e))? {
            let v = |i: usize| r.get_ref(i).map_err(|e| self.classify(e));
            raw.push(RawMachine {
                machine_id: text(v(0)?),
                ip_address: text(v(1)?),
                version: text(v(2)?),
                auth_type: text(v(3)?),
                is_validated: boolean(v(4)?),
                last_heartbeat: Some(time(v(5)?)),
                last_push: Some(time(v(6)?)),
            });
        }
        Ok(interpret_machines(raw))
    }
}
