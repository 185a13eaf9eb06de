//! A systemd unit's state from `systemctl show -p ... UNIT` (`Key=Value` lines, in systemd's own property order,
//! empty values for what never happened, e.g. `ActiveEnterTimestamp=` for a unit never started).

/// The properties asked for, in one `-p` argument.
pub const PROPERTIES: &str =
    "LoadState,ActiveState,SubState,Result,ExecMainStatus,ActiveEnterTimestamp,StateChangeTimestamp,NRestarts";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitState {
    /// `loaded`, `not-found`, `masked`...
    pub load_state: String,
    /// `active`, `activating`, `deactivating`, `reloading`, `inactive`, `failed`.
    pub active_state: String,
    /// `running`, `dead`, `failed`, `auto-restart`...
    pub sub_state: String,
    /// `success`, `exit-code`, `signal`, `core-dump`, `timeout`, `start-limit-hit`...
    pub result: String,
    /// Exit status of the main process (or the signal number when killed); `None` when empty.
    pub exec_main_status: Option<i64>,
    /// As systemctl prints it, e.g. `Mon 2026-11-30 10:58:35 UTC`; empty when it never happened.
    pub active_enter: String,
    pub state_change: String,
    pub n_restarts: Option<u64>,
}

/// Parses `systemctl show` output; unknown keys and malformed lines are ignored.
pub fn parse_show(text: &str) -> UnitState {
    let mut u = UnitState::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "LoadState" => u.load_state = v.to_owned(),
            "ActiveState" => u.active_state = v.to_owned(),
            "SubState" => u.sub_state = v.to_owned(),
            "Result" => u.result = v.to_owned(),
            "ExecMainStatus" => u.exec_main_status = v.parse().ok(),
            "ActiveEnterTimestamp" => u.active_enter = v.to_owned(),
            "StateChangeTimestamp" => u.state_change = v.to_owned(),
            "NRestarts" => u.n_restarts = v.parse().ok(),
            _ => {}
        }
    }
    u
}

impl UnitState {
    /// systemd knows the unit (its package installed it).
    pub fn exists(&self) -> bool {
        !self.load_state.is_empty() && self.load_state != "not-found"
    }

    /// The unit's process runs: `active` (also while reloading).
    pub fn running(&self) -> bool {
        matches!(self.active_state.as_str(), "active" | "reloading")
    }

    /// In operator words, e.g. `crowdsec-firewall-bouncer.service failed (exit 1) since Mon 2026-11-30 10:58:35
    /// UTC, restarted 5 times`.
    pub fn describe(&self, unit: &str) -> String {
        let mut s = format!("{unit} is {}", self.active_state);
        if !self.sub_state.is_empty() && self.sub_state != self.active_state {
            s.push_str(&format!(" ({})", self.sub_state));
        }
        if !self.running() {
            match (self.result.as_str(), self.exec_main_status) {
                ("exit-code", Some(code)) => s.push_str(&format!(", exit status {code}")),
                ("signal" | "core-dump", Some(sig)) => {
                    s.push_str(&format!(", killed by signal {sig}"))
                }
                ("success" | "", _) => {}
                (other, _) => s.push_str(&format!(", result {other}")),
            }
        }
        let since = if self.running() {
            &self.active_enter
        } else {
            &self.state_change
        };
        if !since.is_empty() {
            s.push_str(&format!(" since {since}"));
        }
        match self.n_restarts {
            Some(0) | None => {}
            Some(1) => s.push_str(", restarted once by systemd"),
            Some(n) => s.push_str(&format!(", restarted {n} times by systemd")),
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shapes `systemctl show -p <PROPERTIES>` prints (systemd 252, Debian 12): properties in systemd's
    // order, not the order asked, timestamps in the local zone with the weekday.
    const FAILED: &str = "Result=exit-code\nExecMainStatus=1\nNRestarts=5\nLoadState=loaded\nActiveState=failed\nSubState=failed\nStateChangeTimestamp=Mon 2026-11-30 10:58:36 UTC\nActiveEnterTimestamp=Mon 2026-11-30 10:58:35 UTC\n";
    const RUNNING: &str = "Result=success\nExecMainStatus=0\nNRestarts=0\nLoadState=loaded\nActiveState=active\nSubState=running\nStateChangeTimestamp=Mon 2026-11-30 10:58:35 UTC\nActiveEnterTimestamp=Mon 2026-11-30 10:58:35 UTC\n";
    const STOPPED: &str = "Result=success\nExecMainStatus=0\nNRestarts=0\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nStateChangeTimestamp=Mon 2026-11-30 11:02:00 UTC\nActiveEnterTimestamp=Mon 2026-11-30 10:58:35 UTC\n";
    const MISSING: &str = "Result=success\nExecMainStatus=0\nNRestarts=0\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nStateChangeTimestamp=\nActiveEnterTimestamp=\n";
    const RESTARTING: &str = "Result=exit-code\nExecMainStatus=1\nNRestarts=3\nLoadState=loaded\nActiveState=activating\nSubState=auto-restart\nStateChangeTimestamp=Mon 2026-11-30 11:00:01 UTC\nActiveEnterTimestamp=\n";

    #[test]
    fn failed_unit() {
        let u = parse_show(FAILED);
        assert!(u.exists() && !u.running());
        assert_eq!(u.exec_main_status, Some(1));
        assert_eq!(u.n_restarts, Some(5));
        assert_eq!(
            u.describe("crowdsec-firewall-bouncer.service"),
            "crowdsec-firewall-bouncer.service is failed, exit status 1 since Mon 2026-11-30 10:58:36 UTC, restarted 5 times by systemd"
        );
    }

    #[test]
    fn running_stopped_missing_restarting() {
        let r = parse_show(RUNNING);
        assert!(r.running());
        assert_eq!(
            r.describe("x.service"),
            "x.service is active (running) since Mon 2026-11-30 10:58:35 UTC"
        );
        let s = parse_show(STOPPED);
        assert!(s.exists() && !s.running());
        assert_eq!(
            s.describe("x.service"),
            "x.service is inactive (dead) since Mon 2026-11-30 11:02:00 UTC"
        );
        assert!(!parse_show(MISSING).exists());
        let a = parse_show(RESTARTING);
        assert!(!a.running());
        assert!(a
            .describe("x.service")
            .contains("activating (auto-restart), exit status 1"));
        // Garbage never panics and knows nothing.
        assert!(!parse_show("\u{0}==\nNRestarts=x\n").exists());
    }
}
