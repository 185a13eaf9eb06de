//! The Traefik plugin (maxlerebourg/crowdsec-bouncer-traefik-plugin), whose settings are a middleware of
//! Traefik's dynamic configuration (file provider, YAML or TOML, one tree): `http.middlewares.<name>.plugin.<plugin>.<key>`. Rules
//! from the plugin at commit 9b8d6b937cff1295a96807c0c0954e8f900adb52 and from Traefik:
//!
//! - Traefik fills the plugin's `Config` with mapstructure, `WeaklyTypedInput` (traefik/traefik
//!   `pkg/plugins/middlewareyaegi.go` at 02386d08): the struct has no `mapstructure` tags, so a key matches its
//!   field name case-insensitively (`crowdsecLapiKey`, `CrowdsecLapiKey`), and `"true"`/`1` fill a bool;
//! - `configuration.New` (`pkg/configuration/configuration.go`): `enabled` false (the middleware then lets every
//!   request through, `bouncer.go` `if !bouncer.enabled`), `crowdsecMode` live, `crowdsecLapiScheme` http,
//!   `crowdsecLapiHost` crowdsec:8080, `crowdsecLapiPath` `/`;
//! - the LAPI URL is `url.URL{Scheme, Host, Path: path + "v1/decisions..."}` (`bouncer.go`);
//! - `GetVariable`: `<key>File` wins over `<key>` and is read by Traefik from its own filesystem, the value is
//!   `strings.TrimSpace`d; `crowdsecMode: alone` talks to CAPI with `crowdsecCapiMachineId`/`Password`, no LAPI;
//!   `appsec` needs no LAPI key;
//! - `validateParamsAPIKey`: the key must match ``^[a-zA-Z0-9 !#$%&'*+-.^_`|~=/]*$`` or the middleware fails.

use serde_yaml_ng::Value;

use crate::crowdsec::bouncer_files::{Parsed, TlsFiles, Trust};
use crate::values::secret::Secret;

/// The plugin's middleware found in a dynamic configuration: its name and its settings.
pub(super) fn find(root: &Value) -> Option<(String, &Value)> {
    let middlewares = get(get(root, "http")?, "middlewares")?.as_mapping()?;
    middlewares.iter().find_map(|(name, m)| {
        let plugins = get(m, "plugin")?.as_mapping()?;
        plugins.values().find_map(|conf| {
            let keys = conf.as_mapping()?;
            keys.keys()
                .filter_map(Value::as_str)
                .any(|k| k.to_ascii_lowercase().starts_with("crowdseclapi"))
                .then(|| (name.as_str().unwrap_or_default().to_owned(), conf))
        })
    })
}

/// Whether the file is a Traefik dynamic configuration (top-level `http`, `tcp` or `tls` with Traefik's sections).
pub(super) fn is_traefik(root: &Value) -> bool {
    get(root, "http").is_some_and(|h| {
        ["routers", "middlewares", "services", "serversTransports"]
            .iter()
            .any(|k| get(h, k).is_some())
    })
}

/// A key of a mapping, case-insensitively (mapstructure's fallback).
fn get<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    let m = v.as_mapping()?;
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(key)))
            .map(|(_, v)| v)
    })
}

