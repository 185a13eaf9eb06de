//! `--web.config.file`: Prometheus exporter-toolkit's web configuration format (TLS, client certificates, basic
//! auth with bcrypt hashes, response headers), so an operator's existing file works as is.
//!
//! Parsed strictly (unknown keys are errors with their line), then checked whole (TLS files read, a rustls config
//! built) so a bad file is refused before listening. Reload: [`super::reload`]; rules: [`super::server_tls`],
//! [`super::auth`] (users), [`super::edge`] (response headers).
//!
//! Keys the toolkit knows but this exporter cannot honour are refused, not silently ignored (security settings):
//! `client_allowed_sans`, `client_auth_type` `RequestClientCert`/`RequireAnyClientCert` (unverified certificates),
//! cipher suites rustls lacks (CBC, RSA key exchange), TLS 1.0/1.1 `max_version`, `rate_limit` with an interval.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::policy::{Policy, TlsPolicy};
use super::server_tls::{ClientAuth, TlsSettings, TlsVersion};
use crate::values::pem::Pem;
use crate::values::secret::Secret;

/// Why a `--web.config.file` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// It cannot be read.
    #[error("web config file {path}: cannot read it: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid YAML, or an unknown key.
    #[error("web config file {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// serde_yaml_ng's message, which names the key and the line (never a value: no secret).
        message: String,
    },
    /// A value this exporter refuses.
    #[error("web config file {path}: {key}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, dotted.
        key: &'static str,
        /// Why.
        message: String,
    },
}

/// The file as written; every key the toolkit documents, nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, SecretString>>,
    rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<SecretString>,
    client_ca: Option<String>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_ca_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    /// Accepted for compatibility; the exporter speaks HTTP/1.1 (all Prometheus needs).
    #[allow(dead_code)]
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    interval: Option<String>,
    #[allow(dead_code)]
    burst: Option<u64>,
}

/// A string read straight into a [`Secret`].
#[derive(Debug)]
struct SecretString(Secret);

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| SecretString(Secret::new(s)))
    }
}

/// A checked, loaded configuration: what the server applies to each connection and request.
pub struct WebConfig {
    /// TLS settings, when `tls_server_config` is given.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// User name -> bcrypt hash. `None`: no authentication.
    pub users: Option<BTreeMap<String, Secret>>,
    /// `http_server_config.headers`, added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Files whose change triggers a reload (TLS files; the config file itself is watched by
    /// [`super::reload::Live`]).
    pub(super) watched: Vec<PathBuf>,
    /// What a reload may not weaken (see [`super::policy`]).
    pub(crate) policy: Policy,
}

impl WebConfig {
    /// No file: plain HTTP, no authentication, no extra headers.
    pub(crate) fn open() -> Self {
        WebConfig {
            tls: None,
            users: None,
            headers: Vec::new(),
            watched: Vec::new(),
            policy: Policy::OPEN,
        }
    }
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field(
                "users",
                &self.users.as_ref().map(|u| u.keys().collect::<Vec<_>>()),
            )
            .field("headers", &self.headers)
            .field("policy", &self.policy)
            .finish()
    }
}

