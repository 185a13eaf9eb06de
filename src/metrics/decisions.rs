//! `crowdsec_lapi_active_decisions`: what a LAPI's bouncers should be enforcing (source `lapi_decisions`).

use prometheus_client::encoding::DescriptorEncoder;

use super::{gauges, Scrape};
use crate::crowdsec::active_decisions::ActiveDecisions;

pub(super) fn encode(s: &Scrape, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    // The last good count is served, as the bouncers are (crowdsec_exporter_source_up says when it is stale).
    gauges(
        enc,
        "crowdsec_lapi_active_decisions",
        "Active decisions in the LAPI's database (until later than now, not simulated), by origin (`lists:<list>` for a blocklist's, as the bouncers name them); no series when none is active. Counted at most every --lapi.decisions-interval.",
        s.reports::<ActiveDecisions>()
            .filter_map(|r| r.data.as_deref().map(|d| (r.name.as_str(), d)))
            .flat_map(|(lapi, d)| {
                d.by_origin
                    .iter()
                    .map(|(origin, n)| ([("lapi", lapi), ("origin", origin.as_str())], *n as f64))
                    .collect::<Vec<_>>()
            }),
    )?;
    Ok(())
}
