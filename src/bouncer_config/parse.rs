//! One parser per bouncer kind, each reading what that bouncer reads and no more.
//!
//! - Go bouncers (and cloudflare, worker, mirror): YAML; `<file>.local` merged over it; `${VAR}`/`$VAR` expanded
//!   only when defined (CrowdSec's own rule, shared with [`crate::crowdsec_config`]).
//! - Lua (nginx, openresty, haproxy): `KEY=VALUE`, no expansion; the first non-comment line without `=` ends
//!   the bouncer's reading, so everything after it is ignored by the bouncer (reported, not hidden).
//! - apache: `CrowdsecURL`, `CrowdsecAPIKey` directives (case-insensitive, as Apache's are).

use std::path::PathBuf;

use serde_yaml_ng::Value;

use super::{Kind, Parsed, TlsFiles};
use crate::crowdsec_config::{expand_env, merge};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    #[error("the file is empty")]
    Empty,
    #[error("{0}binary content, not a text configuration")]
    Binary(&'static str),
    // Location only: a YAML error must never quote a value (it may be the key).
    #[error("{file}is not valid YAML (syntax error at line {line}, column {column})")]
    Yaml {
        file: &'static str,
        line: usize,
        column: usize,
    },
    #[error("{0}is not a YAML mapping of settings")]
    NotMapping(&'static str),
}

const OVERLAY: &str = "the .local overlay ";

/// Parses a file (and its `.local` overlay for YAML kinds); returns the kind refined by the file's keys.
pub fn parse(
    kind: Kind,
    main: &[u8],
    overlay: Option<&[u8]>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Kind, Parsed), ParseError> {
    let text = as_text(main, "")?;
    if kind.is_yaml() {
        let mut root = yaml(&text, "", env)?;
        if let Some(overlay) = overlay {
            let o = yaml(&as_text(overlay, OVERLAY)?, OVERLAY, env)?;
            merge(&mut root, o);
        }
        if !matches!(root, Value::Mapping(_)) {
            return Err(ParseError::NotMapping(""));
        }
        let kind = refine_yaml_kind(kind, &root);
        return Ok((kind, parse_yaml(kind, &root)));
    }
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let kind = if kind == Kind::Lua && is_apache(&text) {
        Kind::Apache
    } else {
        kind
    };
    match kind {
        Kind::Apache => Ok((kind, parse_apache(&text))),
        _ => Ok((kind, parse_lua(&text))),
    }
}

fn as_text(bytes: &[u8], which: &'static str) -> Result<String, ParseError> {
    if bytes.contains(&0) {
        return Err(ParseError::Binary(which));
    }
    match std::str::from_utf8(bytes) {
        Ok(t) if t.trim().is_empty() && which.is_empty() => Err(ParseError::Empty),
        Ok(t) => Ok(t.to_owned()),
        Err(_) => Err(ParseError::Binary(which)),
    }
}

fn yaml(
    text: &str,
    which: &'static str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, ParseError> {
    let expanded = expand_env(text, env);
    if expanded.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_yaml_ng::from_str(&expanded).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        ParseError::Yaml {
            file: which,
            line,
            column,
        }
    })
}

/// The keys tell the kind better than the file name (a renamed file still belongs to its bouncer).
fn refine_yaml_kind(by_name: Kind, root: &Value) -> Kind {
    if root.get("crowdsec_config").is_some() {
        Kind::CrowdsecConfig
    } else if root.get("crowdsec_lapi_url").is_some() || root.get("crowdsec_lapi_key").is_some() {
        Kind::Cloudflare
    } else if root.get("api_url").is_some() || root.get("api_key").is_some() {
        Kind::Go
    } else {
        by_name
    }
}

fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn non_empty_path(v: Option<&Value>) -> Option<PathBuf> {
    scalar(v)
        .filter(|s| !s.trim().is_empty())
        .map(PathBuf::from)
}