/// Reads and checks the file, and builds everything it names (TLS files are read here).
///
/// # Errors
/// [`WebConfigError::Read`] when the file cannot be read, [`WebConfigError::Syntax`] for YAML or unknown keys (with
/// the line), [`WebConfigError::Invalid`] naming the key for a value this exporter refuses, or TLS files that do not
/// make a working rustls configuration.
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let text = crate::values::yaml::read_capped(path).map_err(|e| WebConfigError::Read {
        path: path.to_owned(),
        source: match e {
            crate::values::yaml::ReadError::Io(source) => source,
            other => std::io::Error::other(other.to_string()),
        },
    })?;
    // A UTF-8 byte order mark in front is skipped, as the toolkit's YAML reader does (gopkg.in/yaml.v2 readerc.go,
    // yaml_parser_determine_encoding); serde_yaml_ng took it for a second document.
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    };
    if crate::values::yaml::too_deep(&text) {
        return Err(WebConfigError::Syntax {
            path: path.to_owned(),
            message: format!(
                "YAML collections nested deeper than {} levels",
                crate::values::yaml::MAX_FLOW_DEPTH
            ),
        });
    }
    // Deserialized directly (not as an Option) so that errors keep their line; an empty file is no settings.
    let raw: RawFile = match serde_yaml_ng::from_str(&text) {
        Ok(raw) => raw,
        Err(_)
            if matches!(
                serde_yaml_ng::from_str(&text),
                Ok(serde_yaml_ng::Value::Null)
            ) =>
        {
            RawFile::default()
        }
        Err(e) => {
            return Err(WebConfigError::Syntax {
                path: path.to_owned(),
                message: redact_strings(&e.to_string()),
            })
        }
    };
    let invalid = |key: &'static str, message: String| WebConfigError::Invalid {
        path: path.to_owned(),
        key,
        message,
    };
    // Relative file names are relative to the config file, as in the toolkit.
    let dir = path.parent().unwrap_or(Path::new("."));

    if let Some(r) = &raw.rate_limit {
        let interval = r.interval.as_deref().map(str::trim).unwrap_or("0");
        let zero = crate::values::duration::parse(interval).map(|d| d.is_zero());
        if zero != Ok(true) {
            return Err(invalid(
                "rate_limit",
                "not supported by this exporter (only an interval of 0, i.e. disabled); rate-limit in a reverse proxy".into(),
            ));
        }
    }

    let configured = raw
        .http_server_config
        .as_ref()
        .and_then(|h| h.headers.as_ref())
        .into_iter()
        .flatten();
    let headers = super::edge::response_headers(configured)
        .map_err(|m| invalid("http_server_config.headers", m))?;

    let users = match raw.basic_auth_users {
        None => None,
        Some(users) if users.is_empty() => None,
        Some(users) => Some(
            super::auth::check_users(users.into_iter().map(|(u, h)| (u, h.0)))
                .map_err(|m| invalid("basic_auth_users", m))?,
        ),
    };

    let (tls, watched, tls_policy) = match raw.tls_server_config.map(|t| tls_settings(t, dir)) {
        None | Some(Ok(None)) => (None, Vec::new(), None),
        Some(Err((key, message))) => return Err(invalid(key, message)),
        Some(Ok(Some(settings))) => {
            let config = super::server_tls::build(&settings)
                .map_err(|e| invalid("tls_server_config", e.to_string()))?;
            let watched = [
                Some(&settings.cert),
                Some(&settings.key),
                settings.client_ca.as_ref(),
            ]
            .into_iter()
            .flatten()
            .filter_map(|p| match p {
                Pem::File(f) => Some(f.clone()),
                Pem::Inline(_) => None,
            })
            .collect();
            let policy = TlsPolicy {
                min_version: settings.min_version,
                client_auth: settings.client_auth,
            };
            (Some(config), watched, Some(policy))
        }
    };
    let policy = Policy {
        tls: tls_policy,
        basic_auth: users.is_some(),
    };
    Ok(WebConfig {
        tls,
        users,
        headers,
        watched,
        policy,
    })
}

