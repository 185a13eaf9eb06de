//! Layer 4, the cached snapshot: every source behind one [`Cached`], built at start-up, and what one scrape
//! gathers from them ([`Scrape`]).
//!
//! Scrapes read sources at scrape time, but never more often than a minimum interval, and concurrent scrapes
//! share one in-flight read. A read that outlives the scrape's deadline keeps running in the background and its
//! result serves the next scrape, so a slow database never piles up reads. The last good data is kept when a read
//! fails: dashboards keep the bouncers, `crowdsec_exporter_source_up` says the data is stale and why.

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::crowdsec::bouncer_files::checks::FileReport;
use crate::crowdsec::bouncers::BouncerSnapshot;
use crate::sources::bouncer_config::ConfigSnapshot;
use crate::sources::service_api::IntegrationSnapshot;
use crate::sources::{Reason, Source, SourceFailure};
use crate::values::time::{self, UnixSeconds};

/// What a scrape sees of one source.
#[derive(Debug)]
pub struct SourceReport<T> {
    /// `source` label: `lapi_db`, `cscli`, `service_api`, ...
    pub kind: &'static str,
    /// `name` label: the LAPI's name, or the Service API's.
    pub name: String,
    /// `lapi` label: the LAPI the source reads about, `None` (`lapi=""`) for service_api and bouncer_config
    /// ([`Source::lapi`]).
    pub lapi: Option<String>,
    /// Last good data, possibly older than this read when `up` is false.
    pub data: Option<Arc<T>>,
    /// Whether the last read succeeded.
    pub up: bool,
    /// Why the last read failed, when it did.
    pub last_error: Option<SourceFailure>,
    /// How long the last read took, in seconds.
    pub last_duration_seconds: f64,
    /// When the last successful read finished.
    pub last_success: Option<UnixSeconds>,
    /// Errors since start, by reason.
    pub errors: BTreeMap<Reason, u64>,
    /// Reads finished since start, good or bad (one per cache interval at most, however many scrapes).
    pub reads: u64,
}

// Not derived: the snapshot `T`, behind its `Arc`, need not be `Clone`. The one place a report is copied field by
// field; a new report is this copy with what changed (`SourceReport { up, ..prev.clone() }`).
impl<T> SourceReport<T> {
    /// Before the first read: down, no data, no error yet.
    pub(crate) fn empty(kind: &'static str, name: &str, lapi: Option<&str>) -> Self {
        SourceReport {
            kind,
            name: name.to_owned(),
            lapi: lapi.map(str::to_owned),
            data: None,
            up: false,
            last_error: None,
            last_duration_seconds: 0.0,
            last_success: None,
            errors: BTreeMap::new(),
            reads: 0,
        }
    }

    fn with_failure(&self, failure: SourceFailure) -> Self {
        SourceReport {
            up: false,
            last_error: Some(failure),
            ..self.clone()
        }
    }
}

impl<T> Clone for SourceReport<T> {
    fn clone(&self) -> Self {
        SourceReport {
            kind: self.kind,
            name: self.name.clone(),
            lapi: self.lapi.clone(),
            data: self.data.clone(),
            up: self.up,
            last_error: self.last_error.clone(),
            last_duration_seconds: self.last_duration_seconds,
            last_success: self.last_success,
            errors: self.errors.clone(),
            reads: self.reads,
        }
    }
}

/// What a report says of its source's health, whatever its data: what the self-health series
/// (`crowdsec_exporter_source_*`), the status page and the per-second encoding key read, for every registered
/// source alike (node_exporter's per-collector success and duration).
#[derive(Debug, Clone, Copy)]
pub struct Health<'a> {
    /// `source` label.
    pub kind: &'static str,
    /// `name` label.
    pub name: &'a str,
    /// `lapi` label, `None` for a source bound to no single LAPI.
    pub lapi: Option<&'a str>,
    /// Whether the last read succeeded.
    pub up: bool,
    /// Why the last read failed, when it did.
    pub last_error: Option<&'a SourceFailure>,
    /// How long the last read took, in seconds.
    pub last_duration_seconds: f64,
    /// When the last successful read finished.
    pub last_success: Option<UnixSeconds>,
    /// Errors since start, by reason.
    pub errors: &'a BTreeMap<Reason, u64>,
    /// Reads finished since start.
    pub reads: u64,
}

