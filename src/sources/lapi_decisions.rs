//! Source `lapi_decisions`: a LAPI's active decisions by origin, counted in its database (see
//! [`crate::crowdsec::active_decisions`]). Its own source, with its own cache interval (`--lapi.decisions-interval`,
//! default 60 s), because a community blocklist makes the table tens of thousands of rows: counting them on every
//! bouncers read would cost each scrape. It uses its own handle on the database (own connection on a server), so
//! neither read waits for the other. Absent for a LAPI read through cscli (no database).

use std::sync::Arc;

use crate::crowdsec::active_decisions::ActiveDecisions;
use crate::sources::lapi_db::LapiDbSource;
use crate::sources::{Failure, Source, SourceFailure};

/// The `source` label.
pub const SOURCE: &str = "lapi_decisions";

/// Source `lapi_decisions`: a LAPI's active decisions by origin, on its own database handle and interval.
#[derive(Debug)]
pub struct LapiDecisionsSource {
    db: LapiDbSource,
}

impl LapiDecisionsSource {
    /// `db` is a database source of its own (named after the LAPI).
    pub fn new(db: LapiDbSource) -> Self {
        LapiDecisionsSource { db }
    }
}

impl Source for LapiDecisionsSource {
    type Snapshot = ActiveDecisions;
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn name(&self) -> &str {
        Source::name(&self.db)
    }
    fn lapi(&self) -> Option<&str> {
        Some(Source::name(&self.db))
    }
    async fn read(self: Arc<Self>) -> Result<ActiveDecisions, SourceFailure> {
        let db = self.db.resolve().map_err(|e| e.to_failure())?;
        db.active_decisions(crate::values::time::now())
            .await
            .map_err(|e| e.to_failure())
    }
}
