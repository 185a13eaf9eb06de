//! Source `service_api`: the Blocklist-as-a-Service integrations of an organisation and their last pull, read from
//! the CrowdSec Service API (`GET /integrations`, every page). It never calls an integration's own endpoint
//! (`/integrations/{id}/content`, `.../v1/decisions/stream`): that would count as a pull and hide an outage.
//!
//! The key travels in the `x-api-key` header only, marked sensitive, and is never formatted: errors are built from
//! statuses and typed causes, redirects are not followed, and a `next` link to another origin is refused.

pub mod model;
mod service_api_settings;

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, ACCEPT, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::sources::{Failure, Reason, SourceFailure};
use crate::values::secret::Secret;
use crate::values::time;

pub(crate) use model::Integration;
pub use service_api_settings::{
    ServiceApi, ServiceApiArgs, ServiceApiSection, ServiceApiSettings, SERVICE_API_KEY_ENV,
};
#[cfg(test)]
pub(crate) use service_api_settings::{DEFAULT_REFRESH_INTERVAL, DEFAULT_TIMEOUT};

pub(crate) const SOURCE: &str = "service_api";
/// Default base URL.
pub(crate) const DEFAULT_URL: &str = "https://admin.api.crowdsec.net/v1";
/// Integrations asked per page (the API's maximum).
pub(crate) const PAGE_SIZE: u32 = 100;
/// Cap on the bytes of one read, all pages together, counted after gzip decompression.
pub const MAX_TOTAL_BYTES: usize = 16 * 1024 * 1024;
/// Cap on the bytes of `GET /info` (three short strings).
const MAX_INFO_BYTES: usize = 64 * 1024;
/// More pages than this is a loop (100 000 integrations).
pub const MAX_PAGES: usize = 1000;
/// Longest wait honoured from a `Retry-After`, and longest backoff.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What one successful read gives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IntegrationSnapshot {
    /// Unique by id (a list that shifts while it is paged may repeat one: the first is kept).
    pub integrations: Vec<Integration>,
    /// Pages read.
    pub pages: usize,
    /// Integrations with an unreadable timestamp (their time series are left out).
    pub unreadable: usize,
    /// The organisation's `subscription_type` (`GET /info`), the tier its devices' pull limit follows; `None` when
    /// `/info` never answered (the last answer is kept across failed calls).
    pub subscription_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ServiceApiError {
    #[error("the Service API refused the key (401): it is wrong, revoked or expired")]
    Unauthorized,
    #[error("the key may not list integrations (403): give it the scope \"Blocklists Integrations: read\"")]
    Forbidden,
    #[error("the Service API rejected the request (422)")]
    Validation,
    #[error("rate limited by the Service API (429); no call for {}s", .wait.as_secs())]
    RateLimited { wait: Duration },
    #[error("still rate limited by the Service API: no call for {}s more", .remaining.as_secs())]
    Waiting { remaining: Duration },
    #[error("the Service API failed with HTTP {0}")]
    Server(u16),
    #[error("the Service API did not answer in time: {0}")]
    Timeout(String),
    #[error("cannot connect to the Service API: {0}")]
    Connect(String),
    #[error("malformed answer from the Service API: {0}")]
    Malformed(String),
    #[error(
        "the answer is larger than {} bytes (all pages, decompressed)",
        MAX_TOTAL_BYTES
    )]
    TooLarge,
    #[error("pagination loop: {0}")]
    PageLoop(String),
    #[error("HTTP error from the Service API: {0}")]
    Http(String),
}

impl Failure for ServiceApiError {
    fn reason(&self) -> Reason {
        match self {
            ServiceApiError::Unauthorized => Reason::Unauthorized,
            ServiceApiError::Forbidden => Reason::Forbidden,
            ServiceApiError::Validation => Reason::Validation,
            ServiceApiError::RateLimited { .. } | ServiceApiError::Waiting { .. } => {
                Reason::RateLimited
            }
            ServiceApiError::Server(_) => Reason::ServerError,
            ServiceApiError::Timeout(_) => Reason::Timeout,
            ServiceApiError::Connect(_) => Reason::Connect,
            ServiceApiError::Malformed(_) => Reason::Malformed,
            ServiceApiError::TooLarge => Reason::TooLarge,
            ServiceApiError::PageLoop(_) => Reason::PageLoop,
            ServiceApiError::Http(_) => Reason::Http,
        }
    }
}

