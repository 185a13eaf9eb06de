//! The exporter assembled from its settings (top layer, with `cli` and `diagnose`): every configured source built
//! once at start-up behind its [`Cached`], each source getting its own config from the settings, and one start-up
//! line per source saying what it watches, or why it is absent and which setting would enable it.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use crate::crowdsec::config_yaml as crowdsec_config;
use crate::metrics::{self, decisions, file_checks, integration, lapi, machine};
use crate::scrape::{Cached, Scrape, Sources};
use crate::settings::{CheckSettings, LapiDbLocation, LapiSettings, ServiceApiSettings, Settings};
use crate::sources::bouncer_checks_settings::BouncerChecks;
use crate::sources::bouncer_config::{self, BouncerConfigSource};
use crate::sources::cscli::{self, CscliSource};
use crate::sources::lapi_db::{self, LapiDbSource};
use crate::sources::lapi_decisions::{self, LapiDecisionsSource};
use crate::sources::lapi_health::{self, url_from_listen_uri, LapiHealthSource};
use crate::sources::lapi_machines::{self, LapiMachinesSource};
use crate::sources::service_api::{self, ServiceApi, ServiceApiSource};
use crate::sources::LapiBouncers;
use crate::values::dyn_group::{group, DynGroup};
use crate::web;

/// The exporter's one async runtime, for serving, `diagnose` and the benchmarks (which measure what is served):
/// multi-threaded with two workers (encoding a large exposition runs beside the sources' reads; more threads only
/// cost memory at this load) and tokio's I/O and timers.
///
/// # Errors
/// The operating system refuses the runtime's threads or its I/O driver ([`std::io::Error`]).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// The configured sources behind their caches, and the ones left out.
pub struct Exporter {
    sources: Sources,
    unmonitored: Vec<Unmonitored>,
}

/// A source that cannot be built: the exporter does not start.
#[derive(Debug, thiserror::Error)]
#[error("source {source_label} {name:?} cannot start: {why}")]
pub struct StartError {
    /// `source` label.
    pub source_label: &'static str,
    /// `name` label.
    pub name: String,
    /// Why, secret-free.
    pub why: String,
}

/// A source that is not configured, so absent from the metrics (no `crowdsec_exporter_source_*` series), and
/// why, in operator words naming the setting that would enable it. For the start-up log and `diagnose`.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmonitored {
    /// `source` label it would have: `lapi_health`, `service_api`, `bouncer_config`.
    pub source: &'static str,
    /// `name` label it would have (the LAPI's name), empty for a source without one.
    pub name: String,
    /// Why it is absent, naming the setting that would enable it.
    pub why: String,
}

/// How one kind of source builds its caches from the settings into the [`Assembly`], or records why it is absent.
type Register = fn(&Settings, &mut Assembly) -> Result<(), StartError>;

/// One kind of source on the exporter (node_exporter's `registerCollector`): built at start-up by `register`, its
/// series written by `families`, its flags, config-file section and settings by its settings group, when it has one
/// of its own. A source is added by one line in [`REGISTRY`].
pub(crate) struct SourceKind {
    register: Register,
    families: Option<metrics::Families>,
    settings: Option<&'static dyn DynGroup>,
}

/// A [`SourceKind`]: `register` builds it, `families` writes its series (`None`: the renderer writes them itself,
/// as the bouncers'), `settings` is its settings group (`None`: none of its own, or shared with a source before it).
const fn source(
    register: Register,
    families: Option<metrics::Families>,
    settings: Option<&'static dyn DynGroup>,
) -> SourceKind {
    SourceKind {
        register,
        families,
        settings,
    }
}

/// Every kind of source, in the order of the `crowdsec_exporter_source_*` series, of the status page, of their
/// families in the exposition, and of their settings groups' flags in `--help`. The LAPI settings group
/// (`--lapi.*`, the file's `lapis`) is the core's, read by the command line itself.
#[rustfmt::skip] // One source a line.
const REGISTRY: &[SourceKind] = &[
    source(register_lapi_bouncers, None, None),
    source(register_service_api, Some(integration::encode), Some(group::<ServiceApi>())),
    source(register_bouncer_config, Some(file_checks::encode), Some(group::<BouncerChecks>())),
    source(register_lapi_health, Some(lapi::encode), None),
    source(register_lapi_decisions, Some(decisions::encode), None),
    source(register_lapi_machines, Some(machine::encode), None),
];

