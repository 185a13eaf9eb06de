//! Where a LAPI's usage reports (table `metrics`) have been read up to, for every engine.
//!
//! The table holds one row per reporting bouncer every ~15 min for 7 days: 1.3 million rows at 2,000 bouncers,
//! 6.7 million at 10,000. Two rules keep that off the bouncer rows' path (issue 22):
//!
//! - **Counted: the reports received after the exporter's first look at the table.** The id of the newest row
//!   then is the start; rows above it are counted (forward, in batches), so a restart reads as a counter reset
//!   from 0 and `increase()` adds no stored week again. Reports the LAPI received while the exporter was down are
//!   not counted (at most the restart gap: one 15-minute window per bouncer for a short restart).
//! - **The backlog (rows up to the start) is read behind, newest first, in batches, within a time budget per
//!   read.** It gives what a scrape needs from the past: each bouncer's newest report time (the liveness signal of
//!   a live-mode bouncer), its active decisions (gauge) and its series (at 0). Only a bouncer's newest backlog
//!   reports are parsed (16); the scan stops as soon as every registered bouncer has a report, or at the oldest row.
//!
//! Ids only grow (AUTOINCREMENT, serial, auto_increment), so batches are id ranges, each its own short query.

use std::time::Duration;

use crate::crowdsec::bouncers::RawTime;
use crate::crowdsec::rows::{NameMap, NameSet};
use crate::crowdsec::usage_reports::UsageTotals;
use crate::values::time::UnixSeconds;

/// Ids per `metrics` query: the server clients hold a whole answer in memory (5,000 rows of ~2 kB payloads).
pub(crate) const BATCH_ROWS: i64 = 5_000;

/// Time one read may spend on the usage reports once its first batch is done: the bouncer rows are served
/// within this (plus the rows' own read) whatever the backlog; the rest goes on at the next read.
pub(crate) const BUDGET: Duration = Duration::from_millis(1_000);

/// Backlog reports parsed per bouncer, newest first, among the rows the scan reads anyway: 4 hours of windows, so
/// series that are not in every report start at 0 too, a resend of any of them counts nothing, and an older report
/// shows whether the bouncer reports active decisions at all.
const BASELINE_REPORTS: u8 = 16;

/// A row's payload as the engine gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    /// The table has no `payload` column (older 1.6 databases): only the report's time is read.
    NoColumn,
    /// Over [`crate::crowdsec::usage_reports::MAX_PAYLOAD_BYTES`]: not sent by the server.
    TooLarge,
    /// The text.
    Text(&'a [u8]),
}

impl<'a> Payload<'a> {
    fn bytes(self) -> Option<Option<&'a [u8]>> {
        match self {
            Payload::NoColumn => None,
            Payload::TooLarge => Some(None),
            Payload::Text(t) => Some(Some(t)),
        }
    }
}

/// The newest report per bouncer and the counters, read incrementally by id.
#[derive(Debug, Default)]
pub(crate) struct UsageCursor {
    /// The newest id when the table was first seen: rows above it are counted. `None` before.
    start: Option<i64>,
    /// The newest row counted (or the start).
    last_id: i64,
    /// The backlog left to read: ids in `floor..below`, read downwards.
    below: i64,
    floor: i64,
    /// The newest id in the table at this read.
    high: i64,
    /// Backlog reports taken as a bouncer's starting point, up to [`BASELINE_REPORTS`].
    baselined: NameMap<u8>,
    /// Newest usage report time per bouncer (forward and backlog).
    pub newest: NameMap<UnixSeconds>,
    /// `None` while the database has no `metrics` table.
    pub totals: Option<UsageTotals>,
}

/// Which id range to read next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Batch {
    /// Counted rows: `id > after AND id <= upto`, ascending.
    Forward { after: i64, upto: i64 },
    /// Backlog rows: `id >= from AND id < below`, descending.
    Backlog { from: i64, below: i64 },
}

impl UsageCursor {
    /// The table has no `metrics` table (or not its columns): nothing to read, no usage series.
    pub(crate) fn no_table(&mut self) {
        *self = UsageCursor::default();
    }

    /// Sets the table's id bounds (`None` when it is empty); starts over on a different or restored database
    /// (its newest id below what was read).
    pub(crate) fn bounds(&mut self, bounds: Option<(i64, i64)>) {
        if let Some((_, high)) = bounds {
            if high < self.last_id {
                tracing::info!(
                    newest = high,
                    read = self.last_id,
                    "the usage reports table went back: starting over"
                );
                *self = UsageCursor::default();
            }
        }
        if self.start.is_none() {
            let high = bounds.map_or(0, |(_, high)| high);
            self.start = Some(high);
            self.last_id = high;
            self.below = high + 1;
        }
        match bounds {
            Some((low, high)) => {
                // Flushed rows need no batch.
                self.floor = self.floor.max(low);
                self.last_id = self.last_id.max(low - 1);
                self.high = high;
            }
            None => {
                self.high = self.last_id;
                self.below = self.floor;
            }
        }
        self.totals.get_or_insert_with(UsageTotals::default);
    }

    /// Whether backlog rows remain.
    pub(crate) fn backlog_pending(&self) -> bool {
        self.below > self.floor
    }