/// A [`SourceReport`] of any source: its [`Health`] read generically, its data reached by its snapshot type
/// ([`Scrape::reports`]).
pub trait AnyReport: std::fmt::Debug + Send + Sync + 'static {
    /// The source's health, as every source reports it.
    fn health(&self) -> Health<'_>;
    /// The report itself, for [`Scrape::reports`] to find a source's data by its snapshot type.
    fn as_any(&self) -> &dyn Any;
    /// The same report with another read duration and last success (tests and benchmarks fix the clock).
    fn with_times(&self, duration: f64, last_success: Option<UnixSeconds>) -> Arc<dyn AnyReport>;
}

impl<T: std::fmt::Debug + Send + Sync + 'static> AnyReport for SourceReport<T> {
    fn health(&self) -> Health<'_> {
        Health {
            kind: self.kind,
            name: &self.name,
            lapi: self.lapi.as_deref(),
            up: self.up,
            last_error: self.last_error.as_ref(),
            last_duration_seconds: self.last_duration_seconds,
            last_success: self.last_success,
            errors: &self.errors,
            reads: self.reads,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn with_times(&self, duration: f64, last_success: Option<UnixSeconds>) -> Arc<dyn AnyReport> {
        let mut r = self.clone();
        r.last_duration_seconds = duration;
        r.last_success = last_success;
        Arc::new(r)
    }
}

type Published<T> = Option<Arc<SourceReport<T>>>;

/// One source behind its cache.
pub(crate) struct Cached<S: Source> {
    min_interval: Duration,
    read_timeout: Duration,
    source: Arc<S>,
    inner: Arc<Mutex<Inner<S::Snapshot>>>,
}

struct Inner<T> {
    report: Arc<SourceReport<T>>,
    refreshed_at: Option<Instant>,
    inflight: Option<watch::Receiver<Published<T>>>,
}

impl<S: Source> Cached<S> {
    /// `read_timeout` bounds one read; `min_interval` is how long a reading serves scrapes before a new one.
    /// Labels come from the source ([`Source::source`], [`Source::name`], [`Source::lapi`]).
    pub(crate) fn new(source: S, min_interval: Duration, read_timeout: Duration) -> Self {
        let report = SourceReport::empty(source.source(), source.name(), source.lapi());
        Cached {
            min_interval,
            read_timeout,
            source: Arc::new(source),
            inner: Arc::new(Mutex::new(Inner {
                report: Arc::new(report),
                refreshed_at: None,
                inflight: None,
            })),
        }
    }

    /// Makes the next [`Cached::get`] read anew whatever the cache interval (SIGHUP); a read in flight is kept.
    pub(crate) fn expire(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .refreshed_at = None;
    }

    /// The report to serve now: cached when fresh, else a new read shared with concurrent callers.
    /// Waits at most `deadline`; past it, the previous report is served marked down with reason `timeout`.
    pub(crate) async fn get(&self, deadline: Duration) -> Arc<SourceReport<S::Snapshot>> {
        let mut rx = {
            let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(at) = inner.refreshed_at {
                if at.elapsed() < self.min_interval {
                    return inner.report.clone();
                }
            }
            match &inner.inflight {
                Some(rx) => rx.clone(),
                None => {
                    let rx = self.spawn_read();
                    inner.inflight = Some(rx.clone());
                    rx
                }
            }
        };
        let published = match tokio::time::timeout(deadline, rx.wait_for(Option::is_some)).await {
            Ok(Ok(published)) => published.clone(),
            _ => None,
        };
        if let Some(report) = published {
            return report;
        }
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::new(inner.report.with_failure(SourceFailure {
            reason: Reason::Timeout,
            message: format!(
                "no answer within the scrape deadline of {deadline:?}; the read goes on"
            ),
        }))
    }