/// The settings groups of the registered sources, in [`REGISTRY`]'s order (the command line's and the config
/// file's).
pub(crate) fn settings_groups() -> impl Iterator<Item = &'static dyn DynGroup> {
    REGISTRY.iter().filter_map(|k| k.settings)
}

/// What scrapes are encoded with: the registered sources' families, in [`REGISTRY`]'s order.
pub fn renderer() -> metrics::Renderer {
    metrics::Renderer::new(
        REGISTRY
            .iter()
            .filter_map(|k| k.families)
            .collect::<Vec<_>>(),
    )
}

/// One scrape encoded with the registered sources' families, without reuse (tests, benchmarks, one-shot commands).
pub fn encode(scrape: Scrape, format: metrics::Format) -> String {
    renderer().encode(scrape, format)
}

/// What start-up assembles: every configured source behind its cache, and the ones left out.
#[derive(Default)]
struct Assembly {
    sources: Sources,
    unmonitored: Vec<Unmonitored>,
}

impl Assembly {
    /// A source behind its cache, after the others.
    fn watch<S: crate::sources::Source>(&mut self, cached: Cached<S>) {
        self.sources.push(cached);
    }

    /// A source that is not configured: absent from the metrics, and why (logged now, and kept for `diagnose`).
    fn absent(&mut self, source: &'static str, name: impl Into<String>, why: impl Into<String>) {
        let u = Unmonitored {
            source,
            name: name.into(),
            why: why.into(),
        };
        tracing::info!(source = u.source, name = %u.name, "{}", u.why);
        self.unmonitored.push(u);
    }
}

impl Exporter {
    /// Builds every configured source and logs, once, one line per source: what it watches and where that
    /// was found, or why it is not monitored and which setting would enable it.
    ///
    /// # Errors
    /// A source that cannot be built (an HTTP client that cannot be made): the exporter must not start.
    pub fn new(settings: &Settings) -> Result<Self, StartError> {
        let mut assembly = Assembly::default();
        for kind in REGISTRY {
            (kind.register)(settings, &mut assembly)?;
        }
        Ok(Exporter {
            sources: assembly.sources,
            unmonitored: assembly.unmonitored,
        })
    }

    /// The sources that are not configured, and why (see [`Unmonitored`]).
    pub fn unmonitored(&self) -> &[Unmonitored] {
        &self.unmonitored
    }

    /// The longest any source's read may take (`diagnose` waits that long, and a second more).
    pub fn longest_read(&self) -> Duration {
        self.sources.longest_read()
    }

    /// Reads (or takes from cache) every source, concurrently, waiting at most `deadline`.
    pub async fn scrape(&self, deadline: Duration) -> Scrape {
        self.sources.scrape(deadline).await
    }
}

/// Serves the exporter configured by `settings`: binds its listen addresses, then serves until SIGTERM or SIGINT.
///
/// # Errors
/// As [`web::serve`]: a listen address, the web config file, or a source that cannot start ([`StartError`]).
/// `judge` is what the landing page says of the bouncers (the top layer's verdicts: `diagnose`'s report).
pub(crate) async fn serve(
    settings: Settings,
    judge: Option<web::landing::Judge>,
) -> Result<(), web::ServerError> {
    let options = settings.web.clone();
    web::serve(options, renderer(), move || sources(&settings), judge).await
}

/// As [`serve`], on already bound listeners, until `shutdown` completes (tests pass their own).
///
/// # Errors
/// As [`web::serve_listeners`]: the web config file, or a source that cannot start ([`StartError`]).
pub async fn serve_listeners(
    settings: Settings,
    judge: Option<web::landing::Judge>,
    listeners: Vec<tokio::net::TcpListener>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), web::ServerError> {
    let options = settings.web.clone();
    web::serve_listeners(
        options,
        renderer(),
        move || sources(&settings),
        judge,
        listeners,
        shutdown,
    )
    .await
}

/// The sources the web layer scrapes, built (and logged) once, after the web config file was accepted.
fn sources(settings: &Settings) -> Result<Sources, web::ServerError> {
    Exporter::new(settings)
        .map(|e| e.sources)
        .map_err(|e| web::ServerError::Source(Box::new(e)))
}

