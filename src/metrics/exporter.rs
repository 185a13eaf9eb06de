//! `crowdsec_exporter_*`: the exporter's own health, one set per source (node_exporter's collector idea).

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::{counters, gauges, Labels, Scrape};
use crate::scrape::SourceReport;

/// The build's version and git revision (set by build.rs).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision the build came from (`CSBE_GIT_REVISION`, set by build.rs).
pub const REVISION: &str = env!("CSBE_GIT_REVISION");

/// What every source report has in common, whatever its data.
struct Health<'a> {
    kind: &'static str,
    name: &'a str,
    lapi: &'a str,
    up: bool,
    duration: f64,
    last_success: Option<f64>,
    errors: Vec<(&'static str, u64)>,
    reads: u64,
}

fn health<T>(r: &SourceReport<T>) -> Health<'_> {
    Health {
        kind: r.kind,
        name: &r.name,
        lapi: r.lapi.as_deref().unwrap_or(""),
        up: r.up,
        duration: r.last_duration_seconds,
        last_success: r.last_success,
        errors: r.errors.iter().map(|(k, v)| (k.as_str(), *v)).collect(),
        reads: r.reads,
    }
}

/// One label set for every source, so a family never mixes label names: `lapi` is empty for a source bound to
/// no single LAPI (service_api, bouncer_config). `name` stays as it was (the LAPI's name for LAPI-bound sources)
/// for this release, so existing queries keep working.
fn key<'a>(h: &Health<'a>) -> Labels<'a> {
    vec![("source", h.kind), ("name", h.name), ("lapi", h.lapi)]
}

pub(super) fn encode(s: &Scrape, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let sources: Vec<Health<'_>> = s
        .lapis
        .iter()
        .map(|r| health(r))
        .chain(s.service_api.iter().map(|r| health(r)))
        .chain(s.bouncer_config.iter().map(|r| health(r)))
        .chain(s.lapi_health.iter().map(|r| health(r)))
        .chain(s.lapi_decisions.iter().map(|r| health(r)))
        .chain(s.lapi_machines.iter().map(|r| health(r)))
        .collect();

    gauges(
        enc,
        "crowdsec_exporter_source_up",
        "1 if the source's last read succeeded, 0 if it failed (its last good data is still served; see crowdsec_exporter_source_errors_total for why).",
        sources.iter().map(|h| (key(h), if h.up { 1.0 } else { 0.0 })),
    )?;
    gauges(
        enc,
        "crowdsec_exporter_source_duration_seconds",
        "Duration of the source's last read.",
        sources.iter().map(|h| (key(h), h.duration)),
    )?;
    gauges(
        enc,
        "crowdsec_exporter_source_last_success_timestamp_seconds",
        "Unix time of the source's last successful read: the age of the data served.",
        sources
            .iter()
            .filter_map(|h| h.last_success.map(|t| (key(h), t))),
    )?;
    counters(
        enc,
        "crowdsec_exporter_source_errors",
        "Failed reads of the source since the exporter started, by reason.",
        sources.iter().flat_map(|h| {
            h.errors.iter().map(move |(reason, n)| {
                let mut l = key(h);
                l.push(("reason", reason));
                (l, *n)
            })
        }),
    )?;
    counters(
        enc,
        "crowdsec_exporter_source_reads",
        "Reads of the source since the exporter started, good or bad; concurrent scrapes share one read, and a reading serves scrapes for the source's cache interval.",
        sources.iter().map(|h| (key(h), h.reads)),
    )?;
    // Only with a --web.config.file (absent, not 1, without one), as Prometheus' config_last_reload_* pair.
    if let Some(w) = &s.web_config {
        unlabelled_gauge(
            enc,
            "crowdsec_exporter_web_config_last_reload_successful",
            "1 if the last load of the --web.config.file (start, a file change, SIGHUP) succeeded, 0 if it was refused: unusable, or protecting less than the running configuration (TLS or basic auth dropped, a lower min_version or client_auth_type), which stays in force.",
            i64::from(w.successful),
        )?;
        let mut family = enc.encode_descriptor(
            "crowdsec_exporter_web_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful load of the --web.config.file (start-up counts).",
            None,
            MetricType::Gauge,
        )?;
        family.encode_gauge(&w.last_success)?;
    }
    gauges(
        enc,
        "crowdsec_exporter_build_info",
        "The exporter's version and git revision, value 1.",
        [(vec![("version", VERSION), ("revision", REVISION)], 1.0)],
    )?;
    Ok(())
}

/// A gauge family of one sample without labels (`name 1`, not `name{} 1`).
fn unlabelled_gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    enc.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::metrics::{encode, Format, Scrape};
    use crate::scrape::SourceReport;
    use crate::sources::Reason;

    fn down<T>(kind: &'static str, name: &str, lapi: Option<&str>) -> Arc<SourceReport<T>> {
        Arc::new(SourceReport {
            kind,
            name: name.into(),
            lapi: lapi.map(str::to_owned),
            data: None,
            up: false,
            last_error: None,
            last_duration_seconds: 0.5,
            last_success: Some(1_785_000_000.0),
            errors: [(Reason::Timeout, 2)].into_iter().collect(),
            reads: 2,
        })
    }

    /// Issue 12: every self-health series carries `lapi`, the LAPI's name for LAPI-bound sources and "" for the
    /// others, so one family has one label set and Alertmanager can route `CrowdSecExporterSourceDown` by `lapi`.
    #[test]
    fn every_source_series_carries_lapi_empty_when_bound_to_no_lapi() {
        let scrape = Scrape {
            now: 1_785_000_100.0,
            lapis: vec![down("cscli", "edge", Some("edge"))],
            service_api: Some(down("service_api", "api.crowdsec.net", None)),
            bouncer_config: Some(down("bouncer_config", "edge", None)),
            lapi_health: vec![down("lapi_health", "edge", Some("edge"))],
            lapi_decisions: Vec::new(),
            lapi_machines: Vec::new(),
            web_config: None,
        };
        let text = encode(scrape, Format::Classic);
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("crowdsec_exporter_source_"))
            .collect();
        assert_eq!(series.len(), 4 * 5, "{text}");
        for l in &series {
            let want = if l.contains("source=\"service_api\"")
                || l.contains("source=\"bouncer_config\"")
            {
                ",lapi=\"\""
            } else {
                ",lapi=\"edge\""
            };
            assert!(l.contains(want), "{l}");
        }
        assert!(text.contains(
            "crowdsec_exporter_source_errors_total{source=\"lapi_health\",name=\"edge\",lapi=\"edge\",reason=\"timeout\"} 2"
        ));
    }
}