    fn spawn_read(&self) -> watch::Receiver<Published<S::Snapshot>> {
        let (tx, rx) = watch::channel(None);
        let read = self.source.clone().read();
        let read_timeout = self.read_timeout;
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = match tokio::time::timeout(read_timeout, read).await {
                Ok(r) => r,
                Err(_) => Err(SourceFailure {
                    reason: Reason::Timeout,
                    message: format!("read took longer than {read_timeout:?}"),
                }),
            };
            let duration = started.elapsed().as_secs_f64();
            let mut inner = inner.lock().unwrap_or_else(PoisonError::into_inner);
            let prev = &inner.report;
            let mut errors = prev.errors.clone();
            let report = match result {
                Ok(data) => {
                    if let Some(was) = &prev.last_error {
                        tracing::info!(source = prev.kind, name = %prev.name, after = %was, "source recovered");
                    }
                    SourceReport {
                        data: Some(Arc::new(data)),
                        up: true,
                        last_error: None,
                        last_duration_seconds: duration,
                        last_success: Some(time::now()),
                        errors,
                        reads: prev.reads + 1,
                        ..(**prev).clone()
                    }
                }
                Err(failure) => {
                    // A failure is news when it starts or changes; the same one again every cache interval would
                    // only flood the log (the metrics count every one).
                    if prev.last_error.as_ref() == Some(&failure) {
                        tracing::debug!(source = prev.kind, name = %prev.name, reason = %failure.reason,
                            error = %failure.message, "source read failed again");
                    } else {
                        tracing::warn!(source = prev.kind, name = %prev.name, reason = %failure.reason,
                            error = %failure.message, "source read failed");
                    }
                    *errors.entry(failure.reason).or_default() += 1;
                    SourceReport {
                        up: false,
                        last_error: Some(failure),
                        last_duration_seconds: duration,
                        errors,
                        reads: prev.reads + 1,
                        ..(**prev).clone()
                    }
                }
            };
            let report = Arc::new(report);
            inner.report = report.clone();
            inner.refreshed_at = Some(Instant::now());
            inner.inflight = None;
            // Nobody may be waiting any more (scrape deadline passed): that is fine.
            let _ = tx.send(Some(report));
        });
        rx
    }
}

/// Everything one scrape encodes.
#[derive(Debug)]
pub struct Scrape {
    /// The scrape's clock.
    pub now: UnixSeconds,
    /// One report per configured source, in registration order (see `crate::exporter`): the order of the
    /// `crowdsec_exporter_source_*` series. A source's own data: [`Scrape::reports`].
    pub reports: Vec<Arc<dyn AnyReport>>,
    /// The `--web.config.file`'s last (re)load, filled in by the web layer; `None` without a web config file.
    pub web_config: Option<ReloadStatus>,
    /// The exporter's own process (`process_*`), read by the web layer for each scrape of `/metrics`; `None`
    /// elsewhere (`diagnose`, the landing page).
    pub process: Option<crate::sources::own_process::ProcessStats>,
}

/// The outcome of the last load of the web config file (start, a change, SIGHUP), as Prometheus'
/// `prometheus_config_last_reload_successful` and `prometheus_config_last_reload_success_timestamp_seconds`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReloadStatus {
    /// False when the last attempt was refused (unusable or weaker file): the previous configuration is served.
    pub successful: bool,
    /// Unix time of the last successful load (start-up counts).
    pub last_success: UnixSeconds,
}

impl Scrape {
    /// A scrape at `now` of no source yet ([`Scrape::with`] adds them).
    pub fn new(now: UnixSeconds) -> Scrape {
        Scrape {
            now,
            reports: Vec::new(),
            web_config: None,
            process: None,
        }
    }

