//! One cached, coalesced reading per source.
//!
//! Scrapes read sources at scrape time, but never more often than a minimum interval, and concurrent scrapes
//! share one in-flight read. A read that outlives the scrape's deadline keeps running in the background and its
//! result serves the next scrape, so a slow database never piles up reads. The last good data is kept when a read
//! fails: dashboards keep the bouncers, `crowdsec_exporter_source_up` says the data is stale and why.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::timefmt::{self, UnixSeconds};

/// Why a source read failed: a short stable `reason` for the metric label, and a message for logs and diagnose.
/// The message must never hold a secret; sources build it from their own typed errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailure {
    pub reason: &'static str,
    pub message: String,
}

impl std::fmt::Display for SourceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.reason)
    }
}

/// A typed source error that knows its metric reason.
pub trait Reason: std::fmt::Display {
    fn reason(&self) -> &'static str;

    fn to_failure(&self) -> SourceFailure {
        SourceFailure {
            reason: self.reason(),
            message: self.to_string(),
        }
    }
}

/// What a scrape sees of one source.
#[derive(Debug)]
pub struct SourceReport<T> {
    /// `source` label: `lapi_db`, `cscli`, `service_api`, ...
    pub kind: &'static str,
    /// `name` label: the LAPI's name, or the Service API's.
    pub name: String,
    /// Last good data, possibly older than this read when `up` is false.
    pub data: Option<Arc<T>>,
    pub up: bool,
    pub last_error: Option<SourceFailure>,
    pub last_duration_seconds: f64,
    pub last_success: Option<UnixSeconds>,
    /// Errors since start, by reason.
    pub errors: BTreeMap<&'static str, u64>,
    /// Reads finished since start, good or bad (one per cache interval at most, however many scrapes).
    pub reads: u64,
}

impl<T> SourceReport<T> {
    fn empty(kind: &'static str, name: &str) -> Self {
        SourceReport {
            kind,
            name: name.to_owned(),
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

pub type ReadFuture<T> = Pin<Box<dyn Future<Output = Result<T, SourceFailure>> + Send>>;
type Reader<T> = Arc<dyn Fn() -> ReadFuture<T> + Send + Sync>;
type Published<T> = Option<Arc<SourceReport<T>>>;

/// The cache of one source.
pub struct Cached<T> {
    min_interval: Duration,
    read_timeout: Duration,
    reader: Reader<T>,
    inner: Arc<Mutex<Inner<T>>>,
}

struct Inner<T> {
    report: Arc<SourceReport<T>>,
    refreshed_at: Option<Instant>,
    inflight: Option<watch::Receiver<Published<T>>>,
}

impl<T: Send + Sync + 'static> Cached<T> {
    /// `read_timeout` bounds one read; `min_interval` is how long a reading serves scrapes before a new one.
    pub fn new<F>(
        kind: &'static str,
        name: &str,
        min_interval: Duration,
        read_timeout: Duration,
        reader: F,
    ) -> Self
    where
        F: Fn() -> ReadFuture<T> + Send + Sync + 'static,
    {
        Cached {
            min_interval,
            read_timeout,
            reader: Arc::new(reader),
            inner: Arc::new(Mutex::new(Inner {
                report: Arc::new(SourceReport::empty(kind, name)),
                refreshed_at: None,
                inflight: None,
            })),
        }
    }

    /// The report to serve now: cached when fresh, else a new read shared with concurrent callers.
    /// Waits at most `deadline`; past it, the previous report is served marked down with reason `timeout`.
    pub async fn get(&self, deadline: Duration) -> Arc<SourceReport<T>> {
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
            reason: "timeout",
            message: format!(
                "no answer within the scrape deadline of {deadline:?}; the read goes on"
            ),
        }))
    }

    fn spawn_read(&self) -> watch::Receiver<Published<T>> {
        let (tx, rx) = watch::channel(None);
        let read = (self.reader)();
        let read_timeout = self.read_timeout;
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = match tokio::time::timeout(read_timeout, read).await {
                Ok(r) => r,
                Err(_) => Err(SourceFailure {
                    reason: "timeout",
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
                        data: Some(Arc::new(data)),
                        up: true,
                        last_error: None,
                        last_duration_seconds: duration,
                        last_success: Some(timefmt::now()),
                        errors,
                        reads: prev.reads + 1,
                    }
                }
                Err(failure) => {
                    // A failure is news when it starts or changes; the same one again every cache interval would
                    // only flood the log (the metrics count every one).
                    if prev.last_error.as_ref() == Some(&failure) {
                        tracing::debug!(source = prev.kind, name = %prev.name, reason = failure.reason,
                            error = %failure.message, "source read failed again");
                    } else {
                        tracing::warn!(source = prev.kind, name = %prev.name, reason = failure.reason,
                            error = %failure.message, "source read failed");
                    }
                    *errors.entry(failure.reason).or_default() += 1;
                    SourceReport {
                        kind: prev.kind,
                        name: prev.name.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(delay: Duration, fail: bool) -> (Arc<AtomicUsize>, Cached<usize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let cache = Cached::new(
            "test",
            "t",
            Duration::from_secs(60),
            Duration::from_secs(5),
            move || {
                let c = c.clone();
                Box::pin(async move {
                    tokio::time::sleep(delay).await;
                    let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                    if fail {
                        Err(SourceFailure {
                            reason: "query",
                            message: "boom".into(),
                        })
                    } else {
                        Ok(n)
                    }
                })
            },
        );
        (calls, cache)
    }

    #[tokio::test]
    async fn concurrent_scrapes_share_one_read_and_the_cache_serves_the_next() {
        let (calls, cache) = counting(Duration::from_millis(50), false);
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
        let (_, cache) = counting(Duration::ZERO, true);
        let r = cache.get(Duration::from_secs(5)).await;
        assert!(!r.up);
        assert!(r.data.is_none());
        assert_eq!(r.errors.get("query"), Some(&1));
        assert_eq!(r.last_error.as_ref().unwrap().reason, "query");
    }

    #[tokio::test]
    async fn a_slow_read_does_not_hold_the_scrape_and_serves_the_next_one() {
        let (calls, cache) = counting(Duration::from_millis(300), false);
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
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let cache = Cached::new(
            "test",
            "t",
            Duration::ZERO,
            Duration::from_millis(50),
            move || {
                let n = c.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    if n > 0 {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                    }
                    Ok(n)
                })
            },
        );
        assert!(cache.get(Duration::from_secs(5)).await.up);
        let r = cache.get(Duration::from_secs(5)).await;
        assert!(!r.up);
        assert_eq!(r.errors.get("timeout"), Some(&1));
        assert_eq!(*r.data.clone().unwrap(), 0, "last good data is kept");
        assert!(r.last_success.is_some());
    }
}