/// A string setting as mapstructure's weak decoding fills it.
fn text(conf: &Value, key: &str) -> Option<String> {
    match get(conf, key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A bool setting as mapstructure's weak decoding fills it (`strconv.ParseBool`, a number non-zero).
fn boolean(conf: &Value, key: &str) -> Option<bool> {
    match get(conf, key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_f64() != Some(0.0)),
        Value::String(s) => match s.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A Traefik dynamic configuration (YAML or TOML, read into `root`): its plugin middleware, or, without one, no
/// bouncer to judge (issue 20 #6: never a Go bouncer without api_url).
pub(super) fn parse_file(root: &Value) -> Parsed {
    match find(root) {
        Some((name, conf)) => parse_traefik(&name, conf),
        None => Parsed {
            unjudged: Some("a Traefik dynamic configuration without a middleware of the CrowdSec bouncer plugin (no crowdsecLapi* key under http.middlewares.<name>.plugin.<plugin>): no bouncer to check".into()),
            ..Parsed::default()
        },
    }
}

/// What the plugin reads from its middleware's settings `conf` (named `name`).
pub(super) fn parse_traefik(name: &str, conf: &Value) -> Parsed {
    let mut p = Parsed {
        enabled: boolean(conf, "enabled").unwrap_or(false),
        ..Parsed::default()
    };
    let mode = text(conf, "crowdsecMode").unwrap_or_else(|| "live".into());
    p.mode = Some(match mode.as_str() {
        "stream" => "stream",
        "none" => "none",
        "alone" => "alone",
        "appsec" => "appsec",
        _ => "live",
    });
    let scheme = text(conf, "crowdsecLapiScheme").unwrap_or_else(|| "http".into());
    let host = text(conf, "crowdsecLapiHost").unwrap_or_else(|| "crowdsec:8080".into());
    let path = text(conf, "crowdsecLapiPath").unwrap_or_else(|| "/".into());
    p.api_url = Some(format!("{scheme}://{host}{path}"));
    if let Some(file) = text(conf, "crowdsecLapiKeyFile").filter(|f| !f.is_empty()) {
        p.key_elsewhere = Some(format!("crowdsecLapiKeyFile ({file}), which Traefik reads"));
    } else {
        p.api_key = text(conf, "crowdsecLapiKey").map(|k| Secret::new(k.trim()));
    }
    let path_of = |k: &str| {
        text(conf, k)
            .filter(|f| !f.is_empty())
            .map(std::path::PathBuf::from)
    };
    let cert = path_of("crowdsecLapiTlsCertificateBouncerFile");
    let key = path_of("crowdsecLapiTlsCertificateBouncerKeyFile");
    if p.api_key.as_ref().is_none_or(|k| k.expose().is_empty())
        && p.key_elsewhere.is_none()
        && (cert.is_some() || key.is_some())
    {
        p.tls = Some(TlsFiles {
            cert,
            key,
            ca: path_of("crowdsecLapiTlsCertificateAuthorityFile"),
        });
    }
    p.trust = Trust {
        ca: path_of("crowdsecLapiTlsCertificateAuthorityFile"),
        insecure: boolean(conf, "crowdsecLapiTlsInsecureVerify").unwrap_or(false),
    };
    if text(conf, "crowdsecLapiTlsCertificateAuthority").is_some_and(|c| !c.is_empty()) {
        p.notes.push(
            "crowdsecLapiTlsCertificateAuthority is given inline: the LAPI's certificate is verified with the system's roots only".into(),
        );
    }
    p.notes.push(format!("the plugin's middleware `{name}`"));
    p
}

/// The plugin's key rule (`validateParamsAPIKey`).
pub(crate) fn key_accepted(key: &str) -> bool {
    key.chars()
        .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+,-./^_`|~=".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(yaml: &str) -> Parsed {
        let root: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let (name, conf) = find(&root).expect("the plugin's middleware");
        parse_traefik(&name, conf)
    }

    /// Each rule of the plugin's configuration (crowdsec-bouncer-traefik-plugin 9b8d6b93) and Traefik's decoding
    /// (traefik pkg/plugins/middlewareyaegi.go 02386d08).
    #[test]
    fn rules_from_the_plugin_and_traefik() {
        type Row = (
            &'static str,
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            bool,
            &'static str,
        );
        let rows: &[Row] = &[
            (
                "issue 20 #6: only crowdsecLapiKey: defaults for the rest, enabled false",
                "http:\n  middlewares:\n    crowdsec:\n      plugin:\n        bouncer:\n          crowdsecLapiKey: k\n",
                Some("http://crowdsec:8080/"),
                Some("k"),
                false,
                "live",
            ),
            (
                "scheme, host, path; enabled; stream",
                "http:\n  middlewares:\n    cs:\n      plugin:\n        crowdsec-bouncer-traefik-plugin:\n          enabled: true\n          crowdsecMode: stream\n          crowdsecLapiScheme: https\n          crowdsecLapiHost: lapi.lan:8443\n          crowdsecLapiKey: \"  k \"\n",
                Some("https://lapi.lan:8443/"),
                Some("k"),
                true,
                "stream",
            ),
            (
                "keys match case-insensitively; weak bools",
                "http:\n  middlewares:\n    cs:\n      plugin:\n        bouncer:\n          Enabled: \"true\"\n          CrowdsecLapiKey: k\n          CROWDSECLAPIHOST: 10.0.0.2:8080\n",
                Some("http://10.0.0.2:8080/"),
                Some("k"),
                true,
                "live",
            ),
            (
                "the key file wins over the key, and is not read",
                "http:\n  middlewares:\n    cs:\n      plugin:\n        bouncer:\n          enabled: true\n          crowdsecLapiKey: k\n          crowdsecLapiKeyFile: /run/secrets/lapi\n",
                Some("http://crowdsec:8080/"),
                None,
                true,
                "live",
            ),
        ];
        for (rule, yaml, url, key, enabled, mode) in rows {
            let p = parsed(yaml);
            assert_eq!(p.api_url.as_deref(), *url, "{rule}");
            assert_eq!(p.api_key.as_ref().map(Secret::expose), *key, "{rule}");
            assert_eq!(p.enabled, *enabled, "{rule}");
            assert_eq!(p.mode, Some(*mode), "{rule}");
        }
        assert!(parsed(rows[3].1)
            .key_elsewhere
            .unwrap()
            .contains("/run/secrets/lapi"));
        let not_plugin: Value = serde_yaml_ng::from_str(
            "http:\n  middlewares:\n    auth:\n      basicAuth:\n        users: []\n",
        )
        .unwrap();
        assert!(find(&not_plugin).is_none() && is_traefik(&not_plugin));
        assert!(key_accepted("abc+/=") && !key_accepted("k\"") && !key_accepted("k\u{e9}"));
    }
}
