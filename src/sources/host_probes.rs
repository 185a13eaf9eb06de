//! The host evidence of the `bouncer_config` source's `running` and `log` checks: `/proc` (processes and their
//! `-c` file), systemd (`systemctl show`, `journalctl`, only where systemd runs: `/run/systemd/system` exists, as
//! `sd_booted()` tests), and the end of the bouncers' log files. Everything is bounded: commands get a timeout
//! and their output is capped, files are read from their last `TAIL_BYTES`. Nothing read here is logged or
//! exported as text; `crowdsec::bouncer_files::host_checks` judges it. [`HostView`] is one look at /proc shared
//! by every file; [`HostView::check`] gathers one file's facts (what `host_checks::OnHost` says to read) and hands
//! them to the judges. The readers of what is gathered are `crowdsec::host_evidence`'s.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod io;

use io::{read_tail, run, wildcard};

use crate::crowdsec::bouncer_files::checks::Inspection;
use crate::crowdsec::bouncer_files::host_checks::{
    module_evidence, running_evidence, units, LogEvidence, LogPlace, OnHost, RunningEvidence,
    ServerWalk,
};
use crate::crowdsec::host_evidence::log::{infer_offset, scan, TAIL_BYTES};
use crate::crowdsec::host_evidence::process::{config_path, proc_hidepid, ProcView, ProcessInfo};
use crate::crowdsec::host_evidence::systemd::{parse_show, UnitState, PROPERTIES};
use crate::crowdsec::host_evidence::webserver::{
    self, apache_sections, crowdsec_lua_line, server_config, ConfFs, Server,
};

/// How the host checks look.
#[derive(Debug, Clone)]
pub struct HostChecks {
    /// `/proc`.
    pub proc_root: PathBuf,
    /// systemd runs when this folder exists (`/run/systemd/system`).
    pub systemd_marker: PathBuf,
    /// The log lines counted are those of the last `window`.
    pub window: Duration,
    /// Each `systemctl` / `journalctl` call is killed after this.
    pub timeout: Duration,
}

impl Default for HostChecks {
    fn default() -> Self {
        HostChecks {
            proc_root: "/proc".into(),
            systemd_marker: "/run/systemd/system".into(),
            window: Duration::from_secs(15 * 60),
            timeout: Duration::from_secs(5),
        }
    }
}

/// One look at the host's processes, shared by every file of a check run.
pub struct HostView {
    processes: Vec<ProcessInfo>,
    view: ProcView,
    systemd: bool,
    cfg: HostChecks,
}

/// At most this many bytes of one `/proc/<pid>/cmdline`.
const CMDLINE_BYTES: u64 = 64 * 1024;
/// `/proc/<pid>/environ` is read up to this; a longer one is not the whole environment.
const ENVIRON_BYTES: u64 = 256 * 1024;
/// At most this much output of one command (journalctl is also limited to its last lines).
const COMMAND_BYTES: u64 = TAIL_BYTES;