/// Sources `lapi_db` and `cscli`: one per LAPI, its bouncers.
fn register_lapi_bouncers(settings: &Settings, a: &mut Assembly) -> Result<(), StartError> {
    for l in &settings.lapis {
        a.watch(lapi_cache(l));
    }
    if settings.lapis.is_empty() {
        a.absent(
            "lapi_db",
            "",
            "no LAPI configured (no CrowdSec config on this host, or `lapis: []` in --config.file): no LAPI \
             source, nothing reported down; give --lapi.db, --crowdsec.config or --lapi.cscli-command \
             (restart after installing CrowdSec)",
        );
    }
    Ok(())
}

/// Source `service_api`: Blocklist-as-a-Service integrations, with a Service API key.
fn register_service_api(settings: &Settings, a: &mut Assembly) -> Result<(), StartError> {
    match settings.group::<ServiceApiSettings>() {
        Some(s) => {
            tracing::info!(source = service_api::SOURCE, name = %service_api::source_name(&s.url),
                url = %s.url, tags = %s.tags.join(","),
                "watching Blocklist-as-a-Service integrations through the Service API");
            a.watch(service_api_cache(s)?);
        }
        None => a.absent(
            service_api::SOURCE,
            "",
            format!(
                "no Service API key: Blocklist-as-a-Service integrations are not monitored; give \
                 --service-api.key-file or {}",
                crate::settings::SERVICE_API_KEY_ENV
            ),
        ),
    }
    Ok(())
}

/// Source `bouncer_config`: the bouncers' configuration files and their checks, when on.
fn register_bouncer_config(settings: &Settings, a: &mut Assembly) -> Result<(), StartError> {
    match settings.group::<CheckSettings>() {
        Some(c) => {
            let found = c.places();
            tracing::info!(source = bouncer_config::SOURCE, paths = %found.join(", "),
                "checking bouncer configuration files (--bouncers.config-dir, --bouncers.config-file)");
            a.watch(bouncer_config_cache(settings, c)?);
        }
        None => a.absent(
            bouncer_config::SOURCE,
            "",
            "bouncer configuration checks are off",
        ),
    }
    Ok(())
}

/// Source `lapi_health`: `GET /health` of each LAPI whose URL is known (see [`plan`]), with the checks.
fn register_lapi_health(settings: &Settings, a: &mut Assembly) -> Result<(), StartError> {
    let Some(checks) = settings.group::<CheckSettings>() else {
        return Ok(());
    };
    for p in plan(settings, checks) {
        match p {
            Plan::Watch {
                lapi,
                found,
                source,
            } => {
                tracing::info!(source = lapi_health::SOURCE, name = %lapi, found_in = %found,
                    "watching LAPI reachability (GET /health)");
                let source = source.map_err(|why| StartError {
                    source_label: lapi_health::SOURCE,
                    name: lapi.clone(),
                    why,
                })?;
                a.watch(health_cache(&settings.lapis, checks, source));
            }
            Plan::Skip { lapi, why } => a.absent(lapi_health::SOURCE, lapi, why),
        }
    }
    Ok(())
}

/// Source `lapi_decisions`: the active decisions of each LAPI read from a database.
fn register_lapi_decisions(settings: &Settings, a: &mut Assembly) -> Result<(), StartError> {
    for cached in settings.lapis.iter().filter_map(decisions_cache) {
        a.watch(cached);
    }
    Ok(())
}

/// Source `lapi_machines`: each LAPI's log processors (table `machines`), read from its database.
fn register_lapi_machines(settings: &Settings, a: &mut Assembly) -> Result<(), StartError> {
    for cached in settings.lapis.iter().filter_map(machines_cache) {
        a.watch(cached);
    }
    Ok(())
}

/// A LAPI's bouncers, from its database or through cscli. A cscli command gets 9/10 of the read timeout, so it is
/// killed (and its failure reported as such) before the cache gives up on it; a database gets half, as its busy
/// timeout.
fn lapi_cache(l: &LapiSettings) -> Cached<LapiBouncers> {
    let source = if let LapiDbLocation::Cscli(argv) = &l.db {
        tracing::info!(source = cscli::SOURCE, name = %l.name,
            program = %argv.first().map(|p| p.rsplit('/').next().unwrap_or(p)).unwrap_or_default(),
            "watching the LAPI's bouncers through the output of a cscli command (--lapi.cscli-command)");
        LapiBouncers::Cscli(CscliSource::new(argv.clone(), l.read_timeout * 9 / 10).named(&l.name))
    } else {
        let source = db_handle(l);
        log_lapi_db(&l.name, &l.db, &source);
        LapiBouncers::Db(Box::new(source))
    };
    Cached::new(source, l.cache_interval, l.read_timeout)
}

