//! Certificate rotation without restart: the configuration in force, re-read when the web config file or a file
//! it names changes (checked every second by the server, and the TLS configuration is taken per handshake), and
//! on SIGHUP, as Prometheus' own servers reload theirs.
//!
//! Fail closed: a file that cannot be used (unreadable, broken YAML, a bad certificate) or that protects less than
//! the running one ([`super::policy::Policy::weakened_by`]: TLS or basic auth dropped, a lower `min_version` or
//! `client_auth_type`; an empty, `{}`, comment-only or half-written file is one) is refused: the last good
//! configuration stays, an error is logged once (again only when the reason changes: a refused file is tried again
//! at every check, as the files it names are not watched and may appear later), and [`ReloadStatus`] says the last
//! reload failed
//! (`crowdsec_exporter_web_config_last_reload_successful` 0), as Prometheus'
//! `prometheus_config_last_reload_successful` does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use super::web_config::{load, WebConfig, WebConfigError};
use crate::scrape::ReloadStatus;

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
    /// The last load's outcome; `None` without a file.
    status: Mutex<Option<ReloadStatus>>,
    /// The reason of the last refusal, as logged; `None` after a good load.
    refused: Mutex<Option<String>>,
}

impl Live {
    /// No `--web.config.file`: plain HTTP, no authentication; nothing to watch.
    pub(crate) fn none() -> Self {
        Live {
            path: None,
            current: RwLock::new(Arc::new(WebConfig::open())),
            attempted: Mutex::new(Vec::new()),
            status: Mutex::new(None),
            refused: Mutex::new(None),
        }
    }

    /// Loads the file; an invalid file is an error (the exporter refuses to start).
    pub(crate) fn load(path: &Path) -> Result<Self, WebConfigError> {
        let before = stamps(path, &[]);
        let config = load(path)?;
        if config.policy == super::policy::Policy::OPEN {
            // Valid (the toolkit serves such a file as plain HTTP), but rarely meant.
            tracing::warn!(file = %path.display(),
                "the web config file turns on neither TLS nor basic auth: serving plain HTTP without authentication");
        }
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
            status: Mutex::new(Some(ReloadStatus {
                successful: true,
                last_success: crate::values::time::now(),
            })),
            refused: Mutex::new(None),
        })
    }

    pub(crate) fn current(&self) -> Arc<WebConfig> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The last load's outcome, for `crowdsec_exporter_web_config_last_reload_*`; `None` without a file.
    pub(crate) fn status(&self) -> Option<ReloadStatus> {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Re-reads the configuration if the file or any file it names changed since the last attempt, or if the last
    /// attempt was refused (tried again, logged again only when the reason changes).
    /// Returns true when a new configuration is in force. A bad or weaker file is refused and the last good one
    /// stays.
    pub(crate) fn reload_if_changed(&self) -> bool {
        self.reload(false)
    }

    /// Re-reads the configuration whether or not a file changed (SIGHUP). Same rules as
    /// [`Live::reload_if_changed`]; without a file there is nothing to reload, which is logged.
    pub(crate) fn reload_now(&self) -> bool {
        if self.path.is_none() {
            tracing::info!("SIGHUP: no --web.config.file to reload; every source is read anew at the next scrape");
        }
        self.reload(true)
    }

    fn reload(&self, forced: bool) -> bool {
        let Some(path) = &self.path else {
            return false;
        };
        let trigger = if forced { "SIGHUP" } else { "file change" };
        let running = self.current();
        let now = stamps(path, &running.watched);
        let mut attempted = self
            .attempted
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut last_refusal = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        // Nothing watched changed. A refused file is tried again all the same: the files it names are not watched
        // (only the running configuration's are), and may appear later (a config written before its certificate).
        let retry = !forced && *attempted == now;
        if retry && last_refusal.is_none() {
            return false;
        }
        let trigger = if retry {
            "retry of a refused file"
        } else {
            trigger
        };
        let refused = match load(path) {
            Ok(config) => match running.policy.weakened_by(&config.policy) {
                None => {
                    *attempted = stamps(path, &config.watched);
                    *self.current.write().unwrap_or_else(PoisonError::into_inner) =
                        Arc::new(config);
                    *last_refusal = None;
                    self.set_status(true);
                    tracing::info!(file = %path.display(), trigger, "web config reloaded");
                    return true;
                }
                Some(why) => format!(
                    "web config file {}: refused: it protects less than the running configuration: {why} \
                     (to turn TLS or authentication off, restart the exporter with the new file)",
                    path.display()
                ),
            },
            Err(e) => e.to_string(),
        };
        *attempted = now;
        self.set_status(false);
        // Logged once per change of the reason; digits aside, as the bcrypt cost message holds a measured time.
        let same = |a: &str, b: &str| {
            a.chars()
                .filter(|c| !c.is_ascii_digit())
                .eq(b.chars().filter(|c| !c.is_ascii_digit()))
        };
        if retry && last_refusal.as_deref().is_some_and(|l| same(l, &refused)) {
            return false;
        }
        tracing::error!(error = %refused, trigger,
            "web config reload failed; keeping the last good configuration");
        *last_refusal = Some(refused);
        false
    }

    fn set_status(&self, successful: bool) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        let last_success = match (successful, *status) {
            (true, _) | (false, None) => crate::values::time::now(),
            (false, Some(s)) => s.last_success,
        };
        *status = Some(ReloadStatus {
            successful,
            last_success,
        });
    }
}