impl HostView {
    /// Lists the processes `cfg.proc_root` shows (their command lines and, when readable, working directories).
    pub fn read(cfg: &HostChecks) -> HostView {
        let proc = &cfg.proc_root;
        let mut processes = Vec::new();
        let mut count = 0;
        for entry in std::fs::read_dir(proc).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            count += 1;
            processes.extend(process(&entry.path(), pid));
        }
        let comm2 = std::fs::read_to_string(proc.join("2/stat")).unwrap_or_default();
        let mountinfo = std::fs::read_to_string(proc.join("self/mountinfo")).unwrap_or_default();
        let root = std::fs::read_to_string(proc.join("self/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1).map(|euid| euid == "0"))
            .unwrap_or(false);
        HostView {
            processes,
            view: ProcView {
                count,
                host_pid_namespace: comm2.contains("(kthreadd)"),
                hidden: proc_hidepid(&mountinfo) && !root,
            },
            systemd: cfg.systemd_marker.is_dir(),
            cfg: cfg.clone(),
        }
    }

    /// `/proc/<pid>/root`: the process's own root (a container's).
    fn root_of(&self, pid: u32) -> PathBuf {
        self.cfg.proc_root.join(pid.to_string()).join("root")
    }

    /// The first process whose `-c` names `file`: the same file seen through the process's own root
    /// (`/proc/<pid>/root`, containers included) when that is readable, else the same path once canonical.
    fn find(&self, file: &Path) -> Option<&ProcessInfo> {
        let want = std::fs::metadata(file).ok().map(|m| (m.dev(), m.ino()));
        let canonical = std::fs::canonicalize(file).ok();
        self.processes.iter().find(|p| {
            let Some(path) = config_path(p) else {
                return false;
            };
            let through_root = under(&self.root_of(p.pid), &path);
            if let (Some(want), Ok(m)) = (want, std::fs::metadata(&through_root)) {
                return (m.dev(), m.ino()) == want;
            }
            canonical.is_some() && std::fs::canonicalize(&path).ok() == canonical
        })
    }

    /// The state of `unit` from `systemctl show` (`None` where systemd does not run, or systemctl failed).
    fn unit_state(&self, unit: &str) -> Option<UnitState> {
        if !self.systemd {
            return None;
        }
        let out = run(
            Command::new("systemctl").args(["show", "-p", PROPERTIES, "--", unit]),
            self.cfg.timeout,
        )
        .ok()?;
        Some(parse_show(&String::from_utf8_lossy(&out)))
    }

    fn why_no_unit(&self, units: &[String]) -> String {
        if !self.systemd {
            format!(
                "systemd does not run here ({} does not exist)",
                self.cfg.systemd_marker.display()
            )
        } else if units.is_empty() {
            "no packaged systemd unit is known for this file name".into()
        } else {
            format!("systemd knows no unit {}", units.join(" or "))
        }
    }

    /// Runs the `running` and `log` checks of one file: gathers what the host shows of its bouncer (a process
    /// naming the file, its unit's state, its web server's configuration, its log) and lets
    /// `bouncer_files::host_checks` judge it.
    pub fn check(&self, insp: &mut Inspection) {
        let path = insp.report.path.clone();
        let host = OnHost::of(insp.report.kind);
        let found = self.find(&path).cloned();
        let program = found.as_ref().map(|p| p.program().to_owned());
        let walks = match host.server {
            Some(server) => self.server_walks(server, &path),
            None => Vec::new(),
        };
        let units = units(insp.report.kind, &path);
        let unit = || {
            units.iter().find_map(|u| {
                let state = self.unit_state(u).filter(UnitState::exists)?;
                Some((u.clone(), state))
            })
        };
        let why_no_unit = self.why_no_unit(&units);
        insp.running(match (host.running_unread, host.server) {
            (Some(why), _) => RunningEvidence::Unknown(why.into()),
            (None, Some(server)) => {
                module_evidence(server, &walks, unit(), &self.view, &why_no_unit)
            }
            (None, None) => running_evidence(found, unit(), &self.view, &why_no_unit),
        });
        // A module bouncer logs into the first error log of the configuration that loads it.
        let error_log = walks.iter().find(|w| w.walk.loads.is_some()).and_then(|w| {
            let log = w.walk.error_logs.first()?;
            Some(self.through_root(w.process.pid, log))
        });
        let secrets = insp.log_secrets();
        let evidence = match insp.log_place(program.as_deref(), error_log.as_deref()) {
            LogPlace::Unknown(why) => LogEvidence::Unknown(why),
            LogPlace::File(file) => self.log_file(&file, &secrets, false),
            LogPlace::ErrorLog(file) => self.log_file(&file, &secrets, true),
            LogPlace::Journal(unit) => self.journal(&unit, &secrets),
        };
        insp.log(evidence);
    }

    /// A path as process `pid` sees it: through `/proc/<pid>/root` when that is readable (a container's files),
    /// else as it is.
    fn through_root(&self, pid: u32, path: &Path) -> PathBuf {
        let root = self.root_of(pid);
        if path.is_absolute() && std::fs::read_dir(&root).is_ok() {
            under(&root, path)
        } else {
            path.to_owned()
        }
    }

    /// Every master process of `server` and the walk of its configuration (files read through its root).
    fn server_walks(&self, server: Server, target: &Path) -> Vec<ServerWalk> {
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut out = Vec::new();
        for p in &self.processes {
            let Some(mut start) = server_config(p, server) else {
                continue;
            };
            let conf = start.main.clone();
            // apache's children repeat their parent's command line: one walk per configuration.
            if seen.contains(&conf) {
                continue;
            }
            seen.push(conf.clone());
            let fs = RootFs {
                root: self.through_root(p.pid, Path::new("/")),
            };
            if server == Server::Apache {
                start.env = self.apache_env(p, &start, &fs);
            }
            let walk = webserver::walk(server, &start, &fs, target);
            out.push(ServerWalk {
                process: p.clone(),
                conf,
                walk,
            });
        }
        out
    }

    /// apache's environment, for `${VAR}`: `/proc/<pid>/environ` when readable (the whole of it), else the
    /// variables Debian's `envvars` exports (apache2ctl sources it before it starts apache2; a unit's own
    /// `Environment=` may add more, so not the whole).
    fn apache_env(&self, p: &ProcessInfo, start: &Start, fs: &RootFs) -> Env {
        let environ = self.cfg.proc_root.join(p.pid.to_string()).join("environ");
        if let Ok(bytes) = crate::values::file::read_prefix(&environ, ENVIRON_BYTES) {
            if !bytes.is_empty() {
                return Env {
                    vars: environ_vars(&bytes),
                    complete: (bytes.len() as u64) < ENVIRON_BYTES,
                };
            }
        }
        let vars = match fs.read(&start.base.join("envvars")) {
            Some(text) if start.debian_apache2 => {
                apache_sections::debian_envvars(&text, &start.base)
            }
            _ => Vec::new(),
        };
        Env {
            vars,
            complete: false,
        }
    }

    fn since(&self) -> f64 {
        crate::values::time::now() - self.cfg.window.as_secs_f64()
    }

    /// `module_only`: a web server's error log, where only the CrowdSec module's lines count.
    fn log_file(&self, file: &Path, secrets: &[&str], module_only: bool) -> LogEvidence {
        match read_tail(file, TAIL_BYTES) {
            Ok((mut text, mtime)) => LogEvidence::Scanned {
                what: file.display().to_string(),
                window: self.cfg.window,
                scan: {
                    let offset = infer_offset(&text, mtime);
                    if module_only {
                        text = text.lines().filter(|l| crowdsec_lua_line(l)).collect::<Vec<_>>().join("\n");
                    }
                    scan(&text, self.since(), offset, false, secrets)
                },
            },
            Err(e) => LogEvidence::Unknown(format!(
                "not checked: the bouncer's log {} {}",
                file.display(),
                match e.kind() {
                    std::io::ErrorKind::NotFound => "does not exist (the bouncer has not written it yet, or logs elsewhere)".to_owned(),
                    std::io::ErrorKind::PermissionDenied => "is not readable by the exporter (the bouncers create it 0600 root; give the exporter's group read access)".to_owned(),
                    _ => format!("cannot be read: {e}"),
                }
            )),
        }
    }

    fn journal(&self, unit: &str, secrets: &[&str]) -> LogEvidence {
        if !self.systemd {
            return LogEvidence::Unknown(format!(
                "not checked: log_mode is stdout, so the bouncer logs to the journal of {unit}, and systemd does not run here ({} does not exist)",
                self.cfg.systemd_marker.display()
            ));
        }
        // Without access to the system journal, journalctl shows the caller's own journal only and exits 0:
        // an empty answer that would pass for a clean log.
        if !system_journal_readable() {
            return LogEvidence::Unknown(format!(
                "not checked: log_mode is stdout, so the bouncer logs to the journal of {unit}, and the exporter cannot read the system journal (add it to group systemd-journal or adm)"
            ));
        }
        let since = format!("-{}s", self.cfg.window.as_secs().max(1));
        match run(
            Command::new("journalctl").args(["-q", "--no-pager", "-o", "cat", "-n", "2000", "--since", &since, "-u", unit]),
            self.cfg.timeout,
        ) {
            // `--since` is the window: the journal's own times, whatever the lines print.
            Ok(out) => LogEvidence::Scanned {
                what: format!("the journal of {unit}"),
                window: self.cfg.window,
                scan: scan(&String::from_utf8_lossy(&out), self.since(), 0, true, secrets),
            },
            Err(why) => LogEvidence::Unknown(format!(
                "not checked: the journal of {unit} could not be read ({why}; the exporter needs group systemd-journal or adm)"
            )),
        }
    }
}

/// Whether a system journal file (`/var/log/journal/<machine-id>/system.journal`, or under `/run/log/journal`
/// when the journal is volatile) opens for reading.
fn system_journal_readable() -> bool {
    ["/var/log/journal", "/run/log/journal"].iter().any(|dir| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|machine| {
                crate::values::file::open_regular(&machine.path().join("system.journal")).is_ok()
            })
    })
}

