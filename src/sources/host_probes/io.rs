//! The host checks' bounded I/O: log tails (through the one reader, values/file.rs), commands with a timeout in
//! their own process group, glob(3) matching.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::COMMAND_BYTES;

/// `*` and `?` as glob(3) reads them (a `[` class is taken literally).
pub(super) fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The last `max` bytes of a regular file (from a line start) and its modification time.
pub(super) fn read_tail(path: &Path, max: u64) -> std::io::Result<(String, f64)> {
    // Opened non-blocking and checked on the descriptor: a log path that is a FIFO must not hang the scrape.
    let (mut file, meta) = crate::values::file::open_regular(path)?;
    let mtime = meta.mtime() as f64;
    let start = meta.len().saturating_sub(max);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    if start > 0 {
        // The first line is cut: drop it.
        let cut = bytes
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |i| i + 1);
        bytes.drain(..cut);
    }
    Ok((String::from_utf8_lossy(&bytes).into_owned(), mtime))
}

/// Runs `cmd` with no stdin, its stdout capped at [`COMMAND_BYTES`], killed after `timeout`. The error says why
/// in a few words (never the output).
pub(super) fn run(cmd: &mut Command, timeout: Duration) -> Result<Vec<u8>, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // Its own process group, killed whole when this returns: nothing it starts outlives the check.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("{program} cannot run: {e}"))?;
    let mut group = crate::sources::process_group::GroupKill::led_by(Some(child.id()));
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = (&mut stdout).take(COMMAND_BYTES).read_to_end(&mut out);
        // Past the cap, drain without keeping: a writer cut off would die of SIGPIPE and look failed.
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        out
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                group.kill();
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not finish within {timeout:?}"));
            }
        }
    };
    // A process it left behind may hold the pipe open: the reader would wait for it, past any timeout.
    group.kill();
    let out = reader.join().unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        Err(format!("{program} exited with {status}"))
    }
}
