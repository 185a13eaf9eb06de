//! TLS for the HTTP server: the rustls configuration built from the checked web config (aws-lc-rs, the provider
//! reqwest already brings). Certificates and keys are read by [`crate::values::pem`], shared with the database clients.

use std::sync::Arc;

use tokio_rustls::rustls::crypto::{aws_lc_rs, CryptoProvider};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};

use crate::values::pem::{self, Pem, PemError};

/// Why the TLS configuration cannot be built. Never carries key material (see [`crate::values::pem`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error("{0}")]
    Pem(#[from] PemError),
    #[error("{0}")]
    Config(String),
}

/// `client_auth_type`: which client certificates the server asks for and verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// `NoClientCert` (default).
    None,
    /// `VerifyClientCertIfGiven`.
    VerifyIfGiven,
    /// `RequireAndVerifyClientCert`.
    Require,
}

/// `min_version` / `max_version`: the versions rustls speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TlsVersion {
    Tls12,
    Tls13,
}

/// The checked TLS part of the web config file (see [`super::web_config`]), ready for [`build`].
#[derive(Debug, Clone)]
pub(crate) struct TlsSettings {
    pub cert: Pem,
    pub key: Pem,
    pub client_ca: Option<Pem>,
    pub client_auth: ClientAuth,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    /// TLS 1.2 suites by rustls name (TLS 1.3 suites are not configurable, as in Go); empty = rustls' defaults.
    pub cipher_suites: Vec<String>,
    pub prefer_server_cipher_suites: bool,
    /// Key exchange groups by rustls name, in preference order; empty = rustls' defaults.
    pub curves: Vec<String>,
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
///
/// # Errors
/// [`TlsError::Pem`] for a file that cannot be read or parsed, [`TlsError::Config`] for a cipher suite, curve or
/// version rustls lacks, or a certificate that does not match its key.
pub(crate) fn build(s: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
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
            for c in pem::certificates("client CA", ca)? {
                roots
                    .add(c)
                    .map_err(|e| PemError::new("client CA", ca, e.to_string()))?;
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
        .with_single_cert(
            pem::certificates("certificate", &s.cert)?,
            pem::private_key("key", &s.key)?,
        )
        .map_err(|e| TlsError::Config(format!("certificate and key: {e}")))?;
    config.ignore_client_order = s.prefer_server_cipher_suites;
    // HTTP/1.1 only: a client offering h2 and http/1.1 (Prometheus) gets http/1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::secret::Secret;

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
