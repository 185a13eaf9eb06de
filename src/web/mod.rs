//! HTTP, in exporter-toolkit's `web` shape: [`web_config`] (the `--web.config.file` YAML and its checks), [`server_tls`]
//! (the server's rustls configuration), [`auth`] (basic auth, bcrypt, the verified-credentials cache), [`reload`]
//! (the configuration re-read on change and on SIGHUP, applied per connection and handshake; [`policy`]: what a
//! reload may not weaken), [`routes`] (`/` ([`landing`]), the metrics,
//! `/-/healthy`, 404/405) and [`edge`] (HTTP-edge hardening). This module binds and serves, with a graceful
//! shutdown on SIGTERM/SIGINT; SIGHUP reloads the web config ([`reload`]) and the process keeps running.
//!
//! Layer 6: it imports only from the layers below (the cached sources, the metrics, the values). What it serves
//! ([`Options`], the [`Sources`] to scrape, and the landing page's [`landing::Judge`]: `diagnose`'s verdicts) is
//! built by the top layer from the settings.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::metrics;
use crate::scrape::Sources;

pub(crate) mod auth;
pub(crate) mod edge;
pub mod landing;
pub(crate) mod policy;
pub(crate) mod reload;
pub(crate) mod routes;
pub(crate) mod server_tls;
pub mod web_config;

pub(crate) use web_config::WebConfigError;

/// How often the web config file and the certificates it names are checked for changes.
const WEB_CONFIG_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Why the exporter cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listen address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// A listen address that is not `host:port`, `:port` or `[ipv6]:port`.
    #[error("invalid listen address {0:?}: expected host:port, :port or [ipv6]:port")]
    Address(String),
    /// The web config file cannot be used.
    #[error("{0}")]
    WebConfig(#[from] WebConfigError),
    /// The sources could not be built (the top layer's error, e.g. a source that cannot start).
    #[error("{0}")]
    Source(Box<dyn std::error::Error + Send + Sync>),
}

/// What the web layer serves, built by the top layer (the settings' `--web.*` flags and config-file keys).
#[derive(Debug, Clone)]
pub struct Options {
    /// `host:port`, `:port` (every interface) or `[v6]:port`.
    pub listen_addresses: Vec<String>,
    /// Where the metrics are served, e.g. `/metrics`.
    pub telemetry_path: String,
    /// Upper bound of a scrape's wait when Prometheus does not send its timeout.
    pub max_scrape_wait: Duration,
    /// exporter-toolkit web config (TLS, basic auth, headers); `None`: plain HTTP, no authentication.
    pub config_file: Option<std::path::PathBuf>,
}

/// What every connection shares.
struct State {
    sources: Sources,
    renderer: metrics::Renderer,
    web: Options,
    web_config: Arc<reload::Live>,
    auth: auth::Auth,
    /// What the landing page says of the bouncers (the top layer's verdicts); `None`: sources only.
    judge: Option<landing::Judge>,
}

/// Binds every listen address, then serves until SIGTERM or SIGINT (see [`serve_listeners`]).
///
/// # Errors
/// See [`serve_listeners`]; also [`ServerError::Address`] or [`ServerError::Bind`] for a listen address.
pub(crate) async fn serve(
    options: Options,
    renderer: metrics::Renderer,
    sources: impl FnOnce() -> Result<Sources, ServerError>,
    judge: Option<landing::Judge>,
) -> Result<(), ServerError> {
    // SIGHUP must not end the process once the port is open (a reload is expected): handled from here on, and
    // serve_listeners takes its own stream.
    drop(reload::hangup());
    let mut listeners = Vec::new();
    for address in &options.listen_addresses {
        listeners.push(bind(address).await?);
    }
    serve_listeners(
        options,
        renderer,
        sources,
        judge,
        listeners,
        shutdown_signal(),
    )
    .await
}

