//! TLS to a LAPI's PostgreSQL or MySQL/MariaDB server: what a `sslmode` / `tls` value means, the rustls client
//! configuration for PostgreSQL (aws-lc-rs, no system roots: trust is the CA file given), and plain-words
//! explanations of certificate failures.
//!
//! Modes follow libpq: `require` encrypts without checking the certificate, unless a root certificate is given,
//! in which case it checks the chain like `verify-ca`; `verify-full` also checks the host name. The MySQL Go
//! driver's names map onto them: `true` = verify-full, `skip-verify` = require, `preferred` = prefer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::values::pem::{self, Pem};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto::{aws_lc_rs, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};

/// Whether to encrypt, and what to check of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsMode {
    Disable,
    /// TLS when the server offers it (libpq allow/prefer, Go `preferred`).
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// What to verify once the mode and the CA file are combined (libpq's rule for a given root certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    Nothing,
    Chain,
    ChainAndHost,
}

impl TlsMode {
    /// `sslmode` (PostgreSQL and MySQL spellings) or the Go driver's `tls` value; `None` = disable, as the
    /// exporter never guessed before.
    pub(crate) fn parse(value: Option<&str>) -> Result<TlsMode, String> {
        Ok(match value.map(str::to_ascii_lowercase).as_deref() {
            None | Some("" | "disable" | "disabled" | "false" | "0") => TlsMode::Disable,
            Some("allow" | "prefer" | "preferred") => TlsMode::Prefer,
            Some("require" | "required" | "skip-verify") => TlsMode::Require,
            Some("verify-ca" | "verify_ca") => TlsMode::VerifyCa,
            Some("verify-full" | "verify_identity" | "verify-identity" | "true" | "1") => {
                TlsMode::VerifyFull
            }
            Some(other) => {
                return Err(format!(
                "unknown TLS mode {other:?} (sslmode disable/allow/prefer/require/verify-ca/verify-full, or tls=false/preferred/skip-verify/true)"
            ))
            }
        })
    }

    pub(crate) fn verify(self, has_ca: bool) -> Verify {
        match self {
            TlsMode::VerifyFull => Verify::ChainAndHost,
            TlsMode::VerifyCa => Verify::Chain,
            _ if has_ca => Verify::Chain,
            _ => Verify::Nothing,
        }
    }
}

/// Certificate files: CrowdSec 1.7's `ssl_ca_cert`, `ssl_client_cert`, `ssl_client_key` or the URL's
/// `sslrootcert`, `sslcert`, `sslkey`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl TlsFiles {
    /// The client certificate and key, both or neither.
    pub(crate) fn identity(&self) -> Result<Option<(&Path, &Path)>, String> {
        match (&self.client_cert, &self.client_key) {
            (Some(c), Some(k)) => Ok(Some((c, k))),
            (None, None) => Ok(None),
            _ => Err("a client certificate needs its key and the key its certificate (ssl_client_cert and ssl_client_key)".to_owned()),
        }
    }
}

