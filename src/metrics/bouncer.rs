//! `crowdsec_bouncer_*` and `crowdsec_bouncers`: one LAPI's registered bouncers.

use prometheus_client::encoding::DescriptorEncoder;

use super::{gauges, Labels, Scrape};
use crate::bouncers::{Bouncer, LastPull};

fn key<'a>(lapi: &'a str, b: &'a Bouncer) -> Labels<'a> {
    vec![("lapi", lapi), ("bouncer", b.name.as_str())]
}

pub(super) fn encode(s: &Scrape, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    // (lapi, bouncer) of every LAPI with data: stale data is served too, flagged by crowdsec_exporter_source_up.
    let all: Vec<(&str, &Bouncer)> = s
        .lapis
        .iter()
        .filter_map(|r| r.data.as_ref().map(|d| (r.name.as_str(), d)))
        .flat_map(|(lapi, d)| d.bouncers.iter().map(move |b| (lapi, b)))
        .collect();
    let cached = format!(
        "Read from the LAPI database, cached up to {}s.",
        s.lapi_cache_seconds
    );

    gauges(
        enc,
        "crowdsec_bouncer_info",
        &format!("A bouncer (remediation component) registered in the LAPI, value 1; empty labels where the CrowdSec version has no such column. {cached}"),
        all.iter().map(|(lapi, b)| {
            let labels: Labels<'_> = vec![
                ("lapi", lapi),
                ("bouncer", b.name.as_str()),
                ("bouncer_base", b.base_name()),
                ("bouncer_type", b.bouncer_type.as_str()),
                ("version", b.version.as_str()),
                ("auth_type", b.auth_type.as_str()),
                ("ip_address", b.ip_address.as_str()),
                ("os", b.os.as_str()),
                ("auto_created", b.auto_created.as_str()),
                ("revoked", b.revoked.as_str()),
            ];
            (labels, 1.0)
        }),
    )?;
    gauges(
        enc,
        "crowdsec_bouncer_last_pull_timestamp_seconds",
        &format!(
            "Unix time of the bouncer's last decisions pull; absent when it never pulled. {cached}"
        ),
        all.iter()
            .filter_map(|(lapi, b)| b.last_pull_timestamp().map(|ts| (key(lapi, b), ts))),
    )?;
    gauges(
        enc,
        "crowdsec_bouncer_last_pull_age_seconds",
        &format!("Seconds since the bouncer's last decisions pull, at scrape time; for a never-pulled bouncer, since its registration (CrowdSec 1.6+ only). {cached}"),
        all.iter().filter_map(|(lapi, b)| b.age_seconds(s.now).map(|age| (key(lapi, b), age))),
    )?;
    gauges(
        enc,
        "crowdsec_bouncer_pulled",
        &format!("1 if the bouncer ever pulled decisions, 0 if it never did. {cached}"),
        all.iter().filter_map(|(lapi, b)| match b.last_pull {
            LastPull::At(_) => Some((key(lapi, b), 1.0)),
            LastPull::Never => Some((key(lapi, b), 0.0)),
            LastPull::Unreadable => None,
        }),
    )?;
    gauges(
        enc,
        "crowdsec_bouncer_last_usage_metrics_timestamp_seconds",
        &format!("Unix time of the bouncer's newest usage-metrics push (CrowdSec 1.6.3+, kept 7 days): liveness of live-mode bouncers on idle sites. {cached}"),
        all.iter().filter_map(|(lapi, b)| b.last_usage_metrics.map(|ts| (key(lapi, b), ts))),
    )?;
    gauges(
        enc,
        "crowdsec_bouncers",
        &format!("Number of bouncers registered in the LAPI. {cached}"),
        s.lapis.iter().filter_map(|r| {
            r.data
                .as_ref()
                .map(|d| (vec![("lapi", r.name.as_str())], d.bouncers.len() as f64))
        }),
    )?;
    Ok(())
}
