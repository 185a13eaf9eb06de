//! One parser per bouncer kind, each reading what that bouncer reads and no more. Every rule below comes from
//! the bouncer's own code; the tests name the file and commit each was read in.
//!
//! - Go bouncers (firewall, custom, spoa; cloudflare, worker, mirror): YAML ([`go_yaml`]). `<file>.local` is
//!   merged over the file first (go-cs-lib `csyaml`: maps deep-merged, sequences and scalars replaced, an explicit
//!   null or empty value replaces, a type mismatch is an error; duplicate keys and tab indentation are YAML
//!   errors), then `${VAR}`/`$VAR` are expanded with go-cs-lib `csstring.StrictExpand` from the bouncer's
//!   environment, which the exporter only sees when it shares it: a variable undefined here is reported, not
//!   judged.
//! - Lua (nginx, openresty; lua-cs-bouncer `lib/plugins/crowdsec/config.lua`): `KEY=VALUE`; a comment is a line
//!   whose first byte is `#`; blank lines are skipped; the first other line without `=` ends the reading; key
//!   and value are trimmed of whitespace (CR included) but keep quotes and `# ...`; unknown keys (a BOM glued to
//!   the first key makes it unknown) are ignored; the last duplicate wins; bad enum values fall back to their
//!   default; no environment expansion; `<file>.local` is read the same way and overrides key by key
//!   (lua-cs-bouncer >= 1.0.7); see [`lua`].
//! - haproxy (legacy Lua, cs-haproxy-bouncer): its own reader, not lua-cs-bouncer's: no trimming, a line without
//!   `=` skipped, no `.local`, no URL (haproxy.cfg holds it); see [`haproxy`].
//! - apache: `CrowdsecURL`, `CrowdsecAPIKey` directives (case-insensitive, as Apache's are).

use serde_yaml_ng::Value;

mod apache;
mod caddy;
mod go_yaml;
mod haproxy;
mod lua;
mod traefik;

use self::apache::{is_apache, parse_apache};
use self::go_yaml::{parse_yaml, refine_yaml_kind, yaml};
use self::haproxy::parse_haproxy;
use self::lua::parse_lua;
pub(crate) use self::traefik::key_accepted as traefik_key_accepted;
use super::{Kind, Parsed};
use crate::crowdsec::config_yaml::merge;

