//! `crowdsec_lapi_*`: does each LAPI answer `/health`.

use prometheus_client::encoding::DescriptorEncoder;

use super::{gauges, Scrape};
use crate::sources::lapi_health::LapiHealth;

pub(crate) fn encode(s: &Scrape, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    // Only fresh answers: an old "up" must not hide a LAPI that stopped (the source's own failure is in
    // crowdsec_exporter_source_up).
    let answers: Vec<_> = s
        .reports::<LapiHealth>()
        .filter(|r| r.up)
        .filter_map(|r| r.data.clone().map(|d| (r.name.as_str(), d)))
        .collect();
    gauges(
        enc,
        "crowdsec_lapi_up",
        "1 if the LAPI answered GET /health (no key sent), 0 if not.",
        answers
            .iter()
            .map(|(lapi, h)| (vec![("lapi", *lapi)], if h.up { 1.0 } else { 0.0 })),
    )?;
    gauges(
        enc,
        "crowdsec_lapi_health_duration_seconds",
        "Duration of the LAPI's last GET /health.",
        answers
            .iter()
            .map(|(lapi, h)| (vec![("lapi", *lapi)], h.duration_seconds)),
    )?;
    Ok(())
}
