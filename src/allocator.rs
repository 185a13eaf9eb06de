//! Memory: one glibc malloc arena.
//!
//! A scrape of 10,000 bouncers builds megabytes on a blocking thread (the database read) and on a runtime worker
//! (the text). glibc gives each thread its own arena and keeps each arena's peak, so the process holds several
//! peaks at once. One arena measured 42 MB -> 27 MB peak RSS over 50 cold scrapes (benches/scrape.rs), with no
//! CPU cost: the exporter does little allocation concurrently.

/// Limits glibc to one arena, unless the operator set `MALLOC_ARENA_MAX` (glibc honours it by itself).
/// Call it first thing, before any thread starts.
pub(crate) fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        // SAFETY: mallopt only tunes glibc's allocator, takes plain integers, and runs before other threads exist.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}
