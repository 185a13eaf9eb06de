//! `crowdsec_bouncer_config_*`: the checks of each bouncer configuration file.

use prometheus_client::encoding::DescriptorEncoder;

use super::{gauges, Labels, Scrape};
use crate::crowdsec::bouncer_files::checks::Status;

pub(super) fn encode(s: &Scrape, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
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
        "0 if the bouncer configuration file disables the bouncer (nginx/openresty ENABLED=false: a state, not an error), else 1.",
        files.iter().zip(&paths).map(|(f, path)| {
            let labels: Labels<'_> = vec![("path", path.as_str())];
            (labels, if f.enabled { 1.0 } else { 0.0 })
        }),
    )?;
    gauges(
        enc,
        "crowdsec_bouncer_config_check",
        "One check of a bouncer configuration file: 1 pass, 0 fail or warning (readable, parses, api_url, api_key, tls_files, key_registered, endpoint_reachable, lapi_reachable (deprecated: endpoint_reachable), permissions, integration). A check that could not run has no series.",
        files.iter().zip(&paths).flat_map(|(f, path)| {
            f.checks.iter().map(move |c| {
                let labels: Labels<'_> = vec![("path", path.as_str()), ("check", c.check.name())];
                (labels, if c.status == Status::Pass { 1.0 } else { 0.0 })
            })
        }),
    )?;
    Ok(())
}
