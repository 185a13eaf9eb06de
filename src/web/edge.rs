//! HTTP-edge hardening: what every connection and request passes before the routes. A bounded TLS handshake (and a
//! 400 for plain HTTP on the TLS port), the slow-client and header size guards, the body limit, basic
//! authentication, and the response headers of the web config.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{
    HeaderName, HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING,
};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ServerConfig;

use super::routes::{text, Chunks};
use super::State;

/// A client must complete its TLS handshake, and send its request headers, within this time (slow-client guard).
/// hyper (1.12) also starts it when a kept-alive connection goes idle (its last answer written to the socket), so
/// a connection idle this long is closed; a client then opens a new one (Go's, Prometheus', retries a GET that
/// met such a close).
pub(super) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Request headers larger than this are refused.
const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Requests announcing a larger body are refused. The exporter never reads a body: this only makes the refusal
/// explicit, the body is never buffered.
pub(crate) const MAX_BODY_BYTES: u64 = 64 * 1024;

/// Headers the toolkit lets a file set, with the values it accepts (None = any).
const HEADERS: &[(&str, Option<&[&str]>)] = &[
    ("Content-Security-Policy", None),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-XSS-Protection", None),
    ("Strict-Transport-Security", None),
];

/// `http_server_config.headers`, checked as the toolkit does: only the headers it lists, with the values it
/// accepts; a blank value unsets the header. Names come out in their canonical spelling.
///
/// # Errors
/// A message naming the header that cannot be configured or its value that is not accepted.
pub(super) fn response_headers<'a>(
    configured: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let mut headers = Vec::new();
    for (name, value) in configured {
        let Some((canonical, allowed)) = HEADERS.iter().find(|(h, _)| h.eq_ignore_ascii_case(name))
        else {
            return Err(format!(
                "header {name:?} cannot be configured (allowed: {})",
                HEADERS.iter().map(|h| h.0).collect::<Vec<_>>().join(", ")
            ));
        };
        if value.is_empty() {
            continue; // "Unset if blank."
        }
        if let Some(allowed) = allowed {
            if !allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
                return Err(format!("{canonical}: {value:?} is not one of {allowed:?}"));
            }
        }
        let value = HeaderValue::from_str(value).map_err(|_| {
            format!("{canonical}: the value holds characters a header cannot carry")
        })?;
        let name =
            HeaderName::from_bytes(canonical.as_bytes()).expect("the allowed names are valid");
        headers.push((name, value));
    }
    Ok(headers)
}

/// Encrypted bytes a TLS connection holds for a client that reads slower than it is sent to (rustls' default is 64
/// KiB): one full record. 100 scrapers of a 17 MB exposition each keep this much in the process while their
/// sockets are full (issue 22's load test), not four times it.
const TLS_BUFFER_BYTES: usize = 16 * 1024;

/// What a plain-HTTP client gets on the TLS port (as Go's servers answer).
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Handshakes within `timeout`. A client speaking plain HTTP gets a 400 and the connection is closed.
pub(super) async fn accept(
    config: Arc<ServerConfig>,
    stream: TcpStream,
    timeout: Duration,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let handshake = async {
        let mut first = [0u8; 1];
        // A TLS connection starts with a handshake record (0x16); an HTTP request with a letter.
        if stream.peek(&mut first).await.ok()? == 1 && first[0].is_ascii_alphabetic() {
            use tokio::io::AsyncWriteExt;
            let mut stream = stream;
            let _ = stream.write_all(PLAIN_HTTP_ANSWER).await;
            let _ = stream.shutdown().await;
            tracing::debug!("plain HTTP request on the TLS port");
            return None;
        }
        match tokio_rustls::TlsAcceptor::from(config).accept(stream).await {
            Ok(mut s) => {
                s.get_mut().1.set_buffer_limit(Some(TLS_BUFFER_BYTES));
                Some(s)
            }
            Err(e) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                None
            }
        }
    };
    tokio::time::timeout(timeout, handshake)
        .await
        .ok()
        .flatten()
}

/// HTTP/1.1 on one (plain or TLS) connection, with the slow-client and header size guards.
/// `peer` is the client's address (its password checks queue apart from other clients').
pub(super) async fn serve_connection<I>(
    io: I,
    peer: Option<std::net::IpAddr>,
    state: Arc<State>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| guarded(req, peer, state.clone()));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

fn body_too_large(req: &Request<Incoming>) -> Option<Response<Chunks>> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let chunked = req.headers().contains_key(TRANSFER_ENCODING);
    if !chunked && declared.is_none_or(|n| n <= MAX_BODY_BYTES) {
        return None;
    }
    let mut r = text(
        StatusCode::PAYLOAD_TOO_LARGE,
        "text/plain; charset=utf-8",
        "413 request body too large\n".into(),
    );
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    Some(r)
}

/// The body limit, then authentication, then the routes; the configured headers on every response.
pub(super) async fn guarded(
    req: Request<Incoming>,
    peer: Option<std::net::IpAddr>,
    state: Arc<State>,
) -> Result<Response<Chunks>, Infallible> {
    use super::auth::Outcome;
    let config = state.web_config.current();
    let mut response = match body_too_large(&req) {
        Some(r) => r,
        None => {
            let outcome = match &config.users {
                None => Outcome::Allowed,
                Some(users) => {
                    state
                        .auth
                        .authorized(req.headers().get(AUTHORIZATION), users, peer)
                        .await
                }
            };
            match outcome {
                Outcome::Allowed => super::routes::handle(req, state.clone()).await?,
                Outcome::Denied => super::auth::unauthorized(),
                Outcome::Busy => super::auth::too_many_checks(),
                Outcome::ShuttingDown => super::auth::shutting_down(),
            }
        }
    };
    for (name, value) in &config.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    Ok(response)
}