fn stamps(path: &Path, watched: &[PathBuf]) -> Vec<Stamp> {
    std::iter::once(path)
        .chain(watched.iter().map(PathBuf::as_path))
        .map(stamp)
        .collect()
}

/// Checks the files every `interval`, and at once on SIGHUP, on the blocking pool (a reload reads files and
/// builds TLS), until aborted; with or without a web config file, SIGHUP ([`hangup`]) reloads.
/// `on_hangup` runs on each SIGHUP too (the sources' caches are expired, so the next scrape reads anew).
pub(super) fn watch(
    live: Arc<Live>,
    interval: std::time::Duration,
    mut hangup: Hangup,
    on_hangup: impl Fn() + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let forced = tokio::select! {
                _ = tick.tick() => false,
                () = next(&mut hangup) => true,
            };
            if forced {
                on_hangup();
            } else if live.path.is_none() {
                continue;
            }
            let live = live.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if forced {
                    live.reload_now()
                } else {
                    live.reload_if_changed()
                }
            })
            .await;
        }
    })
}

/// The SIGHUP stream; `None` when it cannot be handled.
#[cfg(unix)]
pub(super) type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
pub(super) type Hangup = ();

/// Handles SIGHUP from now on: its default action (ending the process) is replaced for the process' lifetime (tokio
/// never restores it), so call it before anything can send SIGHUP expecting a reload.
#[cfg(unix)]
pub(super) fn hangup() -> Hangup {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot handle SIGHUP; it will end the process");
            None
        }
    }
}

#[cfg(not(unix))]
pub(super) fn hangup() -> Hangup {}

