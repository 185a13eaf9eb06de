//! `crowdsec_integration_*`: Blocklist-as-a-Service integrations and their last pull, from the Service API.

use prometheus_client::encoding::DescriptorEncoder;

use super::{gauges, Labels, Scrape};
use crate::sources::service_api::{Integration, IntegrationSnapshot};

fn key(i: &Integration) -> Labels<'_> {
    vec![
        ("integration_id", i.id.as_str()),
        ("integration", i.name.as_str()),
    ]
}

/// A per-integration HELP text, static, ending with where the value comes from and how old it may be.
macro_rules! cached {
    ($help:literal) => {
        concat!(
            $help,
            " Read from the CrowdSec Service API, cached for --service-api.refresh-interval."
        )
    };
}

pub(crate) fn encode(s: &Scrape, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    // The last good snapshot is served even when the source is down (crowdsec_exporter_source_up says so).
    let all: Vec<&Integration> = s
        .reports::<IntegrationSnapshot>()
        .filter_map(|r| r.data.as_ref())
        .flat_map(|d| d.integrations.iter())
        .collect();
    if all.is_empty() {
        return Ok(());
    }

    gauges(
        enc,
        "crowdsec_integration_info",
        cached!(
            "A Blocklist-as-a-Service integration (firewall or remediation component), value 1."
        ),
        all.iter().map(|i| {
            let labels: Labels<'_> = vec![
                ("integration_id", i.id.as_str()),
                ("integration", i.name.as_str()),
                ("entity_type", i.entity_type.as_str()),
                ("output_format", i.output_format.as_str()),
            ];
            (labels, 1.0)
        }),
    )?;
    // The organisation's tier, per integration so that a rule can pick each integration's threshold by joining on
    // integration_id (replicas, or exporters watching other organisations, stay apart). Absent before `/info`
    // ever answered.
    let subscription = s
        .reports::<IntegrationSnapshot>()
        .filter_map(|r| r.data.as_ref())
        .filter_map(|d| d.subscription_type.as_deref().map(|st| (st, d)))
        .flat_map(|(st, d)| d.integrations.iter().map(move |i| (st, i)));
    gauges(
        enc,
        "crowdsec_integration_subscription_info",
        cached!("The tier of the organisation that owns the integration, value 1: subscription_type as GET /info gives it, tier community (its devices may pull once per 24 h) or other."),
        subscription.map(|(st, i)| {
            let labels: Labels<'_> = vec![
                ("integration_id", i.id.as_str()),
                ("integration", i.name.as_str()),
                ("subscription_type", st),
                ("tier", crate::crowdsec::blocklist_integration::tier_label(Some(st))),
            ];
            (labels, 1.0)
        }),
    )?;
    gauges(
        enc,
        "crowdsec_integration_last_pull_timestamp_seconds",
        cached!("Unix time of the integration's last blocklist pull; absent when it never pulled."),
        all.iter()
            .filter_map(|i| i.last_pull_timestamp().map(|ts| (key(i), ts))),
    )?;
    gauges(
        enc,
        "crowdsec_integration_last_pull_age_seconds",
        cached!("Seconds since the integration's last blocklist pull, at scrape time; since its creation when it never pulled."),
        all.iter()
            .filter_map(|i| i.age_seconds(s.now).map(|age| (key(i), age))),
    )?;
    gauges(
        enc,
        "crowdsec_integration_pulled",
        cached!("1 if the integration ever pulled its blocklists, 0 if it never did."),
        all.iter().filter_map(|i| i.pulled().map(|v| (key(i), v))),
    )?;
    gauges(
        enc,
        "crowdsec_integration_blocklist_items",
        cached!("Items the integration gets from its blocklists (stats.count); 0 is the Console's \"Pulling Zero IPs\"."),
        all.iter()
            .filter_map(|i| i.blocklist_items.map(|n| (key(i), n))),
    )?;
    gauges(
        enc,
        "crowdsec_integration_blocklists",
        cached!("Number of blocklists the integration subscribes to."),
        all.iter()
            .filter_map(|i| i.blocklists.map(|n| (key(i), n as f64))),
    )?;
    Ok(())
}
