//! HTTP: landing page at `/`, metrics at the telemetry path, `/-/healthy`; graceful shutdown on SIGTERM/SIGINT.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::exporter::Exporter;
use crate::metrics::{self, Format};
use crate::settings::{Settings, WebSettings};
use crate::web_config::{self, WebConfigError};

mod edge;
pub mod tls;

/// How often the web config file and the certificates it names are checked for changes.
const WEB_CONFIG_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A client must send its request headers within this time (slow-client guard).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Request headers larger than this are refused.
const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Margin kept from Prometheus' scrape timeout for encoding and the network.
const SCRAPE_MARGIN: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("invalid listen address {0:?}: expected host:port, :port or [ipv6]:port")]
    Address(String),
    #[error("{0}")]
    WebConfig(#[from] WebConfigError),
}

struct State {
    exporter: Exporter,
    renderer: metrics::Renderer,
    web: WebSettings,
    web_config: Arc<web_config::Live>,
    auth: edge::Auth,
}

/// Binds every listen address, then serves until SIGTERM or SIGINT.
pub async fn serve(settings: Settings) -> Result<(), ServerError> {
    let mut listeners = Vec::new();
    for address in &settings.web.listen_addresses {
        listeners.push(bind(address).await?);
    }
    serve_listeners(settings, listeners, shutdown_signal()).await
}

/// Serves on already bound listeners until `shutdown` completes (tests pass their own).
pub async fn serve_listeners(
    settings: Settings,
    listeners: Vec<TcpListener>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServerError> {
    // An invalid web config refuses to start, before any connection is accepted.
    let web_config = Arc::new(match &settings.web.config_file {
        Some(path) => web_config::Live::load(path)?,
        None => web_config::Live::none(),
    });
    let reloader = settings.web.config_file.is_some().then(|| {
        let live = web_config.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(WEB_CONFIG_CHECK_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let live = live.clone();
                let _ = tokio::task::spawn_blocking(move || live.reload_if_changed()).await;
            }
        })
    });
    let state = Arc::new(State {
        exporter: Exporter::new(&settings),
        renderer: metrics::Renderer::default(),
        web: settings.web.clone(),
        web_config,
        auth: edge::Auth::default(),
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel::<tokio::net::TcpStream>(64);
    let mut accepters = Vec::new();
    for listener in listeners {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(address = %addr, path = %settings.web.telemetry_path, "listening");
        }
        let tx = tx.clone();
        accepters.push(tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        if tx.send(stream).await.is_err() {
                            return;
                        }
                    }
                    // Out of file descriptors and the like: wait, do not spin.
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }
    drop(tx);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            stream = rx.recv() => {
                let Some(stream) = stream else { break };
                let watcher = graceful.watcher();
                let tls = state.web_config.current().tls.clone();
                let state = state.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve_connection(TokioIo::new(stream), state, watcher).await,
                        Some(tls) => {
                            if let Some(s) = tls::accept(tls, stream, HEADER_READ_TIMEOUT).await {
                                serve_connection(TokioIo::new(s), state, watcher).await;
                            }
                        }
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    for a in accepters {
        a.abort();
    }
    if let Some(r) = reloader {
        r.abort();
    }
    tracing::info!("shutting down");
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 5s; closing them");
    }
    Ok(())
}

/// HTTP/1.1 on one (plain or TLS) connection, with the slow-client and header size guards.
async fn serve_connection<I>(
    io: TokioIo<I>,
    state: Arc<State>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| edge::guarded(req, state.clone()));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .serve_connection(io, service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Binds `host:port`, `:port` (every interface, IPv6 and IPv4 when possible) or `[v6]:port`.
pub async fn bind(address: &str) -> Result<TcpListener, ServerError> {
    let bind_err = |source| ServerError::Bind {
        address: address.to_owned(),
        source,
    };
    if let Some(port) = address.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| ServerError::Address(address.to_owned()))?;
        return match TcpListener::bind(SocketAddr::from(([0u16; 8], port))).await {
            Ok(l) => Ok(l),
            Err(_) => TcpListener::bind(SocketAddr::from(([0u8; 4], port)))
                .await
                .map_err(bind_err),
        };
    }
    if !address.contains(':') {
        return Err(ServerError::Address(address.to_owned()));
    }
    TcpListener::bind(address).await.map_err(bind_err)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn handle(req: Request<Incoming>, state: Arc<State>) -> Result<Response<Chunks>, Infallible> {
    let path = req.uri().path();
    let readable = matches!(*req.method(), Method::GET | Method::HEAD);
    let response = if path == state.web.telemetry_path {
        if readable {
            metrics_response(&req, &state).await
        } else {
            method_not_allowed()
        }
    } else if path == "/" || path == "/-/healthy" || path == "/-/ready" {
        if !readable {
            method_not_allowed()
        } else if path == "/" {
            // The same (cached) reading a scrape gets, so the page and the metrics never disagree.
            let scrape = state.exporter.scrape(state.web.max_scrape_wait).await;
            text(
                StatusCode::OK,
                "text/html; charset=utf-8",
                landing_page(&state.web.telemetry_path, &sources_status(&scrape)),
            )
        } else {
            text(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                "OK\n".to_owned(),
            )
        }
    } else {
        text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "404 page not found\n".to_owned(),
        )
    };
    Ok(response)
}

