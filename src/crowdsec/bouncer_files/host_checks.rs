//! The host checks of a file, `running` and `log` (issue 15): the evidence is gathered by `sources::host_probes` and
//! judged here. Evidence out of reach makes a [`Skipped`](super::checks::Skipped) with the why, never a failure.
//! Holds: [`OnHost`] (per bouncer kind: its own program or a host program, what is read of it), the evidence
//! order ([`running_evidence`], [`module_evidence`]), where a bouncer logs ([`Inspection::log_place`], from the Go
//! bouncers' logging code it cites) and the checks' texts and fixes ([`Inspection::running`], [`Inspection::log`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::checks::{fail, pass, skip, Check, Inspection};
use super::{Kind, Parsed};
use crate::crowdsec::host_evidence::go_program;
use crate::crowdsec::host_evidence::log::LogScan;
use crate::crowdsec::host_evidence::process::{ProcView, ProcessInfo};
use crate::crowdsec::host_evidence::systemd::UnitState;
use crate::crowdsec::host_evidence::webserver::Server;
use crate::values::secret::Secret;
use crate::values::time::human_duration;

/// What the host checks need from the parsed file.
#[derive(Debug, Default)]
pub(super) struct HostHints {
    log_mode: Option<String>,
    log_dir: Option<String>,
    /// The file's key: replaced in any log excerpt shown.
    secret: Option<Secret>,
}

impl HostHints {
    pub(super) fn from_parsed(p: &Parsed) -> HostHints {
        HostHints {
            log_mode: p.log_mode.clone(),
            log_dir: p.log_dir.clone(),
            secret: p.api_key.clone(),
        }
    }
}

/// Where the bouncer's own log is.
#[derive(Debug, Clone, PartialEq)]
pub enum LogPlace {
    /// `log_mode: file`: `<log_dir>/<program>.log`.
    File(PathBuf),
    /// The unit's journal (`log_mode: stdout` under systemd).
    Journal(String),
    /// A module bouncer: its web server's error log, of which only the CrowdSec module's lines count.
    ErrorLog(PathBuf),
    /// Nowhere the exporter can tell; why.
    Unknown(String),
}

/// The evidence for `running`, strongest first.
#[derive(Debug, Clone, PartialEq)]
pub enum RunningEvidence {
    /// A process names this file (`-c <file>`).
    Process(ProcessInfo),
    /// The systemd unit the package installs, with its state.
    Unit { unit: String, state: UnitState },
    /// Every process of the host was seen and none names the file.
    NoProcess { seen: usize },
    /// A web server process loads the CrowdSec module for this file (`walk.loads`: where its configuration does).
    ModuleLoaded(ServerWalk),
    /// Web servers run, and none of their configurations (as on disk now) loads the module for this file: the
    /// first one.
    ModuleNotLoaded(ServerWalk),
    /// No web server process of the module's kind, and the exporter sees every process.
    NoServer { servers: &'static str, seen: usize },
    /// No evidence reachable: why.
    Unknown(String),
}

/// Picks the evidence: a process naming the file; else the package's systemd unit (where systemd runs and knows
/// it); else, when the exporter sees every process of the host, their absence; else nothing, with why.
pub fn running_evidence(
    found: Option<ProcessInfo>,
    unit: Option<(String, UnitState)>,
    view: &ProcView,
    why_no_unit: &str,
) -> RunningEvidence {
    if let Some(p) = found {
        return RunningEvidence::Process(p);
    }
    if let Some((unit, state)) = unit.filter(|(_, s)| s.exists()) {
        return RunningEvidence::Unit { unit, state };
    }
    unseen(view, "no process names this file", why_no_unit, |seen| {
        RunningEvidence::NoProcess { seen }
    })
}

/// Nothing found: proof of absence (`absent`, with the number of processes seen) when the exporter sees every
/// process of the host, else no evidence, with why (`nothing`: what was not found).
fn unseen(
    view: &ProcView,
    nothing: &str,
    why_no_unit: &str,
    absent: impl FnOnce(usize) -> RunningEvidence,
) -> RunningEvidence {
    match view.incomplete() {
        None => absent(view.count),
        Some(why) => RunningEvidence::Unknown(format!(
            "not checked: {nothing}, but {why}; and {why_no_unit}"
        )),
    }
}

/// One web server process and what its configuration says.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerWalk {
    pub process: ProcessInfo,
    pub conf: PathBuf,
    pub walk: crate::crowdsec::host_evidence::webserver::Walk,
}

