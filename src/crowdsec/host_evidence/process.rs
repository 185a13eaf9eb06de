//! A bouncer process found by its command line. The Go bouncers take their file only from `-c` and refuse to
//! start without it (cs-firewall-bouncer cmd/root.go at bcb81cd5 and main.go at v0.0.25 0a4fde8e,
//! cs-custom-bouncer cmd/root.go at 75021224 and main.go at v0.0.15: `flag.String("c", "", ...)` then
//! "configuration file is required"): there is no default path, so a process names its file or is not its bouncer.

use std::path::{Path, PathBuf};

/// One process as `/proc/<pid>` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// `/proc/<pid>/cmdline` split at NUL (lossy UTF-8).
    pub argv: Vec<String>,
    /// `/proc/<pid>/cwd`, when readable (the same user, or root).
    pub cwd: Option<PathBuf>,
}

impl ProcessInfo {
    /// The program's file name (`crowdsec-firewall-bouncer`), from argv[0]; web servers that rewrite their title
    /// (`nginx: master process /usr/sbin/nginx ...`) give the word before the colon.
    pub fn program(&self) -> &str {
        let first = self.argv.first().map(String::as_str).unwrap_or("");
        let word = first.split(':').next().unwrap_or("");
        let word = word.split_whitespace().next().unwrap_or("");
        word.rsplit('/').next().unwrap_or(word)
    }

    /// The command line for a message: arguments joined by spaces, at most 200 characters.
    pub fn command(&self) -> String {
        let mut s = self.argv.join(" ");
        if s.chars().count() > 200 {
            s = s.chars().take(199).collect::<String>() + "…";
        }
        s
    }
}

/// The value of Go's `-c` flag in `argv` (`-c F`, `-c=F`, `--c F`, `--c=F`), read the way Go's `flag` package
/// reads it: flags end at `--` or at the first argument that is not a flag; the bouncers' other flags are booleans.
fn config_arg(argv: &[String]) -> Option<&str> {
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--" || !arg.starts_with('-') || arg == "-" {
            return None;
        }
        let name = arg.trim_start_matches('-');
        if arg.len() - name.len() > 2 {
            return None;
        }
        match name.split_once('=') {
            Some(("c", value)) => return Some(value),
            None if name == "c" => return args.next().map(String::as_str),
            _ => {}
        }
    }
    None
}

/// The `-c` path as the process opened it: relative paths against its working directory (`None` when that is
/// unknown).
pub fn config_path(p: &ProcessInfo) -> Option<PathBuf> {
    let arg = config_arg(&p.argv)?;
    let path = Path::new(arg);
    if path.is_absolute() {
        Some(path.to_owned())
    } else {
        p.cwd.as_ref().map(|cwd| cwd.join(path))
    }
}

/// How much of the host's processes the exporter sees: a search that finds nothing proves "not running" only
/// when it could see every process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcView {
    /// Processes listed.
    pub count: usize,
    /// The host's PID namespace: pid 2 is the kernel's `kthreadd` (a container's own namespace has none).
    pub host_pid_namespace: bool,
    /// `/proc` is mounted with `hidepid` (systemd's `ProtectProc=invisible`...) and the exporter is not root.
    pub hidden: bool,
}

impl ProcView {
    /// Why a search of this view cannot prove a process absent, in operator words; `None` when it can.
    pub fn incomplete(&self) -> Option<String> {
        if self.count == 0 {
            Some("/proc lists no process here".into())
        } else if self.hidden {
            Some("/proc hides other users' processes from the exporter (mounted with hidepid, e.g. systemd's ProtectProc=invisible)".into())
        } else if !self.host_pid_namespace {
            Some("the exporter runs in its own PID namespace (a container) and sees only its own processes".into())
        } else {
            None
        }
    }
}

