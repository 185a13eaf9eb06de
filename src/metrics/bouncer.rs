//! `crowdsec_bouncer_*` and `crowdsec_bouncers`: one LAPI's registered bouncers.

use std::sync::Arc;

use super::gauge_text::{needs_escape, Gauges};
use super::{Readings, Scrape};
use crate::crowdsec::bouncers::{Bouncer, BouncerSnapshot};

// Fixed-size label sets: no allocation per sample (there are tens of thousands).
fn key<'a>(lapi: &'a str, b: &'a Bouncer) -> [(&'static str, &'a str); 2] {
    [("lapi", lapi), ("bouncer", b.name())]
}

/// Every LAPI's bouncers, with their LAPI's name. Stale data is served too, flagged by
/// crowdsec_exporter_source_up.
fn all(lapis: &[(String, Arc<BouncerSnapshot>)]) -> Vec<(&str, &Bouncer)> {
    lapis
        .iter()
        .flat_map(|(lapi, d)| d.bouncers.iter().map(move |b| (lapi.as_str(), b)))
        .collect()
}

/// Whether none of the row's label values (nor its LAPI's name) needs an escape: checked once per row, so its
/// five families are written without a scan of each value each time (issue 22).
fn clean(lapi: &str, b: &Bouncer) -> bool {
    let t = b.text.get();
    [
        lapi,
        t.name, // the base name is a prefix of it
        t.bouncer_type,
        t.version,
        &b.auth_type,
        t.ip_address,
        t.os,
        b.auto_created,
        b.revoked,
    ]
    .iter()
    .all(|v| !needs_escape(v))
}

/// A per-bouncer HELP text, static, ending with where the value comes from and how old it may be.
macro_rules! cached {
    ($help:literal) => {
        concat!(
            $help,
            " Read from the LAPI's database (or cscli), cached up to --lapi.cache-interval."
        )
    };
}

/// The families that change only with a new reading (encoded once per reading, see `Renderer`).
pub(super) fn encode_readings(r: &Readings, enc: &mut impl Gauges) -> Result<(), std::fmt::Error> {
    let all: Vec<(&str, &Bouncer, bool)> = all(&r.lapis)
        .into_iter()
        .map(|(lapi, b)| (lapi, b, clean(lapi, b)))
        .collect();

    enc.gauges(
        "crowdsec_bouncer_info",
        cached!("A bouncer (remediation component) registered in the LAPI, value 1; empty labels where the CrowdSec version has no such column."),
        all.iter().map(|(lapi, b, clean)| {
            let t = b.text.get();
            let labels = [
                ("lapi", *lapi),
                ("bouncer", t.name),
                ("bouncer_base", b.base_name()),
                ("bouncer_type", t.bouncer_type),
                ("version", t.version),
                ("auth_type", &*b.auth_type),
                ("ip_address", t.ip_address),
                ("os", t.os),
                ("auto_created", b.auto_created),
                ("revoked", b.revoked),
            ];
            (labels, 1.0, *clean)
        }),
    )?;
    enc.gauges(
        "crowdsec_bouncer_last_pull_timestamp_seconds",
        cached!("Unix time of the bouncer's last decisions pull; absent when it never pulled."),
        all.iter().filter_map(|(lapi, b, clean)| {
            b.last_pull_timestamp().map(|ts| (key(lapi, b), ts, *clean))
        }),
    )?;
    enc.gauges(
        "crowdsec_bouncer_registered_timestamp_seconds",
        cached!("Unix time the bouncer's row was created (created_at; CrowdSec 1.6+ only, 1.4 rewrites it on every update): a name@ip row created after another row's last pull supersedes it."),
        all.iter()
            .filter_map(|(lapi, b, clean)| b.registered_at.map(|ts| (key(lapi, b), ts, *clean))),
    )?;
    enc.gauges(
        "crowdsec_bouncer_pulled",
        cached!("1 if the bouncer ever pulled decisions, 0 if it never did."),
        all.iter()
            .filter_map(|(lapi, b, clean)| b.last_pull.pulled().map(|v| (key(lapi, b), v, *clean))),
    )?;
    enc.gauges(
        "crowdsec_bouncer_last_usage_metrics_timestamp_seconds",
        cached!("Unix time of the bouncer's newest usage-metrics push (CrowdSec 1.6.3+, kept 7 days): liveness of live-mode bouncers on idle sites."),
        all.iter().filter_map(|(lapi, b, clean)| {
            b.last_usage_metrics.map(|ts| (key(lapi, b), ts, *clean))
        }),
    )?;
    enc.gauges(
        "crowdsec_lapi_bouncers_autodelete_seconds",
        "CrowdSec's db_config.flush.bouncers_autodelete for rows of this auth_type (api-key, tls): rows whose last pull is at least this old are deleted every minute, so a dying bouncer's row vanishes. Read from the CrowdSec config the database was found through (with .local and env expansion); absent when unset.",
        r.lapis.iter().flat_map(|(lapi, d)| {
            d.autodelete.iter().map(move |a| {
                (
                    [("lapi", lapi.as_str()), ("auth_type", a.auth_type)],
                    a.after.as_secs_f64(),
                    false,
                )
            })
        }),
    )?;
    enc.gauges(
        "crowdsec_bouncers",
        cached!("Number of bouncers registered in the LAPI."),
        r.lapis
            .iter()
            .map(|(lapi, d)| ([("lapi", lapi.as_str())], d.bouncers.len() as f64, false)),
    )?;
    Ok(())
}

