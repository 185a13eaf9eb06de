//! Source `lapi_machines`: a LAPI's log processors (its `machines` table, see [`crate::crowdsec::machines`]), read
//! from the same database as its bouncers, on a handle of its own (own connection on a server) so that neither
//! read waits for the other. Absent for a LAPI read through cscli (no database). A database whose role may not read
//! `machines` makes this source `permission`, never the bouncers' source: the two are independent.

use std::sync::Arc;

use crate::crowdsec::machines::MachineSnapshot;
use crate::sources::lapi_db::LapiDbSource;
use crate::sources::{Failure, Source, SourceFailure};

/// The `source` label.
pub const SOURCE: &str = "lapi_machines";

/// Source `lapi_machines`: a LAPI's log processors.
#[derive(Debug)]
pub struct LapiMachinesSource {
    db: LapiDbSource,
}

impl LapiMachinesSource {
    /// `db` is a database source of its own (named after the LAPI).
    pub fn new(db: LapiDbSource) -> Self {
        LapiMachinesSource { db }
    }
}

impl Source for LapiMachinesSource {
    type Snapshot = MachineSnapshot;
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn name(&self) -> &str {
        Source::name(&self.db)
    }
    fn lapi(&self) -> Option<&str> {
        Some(Source::name(&self.db))
    }
    async fn read(self: Arc<Self>) -> Result<MachineSnapshot, SourceFailure> {
        let db = self.db.resolve().map_err(|e| e.to_failure())?;
        db.machines().await.map_err(|e| e.to_failure())
    }
}
