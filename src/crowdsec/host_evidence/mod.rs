//! What the host says about a bouncer: its process, its systemd unit, its web server's configuration, its own
//! log. Pure readers of text the `sources::host_probes` module gathers (`/proc`, `systemctl show`, log tails, web server
//! configuration files); nothing here reads the system.

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
