//! What the benches share to print their figures: knobs from the environment, this process's memory.
#![allow(dead_code)]

/// The knob `name` from the environment, or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A `/proc/self/status` field in kB: `VmRSS` (now) or `VmHWM` (peak).
pub fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak RSS to the current RSS (Linux >= 4.0).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