/// A LAPI's active decisions behind their own cache (`--lapi.decisions-interval`).
fn decisions_cache(l: &LapiSettings) -> Option<Cached<LapiDecisionsSource>> {
    let db = table_db(
        l,
        lapi_decisions::SOURCE,
        "active decisions are not counted",
    )?;
    tracing::info!(source = lapi_decisions::SOURCE, name = %l.name,
        interval = ?l.decisions_interval, "counting the LAPI's active decisions in its database");
    let source = LapiDecisionsSource::new(db).with_url(l.url.clone());
    Some(Cached::new(source, l.decisions_interval, l.read_timeout))
}

/// A LAPI's log processors (table `machines`), with the bouncers' cache interval.
fn machines_cache(l: &LapiSettings) -> Option<Cached<LapiMachinesSource>> {
    let db = table_db(l, lapi_machines::SOURCE, "log processors are not read")?;
    tracing::info!(source = lapi_machines::SOURCE, name = %l.name,
        "reading the LAPI's log processors (table machines) in its database");
    let source = LapiMachinesSource::new(db);
    Some(Cached::new(source, l.cache_interval, l.read_timeout))
}

/// The database handle of a source reading one more table of a LAPI's database (`sources::lapi_table`): a handle of
/// its own, so neither read waits for the other. None for a LAPI read through cscli (no database to read), which the
/// start-up line says, beginning with `not_read`.
fn table_db(l: &LapiSettings, source: &'static str, not_read: &str) -> Option<LapiDbSource> {
    if matches!(l.db, LapiDbLocation::Cscli(_)) {
        tracing::info!(source, name = %l.name,
            "{not_read}: the LAPI is read through cscli, not its database");
        return None;
    }
    Some(db_handle(l))
}

/// A handle of its own on a LAPI's database, named after the LAPI; SQLite waits up to half the read timeout for a
/// lock.
fn db_handle(l: &LapiSettings) -> LapiDbSource {
    LapiDbSource::new(l.db.clone(), l.read_timeout / 2).named(&l.name)
}

