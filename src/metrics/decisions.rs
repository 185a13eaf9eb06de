//! `crowdsec_lapi_active_decisions`, `crowdsec_lapi_active_ip_decisions`: what a LAPI's bouncers should be
//! enforcing; `crowdsec_lapi_self_ban_decisions`, `crowdsec_lapi_self_ban_bouncer_decisions`: the bans that cut the
//! stack off from itself (source `lapi_decisions`, see [`crate::crowdsec::active_decisions`]).

use prometheus_client::encoding::DescriptorEncoder;

use super::{gauges, Scrape};
use crate::crowdsec::active_decisions::ActiveDecisions;

pub(crate) fn encode(s: &Scrape, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
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
    let data = || {
        s.reports::<ActiveDecisions>()
            .filter_map(|r| r.data.as_deref().map(|d| (r.name.as_str(), d)))
    };
    gauges(
        enc,
        "crowdsec_lapi_active_ip_decisions",
        "Active decisions a firewall enforces (scope Ip or Range), as distinct values per origin: several decisions on one value of one origin count once; a value held by two origins counts under each. No series when none is active. Compared with each bouncer's crowdsec_bouncer_active_decisions (CrowdSecBouncerEnforcesNothing, CrowdSecBouncerEnforcesPartially).",
        data().flat_map(|(lapi, d)| {
            d.ip_by_origin
                .iter()
                .map(|(origin, n)| ([("lapi", lapi), ("origin", origin.as_str())], *n as f64))
                .collect::<Vec<_>>()
        }),
    )?;
    gauges(
        enc,
        "crowdsec_lapi_self_ban_decisions",
        "Active, non-simulated bans (scope Ip, or a Range covering the address) on an address of the stack itself (the Console's \"Security Engine Self-Report\"): target loopback (127.0.0.0/8, ::1), lapi_host (the LAPI URL's host), bouncer (a registered bouncer's ip_address) or machine (a registered machine's); by the ban's origin and scenario, at most 64 series per LAPI (then origin and scenario \"other\"). Counts only, never the addresses; no series when there is none.",
        data().flat_map(|(lapi, d)| {
            d.self_bans
                .iter()
                .map(|((target, origin, scenario), n)| {
                    (
                        [
                            ("lapi", lapi),
                            ("target", target.as_str()),
                            ("origin", origin.as_str()),
                            ("scenario", scenario.as_str()),
                        ],
                        *n as f64,
                    )
                })
                .collect::<Vec<_>>()
        }),
    )?;
    gauges(
        enc,
        "crowdsec_lapi_self_ban_bouncer_decisions",
        "Active, non-simulated bans covering this bouncer row's ip_address: it can no longer reach its LAPI (a cause of \"offline\"). No series for a row without one.",
        data().flat_map(|(lapi, d)| {
            d.banned_bouncers
                .iter()
                .map(|(bouncer, n)| ([("lapi", lapi), ("bouncer", bouncer.as_str())], *n as f64))
                .collect::<Vec<_>>()
        }),
    )?;
    Ok(())
}