/// The `running` evidence of a module bouncer: a web server whose configuration loads the module for the file;
/// else one that runs without it (when its configuration could be read whole); else its unit's state; else,
/// seeing every process, no web server; else nothing, with why.
pub fn module_evidence(
    server: Server,
    walks: &[ServerWalk],
    unit: Option<(String, UnitState)>,
    view: &ProcView,
    why_no_unit: &str,
) -> RunningEvidence {
    if let Some(w) = walks.iter().find(|w| w.walk.loads.is_some()) {
        return RunningEvidence::ModuleLoaded(w.clone());
    }
    // A configuration not read whole may load it in what was not read.
    let partial = |w: &&ServerWalk| !w.walk.unreadable.is_empty() || w.walk.files.is_empty();
    if let Some(w) = walks.iter().find(partial) {
        let missing = w.walk.unreadable.first().unwrap_or(&w.conf).display();
        return RunningEvidence::Unknown(format!(
            "not checked: {} (pid {}) runs, but the exporter cannot read its configuration file {missing}, so whether it loads the CrowdSec module is unknown",
            w.process.program(),
            w.process.pid
        ));
    }
    // A configuration whose answer depends on a section the walker could not decide.
    if let Some(w) = walks.iter().find(|w| !w.walk.undecided.is_empty()) {
        return RunningEvidence::Unknown(format!(
            "not checked: {} (pid {}) runs, but whether its configuration loads the CrowdSec module depends on {}, which the exporter cannot decide from the files",
            w.process.program(),
            w.process.pid,
            w.walk.undecided.join(", ")
        ));
    }
    if let Some(w) = walks.first() {
        return RunningEvidence::ModuleNotLoaded(w.clone());
    }
    if let Some((unit, state)) = unit.filter(|(_, s)| s.exists() && !s.running()) {
        return RunningEvidence::Unit { unit, state };
    }
    let servers = server.names();
    let nothing = format!("no {servers} process is visible");
    unseen(view, &nothing, why_no_unit, |seen| {
        RunningEvidence::NoServer { servers, seen }
    })
}

/// How a kind of bouncer shows on the host, one row per kind: what runs it, what the exporter reads of it.
#[derive(Debug, Clone, Copy)]
pub struct OnHost {
    /// The bouncer is its own program, named by its package as its file is (`/usr/bin/<name>`, `<name>.service`,
    /// `<name>.log`: [`go_program`]); else a module of a host program.
    pub own_program: bool,
    /// The systemd units of its host program.
    pub units: &'static [&'static str],
    /// The web server it runs in: its configuration tells whether it loads the module.
    pub server: Option<Server>,
    /// Why `running` is not checked (a host program whose configuration the exporter does not read yet).
    pub running_unread: Option<&'static str>,
    /// Why `log` is not checked (a host program whose log the exporter does not classify yet).
    pub log_unread: Option<&'static str>,
}

const GO: OnHost = OnHost {
    own_program: true,
    units: &[],
    server: None,
    running_unread: None,
    log_unread: None,
};

