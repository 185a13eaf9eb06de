//! Layer 4, the cached snapshot: every source behind one [`Cached`], built at start-up, and what one scrape
//! gathers from them ([`Scrape`]).
//!
//! Scrapes read sources at scrape time, but never more often than a minimum interval, and concurrent scrapes
//! share one in-flight read. A read that outlives the scrape's deadline keeps running in the background and its
//! result serves the next scrape, so a slow database never piles up reads. The last good data is kept when a read
//! fails: dashboards keep the bouncers, `crowdsec_exporter_source_up` says the data is stale and why.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::crowdsec::bouncer_files::checks::FileReport;
use crate::crowdsec::bouncers::BouncerSnapshot;
use crate::crowdsec::decisions::ActiveDecisions;
use crate::sources::bouncer_config::{BouncerConfigSource, ConfigSnapshot};
use crate::sources::lapi_decisions::LapiDecisionsSource;
use crate::sources::lapi_health::{LapiHealth, LapiHealthSource};
use crate::sources::lapi_machines::LapiMachinesSource;
use crate::sources::service_api::{IntegrationSnapshot, ServiceApiSource};
use crate::sources::{LapiBouncers, Reason, Source, SourceFailure};
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

impl<T> SourceReport<T> {
    fn empty(kind: &'static str, name: &str, lapi: Option<&str>) -> Self {
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
            kind: self.kind,
            name: self.name.clone(),
            lapi: self.lapi.clone(),
            data: self.data.clone(),
            up: false,
            last_error: Some(failure),
            last_duration_seconds: self.last_duration_seconds,
            last_success: self.last_success,
            errors: self.errors.clone(),
            reads: self.reads,
        }
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
                        kind: prev.kind,
                        name: prev.name.clone(),
                        lapi: prev.lapi.clone(),
                        data: Some(Arc::new(data)),
                        up: true,
                        last_error: None,
                        last_duration_seconds: duration,
                        last_success: Some(time::now()),
                        errors,
                        reads: prev.reads + 1,
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
                        kind: prev.kind,
                        name: prev.name.clone(),
                        lapi: prev.lapi.clone(),
                        data: prev.data.clone(),
                        up: false,
                        last_error: Some(failure),
                        last_duration_seconds: duration,
                        last_success: prev.last_success,
                        errors,
                        reads: prev.reads + 1,
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
    /// One report per LAPI; its `name` is the `lapi` label.
    pub lapis: Vec<Arc<SourceReport<BouncerSnapshot>>>,
    /// The Service API's report, when that source is enabled.
    pub service_api: Option<Arc<SourceReport<IntegrationSnapshot>>>,
    /// The bouncer configuration checks' report, when they are on.
    pub bouncer_config: Option<Arc<SourceReport<ConfigSnapshot>>>,
    /// `/health` of each LAPI whose URL is known.
    pub lapi_health: Vec<Arc<SourceReport<LapiHealth>>>,
    /// Active decisions of each LAPI read from a database.
    pub lapi_decisions: Vec<Arc<SourceReport<ActiveDecisions>>>,
    /// Log processors (table `machines`) of each LAPI read from a database.
    pub lapi_machines: Vec<Arc<SourceReport<crate::crowdsec::machines::MachineSnapshot>>>,
    /// The `--web.config.file`'s last (re)load, filled in by the web layer; `None` without a web config file.
    pub web_config: Option<ReloadStatus>,
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
    /// The checked files of this scrape, with the `integration` check added from the same scrape's Service API
    /// list (it is only known there) and each file linked to its LAPI's registrations. Stale data is served too,
    /// flagged by `crowdsec_exporter_source_up`.
    pub(crate) fn checked_files(&self) -> Vec<FileReport> {
        let Some(data) = self.bouncer_config.as_ref().and_then(|r| r.data.clone()) else {
            return Vec::new();
        };
        let integrations = self.service_api.as_ref().and_then(|r| r.data.clone());
        let ids: Option<Vec<&str>> = integrations
            .as_ref()
            .map(|d| d.integrations.iter().map(|i| i.id.as_str()).collect());
        let snapshots: Vec<_> = self
            .lapis
            .iter()
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

/// Every configured source behind its cache, built once at start-up (see `crate::exporter`).
pub(crate) struct Sources {
    /// One per LAPI, in configuration order.
    pub lapis: Vec<Cached<LapiBouncers>>,
    /// The Service API, when a key is given.
    pub service_api: Option<Cached<ServiceApiSource>>,
    /// The bouncer configuration checks, when on.
    pub bouncer_config: Option<Cached<BouncerConfigSource>>,
    /// One per LAPI whose reachability is watched.
    pub lapi_health: Vec<Cached<LapiHealthSource>>,
    /// One per LAPI read from a database.
    pub lapi_decisions: Vec<Cached<LapiDecisionsSource>>,
    /// One per LAPI read from a database: its log processors.
    pub lapi_machines: Vec<Cached<LapiMachinesSource>>,
}

async fn get_opt<S: Source>(
    c: Option<&Cached<S>>,
    deadline: Duration,
) -> Option<Arc<SourceReport<S::Snapshot>>> {
    match c {
        Some(c) => Some(c.get(deadline).await),
        None => None,
    }
}

impl Sources {
    /// SIGHUP: the next scrape reads every source anew (bouncer files, databases, the Service API) instead of
    /// serving a cached reading.
    pub(crate) fn expire(&self) {
        self.lapis.iter().for_each(Cached::expire);
        self.service_api.iter().for_each(Cached::expire);
        self.bouncer_config.iter().for_each(Cached::expire);
        self.lapi_health.iter().for_each(Cached::expire);
        self.lapi_decisions.iter().for_each(Cached::expire);
        self.lapi_machines.iter().for_each(Cached::expire);
    }

    /// Reads (or takes from cache) every source, concurrently, waiting at most `deadline`.
    pub(crate) async fn scrape(&self, deadline: Duration) -> Scrape {
        use futures_util::future::join_all;
        let (lapis, service_api, bouncer_config, lapi_health, lapi_decisions, lapi_machines) = tokio::join!(
            join_all(self.lapis.iter().map(|c| c.get(deadline))),
            get_opt(self.service_api.as_ref(), deadline),
            get_opt(self.bouncer_config.as_ref(), deadline),
            join_all(self.lapi_health.iter().map(|c| c.get(deadline))),
            join_all(self.lapi_decisions.iter().map(|c| c.get(deadline))),
            join_all(self.lapi_machines.iter().map(|c| c.get(deadline))),
        );
        Scrape {
            now: time::now(),
            lapis,
            service_api,
            bouncer_config,
            lapi_health,
            lapi_decisions,
            lapi_machines,
            web_config: None,
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
