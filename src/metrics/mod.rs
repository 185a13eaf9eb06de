//! Metrics encoding. Each scrape builds a [`Scrape`] (the sources' current reports) and encodes it through a
//! prometheus-client collector, so every series is fresh: a deleted bouncer simply is not there next time.
//! Metric families are born in one submodule each, named after their prefix.

mod bouncer;
pub(crate) mod classic;
pub(crate) mod decisions;
mod exporter_health;
pub(crate) mod file_checks;
mod gauge_text;
pub mod gzip;
pub(crate) mod integration;
pub(crate) mod lapi;
pub(crate) mod machine;
mod process;
mod usage;
pub use exporter_health::{REVISION, VERSION};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::crowdsec::bouncers::BouncerSnapshot;
use crate::scrape::AnyReport;
use gauge_text::GaugeText;

pub(crate) use crate::scrape::Scrape;

/// Exposition formats, chosen by the scraper's `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text.
    OpenMetrics,
    /// Prometheus text format 0.0.4.
    Classic,
}

impl Format {
    /// OpenMetrics when the client asks for it with a non-zero quality, else the classic text format.
    pub(crate) fn negotiate(accept: Option<&str>) -> Format {
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

    /// Index of the format in per-format arrays.
    fn slot(self) -> usize {
        match self {
            Format::OpenMetrics => 0,
            Format::Classic => 1,
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Classic => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// The families of one kind of source, written from its reports (`s.reports::<Snapshot>()`): what the top layer
/// registers with the source ([`Renderer::new`] takes them in the order of the exposition).
pub type Families = fn(&Scrape, &mut DescriptorEncoder) -> Result<(), std::fmt::Error>;

/// Every source's families, in the top layer's order: for the tests of this layer, which have no registry.
#[cfg(test)]
pub(crate) const ALL_FAMILIES: &[Families] = &[
    integration::encode,
    file_checks::encode,
    lapi::encode,
    decisions::encode,
    machine::encode,
];

/// Encodes one scrape without reuse, with every source's families (this layer's tests).
#[cfg(test)]
pub(crate) fn encode(scrape: Scrape, format: Format) -> String {
    Renderer::new(ALL_FAMILIES).encode(scrape, format)
}

/// The LAPI readings of a scrape: what the families that change only with a new reading are encoded from.
#[derive(Debug, Clone)]
pub(crate) struct Readings {
    lapis: Vec<(String, Arc<BouncerSnapshot>)>,
}

impl Readings {
    fn of(scrape: &Scrape) -> Readings {
        Readings {
            lapis: scrape
                .reports::<BouncerSnapshot>()
                .filter_map(|r| r.data.clone().map(|d| (r.name.clone(), d)))
                .collect(),
        }
    }

    /// Whether every LAPI's usage totals are those of `other` (the usage text can then be kept across readings).
    fn same_usage_as(&self, other: &Readings) -> bool {
        self.lapis.len() == other.lapis.len()
            && self.lapis.iter().zip(&other.lapis).all(|(a, b)| {
                a.0 == b.0
                    && match (&a.1.usage, &b.1.usage) {
                        (Some(x), Some(y)) => x.unchanged_since(y),
                        (None, None) => true,
                        _ => false,
                    }
            })
    }

    fn same_as(&self, other: &Readings) -> bool {
        self.lapis.len() == other.lapis.len()
            && self
                .lapis
                .iter()
                .zip(&other.lapis)
                .all(|(a, b)| a.0 == b.0 && Arc::ptr_eq(&a.1, &b.1))
    }
}

/// The per-reading families' text: written directly ([`gauge_text`]), not through prometheus-client (the largest
/// part of a cold scrape's CPU at 10,000 bouncers, issue 22), then through the output boundary's redaction.
fn readings_text(readings: &Readings) -> String {
    let mut out = String::with_capacity(bouncer::readings_len(readings));
    // Writing to a String cannot fail.
    let _ = bouncer::encode_readings(readings, &mut GaugeText { out: &mut out });
    fit(&mut out);
    crate::values::secret::redact_label_values(out)
}

/// A text kept for a reading does not keep the room its estimate overshot by (an escaped value may grow it).
fn fit(text: &mut String) {
    if text.capacity() > text.len() + text.len() / 8 {
        text.shrink_to_fit();
    }
}

/// One part of the usage families of a reading (counters: their OpenMetrics and classic texts differ, so they get
/// a text per format, still once per reading), see [`usage::PARTS`].
#[derive(Debug)]
struct UsageReadings(Readings, usize);

impl Collector for UsageReadings {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        usage::encode(&self.0, self.1, &mut encoder)
    }
}

/// The usage families of `readings` in `format`, encoded a family at a time into the result, each converted
/// there to the classic format ([`classic::convert_tail`]): no other copy of a family's text exists (the whole
/// text was once encoded, then converted: two copies of 13 MB at 10,000 reporting bouncers, the process's peak;
/// then a family at a time through a buffer of its own, 4 MB).
fn encode_usage(readings: &Readings, format: Format, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    for part in 0..usage::PARTS {
        let start = out.len();
        out = encode_collector_into(UsageReadings(readings.clone(), part), out);
        if format == Format::Classic {
            classic::convert_tail(&mut out, start);
        }
    }
    out
}

/// What a scrape encodes through prometheus-client besides the readings' families: everything that depends on the
/// scrape's time but the bouncers' ages.
#[derive(Debug)]
struct Live {
    scrape: Scrape,
    families: Arc<[Families]>,
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // After the bouncers' ages, which `Renderer::live` writes itself: each source's families, then the
        // exporter's own.
        for families in self.families.iter() {
            families(&self.scrape, &mut encoder)?;
        }
        exporter_health::encode(&self.scrape, &mut encoder)?;
        process::encode(&self.scrape, &mut encoder)
    }
}

/// Encodes scrapes. At 10,000 bouncers most of the exposition (info, timestamps) only changes with a new
/// database reading, so its text is kept per reading and only time-dependent families are encoded per scrape; and
/// concurrent scrapes of one second share that part too ([`Renderer::shared`]), so 100 scrapers in flight hold
/// one copy of each text, not 100.
#[derive(Debug)]
pub struct Renderer {
    /// The sources' families, in the order of the exposition (the top layer's registry).
    families: Arc<[Families]>,
    readings: std::sync::Mutex<Option<RenderedReadings>>,
    /// The last per-second body of each format (index: [`Format::slot`]).
    seconds: std::sync::Mutex<[Option<Arc<SecondBody>>; 2]>,
    /// How many times the time-dependent part was encoded (by [`Renderer::render`] or [`Renderer::shared`]).
    live_renders: AtomicU64,
}

#[derive(Debug)]
struct RenderedReadings {
    readings: Readings,
    /// Valid in both formats: the per-reading families are all gauges without units, whose OpenMetrics and
    /// classic texts are the same bytes (pinned by a test), so one copy serves every scraper.
    text: Kept,
    /// The usage families (per-bouncer remediation counters: most of the exposition at 10,000 reporting bouncers),
    /// per format (index: [`Format::slot`]), encoded when first asked.
    usage: [Option<Kept>; 2],
    /// Capacity to encode a usage text with (the last one's size), so the text is not grown by doubling.
    usage_len: usize,
}

/// A per-reading part as the renderer keeps it: its text is given up once compressed (at 10,000 reporting bouncers
/// 13 MB of usage text against 0.7 MB gzip'd). Every scraper of the server is then served the compressed form:
/// gzip scrapers as it is, the others inflated a chunk at a time into their response ([`gzip::Inflate`]), so no
/// scraper keeps a per-reading text whole, and a new reading arriving while responses are in flight does not hold
/// two texts (issue 22). Only [`Renderer::render`] (tests, one-shot commands) needs the text: it is encoded again.
#[derive(Debug)]
struct Kept {
    part: Part,
    /// The text was given up (the part's text is empty, its compressed form is set).
    dropped: bool,
}

impl Kept {
    fn new(text: String) -> Kept {
        Kept {
            part: Part::new(text),
            dropped: false,
        }
    }

    /// The part for a scrape. `text`: the caller reads the text (else only the compressed form, whose text may be
    /// empty, given up once compressed). A text given up is encoded again for a caller that reads it (`encode`:
    /// the same bytes) and given up again once a scrape that does not finds it.
    fn serve(&mut self, text: bool, encode: impl FnOnce() -> String) -> Part {
        if text {
            if self.dropped {
                self.part = Part {
                    text: Arc::new(encode()),
                    deflated: self.part.deflated.clone(),
                };
                self.dropped = false;
            }
        } else if !self.dropped && self.part.deflated.initialized() {
            self.part = Part {
                text: Arc::default(),
                deflated: self.part.deflated.clone(),
            };
            self.dropped = true;
        }
        self.part.clone()
    }
}

/// The time-dependent text of one (reports, second, format), encoded by the first scraper of that second while
/// the others wait for it.
#[derive(Debug)]
struct SecondBody {
    key: SecondKey,
    text: tokio::sync::OnceCell<Part>,
}

/// What the time-dependent text is a function of: the source reports (by identity: a cache hands every scraper
/// the same `Arc` until its next read, and the key holds them, so an address cannot be reused), the second, the web
/// config's reload status and the format.
#[derive(Debug)]
struct SecondKey {
    second: i64,
    format: Format,
    reports: Vec<Arc<dyn AnyReport>>,
    web_config: Option<crate::scrape::ReloadStatus>,
    // Not the process figures: scrapes of one second share the first one's (their granularity is the second too).
}

/// The same reports, by address (not by vtable: the same report may be seen through two of them).
fn same_reports(a: &[Arc<dyn AnyReport>], b: &[Arc<dyn AnyReport>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(a, b)| std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)))
}

