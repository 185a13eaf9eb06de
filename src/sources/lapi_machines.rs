//! Source `lapi_machines`: a LAPI's log processors (its `machines` table, see [`crate::crowdsec::machines`]), read
//! from the same database as its bouncers, on a handle of its own (own connection on a server) so that neither
//! read waits for the other. Absent for a LAPI read through cscli (no database). A database whose role may not read
//! `machines` makes this source `permission`, never the bouncers' source: the two are independent.

use crate::crowdsec::machines::MachineSnapshot;
use crate::sources::lapi_db::LapiDbSource;
use crate::sources::lapi_table::{Table, TableSource};
use crate::sources::{Failure, SourceFailure};

/// The `source` label.
pub const SOURCE: &str = "lapi_machines";

/// Source `lapi_machines`: a LAPI's log processors.
pub type LapiMachinesSource = TableSource<Machines>;

/// Table `machines`.
#[derive(Debug)]
pub struct Machines;

impl LapiMachinesSource {
    /// `db` is a database source of its own (named after the LAPI).
    pub fn new(db: LapiDbSource) -> Self {
        TableSource::reading(db, Machines)
    }
}

impl Table for Machines {
    const SOURCE: &'static str = SOURCE;
    type Snapshot = MachineSnapshot;
    async fn read(&self, db: &LapiDbSource) -> Result<MachineSnapshot, SourceFailure> {
        db.found()?.machines().await.map_err(|e| e.to_failure())
    }
}