async fn metrics_response(req: &Request<Incoming>, state: &State) -> Response<Chunks> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(header("accept"));
    let deadline = header("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .map(|d| {
            d.saturating_sub(SCRAPE_MARGIN)
                .max(Duration::from_millis(100))
        })
        .unwrap_or(state.web.max_scrape_wait)
        .min(state.web.max_scrape_wait);
    let scrape = state.exporter.scrape(deadline).await;
    let exposition = state.renderer.render(scrape, format);
    let chunks = [
        Bytes::from_owner(SharedText(exposition.fixed)),
        Bytes::from(exposition.live),
    ];
    let mut r = Response::new(Chunks(
        chunks.into_iter().filter(|c| !c.is_empty()).collect(),
    ));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    r
}

/// Lets a response body share the cached exposition text instead of copying it.
struct SharedText(Arc<String>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A response body made of a few ready chunks.
pub struct Chunks(VecDeque<Bytes>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.iter().map(|c| c.len() as u64).sum())
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Chunks> {
    let mut r = Response::new(Chunks(VecDeque::from([Bytes::from(body)])));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn method_not_allowed() -> Response<Chunks> {
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        "text/plain; charset=utf-8",
        "405 method not allowed\n".into(),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

/// One row of the landing page's source table: what `crowdsec_exporter_source_up` and
/// `crowdsec_exporter_source_errors_total` say, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// `source` label: `lapi_db`, `cscli`, `service_api`, `bouncer_config`, `lapi_health`.
    pub source: &'static str,
    /// `name` label.
    pub name: String,
    /// `up`, `down` (last read failed; last good data still served) or `not read yet`.
    pub state: &'static str,
    /// The last failure's metric reason (`permission`, `open`, `timeout`, ...), empty when up.
    pub reason: &'static str,
    /// The last failure's message (never holds a secret: see `cache::SourceFailure`), empty when up.
    pub message: String,
}

fn status<T>(r: &crate::cache::SourceReport<T>) -> SourceStatus {
    let (reason, message) = match (&r.last_error, r.up) {
        (Some(e), false) => (e.reason, e.message.clone()),
        _ => ("", String::new()),
    };
    SourceStatus {
        source: r.kind,
        name: r.name.clone(),
        state: if r.up {
            "up"
        } else if r.reads == 0 && r.last_error.is_none() {
            "not read yet"
        } else {
            "down"
        },
        reason,
        message,
    }
}

/// Every configured source of a scrape, in the order the metrics list them. A source that is not configured has no
/// row (it is absent, not down).
pub fn sources_status(s: &metrics::Scrape) -> Vec<SourceStatus> {
    s.lapis
        .iter()
        .map(|r| status(r))
        .chain(s.service_api.iter().map(|r| status(r)))
        .chain(s.bouncer_config.iter().map(|r| status(r)))
        .chain(s.lapi_health.iter().map(|r| status(r)))
        .collect()
}

fn landing_page(telemetry_path: &str, sources: &[SourceStatus]) -> String {
    let path = html_escape(telemetry_path);
    let mut rows = String::new();
    for s in sources {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>\n",
            s.source,
            html_escape(&s.name),
            s.state.replace(' ', "-"),
            s.state,
            s.reason,
            html_escape(&s.message)
        ));
    }
    let table = if sources.is_empty() {
        "<p>No source is configured.</p>\n".to_owned()
    } else {
        format!(
            "<table>\n<tr><th>source</th><th>name</th><th>state</th><th>reason</th><th>message</th></tr>\n{rows}</table>\n"
        )
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>CrowdSec Bouncer Exporter</title>\n\
         <style>td,th{{text-align:left;padding:2px 8px}} .down{{color:#b00;font-weight:bold}} .up{{color:#070}}</style></head>\n<body>\n\
         <h1>CrowdSec Bouncer Exporter</h1>\n\
         <p>When did each CrowdSec bouncer last pull decisions. Version {} (revision {}).</p>\n\
         <ul><li><a href=\"{path}\">Metrics</a></li><li><a href=\"/-/healthy\">Health</a></li></ul>\n\
         <h2>Sources</h2>\n{table}\
         </body></html>\n",
        crate::metrics::VERSION,
        crate::metrics::REVISION
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
