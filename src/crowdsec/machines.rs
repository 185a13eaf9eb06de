//! Log processors: the rows of the LAPI's `machines` table (CrowdSec >= 1.4), whoever read them. Their verdict is
//! [`crate::crowdsec::verdict::log_processors`].
//!
//! What the table holds (crowdsecurity/crowdsec `pkg/database/ent/schema/machine.go`, read at commit
//! 081304815e977581ab91bc51c27eec6226008574; the 1.4.6 table as Debian's 1.4.6 creates it is in
//! `tests/fixtures/real-1.4.6/schema.sql`): `machine_id` (unique), `ip_address`, `version`, `is_validated`,
//! `auth_type`, `last_push` (alerts pushed; defaults to the creation time), `last_heartbeat` (`GET /v1/heartbeat`;
//! NULL in the schema until the first one, but Debian's 1.4.6 `cscli machines add` writes the registration time
//! there, so it counts only for a machine that logged in: one with a `version`). An agent pings `/v1/heartbeat` every minute (`pkg/apiclient/heartbeat.go`,
//! `StartHeartBeat`: `time.Sleep(1 * time.Minute)`, commit 0ca59ef006048b204facfac1065c2be3ea846db1); CrowdSec 1.8
//! exports the same time as `cs_machines_last_heartbeat_timestamp{machine}`.
//!
//! The Console's "Log Processor Offline" (crowdsec-docs `unversioned/troubleshooting/issue_lp_offline.md`, id
//! `issue_lp_offline`): "Log Processor has not checked in with Local API for more than 24 hours", critical. The
//! exporter judges the heartbeat alone: a push proves a past alert, not a running agent. A machine that never sent
//! a heartbeat (the credentials `cscli` uses, a registration whose agent never started) has no age and is never
//! called offline; `diagnose` says so.

use crate::crowdsec::bouncers::RawTime;
use crate::values::time::UnixSeconds;

/// Columns of `machines` the exporter reads, in this order; `password` is deliberately not among them.
pub(crate) const MACHINE_COLUMNS: [&str; 7] = [
    "machine_id",
    "ip_address",
    "version",
    "auth_type",
    "is_validated",
    "last_heartbeat",
    "last_push",
];

/// Columns without which the table is not a log-processor table the exporter can judge (reason `schema`).
pub(crate) const REQUIRED_MACHINE_COLUMNS: [&str; 2] = ["machine_id", "last_heartbeat"];

/// One row as read by an engine, in [`MACHINE_COLUMNS`] order, before interpretation.
#[derive(Debug, Default)]
pub(crate) struct RawMachine {
    pub machine_id: Option<String>,
    pub ip_address: Option<String>,
    pub version: Option<String>,
    pub auth_type: Option<String>,
    pub is_validated: Option<bool>,
    pub last_heartbeat: Option<RawTime>,
    pub last_push: Option<RawTime>,
}

/// One log processor (a row of `machines`), interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// `machine_id`, as `cscli machines list` shows it.
    pub name: String,
    /// The IP of its last request; empty when unknown.
    pub ip_address: String,
    /// Its CrowdSec version (`v1.4.6-debian-...`); empty before its first login.
    pub version: String,
    /// `password` or `tls`.
    pub auth_type: String,
    /// `true`/`false`: a machine added with `cscli machines add` is validated; one that registered itself
    /// (`cscli lapi register`) waits for `cscli machines validate`. Empty when the column is absent.
    pub validated: String,
    /// Last `GET /v1/heartbeat`; `None` when it never sent one (or the value could not be read).
    pub last_heartbeat: Option<UnixSeconds>,
    /// Last alert push; `None` when NULL.
    pub last_push: Option<UnixSeconds>,
}

impl Machine {
    /// Seconds since the last heartbeat; `None` when it never sent one.
    pub fn heartbeat_age_seconds(&self, now: UnixSeconds) -> Option<f64> {
        self.last_heartbeat.map(|t| (now - t).max(0.0))
    }
}

/// One LAPI's log processors at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MachineSnapshot {
    /// In table order.
    pub machines: Vec<Machine>,
    /// Rows with an unreadable timestamp (their time series are left out).
    pub bad_rows: usize,
}

fn time(t: Option<RawTime>, bad: &mut bool) -> Option<UnixSeconds> {
    match t.unwrap_or(RawTime::Null).unset_if_go_zero() {
        RawTime::At(ts) => Some(ts),
        RawTime::Null => None,
        RawTime::Unparseable => {
            *bad = true;
            None
        }
    }
}

/// Engine rows into a snapshot (the rows keep their order).
pub(crate) fn interpret_machines(rows: Vec<RawMachine>) -> MachineSnapshot {
    let mut bad_rows = 0;
    let machines = rows
        .into_iter()
        .map(|r| {
            let mut bad = false;
            // CrowdSec 1.4.6's `cscli machines add` writes last_heartbeat (and last_push) at registration (seen on
            // Debian's 1.4.6, tests/it/lapi_machines.rs); a machine that never logged in has no version (the agent's
            // login writes it), so its last_heartbeat is the registration, not a heartbeat.
            let logged_in = r.version.as_deref().is_some_and(|v| !v.is_empty());
            let m = Machine {
                name: r.machine_id.unwrap_or_default(),
                ip_address: r.ip_address.unwrap_or_default(),
                version: r.version.unwrap_or_default(),
                auth_type: r.auth_type.unwrap_or_default(),
                validated: r.is_validated.map(|b| b.to_string()).unwrap_or_default(),
                last_heartbeat: time(r.last_heartbeat, &mut bad).filter(|_| logged_in),
                last_push: time(r.last_push, &mut bad),
            };
            if bad {
                tracing::warn!(machine = %m.name, "unreadable timestamp in the machines table");
                bad_rows += 1;
            }
            m
        })
        .collect();
    MachineSnapshot { machines, bad_rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(id: &str, hb: RawTime) -> RawMachine {
        RawMachine {
            machine_id: Some(id.into()),
            version: Some("v1.7.2".into()),
            is_validated: Some(true),
            last_heartbeat: Some(hb),
            last_push: Some(RawTime::At(1000.0)),
            ..Default::default()
        }
    }

    #[test]
    fn rows_are_interpreted_and_bad_times_counted() {
        let s = interpret_machines(vec![
            raw("a", RawTime::At(5000.0)),
            raw("b", RawTime::Null),
            raw("c", RawTime::Unparseable),
            // Go's zero time is "never".
            raw("d", RawTime::At(-62_135_596_800.0)),
        ]);
        assert_eq!(s.bad_rows, 1);
        let hb: Vec<_> = s.machines.iter().map(|m| m.last_heartbeat).collect();
        assert_eq!(hb, vec![Some(5000.0), None, None, None]);
        assert_eq!(s.machines[0].validated, "true");
        assert_eq!(s.machines[0].last_push, Some(1000.0));
        // Registered by `cscli machines add` on 1.4.6, never logged in: last_heartbeat is the registration.
        let mut added = raw("e", RawTime::At(5000.0));
        added.version = None;
        assert_eq!(
            interpret_machines(vec![added]).machines[0].last_heartbeat,
            None
        );
    }
}