impl SecondKey {
    fn of(s: &Scrape, format: Format) -> SecondKey {
        SecondKey {
            second: s.now.floor() as i64,
            format,
            reports: s.reports.clone(),
            web_config: s.web_config,
        }
    }

    fn same_as(&self, o: &SecondKey) -> bool {
        self.second == o.second
            && self.format == o.format
            && same_reports(&self.reports, &o.reports)
            && self.web_config == o.web_config
    }
}

impl Renderer {
    /// A renderer writing `families` (each source kind's, in the order of the exposition) after the bouncers'.
    pub fn new(families: impl Into<Arc<[Families]>>) -> Renderer {
        Renderer {
            families: families.into(),
            readings: std::sync::Mutex::default(),
            seconds: std::sync::Mutex::default(),
            live_renders: AtomicU64::default(),
        }
    }

    /// The scrape as one string (tests, benchmarks, one-shot commands).
    pub fn encode(&self, scrape: Scrape, format: Format) -> String {
        self.render(scrape, format).text()
    }

    /// The scrape in parts, so the (large) per-reading texts are shared, not copied into every response.
    pub fn render(&self, scrape: Scrape, format: Format) -> Exposition {
        let readings = Readings::of(&scrape);
        let (fixed, usage) = self.fixed(&readings, format, true);
        let live = Part::new(self.live(scrape, readings, format));
        Exposition {
            parts: [fixed, usage, live],
        }
    }