/// The `name` label of this source: the API's host (with its port when not the default).
pub(crate) fn source_name(base: &Url) -> String {
    match (base.host_str(), base.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => SOURCE.to_owned(),
    }
}

/// Checks a base URL: http(s), no credentials, no query; plain http only to a loopback address (the key would
/// travel in clear). Returns it without a trailing `/`.
///
/// # Errors
/// Not a URL, not http(s), credentials or a query in it, or plain http to another host than a loopback
/// address; in words.
pub fn parse_base_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim().trim_end_matches('/'))
        .map_err(|e| format!("--service-api.url {text:?} is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("--service-api.url must not hold credentials: the key goes in --service-api.key-file or CROWDSEC_SERVICE_API_KEY".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "--service-api.url {text:?} must not have a query or fragment"
        ));
    }
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "--service-api.url {text:?}: use https, the key would travel in clear"
        )),
        other => Err(format!(
            "--service-api.url {text:?}: scheme {other} is not http(s)"
        )),
    }
}

/// How long to wait after a 429: its `Retry-After` (seconds or HTTP date) when readable, else an exponential backoff
/// from the refresh interval (doubling on each consecutive 429, at most [`MAX_BACKOFF`]).
pub(crate) fn rate_limit_wait(
    retry_after: Option<&str>,
    now: time::UnixSeconds,
    refresh: Duration,
    consecutive: u32,
) -> Duration {
    if let Some(wait) = retry_after.and_then(|v| parse_retry_after(v, now)) {
        return wait.min(MAX_RETRY_AFTER);
    }
    let base = refresh.max(Duration::from_secs(1));
    let factor = 1u32 << consecutive.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(MAX_BACKOFF.max(base))
}

/// `Retry-After`: delay-seconds, or an HTTP date (RFC 9110 §10.2.3: IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`,
/// and the obsolete RFC 850 and asctime forms a recipient must accept, parsed by `httpdate`); a date in the past is
/// no wait.
pub(crate) fn parse_retry_after(value: &str, now: time::UnixSeconds) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let at = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
    Some(Duration::try_from_secs_f64((at - now).max(0.0)).unwrap_or(Duration::ZERO))
}

/// Consecutive 429s and the time before which no call is made.
#[derive(Debug, Default)]
struct Throttle {
    not_before: Option<Instant>,
    consecutive: u32,
}

/// Reads the integrations list; one instance per configured API, shared by the reads of its cache.
pub(crate) struct ServiceApiSource {
    /// The `name` label: [`source_name`] of `base`.
    name: String,
    client: reqwest::Client,
    base: Url,
    key: Secret,
    tags: Vec<String>,
    refresh: Duration,
    throttle: Mutex<Throttle>,
    /// The last `subscription_type` `/info` gave.
    subscription: Mutex<Option<String>>,
}

