//! Metrics encoding. Each scrape builds a [`Scrape`] (the sources' current reports) and encodes it through a
//! prometheus-client collector, so every series is fresh: a deleted bouncer simply is not there next time.
//! Metric families are born in one submodule each, named after their prefix.

mod bouncer;
pub mod classic;
mod config;
mod exporter;
mod integration;
mod lapi;
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
    /// The bouncer configuration checks' report, when they are on.
    pub bouncer_config: Option<Arc<SourceReport<crate::sources::bouncer_config::ConfigSnapshot>>>,
    /// `/health` of each LAPI whose URL is known.
    pub lapi_health: Vec<Arc<SourceReport<crate::sources::lapi_health::LapiHealth>>>,
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

/// Encodes one scrape without reuse (tests, one-shot commands).
pub fn encode(scrape: Scrape, format: Format) -> String {
    Renderer::default().encode(scrape, format)
}

/// The LAPI readings of a scrape: what the families that change only with a new reading are encoded from.
#[derive(Debug)]
pub(crate) struct Readings {
    lapis: Vec<(String, Arc<BouncerSnapshot>)>,
    cache_seconds: f64,
}

impl Readings {
    fn of(scrape: &Scrape) -> Readings {
        Readings {
            lapis: scrape
                .lapis
                .iter()
                .filter_map(|r| r.data.clone().map(|d| (r.name.clone(), d)))
                .collect(),
            cache_seconds: scrape.lapi_cache_seconds,
        }
    }

    fn same_as(&self, other: &Readings) -> bool {
        self.cache_seconds == other.cache_seconds
            && self.lapis.len() == other.lapis.len()
            && self
                .lapis
                .iter()
                .zip(&other.lapis)
                .all(|(a, b)| a.0 == b.0 && Arc::ptr_eq(&a.1, &b.1))
    }
}

impl Collector for Readings {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        bouncer::encode_readings(self, &mut encoder)
    }
}

/// What a scrape encodes besides the readings' families: everything that depends on the scrape's time.
#[derive(Debug)]
struct Live {
    scrape: Scrape,
    readings: Readings,
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.scrape.encode(&mut encoder, &self.readings)
    }
}

/// Encodes scrapes. At 10,000 bouncers most of the exposition (info, timestamps) only changes with a new
/// database reading, so its text is kept per reading and only time-dependent families are encoded per scrape.
#[derive(Debug, Default)]
pub struct Renderer {
    readings: std::sync::Mutex<Option<RenderedReadings>>,
}

#[derive(Debug)]
struct RenderedReadings {
    readings: Readings,
    openmetrics: Arc<String>,
    classic: std::sync::OnceLock<Arc<String>>,
}

impl Renderer {
    /// The scrape as one string (tests, benchmarks, one-shot commands).
    pub fn encode(&self, scrape: Scrape, format: Format) -> String {
        let e = self.render(scrape, format);
        let mut out = String::with_capacity(e.fixed.len() + e.live.len());
        out.push_str(&e.fixed);
        out.push_str(&e.live);
        out
    }

    /// The scrape in two parts, so the (large) per-reading text is shared, not copied into every response.
    pub fn render(&self, scrape: Scrape, format: Format) -> Exposition {
        let readings = Readings::of(&scrape);
        let fixed = {
            let mut slot = self
                .readings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !slot.as_ref().is_some_and(|r| r.readings.same_as(&readings)) {
                // Free the previous text first: at 10,000 bouncers it is megabytes.
                let size_hint = slot.take().map_or(0, |r| r.openmetrics.len());
                let text = encode_collector(Readings::of(&scrape), size_hint + size_hint / 16);
                *slot = Some(RenderedReadings {
                    readings: Readings::of(&scrape),
                    openmetrics: Arc::new(text),
                    classic: std::sync::OnceLock::new(),
                });
            }
            let r = slot.as_ref().expect("just filled");
            match format {
                Format::OpenMetrics => r.openmetrics.clone(),
                Format::Classic => r
                    .classic
                    .get_or_init(|| Arc::new(classic::from_openmetrics(&r.openmetrics)))
                    .clone(),
            }
        };
        let mut live = encode_collector(Live { scrape, readings }, 0);
        match format {
            Format::OpenMetrics => live.push_str("# EOF\n"),
            Format::Classic => live = classic::from_openmetrics(&live),
        }
        Exposition { fixed, live }
    }
}

/// One scrape's exposition: the text kept per reading, followed by this scrape's own text.
#[derive(Debug)]
pub struct Exposition {
    pub fixed: Arc<String>,
    pub live: String,
}

fn encode_collector(collector: impl Collector, capacity: usize) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(collector));
    let mut out = String::with_capacity(capacity);
    // Writing to a String cannot fail; a collector error would be a bug, logged rather than a panic.
    if let Err(e) = prometheus_client::encoding::text::encode_registry(&mut out, &registry) {
        tracing::error!(error = %e, "encoding metrics failed");
    }
    out
}

impl Scrape {
    fn encode(
        &self,
        encoder: &mut DescriptorEncoder,
        readings: &Readings,
    ) -> Result<(), std::fmt::Error> {
        let encoder = &mut *encoder;
        bouncer::encode_ages(self, readings, encoder)?;
        integration::encode(self, encoder)?;
        config::encode(self, encoder)?;
        lapi::encode(self, encoder)?;
        exporter::encode(self, encoder)?;
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