    /// As [`Renderer::render`], with ages at the scrape's whole second, and one text per second: scrapes of the
    /// same reports, second and format get the same `Arc`s (the first encodes, concurrent ones wait for it), so
    /// memory stays flat however many scrapes are in flight. Ages are thus up to a second below the scrape's
    /// instant, the granularity of the exposition (timestamps keep their fraction). The per-reading parts
    /// (`parts[..Exposition::PER_READING]`) are to be served from their compressed forms ([`Part::deflated`]):
    /// their text may be left empty (see [`Kept`]).
    pub(crate) async fn shared(&self, mut scrape: Scrape, format: Format) -> Exposition {
        scrape.now = scrape.now.floor();
        let key = SecondKey::of(&scrape, format);
        let body = {
            let mut slots = self
                .seconds
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let slot = &mut slots[format.slot()];
            match slot {
                Some(b) if b.key.same_as(&key) => b.clone(),
                // A new second or new reports: the previous text is dropped once its responses are sent.
                _ => slot
                    .insert(Arc::new(SecondBody {
                        key,
                        text: tokio::sync::OnceCell::new(),
                    }))
                    .clone(),
            }
        };
        let readings = Readings::of(&scrape);
        let (fixed, usage) = self.fixed(&readings, format, false);
        let live = body
            .text
            .get_or_init(|| async { Part::new(self.live(scrape, readings, format)) })
            .await
            .clone();
        Exposition {
            parts: [fixed, usage, live],
        }
    }

