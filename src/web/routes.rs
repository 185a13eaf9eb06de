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
    let exposition = state.renderer.shared(scrape, format).await;
    let chunks = if gzip {
        gzip_chunks(exposition).await
    } else {
        plain_chunks(exposition).await
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

/// The body of a gzip scrape: each part is compressed once and shared too (see metrics::gzip), one gzip member
/// put together.
async fn gzip_chunks(exposition: metrics::Exposition) -> VecDeque<Chunk> {
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
        .map(Chunk::Ready)
        .collect()
}

/// The body of a scrape without gzip: the per-reading parts inflated from their shared compressed forms as the
/// body is sent (their text is not kept: at 10,000 reporting bouncers 18 MB, issue 22), the per-second part's text
/// as it is. The bytes are the text's, as a gzip scraper decodes them.
async fn plain_chunks(exposition: metrics::Exposition) -> VecDeque<Chunk> {
    let mut chunks = VecDeque::with_capacity(exposition.parts.len());
    for (i, p) in exposition.parts.into_iter().enumerate() {
        if i < metrics::Exposition::PER_READING {
            let deflated = p.deflated().await;
            if deflated.text_len() > 0 {
                chunks.push_back(Chunk::Inflate(metrics::gzip::Inflate::new(deflated)));
            }
        } else if !p.text.is_empty() {
            chunks.push_back(Chunk::Ready(Bytes::from_owner(SharedText(p.text))));
        }
    }
    chunks
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

/// What a plain scraper's body inflates per poll: a small buffer, and little work per poll (about 0.1 ms). hyper
/// (`max_buf_size`, 16 KiB here) polls the body again only once what it holds is under that, so a connection
/// whose client reads slowly holds about a chunk, plus the inflater's window.
const INFLATE_CHUNK: usize = 16 * 1024;

/// A piece of a response body.
pub(crate) enum Chunk {
    /// Bytes ready (shared or owned).
    Ready(Bytes),
    /// A compressed part's text, inflated [`INFLATE_CHUNK`] at a time.
    Inflate(metrics::gzip::Inflate),
}

impl Chunk {
    fn remaining(&self) -> u64 {
        match self {
            Chunk::Ready(b) => b.len() as u64,
            Chunk::Inflate(i) => i.remaining() as u64,
        }
    }
}

/// A response body made of a few chunks.
pub(crate) struct Chunks(VecDeque<Chunk>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        loop {
            let data = match self.0.front_mut() {
                None => return Poll::Ready(None),
                Some(Chunk::Ready(b)) => Some(std::mem::take(b)),
                Some(Chunk::Inflate(i)) => i.next_chunk(INFLATE_CHUNK).map(Bytes::from),
            };
            match data {
                Some(d) if !d.is_empty() => {
                    if self.0.front().is_some_and(|c| c.remaining() == 0) {
                        self.0.pop_front();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(d))));
                }
                _ => {
                    self.0.pop_front();
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.iter().all(|c| c.remaining() == 0)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.iter().map(Chunk::remaining).sum())
    }
}

pub(super) fn text(
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<Chunks> {
    let mut r = Response::new(Chunks(VecDeque::from([Chunk::Ready(Bytes::from(body))])));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crowdsec::bouncers::{Bouncer, BouncerSnapshot, LastPull};
    use crate::crowdsec::usage_reports::UsageTotals;
    use crate::scrape::{Scrape, SourceReport};
    use http_body_util::BodyExt;
    use std::io::Read;

    const NOW: f64 = 1_785_000_000.0;

    /// A reading of `n` bouncers with hostile names and labels, each with a usage report (`value` in it).
    fn reading(n: usize, value: u64) -> Arc<SourceReport<BouncerSnapshot>> {
        const HOSTILE: [&str; 5] = ["a\"b\\c\nd", "ü \u{1F600}\t\r", "", "\\\"\n", "x@10.0.0.1"];
        let mut usage = UsageTotals::default();
        let bouncers = (0..n)
            .map(|i| {
                let name = format!("{}-{i}", HOSTILE[i % HOSTILE.len()]);
                let origin = serde_json::to_string(HOSTILE[(i + 1) % HOSTILE.len()]).unwrap();
                let payload = format!(
                    r#"{{"metrics":[{{"meta":{{"utc_now_timestamp":{i}}},"items":[{{"name":"dropped","unit":"packet","value":{value},"labels":{{"origin":{origin},"remediation":"ban"}}}}]}}]}}"#
                );
                usage.add_report(i as i64, &name, Some(payload.as_bytes()));
                Bouncer {
                    last_usage_metrics: Some(NOW - 0.125 * i as f64),
                    ..Bouncer::test_row(&name, LastPull::At(NOW - 1.5 * i as f64))
                }
                .with_text(|t| {
                    t.ip_address = HOSTILE[(i + 2) % HOSTILE.len()];
                    t.version = HOSTILE[(i + 3) % HOSTILE.len()];
                    t.os = HOSTILE[(i + 4) % HOSTILE.len()];
                })
            })
            .collect();
        Arc::new(SourceReport {
            data: Some(Arc::new(BouncerSnapshot {
                bouncers,
                schema: "1.7.1+",
                bad_rows: 0,
                usage: Some(usage),
                autodelete: Vec::new(),
            })),
            up: true,
            reads: 1,
            ..SourceReport::empty("lapi_db", "local \"lapi\"", Some("local"))
        })
    }

    async fn body(chunks: VecDeque<Chunk>) -> (Vec<u8>, u64) {
        let body = Chunks(chunks);
        let len = hyper::body::Body::size_hint(&body).exact().unwrap();
        (body.collect().await.unwrap().to_bytes().to_vec(), len)
    }

    /// Issue 22: a scraper without gzip is served the per-reading texts inflated from their compressed forms as
    /// the body is sent; the bytes are the text's (hostile label values included), those a gzip scraper decodes,
    /// with an exact length; and no plain copy of them is kept, before or after a new reading.
    #[tokio::test]
    async fn a_plain_body_is_the_text_inflated_and_keeps_no_plain_copy() {
        let renderer = metrics::Renderer::new(metrics::ALL_FAMILIES);
        for format in [Format::OpenMetrics, Format::Classic] {
            for (value, lapi) in [(3, reading(3000, 3)), (4, reading(3000, 4))] {
                let scrape = || Scrape::new(NOW).with(lapi.clone());
                let expected =
                    metrics::Renderer::new(metrics::ALL_FAMILIES).encode(scrape(), format);
                assert!(
                    expected.contains(&format!(
                    "bouncer=\"a\\\"b\\\\c\\nd-0\",origin=\"ü \u{1F600}\t\r\",remediation=\"ban\"}} {value}\n"
                )),
                    "{}",
                    expected.lines().filter(|l| l.contains("-0\"")).collect::<Vec<_>>().join("\n")
                );
                // The first scrape of a reading: the texts are there, compressed for it, then given up.
                let (plain, len) =
                    body(plain_chunks(renderer.shared(scrape(), format).await).await).await;
                assert_eq!(String::from_utf8(plain).unwrap(), expected);
                assert_eq!(len, expected.len() as u64);
                let kept = renderer.shared(scrape(), format).await;
                assert!(
                    kept.parts[..metrics::Exposition::PER_READING]
                        .iter()
                        .all(|p| p.text.is_empty()),
                    "no plain copy kept"
                );
                let (plain, _) = body(plain_chunks(kept).await).await;
                let (gz, gz_len) =
                    body(gzip_chunks(renderer.shared(scrape(), format).await).await).await;
                assert_eq!(gz_len, gz.len() as u64);
                let mut decoded = Vec::new();
                flate2::read::GzDecoder::new(&gz[..])
                    .read_to_end(&mut decoded)
                    .unwrap();
                assert_eq!(decoded, plain);
                assert_eq!(String::from_utf8(plain).unwrap(), expected);
            }
        }
    }

    /// The body hands out the inflated text a small chunk at a time (the buffer a plain response holds).
    #[tokio::test]
    async fn a_plain_body_comes_in_small_chunks() {
        let lapi = reading(2000, 1);
        let renderer = metrics::Renderer::new(metrics::ALL_FAMILIES);
        let mut body = Chunks(
            plain_chunks(
                renderer
                    .shared(Scrape::new(NOW).with(lapi), Format::Classic)
                    .await,
            )
            .await,
        );
        let (mut small, mut frames) = (0, 0);
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(!data.is_empty());
            // The per-second part (the last) is one shared chunk.
            small += usize::from(data.len() <= INFLATE_CHUNK);
            frames += 1;
        }
        assert!(small > 10 && small + 1 >= frames, "{small} of {frames}");
        assert!(hyper::body::Body::is_end_stream(&body));
    }
}