fn parse_yaml(kind: Kind, root: &Value) -> Parsed {
    let (section, url, key) = match kind {
        Kind::Cloudflare => (root, "crowdsec_lapi_url", "crowdsec_lapi_key"),
        Kind::CrowdsecConfig => (
            root.get("crowdsec_config").unwrap_or(&Value::Null),
            "lapi_url",
            "lapi_key",
        ),
        _ => (root, "api_url", "api_key"),
    };
    let tls = TlsFiles {
        cert: non_empty_path(section.get("cert_path")),
        key: non_empty_path(section.get("key_path")),
        ca: non_empty_path(section.get("ca_cert_path")),
    };
    Parsed {
        api_url: scalar(section.get(url)),
        api_key: scalar(section.get(key)).map(Secret::new),
        // The Go bouncers authenticate with a certificate when both cert and key are set.
        tls: (tls.cert.is_some() || tls.key.is_some()).then_some(tls),
        stopped_at: None,
    }
}

fn parse_lua(text: &str) -> Parsed {
    let mut p = Parsed::default();
    let (mut use_tls, mut cert, mut key) = (false, None, None);
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((k, v)) = trimmed.split_once('=') else {
            p.stopped_at = Some(format!("line {}", n + 1));
            break;
        };
        let v = v.trim();
        match k.trim() {
            "API_URL" => p.api_url = Some(v.to_owned()),
            "API_KEY" => p.api_key = Some(Secret::new(v)),
            "USE_TLS_AUTH" => use_tls = v.eq_ignore_ascii_case("true"),
            "TLS_CLIENT_CERT" if !v.is_empty() => cert = Some(PathBuf::from(v)),
            "TLS_CLIENT_KEY" if !v.is_empty() => key = Some(PathBuf::from(v)),
            _ => {}
        }
    }
    if use_tls {
        p.tls = Some(TlsFiles {
            cert,
            key,
            ca: None,
        });
    }
    p
}

fn is_apache(text: &str) -> bool {
    text.lines().any(|l| {
        let d = l.trim_start().to_ascii_lowercase();
        d.starts_with("crowdsecurl") || d.starts_with("crowdsecapikey")
    })
}

fn parse_apache(text: &str) -> Parsed {
    let mut p = Parsed::default();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        let (directive, value) = match trimmed.split_once(char::is_whitespace) {
            Some((d, v)) => (d, v.trim()),
            None => (trimmed, ""),
        };
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if directive.eq_ignore_ascii_case("CrowdsecURL") {
            p.api_url = Some(value.to_owned());
        } else if directive.eq_ignore_ascii_case("CrowdsecAPIKey") {
            p.api_key = Some(Secret::new(value));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "KEY").then(|| "fromenv".to_owned())
    }

    #[test]
    fn yaml_overlay_and_env() {
        let (kind, p) = parse(
            Kind::Go,
            b"api_url: http://a:8080/\napi_key: ${KEY}\n",
            Some(b"api_url: http://b:8080/\n"),
            &env,
        )
        .unwrap();
        assert_eq!(kind, Kind::Go);
        assert_eq!(p.api_url.as_deref(), Some("http://b:8080/"));
        assert_eq!(p.api_key.unwrap().expose(), "fromenv");
        let (_, p) = parse(Kind::Go, b"api_key: ${NOPE}\n", None, &env).unwrap();
        assert_eq!(p.api_key.unwrap().expose(), "${NOPE}");
    }

    #[test]
    fn kinds_are_refined_by_keys() {
        let (kind, p) = parse(
            Kind::Go,
            b"crowdsec_config:\n  lapi_url: http://x/\n  lapi_key: k\n",
            None,
            &env,
        )
        .unwrap();
        assert_eq!(kind, Kind::CrowdsecConfig);
        assert_eq!(p.api_key.unwrap().expose(), "k");
        let (kind, _) = parse(Kind::Lua, b"CrowdsecURL http://x\n", None, &env).unwrap();
        assert_eq!(kind, Kind::Apache);
    }

    #[test]
    fn lua_stops_at_a_line_without_equals() {
        let (_, p) = parse(
            Kind::Lua,
            b"# c\nAPI_URL=http://x:8080\nbroken line\nAPI_KEY=k\n",
            None,
            &env,
        )
        .unwrap();
        assert_eq!(p.api_url.as_deref(), Some("http://x:8080"));
        assert!(p.api_key.is_none(), "the bouncer never reads past the stop");
        assert_eq!(p.stopped_at.as_deref(), Some("line 3"));
    }

    #[test]
    fn yaml_errors_give_a_location_never_a_value() {
        let e = parse(Kind::Go, b"api_key: [sekret\n", None, &env).unwrap_err();
        assert!(matches!(e, ParseError::Yaml { .. }));
        assert!(!e.to_string().contains("sekret"));
    }
}