    /// How many times the time-dependent part was encoded since this renderer was made: what tests read to see
    /// that concurrent scrapes of one second shared one encoding.
    #[cfg(test)]
    pub(crate) fn live_renders(&self) -> u64 {
        self.live_renders.load(Ordering::Relaxed)
    }

    /// The per-reading texts (the format-free part, and the usage families in `format`), encoded when the
    /// readings changed. `text`: the caller reads the texts, not only their compressed forms ([`Kept::serve`]).
    fn fixed(&self, readings: &Readings, format: Format, text: bool) -> (Part, Part) {
        let mut slot = self
            .readings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !slot.as_ref().is_some_and(|r| r.readings.same_as(readings)) {
            // Free the previous texts first: at 10,000 bouncers they are megabytes. The usage texts (most of the
            // exposition at 10,000 reporting bouncers) are kept while no report arrived: a reading every cache
            // interval then re-encodes only the bouncer rows.
            let previous = slot.take();
            let usage_len = previous.as_ref().map_or(0, |r| r.usage_len);
            let usage = match previous {
                Some(p) if p.readings.same_usage_as(readings) => p.usage,
                _ => [None, None],
            };
            let text = readings_text(readings);
            *slot = Some(RenderedReadings {
                readings: readings.clone(),
                text: Kept::new(text),
                usage,
                usage_len,
            });
        }
        let r = slot.as_mut().expect("just filled");
        let usage_hint = r.usage_len;
        let usage = r.usage[format.slot()]
            .get_or_insert_with(|| Kept::new(encode_usage(readings, format, usage_hint)))
            .serve(text, || encode_usage(readings, format, usage_hint));
        r.usage_len = r.usage_len.max(usage.text.len() + usage.text.len() / 16);
        let text = r.text.serve(text, || readings_text(readings));
        (text, usage)
    }

    /// The time-dependent text of `scrape`.
    fn live(&self, scrape: Scrape, readings: Readings, format: Format) -> String {
        self.live_renders.fetch_add(1, Ordering::Relaxed);
        // The bouncers' ages first, written directly as the per-reading families are ([`readings_text`]), then the
        // rest through prometheus-client.
        let mut live = String::with_capacity(bouncer::ages_len(&readings) + 16 * 1024);
        let _ = bouncer::encode_ages(&scrape, &readings, &mut GaugeText { out: &mut live });
        let families = self.families.clone();
        let mut live = encode_collector_into(Live { scrape, families }, live);
        match format {
            Format::OpenMetrics => live.push_str("# EOF\n"),
            Format::Classic => live = classic::from_openmetrics(&live),
        }
        live
    }
}

/// One scrape's exposition: the format-free text kept per reading, the usage families kept per reading and format,
/// then this scrape's own text (per second). All are shared: cloning an `Exposition` copies no text.
#[derive(Debug, Clone)]
pub struct Exposition {
    /// In order: what changes only with a new reading; the usage families; what changes with the clock (ages,
    /// health), ending with `# EOF` in OpenMetrics.
    pub parts: [Part; 3],
}

impl Exposition {
    /// How many of [`Exposition::parts`], first, are kept per reading: from [`Renderer::shared`], their text may
    /// be empty (given up once compressed), so they are served from [`Part::deflated`].
    pub const PER_READING: usize = 2;

    /// The whole text (tests, benchmarks, one-shot commands).
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(self.parts.iter().map(|p| p.text.len()).sum());
        for p in &self.parts {
            out.push_str(&p.text);
        }
        out
    }
}

/// A shared piece of the exposition, and its gzip'd form made once when a scraper first asks for it
/// (see [`gzip`]).
#[derive(Debug, Clone)]
pub struct Part {
    /// The text.
    pub text: Arc<String>,
    deflated: Arc<tokio::sync::OnceCell<Arc<gzip::Deflated>>>,
}

impl Part {
    fn new(text: String) -> Part {
        Part {
            text: Arc::new(text),
            deflated: Arc::default(),
        }
    }

    /// The text compressed as a piece of a gzip stream ([`gzip::Deflated`]), once per part, on a blocking thread
    /// (megabytes at 10,000 bouncers); concurrent callers wait for the first.
    pub async fn deflated(&self) -> Arc<gzip::Deflated> {
        self.deflated
            .get_or_init(|| async {
                let text = self.text.clone();
                let done = tokio::task::spawn_blocking(move || gzip::Deflated::of(text.as_bytes()));
                Arc::new(done.await.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "compressing the exposition failed");
                    gzip::Deflated::of(self.text.as_bytes())
                }))
            })
            .await
            .clone()
    }
}

