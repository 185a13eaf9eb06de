//! `crowdsec_machine_*`: a LAPI's log processors (table `machines`, source `lapi_machines`), next to its bouncers.
//! The heartbeat timestamp is what CrowdSec 1.8 exports itself as `cs_machines_last_heartbeat_timestamp{machine}`.

use prometheus_client::encoding::DescriptorEncoder;

use super::{gauges, Scrape};
use crate::crowdsec::machines::{Machine, MachineSnapshot};

/// A per-machine HELP text, static, ending with where the value comes from and how old it may be.
macro_rules! cached {
    ($help:literal) => {
        concat!(
            $help,
            " Read from the LAPI's database, cached up to --lapi.cache-interval."
        )
    };
}

fn key<'a>(lapi: &'a str, m: &'a Machine) -> [(&'static str, &'a str); 2] {
    [("lapi", lapi), ("machine", m.name.as_str())]
}

pub(crate) fn encode(s: &Scrape, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    // The last good reading is served, as the bouncers are (crowdsec_exporter_source_up says when it is stale).
    let all: Vec<(&str, &Machine)> = s
        .reports::<MachineSnapshot>()
        .filter_map(|r| r.data.as_deref().map(|d| (r.name.as_str(), d)))
        .flat_map(|(lapi, d)| d.machines.iter().map(move |m| (lapi, m)))
        .collect();
    if all.is_empty() {
        return Ok(());
    }
    gauges(
        enc,
        "crowdsec_machine_info",
        cached!("A log processor (machine) registered in the LAPI, value 1; validated is false while it waits for `cscli machines validate`."),
        all.iter().map(|(lapi, m)| {
            let labels = [
                ("lapi", *lapi),
                ("machine", m.name.as_str()),
                ("version", m.version.as_str()),
                ("auth_type", m.auth_type.as_str()),
                ("ip_address", m.ip_address.as_str()),
                ("validated", m.validated.as_str()),
            ];
            (labels, 1.0)
        }),
    )?;
    gauges(
        enc,
        "crowdsec_machine_last_heartbeat_timestamp_seconds",
        cached!("Unix time of the log processor's last heartbeat (GET /v1/heartbeat, every minute while it runs); absent when it never sent one."),
        all.iter()
            .filter_map(|(lapi, m)| m.last_heartbeat.map(|t| (key(lapi, m), t))),
    )?;
    gauges(
        enc,
        "crowdsec_machine_last_heartbeat_age_seconds",
        cached!("Seconds since the log processor's last heartbeat, at scrape time; absent when it never sent one."),
        all.iter().filter_map(|(lapi, m)| {
            m.heartbeat_age_seconds(s.now).map(|a| (key(lapi, m), a))
        }),
    )?;
    gauges(
        enc,
        "crowdsec_machine_last_push_timestamp_seconds",
        cached!("Unix time of the log processor's last alert push (CrowdSec sets it at registration too); absent when NULL."),
        all.iter()
            .filter_map(|(lapi, m)| m.last_push.map(|t| (key(lapi, m), t))),
    )?;
    Ok(())
}
