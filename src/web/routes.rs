//! The routes, as the toolkit's exporters have them: the landing page at `/` ([`super::landing`]), the metrics at the telemetry path,
//! `/-/healthy` (and `/-/ready`), `404` for other paths and `405` (with `Allow`) for other methods than GET/HEAD.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, ALLOW, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use hyper::{Method, Request, Response, StatusCode};

use super::State;
use crate::metrics::{self, Format};

/// Margin kept from Prometheus' scrape timeout for encoding and the network.
const SCRAPE_MARGIN: Duration = Duration::from_millis(500);

pub(super) async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Chunks>, Infallible> {
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
            let scrape = state.sources.scrape(state.web.max_scrape_wait).await;
            text(
                StatusCode::OK,
                "text/html; charset=utf-8",
                super::landing::page(&state.web.telemetry_path, &scrape, state.judge.as_ref()),
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
    let gzip = metrics::gzip::accepted(header("accept-encoding"));
    let mut scrape = state.sources.scrape(deadline).await;
    scrape.web_config = state.web_config.status();
    // As client_golang's process collector, read at each scrape (a few small /proc files).
    scrape.process = Some(crate::sources::own_process::ProcessStats::read());
    // Shared with the scrapes of the same second: the response holds references, not its own copy.
    let exposition = state.renderer.shared(scrape, format, gzip).await;
    let chunks: VecDeque<Bytes> = if gzip {
        // Each part is compressed once and shared too (see metrics::gzip): one gzip member put together.
        let mut deflated = Vec::with_capacity(exposition.parts.len());
        for p in &exposition.parts {
            deflated.push(p.deflated().await);
        }
        let trailer = metrics::gzip::trailer(deflated.iter().map(|d| d.as_ref()));
        std::iter::once(Bytes::from_static(&metrics::gzip::HEADER))
            .chain(
                deflated
                    .into_iter()
                    .map(|d| Bytes::from_owner(SharedDeflated(d))),
            )
            .chain([
                Bytes::from_static(&metrics::gzip::FINAL_BLOCK),
                Bytes::copy_from_slice(&trailer),
            ])
            .filter(|c| !c.is_empty())
            .collect()
    } else {
        exposition
            .parts
            .into_iter()
            .map(|p| Bytes::from_owner(SharedText(p.text)))
            .filter(|c| !c.is_empty())
            .collect()
    };
    let mut r = Response::new(Chunks(chunks));
    let headers = r.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    // As promhttp: caches must tell the encodings apart.
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

/// Lets a response body share the cached exposition text instead of copying it.
struct SharedText(Arc<String>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The same for a compressed part.
struct SharedDeflated(Arc<metrics::gzip::Deflated>);

impl AsRef<[u8]> for SharedDeflated {
    fn as_ref(&self) -> &[u8] {
        &self.0.data
    }
}

/// A response body made of a few ready chunks.
pub(crate) struct Chunks(VecDeque<Bytes>);

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

pub(super) fn text(
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<Chunks> {
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
