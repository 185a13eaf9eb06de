//! PEM certificates and private keys, read once for every TLS user (the HTTP server's `--web.config.file`, the
//! database clients' CA and client certificates), with errors that name the file but never quote its bytes.
//!
//! Parsing is rustls-pki-types' ([`PemObject`]); this module only chooses the source and words the errors: its
//! `pem::Error` may quote a line of the file (`IllegalSectionStart`) or a decoded symbol (`Base64Decode`), which in
//! a key file is key material, so those variants become "not valid PEM".

use std::path::{Path, PathBuf};

use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::values::secret::Secret;

/// Where PEM text comes from: a file (re-read whenever asked, so a rotated file is picked up) or text given inline
/// (the web config's `cert`, `key`, `client_ca`; kept as a [`Secret`] since it may be a key).
#[derive(Debug, Clone)]
pub enum Pem {
    /// A PEM file, re-read on every use.
    File(PathBuf),
    /// PEM text given inline.
    Inline(Secret),
}

impl Pem {
    /// How errors name it: the path, or `(inline)`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Pem::File(p) => p.display().to_string(),
            Pem::Inline(_) => "(inline)".to_owned(),
        }
    }
}

/// A PEM source that could not be used. Displays as `{what} {source}: {problem}`, e.g.
/// `certificate /etc/exporter/cert.pem: cannot read it: it does not exist`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {source_name}: {problem}")]
pub struct PemError {
    /// What the caller wanted: `certificate`, `key`, `client CA`, `CA certificate`, ...
    pub what: &'static str,
    /// [`Pem::describe`] of the source.
    pub source_name: String,
    /// Plain words, never the file's bytes.
    pub problem: String,
}

impl PemError {
    /// An error about `pem` that is not a parse error (e.g. rustls refusing a parsed certificate).
    pub(crate) fn new(what: &'static str, pem: &Pem, problem: impl Into<String>) -> Self {
        PemError {
            what,
            source_name: pem.describe(),
            problem: problem.into(),
        }
    }
}

/// Words for a pki-types error that quote nothing from the file.
fn problem(e: &pem::Error, missing: &str) -> String {
    match e {
        pem::Error::Io(io) => format!("cannot read it: {io}"),
        pem::Error::NoItemsFound => missing.to_owned(),
        pem::Error::SectionTooLarge => "a PEM section is too large".to_owned(),
        _ => "not valid PEM".to_owned(),
    }
}

/// The bytes of a PEM file, through the exporter's one non-blocking reader (a FIFO is refused, not waited on).
fn read(what: &'static str, pem: &Pem, path: &Path) -> Result<Vec<u8>, PemError> {
    super::file::read_regular(path, super::file::PEM_FILE_BYTES)
        .map_err(|e| PemError::new(what, pem, format!("cannot read it: it {e}")))
}

/// Every certificate in `pem`, in order (leaf first for a chain).
///
/// # Errors
/// The source cannot be read, is not valid PEM, or holds no `CERTIFICATE` section.
pub fn certificates(
    what: &'static str,
    pem: &Pem,
) -> Result<Vec<CertificateDer<'static>>, PemError> {
    const MISSING: &str = "no PEM certificate in it";
    let certs: Result<Vec<_>, pem::Error> = match pem {
        Pem::File(p) => {
            let bytes = read(what, pem, p)?;
            CertificateDer::pem_slice_iter(&bytes).collect()
        }
        Pem::Inline(s) => CertificateDer::pem_slice_iter(s.expose().as_bytes()).collect(),
    };
    let certs = certs.map_err(|e| PemError::new(what, pem, problem(&e, MISSING)))?;
    if certs.is_empty() {
        return Err(PemError::new(what, pem, MISSING));
    }
    Ok(certs)
}

/// The first private key in `pem` (PKCS#8, PKCS#1 or SEC1).
///
/// # Errors
/// The source cannot be read, is not valid PEM, or holds no private key section.
pub fn private_key(what: &'static str, pem: &Pem) -> Result<PrivateKeyDer<'static>, PemError> {
    let key = match pem {
        Pem::File(p) => PrivateKeyDer::from_pem_slice(&read(what, pem, p)?),
        Pem::Inline(s) => PrivateKeyDer::from_pem_slice(s.expose().as_bytes()),
    };
    key.map_err(|e| PemError::new(what, pem, problem(&e, "no PEM private key in it")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inline(text: &str) -> Pem {
        Pem::Inline(Secret::new(text))
    }

    #[test]
    fn reads_certificates_and_keys_from_files_and_inline_text() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("both.pem");
        std::fs::write(&file, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
        for pem in [
            Pem::File(file),
            inline(&(cert.pem() + &key.serialize_pem())),
        ] {
            let certs = certificates("certificate", &pem).unwrap();
            assert_eq!(certs.len(), 1);
            assert_eq!(certs[0].as_ref(), cert.der().as_ref());
            assert!(private_key("key", &pem).is_ok());
        }
    }

    #[test]
    fn errors_name_the_source_and_never_quote_its_bytes() {
        let e = certificates("client CA", &Pem::File("/nonexistent/ca.pem".into())).unwrap_err();
        assert_eq!(e.what, "client CA");
        let text = e.to_string();
        assert!(
            text.starts_with("client CA /nonexistent/ca.pem: cannot read it: "),
            "{text}"
        );
        assert_eq!(
            certificates("certificate", &inline("nothing here"))
                .unwrap_err()
                .to_string(),
            "certificate (inline): no PEM certificate in it"
        );
        assert_eq!(
            private_key("key", &inline("")).unwrap_err().to_string(),
            "key (inline): no PEM private key in it"
        );
        // A broken key: pki-types' own message would quote the bad symbol or line.
        for broken in [
            "-----BEGIN PRIVATE KEY-----\nMIIE!SECRETBYTES\n-----END PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----SECRETBYTES\n",
        ] {
            let text = private_key("key", &inline(broken)).unwrap_err().to_string();
            assert!(!text.contains("SECRET"), "{text}");
            assert!(text.starts_with("key (inline): "), "{text}");
        }
    }
}