/// The families that depend on the scrape's time.
pub(super) fn encode_ages(
    s: &Scrape,
    r: &Readings,
    enc: &mut impl Gauges,
) -> Result<(), std::fmt::Error> {
    let all = all(&r.lapis);
    enc.gauges(
        "crowdsec_bouncer_last_pull_age_seconds",
        cached!("Seconds since the bouncer's last decisions pull, at scrape time; for a never-pulled bouncer, since its registration (CrowdSec 1.6+ only)."),
        // Two values a row: scanned as they are written rather than the whole row checked first.
        all.iter()
            .filter_map(|(lapi, b)| b.age_seconds(s.now).map(|age| (key(lapi, b), age, false))),
    )?;
    Ok(())
}

/// Bytes the per-reading families of `r` take, about (escapes aside; a timestamp counted at its longest): the text's
/// capacity, so it is neither grown by doubling (copies of megabytes at 10,000 bouncers) nor kept much larger
/// than it is.
pub(super) fn readings_len(r: &Readings) -> usize {
    all(&r.lapis)
        .iter()
        .map(|(lapi, b)| {
            // `{lapi="…",bouncer="…"} ` and the newline, then the name of each family the row is in and its value.
            let t = b.text.get();
            let key = 21 + lapi.len() + t.name.len();
            let info = 150
                + lapi.len()
                + 2 * t.name.len() // and the base name, at most as long
                + t.bouncer_type.len()
                + t.version.len()
                + b.auth_type.len()
                + t.ip_address.len()
                + t.os.len()
                + b.auto_created.len()
                + b.revoked.len();
            let ts = 24;
            info + usize::from(b.last_pull_timestamp().is_some()) * (key + 45 + ts)
                + usize::from(b.registered_at.is_some()) * (key + 46 + ts)
                + usize::from(b.last_pull.pulled().is_some()) * (key + 24)
                + usize::from(b.last_usage_metrics.is_some()) * (key + 54 + ts)
        })
        .sum::<usize>()
        + 4096
}

/// Bytes the time-dependent bouncer family takes, about (see [`readings_len`]).
pub(super) fn ages_len(r: &Readings) -> usize {
    all(&r.lapis)
        .iter()
        .map(|(lapi, b)| 21 + 38 + 24 + lapi.len() + b.name().len())
        .sum::<usize>()
        + 1024
}
