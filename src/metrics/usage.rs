//! What the bouncers' usage reports say (see [`crate::crowdsec::usage_reports`]): `crowdsec_bouncer_processed_*_total`,
//! `crowdsec_bouncer_dropped_*_total`, `crowdsec_bouncer_active_decisions`, and the report parts skipped,
//! `crowdsec_exporter_usage_*_total`. Only LAPIs whose database has a `metrics` table (CrowdSec 1.6.3+) have them.

use prometheus_client::encoding::DescriptorEncoder;

use super::{counters, gauges, Readings};
use crate::crowdsec::usage_reports::{Family, UsageTotals};

/// Every LAPI's usage totals, with its name.
fn all(r: &Readings) -> Vec<(&str, &UsageTotals)> {
    r.lapis
        .iter()
        .filter_map(|(lapi, d)| d.usage.as_ref().map(|u| (lapi.as_str(), u)))
        .collect()
}

const HELP: [(Family, &str); 6] = [
    (Family::ProcessedBytes, "Bytes the bouncer processed, summed from its usage reports (unit `byte`, e.g. the firewall bouncer) received since the exporter started (stored ones start the series at 0); CrowdSec's 7-day flush never lowers it."),
    (Family::ProcessedPackets, "Packets the bouncer processed, summed from its usage reports (unit `packet`) received since the exporter started."),
    (Family::ProcessedRequests, "Requests the bouncer processed, summed from its usage reports (unit `request`, e.g. the nginx/openresty bouncers) received since the exporter started."),
    (Family::DroppedBytes, "Bytes the bouncer dropped, by the decision's origin (and remediation when the bouncer sends it), summed from its usage reports received since the exporter started."),
    (Family::DroppedPackets, "Packets the bouncer dropped, by origin and remediation, summed from its usage reports received since the exporter started."),
    (Family::DroppedRequests, "Requests the bouncer blocked, by origin and remediation, summed from its usage reports received since the exporter started."),
];

/// How many parts [`encode`] writes the usage families in: one per counter family, the active decisions, the
/// exporter's own counts.
pub(super) const PARTS: usize = HELP.len() + 2;

/// Part `part` (< [`PARTS`]) of the usage families, so a caller may convert or copy the text a family at a time
/// (at 10,000 reporting bouncers the whole text is 13 MB, a family at most a third of it).
pub(super) fn encode(
    r: &Readings,
    part: usize,
    enc: &mut DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    let all = all(r);
    if let Some(&(family, help)) = HELP.get(part) {
        return counters(
            enc,
            family.metric(),
            help,
            all.iter().flat_map(|(lapi, u)| {
                u.bouncers.iter().flat_map(move |(bouncer, b)| {
                    b.counters
                        .iter()
                        .filter(move |(k, _)| k.family == family)
                        .map(move |(k, v)| {
                            let labels = [
                                ("lapi", *lapi),
                                ("bouncer", &**bouncer),
                                ("origin", k.origin.as_str()),
                                ("remediation", k.remediation.as_str()),
                            ];
                            (labels, *v)
                        })
                })
            }),
        );
    }
    if part == HELP.len() {
        return gauges(
        enc,
        "crowdsec_bouncer_active_decisions",
        "Decisions the bouncer enforces, by origin and ip_type, from its newest usage report (`active_decisions`); one series with empty labels and value 0 when that report had none; absent for a bouncer that never reported them.",
        all.iter().flat_map(|(lapi, u)| {
            u.bouncers.iter().flat_map(move |(bouncer, b)| {
                let series: Vec<_> = match &b.active_decisions {
                    None => Vec::new(),
                    Some(m) if m.is_empty() => vec![(("", ""), 0.0)],
                    Some(m) => m
                        .iter()
                        .map(|((o, ip), v)| ((o.as_str(), ip.as_str()), *v as f64))
                        .collect(),
                };
                series.into_iter().map(move |((origin, ip_type), v)| {
                    let labels = [
                        ("lapi", *lapi),
                        ("bouncer", &**bouncer),
                        ("origin", origin),
                        ("ip_type", ip_type),
                    ];
                    (labels, v)
                })
            })
        }),
        );
    }
    counters(
        enc,
        "crowdsec_exporter_usage_reports",
        "Bouncer usage reports (table `metrics`, generated_type RC) received since the exporter started, counted or skipped.",
        all.iter()
            .map(|(lapi, u)| ([("lapi", *lapi)], u.reports)),
    )?;
    counters(
        enc,
        "crowdsec_exporter_usage_reports_skipped",
        "Bouncer usage reports skipped, by reason: `malformed` (not the LAPI's JSON), `too_large` (over 1 MiB).",
        all.iter().flat_map(|(lapi, u)| {
            [
                ([("lapi", *lapi), ("reason", "malformed")], u.skipped.malformed),
                ([("lapi", *lapi), ("reason", "too_large")], u.skipped.too_large),
            ]
        }),
    )?;
    counters(
        enc,
        "crowdsec_exporter_usage_items_skipped",
        "Items of bouncer usage reports skipped, by reason: `invalid` (no name, unit or value, a negative value, a window without timestamp), `unknown` (no known name and unit), `over_limit` (a label over 128 bytes, or over 256 series per bouncer).",
        all.iter().flat_map(|(lapi, u)| {
            [
                ([("lapi", *lapi), ("reason", "invalid")], u.skipped.invalid_items),
                ([("lapi", *lapi), ("reason", "unknown")], u.skipped.unknown_items),
                ([("lapi", *lapi), ("reason", "over_limit")], u.skipped.over_limit_items),
            ]
        }),
    )?;
    Ok(())
}