    /// This scrape with one more source's report, after the others.
    #[must_use]
    pub fn with<T: std::fmt::Debug + Send + Sync + 'static>(
        mut self,
        report: Arc<SourceReport<T>>,
    ) -> Scrape {
        self.reports.push(report);
        self
    }

    /// The reports of the sources whose snapshot is a `T`, in registration order: one per LAPI for
    /// [`BouncerSnapshot`] (its `name` is the `lapi` label), at most one for the Service API's
    /// [`IntegrationSnapshot`], ...
    pub fn reports<T: 'static>(&self) -> impl Iterator<Item = &SourceReport<T>> + '_ {
        self.reports
            .iter()
            .filter_map(|r| r.as_any().downcast_ref::<SourceReport<T>>())
    }

    /// The first report whose snapshot is a `T` (a source configured at most once: `service_api`,
    /// `bouncer_config`).
    pub fn report<T: 'static>(&self) -> Option<&SourceReport<T>> {
        self.reports::<T>().next()
    }

    /// The checked files of this scrape, with the `integration` check added from the same scrape's Service API
    /// list (it is only known there) and each file linked to its LAPI's registrations. Stale data is served too,
    /// flagged by `crowdsec_exporter_source_up`.
    pub(crate) fn checked_files(&self) -> Vec<FileReport> {
        let Some(data) = self.report::<ConfigSnapshot>().and_then(|r| r.data.clone()) else {
            return Vec::new();
        };
        let integrations = self
            .report::<IntegrationSnapshot>()
            .and_then(|r| r.data.clone());
        let ids: Option<Vec<&str>> = integrations
            .as_ref()
            .map(|d| d.integrations.iter().map(|i| i.id.as_str()).collect());
        let snapshots: Vec<_> = self
            .reports::<BouncerSnapshot>()
            .filter_map(|r| r.data.clone().map(|d| (r.name.clone(), d)))
            .collect();
        let lapis: Vec<crate::crowdsec::bouncer_files::link::Registrations<'_>> = snapshots
            .iter()
            .map(|(name, d)| (name.as_str(), d.as_ref()))
            .collect();
        data.files
            .iter()
            .map(|f| {
                let mut f = f.clone().with_integrations(ids.as_deref());
                crate::crowdsec::bouncer_files::link::link(&mut f, &lapis);
                f
            })
            .collect()
    }
}

/// A [`Cached`] source of any kind: what [`Sources`] holds, one per configured source.
trait AnyCached: Send + Sync {
    fn expire(&self);
    fn read_timeout(&self) -> Duration;
    fn get(
        &self,
        deadline: Duration,
    ) -> Pin<Box<dyn Future<Output = Arc<dyn AnyReport>> + Send + '_>>;
}

impl<S: Source> AnyCached for Cached<S> {
    fn expire(&self) {
        Cached::expire(self);
    }

    fn read_timeout(&self) -> Duration {
        self.read_timeout
    }

    fn get(
        &self,
        deadline: Duration,
    ) -> Pin<Box<dyn Future<Output = Arc<dyn AnyReport>> + Send + '_>> {
        Box::pin(async move {
            let report: Arc<dyn AnyReport> = Cached::get(self, deadline).await;
            report
        })
    }
}

/// Every configured source behind its cache, built once at start-up (see `crate::exporter`), in registration
/// order. Expiring and scraping iterate them all alike: a new source adds no code here.
#[derive(Default)]
pub(crate) struct Sources {
    caches: Vec<Box<dyn AnyCached>>,
}

impl Sources {
    /// Adds a source behind its cache, after the others.
    pub(crate) fn push<S: Source>(&mut self, cached: Cached<S>) {
        self.caches.push(Box::new(cached));
    }

    /// SIGHUP: the next scrape reads every source anew (bouncer files, databases, the Service API) instead of
    /// serving a cached reading.
    pub(crate) fn expire(&self) {
        self.caches.iter().for_each(|c| c.expire());
    }

    /// The longest any source's read may take: a scrape that waits this long gets every source's answer.
    pub(crate) fn longest_read(&self) -> Duration {
        self.caches
            .iter()
            .map(|c| c.read_timeout())
            .max()
            .unwrap_or_default()
    }

