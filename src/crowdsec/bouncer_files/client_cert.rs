//! A bouncer's client certificate (mTLS to the LAPI), read only for what the exporter needs: the subject CN, by
//! which LAPI names the bouncer (`<CN>@<ip>`, auth_type `tls`), and the expiry. PEM, as both the Go bouncers
//! (`tls.LoadX509KeyPair`) and the Lua ones (`ssl.parse_pem_cert`) read it; the first CERTIFICATE block is the
//! client's own.

use base64::Engine;
use x509_cert::der::Decode;

/// What the certificate says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CertInfo {
    /// Subject common name; `None` when the subject has none.
    pub cn: Option<String>,
    /// `notAfter`, Unix seconds.
    pub not_after: i64,
}

/// Why the bytes are not a certificate (no content of the file is quoted).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum CertError {
    #[error("holds no PEM `BEGIN CERTIFICATE` block")]
    NoPem,
    #[error("has a CERTIFICATE block that is not valid base64")]
    Base64,
    #[error("has a CERTIFICATE block that is not an X.509 certificate")]
    Der,
}

const CN_OID: &str = "2.5.4.3";

/// Reads the first PEM certificate of `pem`.
pub(crate) fn read_cert(pem: &[u8]) -> Result<CertInfo, CertError> {
    let text = String::from_utf8_lossy(pem);
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = text.find(begin).ok_or(CertError::NoPem)? + begin.len();
    let len = text[start..]
        .find("-----END CERTIFICATE-----")
        .ok_or(CertError::NoPem)?;
    let b64: String = text[start..start + len]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| CertError::Base64)?;
    let cert = x509_cert::Certificate::from_der(&der).map_err(|_| CertError::Der)?;
    let tbs = &cert.tbs_certificate;
    let cn = tbs
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid.to_string() == CN_OID)
        .map(|atv| String::from_utf8_lossy(atv.value.value()).into_owned());
    let not_after = tbs.validity.not_after.to_unix_duration().as_secs() as i64;
    Ok(CertInfo { cn, not_after })
}
