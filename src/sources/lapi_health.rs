//! Source `lapi_health`: does the Local API answer? `GET <lapi url>/health`, which needs no key (so it can never
//! move a bouncer's last_pull) and answers `{"status":"up"}`. The URL is `--lapi.url`, else CrowdSec's own
//! `api.server.listen_uri` (+ `.local`), read again on every check so a moved LAPI is followed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::Url;

use crate::cache::SourceFailure;

pub const SOURCE: &str = "lapi_health";

/// One answer of `/health`.
#[derive(Debug, Clone, PartialEq)]
pub struct LapiHealth {
    pub url: String,
    pub up: bool,
    pub duration_seconds: f64,
    /// Why it is down, in operator words.
    pub error: Option<String>,
}

/// A client for `/health`: no default headers, no redirects (nothing is sent that a redirect could carry, but a
/// LAPI never redirects either), every call bounded by `timeout`.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(concat!(
            "crowdsec-bouncer-exporter/",
            env!("CARGO_PKG_VERSION")
        ))
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// `<base>/health` whatever the base's trailing slash.
pub fn health_url(base: &Url) -> Url {
    let mut u = base.clone();
    let path = format!("{}/health", base.path().trim_end_matches('/'));
    u.set_path(&path);
    u.set_query(None);
    u.set_fragment(None);
    u
}

/// Asks `/health` of the LAPI at `base`. Ok when it answers 200.
pub async fn check(client: &reqwest::Client, base: &Url) -> Result<(), String> {
    let url = health_url(base);
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!(
            "answered HTTP {} to /health: is this a CrowdSec LAPI?",
            r.status().as_u16()
        )),
        Err(e) if e.is_timeout() => Err("no answer in time (timeout)".to_owned()),
        Err(e) if e.is_connect() => {
            Err("cannot connect: nothing listens there, or a firewall drops it".to_owned())
        }
        Err(e) => Err(format!("request failed: {}", root_cause(&e))),
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The URL a local client uses for `listen_uri` (`host:port`; an any-address means this host).
pub fn url_from_listen_uri(listen: &str) -> Option<Url> {
    let listen = listen.trim();
    let hostport = listen
        .strip_prefix("http://")
        .or_else(|| listen.strip_prefix("https://"))
        .unwrap_or(listen);
    let hostport = if let Some(port) = hostport.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = hostport.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else if let Some(port) = hostport.strip_prefix(':') {
        format!("127.0.0.1:{port}")
    } else {
        hostport.to_owned()
    };
    let scheme = if listen.starts_with("https://") {
        "https"
    } else {
        "http"
    };
    Url::parse(&format!("{scheme}://{hostport}/"))
        .ok()
        .filter(|u| u.host_str().is_some())
}

pub struct LapiHealthSource {
    client: Result<reqwest::Client, String>,
    explicit: Option<Url>,
    crowdsec_config: PathBuf,
}

impl LapiHealthSource {
    pub fn new(explicit: Option<Url>, crowdsec_config: PathBuf, timeout: Duration) -> Self {
        LapiHealthSource {
            client: client(timeout),
            explicit,
            crowdsec_config,
        }
    }

    /// The LAPI's URL: `--lapi.url`, else CrowdSec's `api.server.listen_uri`.
    pub fn url(&self) -> Result<Url, SourceFailure> {
        if let Some(u) = &self.explicit {
            return Ok(u.clone());
        }
        let cfg =
            crate::crowdsec_config::load(&self.crowdsec_config).map_err(|e| SourceFailure {
                reason: "config",
                message: e.to_string(),
            })?;
        let listen = cfg.lapi_listen_uri.ok_or_else(|| SourceFailure {
            reason: "config",
            message: format!(
                "{} has no api.server.listen_uri: give --lapi.url",
                self.crowdsec_config.display()
            ),
        })?;
        url_from_listen_uri(&listen).ok_or_else(|| SourceFailure {
            reason: "config",
            message: format!("api.server.listen_uri {listen:?} is not host:port"),
        })
    }

    pub async fn read(&self) -> Result<LapiHealth, SourceFailure> {
        let client = self.client.as_ref().map_err(|e| SourceFailure {
            reason: "http",
            message: e.clone(),
        })?;
        let url = self.url()?;
        let started = Instant::now();
        let answer = check(client, &url).await;
        Ok(LapiHealth {
            url: url.to_string(),
            up: answer.is_ok(),
            duration_seconds: started.elapsed().as_secs_f64(),
            error: answer.err(),
        })
    }
}

/// What start-up decided for one LAPI's reachability.
pub enum Plan {
    /// Watched: `found` says where the URL comes from (for the start-up log).
    Watch {
        lapi: String,
        found: String,
        source: LapiHealthSource,
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
pub fn plan(settings: &crate::settings::Settings) -> Vec<Plan> {
    let Some(checks) = settings.checks.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, lapi) in settings.lapis.iter().enumerate() {
        let watch = |found: String, explicit: Option<Url>| Plan::Watch {
            lapi: lapi.name.clone(),
            found,
            source: LapiHealthSource::new(explicit, checks.crowdsec_config.clone(), checks.timeout),
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
        let in_use = matches!(&lapi.db, crate::settings::LapiDbLocation::FromCrowdsecConfig(p) if p == config);
        match crate::crowdsec_config::load(config) {
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

/// A health source per watched LAPI (see [`plan`]), behind its cache.
pub fn caches(settings: &crate::settings::Settings) -> Vec<crate::cache::Cached<LapiHealth>> {
    caches_from(settings, plan(settings))
}

/// The caches of the watched LAPIs of `plan`.
pub fn caches_from(
    settings: &crate::settings::Settings,
    plan: Vec<Plan>,
) -> Vec<crate::cache::Cached<LapiHealth>> {
    let Some(checks) = settings.checks.as_ref() else {
        return Vec::new();
    };
    plan.into_iter()
        .filter_map(|p| match p {
            Plan::Watch { lapi, source, .. } => Some((lapi, source)),
            Plan::Skip { .. } => None,
        })
        .map(|(name, source)| {
            let cache_interval = settings
                .lapis
                .iter()
                .find(|l| l.name == name)
                .map_or(checks.interval, |l| l.cache_interval);
            let source = std::sync::Arc::new(source);
            crate::cache::Cached::new(
                SOURCE,
                &name,
                checks
                    .interval
                    .min(cache_interval.max(Duration::from_secs(1))),
                checks.timeout + Duration::from_secs(1),
                move || {
                    let source = source.clone();
                    Box::pin(async move { source.read().await })
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_uri_to_url() {
        let u = |s| url_from_listen_uri(s).map(|u| u.to_string());
        assert_eq!(
            u("127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080/")
        );
        assert_eq!(u("0.0.0.0:8080").as_deref(), Some("http://127.0.0.1:8080/"));
        assert_eq!(u("[::]:8080").as_deref(), Some("http://[::1]:8080/"));
        assert_eq!(u("").as_deref(), None);
        let base = Url::parse("http://h:1/prefix/").unwrap();
        assert_eq!(health_url(&base).as_str(), "http://h:1/prefix/health");
        let base = Url::parse("http://h:1").unwrap();
        assert_eq!(health_url(&base).as_str(), "http://h:1/health");
    }
}
