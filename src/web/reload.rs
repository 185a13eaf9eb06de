//! Certificate rotation without restart: the configuration in force, re-read when the web config file or a file
//! it names changes (checked every second by the server, and the TLS configuration is taken per handshake).
//! A bad reload is logged once and the last good configuration stays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use super::config::{load, WebConfig, WebConfigError};

/// What identifies a version of a file: modification time, size and inode (a rename or symlink swap changes it).
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some((m.modified().ok()?, m.len(), ino))
}

/// The configuration in force, re-read when the file or a file it names changes.
pub(crate) struct Live {
    path: Option<PathBuf>,
    current: RwLock<Arc<WebConfig>>,
    /// Stamps of the last attempt (good or bad), so a bad file is reported once, not at every check.
    attempted: Mutex<Vec<Stamp>>,
}

impl Live {
    /// No `--web.config.file`: plain HTTP, no authentication; nothing to watch.
    pub(crate) fn none() -> Self {
        Live {
            path: None,
            current: RwLock::new(Arc::new(WebConfig::open())),
            attempted: Mutex::new(Vec::new()),
        }
    }

    /// Loads the file; an invalid file is an error (the exporter refuses to start).
    pub(crate) fn load(path: &Path) -> Result<Self, WebConfigError> {
        let before = stamps(path, &[]);
        let config = load(path)?;
        let stamps = stamps(path, &config.watched);
        // If a file changed while being read, the next check reloads.
        let attempted = if before.len() <= stamps.len() && before[..] == stamps[..before.len()] {
            stamps
        } else {
            Vec::new()
        };
        Ok(Live {
            path: Some(path.to_owned()),
            current: RwLock::new(Arc::new(config)),
            attempted: Mutex::new(attempted),
        })
    }

    pub(crate) fn current(&self) -> Arc<WebConfig> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the configuration if the file or any file it names changed since the last attempt.
    /// Returns true when a new configuration is in force. A bad file is logged and the last good one stays.
    pub(crate) fn reload_if_changed(&self) -> bool {
        let Some(path) = &self.path else {
            return false;
        };
        let watched = self.current().watched.clone();
        let now = stamps(path, &watched);
        let mut attempted = self
            .attempted
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *attempted == now {
            return false;
        }
        match load(path) {
            Ok(config) => {
                *attempted = stamps(path, &config.watched);
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
                tracing::info!(file = %path.display(), "web config reloaded");
                true
            }
            Err(e) => {
                *attempted = now;
                tracing::error!(error = %e, "web config reload failed; keeping the last good configuration");
                false
            }
        }
    }
}

fn stamps(path: &Path, watched: &[PathBuf]) -> Vec<Stamp> {
    std::iter::once(path)
        .chain(watched.iter().map(PathBuf::as_path))
        .map(stamp)
        .collect()
}

/// Checks the files every `interval` on the blocking pool (a reload reads files and builds TLS), until aborted.
pub(super) fn watch(live: Arc<Live>, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let live = live.clone();
            let _ = tokio::task::spawn_blocking(move || live.reload_if_changed()).await;
        }
    })
}
