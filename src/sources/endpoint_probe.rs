//! The request behind check `endpoint_reachable`: TCP + TLS + HTTP to a bouncer's endpoint from this host, with
//! no key and no credential (the client has no default headers), so it can never move a `last_pull` nor count as a
//! Blocklist integration's pull. A LAPI is asked `GET <base>/health`; the Service API's host `HEAD /` (see
//! [`EndpointKind::ServiceApi`]). When the request fails, the layers are tried one by one (name resolution, then a
//! TCP connection) to say which one failed: `dns:`, `tcp:`, `tls:` or `http:` starts every failure detail.

use std::time::Duration;

use reqwest::Url;

use crate::crowdsec::bouncer_files::reachability::{Endpoint, EndpointKind};
use crate::sources::lapi_health::{client_trusting, health_url};
use crate::sources::root_cause;

/// Probes `endpoint` with `client` (built by [`crate::sources::lapi_health::client`]: timeouts, no redirects),
/// or, when the bouncer's file trusts a CA of its own or skips verification, with a client that does the same;
/// `timeout` bounds each step of the failure analysis as well. `Ok`: what answered; `Err`: the failing layer
/// and why, in operator words.
///
/// # Errors
/// The failing layer as text: `dns: ...`, `tcp: ...`, `tls: ...` or `http: ...` (never a key: none is sent).
pub async fn probe(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    timeout: Duration,
) -> Result<String, String> {
    let own;
    let client = if endpoint.trust == Default::default() {
        client
    } else {
        own = client_trusting(timeout, &endpoint.trust).map_err(|why| format!("tls: {why}"))?;
        &own
    };
    let (method, url) = match endpoint.kind {
        EndpointKind::Lapi => (reqwest::Method::GET, health_url(&endpoint.url)),
        EndpointKind::ServiceApi => (reqwest::Method::HEAD, endpoint.url.clone()),
    };
    let said = format!("{method} {url}");
    let response = tokio::time::timeout(
        timeout + Duration::from_millis(500),
        client.request(method, url.clone()).send(),
    )
    .await;
    match response {
        Ok(Ok(r)) => {
            let status = r.status();
            let ok = match endpoint.kind {
                EndpointKind::Lapi => status.is_success(),
                // Any answer proves TCP, TLS and HTTP (the host root of an API needs no 2xx); a 5xx is a server or
                // proxy failing.
                EndpointKind::ServiceApi => !status.is_server_error(),
            };
            if ok {
                Ok(format!("{said} answered {}", status.as_u16()))
            } else if endpoint.kind == EndpointKind::Lapi {
                Err(format!(
                    "http: {said} answered {}: is this a CrowdSec LAPI?",
                    status.as_u16()
                ))
            } else {
                Err(format!("http: {said} answered {}", status.as_u16()))
            }
        }
        Ok(Err(e)) => Err(layer(&url, &said, &e, timeout).await),
        Err(_) => Err(layer_of_silence(&url, &said, timeout).await),
    }
}

/// Which layer failed, once the request did: resolve the host, connect over TCP, then blame TLS (https) or HTTP.
async fn layer(url: &Url, said: &str, e: &reqwest::Error, timeout: Duration) -> String {
    if let Err(why) = transport(url, timeout).await {
        return why;
    }
    let cause = root_cause(e);
    if e.is_timeout() {
        silent_after_connect(url, said, timeout)
    } else if url.scheme() == "https"
        && (e.is_connect() || cause.to_lowercase().contains("certificate"))
    {
        format!("tls: the handshake with {} failed: {cause}", host_port(url))
    } else {
        format!("http: {said} failed: {cause}")
    }
}

/// The request took longer than its own timeout (the client's one should have fired first).
async fn layer_of_silence(url: &Url, said: &str, timeout: Duration) -> String {
    match transport(url, timeout).await {
        Err(why) => why,
        Ok(()) => silent_after_connect(url, said, timeout),
    }
}

fn silent_after_connect(url: &Url, said: &str, timeout: Duration) -> String {
    let within = crate::values::time::human_duration(timeout.as_secs_f64());
    if url.scheme() == "https" {
        format!("tls: {} accepts TCP connections but the TLS handshake or {said} got no answer within {within}", host_port(url))
    } else {
        format!(
            "http: {} accepts TCP connections but {said} got no answer within {within}",
            host_port(url)
        )
    }
}

/// Name resolution, then a TCP connection to the first address that accepts one.
async fn transport(url: &Url, timeout: Duration) -> Result<(), String> {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let within = crate::values::time::human_duration(timeout.as_secs_f64());
    let addrs: Vec<std::net::SocketAddr> =
        match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => return Err(format!("dns: {host} does not resolve from this host ({e})")),
            Err(_) => return Err(format!("dns: {host} did not resolve within {within}")),
        };
    if addrs.is_empty() {
        return Err(format!("dns: {host} resolves to no address"));
    }
    let mut last = String::new();
    for addr in &addrs {
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = format!("tcp: connection refused by {addr}: nothing listens there")
            }
            Ok(Err(e)) => last = format!("tcp: cannot connect to {addr}: {e}"),
            Err(_) => {
                last = format!("tcp: no answer from {addr} within {within} (timeout): a firewall drops the packets or the host is down")
            }
        }
    }
    Err(last)
}

fn host_port(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(0)
    )
}
