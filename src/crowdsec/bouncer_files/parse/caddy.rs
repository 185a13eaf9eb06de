//! Caddy's bouncer (hslatman/caddy-crowdsec-bouncer), a Caddy app configured by the global option
//! `crowdsec { api_url … api_key … }` of the Caddyfile or by `apps.crowdsec` of Caddy's JSON. Rules from the module at
//! commit f1e77b2d4497f6bd512660dd1338e2ad291a5210:
//!
//! - `crowdsec/caddyfile.go` `parseCrowdSec`: each line of the block is a token and its arguments; `api_url`
//!   must have a scheme and gets a trailing `/`; `api_key <key>`; `disable_streaming` (live mode); any other token
//!   is an error ("invalid configuration token"), and Caddy then refuses the whole Caddyfile;
//! - `crowdsec/crowdsec.go` `Provision`: `{env.X}` placeholders in api_url and api_key are replaced from Caddy's
//!   environment (`ReplaceKnown`), `api_url` defaults to `http://127.0.0.1:8080/`; `Validate`: an empty api_key is
//!   an error ("crowdsec API key must not be empty");
//! - the Caddyfile itself (Caddy's lexer): tokens split on whitespace, `"…"` and `` `…` `` quote, `#` starts a
//!   comment at a token's start, `{$X}` / `{$X:default}` are replaced from the environment when the Caddyfile is
//!   adapted. The exporter expands a placeholder only when its own environment defines the variable; otherwise it
//!   says so (as for a Go bouncer's `${VAR}`), never guesses.

use crate::crowdsec::bouncer_files::Parsed;
use crate::values::secret::Secret;

/// A file that configures the CrowdSec app of Caddy: a Caddyfile with a `crowdsec` global option, or JSON with
/// `apps.crowdsec`.
pub(super) fn is_caddy(text: &str) -> bool {
    caddy_json(text).is_some()
        || tokens(text)
            .windows(2)
            .any(|w| w[0].text == "crowdsec" && w[1].text == "{")
}

fn caddy_json(text: &str) -> Option<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("apps")?.get("crowdsec")?;
    Some(v)
}

struct Token {
    text: String,
    line: usize,
}

/// Caddy's lexer, enough for the global options: whitespace-separated tokens with their line, quotes, comments.
fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == '\n' {
            line += 1;
            chars.next();
        } else if c.is_whitespace() {
            chars.next();
        } else if c == '#' {
            while chars.peek().is_some_and(|c| *c != '\n') {
                chars.next();
            }
        } else {
            let start = line;
            let mut t = String::new();
            if c == '"' || c == '`' {
                chars.next();
                while let Some(q) = chars.next() {
                    match q {
                        '\\' if c == '"' => {
                            if let Some(e) = chars.next() {
                                t.push(e);
                            }
                        }
                        q if q == c => break,
                        '\n' => {
                            line += 1;
                            t.push('\n');
                        }
                        q => t.push(q),
                    }
                }
            } else {
                while chars.peek().is_some_and(|c| !c.is_whitespace()) {
                    t.extend(chars.next());
                }
            }
            out.push(Token {
                text: t,
                line: start,
            });
        }
    }
    out
}