/// The start-up line of a database source: where its database is and how it was found. Finding it through
/// CrowdSec's config is tried now; when that fails it is retried on every read, and said so.
fn log_lapi_db(name: &str, location: &LapiDbLocation, source: &LapiDbSource) {
    use LapiDbLocation as L;
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
fn service_api_cache(s: &ServiceApiSettings) -> Result<Cached<ServiceApiSource>, StartError> {
    let source = ServiceApiSource::new(
        s.url.clone(),
        s.key.clone(),
        s.tags.clone(),
        s.refresh_interval,
        s.timeout,
    )
    .map_err(|why| StartError {
        source_label: service_api::SOURCE,
        name: service_api::source_name(&s.url),
        why,
    })?;
    Ok(Cached::new(source, s.refresh_interval, s.timeout))
}

/// The bouncer configuration checks behind their cache: their own read-only handle on each LAPI's
/// database, named after the first LAPI.
fn bouncer_config_cache(
    settings: &Settings,
    checks: &CheckSettings,
) -> Result<Cached<BouncerConfigSource>, StartError> {
    let (cscli, dbs): (Vec<_>, Vec<_>) = settings
        .lapis
        .iter()
        .partition(|l| matches!(l.db, LapiDbLocation::Cscli(_)));
    let lapis = dbs
        .into_iter()
        .map(|l| (l.name.clone(), Arc::new(db_handle(l))))
        .collect();
    let name = settings.lapis.first().map_or("local", |l| l.name.as_str());
    let source = BouncerConfigSource::new(
        checks.config_dirs.clone(),
        checks.config_files.clone(),
        lapis,
        checks.timeout,
    )
    .map_err(|why| StartError {
        source_label: bouncer_config::SOURCE,
        name: name.to_owned(),
        why,
    })?
    .named(name)
    .with_cscli_lapis(cscli.into_iter().map(|l| l.name.clone()).collect())
    // The log window covers at least the time between two check runs, so no line falls between them.
    .with_host_checks(Some(crate::sources::host_probes::HostChecks {
        window: checks.interval.max(Duration::from_secs(15 * 60)),
        timeout: checks.timeout,
        ..Default::default()
    }));
    Ok(Cached::new(
        source,
        checks.interval,
        checks.timeout + Duration::from_secs(10),
    ))
}

/// A watched LAPI's `/health` behind its cache: checked at most every check interval, and no less often than its
/// bouncers are read (at least one second apart).
fn health_cache(
    lapis: &[LapiSettings],
    checks: &CheckSettings,
    source: LapiHealthSource,
) -> Cached<LapiHealthSource> {
    let cache_interval = lapis
        .iter()
        .find(|l| l.name == crate::sources::Source::name(&source))
        .map_or(checks.interval, |l| l.cache_interval);
    Cached::new(
        source,
        checks
            .interval
            .min(cache_interval.max(Duration::from_secs(1))),
        checks.timeout + Duration::from_secs(1),
    )
}

/// What start-up decided for one LAPI's reachability.
enum Plan {
    /// Watched: `found` says where the URL comes from (for the start-up log).
    Watch {
        lapi: String,
        found: String,
        source: Result<LapiHealthSource, String>,
    },
    /// Not configured, so absent (no `crowdsec_exporter_source_*` series): `why`, and which setting enables it.
    Skip { lapi: String, why: String },
}

/// Decides, once at start-up, which LAPIs' reachability is watched. A LAPI's `url` (config file) comes first;
/// the first LAPI falls back to `--lapi.url`, then to CrowdSec's `api.server.listen_uri`.
///
/// Where no URL is given, CrowdSec's config counts as configuration only when it is in use: when the LAPI's
/// database is found through it (then a config that cannot be read is a failure, as it is for `lapi_db`), or when
/// it can be read now and names `listen_uri`. With only `--lapi.db` or `--lapi.cscli-command` (a Docker host
/// without CrowdSec's files) the source is absent, not down: `CrowdSecExporterSourceDown` must not warn forever.
fn plan(settings: &Settings, checks: &CheckSettings) -> Vec<Plan> {
    let mut out = Vec::new();
    for (i, lapi) in settings.lapis.iter().enumerate() {
        let watch = |found: String, explicit: Option<Url>| Plan::Watch {
            lapi: lapi.name.clone(),
            found,
            source: LapiHealthSource::new(
                lapi.name.clone(),
                explicit,
                checks.crowdsec_config.clone(),
                checks.timeout,
            ),
        };
        let skip = |why: String| Plan::Skip {
            lapi: lapi.name.clone(),
            why,
        };
        if let Some(url) = &lapi.url {
            out.push(watch(
                "the LAPI's `url` in --config.file".to_owned(),
                Some(url.clone()),
            ));
            continue;
        }
        if i > 0 {
            out.push(skip(
                "no LAPI URL: LAPI reachability is not monitored; give this LAPI a `url` in --config.file"
                    .to_owned(),
            ));
            continue;
        }
        if let Some(url) = &checks.lapi_url {
            out.push(watch("--lapi.url".to_owned(), Some(url.clone())));
            continue;
        }
        let config = &checks.crowdsec_config;
        let found = format!("api.server.listen_uri of {}", config.display());
        let in_use = matches!(&lapi.db, LapiDbLocation::FromCrowdsecConfig(p) if p == config);
        match crowdsec_config::load(config) {
            Ok(cfg) => match cfg.lapi_listen_uri.as_deref().map(url_from_listen_uri) {
                Some(Some(_)) => out.push(watch(found, None)),
                Some(None) if in_use => out.push(watch(found, None)),
                Some(None) | None => out.push(skip(format!(
                    "no LAPI URL: LAPI reachability is not monitored; {} names no usable api.server.listen_uri                      (is the LAPI served elsewhere?): give --lapi.url",
                    config.display()
                ))),
            },
            Err(_) if in_use => out.push(watch(
                format!("{found} (not readable now: retried on every check)"),
                None,
            )),
            Err(e) => out.push(skip(format!(
                "no LAPI URL: LAPI reachability is not monitored; give --lapi.url or --crowdsec.config ({e})"
            ))),
        }
    }
    out
}