/// The next SIGHUP; never, when it cannot be handled.
async fn next(h: &mut Hangup) {
    #[cfg(unix)]
    if let Some(s) = h {
        if s.recv().await.is_some() {
            return;
        }
    }
    let _ = h;
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::policy::Policy;
    use proptest::prelude::*;

    /// A folder with a self-signed cert.pem/key.pem, a client CA, and web.yml.
    struct Dir(tempfile::TempDir);

    impl Dir {
        fn new() -> Dir {
            let dir = tempfile::tempdir().unwrap();
            let c = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
            std::fs::write(dir.path().join("cert.pem"), c.cert.pem()).unwrap();
            std::fs::write(dir.path().join("key.pem"), c.signing_key.serialize_pem()).unwrap();
            std::fs::write(dir.path().join("ca.pem"), c.cert.pem()).unwrap();
            Dir(dir)
        }

        fn path(&self) -> PathBuf {
            self.0.path().join("web.yml")
        }

        /// Replaces web.yml in one step (a new inode, so the change is seen within the same second).
        fn put(&self, bytes: &[u8]) {
            let tmp = self.0.path().join("web.yml.tmp");
            std::fs::write(&tmp, bytes).unwrap();
            std::fs::rename(&tmp, self.path()).unwrap();
        }
    }

    const TLS: &str = "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n";

    fn users() -> String {
        format!(
            "basic_auth_users:\n  prometheus: '{}'\n",
            bcrypt::hash("pw", 4).unwrap()
        )
    }

    /// Issue 23 row 1, each of the reported files over a TLS + basic auth configuration: refused, the old
    /// configuration stays, the status says the reload failed; a good file afterwards is taken.
    #[test]
    fn an_empty_or_half_written_file_does_not_turn_tls_and_auth_off() {
        let d = Dir::new();
        let good = format!("{TLS}{}", users());
        d.put(good.as_bytes());
        let live = Live::load(&d.path()).unwrap();
        let start = live.current().policy;
        assert!(start.tls.is_some() && start.basic_auth);
        assert!(live.status().unwrap().successful);
        let partial = &good.as_bytes()[..20];
        assert_eq!(partial, b"tls_server_config:\n ");
        for bad in [
            &b""[..],
            b"{}",
            b"# web config\n",
            partial,
            b"basic_auth_users:",
            TLS.as_bytes(),
            users().as_bytes(),
        ] {
            d.put(bad);
            assert!(!live.reload_now(), "{:?}", String::from_utf8_lossy(bad));
            assert_eq!(live.current().policy, start);
            assert!(!live.status().unwrap().successful);
            // Not retried until the file changes again; the status stays failed.
            assert!(!live.reload_if_changed());
            assert!(!live.status().unwrap().successful);
        }
        let before = live.status().unwrap().last_success;
        d.put(format!("{TLS}  min_version: TLS13\n{}", users()).as_bytes());
        assert!(live.reload_if_changed());
        let s = live.status().unwrap();
        assert!(s.successful && s.last_success >= before);
        // TLS13 is now the floor: going back to TLS12 is a weakening too.
        d.put(good.as_bytes());
        assert!(!live.reload_if_changed());
        assert_eq!(
            live.current().policy.tls.unwrap().min_version,
            super::super::server_tls::TlsVersion::Tls13
        );
    }

    /// Attack on the live binary: web.yml switched to cert3.pem/key3.pem before they were written (a certificate
    /// manager writing the config first) was refused, rightly; but once both files were there it was never tried
    /// again (only the running configuration's files were watched): the old certificate stayed and the reload
    /// metric said 0 until a SIGHUP. A refused file is now tried again at every check, logged again only when the
    /// reason changes.
    #[test]
    fn a_refused_file_is_tried_again_when_the_files_it_names_appear() {
        let d = Dir::new();
        d.put(format!("{TLS}{}", users()).as_bytes());
        let live = Live::load(&d.path()).unwrap();
        let first = live.current();
        let renamed = TLS
            .replace("cert.pem", "cert3.pem")
            .replace("key.pem", "key3.pem");
        d.put(format!("{renamed}{}", users()).as_bytes());
        assert!(!live.reload_if_changed());
        assert!(!live.reload_if_changed(), "still missing");
        assert!(!live.status().unwrap().successful);
        let c = rcgen::generate_simple_self_signed(vec!["new".to_owned()]).unwrap();
        std::fs::write(d.0.path().join("cert3.pem"), c.cert.pem()).unwrap();
        std::fs::write(d.0.path().join("key3.pem"), c.signing_key.serialize_pem()).unwrap();
        assert!(live.reload_if_changed(), "the named files are there now");
        assert!(live.status().unwrap().successful);
        assert!(!Arc::ptr_eq(&first, &live.current()));
        assert!(!live.reload_if_changed(), "nothing changed since");
    }

    /// Attack on the live binary (web helper's breaker): web.yml replaced by a FIFO blocked the reload thread for
    /// good, with the metric still 1 and every later good file or SIGHUP ignored. Through the one non-blocking
    /// reader (values::file) the FIFO is refused at once, the running config stays, and a good file is taken after.
    #[cfg(unix)]
    #[test]
    fn a_fifo_in_place_of_the_web_config_is_refused_without_blocking() {
        let d = Dir::new();
        d.put(format!("{TLS}{}", users()).as_bytes());
        let live = Arc::new(Live::load(&d.path()).unwrap());
        let start = live.current().policy;
        std::fs::remove_file(d.path()).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(d.path())
            .status()
            .unwrap();
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let l = Arc::clone(&live);
        std::thread::spawn(move || tx.send(l.reload_now()).unwrap());
        let reloaded = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a FIFO web config blocked the reload");
        assert!(!reloaded);
        assert_eq!(live.current().policy, start);
        assert!(!live.status().unwrap().successful);
        std::fs::remove_file(d.path()).unwrap();
        d.put(format!("{TLS}  min_version: TLS13\n{}", users()).as_bytes());
        assert!(live.reload_if_changed());
        assert!(live.status().unwrap().successful);
    }

    #[test]
    fn without_a_file_sighup_has_nothing_to_reload_and_no_status() {
        let live = Live::none();
        assert!(!live.reload_now());
        assert_eq!(live.status(), None);
        assert_eq!(live.current().policy, Policy::OPEN);
    }

    /// Files a reload may see: arbitrary bytes, the good file cut anywhere, and valid files protecting more or less.
    fn file(good: String) -> impl Strategy<Value = Vec<u8>> {
        let cut = good.clone();
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..120),
            (0..good.len()).prop_map(move |n| cut.as_bytes()[..n].to_vec()),
            Just(good.clone().into_bytes()),
            Just(TLS.as_bytes().to_vec()),
            Just(users().into_bytes()),
            Just(format!("{TLS}  min_version: TLS13\n{}", users()).into_bytes()),
            Just(format!("{TLS}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n{}", users()).into_bytes()),
            Just(format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n{}", users()).into_bytes()),
            Just(b"{}".to_vec()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

        /// After any sequence of reloads, of any bytes, what is served never protects less than before: TLS stays
        /// on, basic auth stays on, the TLS floor and client-certificate requirement never drop; and the status
        /// says whether the last reload was taken.
        #[test]
        fn the_served_policy_never_weakens(
            files in prop::collection::vec(file(format!("{TLS}{}", users())), 1..8)
        ) {
            let d = Dir::new();
            d.put(format!("{TLS}{}", users()).as_bytes());
            let live = Live::load(&d.path()).unwrap();
            let mut floor = live.current().policy;
            for bytes in files {
                d.put(&bytes);
                let taken = live.reload_now();
                let now = live.current().policy;
                prop_assert_eq!(floor.weakened_by(&now), None, "after {:?}", String::from_utf8_lossy(&bytes));
                prop_assert!(now.tls.is_some() && now.basic_auth);
                prop_assert_eq!(live.status().unwrap().successful, taken);
                floor = now;
            }
        }
    }
}
