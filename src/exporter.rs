//! The exporter's sources, each behind its cache, and what one scrape gathers from them.

use std::sync::Arc;
use std::time::Duration;

use crate::bouncers::BouncerSnapshot;
use crate::cache::Cached;
use crate::metrics::Scrape;
use crate::settings::Settings;
use crate::sources::lapi_db::{self, LapiDbSource};
use crate::sources::service_api::{self, IntegrationSnapshot, ServiceApiSource};
use crate::timefmt;

pub struct Exporter {
    lapis: Vec<Cached<BouncerSnapshot>>,
    lapi_cache_seconds: f64,
    service_api: Option<Cached<IntegrationSnapshot>>,
    service_api_cache_seconds: f64,
    bouncer_config: Option<Cached<crate::sources::bouncer_config::ConfigSnapshot>>,
    lapi_health: Vec<Cached<crate::sources::lapi_health::LapiHealth>>,
}

impl Exporter {
    pub fn new(settings: &Settings) -> Self {
        let lapis = settings
            .lapis
            .iter()
            .map(|l| {
                let source = Arc::new(LapiDbSource::new(l.db.clone(), l.read_timeout / 2));
                Cached::new(
                    lapi_db::SOURCE,
                    &l.name,
                    l.cache_interval,
                    l.read_timeout,
                    move || {
                        let source = source.clone();
                        Box::pin(async move { source.read().await })
                    },
                )
            })
            .collect();
        let lapi_cache_seconds = settings
            .lapis
            .iter()
            .map(|l| l.cache_interval.as_secs_f64())
            .fold(0.0, f64::max);
        let service_api = settings.service_api.as_ref().map(service_api_cache);
        Exporter {
            lapis,
            lapi_cache_seconds,
            service_api,
            service_api_cache_seconds: settings
                .service_api
                .as_ref()
                .map_or(0.0, |s| s.refresh_interval.as_secs_f64()),
            bouncer_config: crate::sources::bouncer_config::cache(settings),
            lapi_health: crate::sources::lapi_health::caches(settings),
        }
    }

    /// Reads (or takes from cache) every source, concurrently, waiting at most `deadline`.
    pub async fn scrape(&self, deadline: Duration) -> Scrape {
        let reads = self.lapis.iter().map(|c| c.get(deadline));
        let service_api = async {
            match &self.service_api {
                Some(c) => Some(c.get(deadline).await),
                None => None,
            }
        };
        let bouncer_config = async {
            match &self.bouncer_config {
                Some(c) => Some(c.get(deadline).await),
                None => None,
            }
        };
        let lapi_health = join_all(self.lapi_health.iter().map(|c| c.get(deadline)));
        let (lapis, service_api, bouncer_config, lapi_health) =
            tokio::join!(join_all(reads), service_api, bouncer_config, lapi_health);
        Scrape {
            now: timefmt::now(),
            lapis,
            lapi_cache_seconds: self.lapi_cache_seconds,
            service_api,
            service_api_cache_seconds: self.service_api_cache_seconds,
            bouncer_config,
            lapi_health,
        }
    }
}

/// The Service API source behind its cache: the refresh interval is the cache's minimum interval, the timeout bounds
/// a whole read (every page).
fn service_api_cache(s: &crate::settings::ServiceApiSettings) -> Cached<IntegrationSnapshot> {
    let name = service_api::source_name(&s.url);
    let source = ServiceApiSource::new(
        s.url.clone(),
        s.key.clone(),
        s.tags.clone(),
        s.refresh_interval,
        s.timeout,
    )
    .map(Arc::new)
    .map_err(|e| {
        tracing::error!(source = service_api::SOURCE, error = %e, "Service API source cannot start");
        crate::cache::SourceFailure {
            reason: "http",
            message: e,
        }
    });
    Cached::new(
        service_api::SOURCE,
        &name,
        s.refresh_interval,
        s.timeout,
        move || {
            let source = source.clone();
            Box::pin(async move {
                match source {
                    Ok(source) => source.read().await,
                    Err(failure) => Err(failure),
                }
            })
        },
    )
}

/// Awaits futures concurrently, in order (a tiny `join_all`, not worth a crate).
async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|v| v.expect("every future completed"))
        .collect()
}
