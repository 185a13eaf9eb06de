//! The Go bouncers' YAML (firewall, custom, spoa; cloudflare, worker, mirror): the reader go-cs-lib `csyaml` and
//! `csstring.StrictExpand` make of it (see [`super`] for the rules), and the settings the exporter reads from it.

use std::path::PathBuf;

use serde_yaml_ng::Value;

use super::ParseError;
use crate::crowdsec::bouncer_files::{Kind, Parsed, TlsFiles, Trust};
use crate::crowdsec::config_yaml::strict_expand;
use crate::values::secret::Secret;

pub(super) fn yaml(text: &str, which: &'static str) -> Result<Value, ParseError> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    // Before the parser, whose time is quadratic in nesting (`values::yaml`).
    if crate::values::yaml::too_deep(text) {
        return Err(ParseError::TooDeep(which));
    }
    serde_yaml_ng::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        // An alias bomb or nesting past the limit: no location, say what was refused.
        if let Some(what) = crate::values::yaml::limit_refused(&e) {
            return ParseError::Limit { file: which, what };
        }
        // serde's message may quote a value; only its category is used.
        let message = e.to_string();
        if message.contains("duplicate") {
            return ParseError::Duplicate {
                file: which,
                line: if line > 0 {
                    format!(" (line {line})")
                } else {
                    String::new()
                },
            };
        }
        if let Some(tab) = tab_indented_line(text).filter(|t| line == 0 || *t <= line) {
            return ParseError::Tab {
                file: which,
                line: tab,
            };
        }
        ParseError::Yaml {
            file: which,
            line,
            column,
        }
    })
}

/// The first line whose indentation holds a TAB (YAML forbids it; the parser then fails at or after it).
fn tab_indented_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let indent = &l[..l.len() - l.trim_start_matches([' ', '\t']).len()];
            indent.contains('\t') && !l.trim().is_empty()
        })
        .map(|n| n + 1)
}

/// The keys tell the kind better than the file name (a renamed file still belongs to its bouncer).
pub(super) fn refine_yaml_kind(by_name: Kind, root: &Value) -> Kind {
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

/// A setting's value as Go's YAML reader would fill a `string` field, expanded with StrictExpand; the names of
/// the variables the exporter could not expand go to `undefined`.
fn scalar(
    v: Option<&Value>,
    env: &dyn Fn(&str) -> Option<String>,
    undefined: &mut Vec<String>,
) -> Option<String> {
    let raw = match v? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    Some(strict_expand(&raw, env, |name| {
        if !undefined.iter().any(|u| u == name) {
            undefined.push(name.to_owned());
        }
    }))
}

pub(super) fn parse_yaml(kind: Kind, root: &Value, env: &dyn Fn(&str) -> Option<String>) -> Parsed {
    let (section, url, key) = match kind {
        Kind::Cloudflare => (root, "crowdsec_lapi_url", "crowdsec_lapi_key"),
        Kind::CrowdsecConfig => (
            root.get("crowdsec_config").unwrap_or(&Value::Null),
            "lapi_url",
            "lapi_key",
        ),
        _ => (root, "api_url", "api_key"),
    };
    let insecure_key = if kind == Kind::Cloudflare {
        "crowdsec_insecure_skip_verify"
    } else {
        "insecure_skip_verify"
    };
    let mut url_vars = Vec::new();
    let mut key_vars = Vec::new();
    let mut ignored = Vec::new();
    let mut path = |name: &str| {
        scalar(section.get(name), env, &mut ignored)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    };
    let tls = TlsFiles {
        cert: path("cert_path"),
        key: path("key_path"),
        ca: path("ca_cert_path"),
    };
    let trust = Trust {
        ca: tls.ca.clone(),
        insecure: scalar(section.get(insecure_key), env, &mut ignored).as_deref() == Some("true"),
    };
    Parsed {
        api_url: scalar(section.get(url), env, &mut url_vars),
        api_key: scalar(section.get(key), env, &mut key_vars).map(Secret::new),
        // go-cs-bouncer refuses a file with neither key nor cert_path/key_path; with either path it loads the pair.
        tls: (tls.cert.is_some() || tls.key.is_some()).then_some(tls),
        url_undefined_vars: url_vars,
        key_undefined_vars: key_vars,
        // Logging settings sit at the top level of every Go bouncer's file (cs-firewall-bouncer pkg/cfg/logging.go).
        log_mode: scalar(root.get("log_mode"), env, &mut ignored),
        log_dir: scalar(root.get("log_dir"), env, &mut ignored),
        trust,
        ..Parsed::default()
    }
}
