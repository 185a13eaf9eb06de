//! Check `endpoint_reachable`'s request ([`endpoint_probe::probe`]) against local servers on 127.0.0.1: plain HTTP and
//! TLS (rcgen certificates, tokio-rustls), a LAPI's `GET /health` and a Blocklist-as-a-Service host's `HEAD /`.
//! Each failure names the layer that failed (dns, tcp, tls, http); no request carries a key or leaves the root.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::servers::Pki;
use crowdsec_bouncer_exporter::crowdsec::bouncer_files::reachability::{Endpoint, EndpointKind};
use crowdsec_bouncer_exporter::sources::endpoint_probe;
use crowdsec_bouncer_exporter::values::pem::{self, Pem};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

const TIMEOUT: Duration = Duration::from_secs(1);

/// How a test server behaves on each connection.
#[derive(Clone, Copy)]
enum Answer {
    /// Answers this status to every request.
    Status(u16),
    /// Accepts the TCP connection and says nothing.
    Silent,
}

struct Server {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

async fn server(answer: Answer, tls: Option<(&Pki, &str)>) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tls.map(|(pki, name)| {
        let certs =
            pem::certificates("cert", &Pem::File(pki.path(&format!("{name}.pem")))).unwrap();
        let key = pem::private_key("key", &Pem::File(pki.path(&format!("{name}.key")))).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                if let Answer::Silent = answer {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    drop(tcp);
                    return;
                }
                match acceptor {
                    Some(a) => {
                        if let Ok(s) = a.accept(tcp).await {
                            respond(s, answer, seen).await;
                        }
                    }
                    None => respond(tcp, answer, seen).await,
                }
            });
        }
    });
    Server { port, heads }
}