/// `{$X}`, `{$X:default}` (adapt time) and `{env.X}` (provision time): expanded from `env` when defined there;
/// the names not defined go to `undefined`.
fn placeholders(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
    undefined: &mut Vec<String>,
) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = &rest[open + 1..open + close];
        let (name, default) = if let Some(n) = inner.strip_prefix('$') {
            match n.split_once(':') {
                Some((n, d)) => (Some(n), Some(d)),
                None => (Some(n), None),
            }
        } else {
            (inner.strip_prefix("env."), None)
        };
        match name.filter(|n| !n.is_empty()) {
            Some(n) => match env(n).or_else(|| default.map(str::to_owned)) {
                Some(v) => out.push_str(&v),
                None => {
                    if !undefined.iter().any(|u| u == n) {
                        undefined.push(n.to_owned());
                    }
                    out.push_str(&rest[open..=open + close]);
                }
            },
            None => out.push_str(&rest[open..=open + close]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// What the module reads. `Err(line)`: Caddy refuses the Caddyfile's `crowdsec` block at that line.
pub(super) fn parse_caddy(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Parsed, usize> {
    let mut p = Parsed::default();
    let (mut url, mut key, mut streaming) = (None, None, true);
    if let Some(v) = caddy_json(text) {
        let app = &v["apps"]["crowdsec"];
        url = app["api_url"].as_str().map(str::to_owned);
        key = app["api_key"].as_str().map(str::to_owned);
        streaming = app["enable_streaming"].as_bool().unwrap_or(true);
    } else {
        let t = tokens(text);
        // The global options block is the Caddyfile's first block when it has no key: `{` first.
        let Some(start) = t
            .iter()
            .position(|x| x.text == "crowdsec")
            .filter(|i| t.get(i + 1).is_some_and(|b| b.text == "{"))
        else {
            p.unjudged = Some("a Caddyfile without a `crowdsec { … }` global option: no CrowdSec bouncer to check".into());
            return Ok(p);
        };
        let mut i = start + 2;
        while let Some(tok) = t.get(i) {
            if tok.text == "}" {
                break;
            }
            let line = tok.line;
            let args: Vec<&str> = t[i + 1..]
                .iter()
                .take_while(|a| a.line == line && a.text != "}")
                .map(|a| a.text.as_str())
                .collect();
            match tok.text.as_str() {
                "api_url" => {
                    let u = args.first().ok_or(line)?;
                    // caddyfile.go: url.Parse, a scheme required, a trailing `/` added; `{$X}` is replaced
                    // before (adapt time), `{env.X}` after (Provision), so `api_url {env.X}` has no scheme.
                    let adapted = if u.contains("{$") { None } else { Some(*u) };
                    if adapted.is_some_and(|u| !u.contains("://")) {
                        return Err(line);
                    }
                    url = Some(if u.ends_with('/') {
                        (*u).to_owned()
                    } else {
                        format!("{u}/")
                    });
                }
                "api_key" => key = Some(args.first().ok_or(line)?.to_string()),
                "disable_streaming" => streaming = false,
                "ticker_interval"
                | "metrics_interval"
                | "appsec_url"
                | "appsec_max_body_bytes"
                | "appsec_timeout" => {
                    args.first().ok_or(line)?;
                }
                "enable_caddy_metrics" | "enable_hard_fails" | "appsec_fail_open" => {}
                _ => return Err(line),
            }
            i += 1 + args.len();
        }
    }
    let mut url_vars = Vec::new();
    let mut key_vars = Vec::new();
    p.api_url = Some(
        url.map(|u| placeholders(&u, env, &mut url_vars))
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "http://127.0.0.1:8080/".into()),
    );
    p.api_key = key.map(|k| Secret::new(placeholders(&k, env, &mut key_vars)));
    p.url_undefined_vars = url_vars;
    p.key_undefined_vars = key_vars;
    p.mode = Some(if streaming { "stream" } else { "live" });
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "CS_KEY").then(|| "fromenv".to_owned())
    }

    /// Each rule of caddy-crowdsec-bouncer (f1e77b2d) `crowdsec/caddyfile.go` and `crowdsec/crowdsec.go`.
    #[test]
    fn rules_from_caddy_crowdsec_bouncer() {
        type Row = (
            &'static str,
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            &'static str,
            &'static [&'static str],
        );
        let rows: &[Row] = &[
            (
                "global option block; api_url gets its trailing /",
                "{\n  crowdsec {\n    api_url http://127.0.0.1:8080\n    api_key k # comment\n    ticker_interval 15s\n  }\n}\n\nexample.com {\n  route { crowdsec }\n}\n",
                Some("http://127.0.0.1:8080/"),
                Some("k"),
                "stream",
                &[],
            ),
            (
                "default URL; disable_streaming is live mode; quotes",
                "{\n\tcrowdsec {\n\t\tapi_key \"k k\"\n\t\tdisable_streaming\n\t}\n}\n",
                Some("http://127.0.0.1:8080/"),
                Some("k k"),
                "live",
                &[],
            ),
            (
                "{env.X} defined here is expanded, undefined is said",
                "{\n  crowdsec {\n    api_url {$CS_URL}\n    api_key {env.CS_KEY}\n  }\n}\n",
                Some("{$CS_URL}/"),
                Some("fromenv"),
                "stream",
                &[],
            ),
            (
                "{$X} undefined is said, never guessed",
                "{\n  crowdsec {\n    api_url http://lapi:8080/\n    api_key {$CROWDSEC_API_KEY}\n  }\n}\n",
                Some("http://lapi:8080/"),
                Some("{$CROWDSEC_API_KEY}"),
                "stream",
                &["CROWDSEC_API_KEY"],
            ),
            (
                "Caddy's JSON: apps.crowdsec",
                "{\"apps\": {\"crowdsec\": {\"api_url\": \"https://lapi:8443/\", \"api_key\": \"k\", \"enable_streaming\": false}}}",
                Some("https://lapi:8443/"),
                Some("k"),
                "live",
                &[],
            ),
        ];
        for (rule, text, url, key, mode, undefined) in rows {
            assert!(is_caddy(text), "{rule}");
            let p = parse_caddy(text, &env).unwrap_or_else(|l| panic!("{rule}: line {l}"));
            assert_eq!(p.api_url.as_deref(), *url, "{rule}");
            assert_eq!(p.api_key.as_ref().map(Secret::expose), *key, "{rule}");
            assert_eq!(p.mode, Some(*mode), "{rule}");
            assert_eq!(p.key_undefined_vars, *undefined, "{rule}");
        }
        let p = parse_caddy(rows[2].1, &env).unwrap();
        assert_eq!(p.url_undefined_vars, ["CS_URL"]);
        // An unknown token, or api_url without a scheme (`{env.X}` is replaced only after that check): Caddy
        // refuses the Caddyfile.
        assert_eq!(
            parse_caddy("{\n  crowdsec {\n    api_url {env.CS_URL}\n  }\n}\n", &env).unwrap_err(),
            3
        );
        assert_eq!(
            parse_caddy("{\n  crowdsec {\n    apikey k\n  }\n}\n", &env).unwrap_err(),
            3
        );
        assert_eq!(
            parse_caddy(
                "{\n  crowdsec {\n    api_url 127.0.0.1:8080\n  }\n}\n",
                &env
            )
            .unwrap_err(),
            3
        );
        assert!(parse_caddy("example.com {\n  respond ok\n}\n", &env)
            .unwrap()
            .unjudged
            .is_some());
    }
}