/// One process from its `/proc/<pid>` folder; `None` when its command line cannot be read or is empty (a
/// kernel thread).
fn process(dir: &Path, pid: u32) -> Option<ProcessInfo> {
    let bytes = crate::values::file::read_prefix(&dir.join("cmdline"), CMDLINE_BYTES).ok()?;
    if bytes.is_empty() {
        return None;
    }
    let argv = bytes
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let cwd = std::fs::read_link(dir.join("cwd")).ok();
    Some(ProcessInfo { pid, argv, cwd })
}

/// `/proc/<pid>/environ`'s `NAME=value` entries (NUL-separated; lossy UTF-8).
fn environ_vars(bytes: &[u8]) -> Vec<(String, String)> {
    bytes
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (name, value) = entry.split_once('=')?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// `path` under `root` (an absolute path made relative to it).
fn under(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

pub use crate::crowdsec::host_evidence::webserver::{Env, Server as WebServer, Start, Walk};

/// A web server configuration walked as it is on disk here (what [`HostView::check`] reads, without a process):
/// the tests compare it with what the real servers say they include.
pub fn walk_on_disk(server: Server, start: &Start, target: &Path) -> Walk {
    let fs = RootFs { root: "/".into() };
    webserver::walk(server, start, &fs, target)
}

/// Reads a web server's configuration as the server sees it: under `root` (`/proc/<pid>/root`, or `/`).
struct RootFs {
    root: PathBuf,
}

impl ConfFs for RootFs {
    fn read(&self, path: &Path) -> Option<String> {
        let bytes = crate::crowdsec::bouncer_files::read_capped(&under(&self.root, path)).ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Wildcards in the last component only (`conf.d/*.conf`, `sites-enabled/*`), the form every packaged
    /// configuration uses; hidden files are skipped as glob(3) skips them.
    fn glob(&self, pattern: &Path) -> Vec<PathBuf> {
        let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
            return Vec::new();
        };
        let name = name.to_string_lossy();
        let mut out: Vec<PathBuf> = std::fs::read_dir(under(&self.root, dir))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                (!n.starts_with('.') && wildcard(&name, &n)).then(|| dir.join(n))
            })
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn environ_entries() {
        let vars = environ_vars(b"APACHE_CONFDIR=/etc/apache2\0A=b=c\0NOEQUALS\0\0");
        let want = [("APACHE_CONFDIR", "/etc/apache2"), ("A", "b=c")]
            .map(|(n, v)| (n.to_owned(), v.to_owned()));
        assert_eq!(vars, want);
    }

    #[test]
    fn tail_starts_at_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.log");
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&f, &text).unwrap();
        let (tail, _) = read_tail(&f, 100).unwrap();
        assert!(tail.ends_with("line 999\n"));
        assert!(tail.starts_with("line "), "{tail}");
        assert!(tail.len() <= 100);
        let (all, _) = read_tail(&f, 1 << 20).unwrap();
        assert_eq!(all, text);
        // A log path that is a FIFO is refused at once, not waited on (issue 23).
        let fifo = dir.path().join("fifo.log");
        assert!(Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read_tail(&fifo, 100).map(|_| ()).map_err(|e| e.to_string()));
        });
        let refused = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("read_tail must not block");
        assert!(refused.unwrap_err().contains("FIFO"));
    }

    /// A `/proc` laid out by hand: the matching without `/proc/<pid>/root` (a non-root exporter cannot read another
    /// user's), and the view's completeness from pid 2 and the mount options.
    #[test]
    fn processes_from_a_proc_tree() {
        let dir = tempfile::tempdir().unwrap();
        let proc = dir.path().join("proc");
        let file = dir.path().join("crowdsec-custom-bouncer.yaml");
        std::fs::write(&file, "api_url: http://x/\n").unwrap();
        let write = |rel: &str, text: &[u8]| {
            let p = proc.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("2/stat", b"2 (kthreadd) S 0 0 0");
        write("2/cmdline", b"");
        write(
            "77/cmdline",
            format!("/usr/bin/crowdsec-custom-bouncer\0-c\0{}\0", file.display()).as_bytes(),
        );
        write(
            "78/cmdline",
            b"/usr/bin/crowdsec-firewall-bouncer\0-c\0/etc/crowdsec/bouncers/other.yaml\0",
        );
        write(
            "self/mountinfo",
            b"22 27 0:21 / /proc rw,relatime - proc proc rw,hidepid=invisible\n",
        );
        write("self/status", b"Name:\tx\nUid:\t1000\t1000\t1000\t1000\n");
        let cfg = HostChecks {
            proc_root: proc.clone(),
            ..HostChecks::default()
        };
        let view = HostView::read(&cfg);
        assert_eq!(view.find(&file).map(|p| p.pid), Some(77));
        assert_eq!(view.find(Path::new("/nonexistent.yaml")), None);
        // self/ is no pid; 2, 77, 78 are.
        assert_eq!(view.view.count, 3);
        assert!(view.view.host_pid_namespace);
        assert!(
            view.view.incomplete().unwrap().contains("hidepid"),
            "{:?}",
            view.view
        );
        // Root sees through hidepid; without kthreadd it is a container's namespace.
        write("self/status", b"Name:\tx\nUid:\t0\t0\t0\t0\n");
        assert_eq!(HostView::read(&cfg).view.incomplete(), None);
        // A complete view, yet a haproxy Lua bouncer is not judged by `-c` processes: skipped, not failed.
        let full = HostView::read(&cfg);
        let haproxy = dir.path().join("crowdsec-haproxy-bouncer.conf");
        std::fs::write(&haproxy, "API_KEY=k0123456789abcdef\n").unwrap();
        let mut insp = crate::crowdsec::bouncer_files::checks::inspect(&haproxy, &|_| None);
        full.check(&mut insp);
        let r = insp.finish();
        use crate::crowdsec::bouncer_files::checks::Check;
        assert!(r.check(Check::Running).is_none(), "{r:?}");
        assert!(r.skipped(Check::Running).unwrap().why.contains("haproxy"));
        std::fs::remove_dir_all(proc.join("2")).unwrap();
        assert!(HostView::read(&cfg)
            .view
            .incomplete()
            .unwrap()
            .contains("own PID namespace"));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*.conf", "crowdsec_nginx.conf"));
        assert!(wildcard("*", "default"));
        assert!(!wildcard("*.conf", "crowdsec_nginx.conf.bak"));
        assert!(wildcard("crowdsec?.load", "crowdsec1.load"));
        assert!(!wildcard("a*b", "ac"));
    }

    #[test]
    fn commands_are_bounded() {
        let t = Instant::now();
        let e = run(Command::new("sleep").arg("10"), Duration::from_millis(200)).unwrap_err();
        assert!(e.contains("did not finish"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
        let out = run(
            Command::new("sh").args(["-c", "yes | head -c 1000000"]),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.len() as u64, COMMAND_BYTES);
        assert!(run(&mut Command::new("false"), Duration::from_secs(5)).is_err());
        // A background child holding stdout open: the whole group dies at the timeout, so the call returns.
        let t = Instant::now();
        let e = run(
            Command::new("sh").args(["-c", "sleep 30 & echo x"]),
            Duration::from_millis(300),
        );
        assert!(t.elapsed() < Duration::from_secs(3), "{e:?}");
        assert!(run(&mut Command::new("/nonexistent/x"), Duration::from_secs(5)).is_err());
    }
}