impl OnHost {
    pub fn of(kind: Kind) -> OnHost {
        let module = OnHost {
            own_program: false,
            ..GO
        };
        match kind {
            Kind::Go | Kind::Cloudflare | Kind::CrowdsecConfig => GO,
            Kind::Lua => OnHost {
                units: &["nginx.service", "openresty.service"],
                server: Some(Server::Nginx),
                ..module
            },
            Kind::Apache => OnHost {
                units: &["apache2.service", "httpd.service"],
                server: Some(Server::Apache),
                // mod_crowdsec's lines and apache's `[Mon Nov 30 ...]` times are not read: no count rather than a
                // clean log nobody read.
                log_unread: Some("not checked: the apache bouncer (mod_crowdsec) logs into apache's error log, whose lines the exporter does not classify yet"),
                ..module
            },
            // `lua-load .../crowdsec.lua` in haproxy.cfg is not read yet; a missing `-c` process would be no
            // evidence for a module.
            Kind::LuaHaproxy => OnHost {
                units: &["haproxy.service"],
                running_unread: Some("not checked: the haproxy Lua bouncer runs inside haproxy, whose configuration (lua-load of crowdsec.lua) the exporter does not read yet"),
                ..module
            },
            Kind::Traefik => OnHost {
                units: &["traefik.service"],
                running_unread: Some("not checked: the Traefik plugin runs inside Traefik, whose static configuration (experimental.plugins) the exporter does not read yet"),
                log_unread: Some("not checked: the Traefik plugin logs into Traefik's log (its logFilePath, or Traefik's standard output), which the exporter does not read yet"),
                ..module
            },
            Kind::Caddy => OnHost {
                units: &["caddy.service"],
                running_unread: Some("not checked: the Caddy bouncer runs inside Caddy, whose processes and adapted configuration the exporter does not read yet"),
                log_unread: Some("not checked: the Caddy bouncer logs into Caddy's log (its `log` option, or the journal of caddy.service), which the exporter does not classify yet"),
                ..module
            },
        }
    }
}

/// The systemd units that run a file's bouncer: the Go bouncer's package unit (`<program>.service`), or its host
/// program's.
pub fn units(kind: Kind, path: &Path) -> Vec<String> {
    let host = OnHost::of(kind);
    if host.own_program {
        go_program(path)
            .map(|p| vec![format!("{p}.service")])
            .unwrap_or_default()
    } else {
        host.units.iter().map(|u| u.to_string()).collect()
    }
}

/// The result of reading the bouncer's log.
#[derive(Debug, Clone, PartialEq)]
pub enum LogEvidence {
    /// `what` (a path, or `journal of <unit>`) was read over the last `window`.
    Scanned {
        what: String,
        window: Duration,
        scan: LogScan,
    },
    Unknown(String),
}

impl Inspection {
    /// The file's key, to redact from any log excerpt (exposes the secret: never log the result).
    pub fn log_secrets(&self) -> Vec<&str> {
        self.host.secret.iter().map(Secret::expose).collect()
    }

