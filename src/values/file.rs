//! The one way the exporter opens a file it reads (its config files, CrowdSec's config and `.local`, bouncer files,
//! key and password files, CA and certificate files, logs): non-blocking, then checked to be a regular file.
//!
//! A plain `open(2)` of a FIFO blocks until a writer appears, and a read of a FIFO or device blocks or never ends:
//! one such path would hang start-up, `--config.check` or a scrape's thread for ever. `O_NONBLOCK` makes the open
//! return at once whatever the file is; `fstat` on the open descriptor (not a `stat` of the path, which a rename
//! could change in between) then refuses anything but a regular file, naming what it is.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Largest key or password file read (bytes): a secret is a line.
pub const SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Largest PEM file read (bytes): a CA bundle (Debian's ca-certificates.crt is ~220 KB) fits.
pub const PEM_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Why a file gave no bytes. The messages are plain words about the file, never its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// No such file.
    #[error("does not exist")]
    Missing,
    /// The exporter's user may not read it.
    #[error("permission denied")]
    Permission,
    /// A directory.
    #[error("is a directory, not a file")]
    Directory,
    /// A FIFO, socket or device (what it is): reading it could block for ever.
    #[error("is {0}, not a regular file (reading it could block for ever)")]
    NotFile(&'static str),
    /// Larger than the caller's cap (the file's size in bytes).
    #[error("is too large ({0} bytes; a configuration file is a few KB)")]
    TooLarge(u64),
    /// Another I/O error (its words).
    #[error("cannot be read: {0}")]
    Io(String),
}

impl FileError {
    fn from_io(e: &std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::NotFound => FileError::Missing,
            std::io::ErrorKind::PermissionDenied => FileError::Permission,
            std::io::ErrorKind::IsADirectory => FileError::Directory,
            _ => FileError::Io(e.to_string()),
        }
    }

    /// The [`std::io::ErrorKind`] closest to this error, for callers that report kinds.
    pub fn kind(&self) -> std::io::ErrorKind {
        match self {
            FileError::Missing => std::io::ErrorKind::NotFound,
            FileError::Permission => std::io::ErrorKind::PermissionDenied,
            FileError::Directory => std::io::ErrorKind::IsADirectory,
            FileError::NotFile(_) | FileError::TooLarge(_) => std::io::ErrorKind::InvalidInput,
            FileError::Io(_) => std::io::ErrorKind::Other,
        }
    }
}

impl From<FileError> for std::io::Error {
    fn from(e: FileError) -> Self {
        std::io::Error::new(e.kind(), e.to_string())
    }
}

/// What a non-regular file is, in words.
fn what(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "a special file"
    }
}

/// `path` opened for reading without blocking, following symlinks (a loop is an I/O error), and its metadata
/// taken from the open descriptor; only a regular file is returned.
///
/// # Errors
/// [`FileError`]: missing, permission, a directory, a FIFO/socket/device, another I/O error.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), FileError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| FileError::from_io(&e))?;
    let meta = file.metadata().map_err(|e| FileError::from_io(&e))?;
    if meta.is_dir() {
        return Err(FileError::Directory);
    }
    if !meta.is_file() {
        return Err(FileError::NotFile(what(&meta)));
    }
    Ok((file, meta))
}

/// The bytes of the regular file `path`, at most `max` of them.
///
/// # Errors
/// As [`open_regular`], and [`FileError::TooLarge`] when the file holds more than `max` bytes.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let (file, meta) = open_regular(path)?;
    if meta.len() > max {
        return Err(FileError::TooLarge(meta.len()));
    }
    let mut out = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| FileError::from_io(&e))?;
    if out.len() as u64 > max {
        return Err(FileError::TooLarge(out.len() as u64));
    }
    Ok(out)
}

/// The first `max` bytes of the regular file `path` (the rest is not read). For files whose size `stat` does not
/// tell (`/proc`).
///
/// # Errors
/// As [`open_regular`].
pub fn read_prefix(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let (file, _) = open_regular(path)?;
    let mut out = Vec::new();
    file.take(max)
        .read_to_end(&mut out)
        .map_err(|e| FileError::from_io(&e))?;
    Ok(out)
}

/// As [`read_regular`], as UTF-8 text.
///
/// # Errors
/// As [`read_regular`]; not UTF-8 is [`FileError::Io`] saying so.
pub fn read_text(path: &Path, max: u64) -> Result<String, FileError> {
    String::from_utf8(read_regular(path, max)?)
        .map_err(|_| FileError::Io("not UTF-8 text".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo(dir: &Path) -> std::path::PathBuf {
        let p = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(made.success());
        p
    }

    #[test]
    fn a_fifo_is_refused_at_once_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let p = fifo(dir.path());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send((read_regular(&p, 10), read_prefix(&p, 10)));
        });
        let (whole, prefix) = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("reading a FIFO must not block");
        assert_eq!(whole, Err(FileError::NotFile("a FIFO (named pipe)")));
        assert_eq!(prefix, Err(FileError::NotFile("a FIFO (named pipe)")));
        assert_eq!(
            whole.unwrap_err().to_string(),
            "is a FIFO (named pipe), not a regular file (reading it could block for ever)"
        );
    }

    #[test]
    fn regular_files_are_read_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "hello").unwrap();
        assert_eq!(read_regular(&p, 5).unwrap(), b"hello");
        assert_eq!(read_regular(&p, 4), Err(FileError::TooLarge(5)));
        assert_eq!(read_prefix(&p, 4).unwrap(), b"hell");
        assert_eq!(read_text(&p, 5).unwrap(), "hello");
        assert_eq!(
            read_regular(&dir.path().join("none"), 5),
            Err(FileError::Missing)
        );
        assert_eq!(read_regular(dir.path(), 5), Err(FileError::Directory));
        assert_eq!(
            read_regular(Path::new("/dev/null"), 5),
            Err(FileError::NotFile("a character device"))
        );
    }
}