    /// The next batch to read, or `None` when done for this read: forward rows first (they are counted), then the
    /// backlog while a registered bouncer has no report yet. `may_read`: within the read's budget (see [`BUDGET`]).
    pub(crate) fn next(&mut self, may_read: bool, registered: &NameSet<'_>) -> Option<Batch> {
        if self.backlog_pending() && registered.iter().all(|n| self.newest.contains_key(*n)) {
            // Every registered bouncer has its newest report: older rows would change nothing.
            self.below = self.floor;
        }
        if !may_read {
            return None;
        }
        if self.last_id < self.high {
            let upto = self.high.min(self.last_id.saturating_add(BATCH_ROWS));
            return Some(Batch::Forward {
                after: self.last_id,
                upto,
            });
        }
        self.backlog_pending().then(|| Batch::Backlog {
            from: self.floor.max(self.below.saturating_sub(BATCH_ROWS)),
            below: self.below,
        })
    }

    /// A batch was read whole.
    pub(crate) fn done(&mut self, batch: Batch) {
        match batch {
            Batch::Forward { upto, .. } => self.last_id = upto,
            Batch::Backlog { from, .. } => self.below = from,
        }
    }

    /// One RC row of a forward batch: counted.
    pub(crate) fn forward(
        &mut self,
        id: i64,
        name: Option<&str>,
        at: RawTime,
        payload: Payload<'_>,
    ) {
        let Some(name) = name else { return };
        self.saw(name, at);
        if let (Some(bytes), Some(totals)) = (payload.bytes(), self.totals.as_mut()) {
            totals.add_report(id, name, bytes);
        }
    }

    /// One RC row of a backlog batch (newest first): the starting point of a bouncer not seen yet.
    pub(crate) fn backlog(
        &mut self,
        id: i64,
        name: Option<&str>,
        at: RawTime,
        payload: Payload<'_>,
    ) {
        let Some(name) = name else { return };
        self.saw(name, at);
        let parsed = match self.baselined.get_mut(name) {
            Some(n) => n,
            None => self.baselined.entry(name.to_owned()).or_default(),
        };
        if *parsed >= BASELINE_REPORTS {
            return;
        }
        *parsed += 1;
        if let (Some(bytes), Some(totals)) = (payload.bytes(), self.totals.as_mut()) {
            totals.add_baseline(id, name, bytes);
        }
    }

    fn saw(&mut self, name: &str, at: RawTime) {
        if let RawTime::At(ts) = at {
            match self.newest.get_mut(name) {
                Some(newest) => *newest = newest.max(ts),
                None => {
                    self.newest.insert(name.to_owned(), ts);
                }
            }
        }
    }

    /// Forgets the bouncers no longer registered, so the maps never outgrow the `bouncers` table; and the backlog's
    /// counts once it is read (10,000 names and their table at 10,000 bouncers: 1 MB).
    pub(crate) fn retain(&mut self, names: &NameSet<'_>) {
        if self.newest.len() > names.len() {
            self.newest.retain(|k, _| names.contains(k.as_str()));
        }
        if !self.backlog_pending() {
            self.baselined = NameMap::default();
        } else if self.baselined.len() > names.len() {
            self.baselined.retain(|k, _| names.contains(k.as_str()));
        }
        if let Some(totals) = self.totals.as_mut() {
            totals.retain(|k| names.contains(k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(names: &[&'static str]) -> NameSet<'static> {
        names.iter().copied().collect()
    }

    #[test]
    fn the_backlog_stops_once_every_registered_bouncer_has_a_report() {
        let mut c = UsageCursor::default();
        c.bounds(Some((1, 12_000)));
        let all = registered(&["a", "b"]);
        assert_eq!(
            c.next(true, &all),
            Some(Batch::Backlog {
                from: 7_001,
                below: 12_001
            })
        );
        c.backlog(12_000, Some("a"), RawTime::At(5.0), Payload::NoColumn);
        c.backlog(11_999, Some("b"), RawTime::At(4.0), Payload::NoColumn);
        c.done(Batch::Backlog {
            from: 7_001,
            below: 12_001,
        });
        assert_eq!(
            c.next(true, &all),
            None,
            "both seen: the older rows change nothing"
        );
        assert!(!c.backlog_pending());
        c.retain(&all);
        assert!(
            c.baselined.is_empty(),
            "the backlog's counts are dropped once it is read"
        );
        // New rows are counted, from the start on.
        c.bounds(Some((1, 12_003)));
        assert_eq!(
            c.next(false, &all),
            None,
            "nothing past the budget but the first batch"
        );
        assert_eq!(
            c.next(true, &all),
            Some(Batch::Forward {
                after: 12_000,
                upto: 12_003
            })
        );
    }

    #[test]
    fn an_empty_table_starts_at_zero_and_a_table_that_went_back_starts_over() {
        let mut c = UsageCursor::default();
        c.bounds(None);
        assert!(!c.backlog_pending());
        assert!(c.totals.is_some(), "a metrics table, empty");
        c.bounds(Some((1, 3)));
        assert_eq!(
            c.next(true, &registered(&[])),
            Some(Batch::Forward { after: 0, upto: 3 }),
            "every row after an empty start is counted"
        );
        c.done(Batch::Forward { after: 0, upto: 3 });
        // Restored from an older backup: its rows are a new start, not counted again.
        c.bounds(Some((1, 2)));
        assert_eq!(
            c.next(true, &registered(&["a"])),
            Some(Batch::Backlog { from: 1, below: 3 })
        );
    }
}