/// `collector` encoded and appended to `out` (what `out` held is not redacted again), then the output boundary of
/// the exposition: label values pass [`crate::values::secret::redact`] (a `url` label never shows userinfo, no label
/// shows a key read from a file).
/// The directly written families ([`readings_text`], the bouncers' ages) pass the same redaction.
fn encode_collector_into(collector: impl Collector, mut out: String) -> String {
    let start = out.len();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(collector));
    // Writing to a String cannot fail; a collector error would be a bug, logged rather than a panic.
    if let Err(e) = prometheus_client::encoding::text::encode_registry(&mut out, &registry) {
        tracing::error!(error = %e, "encoding metrics failed");
    }
    if start == 0 {
        return crate::values::secret::redact_label_values(out);
    }
    if crate::values::secret::may_need_redaction(&out[start..]) {
        let appended = out.split_off(start);
        out.push_str(&crate::values::secret::redact_label_values(appended));
    }
    out
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

/// Writes a gauge family, or nothing when it has no sample.
fn gauges<S: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (S, f64)>,
) -> Result<(), std::fmt::Error> {
    let mut samples = samples.into_iter().peekable();
    if samples.peek().is_none() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        let mut sample = family.encode_family(&labels)?;
        // Whole numbers (info's 1, flags, counts, whole-second timestamps) take the much cheaper integer path.
        if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
            sample.encode_gauge(&(value as i64))?;
        } else {
            sample.encode_gauge(&value)?;
        }
    }
    Ok(())
}