type Problem = (&'static str, String);

/// serde quotes a misplaced string value (`invalid type: string "...", expected a map`): it may be a hash or a
/// key, so the value is cut from the message.
fn redact_strings(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("string \"") {
        out.push_str(&rest[..i + "string ".len()]);
        let quoted = &rest[i + "string \"".len()..];
        let mut escaped = false;
        let end = quoted.char_indices().find(|&(_, c)| {
            let closing = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            closing
        });
        match end {
            Some((j, _)) => {
                out.push_str("(value not shown)");
                rest = &quoted[j + 1..];
            }
            None => {
                out.push_str("(value not shown)");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The TLS block, checked; `None` when it names no certificate nor client policy (the toolkit then serves HTTP).
fn tls_settings(mut t: RawTls, dir: &Path) -> Result<Option<TlsSettings>, Problem> {
    let nonempty = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
    let nonempty_path =
        |p: &Option<PathBuf>| p.as_deref().is_some_and(|p| !p.as_os_str().is_empty());
    let key_inline = t.key.as_ref().is_some_and(|k| !k.0.is_empty());
    if !nonempty(&t.cert)
        && !key_inline
        && !nonempty_path(&t.cert_file)
        && !nonempty_path(&t.key_file)
        && !nonempty(&t.client_ca)
        && !nonempty_path(&t.client_ca_file)
        && !nonempty(&t.client_auth_type)
    {
        return Ok(None);
    }
    let (cert, key, client_ca) = tls_pems(&mut t, dir)?;
    let client_auth = client_auth(&t, client_ca.is_some())?;
    if t.client_allowed_sans
        .as_ref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err((
            "tls_server_config.client_allowed_sans",
            "not supported by this exporter; restrict clients with a dedicated client_ca_file"
                .into(),
        ));
    }
    let min_version = tls_version(
        "tls_server_config.min_version",
        &t.min_version,
        TlsVersion::Tls12,
    )?;
    let max_version = tls_version(
        "tls_server_config.max_version",
        &t.max_version,
        TlsVersion::Tls13,
    )?;
    if min_version > max_version {
        return Err((
            "tls_server_config",
            "min_version is above max_version".into(),
        ));
    }
    let (cipher_suites, curves) = go_names(&mut t);
    Ok(Some(TlsSettings {
        cert,
        key,
        client_ca,
        client_auth,
        min_version,
        max_version,
        cipher_suites,
        prefer_server_cipher_suites: t.prefer_server_cipher_suites.unwrap_or(true),
        curves,
    }))
}

/// The certificate, its key and the client CAs: each inline or a file (relative to the web config's folder), not
/// both; the certificate and key are required.
fn tls_pems(t: &mut RawTls, dir: &Path) -> Result<(Pem, Pem, Option<Pem>), Problem> {
    let nonempty = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
    let nonempty_path =
        |p: &Option<PathBuf>| p.as_deref().is_some_and(|p| !p.as_os_str().is_empty());
    let key_inline = t.key.as_ref().is_some_and(|k| !k.0.is_empty());
    let file = |p: &PathBuf| Pem::File(dir.join(p));
    let cert = match (nonempty(&t.cert), nonempty_path(&t.cert_file)) {
        (true, true) => {
            return Err((
                "tls_server_config",
                "give cert or cert_file, not both".into(),
            ))
        }
        (true, false) => Pem::Inline(Secret::new(t.cert.clone().unwrap_or_default())),
        (false, true) => file(t.cert_file.as_ref().expect("checked")),
        (false, false) => return Err(("tls_server_config", "missing cert_file (or cert)".into())),
    };
    let key = match (key_inline, nonempty_path(&t.key_file)) {
        (true, true) => return Err(("tls_server_config", "give key or key_file, not both".into())),
        (true, false) => Pem::Inline(t.key.take().map(|k| k.0).unwrap_or_default()),
        (false, true) => file(t.key_file.as_ref().expect("checked")),
        (false, false) => return Err(("tls_server_config", "missing key_file (or key)".into())),
    };
    let client_ca = match (nonempty(&t.client_ca), nonempty_path(&t.client_ca_file)) {
        (true, true) => {
            return Err((
                "tls_server_config",
                "give client_ca or client_ca_file, not both".into(),
            ))
        }
        (true, false) => Some(Pem::Inline(Secret::new(
            t.client_ca.clone().unwrap_or_default(),
        ))),
        (false, true) => Some(file(t.client_ca_file.as_ref().expect("checked"))),
        (false, false) => None,
    };
    Ok((cert, key, client_ca))
}

/// `client_auth_type`, which needs client CAs exactly when it verifies certificates; the toolkit's two modes that
/// accept unverified certificates are refused.
fn client_auth(t: &RawTls, has_client_ca: bool) -> Result<ClientAuth, Problem> {
    let client_auth = match t.client_auth_type.as_deref().map(str::trim).unwrap_or("") {
        "" | "NoClientCert" => ClientAuth::None,
        "VerifyClientCertIfGiven" => ClientAuth::VerifyIfGiven,
        "RequireAndVerifyClientCert" => ClientAuth::Require,
        "RequestClientCert" | "RequireAnyClientCert" => {
            return Err((
                "tls_server_config.client_auth_type",
                format!(
                    "{:?} accepts certificates nobody verified and is not supported; use RequireAndVerifyClientCert with client_ca_file",
                    t.client_auth_type.clone().unwrap_or_default()
                ),
            ))
        }
        other => {
            return Err((
                "tls_server_config.client_auth_type",
                format!("unknown value {other:?} (NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)"),
            ))
        }
    };
    match (client_auth, has_client_ca) {
        (ClientAuth::None, true) => Err((
            "tls_server_config",
            "client CAs are configured without a client_auth_type (RequireAndVerifyClientCert?)".into(),
        )),
        (ClientAuth::VerifyIfGiven | ClientAuth::Require, false) => Err((
            "tls_server_config",
            "client_auth_type verifies client certificates: client_ca_file (or client_ca) is required".into(),
        )),
        _ => Ok(client_auth),
    }
}

/// `min_version` or `max_version` (`key`), `default` when unset.
fn tls_version(
    key: &'static str,
    v: &Option<String>,
    default: TlsVersion,
) -> Result<TlsVersion, Problem> {
    match v.as_deref().map(str::trim).unwrap_or("") {
        "" => Ok(default),
        // rustls speaks TLS 1.2 and 1.3 only: an older floor is raised to 1.2 (stricter, never weaker).
        "TLS10" | "TLS11" if key.ends_with("min_version") => {
            tracing::warn!(
                key,
                "TLS 1.0 and 1.1 are not offered; the minimum is TLS 1.2"
            );
            Ok(TlsVersion::Tls12)
        }
        "TLS12" => Ok(TlsVersion::Tls12),
        "TLS13" => Ok(TlsVersion::Tls13),
        other => Err((
            key,
            format!("unsupported TLS version {other:?} (TLS12, TLS13)"),
        )),
    }
}

/// Go's cipher suite and curve names to rustls's: the ChaCha suites with their `_SHA256` suffix (Go names them with
/// and without), the curves by their TLS group names.
fn go_names(t: &mut RawTls) -> (Vec<String>, Vec<String>) {
    let cipher_suites = t
        .cipher_suites
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            let s = s.trim().to_owned();
            if s.ends_with("_CHACHA20_POLY1305") {
                s + "_SHA256"
            } else {
                s
            }
        })
        .collect();
    let curves = t
        .curve_preferences
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|c| match c.trim() {
            "CurveP256" => "secp256r1".to_owned(),
            "CurveP384" => "secp384r1".to_owned(),
            "CurveP521" => "secp521r1".to_owned(),
            other => other.to_owned(),
        })
        .collect();
    (cipher_suites, curves)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let p = dir.path().join("web.yml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn err(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        load(&write(&dir, text)).unwrap_err().to_string()
    }

    #[test]
    fn an_empty_file_means_plain_http_without_auth() {
        let dir = tempfile::tempdir().unwrap();
        for text in ["", "# nothing\n", "tls_server_config: {}\n"] {
            let c = load(&write(&dir, text)).unwrap();
            assert!(c.tls.is_none() && c.users.is_none() && c.headers.is_empty());
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let e =
            err("basic_auth_users:\n  u: x\ntls_server_config:\n  cert_file: a\n  certfile: b\n");
        assert!(e.contains("unknown field `certfile`"), "{e}");
        assert!(e.contains("line 5"), "{e}");
        let e = err("# web config\n\nbasic_auth_user:\n  u: x\n");
        assert!(
            e.contains("unknown field `basic_auth_user`") && e.contains("line 3"),
            "{e}"
        );
    }

    #[test]
    fn users_need_bcrypt_hashes_and_errors_never_print_them() {
        let e = err("basic_auth_users:\n  alice: plaintext-hunter2\n");
        assert!(
            e.contains("not a bcrypt hash") && e.contains("alice"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("pw", 4).unwrap();
        let c = load(&write(
            &dir,
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
        ))
        .unwrap();
        assert!(c.users.as_ref().unwrap().contains_key("alice"));
        assert!(
            !format!("{c:?}").contains("$2y$"),
            "Debug must not print hashes"
        );
    }

    #[test]
    fn a_misplaced_string_value_is_not_echoed() {
        let e = err("basic_auth_users: '$2y$10$abcdefghijklmnopqrstuv'\n");
        assert!(
            e.contains("basic_auth_users") || e.contains("expected a map"),
            "{e}"
        );
        assert!(!e.contains("abcdefghij"), "{e}");
        let e = err("tls_server_config: \"-----BEGIN PRIVATE KEY-----\\nMIIE\\\"x\"\n");
        assert!(!e.contains("MIIE") && !e.contains("PRIVATE"), "{e}");
        assert_eq!(
            redact_strings("a string \"x\\\"y\", b"),
            "a string (value not shown), b"
        );
    }

    #[test]
    fn headers_are_checked_like_the_toolkit() {
        let dir = tempfile::tempdir().unwrap();
        let c = load(&write(
            &dir,
            "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n    X-XSS-Protection: ''\n",
        ))
        .unwrap();
        assert_eq!(c.headers.len(), 2);
        assert!(
            err("http_server_config:\n  headers:\n    X-Frame-Options: allow\n")
                .contains("not one of")
        );
        assert!(err("http_server_config:\n  headers:\n    Set-Cookie: a\n")
            .contains("cannot be configured"));
    }

    #[test]
    fn unsupported_security_settings_are_refused_not_ignored() {
        let tls = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n";
        for (extra, want) in [
            ("  client_auth_type: RequireAnyClientCert\n", "not supported"),
            ("  client_auth_type: Whatever\n", "unknown value"),
            ("  client_auth_type: RequireAndVerifyClientCert\n", "client_ca_file (or client_ca) is required"),
            ("  client_ca_file: ca.pem\n", "without a client_auth_type"),
            ("  client_allowed_sans: [a]\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n", "client_allowed_sans"),
            ("  max_version: TLS11\n", "unsupported TLS version"),
            ("  min_version: TLS13\n  max_version: TLS12\n", "min_version is above"),
        ] {
            let e = err(&format!("{tls}{extra}"));
            assert!(e.contains(want), "{extra}: {e}");
        }
        assert!(err("tls_server_config:\n  key_file: k.pem\n").contains("missing cert_file"));
        assert!(err("rate_limit:\n  interval: 1s\n  burst: 3\n").contains("rate_limit"));
        let dir = tempfile::tempdir().unwrap();
        assert!(load(&write(&dir, "rate_limit:\n  interval: 0s\n")).is_ok());
    }

    /// Attack on the live binary: the good TLS + auth file with a UTF-8 byte order mark in front (as some Windows
    /// editors save it) was refused, at start and on reload, as "YAML containing more than one document". The
    /// toolkit's YAML reader skips the mark (gopkg.in/yaml.v2 readerc.go, yaml_parser_determine_encoding, as vendored
    /// in kubernetes/kubernetes), so the same file works there.
    #[test]
    fn a_leading_byte_order_mark_is_skipped_as_the_toolkit_does() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("pw", 4).unwrap();
        let c = load(&write(
            &dir,
            &format!("\u{feff}basic_auth_users:\n  prometheus: '{hash}'\n"),
        ))
        .unwrap();
        assert!(c.policy.basic_auth);
        // A mark alone is an empty file (so a reload of it over TLS or auth is refused as weaker).
        let c = load(&write(&dir, "\u{feff}")).unwrap();
        assert_eq!(c.policy, Policy::OPEN);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let e = load(Path::new("/nonexistent/web.yml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/web.yml") && e.contains("cannot read"),
            "{e}"
        );
    }
}
