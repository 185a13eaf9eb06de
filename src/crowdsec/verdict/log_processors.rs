//! The verdict of one log processor (a row of `machines`, see [`crate::crowdsec::machines`]): the Rust twin of
//! `CrowdSecLogProcessorOffline` in `alerts/crowdsec-bouncers.rules.yml` (same threshold, same strict `>`), which
//! `diagnose` prints and `tests/it/differential.rs` compares with promtool's result.

use crate::crowdsec::machines::Machine;
use crate::values::time::UnixSeconds;

/// `crowdsec:log_processor_offline_threshold_seconds` in the rule file: the Console's 24 h.
pub(crate) const LOG_PROCESSOR_OFFLINE_THRESHOLD: std::time::Duration =
    std::time::Duration::from_secs(86_400);

/// The state of one log processor, as `CrowdSecLogProcessorOffline` and `diagnose` see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MachineVerdict {
    /// Heartbeat at most the threshold old.
    Ok { age: f64 },
    /// Heartbeat older than the threshold: `CrowdSecLogProcessorOffline` (critical).
    Offline { age: f64 },
    /// No heartbeat ever: not judged (cscli's credentials, or an agent that never started).
    NeverHeartbeat,
}

impl MachineVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            MachineVerdict::Ok { .. } => "ok",
            MachineVerdict::Offline { .. } => "offline",
            MachineVerdict::NeverHeartbeat => "never_heartbeat",
        }
    }

    /// The alert the rule file fires for it, if any.
    pub(crate) fn alert(self) -> Option<super::Alert> {
        matches!(self, MachineVerdict::Offline { .. }).then_some(super::Alert::LogProcessorOffline)
    }
}

/// The alert the rules fire for machine `m` of LAPI `lapi` at `now`, with its labels (`lapi`, `machine`).
pub(crate) fn machine_firing(
    lapi: &str,
    m: &Machine,
    now: UnixSeconds,
    threshold: std::time::Duration,
) -> Option<super::Firing> {
    judge_machine(m, now, threshold)
        .alert()
        .map(|a| super::Firing::new(a, &[("lapi", lapi), ("machine", m.name.as_str())]))
}

/// Judges one machine at `now`: offline when its heartbeat is older than `threshold` (strictly, as the rule's `>`).
pub fn judge_machine(
    m: &Machine,
    now: UnixSeconds,
    threshold: std::time::Duration,
) -> MachineVerdict {
    match m.heartbeat_age_seconds(now) {
        None => MachineVerdict::NeverHeartbeat,
        Some(age) if age > threshold.as_secs_f64() => MachineVerdict::Offline { age },
        Some(age) => MachineVerdict::Ok { age },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crowdsec::bouncers::RawTime;
    use crate::crowdsec::machines::{interpret_machines, RawMachine};

    fn raw(id: &str, hb: RawTime) -> RawMachine {
        RawMachine {
            machine_id: Some(id.into()),
            version: Some("v1.4.6".into()),
            last_heartbeat: Some(hb),
            ..Default::default()
        }
    }

    #[test]
    fn offline_strictly_after_the_threshold_and_never_heartbeat_is_not_judged() {
        let t = LOG_PROCESSOR_OFFLINE_THRESHOLD;
        let s = interpret_machines(vec![raw("a", RawTime::At(0.0)), raw("b", RawTime::Null)]);
        let a = &s.machines[0];
        assert_eq!(
            judge_machine(a, 86_400.0, t),
            MachineVerdict::Ok { age: 86_400.0 }
        );
        assert_eq!(
            judge_machine(a, 86_401.0, t)
                .alert()
                .map(crate::crowdsec::verdict::Alert::name),
            Some("CrowdSecLogProcessorOffline")
        );
        assert_eq!(
            judge_machine(&s.machines[1], 1e9, t),
            MachineVerdict::NeverHeartbeat
        );
        assert_eq!(judge_machine(&s.machines[1], 1e9, t).alert(), None);
    }
}