/// Whether a `/proc/self/mountinfo` text mounts `/proc` with a `hidepid` other than 0/off.
pub fn proc_hidepid(mountinfo: &str) -> bool {
    mountinfo.lines().any(|line| {
        let mut fields = line.split(' ');
        let mount_point = fields.nth(4);
        if mount_point != Some("/proc") {
            return false;
        }
        // Super options come after the " - fstype source " separator.
        let Some((_, after)) = line.split_once(" - ") else {
            return false;
        };
        after
            .split(' ')
            .nth(2)
            .unwrap_or("")
            .split(',')
            .filter_map(|o| o.strip_prefix("hidepid="))
            .any(|v| !matches!(v, "0" | "off"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn the_c_flag_as_go_reads_it() {
        let f = "/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml";
        // The packaged unit's ExecStart (crowdsec-firewall-bouncer 0.0.25 Debian, lib/systemd/system).
        assert_eq!(
            config_arg(&argv(&format!("/usr/bin/crowdsec-firewall-bouncer -c {f}"))),
            Some(f)
        );
        assert_eq!(
            config_arg(&argv(&format!("crowdsec-firewall-bouncer -c={f}"))),
            Some(f)
        );
        assert_eq!(
            config_arg(&argv(&format!("crowdsec-firewall-bouncer --c {f} -t"))),
            Some(f)
        );
        assert_eq!(
            config_arg(&argv(&format!("crowdsec-firewall-bouncer -v -c {f}"))),
            Some(f)
        );
        // After a non-flag argument or `--`, Go's flag package stops.
        assert_eq!(
            config_arg(&argv(&format!("crowdsec-firewall-bouncer x -c {f}"))),
            None
        );
        assert_eq!(
            config_arg(&argv(&format!("crowdsec-firewall-bouncer -- -c {f}"))),
            None
        );
        assert_eq!(
            config_arg(&argv(&format!("crowdsec-firewall-bouncer ---c {f}"))),
            None
        );
        assert_eq!(config_arg(&argv("crowdsec-firewall-bouncer -c")), None);
        assert_eq!(config_arg(&argv("crowdsec-firewall-bouncer")), None);
    }

    #[test]
    fn relative_paths_need_the_working_directory() {
        let mut p = ProcessInfo {
            pid: 7,
            argv: argv("crowdsec-custom-bouncer -c bouncer.yaml"),
            cwd: None,
        };
        assert_eq!(config_path(&p), None);
        p.cwd = Some("/srv".into());
        assert_eq!(config_path(&p), Some(PathBuf::from("/srv/bouncer.yaml")));
        assert_eq!(p.program(), "crowdsec-custom-bouncer");
        let nginx = ProcessInfo {
            pid: 8,
            argv: vec!["nginx: master process /usr/sbin/nginx -g daemon on;".into()],
            cwd: None,
        };
        assert_eq!(nginx.program(), "nginx");
    }

    #[test]
    fn hidepid_from_mountinfo() {
        // Lines as /proc/self/mountinfo prints them (the first is this machine's; the second a ProtectProc=invisible unit's).
        let plain = "22 27 0:21 / /proc rw,relatime - proc proc rw\n";
        let hidden =
            "22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw,hidepid=invisible\n";
        let off = "22 27 0:21 / /proc rw,relatime - proc proc rw,hidepid=0\n";
        assert!(!proc_hidepid(plain));
        assert!(proc_hidepid(hidden));
        assert!(!proc_hidepid(off));
        assert!(proc_hidepid(
            "22 27 0:21 / /proc rw - proc proc rw,hidepid=2,gid=4\n"
        ));
    }

    #[test]
    fn only_a_complete_view_proves_absence() {
        let full = ProcView {
            count: 80,
            host_pid_namespace: true,
            hidden: false,
        };
        assert_eq!(full.incomplete(), None);
        let container = ProcView {
            host_pid_namespace: false,
            ..full.clone()
        };
        assert!(container
            .incomplete()
            .unwrap()
            .contains("own PID namespace"));
        let hidden = ProcView {
            hidden: true,
            ..full
        };
        assert!(hidden.incomplete().unwrap().contains("hidepid"));
    }
}
