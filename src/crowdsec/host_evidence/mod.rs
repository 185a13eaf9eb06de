//! What the host says about a bouncer: its process, its systemd unit, its web server's configuration, its own
//! log. Pure readers of text the `sources::host_probes` module gathers (`/proc`, `systemctl show`, log tails, web server
//! configuration files); nothing here reads the system.
//!
//! The host checks (`running`, `log`) are three parts, the facts apart from their judgement (as node_exporter's
//! systemd collector exports unit facts and leaves the joins to PromQL):
//! - the facts' readers, here: `process.rs` (a process and its `-c` file, how much of /proc is visible),
//!   `systemd.rs` (a unit's state), `webserver.rs` (an nginx/apache configuration walked through its includes),
//!   `log.rs` (a log's errors by class, their times);
//! - the gathering, `sources::host_probes` (the only part that reads the system; every read bounded);
//! - the judgement, `bouncer_files::host_checks`: one row per bouncer kind (`OnHost`), which evidence wins, where a
//!   bouncer logs, and the checks' texts.

pub mod log;
pub mod process;
pub mod systemd;
pub mod webserver;

/// The bouncer program behind a configuration file name, as its package names binary, unit and log file
/// (cs-firewall-bouncer and cs-custom-bouncer: `/usr/bin/<name>`, `<name>.service`, `<log_dir>/<name>.log`).
/// `None` for a file named otherwise (a renamed file: only a process naming it can tell).
pub fn go_program(file: &std::path::Path) -> Option<&'static str> {
    const PROGRAMS: &[&str] = &[
        "crowdsec-firewall-bouncer",
        "crowdsec-custom-bouncer",
        "crowdsec-cloudflare-bouncer",
        "crowdsec-cloudflare-worker-bouncer",
        "crowdsec-blocklist-mirror",
        "crowdsec-spoa-bouncer",
        "crowdsec-aws-waf-bouncer",
    ];
    let stem = file.file_stem()?.to_str()?;
    PROGRAMS.iter().copied().find(|p| *p == stem)
}