/// Checks a mode against the files: the verify modes need a CA (no system roots are consulted).
pub(crate) fn check(mode: TlsMode, files: &TlsFiles) -> Result<(), String> {
    if matches!(mode, TlsMode::VerifyCa | TlsMode::VerifyFull) && files.ca.is_none() {
        return Err(
            "TLS with certificate verification needs the CA certificate: set ssl_ca_cert (db_config) or sslrootcert (URL)"
                .to_owned(),
        );
    }
    files.identity().map(|_| ())
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

/// The rustls client configuration for `mode` (not `Disable`) and `files`. Errors name the file, not its bytes.
pub(crate) fn client_config(mode: TlsMode, files: &TlsFiles) -> Result<ClientConfig, String> {
    check(mode, files)?;
    let mut roots = RootCertStore::empty();
    if let Some(ca) = &files.ca {
        let ca_pem = Pem::File(ca.clone());
        for cert in pem::certificates("CA certificate", &ca_pem).map_err(|e| e.to_string())? {
            roots
                .add(cert)
                .map_err(|e| format!("CA certificate {}: {e}", ca.display()))?;
        }
    }
    let verifier = Arc::new(Verifier {
        verify: mode.verify(files.ca.is_some()),
        webpki: if roots.is_empty() {
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                    .build()
                    .map_err(|e| format!("CA certificate: {e}"))?,
            )
        },
        provider: provider(),
    });
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match files.identity()? {
        Some((cert, key)) => {
            let chain = pem::certificates("client certificate", &Pem::File(cert.to_owned()))
                .map_err(|e| e.to_string())?;
            let key = pem::private_key("client key", &Pem::File(key.to_owned()))
                .map_err(|e| e.to_string())?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate {}: {e}", cert.display()))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// Checks the chain against the given CA (and the host name under `ChainAndHost`); handshake signatures are
/// always checked, so even `require` talks to whoever holds the presented certificate's key.
#[derive(Debug)]
struct Verifier {
    verify: Verify,
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let webpki = match (self.verify, &self.webpki) {
            (Verify::Nothing, _) => return Ok(ServerCertVerified::assertion()),
            (_, Some(w)) => w,
            (_, None) => return Err(Error::General("no CA certificate to verify with".into())),
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            // The chain is checked before the name: a name error means the chain was good.
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.verify == Verify::Chain => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        tokio_rustls::rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        tokio_rustls::rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A plain-words name for a TLS failure found in a driver's message, or `None` when the message is not about
/// TLS.
pub(crate) fn explain(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    let known = [
        (
            "unknownissuer",
            "the server's certificate is not signed by the given CA (unknown CA)",
        ),
        (
            "unknown issuer",
            "the server's certificate is not signed by the given CA (unknown CA)",
        ),
        (
            "certificate expired",
            "the server's certificate has expired",
        ),
        // rustls prints the variant without context as `Expired` (MySQL's "password has expired" is not TLS).
        (
            "certificate: expired",
            "the server's certificate has expired",
        ),
        ("not valid yet", "the server's certificate is not valid yet"),
        (
            "not valid for name",
            "host name mismatch: the server's certificate does not name the host connected to",
        ),
        (
            "notvalidforname",
            "host name mismatch: the server's certificate does not name the host connected to",
        ),
        (
            "server does not have this capability",
            "the server does not offer TLS",
        ),
        (
            "server does not support tls",
            "the server does not offer TLS",
        ),
        (
            "no pg_hba.conf entry",
            "refused by the server's pg_hba.conf (does it require TLS, or a client certificate?)",
        ),
        // `hostnossl ... reject`, the usual way to demand TLS (PostgreSQL 15 auth.c: "pg_hba.conf rejects
        // connection for host ..., no encryption").
        (
            "pg_hba.conf rejects connection",
            "refused by the server's pg_hba.conf (does it require TLS?)",
        ),
        (
            "certificate required",
            "the server requires a client certificate",
        ),
        (
            "requires a valid client certificate",
            "the server requires a client certificate",
        ),
        ("tls handshake", "TLS handshake failed"),
        (
            "invalid peer certificate",
            "the server's certificate was rejected",
        ),
        (
            "received fatal alert",
            "the server rejected the TLS handshake",
        ),
    ];
    known.iter().find(|(k, _)| m.contains(k)).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_libpq_and_the_go_driver() {
        assert_eq!(TlsMode::parse(None).unwrap(), TlsMode::Disable);
        assert_eq!(TlsMode::parse(Some("false")).unwrap(), TlsMode::Disable);
        assert_eq!(TlsMode::parse(Some("preferred")).unwrap(), TlsMode::Prefer);
        assert_eq!(
            TlsMode::parse(Some("skip-verify")).unwrap(),
            TlsMode::Require
        );
        assert_eq!(TlsMode::parse(Some("true")).unwrap(), TlsMode::VerifyFull);
        assert_eq!(
            TlsMode::parse(Some("Verify-CA")).unwrap(),
            TlsMode::VerifyCa
        );
        assert!(TlsMode::parse(Some("maybe")).is_err());
        assert_eq!(TlsMode::Require.verify(false), Verify::Nothing);
        assert_eq!(TlsMode::Require.verify(true), Verify::Chain);
        assert_eq!(TlsMode::VerifyFull.verify(true), Verify::ChainAndHost);
        let no_ca = TlsFiles::default();
        assert!(check(TlsMode::VerifyFull, &no_ca)
            .unwrap_err()
            .contains("ssl_ca_cert"));
        assert!(check(TlsMode::Require, &no_ca).is_ok());
        let half = TlsFiles {
            client_cert: Some("/c.pem".into()),
            ..TlsFiles::default()
        };
        assert!(check(TlsMode::Require, &half).is_err());
    }

    #[test]
    fn unreadable_files_are_named() {
        let files = TlsFiles {
            ca: Some("/nonexistent/ca.pem".into()),
            ..TlsFiles::default()
        };
        let e = client_config(TlsMode::VerifyFull, &files).unwrap_err();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        assert_eq!(explain("Your password has expired"), None);
        assert!(explain("invalid peer certificate: Expired")
            .unwrap()
            .contains("expired"));
    }
}