/// Why a bouncer's reader refuses its configuration file (its `parses` check fails). The `&'static str`
/// fields name the file (main or `.local` overlay) and end with a space, or are empty.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    /// Nothing in it.
    #[error("the file is empty")]
    Empty,
    /// Binary content.
    #[error("{0}binary content, not a text configuration")]
    Binary(&'static str),
    // Location only: a YAML error must never quote a value (it may be the key).
    /// A YAML syntax error, located (never quoted: it may be the key).
    #[error("{file}is not valid YAML (syntax error at line {line}, column {column})")]
    Yaml {
        /// Which file.
        file: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// Refused by a limit of the YAML reader (aliases expanding past it, nesting), in words.
    #[error("{file}is not read: {what}")]
    Limit {
        /// Which file.
        file: &'static str,
        /// What was refused.
        what: &'static str,
    },
    /// A TAB indents a line.
    #[error("{file}indents with a TAB at line {line}: YAML allows only spaces there, so the bouncer refuses the file")]
    Tab {
        /// Which file.
        file: &'static str,
        /// 1-based line.
        line: usize,
    },
    /// A key is given twice.
    #[error("{file}has a duplicate key{line}: the bouncer's YAML reader refuses the file")]
    Duplicate {
        /// Which file.
        file: &'static str,
        /// ` at line N`, or empty.
        line: String,
    },
    /// YAML, but not a mapping of settings.
    #[error("{0}is not a YAML mapping of settings")]
    NotMapping(&'static str),
    /// The `.local` overlay cannot be merged (why).
    #[error("the .local overlay cannot be merged: {0}; the bouncer refuses to start")]
    Merge(String),
    /// The haproxy bouncer's reader raises a Lua error at this line (a listed key alone, without `=`).
    #[error("line {0}: a setting without `=` makes the haproxy bouncer's reader fail (a Lua error), so haproxy does not load the bouncer")]
    LuaError(usize),
    /// Caddy refuses the `crowdsec` block of the Caddyfile at this line (an unknown token, a missing argument,
    /// api_url without a scheme); never quoted (it may be the key).
    #[error("line {0}: Caddy refuses this line of the `crowdsec` block (an unknown option, a missing value, or api_url without a scheme), so it does not load the Caddyfile")]
    Caddy(usize),
    /// A Traefik TOML file Traefik cannot read (located, never quoted).
    #[error("is not valid TOML (syntax error at line {0}): Traefik's file provider refuses it")]
    Toml(usize),
    /// Nested deeper than the bouncer's YAML reader accepts.
    #[error("{0}nests YAML collections deeper than 128 levels: the bouncer's YAML reader refuses the file")]
    TooDeep(&'static str),
}

pub(super) const OVERLAY: &str = "the .local overlay ";

/// Parses a file (and its `.local` overlay for the kinds that read one); returns the kind refined by the file's
/// keys. `env` is the environment the exporter can see (the bouncer's may differ).
///
/// # Errors
/// A [`ParseError`]: the reasons the bouncer's own reader refuses the file (empty, binary, not YAML, TAB,
/// duplicate key, not a mapping, overlay not mergeable, too deep).
pub fn parse(
    kind: Kind,
    main: &[u8],
    overlay: Option<&[u8]>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Kind, Parsed), ParseError> {
    let text = as_text(main, "")?;
    if kind == Kind::Caddy || (kind == Kind::Lua && caddy::is_caddy(&text) && !is_apache(&text)) {
        return caddy::parse_caddy(&text, env)
            .map(|p| (Kind::Caddy, p))
            .map_err(ParseError::Caddy);
    }
    if kind == Kind::Traefik {
        // Traefik's TOML form (`[http.middlewares.<name>.plugin.<plugin>]`), the same tree as its YAML form.
        let root: Value = match toml::from_str::<toml::Table>(&text) {
            // The error's text may quote the line (the key): only its place is kept.
            Err(e) => {
                let line = e.span().map_or(0, |s| {
                    text[..s.start.min(text.len())].matches('\n').count() + 1
                });
                return Err(ParseError::Toml(line));
            }
            Ok(table) => serde_yaml_ng::to_value(table).map_err(|_| ParseError::Toml(0))?,
        };
        return Ok((Kind::Traefik, traefik::parse_file(&root)));
    }
    if kind.is_yaml() {
        let mut root = yaml(&text, "")?;
        // A Traefik dynamic configuration is no Go bouncer's file (issue 20 #6): the plugin's middleware is read,
        // and a file without it is skipped with the reason, never judged as a Go bouncer without api_url.
        if traefik::is_traefik(&root) || traefik::find(&root).is_some() {
            return Ok((Kind::Traefik, traefik::parse_file(&root)));
        }
        if let Some(overlay) = overlay {
            let o = yaml(&as_text(overlay, OVERLAY)?, OVERLAY)?;
            merge(&mut root, o).map_err(ParseError::Merge)?;
        }
        if !matches!(root, Value::Mapping(_)) {
            return Err(ParseError::NotMapping(""));
        }
        let kind = refine_yaml_kind(kind, &root);
        return Ok((kind, parse_yaml(kind, &root, env)));
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
        Kind::LuaHaproxy => parse_haproxy(&text)
            .map(|p| (kind, p))
            .map_err(ParseError::LuaError),
        _ => {
            // The legacy haproxy bouncer never read a `.local`; the caller passes none for it.
            let overlay = match overlay {
                Some(b) => Some(as_text(b, OVERLAY)?),
                None => None,
            };
            Ok((kind, parse_lua(&text, overlay.as_deref())))
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::secret::Secret;

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
        assert_eq!(p.key_undefined_vars, vec!["NOPE".to_owned()]);
    }

    /// How each bouncer verifies the LAPI's certificate. Go bouncers: go-cs-bouncer (5e664e66) stream_bouncer.go
    /// and live_bouncer.go read `ca_cert_path` and `insecure_skip_verify`, client.go applies both to key and
    /// certificate auth; cloudflare: `crowdsec_insecure_skip_verify` (DOMAIN.md's key table); the worker and the
    /// mirror: under `crowdsec_config`; Lua: `SSL_VERIFY=false` (lua-cs-bouncer, default true).
    #[test]
    fn trust_follows_each_bouncer() {
        let trust = |kind, text: &str| parse(kind, text.as_bytes(), None, &env).unwrap().1.trust;
        let t = trust(
            Kind::Go,
            "api_url: https://lapi:8080/\napi_key: k\nca_cert_path: /etc/ca.pem\n",
        );
        assert_eq!(t.ca.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
        assert!(!t.insecure);
        assert!(trust(Kind::Go, "api_key: k\ninsecure_skip_verify: true\n").insecure);
        assert!(!trust(Kind::Go, "api_key: k\ninsecure_skip_verify: false\n").insecure);
        assert!(
            trust(
                Kind::Cloudflare,
                "crowdsec_lapi_key: k\ncrowdsec_insecure_skip_verify: true\n"
            )
            .insecure
        );
        let t = trust(
            Kind::CrowdsecConfig,
            "crowdsec_config:\n  lapi_key: k\n  ca_cert_path: /ca.pem\n  insecure_skip_verify: true\n",
        );
        assert!(t.insecure && t.ca.is_some());
        assert!(trust(Kind::Lua, "API_KEY=k\nSSL_VERIFY=false\n").insecure);
        assert!(!trust(Kind::Lua, "API_KEY=k\n").insecure);
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
    fn yaml_errors_give_a_location_never_a_value() {
        for text in [
            &b"api_key: [sekret\n"[..],
            b"api_key: sekret\napi_key: sekret2\n",
            b"api_url: http://x/\n\tapi_key: sekret\n",
        ] {
            let e = parse(Kind::Go, text, None, &env).unwrap_err();
            assert!(!e.to_string().contains("sekret"), "{e}");
        }
    }

    /// lua-cs-bouncer `lib/plugins/crowdsec/config.lua` (`config.loadConfig`) and `lib/crowdsec.lua`
    /// (`csmod.init`: `.local` merge, `ENABLED` test), crowdsecurity/lua-cs-bouncer commit
    /// 3e82dd61508ed9683b5007f823c69b112c59ac6f (2026-05-06); `.local` since tag v1.0.7 (dbc4db0e).
    #[test]
    fn lua_rules_from_lua_cs_bouncer() {
        struct Row {
            rule: &'static str,
            file: &'static str,
            local: Option<&'static str>,
            url: Option<&'static str>,
            key: Option<&'static str>,
            enabled: bool,
            mode: &'static str,
            stopped: Option<&'static str>,
        }
        let rows = [
            Row {
                rule: "blank lines (spaces, CR) are skipped",
                file: "\n   \n\r\nAPI_URL=http://a\n\nAPI_KEY=k\n",
                local: None,
                url: Some("http://a"),
                key: Some("k"),
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: "a comment is a line whose first byte is #",
                file: "#x\n# API_KEY=no\nAPI_KEY=k\n",
                local: None,
                url: None,
                key: Some("k"),
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: "an indented # without = stops the reading (issue 11 #3)",
                file: "API_URL=http://127.0.0.1:8080\n  # c\nAPI_KEY=k\n",
                local: None,
                url: Some("http://127.0.0.1:8080"),
                key: None,
                enabled: true,
                mode: "stream",
                stopped: Some("line 2"),
            },
            Row {
                rule: "an indented # with = is a key nobody knows, ignored",
                file: "  # API_KEY=no\nAPI_KEY=k\n",
                local: None,
                url: None,
                key: Some("k"),
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: "stop at the first line without =",
                file: "API_URL=http://a\nbroken\nAPI_KEY=k\nMODE=live\n",
                local: None,
                url: Some("http://a"),
                key: None,
                enabled: true,
                mode: "stream",
                stopped: Some("line 2"),
            },
            Row {
                rule: "key and value trimmed; CRLF harmless",
                file: "  API_URL =  http://a \r\nAPI_KEY=k\r\n",
                local: None,
                url: Some("http://a"),
                key: Some("k"),
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: "quotes and inline comments stay in the value",
                file: "API_KEY=\"k\"   # prod key\n",
                local: None,
                url: None,
                key: Some("\"k\"   # prod key"),
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: "the value is everything after the first =",
                file: "API_KEY=a=b==\n",
                local: None,
                url: None,
                key: Some("a=b=="),
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: "a BOM glued to the first key makes it unknown",
                file: "\u{feff}ENABLED=false\r\nAPI_KEY=k\r\n",
                local: None,
                url: None,
                key: Some("k"),
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: "unknown keys are ignored, keys are case-sensitive",
                file: "api_key=lower\nENABLE=false\nAPI_KEY=k\n",
                local: None,
                url: None,
                key: Some("k"),
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: "the last duplicate wins",
                file: "API_KEY=first\nAPI_KEY=k\n",
                local: None,
                url: None,
                key: Some("k"),
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: "bad enum values fall back to defaults",
                file: "ENABLED=False\nMODE=Live\n",
                local: None,
                url: None,
                key: None,
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: "ENABLED=false disables",
                file: "ENABLED=false\nAPI_URL=\nAPI_KEY=\n",
                local: None,
                url: Some(""),
                key: Some(""),
                enabled: false,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: "MODE=live",
                file: "MODE=live\n",
                local: None,
                url: None,
                key: None,
                enabled: true,
                mode: "live",
                stopped: None,
            },
            Row {
                rule: "no environment expansion",
                file: "API_KEY=${API_KEY}\n",
                local: None,
                url: None,
                key: Some("${API_KEY}"),
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: ".local overrides key by key (issue 11 #4)",
                file: "API_URL=\nAPI_KEY=\nMODE=live\n",
                local: Some("API_URL=http://b\nAPI_KEY=k\n"),
                url: Some("http://b"),
                key: Some("k"),
                enabled: true,
                mode: "live",
                stopped: None,
            },
            Row {
                rule: ".local: an empty value overrides too",
                file: "API_KEY=k0\n",
                local: Some("API_KEY=\n"),
                url: None,
                key: Some(""),
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: ".local can re-enable",
                file: "ENABLED=false\n",
                local: Some("ENABLED=true\n"),
                url: None,
                key: None,
                enabled: true,
                mode: "stream",
                stopped: None,
            },
            Row {
                rule: ".local read with the same rules (stops too)",
                file: "API_URL=http://a\n",
                local: Some("oops\nAPI_KEY=k\n"),
                url: Some("http://a"),
                key: None,
                enabled: true,
                mode: "stream",
                stopped: Some("line 1 of the .local overlay"),
            },
        ];
        for r in rows {
            let (_, p) = parse(
                Kind::Lua,
                r.file.as_bytes(),
                r.local.map(str::as_bytes),
                &env,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", r.rule));
            assert_eq!(p.api_url.as_deref(), r.url, "{}", r.rule);
            assert_eq!(p.api_key.as_ref().map(Secret::expose), r.key, "{}", r.rule);
            assert_eq!(p.enabled, r.enabled, "{}", r.rule);
            assert_eq!(p.mode, Some(r.mode), "{}", r.rule);
            assert_eq!(p.stopped_at.as_deref(), r.stopped, "{}", r.rule);
        }
        let (_, bom) = parse(Kind::Lua, "\u{feff}ENABLED=false\n".as_bytes(), None, &env).unwrap();
        assert!(
            bom.notes
                .iter()
                .any(|n| n.contains("BOM") && n.contains("ENABLED")),
            "{:?}",
            bom.notes
        );
        // The legacy haproxy bouncer never reads `.local` (the caller passes none for it).
        assert!(!Kind::LuaHaproxy.reads_overlay() && Kind::Lua.reads_overlay());
    }

    /// go-cs-lib `csyaml/merge.go` + `csyaml/patcher.go` (crowdsecurity/go-cs-lib commit
    /// 257ca8005c6bf9417302dc1d3c9129044007bd90); crowdsec v1.4.6 `pkg/yamlpatch/merge.go` (5f71037b, what the
    /// Debian 12 bouncers use) has the same rules. Expansion: `csstring/expand.go` at the same go-cs-lib commit,
    /// applied by cs-firewall-bouncer `cmd/root.go` (bcb81cd5) after the merge.
    #[test]
    fn go_rules_from_go_cs_lib() {
        type Expect = Result<(Option<&'static str>, Option<&'static str>), &'static str>;
        let rows: &[(&str, &str, Option<&str>, Expect)] = &[
            (
                "maps deep-merged",
                "api_url: http://a/\napi_key: k\n",
                Some("update_frequency: 5s\n"),
                Ok((Some("http://a/"), Some("k"))),
            ),
            (
                "scalars replaced",
                "api_url: http://a/\napi_key: k\n",
                Some("api_key: k2\n"),
                Ok((Some("http://a/"), Some("k2"))),
            ),
            (
                "explicit null replaces (issue 11 #2)",
                "api_url: http://a/\napi_key: k\n",
                Some("api_key:\n"),
                Ok((Some("http://a/"), None)),
            ),
            (
                "~ replaces",
                "api_url: http://a/\napi_key: k\n",
                Some("api_key: ~\n"),
                Ok((Some("http://a/"), None)),
            ),
            (
                "empty string replaces",
                "api_url: http://a/\napi_key: k\n",
                Some("api_key: ''\n"),
                Ok((Some("http://a/"), Some(""))),
            ),
            (
                "an overlay with only comments changes nothing",
                "api_url: http://a/\napi_key: k\n",
                Some("# nothing\n"),
                Ok((Some("http://a/"), Some("k"))),
            ),
            (
                "a mapping into a scalar is an error",
                "api_url: http://a/\napi_key: k\n",
                Some("api_key:\n  x: y\n"),
                Err("merge"),
            ),
            (
                "duplicate keys are an error",
                "api_key: k\napi_key: k2\n",
                None,
                Err("duplicate"),
            ),
            (
                "duplicate keys in the overlay too",
                "api_key: k\n",
                Some("api_url: a\napi_url: b\n"),
                Err("duplicate"),
            ),
            (
                "TAB indentation is an error",
                "crowdsec_config:\n\tlapi_url: http://a/\n",
                None,
                Err("TAB"),
            ),
            (
                "a TAB after a value is fine",
                "api_url: http://a/\t\napi_key: k\n",
                None,
                Ok((Some("http://a/"), Some("k"))),
            ),
            (
                "defined ${VAR} expanded",
                "api_key: ${KEY}\n",
                None,
                Ok((None, Some("fromenv"))),
            ),
            (
                "defined $VAR expanded",
                "api_key: $KEY\n",
                None,
                Ok((None, Some("fromenv"))),
            ),
            (
                "undefined variables left as written",
                "api_key: ${NOPE}$NOPE\n",
                None,
                Ok((None, Some("${NOPE}$NOPE"))),
            ),
            (
                "expanded after the merge",
                "api_key: k\n",
                Some("api_key: ${KEY}\n"),
                Ok((None, Some("fromenv"))),
            ),
            (
                "YAML quotes are the YAML's, not the key's",
                "api_key: \"k\"  # comment\n",
                None,
                Ok((None, Some("k"))),
            ),
        ];
        for (rule, file, local, expect) in rows {
            let got = parse(Kind::Go, file.as_bytes(), local.map(str::as_bytes), &env);
            match (got, expect) {
                (Ok((_, p)), Ok((url, key))) => {
                    assert_eq!(p.api_url.as_deref(), *url, "{rule}");
                    assert_eq!(p.api_key.as_ref().map(Secret::expose), *key, "{rule}");
                }
                (Err(e), Err(word)) => assert!(
                    e.to_string().contains(word),
                    "{rule}: {e} should say {word}"
                ),
                (got, _) => panic!("{rule}: {got:?}"),
            }
        }
    }
}
