//! Source `lapi_health`: does the Local API answer? `GET <lapi url>/health`, which needs no key (so it can never
//! move a bouncer's last_pull) and answers `{"status":"up"}`. The URL is `--lapi.url`, else CrowdSec's own
//! `api.server.listen_uri` (+ `.local`), read again on every check so a moved LAPI is followed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::Url;

use crate::crowdsec::bouncer_files::Trust;
use crate::sources::{root_cause, Reason, SourceFailure};

pub(crate) const SOURCE: &str = "lapi_health";

/// One answer of `/health`.
#[derive(Debug, Clone, PartialEq)]
pub struct LapiHealth {
    /// The URL asked: the LAPI's `/health`.
    pub url: String,
    /// Whether it answered 200.
    pub up: bool,
    /// How long the request took, in seconds.
    pub duration_seconds: f64,
    /// Why it is down, in operator words.
    pub error: Option<String>,
}

/// A client for `/health`: no default headers, no redirects (nothing is sent that a redirect could carry, but a
/// LAPI never redirects either), every call bounded by `timeout`.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    client_trusting(timeout, &Trust::default())
}

/// As [`client`], verifying certificates the way a bouncer whose file says `trust` does: the system's roots plus
/// its CA file, or no verification at all (`insecure_skip_verify`).
///
/// # Errors
/// The CA file cannot be read or holds no certificate; the client cannot be built.
pub(crate) fn client_trusting(timeout: Duration, trust: &Trust) -> Result<reqwest::Client, String> {
    let extra = match &trust.ca {
        None => Vec::new(),
        Some(path) => {
            let bytes =
                crate::values::file::read_regular(path, crate::values::file::PEM_FILE_BYTES)
                    .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
            reqwest::Certificate::from_pem_bundle(&bytes)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| format!("the CA file {} holds no PEM certificate", path.display()))?
        }
    };
    let builder = || {
        reqwest::Client::builder()
            .user_agent(concat!(
                "crowdsec-bouncer-exporter/",
                env!("CARGO_PKG_VERSION")
            ))
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tls_danger_accept_invalid_certs(trust.insecure)
    };
    match builder().tls_certs_merge(extra.clone()).build() {
        Ok(c) => Ok(c),
        // The platform verifier needs the system's CA certificates; a minimal host or chroot has none. LAPIs are
        // mostly plain http: keep checking them, and let an https URL fail per request (certificate unknown).
        Err(e) => {
            let why = super::error_chain(&e);
            tracing::warn!(error = %why, "no system CA certificates: https LAPI URLs cannot be verified (install ca-certificates); http ones are checked");
            builder()
                .tls_certs_only(extra)
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {}", super::error_chain(&e)))
        }
    }
}

/// `<base>/health` whatever the base's trailing slash.
pub(crate) fn health_url(base: &Url) -> Url {
    let mut u = base.clone();
    let path = format!("{}/health", base.path().trim_end_matches('/'));
    u.set_path(&path);
    u.set_query(None);
    u.set_fragment(None);
    u
}

/// Asks `/health` of the LAPI at `base`. Ok when it answers 200.
pub(crate) async fn check(client: &reqwest::Client, base: &Url) -> Result<(), String> {
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

/// The URL a local client uses for `listen_uri` (`host:port`; an any-address means this host).
pub(crate) fn url_from_listen_uri(listen: &str) -> Option<Url> {
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

pub(crate) struct LapiHealthSource {
    /// The `name` label: the LAPI's name.
    lapi: String,
    client: reqwest::Client,
    explicit: Option<Url>,
    crowdsec_config: PathBuf,
}

impl LapiHealthSource {
    /// Watches LAPI `lapi` at `explicit`, else at `crowdsec_config`'s `api.server.listen_uri`.
    ///
    /// # Errors
    /// The HTTP client cannot be built (a start-up error: the exporter stops).
    pub(crate) fn new(
        lapi: String,
        explicit: Option<Url>,
        crowdsec_config: PathBuf,
        timeout: Duration,
    ) -> Result<Self, String> {
        Ok(LapiHealthSource {
            lapi,
            client: client(timeout)?,
            explicit,
            crowdsec_config,
        })
    }

    /// The LAPI's URL: `--lapi.url`, else CrowdSec's `api.server.listen_uri`.
    pub(crate) fn url(&self) -> Result<Url, SourceFailure> {
        if let Some(u) = &self.explicit {
            return Ok(u.clone());
        }
        let cfg = crate::crowdsec::config_yaml::load(&self.crowdsec_config).map_err(|e| {
            SourceFailure {
                reason: Reason::Config,
                message: e.to_string(),
            }
        })?;
        let listen = cfg.lapi_listen_uri.ok_or_else(|| SourceFailure {
            reason: Reason::Config,
            message: format!(
                "{} has no api.server.listen_uri: give --lapi.url",
                self.crowdsec_config.display()
            ),
        })?;
        url_from_listen_uri(&listen).ok_or_else(|| SourceFailure {
            reason: Reason::Config,
            message: format!("api.server.listen_uri {listen:?} is not host:port"),
        })
    }

    pub(crate) async fn read(&self) -> Result<LapiHealth, SourceFailure> {
        let url = self.url()?;
        let started = Instant::now();
        let answer = check(&self.client, &url).await;
        Ok(LapiHealth {
            url: url.to_string(),
            up: answer.is_ok(),
            duration_seconds: started.elapsed().as_secs_f64(),
            error: answer.err(),
        })
    }
}

impl super::Source for LapiHealthSource {
    type Snapshot = LapiHealth;
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn name(&self) -> &str {
        &self.lapi
    }
    fn lapi(&self) -> Option<&str> {
        Some(&self.lapi)
    }
    async fn read(self: std::sync::Arc<Self>) -> Result<LapiHealth, SourceFailure> {
        LapiHealthSource::read(&self).await
    }
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