/// Writes a counter family (`name` without `_total`), or nothing when it has no sample.
fn counters<S: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (S, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut samples = samples.into_iter().peekable();
    if samples.peek().is_none() {
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
    use crate::scrape::SourceReport;
    use crate::values::time::UnixSeconds;

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

    use crate::crowdsec::bouncers::{Bouncer, BouncerText, LastPull};

    fn bouncer(name: &str, last_pull: LastPull) -> Bouncer {
        Bouncer {
            registered_at: Some(1.0),
            last_usage_metrics: Some(2.0),
            ..Bouncer::test_row(name, last_pull)
        }
        .with_text(|t| {
            t.ip_address = "10.0.0.1";
            t.version = "v1";
            t.os = "debian/12";
        })
    }

    #[test]
    fn per_reading_text_is_the_same_in_both_formats() {
        let b = bouncer;
        let snapshot = BouncerSnapshot {
            bouncers: vec![b("a\\\"x", LastPull::At(5.0)), b("never", LastPull::Never)],
            schema: "1.7.1+",
            bad_rows: 0,
            usage: None,
            autodelete: Vec::new(),
        };
        let readings = Readings {
            lapis: vec![("local".into(), Arc::new(snapshot))],
        };
        let text = readings_text(&readings);
        assert!(text.contains("crowdsec_bouncer_info{"), "{text}");
        assert_eq!(classic::from_openmetrics(&text), text);
    }

    /// The bouncer families written directly are those prometheus-client writes, byte for byte, whatever the rows
    /// hold (the escaping of every label value, fractional and odd values).
    #[test]
    fn bouncer_families_are_written_as_prometheus_client_writes_them() {
        #[derive(Debug)]
        struct Reference(Scrape, Readings);
        impl Collector for Reference {
            fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
                bouncer::encode_readings(&self.1, &mut encoder)?;
                bouncer::encode_ages(&self.0, &self.1, &mut encoder)
            }
        }
        let nasty = [
            "",
            "a\\b",
            "q\"uote",
            "new\nline",
            "\\\"\n",
            "ü \u{1F600}\t\r",
            "x@10.0.0.1",
        ];
        let mut bouncers = Vec::new();
        for (i, v) in nasty.iter().enumerate() {
            let ts = 1_795_000_000.0 + i as f64 * 0.123_456_7;
            let last_pull = [LastPull::At(ts), LastPull::Never, LastPull::Unreadable][i % 3];
            let name = format!("{v}@192.0.2.{i}");
            bouncers.push(Bouncer {
                text: BouncerText {
                    name: &name,
                    ip_address: v,
                    bouncer_type: nasty[(i + 1) % nasty.len()],
                    version: nasty[(i + 2) % nasty.len()],
                    os: nasty[(i + 4) % nasty.len()],
                }
                .into(),
                auth_type: nasty[(i + 3) % nasty.len()].into(),
                auto_created: nasty[(i + 5) % nasty.len()],
                revoked: nasty[(i + 6) % nasty.len()],
                registered_at: (i % 2 == 0).then_some(ts - 1000.5),
                last_usage_metrics: (i % 3 != 2).then_some(ts + 1.0 / 3.0),
                ..Bouncer::test_row(&name, last_pull)
            });
        }
        let snapshot = |bouncers: Vec<Bouncer>| {
            Arc::new(BouncerSnapshot {
                bouncers,
                schema: "1.7.1+",
                bad_rows: 0,
                usage: None,
                autodelete: Vec::new(),
            })
        };
        // Under a plain LAPI name: a clean row, then rows with one hostile value each (every label in turn).
        let mut one_field = vec![Bouncer::test_row("clean", LastPull::At(1.5))];
        for field in 0..8 {
            let mut b = Bouncer::test_row(&format!("f{field}"), LastPull::At(2.5));
            const HOSTILE: &str = "a\"b\\c\nd";
            let name = format!("n{HOSTILE}@10.0.0.1");
            let mut t = b.text.get();
            match field {
                0 => t.name = &name,
                1 => t.ip_address = HOSTILE,
                2 => t.bouncer_type = HOSTILE,
                3 => t.version = HOSTILE,
                4 => b.auth_type = HOSTILE.into(),
                5 => t.os = HOSTILE,
                6 => b.auto_created = HOSTILE,
                _ => b.revoked = HOSTILE,
            }
            b.text = t.into();
            one_field.push(b);
        }
        let readings = Readings {
            lapis: vec![
                ("local \"lapi\"\n".into(), snapshot(bouncers)),
                ("empty".into(), snapshot(Vec::new())),
                ("plain".into(), snapshot(one_field)),
            ],
        };
        let scrape = Scrape::new(1_795_000_100.25);
        let mut direct = String::new();
        let mut to = GaugeText { out: &mut direct };
        bouncer::encode_readings(&readings, &mut to).unwrap();
        bouncer::encode_ages(&scrape, &readings, &mut to).unwrap();
        let reference = encode_collector_into(Reference(scrape, readings.clone()), String::new());
        assert!(
            direct.contains("bouncer=\"q\\\"uote@192.0.2.2\""),
            "{direct}"
        );
        assert_eq!(direct, reference);
        // The capacity estimate covers the text (it is not grown by doubling) and is not far above it.
        let len = readings_text(&readings).len();
        assert!(bouncer::readings_len(&readings) >= len - len / 8);
        assert!(bouncer::readings_len(&readings) <= 2 * len + 4096);
    }

    /// A LAPI report as the cache hands it out: one `Arc` per reading, the same to every scraper until the next.
    fn report(bouncers: usize) -> Arc<SourceReport<BouncerSnapshot>> {
        let snapshot = BouncerSnapshot {
            bouncers: (0..bouncers)
                .map(|i| {
                    bouncer(
                        &format!("fw-{i}"),
                        LastPull::At(1_700_000_000.25 + i as f64),
                    )
                })
                .collect(),
            schema: "1.7.1+",
            bad_rows: 0,
            usage: None,
            autodelete: Vec::new(),
        };
        Arc::new(SourceReport {
            data: Some(Arc::new(snapshot)),
            up: true,
            last_duration_seconds: 0.5,
            last_success: Some(1_785_000_000.0),
            reads: 1,
            ..SourceReport::empty("lapi_db", "local", Some("local"))
        })
    }

    fn scrape(lapi: &Arc<SourceReport<BouncerSnapshot>>, now: UnixSeconds) -> Scrape {
        Scrape::new(now).with(lapi.clone())
    }

    const NOW: UnixSeconds = 1_785_000_000.0; // 2026-07-25T17:20:00Z, a whole second

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_scrapes_of_one_second_share_one_encoding() {
        let lapi = report(1000);
        let renderer = Arc::new(Renderer::new(ALL_FAMILIES));
        let start = Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (renderer, start, scrape) = (
                    renderer.clone(),
                    start.clone(),
                    scrape(&lapi, NOW + 0.1 * i as f64),
                );
                tokio::spawn(async move {
                    start.wait().await;
                    renderer.shared(scrape, Format::OpenMetrics).await
                })
            })
            .collect();
        let mut bodies = Vec::new();
        for t in tasks {
            bodies.push(t.await.unwrap());
        }
        assert_eq!(
            renderer.live_renders(),
            1,
            "one encoding for 8 scrapes of one second"
        );
        for b in &bodies {
            assert!((0..3).all(|i| Arc::ptr_eq(&b.parts[i].text, &bodies[0].parts[i].text)));
        }
        // What they share is the scrape at its whole second, byte for byte.
        let alone = Renderer::new(ALL_FAMILIES).encode(scrape(&lapi, NOW), Format::OpenMetrics);
        assert_eq!(bodies[0].text(), alone);
        assert!(
            alone.contains("crowdsec_bouncer_last_pull_age_seconds{lapi=\"local\",bouncer=\"fw-0\"} 84999999.75\n"),
            "age at the whole second"
        );

        // Another second, another format, or a new reading: a new encoding each, with its own values.
        let next = renderer
            .shared(scrape(&lapi, NOW + 1.0), Format::OpenMetrics)
            .await;
        assert_eq!(renderer.live_renders(), 2);
        assert!(next.parts[2]
            .text
            .contains("bouncer=\"fw-0\"} 85000000.75\n"));
        let classic = renderer
            .shared(scrape(&lapi, NOW + 1.5), Format::Classic)
            .await;
        assert_eq!(renderer.live_renders(), 3);
        assert!(
            !classic.parts[2].text.contains("# EOF") && next.parts[2].text.ends_with("# EOF\n")
        );
        let again = renderer
            .shared(scrape(&lapi, NOW + 1.9), Format::OpenMetrics)
            .await;
        assert!(
            Arc::ptr_eq(&again.parts[2].text, &next.parts[2].text),
            "each format keeps its own second"
        );
        let reread = report(1000);
        let fresh = renderer
            .shared(scrape(&reread, NOW + 1.2), Format::OpenMetrics)
            .await;
        assert_eq!(
            renderer.live_renders(),
            4,
            "a new report is never served an older text"
        );
        assert!(!Arc::ptr_eq(&fresh.parts[2].text, &next.parts[2].text));
        let own = Renderer::new(ALL_FAMILIES).render(scrape(&lapi, NOW + 0.5), Format::OpenMetrics);
        assert!(
            own.parts[2]
                .text
                .contains("bouncer=\"fw-0\"} 85000000.25\n"),
            "render (unshared) keeps the scrape's own instant"
        );
    }

    /// All of a compressed part's text, as a plain scraper's body gets it (inflated in chunks).
    fn inflated(d: &Arc<gzip::Deflated>) -> String {
        let mut inflate = gzip::Inflate::new(d.clone());
        let mut out = Vec::new();
        while let Some(c) = inflate.next_chunk(4096) {
            out.extend_from_slice(&c);
        }
        String::from_utf8(out).unwrap()
    }

    /// Issue 22: the per-reading texts are kept compressed only (the usage text is 13 MB at 10,000 reporting
    /// bouncers, 0.7 MB gzip'd), whatever the scrapers ask: a scraper without gzip is served them inflated from
    /// the compressed form, so no plain copy is kept, neither before nor after a new reading; `render` (tests,
    /// one-shot commands) gets the same bytes, encoded again.
    #[tokio::test]
    async fn scrapes_keep_the_compressed_texts_only() {
        use crate::crowdsec::usage_reports::UsageTotals;
        let lapi_with = |value: u32| {
            let mut usage = UsageTotals::default();
            usage.add_report(
                1,
                "fw-0",
                Some(format!(r#"{{"metrics":[{{"meta":{{"utc_now_timestamp":3}},"items":[{{"name":"dropped","unit":"packet","value":{value},"labels":{{"origin":"CAPI"}}}}]}}]}}"#).as_bytes()),
            );
            Arc::new(SourceReport {
                data: Some(Arc::new(BouncerSnapshot {
                    bouncers: vec![bouncer("fw-0", LastPull::At(NOW - 5.0))],
                    schema: "1.7.1+",
                    bad_rows: 0,
                    usage: Some(usage),
                    autodelete: Vec::new(),
                })),
                ..SourceReport::empty("lapi_db", "local", Some("local"))
            })
        };
        let renderer = Renderer::new(ALL_FAMILIES);
        for (value, lapi) in [(3, lapi_with(3)), (4, lapi_with(4))] {
            let expected = Renderer::new(ALL_FAMILIES).render(scrape(&lapi, NOW), Format::Classic);
            assert!(expected.parts[1]
                .text
                .contains(&format!("crowdsec_bouncer_dropped_packets_total{{lapi=\"local\",bouncer=\"fw-0\",origin=\"CAPI\",remediation=\"\"}} {value}\n")));
            // A new reading: its first scrape has the texts, to compress them.
            let first = renderer.shared(scrape(&lapi, NOW), Format::Classic).await;
            assert_eq!(*first.parts[1].text, *expected.parts[1].text);
            let mut deflated = Vec::new();
            for p in &first.parts[..Exposition::PER_READING] {
                deflated.push(p.deflated().await);
            }
            drop(first);
            let next = renderer.shared(scrape(&lapi, NOW), Format::Classic).await;
            for (i, d) in deflated.iter().enumerate() {
                assert!(next.parts[i].text.is_empty(), "given up once compressed");
                assert!(
                    Arc::ptr_eq(&next.parts[i].deflated().await, d),
                    "the same compressed form"
                );
                assert_eq!(inflated(d), *expected.parts[i].text, "the same bytes");
            }
            // A one-shot render reads the text: encoded again, the same bytes; given up again by the next scrape.
            let rendered = renderer.render(scrape(&lapi, NOW), Format::Classic);
            assert_eq!(rendered.text(), expected.text());
            let after = renderer.shared(scrape(&lapi, NOW), Format::Classic).await;
            assert!(after.parts[0].text.is_empty() && after.parts[1].text.is_empty());
        }
    }

    /// Issue 22: the usage (remediation) families were encoded for every scrape second; they are now encoded once
    /// per reading and kept across readings while no report arrived, so a reading every cache interval does not
    /// re-encode (nor hold twice) the largest part of the exposition.
    #[test]
    fn the_usage_text_is_kept_until_a_report_changes_it() {
        use crate::crowdsec::usage_reports::UsageTotals;
        let report_of = |usage: &UsageTotals| {
            Arc::new(SourceReport {
                data: Some(Arc::new(BouncerSnapshot {
                    bouncers: vec![bouncer("fw-0", LastPull::At(NOW - 5.0))],
                    schema: "1.7.1+",
                    bad_rows: 0,
                    usage: Some(usage.clone()),
                    autodelete: Vec::new(),
                })),
                up: true,
                last_duration_seconds: 0.5,
                last_success: Some(NOW),
                reads: 1,
                ..SourceReport::empty("lapi_db", "local", Some("local"))
            })
        };
        let payload = |v: u32| {
            format!(
                r#"{{"metrics":[{{"meta":{{"utc_now_timestamp":{v}}},"items":[{{"name":"dropped","unit":"packet","value":{v},"labels":{{"origin":"CAPI"}}}}]}}]}}"#
            )
        };
        let mut usage = UsageTotals::default();
        usage.add_report(1, "fw-0", Some(payload(3).as_bytes()));
        let renderer = Renderer::new(ALL_FAMILIES);
        let first = renderer.render(scrape(&report_of(&usage), NOW), Format::OpenMetrics);
        assert!(first.parts[1].text.contains("crowdsec_bouncer_dropped_packets_total{lapi=\"local\",bouncer=\"fw-0\",origin=\"CAPI\",remediation=\"\"} 3\n"));
        // A new reading (new rows, new Arcs), no new report: the same usage text, not a copy.
        let again = renderer.render(scrape(&report_of(&usage), NOW), Format::OpenMetrics);
        assert!(!Arc::ptr_eq(&again.parts[0].text, &first.parts[0].text));
        assert!(Arc::ptr_eq(&again.parts[1].text, &first.parts[1].text));
        // A new report: a new text.
        usage.add_report(2, "fw-0", Some(payload(4).as_bytes()));
        let next = renderer.render(scrape(&report_of(&usage), NOW), Format::OpenMetrics);
        assert!(next.parts[1]
            .text
            .contains("origin=\"CAPI\",remediation=\"\"} 7\n"));
    }
}
