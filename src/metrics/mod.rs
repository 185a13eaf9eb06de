//! Metrics encoding. Each scrape builds a [`Scrape`] (the sources' current reports) and encodes it through a
//! prometheus-client collector, so every series is fresh: a deleted bouncer simply is not there next time.
//! Metric families are born in one submodule each, named after their prefix.

mod bouncer;
pub mod classic;
mod exporter;
mod integration;
pub use exporter::{REVISION, VERSION};

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::bouncers::BouncerSnapshot;
use crate::cache::SourceReport;
use crate::sources::service_api::IntegrationSnapshot;
use crate::timefmt::UnixSeconds;

/// Everything one scrape encodes.
#[derive(Debug)]
pub struct Scrape {
    pub now: UnixSeconds,
    /// One report per LAPI; its `name` is the `lapi` label.
    pub lapis: Vec<Arc<SourceReport<BouncerSnapshot>>>,
    /// How long LAPI readings are cached, said in HELP texts.
    pub lapi_cache_seconds: f64,
    /// The Service API's report, when that source is enabled.
    pub service_api: Option<Arc<SourceReport<IntegrationSnapshot>>>,
    /// Its refresh interval, said in HELP texts.
    pub service_api_cache_seconds: f64,
}

/// Exposition formats, chosen by the scraper's `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    /// Prometheus text format 0.0.4.
    Classic,
}

impl Format {
    /// OpenMetrics when the client asks for it with a non-zero quality, else the classic text format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Classic;
        };
        let wants = accept.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or_default();
            media.eq_ignore_ascii_case("application/openmetrics-text")
                && !params.any(|p| {
                    p.strip_prefix("q=")
                        .is_some_and(|q| q.parse::<f64>().is_ok_and(|q| q <= 0.0))
                })
        });
        if wants {
            Format::OpenMetrics
        } else {
            Format::Classic
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Classic => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Encodes one scrape.
pub fn encode(scrape: Scrape, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    // Writing to a String cannot fail; a collector error would be a bug, reported in the body rather than a panic.
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::error!(error = %e, "encoding metrics failed");
    }
    match format {
        Format::OpenMetrics => out,
        Format::Classic => classic::from_openmetrics(&out),
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        bouncer::encode(self, &mut encoder)?;
        integration::encode(self, &mut encoder)?;
        exporter::encode(self, &mut encoder)?;
        Ok(())
    }
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

/// Writes a gauge family, or nothing when it has no sample.
fn gauges<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels<'a>, f64)>,
) -> Result<(), std::fmt::Error> {
    let samples: Vec<_> = samples.into_iter().collect();
    if samples.is_empty() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        family.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

/// Writes a counter family (`name` without `_total`), or nothing when it has no sample.
fn counters<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels<'a>, u64)>,
) -> Result<(), std::fmt::Error> {
    let samples: Vec<_> = samples.into_iter().collect();
    if samples.is_empty() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in samples {
        family
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, f64>(&value, None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_like_prometheus_asks() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prom)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::Classic
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Classic
        );
        assert_eq!(Format::negotiate(Some("*/*")), Format::Classic);
        assert_eq!(Format::negotiate(None), Format::Classic);
    }
}
