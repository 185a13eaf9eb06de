//! `crowdsec_bouncer_config_*`: the checks of each bouncer configuration file.

use prometheus_client::encoding::DescriptorEncoder;

use super::{gauges, Labels, Scrape};
use crate::crowdsec::bouncer_files::checks::{Check, Status};
use crate::crowdsec::bouncer_files::SKIP_REASONS;
use crate::crowdsec::host_evidence::log::CLASSES;
use crate::sources::bouncer_config::ConfigSnapshot;

pub(crate) fn encode(s: &Scrape, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let files = s.checked_files();
    let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    gauges(
        enc,
        "crowdsec_bouncer_config_valid",
        "1 if every check of the bouncer configuration file passed (warnings allowed), 0 if one failed; absent when none failed but its key could not be compared with the LAPI's registrations (no evidence). bouncer is the registered bouncer the file belongs to, or empty. `crowdsec-bouncer-exporter diagnose` says what to fix.",
        files.iter().zip(&paths).filter_map(|(f, path)| {
            let valid = f.verdict()?;
            let labels: Labels<'_> = vec![
                ("path", path.as_str()),
                ("bouncer", f.bouncer.as_deref().unwrap_or("")),
            ];
            Some((labels, if valid { 1.0 } else { 0.0 }))
        }),
    )?;
    gauges(
        enc,
        "crowdsec_bouncer_config_enabled",
        "0 if the bouncer configuration file disables the bouncer (nginx/openresty/haproxy ENABLED=false, Traefik plugin enabled not true: a state, not an error), else 1.",
        files.iter().zip(&paths).map(|(f, path)| {
            let labels: Labels<'_> = vec![("path", path.as_str())];
            (labels, if f.enabled { 1.0 } else { 0.0 })
        }),
    )?;
    gauges(
        enc,
        "crowdsec_bouncer_config_check",
        "One check of a bouncer configuration file: 1 pass, 0 fail or warning (readable, parses, api_url, api_key, tls_files, key_registered, lapi_reachable (deprecated: endpoint_reachable), permissions, integration; host evidence: endpoint_reachable, running, log). A check that could not run has no series.",
        files.iter().zip(&paths).flat_map(|(f, path)| {
            f.checks.iter().map(move |c| {
                let labels: Labels<'_> = vec![("path", path.as_str()), ("check", c.check.name())];
                (labels, if c.status == Status::Pass { 1.0 } else { 0.0 })
            })
        }),
    )?;
    gauges(
        enc,
        "crowdsec_bouncer_config_integration",
        "1 for each bouncer configuration file whose URL names a Blocklist-as-a-Service integration (integration_id as in crowdsec_integration_info): links an offline integration to its device's file, checks and log on this host.",
        files.iter().zip(&paths).filter_map(|(f, path)| {
            let id = f.integration_id()?;
            Some((id, path))
        }).collect::<Vec<_>>().iter().map(|(id, path)| {
            let labels: Labels<'_> = vec![("path", path.as_str()), ("integration_id", id.as_str())];
            (labels, 1.0)
        }),
    )?;
    gauges(
        enc,
        "crowdsec_bouncer_log_errors",
        "Errors of each class (auth: key refused, 401/403; tls: certificate; connect: refused, timeout, unknown host; config: the bouncer cannot use its file) in the last window of the bouncer's own log (its log file or its unit's journal; 15m by default), by the file it belongs to. Counts only, never log text; absent when the log could not be read (check `log` has no series then).",
        files.iter().zip(&paths).filter(|(f, _)| f.check(Check::Log).is_some()).flat_map(|(f, path)| {
            CLASSES.iter().map(move |class| {
                let labels: Labels<'_> = vec![("path", path.as_str()), ("class", class)];
                (labels, f.log_errors.get(class).copied().unwrap_or(0) as f64)
            })
        }),
    )?;
    let skipped = s.report::<ConfigSnapshot>().and_then(|r| r.data.clone());
    gauges(
        enc,
        "crowdsec_bouncer_config_files_skipped",
        "Bouncer configuration files found but not checked in the last pass, by reason: limit (past the 256 files checked per pass, first by name), not_regular (a FIFO, socket or device with a configuration's name: never opened), time (not reached within the pass's 5 s). Absent when no folder or file is checked.",
        skipped.iter().flat_map(|d| {
            SKIP_REASONS.iter().map(move |reason| {
                let labels: Labels<'_> = vec![("reason", reason)];
                (labels, d.skipped.get(reason).copied().unwrap_or(0) as f64)
            })
        }),
    )?;
    Ok(())
}
