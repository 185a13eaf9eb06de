//! `crowdsec_bouncer_config_*`: the checks of each bouncer configuration file.

use prometheus_client::encoding::DescriptorEncoder;

use super::{gauges, Labels, Scrape};
use crate::bouncer_config::checks::Status;

pub(super) fn encode(s: &Scrape, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let files = crate::sources::bouncer_config::checked_files(s);
    let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    gauges(
        enc,
        "crowdsec_bouncer_config_valid",
        "1 if every check of the bouncer configuration file passed (warnings allowed), else 0; bouncer is the registered bouncer its key belongs to, or empty. `crowdsec-bouncer-exporter diagnose` says what to fix.",
        files.iter().zip(&paths).map(|(f, path)| {
            let labels: Labels<'_> = vec![
                ("path", path.as_str()),
                ("bouncer", f.bouncer.as_deref().unwrap_or("")),
            ];
            (labels, if f.valid() { 1.0 } else { 0.0 })
        }),
    )?;
    gauges(
        enc,
        "crowdsec_bouncer_config_check",
        "One check of a bouncer configuration file: 1 pass, 0 fail or warning (readable, parses, api_url, api_key, tls_files, key_registered, lapi_reachable, permissions, integration).",
        files.iter().zip(&paths).flat_map(|(f, path)| {
            f.checks.iter().map(move |c| {
                let labels: Labels<'_> = vec![("path", path.as_str()), ("check", c.check.name())];
                (labels, if c.status == Status::Pass { 1.0 } else { 0.0 })
            })
        }),
    )?;
    Ok(())
}
