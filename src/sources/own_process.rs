//! The exporter's own process, as client_golang's process collector reports it for every Go exporter
//! (prometheus/client_golang `prometheus/process_collector_other.go`, through prometheus/procfs): CPU time, memory,
//! file descriptors and start time from `/proc/self`. The prometheus-client crate has no such collector.
//!
//! Not a [`super::Source`]: it has no `source_up` and no cache; as client_golang (without `ReportErrors`), a part
//! that cannot be read is left out and the rest is still reported. Every file is read through
//! [`crate::values::file`] (`/proc` files have no size: a bounded prefix).

use std::path::Path;

use crate::values::file;

/// One reading. Each figure is `None` when its file could not be read (no `/proc`: none at all).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProcessStats {
    /// `process_cpu_seconds_total`: user and system CPU time (`utime + stime` of `/proc/self/stat`, in clock ticks).
    pub cpu_seconds: Option<f64>,
    /// `process_resident_memory_bytes`: `rss` pages of `/proc/self/stat` times the page size.
    pub resident_memory_bytes: Option<f64>,
    /// `process_virtual_memory_bytes`: `vsize` of `/proc/self/stat`.
    pub virtual_memory_bytes: Option<f64>,
    /// `process_start_time_seconds`: `btime` of `/proc/stat` plus `starttime` of `/proc/self/stat` (clock ticks
    /// since boot).
    pub start_time_seconds: Option<f64>,
    /// `process_open_fds`: the entries of `/proc/self/fd`.
    pub open_fds: Option<f64>,
    /// `process_max_fds`: the soft limit "Max open files" of `/proc/self/limits`.
    pub max_fds: Option<f64>,
    /// `process_virtual_memory_max_bytes`: the soft limit "Max address space" (unlimited: 2^64 - 1, as procfs).
    pub virtual_memory_max_bytes: Option<f64>,
}

/// `/proc` files are small; their size is not known before reading.
const MAX_PROC_FILE: u64 = 64 * 1024;

impl ProcessStats {
    /// Reads this process's figures from `/proc`.
    pub fn read() -> ProcessStats {
        Self::read_from(
            Path::new("/proc/self"),
            Path::new("/proc/stat"),
            rustix::param::clock_ticks_per_second() as f64,
            rustix::param::page_size() as f64,
        )
    }

    /// As [`ProcessStats::read`], from a process folder (`/proc/<pid>`) and the system's `/proc/stat` (tests).
    pub fn read_from(proc: &Path, system_stat: &Path, ticks: f64, page: f64) -> ProcessStats {
        let text = |p: &Path| {
            file::read_prefix(p, MAX_PROC_FILE)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        let mut s = ProcessStats::default();
        if let Some(stat) = text(&proc.join("stat")).as_deref().and_then(parse_stat) {
            s.cpu_seconds = Some((stat.utime + stat.stime) as f64 / ticks);
            s.resident_memory_bytes = Some(stat.rss as f64 * page);
            s.virtual_memory_bytes = Some(stat.vsize as f64);
            s.start_time_seconds = text(system_stat)
                .as_deref()
                .and_then(boot_time)
                .map(|b| b as f64 + stat.starttime as f64 / ticks);
        }
        s.open_fds = std::fs::read_dir(proc.join("fd"))
            .ok()
            .map(|d| d.filter(Result::is_ok).count() as f64);
        if let Some(limits) = text(&proc.join("limits")) {
            s.max_fds = soft_limit(&limits, "Max open files");
            s.virtual_memory_max_bytes = soft_limit(&limits, "Max address space");
        }
        s
    }
}

#[derive(Debug, PartialEq)]
struct Stat {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
    rss: i64,
}

/// `/proc/<pid>/stat` (proc(5)): the fields after the command name, which is in parentheses and may hold spaces and
/// parentheses itself, so the split is at the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    // Field 3 (state) is index 0.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let at = |n: usize| f.get(n - 3).copied();
    Some(Stat {
        utime: at(14)?.parse().ok()?,
        stime: at(15)?.parse().ok()?,
        starttime: at(22)?.parse().ok()?,
        vsize: at(23)?.parse().ok()?,
        rss: at(24)?.parse().ok()?,
    })
}

/// `btime` of `/proc/stat`: boot time, in seconds since the epoch.
fn boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit of `name` in `/proc/<pid>/limits` ("unlimited" is 2^64 - 1, as procfs reads it).
fn soft_limit(text: &str, name: &str) -> Option<f64> {
    let rest = text.lines().find_map(|l| l.strip_prefix(name))?;
    match rest.split_whitespace().next()? {
        "unlimited" => Some(u64::MAX as f64),
        v => v.parse::<u64>().ok().map(|v| v as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (csbe (a) b) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 37 0 0 20 0 9 0 123456 98765432 2048 18446744073709551615 1 1 0 0 0 0 0 4096 17642 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                utime: 250,
                stime: 37,
                starttime: 123456,
                vsize: 98765432,
                rss: 2048,
            })
        );
        assert_eq!(parse_stat("4242 (truncated"), None);
    }

    #[test]
    fn a_fake_proc_folder() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(
            p.join("stat"),
            "7 (x) S 1 7 7 0 -1 0 0 0 0 0 150 50 0 0 20 0 1 0 500 4096000 100 0\n",
        )
        .unwrap();
        std::fs::write(
            p.join("system-stat"),
            "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n",
        )
        .unwrap();
        std::fs::write(
            p.join("limits"),
            "Limit                     Soft Limit           Hard Limit           Units     \n\
             Max address space         unlimited            unlimited            bytes     \n\
             Max open files            1024                 524288               files     \n",
        )
        .unwrap();
        std::fs::create_dir(p.join("fd")).unwrap();
        for n in 0..3 {
            std::fs::write(p.join("fd").join(n.to_string()), "").unwrap();
        }
        let s = ProcessStats::read_from(p, &p.join("system-stat"), 100.0, 4096.0);
        assert_eq!(
            s,
            ProcessStats {
                cpu_seconds: Some(2.0),
                resident_memory_bytes: Some(409_600.0),
                virtual_memory_bytes: Some(4_096_000.0),
                start_time_seconds: Some(1_700_000_005.0),
                open_fds: Some(3.0),
                max_fds: Some(1024.0),
                virtual_memory_max_bytes: Some(u64::MAX as f64),
            }
        );
        // No such process: nothing, not zeros.
        let none = ProcessStats::read_from(&p.join("gone"), &p.join("gone"), 100.0, 4096.0);
        assert_eq!(none, ProcessStats::default());
    }

    /// This very process: what its own `/proc` says, within the bounds a running test has.
    #[test]
    fn this_process() {
        let s = ProcessStats::read();
        assert!(s.resident_memory_bytes.unwrap() > 1e6, "{s:?}");
        assert!(s.virtual_memory_bytes.unwrap() >= s.resident_memory_bytes.unwrap());
        assert!(
            s.open_fds.unwrap() >= 3.0 && s.open_fds <= s.max_fds,
            "{s:?}"
        );
        let now = crate::values::time::now();
        let start = s.start_time_seconds.unwrap();
        assert!(start <= now + 1.0 && start > now - 3600.0, "{s:?}");
    }
}