/// Serves on already bound listeners until `shutdown` completes (tests pass their own). The web config file is
/// loaded first, then `sources` builds what is scraped, so an invalid web config stops start-up before any
/// source is built.
///
/// # Errors
/// [`ServerError::WebConfig`] for a web config file that cannot be used; the error of `sources`
/// ([`ServerError::Source`]).
pub(crate) async fn serve_listeners(
    options: Options,
    renderer: metrics::Renderer,
    sources: impl FnOnce() -> Result<Sources, ServerError>,
    judge: Option<landing::Judge>,
    listeners: Vec<TcpListener>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServerError> {
    let hangup = reload::hangup();
    // An invalid web config refuses to start, before any connection is accepted.
    let web_config = Arc::new(match &options.config_file {
        Some(path) => reload::Live::load(path)?,
        None => reload::Live::none(),
    });
    let state = Arc::new(State {
        sources: sources()?,
        renderer,
        web: options,
        web_config: web_config.clone(),
        auth: auth::Auth::default(),
        judge,
    });
    // Also installs the SIGHUP handler, with or without a web config file: reload the web config, read every
    // source anew at the next scrape, keep running.
    let reloader = {
        let state = Arc::downgrade(&state);
        reload::watch(web_config, WEB_CONFIG_CHECK_INTERVAL, hangup, move || {
            if let Some(state) = state.upgrade() {
                state.sources.expire();
            }
        })
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<tokio::net::TcpStream>(64);
    let mut accepters = Vec::new();
    for listener in listeners {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(address = %addr, path = %state.web.telemetry_path, "listening");
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
                let peer = stream.peer_addr().ok().map(|a| a.ip());
                tokio::spawn(async move {
                    match tls {
                        None => edge::serve_connection(stream, peer, state, watcher).await,
                        Some(tls) => {
                            if let Some(s) = edge::accept(tls, stream, edge::HEADER_READ_TIMEOUT).await {
                                edge::serve_connection(s, peer, state, watcher).await;
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
    reloader.abort();
    tracing::info!("shutting down");
    // Password checks waiting for their turn are requests in flight: give them up, or a queue of them holds the
    // graceful shutdown for its whole 5 s.
    state.auth.close();
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after 5s; closing them");
    }
    Ok(())
}

/// A listen address, parsed: `:port` (every interface) or `host:port` / `[v6]:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListenAddress {
    /// `:port`: IPv6 and IPv4 when possible.
    Every(u16),
    /// `host:port` or `[v6]:port`, resolved when bound.
    Host(String),
}

/// Parses a listen address, as start-up binds it and `--config.check` checks it.
///
/// # Errors
/// [`ServerError::Address`] when it is not `host:port`, `:port` or `[ipv6]:port` with a port in 0..=65535.
pub(crate) fn parse_listen_address(address: &str) -> Result<ListenAddress, ServerError> {
    let invalid = || ServerError::Address(address.to_owned());
    if let Some(port) = address.strip_prefix(':') {
        return port
            .parse()
            .map(ListenAddress::Every)
            .map_err(|_| invalid());
    }
    if address.parse::<SocketAddr>().is_ok() {
        return Ok(ListenAddress::Host(address.to_owned()));
    }
    // A name: `host:port`, the host without a colon (an IPv6 address must be bracketed, and was parsed above).
    match address.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty()
                && !host.contains([':', '[', ']'])
                && port.parse::<u16>().is_ok() =>
        {
            Ok(ListenAddress::Host(address.to_owned()))
        }
        _ => Err(invalid()),
    }
}

/// Two of `addresses` that start-up could not both bind, and why: the same address twice (host names compared
/// without case, an IPv4-mapped IPv6 address as its IPv4 one), or a port on every interface (`:p`, `0.0.0.0:p`,
/// `[::]:p`) beside another address on that port (Linux refuses the second bind, "Address already in use"; `:p`
/// and `[::]:p` bind IPv6 and IPv4, `net.ipv6.bindv6only` being 0 by default). `0.0.0.0:p` beside a specific IPv6
/// address of port p is allowed (different families); port 0 (any free port) never collides. Addresses that do not
/// parse are left to [`parse_listen_address`].
pub(crate) fn colliding_listen_addresses(addresses: &[String]) -> Option<(String, String)> {
    use std::net::IpAddr;
    /// A listen address as binding sees it.
    struct Bound {
        port: u16,
        /// The IP when a literal (IPv4-mapped IPv6 as IPv4), else the host name in lower case.
        ip: Option<IpAddr>,
        host: Option<String>,
        /// On every interface, IPv6 and IPv4 (`:p`, `[::]:p`).
        every_family: bool,
        /// `0.0.0.0:p`: every IPv4 interface.
        every_v4: bool,
    }
    let parsed = |a: &str| -> Option<Bound> {
        match parse_listen_address(a).ok()? {
            ListenAddress::Every(port) => Some(Bound {
                port,
                ip: None,
                host: None,
                every_family: true,
                every_v4: false,
            }),
            ListenAddress::Host(h) => match h.parse::<SocketAddr>() {
                Ok(s) => {
                    let ip = match s.ip() {
                        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                        v4 => v4,
                    };
                    Some(Bound {
                        port: s.port(),
                        ip: Some(ip),
                        host: None,
                        every_family: ip.is_unspecified() && ip.is_ipv6(),
                        every_v4: ip.is_unspecified() && ip.is_ipv4(),
                    })
                }
                Err(_) => {
                    let (host, port) = h.rsplit_once(':')?;
                    Some(Bound {
                        port: port.parse().ok()?,
                        ip: None,
                        host: Some(host.to_ascii_lowercase()),
                        every_family: false,
                        every_v4: false,
                    })
                }
            },
        }
    };
    let specific_v6 = |x: &Bound| matches!(x.ip, Some(IpAddr::V6(v6)) if !v6.is_unspecified());
    for (i, a) in addresses.iter().enumerate() {
        for b in &addresses[..i] {
            let (Some(pa), Some(pb)) = (parsed(a), parsed(b)) else {
                continue;
            };
            if pa.port != pb.port || pa.port == 0 {
                continue;
            }
            let same = a == b
                || (pa.ip.is_some() && pa.ip == pb.ip)
                || (pa.host.is_some() && pa.host == pb.host);
            let wildcard = pa.every_family
                || pb.every_family
                || (pa.every_v4 && !specific_v6(&pb))
                || (pb.every_v4 && !specific_v6(&pa));
            if same || wildcard {
                return Some((b.clone(), a.clone()));
            }
        }
    }
    None
}

/// Binds `host:port`, `:port` (every interface, IPv6 and IPv4 when possible) or `[v6]:port`.
///
/// # Errors
/// [`ServerError::Address`] for an address that does not parse, [`ServerError::Bind`] when it cannot be bound.
pub async fn bind(address: &str) -> Result<TcpListener, ServerError> {
    let bind_err = |source| ServerError::Bind {
        address: address.to_owned(),
        source,
    };
    match parse_listen_address(address)? {
        ListenAddress::Every(port) => {
            match TcpListener::bind(SocketAddr::from(([0u16; 8], port))).await {
                Ok(l) => Ok(l),
                Err(_) => TcpListener::bind(SocketAddr::from(([0u8; 4], port)))
                    .await
                    .map_err(bind_err),
            }
        }
        ListenAddress::Host(address) => TcpListener::bind(address).await.map_err(bind_err),
    }
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
