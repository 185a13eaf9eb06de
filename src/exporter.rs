//! The exporter's sources, each behind its cache, and what one scrape gathers from them.

use std::sync::Arc;
use std::time::Duration;

use crate::bouncers::BouncerSnapshot;
use crate::cache::Cached;
use crate::metrics::Scrape;
use crate::settings::Settings;
use crate::sources::cscli::{self, CscliSource};
use crate::sources::lapi_db::{self, LapiDbSource};
use crate::sources::service_api::{self, IntegrationSnapshot, ServiceApiSource};
use crate::timefmt;

pub struct Exporter {
    lapis: Vec<Cached<BouncerSnapshot>>,
    unmonitored: Vec<Unmonitored>,
    lapi_cache_seconds: f64,
    service_api: Option<Cached<IntegrationSnapshot>>,
    service_api_cache_seconds: f64,
    bouncer_config: Option<Cached<crate::sources::bouncer_config::ConfigSnapshot>>,
    lapi_health: Vec<Cached<crate::sources::lapi_health::LapiHealth>>,
}

/// A source that is not configured, so absent from the metrics (no `crowdsec_exporter_source_*` series), and
/// why, in operator words naming the setting that would enable it. For the start-up log and `diagnose`.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmonitored {
    /// `source` label it would have: `lapi_health`, `service_api`, `bouncer_config`.
    pub source: &'static str,
    /// `name` label it would have (the LAPI's name), empty for a source without one.
    pub name: String,
    pub why: String,
}

impl Exporter {
    /// Builds every configured source and logs, once, one line per source: what it watches and where that
    /// was found, or why it is not monitored and which setting would enable it.
    pub fn new(settings: &Settings) -> Self {
        let lapis = settings
            .lapis
            .iter()
            .map(|l| {
                if let crate::settings::LapiDbLocation::Cscli(argv) = &l.db {
                    tracing::info!(source = cscli::SOURCE, name = %l.name,
                        program = %argv.first().map(|p| p.rsplit('/').next().unwrap_or(p)).unwrap_or_default(),
                        "watching the LAPI's bouncers through the output of a cscli command (--lapi.cscli-command)");
                    return cscli_cache(l, argv);
                }
                let source = Arc::new(LapiDbSource::new(l.db.clone(), l.read_timeout / 2));
                log_lapi_db(&l.name, &l.db, &source);
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
        let mut unmonitored = Vec::new();
        match &settings.service_api {
            Some(s) => tracing::info!(source = service_api::SOURCE, name = %service_api::source_name(&s.url),
                url = %s.url, tags = %s.tags.join(","),
                "watching Blocklist-as-a-Service integrations through the Service API"),
            None => unmonitored.push(Unmonitored {
                source: service_api::SOURCE,
                name: String::new(),
                why: format!(
                    "no Service API key: Blocklist-as-a-Service integrations are not monitored; give \
                     --service-api.key-file or {}",
                    crate::cli::SERVICE_API_KEY_ENV
                ),
            }),
        }
        match &settings.checks {
            Some(c) => {
                let found: Vec<String> = c
                    .config_dirs
                    .iter()
                    .map(|d| {
                        let state = if d.is_dir() {
                            ""
                        } else {
                            " (missing: skipped)"
                        };
                        format!("{}{state}", d.display())
                    })
                    .chain(c.config_files.iter().map(|f| f.display().to_string()))
                    .collect();
                tracing::info!(source = crate::sources::bouncer_config::SOURCE, paths = %found.join(", "),
                    "checking bouncer configuration files (--bouncers.config-dir, --bouncers.config-file)");
            }
            None => unmonitored.push(Unmonitored {
                source: crate::sources::bouncer_config::SOURCE,
                name: String::new(),
                why: "bouncer configuration checks are off".to_owned(),
            }),
        }
        let plan = crate::sources::lapi_health::plan(settings);
        for p in &plan {
            match p {
                crate::sources::lapi_health::Plan::Watch { lapi, found, .. } => {
                    tracing::info!(source = crate::sources::lapi_health::SOURCE, name = %lapi, found_in = %found,
                        "watching LAPI reachability (GET /health)")
                }
                crate::sources::lapi_health::Plan::Skip { lapi, why } => {
                    unmonitored.push(Unmonitored {
                        source: crate::sources::lapi_health::SOURCE,
                        name: lapi.clone(),
                        why: why.clone(),
                    })
                }
            }
        }
        for u in &unmonitored {
            tracing::info!(source = u.source, name = %u.name, "{}", u.why);
        }
        Exporter {
            lapis,
            unmonitored,
            lapi_cache_seconds,
            service_api,
            service_api_cache_seconds: settings
                .service_api
                .as_ref()
                .map_or(0.0, |s| s.refresh_interval.as_secs_f64()),
            bouncer_config: crate::sources::bouncer_config::cache(settings),
            lapi_health: crate::sources::lapi_health::caches_from(settings, plan),
        }
    }

    /// The sources that are not configured, and why (see [`Unmonitored`]).
    pub fn unmonitored(&self) -> &[Unmonitored] {
        &self.unmonitored
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

/// The start-up line of a database source: where its database is and how it was found. Finding it through
/// CrowdSec's config is tried now; when that fails it is retried on every read, and said so.
fn log_lapi_db(name: &str, location: &crate::settings::LapiDbLocation, source: &LapiDbSource) {
    use crate::settings::LapiDbLocation as L;
    let found = match location {
        L::Sqlite(_) | L::Server(_) => "--lapi.db".to_owned(),
        L::FromCrowdsecConfig(p) => format!("db_config of {}", p.display()),
        L::Cscli(_) => return,
    };
    match source.resolve() {
        Ok(db) => tracing::info!(source = lapi_db::SOURCE, name = %name, database = %db.describe(),
            found_in = %found, "watching the LAPI's bouncers in its database"),
        Err(e) => tracing::warn!(source = lapi_db::SOURCE, name = %name, error = %e,
            "the LAPI's database is not found yet (retried on every read): give --lapi.db or --crowdsec.config"),
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

/// A LAPI read through cscli. The command gets 9/10 of the read timeout, so it is killed (and its failure
/// reported as such) before the cache gives up on it.
fn cscli_cache(l: &crate::settings::LapiSettings, argv: &[String]) -> Cached<BouncerSnapshot> {
    let source = Arc::new(CscliSource::new(argv.to_vec(), l.read_timeout * 9 / 10));
    Cached::new(
        cscli::SOURCE,
        &l.name,
        l.cache_interval,
        l.read_timeout,
        move || {
            let source = source.clone();
            Box::pin(async move { source.read().await })
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