impl std::fmt::Debug for ServiceApiSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceApiSource")
            .field("base", &self.base.as_str())
            .field("key", &self.key)
            .field("tags", &self.tags)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl ServiceApiSource {
    /// `timeout` bounds each request (the cache bounds the whole read with the same value).
    pub(crate) fn new(
        base: Url,
        key: Secret,
        tags: Vec<String>,
        refresh: Duration,
        timeout: Duration,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!(
                "crowdsec-bouncer-exporter/",
                env!("CARGO_PKG_VERSION")
            ))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // A redirect would carry x-api-key wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .build()
            .map_err(|e| format!("cannot build the Service API client: {}", chain(&e)))?;
        Ok(ServiceApiSource {
            name: source_name(&base),
            client,
            base,
            key,
            tags,
            refresh,
            throttle: Mutex::new(Throttle::default()),
            subscription: Mutex::new(None),
        })
    }

    /// One read: every page, unless a 429 asked to wait (then it fails fast, without a call).
    pub(crate) async fn read(&self) -> Result<IntegrationSnapshot, SourceFailure> {
        if let Some(remaining) = self.waiting() {
            return Err(ServiceApiError::Waiting { remaining }.to_failure());
        }
        let result = self.fetch_all().await;
        let mut t = self.throttle.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(snapshot) => {
                t.consecutive = 0;
                if snapshot.unreadable > 0 {
                    tracing::warn!(
                        source = SOURCE,
                        count = snapshot.unreadable,
                        "integrations with an unreadable timestamp: their time series are left out"
                    );
                }
                tracing::debug!(
                    source = SOURCE,
                    integrations = snapshot.integrations.len(),
                    pages = snapshot.pages,
                    "read integrations"
                );
                Ok(snapshot)
            }
            Err(e) => {
                if !matches!(e, ServiceApiError::RateLimited { .. }) {
                    t.consecutive = 0;
                }
                Err(e.to_failure())
            }
        }
    }

    fn waiting(&self) -> Option<Duration> {
        let t = self.throttle.lock().unwrap_or_else(PoisonError::into_inner);
        let remaining = t.not_before?.checked_duration_since(Instant::now())?;
        (!remaining.is_zero()).then_some(remaining)
    }

    fn first_url(&self) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("{}/integrations", self.base.path()));
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("page", "1")
                .append_pair("size", &PAGE_SIZE.to_string());
            for tag in &self.tags {
                q.append_pair("tag", tag);
            }
        }
        url
    }

    async fn fetch_all(&self) -> Result<IntegrationSnapshot, ServiceApiError> {
        let mut url = self.first_url();
        let mut seen = HashSet::new();
        let mut ids = HashSet::new();
        let mut budget = MAX_TOTAL_BYTES;
        let mut snapshot = IntegrationSnapshot::default();
        loop {
            if snapshot.pages >= MAX_PAGES {
                return Err(ServiceApiError::PageLoop(format!(
                    "more than {MAX_PAGES} pages"
                )));
            }
            seen.insert(url.as_str().to_owned());
            let body = self.get_page(&url, &mut budget).await?;
            snapshot.pages += 1;
            let page = model::parse_page(&body).map_err(|e| {
                ServiceApiError::Malformed(format!("page {}: {}", snapshot.pages, e.0))
            })?;
            snapshot.unreadable += page.unreadable;
            for item in page.items {
                if ids.insert(item.id.clone()) {
                    snapshot.integrations.push(item);
                }
            }
            let Some(next) = page.next else {
                snapshot.subscription_type = self.subscription_type().await;
                return Ok(snapshot);
            };
            url = self.resolve_next(&next)?;
            if seen.contains(url.as_str()) {
                return Err(ServiceApiError::PageLoop(format!(
                    "page {} links back to {}",
                    snapshot.pages,
                    url.path()
                )));
            }
        }
    }

    /// The organisation's `subscription_type` from `GET /info` (`InfoResponse`: `organization_id`,
    /// `subscription_type`, `api_key_name`, all strings; crowdsec-service-api `models.py`). One small call per read,
    /// after the list; it never fails the read: on any error the last value is kept (a tier that flipped to
    /// unknown on a transient error would move a Community integration's threshold), and a 429 here does not
    /// throttle the list.
    async fn subscription_type(&self) -> Option<String> {
        let mut url = self.base.clone();
        url.set_path(&format!("{}/info", self.base.path()));
        let fresh = self.get_info(&url).await;
        let mut kept = self
            .subscription
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match fresh {
            Ok(v) => *kept = Some(v),
            Err(why) => {
                tracing::debug!(
                    source = SOURCE,
                    why,
                    "GET /info failed: the tier is kept as it was"
                );
            }
        }
        kept.clone()
    }

    async fn get_info(&self, url: &Url) -> Result<String, &'static str> {
        #[derive(serde::Deserialize)]
        struct Info {
            subscription_type: String,
        }
        let mut key =
            HeaderValue::from_str(self.key.expose()).map_err(|_| "key not a header value")?;
        key.set_sensitive(true);
        let mut response = self
            .client
            .get(url.clone())
            .header("x-api-key", key)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|_| "request failed")?;
        if !response.status().is_success() {
            return Err("status not 2xx");
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| "body cut")? {
            if body.len() + chunk.len() > MAX_INFO_BYTES {
                return Err("answer too large");
            }
            body.extend_from_slice(&chunk);
        }
        let info: Info = serde_json::from_slice(&body).map_err(|_| "not an InfoResponse")?;
        Ok(info.subscription_type.chars().take(64).collect())
    }

    /// `links.next` is host-relative (`/v1/integrations?page=2&size=100`); it must stay on the API's origin.
    fn resolve_next(&self, next: &str) -> Result<Url, ServiceApiError> {
        let url = self
            .base
            .join(next)
            .map_err(|e| ServiceApiError::Malformed(format!("links.next is not a path: {e}")))?;
        if url.origin() != self.base.origin() {
            return Err(ServiceApiError::Malformed(
                "links.next points to another host; not followed".to_owned(),
            ));
        }
        Ok(url)
    }

    async fn get_page(&self, url: &Url, budget: &mut usize) -> Result<Vec<u8>, ServiceApiError> {
        let mut key = HeaderValue::from_str(self.key.expose())
            .map_err(|_| ServiceApiError::Http("the key is not a valid header value".to_owned()))?;
        key.set_sensitive(true);
        let mut response = self
            .client
            .get(url.clone())
            .header("x-api-key", key)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.status_error(status, response.headers()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify_body(&e))? {
            if chunk.len() > *budget - body.len() {
                return Err(ServiceApiError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        *budget -= body.len();
        Ok(body)
    }

    fn status_error(
        &self,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
    ) -> ServiceApiError {
        match status.as_u16() {
            401 => ServiceApiError::Unauthorized,
            403 => ServiceApiError::Forbidden,
            422 => ServiceApiError::Validation,
            429 => {
                let retry_after = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok());
                let mut t = self.throttle.lock().unwrap_or_else(PoisonError::into_inner);
                t.consecutive = t.consecutive.saturating_add(1);
                let wait = rate_limit_wait(retry_after, time::now(), self.refresh, t.consecutive);
                t.not_before = Some(Instant::now() + wait);
                ServiceApiError::RateLimited { wait }
            }
            500..=599 => ServiceApiError::Server(status.as_u16()),
            _ => ServiceApiError::Http(format!("unexpected status {status}")),
        }
    }
}

/// A reqwest error and its causes, without the URL (it holds no secret, but the path is said where it matters).
fn chain(e: &reqwest::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => super::error_chain(cause),
        None if e.is_timeout() => "timed out".to_owned(),
        None => "request failed".to_owned(),
    }
}