    /// Reads (or takes from cache) every source, concurrently, waiting at most `deadline`.
    pub(crate) async fn scrape(&self, deadline: Duration) -> Scrape {
        let reports =
            futures_util::future::join_all(self.caches.iter().map(|c| c.get(deadline))).await;
        Scrape {
            now: time::now(),
            reports,
            web_config: None,
            process: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const MINUTE: Duration = Duration::from_secs(60);
    const FIVE_S: Duration = Duration::from_secs(5);

    /// Counts its reads; the `n`th read (from 0) sleeps `delay(n)`, then fails when `fail`.
    struct Counting {
        calls: Arc<AtomicUsize>,
        delay: fn(usize) -> Duration,
        fail: bool,
    }

    impl Source for Counting {
        type Snapshot = usize;
        fn source(&self) -> &'static str {
            "test"
        }
        fn name(&self) -> &str {
            "t"
        }
        fn lapi(&self) -> Option<&str> {
            Some("t")
        }
        async fn read(self: Arc<Self>) -> Result<usize, SourceFailure> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep((self.delay)(n)).await;
            if self.fail {
                Err(SourceFailure {
                    reason: Reason::Query,
                    message: "boom".into(),
                })
            } else {
                Ok(n + 1)
            }
        }
    }

    fn counting(
        delay: fn(usize) -> Duration,
        fail: bool,
        min_interval: Duration,
        read_timeout: Duration,
    ) -> (Arc<AtomicUsize>, Cached<Counting>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let source = Counting {
            calls: calls.clone(),
            delay,
            fail,
        };
        (calls, Cached::new(source, min_interval, read_timeout))
    }

    #[tokio::test]
    async fn concurrent_scrapes_share_one_read_and_the_cache_serves_the_next() {
        let (calls, cache) = counting(|_| Duration::from_millis(50), false, MINUTE, FIVE_S);
        let cache = Arc::new(cache);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let cache = cache.clone();
            tasks.push(tokio::spawn(async move {
                cache.get(Duration::from_secs(5)).await
            }));
        }
        for t in tasks {
            let r = t.await.unwrap();
            assert!(r.up);
            assert_eq!(*r.data.clone().unwrap(), 1);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            *cache
                .get(Duration::from_secs(5))
                .await
                .data
                .clone()
                .unwrap(),
            1
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.get(Duration::from_secs(5)).await.reads, 1);
    }

    #[tokio::test]
    async fn a_failure_is_counted_by_reason() {
        let (_, cache) = counting(|_| Duration::ZERO, true, MINUTE, FIVE_S);
        let r = cache.get(Duration::from_secs(5)).await;
        assert!(!r.up);
        assert!(r.data.is_none());
        assert_eq!(r.errors.get(&Reason::Query), Some(&1));
        assert_eq!(r.last_error.as_ref().unwrap().reason, "query");
    }

    #[tokio::test]
    async fn a_slow_read_does_not_hold_the_scrape_and_serves_the_next_one() {
        let (calls, cache) = counting(|_| Duration::from_millis(300), false, MINUTE, FIVE_S);
        let r = cache.get(Duration::from_millis(20)).await;
        assert!(!r.up);
        assert_eq!(r.last_error.as_ref().unwrap().reason, "timeout");
        // A second scrape joins the same read instead of starting another.
        let r = cache.get(Duration::from_secs(5)).await;
        assert!(r.up);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_read_timeout_marks_the_source_down_and_keeps_old_data() {
        let (_, cache) = counting(
            |n| Duration::from_secs(if n > 0 { 10 } else { 0 }),
            false,
            Duration::ZERO,
            Duration::from_millis(50),
        );
        assert!(cache.get(Duration::from_secs(5)).await.up);
        let r = cache.get(Duration::from_secs(5)).await;
        assert!(!r.up);
        assert_eq!(r.errors.get(&Reason::Timeout), Some(&1));
        assert_eq!(*r.data.clone().unwrap(), 1, "last good data is kept");
        assert!(r.last_success.is_some());
    }
}
