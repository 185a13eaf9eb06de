//! What `lapi_decisions` and `lapi_machines` share: a source that reads one more table of a LAPI's database, beside
//! its bouncers, on a database handle of its own (own connection on a server), so that neither read waits for the
//! other and a table the role may not read fails this source only. It is named after the LAPI and carries its
//! `lapi` label; a LAPI read through cscli has no database, so no such source.

use std::future::Future;
use std::sync::Arc;

use crate::sources::lapi_db::LapiDbSource;
use crate::sources::{Source, SourceFailure};

/// One table read: the `source` label and what a read of the found database returns.
pub trait Table: std::fmt::Debug + Send + Sync + 'static {
    /// The `source` label.
    const SOURCE: &'static str;
    /// What one good read returns (see [`Source::Snapshot`]).
    type Snapshot: std::fmt::Debug + Send + Sync + 'static;
    /// Reads the table in the LAPI's database (found by `LapiDbSource::found`).
    fn read(
        &self,
        db: &LapiDbSource,
    ) -> impl Future<Output = Result<Self::Snapshot, SourceFailure>> + Send;
}

/// A source reading table `T` of a LAPI's database on its own handle.
#[derive(Debug)]
pub struct TableSource<T> {
    db: LapiDbSource,
    pub(crate) table: T,
}

impl<T> TableSource<T> {
    /// `db` is a database source of its own (named after the LAPI).
    pub(crate) fn reading(db: LapiDbSource, table: T) -> Self {
        TableSource { db, table }
    }
}

impl<T: Table> Source for TableSource<T> {
    type Snapshot = T::Snapshot;
    fn source(&self) -> &'static str {
        T::SOURCE
    }
    fn name(&self) -> &str {
        Source::name(&self.db)
    }
    fn lapi(&self) -> Option<&str> {
        Some(Source::name(&self.db))
    }
    async fn read(self: Arc<Self>) -> Result<T::Snapshot, SourceFailure> {
        self.table.read(&self.db).await
    }
}