async fn respond<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    answer: Answer,
    seen: Arc<Mutex<Vec<String>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let Answer::Status(code) = answer else {
        return;
    };
    let body = if head.starts_with("GET /health ") && code == 200 {
        r#"{"status":"up"}"#
    } else {
        ""
    };
    seen.lock().unwrap().push(head);
    let _ = s
        .write_all(
            format!(
                "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await;
    let _ = s.shutdown().await;
}

/// The exporter's own client (timeouts, no redirects, no default headers), trusting `ca` when given.
fn client(ca: Option<&std::path::Path>) -> reqwest::Client {
    let b = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    match ca {
        Some(ca) => b
            .tls_certs_only([reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap()])
            .build()
            .unwrap(),
        None => b.build().unwrap(),
    }
}

fn at(kind: EndpointKind, url: &str) -> Endpoint {
    Endpoint {
        kind,
        url: reqwest::Url::parse(url).unwrap(),
        trust: Default::default(),
    }
}

#[tokio::test]
async fn a_lapi_is_asked_health_over_http_and_each_failing_layer_is_named() {
    let c = client(None);
    let up = server(Answer::Status(200), None).await;
    let lapi = at(
        EndpointKind::Lapi,
        &format!("http://127.0.0.1:{}/", up.port),
    );
    let ok = endpoint_probe::probe(&c, &lapi, TIMEOUT).await.unwrap();
    assert_eq!(
        ok,
        format!("GET http://127.0.0.1:{}/health answered 200", up.port)
    );
    let heads = up.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    assert!(
        heads[0].starts_with("GET /health HTTP/1.1\r\n"),
        "{heads:?}"
    );
    assert!(
        !heads[0].to_ascii_lowercase().contains("api-key")
            && !heads[0].to_ascii_lowercase().contains("authorization"),
        "no credential: {heads:?}"
    );

    // Not a LAPI: HTTP answers, but 404.
    let other = server(Answer::Status(404), None).await;
    let e = endpoint_probe::probe(
        &c,
        &at(
            EndpointKind::Lapi,
            &format!("http://127.0.0.1:{}/", other.port),
        ),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("http: GET http://127.0.0.1:"), "{e}");
    assert!(e.contains("answered 404: is this a CrowdSec LAPI?"), "{e}");

    // Nothing listens: tcp, refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = endpoint_probe::probe(
        &c,
        &at(EndpointKind::Lapi, &format!("http://127.0.0.1:{port}/")),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        format!("tcp: connection refused by 127.0.0.1:{port}: nothing listens there")
    );

    // Accepts, never answers: http, within the timeout.
    let silent = server(Answer::Silent, None).await;
    let started = Instant::now();
    let e = endpoint_probe::probe(
        &c,
        &at(
            EndpointKind::Lapi,
            &format!("http://127.0.0.1:{}/", silent.port),
        ),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert!(
        e.starts_with(&format!(
            "http: 127.0.0.1:{} accepts TCP connections but GET",
            silent.port
        )),
        "{e}"
    );
    assert!(e.ends_with("got no answer within 1s"), "{e}");
    assert!(started.elapsed() < 4 * TIMEOUT, "{:?}", started.elapsed());

    // A name that resolves nowhere (RFC 6761 reserves .invalid).
    let e = endpoint_probe::probe(
        &c,
        &at(EndpointKind::Lapi, "http://lapi.nonexistent.invalid:8080/"),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("dns: lapi.nonexistent.invalid "), "{e}");
}

#[tokio::test]
async fn tls_failures_are_named_tls() {
    let pki = Pki::new();
    let good = server(Answer::Status(200), Some((&pki, "server"))).await;
    let url = format!("https://127.0.0.1:{}/", good.port);
    let trusted = client(Some(&pki.path("ca.pem")));
    assert!(
        endpoint_probe::probe(&trusted, &at(EndpointKind::Lapi, &url), TIMEOUT)
            .await
            .is_ok()
    );
    // The exporter does not trust the issuer.
    let stranger = client(Some(&pki.path("other-ca.pem")));
    let e = endpoint_probe::probe(&stranger, &at(EndpointKind::Lapi, &url), TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        e.starts_with(&format!(
            "tls: the handshake with 127.0.0.1:{} failed: ",
            good.port
        )),
        "{e}"
    );
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    // Expired.
    let expired = server(Answer::Status(200), Some((&pki, "expired"))).await;
    let e = endpoint_probe::probe(
        &trusted,
        &at(
            EndpointKind::Lapi,
            &format!("https://127.0.0.1:{}/", expired.port),
        ),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert!(
        e.starts_with("tls: ") && e.to_lowercase().contains("expired"),
        "{e}"
    );
    // TCP accepted, no handshake: tls (or the request after it), never "tcp".
    let silent = server(Answer::Silent, None).await;
    let e = endpoint_probe::probe(
        &trusted,
        &at(
            EndpointKind::Lapi,
            &format!("https://127.0.0.1:{}/", silent.port),
        ),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("tls: 127.0.0.1:"), "{e}");
}

/// A LAPI behind a private CA is reachable for a bouncer whose file names that CA (`ca_cert_path`, added to the
/// system's roots as go-cs-bouncer tls.go getCertPool does at 5e664e66) or skips verification
/// (`insecure_skip_verify`, client.go): the probe verifies as the bouncer does, so such a LAPI is never called
/// unreachable. The exporter's own client here trusts only the system's roots.
#[tokio::test]
async fn a_private_ca_the_bouncer_trusts_is_trusted_by_the_probe() {
    use crowdsec_bouncer_exporter::crowdsec::bouncer_files::Trust;
    let pki = Pki::new();
    let good = server(Answer::Status(200), Some((&pki, "server"))).await;
    let url = format!("https://127.0.0.1:{}/", good.port);
    let system = client(None);
    let with = |trust: Trust| Endpoint {
        trust,
        ..at(EndpointKind::Lapi, &url)
    };
    let e = endpoint_probe::probe(&system, &with(Trust::default()), TIMEOUT)
        .await
        .unwrap_err();
    assert!(e.starts_with("tls: "), "{e}");
    let ca = Trust {
        ca: Some(pki.path("ca.pem")),
        insecure: false,
    };
    let ok = endpoint_probe::probe(&system, &with(ca), TIMEOUT).await;
    assert!(
        ok.as_deref().is_ok_and(|a| a.contains("answered 200")),
        "{ok:?}"
    );
    let other = Trust {
        ca: Some(pki.path("other-ca.pem")),
        insecure: false,
    };
    let e = endpoint_probe::probe(&system, &with(other), TIMEOUT)
        .await
        .unwrap_err();
    assert!(e.starts_with("tls: the handshake"), "{e}");
    let insecure = Trust {
        ca: None,
        insecure: true,
    };
    assert!(endpoint_probe::probe(&system, &with(insecure), TIMEOUT)
        .await
        .is_ok());
    let missing = Trust {
        ca: Some(pki.path("absent.pem")),
        insecure: false,
    };
    let e = endpoint_probe::probe(&system, &with(missing), TIMEOUT)
        .await
        .unwrap_err();
    assert!(e.starts_with("tls: cannot read the CA file "), "{e}");
}

/// The Blocklist-as-a-Service host is asked as CrowdSec's troubleshooting page does (`curl -I https://<host>/`):
/// HEAD of the root, any non-5xx answer proves TCP + TLS + HTTP; nothing under /v1 is requested.
#[tokio::test]
async fn a_service_api_host_is_asked_head_of_its_root() {
    let pki = Pki::new();
    let c = client(Some(&pki.path("ca.pem")));
    let gateway = server(Answer::Status(403), Some((&pki, "server"))).await;
    let root = at(
        EndpointKind::ServiceApi,
        &format!("https://127.0.0.1:{}/", gateway.port),
    );
    let ok = endpoint_probe::probe(&c, &root, TIMEOUT).await.unwrap();
    assert_eq!(
        ok,
        format!("HEAD https://127.0.0.1:{}/ answered 403", gateway.port)
    );
    let heads = gateway.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    assert!(heads[0].starts_with("HEAD / HTTP/1.1\r\n"), "{heads:?}");
    assert!(!heads[0].contains("/v1"), "{heads:?}");
    let down = server(Answer::Status(503), Some((&pki, "server"))).await;
    let e = endpoint_probe::probe(
        &c,
        &at(
            EndpointKind::ServiceApi,
            &format!("https://127.0.0.1:{}/", down.port),
        ),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert_eq!(
        e,
        format!("http: HEAD https://127.0.0.1:{}/ answered 503", down.port)
    );
}