fn classify(e: &reqwest::Error) -> ServiceApiError {
    if e.is_timeout() {
        ServiceApiError::Timeout(chain(e))
    } else if e.is_connect() {
        ServiceApiError::Connect(chain(e))
    } else {
        ServiceApiError::Http(chain(e))
    }
}

/// While reading a body: a cut connection or bad gzip is a malformed (truncated) answer.
fn classify_body(e: &reqwest::Error) -> ServiceApiError {
    if e.is_timeout() {
        ServiceApiError::Timeout(chain(e))
    } else {
        ServiceApiError::Malformed(format!("answer cut short: {}", chain(e)))
    }
}

impl super::Source for ServiceApiSource {
    type Snapshot = IntegrationSnapshot;
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lapi(&self) -> Option<&str> {
        None
    }
    async fn read(self: std::sync::Arc<Self>) -> Result<IntegrationSnapshot, SourceFailure> {
        ServiceApiSource::read(&self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_as_seconds_or_http_date() {
        // 1994-11-06T08:49:37Z = 784111777
        let now = 784_111_777.0;
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:40:37 GMT", now),
            Some(Duration::ZERO),
            "a past date is no wait"
        );
        // RFC 9110's obsolete forms, which a recipient must accept.
        for obsolete in ["Sunday, 06-Nov-94 08:50:37 GMT", "Sun Nov  6 08:50:37 1994"] {
            assert_eq!(
                parse_retry_after(obsolete, now),
                Some(Duration::from_secs(60)),
                "{obsolete:?}"
            );
        }
        for bad in [
            "",
            "soon",
            "-5",
            "Sun, 06 Nov 1994 08:50:37 CET",
            "Sun, 6 Nov 1994 08:50:37 GMT",
            "Mon, 06 Nov 1994 08:50:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn backoff_doubles_from_the_refresh_interval_without_retry_after() {
        let five = Duration::from_secs(300);
        let waits: Vec<u64> = (1..=6)
            .map(|n| rate_limit_wait(None, 0.0, five, n).as_secs())
            .collect();
        assert_eq!(waits, [300, 600, 1200, 2400, 3600, 3600]);
        assert_eq!(rate_limit_wait(Some("garbage"), 0.0, five, 1), five);
        assert_eq!(
            rate_limit_wait(Some("7"), 0.0, five, 3),
            Duration::from_secs(7),
            "Retry-After wins"
        );
        assert_eq!(
            rate_limit_wait(Some("999999999"), 0.0, five, 1),
            MAX_RETRY_AFTER
        );
        assert_eq!(
            rate_limit_wait(None, 0.0, Duration::ZERO, 1),
            Duration::from_secs(1)
        );
        assert_eq!(
            rate_limit_wait(None, 0.0, Duration::from_secs(7200), 3),
            Duration::from_secs(7200),
            "never below the refresh interval"
        );
    }

    #[test]
    fn base_urls_keep_the_key_safe() {
        assert_eq!(parse_base_url(DEFAULT_URL).unwrap().as_str(), DEFAULT_URL);
        assert_eq!(
            parse_base_url("https://admin.api.crowdsec.net/v1/")
                .unwrap()
                .path(),
            "/v1"
        );
        assert!(parse_base_url("http://127.0.0.1:8080/v1").is_ok());
        assert!(parse_base_url("http://[::1]:8080/v1").is_ok());
        for bad in [
            "http://admin.api.crowdsec.net/v1",
            "https://user:pw@admin.api.crowdsec.net/v1",
            "https://admin.api.crowdsec.net/v1?x=1",
            "ftp://x/v1",
            "not a url",
        ] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            source_name(&parse_base_url(DEFAULT_URL).unwrap()),
            "admin.api.crowdsec.net"
        );
        assert_eq!(
            source_name(&parse_base_url("http://127.0.0.1:81/v1").unwrap()),
            "127.0.0.1:81"
        );
    }

    #[test]
    fn next_links_stay_on_the_api_origin() {
        let s = ServiceApiSource::new(
            parse_base_url("https://api.example/v1").unwrap(),
            Secret::new("sekrit-key-123"),
            vec!["a b".into(), "c".into()],
            Duration::from_secs(300),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(
            s.first_url().as_str(),
            "https://api.example/v1/integrations?page=1&size=100&tag=a+b&tag=c"
        );
        assert_eq!(
            s.resolve_next("/v1/integrations?page=2&size=100")
                .unwrap()
                .as_str(),
            "https://api.example/v1/integrations?page=2&size=100"
        );
        for bad in [
            "https://evil.example/v1/integrations?page=2",
            "//evil.example/x",
            "http://api.example/v1/x",
        ] {
            assert_eq!(
                s.resolve_next(bad).unwrap_err().reason(),
                "malformed",
                "{bad}"
            );
        }
        assert!(!format!("{s:?}").contains("sekrit"));
    }
}