    /// The bouncer program behind the file when its name is a package's (`crowdsec-firewall-bouncer`).
    pub fn program(&self) -> Option<&'static str> {
        OnHost::of(self.report.kind)
            .own_program
            .then(|| go_program(&self.report.path))
            .flatten()
    }

    /// Where the bouncer logs. `program` is the running process's program name when one was found (a renamed
    /// file still logs under its program's name). Go bouncers (cs-firewall-bouncer pkg/cfg/logging.go bcb81cd5,
    /// config.go v0.0.25; cs-custom-bouncer pkg/cfg/config.go 75021224): `log_mode: file` writes
    /// `<log_dir>/<program>.log` (`log_dir` defaults to `/var/log/`); `stdout` (today's default) writes to
    /// standard error, which systemd keeps in the unit's journal.
    /// A module bouncer logs into its web server's `error_log` (`error_log`: the first one of the configuration
    /// that loads it).
    pub fn log_place(&self, program: Option<&str>, error_log: Option<&Path>) -> LogPlace {
        let host = OnHost::of(self.report.kind);
        if let Some(why) = host.log_unread {
            return LogPlace::Unknown(why.into());
        }
        if !host.own_program {
            return match error_log {
                Some(p) => LogPlace::ErrorLog(p.to_owned()),
                None => LogPlace::Unknown(
                    "not checked: a module bouncer logs into its web server's error log, and no running web server's configuration that loads it names one (nginx's compiled-in default on Debian is stderr, kept by its service manager)".into(),
                ),
            };
        }
        let program = self
            .program()
            .or(program.filter(|p| p.starts_with("crowdsec-")));
        match self.host.log_mode.as_deref().map(str::trim) {
            Some("file") => {
                let dir = self.host.log_dir.as_deref().filter(|d| !d.is_empty()).unwrap_or("/var/log/");
                match program {
                    Some(p) => LogPlace::File(Path::new(dir).join(format!("{p}.log"))),
                    None => LogPlace::Unknown(format!(
                        "not checked: log_mode is file, but the log's name is the bouncer program's (<program>.log in {dir}) and neither the file's name nor a running process tells which program reads this file"
                    )),
                }
            }
            _ => match self.program() {
                Some(p) => LogPlace::Journal(format!("{p}.service")),
                None => LogPlace::Unknown(
                    "not checked: log_mode is stdout (the default), so the bouncer logs to its standard error, which only its service manager keeps, and no packaged unit is known for this file name".into(),
                ),
            },
        }
    }

    /// Records the `running` check from its evidence.
    pub fn running(&mut self, evidence: RunningEvidence) {
        let path = self.report.path.display().to_string();
        let result = match evidence {
            RunningEvidence::Process(p) => pass(
                Check::Running,
                format!(
                    "pid {} runs `{}`",
                    p.pid,
                    crate::crowdsec::host_evidence::log::redact(&p.command(), &self.log_secrets())
                ),
            ),
            RunningEvidence::Unit { unit, state } if state.running() => {
                pass(Check::Running, state.describe(&unit))
            }
            RunningEvidence::Unit { unit, state } => {
                let name = unit.trim_end_matches(".service");
                fail(
                    Check::Running,
                    format!("not running: {}", state.describe(&unit)),
                    format!("`systemctl status {name}` and `journalctl -u {name} -n 50` say why it stopped; then `systemctl restart {name}`"),
                )
            }
            RunningEvidence::NoProcess { seen } => fail(
                Check::Running,
                format!("not running: none of the {seen} processes on this host runs with `-c {path}`"),
                format!("{}; its log says why it stopped", self.start_fix()),
            ),
            RunningEvidence::ModuleLoaded(ServerWalk { process, conf, walk }) => pass(
                Check::Running,
                format!("{} (pid {}, {}) loads the CrowdSec module for this file: {}", process.program(), process.pid, conf.display(), walk.loads.unwrap_or_default()),
            ),
            RunningEvidence::ModuleNotLoaded(ServerWalk { process, conf, walk }) => fail(
                Check::Running,
                format!("module not loaded: {} runs (pid {}), but its configuration ({} and the {} files it includes, as they are on disk now) does not load the CrowdSec module with this file", process.program(), process.pid, conf.display(), walk.files.len().saturating_sub(1)),
                match process.program() {
                    server @ ("apache2" | "httpd") => format!("enable the module (`a2enmod crowdsec` or `LoadModule crowdsec_module ...`) and `Include {path}`; then `apachectl configtest && systemctl reload {server}`"),
                    server => format!("include the bouncer's nginx file (cs-nginx-bouncer installs /etc/nginx/conf.d/crowdsec_nginx.conf, whose init_by_lua_block calls cs.init(\"{path}\")) in the http block; then `{server} -t && systemctl reload {server}`"),
                },
            ),
            RunningEvidence::NoServer { servers, seen } => fail(
                Check::Running,
                format!("not running: none of the {seen} processes on this host is {servers}, which this module bouncer runs in"),
                format!("start the web server (`systemctl start {}`) and check its error log", servers.split(' ').next().unwrap_or(servers)),
            ),
            RunningEvidence::Unknown(why) => {
                self.report.skipped.push(skip(Check::Running, why));
                return;
            }
        };
        self.report.checks.push(result);
    }

    /// How to start the bouncer. Issue 20 #7: with no known program, name none (never "systemctl start the
    /// bouncer").
    fn start_fix(&self) -> String {
        let path = self.report.path.display();
        match self.program() {
            Some(program) => format!("start it (`systemctl start {program}`, or `{program} -c {path}` under your service manager)"),
            None => format!("start the bouncer program that reads this file (its service, or `<program> -c {path}` under your service manager)"),
        }
    }

    /// Records the `log` check and the error counts by class.
    pub fn log(&mut self, evidence: LogEvidence) {
        let (what, window, scan) = match evidence {
            LogEvidence::Unknown(why) => {
                self.report.skipped.push(skip(Check::Log, why));
                return;
            }
            LogEvidence::Scanned { what, window, scan } => (what, window, scan),
        };
        let window_text = human_duration(window.as_secs_f64());
        self.report.log_errors = scan.counts.clone();
        if scan.errors() == 0 {
            self.report.checks.push(pass(
                Check::Log,
                format!("{what}: no auth, tls, connect or config error in the last {window_text} ({} lines)", scan.lines),
            ));
            return;
        }
        let counts: Vec<String> = scan
            .counts
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        let n = scan.errors();
        let mut detail = format!(
            "{what}: {n} error{} in the last {window_text} ({})",
            if n == 1 { "" } else { "s" },
            counts.join(", ")
        );
        if let Some(last) = &scan.last {
            detail.push_str(&format!("; last: {last}"));
        }
        let fixes: Vec<String> = scan.counts.keys().map(|c| self.log_fix(c)).collect();
        self.report
            .checks
            .push(fail(Check::Log, detail, fixes.join("; ")));
    }

    /// What to do about errors of `class` in the log.
    fn log_fix(&self, class: &str) -> String {
        let (url_key, key_key) = self.report.kind.url_key();
        let url = self
            .report
            .api_url
            .clone()
            .unwrap_or_else(|| format!("<{url_key}>"));
        let blaas = self.report.is_blaas();
        match class {
            // Issue 20 #5: a Blocklist-as-a-Service device's key is the Console's, not a LAPI's.
            "auth" if blaas => format!("auth: {}", super::refresh_fix(key_key)),
            "connect" if blaas => "connect: the bouncer cannot reach admin.api.crowdsec.net: allow outbound HTTPS (443) from this host (firewall, proxy, DNS) and test with `curl -I https://admin.api.crowdsec.net/`".to_owned(),
            "auth" => format!("auth: the LAPI refuses the key (403): `cscli bouncers list` on the LAPI host; if the bouncer was deleted or re-registered, `cscli bouncers add <name>`, put the new key in {key_key}, restart the bouncer"),
            "tls" => format!("tls: the certificate of {url} is not trusted or the client certificate is refused: check ca_cert_path / cert_path / key_path, `openssl s_client -connect <host>:<port>`"),
            "connect" => format!("connect: the bouncer cannot reach {url}: `systemctl status crowdsec` on the LAPI host, `curl -s {url}health` from this host, firewall or proxy in between"),
            _ => "config: the bouncer cannot use its file: test it with `<bouncer> -c <file> -t` and fix what it names".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crowdsec::bouncer_files::checks::{inspect_at, Status};
    use crate::crowdsec::host_evidence::systemd::parse_show;
    use std::collections::BTreeMap;

    fn inspection(text: &str, name: &str) -> (tempfile::TempDir, Inspection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let insp = inspect_at(&path, &|_| None, 0);
        (dir, insp)
    }

    const FULL: ProcView = ProcView {
        count: 90,
        host_pid_namespace: true,
        hidden: false,
    };

    /// The table's rows agree with themselves: a program of its own has no host program's units, and a web
    /// server whose configuration is read is no unread one.
    #[test]
    fn one_row_per_kind() {
        use Kind::*;
        for kind in [
            Go,
            Cloudflare,
            CrowdsecConfig,
            Lua,
            LuaHaproxy,
            Apache,
            Traefik,
            Caddy,
        ] {
            let host = OnHost::of(kind);
            assert_eq!(host.own_program, host.units.is_empty(), "{kind:?}");
            assert!(
                host.server.is_none() || host.running_unread.is_none(),
                "{kind:?}"
            );
        }
        let go = Path::new("/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml");
        assert_eq!(units(Go, go), ["crowdsec-firewall-bouncer.service"]);
        assert_eq!(units(Go, Path::new("mine.yaml")), Vec::<String>::new());
        assert_eq!(units(Lua, go), ["nginx.service", "openresty.service"]);
    }

    #[test]
    fn evidence_order() {
        let p = ProcessInfo {
            pid: 42,
            argv: vec![
                "crowdsec-firewall-bouncer".into(),
                "-c".into(),
                "/f.yaml".into(),
            ],
            cwd: None,
        };
        let failed = parse_show("LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\nExecMainStatus=1\n");
        let unit = || {
            Some((
                "crowdsec-firewall-bouncer.service".to_owned(),
                failed.clone(),
            ))
        };
        assert!(matches!(
            running_evidence(Some(p), unit(), &FULL, ""),
            RunningEvidence::Process(_)
        ));
        assert!(matches!(
            running_evidence(None, unit(), &FULL, ""),
            RunningEvidence::Unit { .. }
        ));
        assert_eq!(
            running_evidence(None, None, &FULL, ""),
            RunningEvidence::NoProcess { seen: 90 }
        );
        // A unit systemd does not know is no evidence.
        let missing = Some(("x.service".to_owned(), parse_show("LoadState=not-found\n")));
        assert_eq!(
            running_evidence(None, missing, &FULL, ""),
            RunningEvidence::NoProcess { seen: 90 }
        );
        // Own PID namespace, no systemd: nothing can be said.
        let container = ProcView {
            host_pid_namespace: false,
            ..FULL
        };
        let RunningEvidence::Unknown(why) =
            running_evidence(None, None, &container, "systemd does not run here")
        else {
            panic!()
        };
        assert!(
            why.contains("own PID namespace") && why.contains("systemd does not run here"),
            "{why}"
        );
    }

    #[test]
    fn module_evidence_order() {
        use crate::crowdsec::host_evidence::webserver::Walk;
        let nginx = ProcessInfo {
            pid: 9,
            argv: vec!["nginx: master process /usr/sbin/nginx".into()],
            cwd: None,
        };
        let walk = |loads: Option<&str>, unreadable: &[&str]| ServerWalk {
            process: nginx.clone(),
            conf: "/etc/nginx/nginx.conf".into(),
            walk: Walk {
                files: vec!["/etc/nginx/nginx.conf".into()],
                unreadable: unreadable.iter().map(PathBuf::from).collect(),
                loads: loads.map(str::to_owned),
                error_logs: vec![],
                undecided: vec![],
            },
        };
        let m = |walks: &[ServerWalk], unit, view: &ProcView| {
            module_evidence(Server::Nginx, walks, unit, view, "no systemd")
        };
        assert!(matches!(
            m(&[walk(Some("init_by_lua_block in x"), &[])], None, &FULL),
            RunningEvidence::ModuleLoaded(w) if w.process.pid == 9
        ));
        assert!(matches!(
            m(&[walk(None, &[])], None, &FULL),
            RunningEvidence::ModuleNotLoaded(w) if w.process.pid == 9
        ));
        // An include it could not read: the module may be there; no verdict.
        let RunningEvidence::Unknown(why) = m(
            &[walk(None, &["/etc/nginx/conf.d/crowdsec_nginx.conf"])],
            None,
            &FULL,
        ) else {
            panic!()
        };
        assert!(
            why.contains("/etc/nginx/conf.d/crowdsec_nginx.conf"),
            "{why}"
        );
        // A section the walker could not decide, on which the answer depends: no verdict either.
        let mut undecided = walk(None, &[]);
        undecided.walk.undecided = vec!["<IfModule foo.c> in /etc/apache2/x.conf".into()];
        let RunningEvidence::Unknown(why) = m(&[undecided], None, &FULL) else {
            panic!()
        };
        assert!(
            why.contains("<IfModule foo.c> in /etc/apache2/x.conf"),
            "{why}"
        );
        let failed = parse_show("LoadState=loaded\nActiveState=failed\nSubState=failed\n");
        assert!(matches!(
            m(&[], Some(("nginx.service".into(), failed)), &FULL),
            RunningEvidence::Unit { .. }
        ));
        assert!(matches!(
            m(&[], None, &FULL),
            RunningEvidence::NoServer { seen: 90, .. }
        ));
        let hidden = ProcView {
            hidden: true,
            ..FULL
        };
        assert!(matches!(m(&[], None, &hidden), RunningEvidence::Unknown(_)));
    }

    #[test]
    fn running_results() {
        let (_d, mut insp) = inspection(
            "api_url: http://127.0.0.1:8080/\napi_key: k0123456789abcdef\n",
            "crowdsec-firewall-bouncer.yaml",
        );
        insp.running(RunningEvidence::Unit {
            unit: "crowdsec-firewall-bouncer.service".into(),
            state: parse_show("LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\nExecMainStatus=1\nStateChangeTimestamp=Mon 2026-11-30 10:58:36 UTC\n"),
        });
        let r = insp.finish();
        let c = r.check(Check::Running).unwrap();
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.detail, "not running: crowdsec-firewall-bouncer.service is failed, exit status 1 since Mon 2026-11-30 10:58:36 UTC");
        assert!(c
            .fix
            .as_deref()
            .unwrap()
            .contains("systemctl status crowdsec-firewall-bouncer`"));
        // A stopped bouncer's correct file stays valid.
        assert!(r.valid());
        let (_d, mut insp) = inspection(
            "api_url: http://127.0.0.1:8080/\napi_key: k0123456789abcdef\n",
            "b.yaml",
        );
        insp.running(RunningEvidence::NoProcess { seen: 90 });
        let fix = insp
            .report
            .check(Check::Running)
            .unwrap()
            .fix
            .clone()
            .unwrap();
        assert!(
            fix.starts_with(
                "start the bouncer program that reads this file (its service, or `<program> -c "
            ) && !fix.contains("systemctl start the bouncer"),
            "issue 20 #7: {fix}"
        );
        insp.report.checks.clear();
        insp.running(RunningEvidence::Unknown("not checked: x".into()));
        let r = insp.finish();
        assert!(r.check(Check::Running).is_none());
        assert_eq!(r.skipped(Check::Running).unwrap().why, "not checked: x");
    }

    #[test]
    fn module_results() {
        use crate::crowdsec::host_evidence::webserver::Walk;
        let (_d, mut insp) = inspection(
            "API_URL=http://x\nAPI_KEY=k\n",
            "crowdsec-nginx-bouncer.conf",
        );
        let path = insp.report.path.display().to_string();
        let server = |argv0: &str, loads: Option<&str>| ServerWalk {
            process: ProcessInfo {
                pid: 9,
                argv: vec![argv0.into()],
                cwd: None,
            },
            conf: "/etc/nginx/nginx.conf".into(),
            walk: Walk {
                files: vec!["a".into(), "b".into(), "c".into()],
                loads: loads.map(str::to_owned),
                ..Walk::default()
            },
        };
        let nginx = "nginx: master process /usr/sbin/nginx";
        insp.report.checks.clear();
        insp.running(RunningEvidence::ModuleLoaded(server(
            nginx,
            Some("init_by_lua_block in x"),
        )));
        insp.running(RunningEvidence::ModuleNotLoaded(server(nginx, None)));
        insp.running(RunningEvidence::ModuleNotLoaded(server(
            "/usr/sbin/apache2",
            None,
        )));
        let texts: Vec<_> = insp
            .report
            .checks
            .iter()
            .map(|c| (c.detail.clone(), c.fix.clone()))
            .collect();
        assert_eq!(
            texts,
            [
                ("nginx (pid 9, /etc/nginx/nginx.conf) loads the CrowdSec module for this file: init_by_lua_block in x".to_owned(), None),
                ("module not loaded: nginx runs (pid 9), but its configuration (/etc/nginx/nginx.conf and the 2 files it includes, as they are on disk now) does not load the CrowdSec module with this file".to_owned(),
                 Some(format!("include the bouncer's nginx file (cs-nginx-bouncer installs /etc/nginx/conf.d/crowdsec_nginx.conf, whose init_by_lua_block calls cs.init(\"{path}\")) in the http block; then `nginx -t && systemctl reload nginx`"))),
                ("module not loaded: apache2 runs (pid 9), but its configuration (/etc/nginx/nginx.conf and the 2 files it includes, as they are on disk now) does not load the CrowdSec module with this file".to_owned(),
                 Some(format!("enable the module (`a2enmod crowdsec` or `LoadModule crowdsec_module ...`) and `Include {path}`; then `apachectl configtest && systemctl reload apache2`"))),
            ]
        );
    }

    /// Issue 20 #5: a Blocklist-as-a-Service device's refused key is the Console's to refresh, not the LAPI's.
    #[test]
    fn a_blaas_devices_refused_key_gets_the_consoles_fix() {
        let (_d, mut insp) = inspection(
            "api_url: https://admin.api.crowdsec.net/v1/integrations/65f0c0ffee0000000000aa03/\napi_key: k0123456789abcdef\n",
            "crowdsec-custom-bouncer.yaml",
        );
        let mut scan = LogScan::default();
        scan.counts.insert("auth", 2);
        scan.lines = 10;
        insp.log(LogEvidence::Scanned {
            what: "journal of crowdsec-custom-bouncer.service".into(),
            window: Duration::from_secs(900),
            scan,
        });
        let fix = insp.report.check(Check::Log).unwrap().fix.clone().unwrap();
        assert!(
            fix.starts_with("auth: the Service API refuses the integration's key")
                && fix.contains("\"Refresh Credentials\"")
                && fix.contains("api_key"),
            "{fix}"
        );
        assert!(
            !fix.contains("cscli") && !fix.contains("LAPI refuses"),
            "{fix}"
        );
    }

    #[test]
    fn log_places() {
        let (_d, insp) = inspection(
            "api_url: http://x/\napi_key: k0123456789abcdef\nlog_mode: file\nlog_dir: /tmp/logs\n",
            "crowdsec-firewall-bouncer.yaml",
        );
        assert_eq!(
            insp.log_place(None, None),
            LogPlace::File("/tmp/logs/crowdsec-firewall-bouncer.log".into())
        );
        let (_d, insp) = inspection(
            "api_url: http://x/\napi_key: k0123456789abcdef\nlog_mode: file\n",
            "crowdsec-custom-bouncer.yaml",
        );
        assert_eq!(
            insp.log_place(None, None),
            LogPlace::File("/var/log/crowdsec-custom-bouncer.log".into())
        );
        // A renamed file: the running process names the program.
        let (_d, insp) = inspection(
            "api_url: http://x/\napi_key: k0123456789abcdef\nlog_mode: file\nlog_dir: /l\n",
            "mine.yaml",
        );
        assert!(matches!(insp.log_place(None, None), LogPlace::Unknown(_)));
        assert_eq!(
            insp.log_place(Some("crowdsec-custom-bouncer"), None),
            LogPlace::File("/l/crowdsec-custom-bouncer.log".into())
        );
        let (_d, insp) = inspection(
            "api_url: http://x/\napi_key: k0123456789abcdef\n",
            "crowdsec-firewall-bouncer.yaml",
        );
        assert_eq!(
            insp.log_place(None, None),
            LogPlace::Journal("crowdsec-firewall-bouncer.service".into())
        );
        let (_d, insp) = inspection(
            "API_URL=http://x\nAPI_KEY=k\n",
            "crowdsec-nginx-bouncer.conf",
        );
        assert!(matches!(insp.log_place(None, None), LogPlace::Unknown(_)));
        assert_eq!(
            insp.log_place(None, Some(Path::new("/var/log/nginx/error.log"))),
            LogPlace::ErrorLog("/var/log/nginx/error.log".into())
        );
        let (_d, insp) = inspection(
            "CrowdsecURL http://x\nCrowdsecAPIKey k\n",
            "crowdsec-apache2-bouncer.conf",
        );
        assert!(matches!(
            insp.log_place(None, Some(Path::new("/var/log/apache2/error.log"))),
            LogPlace::Unknown(_)
        ));
    }

    #[test]
    fn log_result_counts_classes() {
        let (_d, mut insp) = inspection(
            "api_url: http://127.0.0.1:8080/\napi_key: k0123456789abcdef\n",
            "crowdsec-firewall-bouncer.yaml",
        );
        let scan = LogScan {
            lines: 7,
            counts: BTreeMap::from([("auth", 2)]),
            last: Some("level=error msg=\"API error: access forbidden\"".into()),
        };
        insp.log(LogEvidence::Scanned {
            what: "/var/log/crowdsec-firewall-bouncer.log".into(),
            window: Duration::from_secs(900),
            scan,
        });
        let r = insp.finish();
        let c = r.check(Check::Log).unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.starts_with("/var/log/crowdsec-firewall-bouncer.log: 2 errors in the last 15m 0s (auth 2); last: "), "{}", c.detail);
        assert!(c.fix.as_deref().unwrap().contains("cscli bouncers add"));
        assert_eq!(r.log_errors, BTreeMap::from([("auth", 2)]));
        assert!(r.valid());
    }
}
