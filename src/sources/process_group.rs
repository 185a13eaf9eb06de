//! A child command runs in a process group of its own, and the whole group is killed when the read ends (timeout,
//! error, success, or the future dropped on shutdown or a scrape's timeout).
//!
//! Killing only the child leaves what it started: `sh -c 'sleep 100 & echo ['` made one orphan `sleep` per read
//! (issue 23), and a cscli wrapper script leaves its cscli. The group's id is the child's pid; it stays reserved
//! while any member lives (Linux does not reuse a pid still in use as a process group id), so the kill cannot reach
//! another program's group while one of ours remains.

use rustix::process::{kill_process_group, Pid, Signal};

/// Kills its process group (SIGKILL) when dropped or asked; a group already gone is fine.
#[derive(Debug)]
pub(crate) struct GroupKill(Option<Pid>);

impl GroupKill {
    /// The group led by the child with pid `id` (spawned with `process_group(0)`); `None`: nothing to kill.
    pub(crate) fn led_by(id: Option<u32>) -> Self {
        GroupKill(id.and_then(|id| Pid::from_raw(i32::try_from(id).ok()?)))
    }

    /// Kills every process of the group now (once).
    pub(crate) fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH (no member left) is the normal case after a clean exit.
            let _ = kill_process_group(pgid, Signal::KILL);
        }
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        self.kill();
    }
}
