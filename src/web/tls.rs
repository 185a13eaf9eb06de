//! TLS for the HTTP server: a rustls configuration from the checked web config (aws-lc-rs, the provider reqwest
//! already brings), and the handshake of one connection, bounded in time.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::rustls::crypto::{aws_lc_rs, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

use crate::web_config::{ClientAuth, Pem, TlsSettings, TlsVersion};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what} {source_name}: {message}")]
    Pem {
        what: &'static str,
        source_name: String,
        message: String,
    },
    #[error("{0}")]
    Config(String),
}

fn describe(pem: &Pem) -> String {
    match pem {
        Pem::File(p) => p.display().to_string(),
        Pem::Inline(_) => "(inline)".to_owned(),
    }
}

fn certs(what: &'static str, pem: &Pem) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |message: String| TlsError::Pem {
        what,
        source_name: describe(pem),
        message,
    };
    let certs: Result<Vec<_>, _> = match pem {
        Pem::File(p) => CertificateDer::pem_file_iter(p)
            .map_err(|e| err(e.to_string()))?
            .collect(),
        Pem::Inline(s) => CertificateDer::pem_slice_iter(s.expose().as_bytes()).collect(),
    };
    let certs = certs.map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in it".into()));
    }
    Ok(certs)
}

fn key(pem: &Pem) -> Result<PrivateKeyDer<'static>, TlsError> {
    let key = match pem {
        Pem::File(p) => PrivateKeyDer::from_pem_file(p),
        Pem::Inline(s) => PrivateKeyDer::from_pem_slice(s.expose().as_bytes()),
    };
    // The pem error names the file or says what is missing; it never carries key material.
    key.map_err(|e| TlsError::Pem {
        what: "key",
        source_name: describe(pem),
        message: e.to_string(),
    })
}

fn provider(s: &TlsSettings) -> Result<CryptoProvider, TlsError> {
    let mut p = aws_lc_rs::default_provider();
    if !s.cipher_suites.is_empty() {
        let name = |c: &rustls::SupportedCipherSuite| format!("{:?}", c.suite());
        let tls12: Vec<String> = p
            .cipher_suites
            .iter()
            .filter(|c| c.tls13().is_none())
            .map(name)
            .collect();
        if let Some(unknown) = s.cipher_suites.iter().find(|w| !tls12.contains(w)) {
            return Err(TlsError::Config(format!(
                "cipher_suites: {unknown} is not available (rustls offers: {})",
                tls12.join(", ")
            )));
        }
        // As in Go, the list orders and limits the TLS 1.2 suites; TLS 1.3 suites stay.
        let mut suites: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|c| c.tls13().is_some())
            .copied()
            .collect();
        for wanted in &s.cipher_suites {
            suites.extend(
                p.cipher_suites
                    .iter()
                    .filter(|c| &name(c) == wanted)
                    .copied(),
            );
        }
        p.cipher_suites = suites;
    }
    if !s.curves.is_empty() {
        let name = |g: &&'static dyn rustls::crypto::SupportedKxGroup| format!("{:?}", g.name());
        let known: Vec<String> = p.kx_groups.iter().map(name).collect();
        let mut groups = Vec::new();
        for wanted in &s.curves {
            match p.kx_groups.iter().find(|g| &name(g) == wanted) {
                Some(g) => groups.push(*g),
                None => {
                    return Err(TlsError::Config(format!(
                        "curve_preferences: {wanted} is not available (rustls offers: {})",
                        known.join(", ")
                    )))
                }
            }
        }
        p.kx_groups = groups;
    }
    Ok(p)
}

/// The rustls server configuration for `s`; reads the certificate, key and client CA.
pub fn build(s: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(provider(s)?);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (s.min_version..=s.max_version).contains(v))
    .map(|(_, p)| p)
    .collect();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match (&s.client_ca, s.client_auth) {
        (Some(ca), ClientAuth::VerifyIfGiven | ClientAuth::Require) => {
            let mut roots = RootCertStore::empty();
            for c in certs("client CA", ca)? {
                roots.add(c).map_err(|e| TlsError::Pem {
                    what: "client CA",
                    source_name: describe(ca),
                    message: e.to_string(),
                })?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = if s.client_auth == ClientAuth::VerifyIfGiven {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder
                .with_client_cert_verifier(v.build().map_err(|e| TlsError::Config(e.to_string()))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs("certificate", &s.cert)?, key(&s.key)?)
        .map_err(|e| TlsError::Config(format!("certificate and key: {e}")))?;
    config.ignore_client_order = s.prefer_server_cipher_suites;
    // HTTP/1.1 only: a client offering h2 and http/1.1 (Prometheus) gets http/1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What a plain-HTTP client gets on the TLS port (as Go's servers answer).
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Handshakes within `timeout`. A client speaking plain HTTP gets a 400 and the connection is closed.
pub async fn accept(
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
            Ok(s) => Some(s),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn settings(suites: &[&str], curves: &[&str]) -> TlsSettings {
        TlsSettings {
            cert: Pem::Inline(Secret::default()),
            key: Pem::Inline(Secret::default()),
            client_ca: None,
            client_auth: ClientAuth::None,
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            cipher_suites: suites.iter().map(|s| s.to_string()).collect(),
            prefer_server_cipher_suites: true,
            curves: curves.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn cipher_suites_limit_tls12_in_the_given_order_and_keep_tls13() {
        let p = provider(&settings(
            &[
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            ],
            &[],
        ))
        .unwrap();
        let tls12: Vec<String> = p
            .cipher_suites
            .iter()
            .filter(|c| c.tls13().is_none())
            .map(|c| format!("{:?}", c.suite()))
            .collect();
        assert_eq!(
            tls12,
            [
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
            ]
        );
        assert!(p.cipher_suites.iter().any(|c| c.tls13().is_some()));
        let e = provider(&settings(&["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"], &[])).unwrap_err();
        assert!(e.to_string().contains("is not available"), "{e}");
    }

    #[test]
    fn curve_preferences_select_and_order_the_groups() {
        let p = provider(&settings(&[], &["secp384r1", "X25519"])).unwrap();
        let names: Vec<String> = p
            .kx_groups
            .iter()
            .map(|g| format!("{:?}", g.name()))
            .collect();
        assert_eq!(names, ["secp384r1", "X25519"]);
        assert!(provider(&settings(&[], &["secp521r1"])).is_err());
    }
}
