//! Memory: one glibc malloc arena.
//!
//! A scrape of 10,000 bouncers builds megabytes on a blocking thread (the database read) and on a runtime worker
//! (the text). glibc gives each thread its own arena and keeps each arena's peak, so the process holds several
//! peaks at once. One arena measured 42 MB -> 27 MB peak RSS over 50 cold scrapes (benches/scrape.rs), with no
//! CPU cost: the exporter does little allocation concurrently.
//!
//! And a fixed mmap threshold. glibc serves blocks of 128 KiB or more with their own mapping, returned to the
//! system when freed, but raises that threshold to the size of each such block freed (up to 32 MiB): after the
//! first texts of megabytes are freed, the next ones come from the heap, whose freed middle is kept. The texts,
//! remade per reading and per second, then leave a heap as large as their highest overlap, for good. Fixing the
//! threshold keeps them in mappings, so memory follows what is alive (issue 22: 100 concurrent scrapes at 10,000
//! reporting bouncers, see benches/README.md); a few mmap calls per reading cost nothing measurable.

/// Blocks from this size on get their own mapping (glibc's default start).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Limits glibc to one arena and fixes its mmap threshold, unless the operator set `MALLOC_ARENA_MAX` or
/// `MALLOC_MMAP_THRESHOLD_` (glibc honours them by itself). Call it first thing, before any thread starts.
pub(crate) fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            // SAFETY: mallopt only tunes glibc's allocator, takes plain integers, and runs before other threads
            // exist.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, 1);
            }
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            // SAFETY: as above.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            }
        }
    }
}
