//! The legacy HAProxy Lua bouncer (crowdsecurity/cs-haproxy-bouncer), read with its own reader,
//! `config.loadConfig` of `lib/plugins/crowdsec/config.lua` at commit 031e1e37fea48a97d9e102f660b47027510c5a9f
//! (2023-04-27, the last release's tree), not lua-cs-bouncer's:
//!
//! - `io.lines`: lines split on `\n` only, so a CRLF file leaves `\r` at the end of every value;
//! - a line whose first byte is `#`, or that `trim`s to nothing, is skipped;
//! - any other line is `split(line, "=")` (`(s.."="):gmatch("(.-)=(.-)")`): the key is the text before the first
//!   `=` and the value the text up to the next `=`, neither trimmed (`API_KEY = k` sets the unknown key
//!   `API_KEY `);
//! - an unknown key, or a line without `=`, only raises `core.Alert("unsupported configuration ...")` and the
//!   reading goes on with the next line;
//! - `ENABLED`, `MODE`, `BOUNCING_ON_TYPE` with a value not in their list keep their default (`true`, `stream`,
//!   `ban`); `FALLBACK_REMEDIATION` too (`ban`); one of those four alone on its line (no `=`, so no value)
//!   makes the alert concatenate `nil` (and `EXCLUDE_LOCATION` alone, its list split): a Lua error, and haproxy
//!   does not load the bouncer;
//! - no `.local` overlay, no environment expansion, no TLS setting;
//! - `API_URL` is a known key nobody reads: `lib/crowdsec.lua` asks `http://` + the address of server `crowdsec`
//!   of haproxy.cfg's `backend crowdsec`, so the file holds no URL.

use crate::crowdsec::bouncer_files::Parsed;
use crate::values::secret::Secret;

/// `valid_params` and `valid_int_params` of config.lua at 031e1e3.
const KEYS: &[&str] = &[
    "ENABLED",
    "API_URL",
    "API_KEY",
    "MAP_PATH",
    "BOUNCING_ON_TYPE",
    "MODE",
    "SECRET_KEY",
    "SITE_KEY",
    "BAN_TEMPLATE_PATH",
    "CAPTCHA_TEMPLATE_PATH",
    "REDIRECT_LOCATION",
    "RET_CODE",
    "EXCLUDE_LOCATION",
    "FALLBACK_REMEDIATION",
    "HAPROXY_ADMIN_PORT",
    "CACHE_EXPIRATION",
    "CACHE_SIZE",
    "REQUEST_TIMEOUT",
    "UPDATE_FREQUENCY",
    "CAPTCHA_EXPIRATION",
];

/// The keys checked against a list, with the list and the default kept on a value outside it.
fn enum_of(key: &str) -> Option<(&'static [&'static str], &'static str)> {
    match key {
        "ENABLED" => Some((&["false", "true"], "true")),
        "MODE" => Some((&["stream", "live"], "stream")),
        "BOUNCING_ON_TYPE" => Some((&["ban", "captcha", "all"], "ban")),
        "FALLBACK_REMEDIATION" => Some((&["captcha", "ban"], "ban")),
        _ => None,
    }
}

/// Lua's `%s` (C locale isspace), what config.lua's `trim` strips when it tests for a blank line.
fn lua_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// What the haproxy bouncer's `loadConfig` keeps of `text`. `Err(line)`: the reader raises a Lua error there.
pub(super) fn parse_haproxy(text: &str) -> Result<Parsed, usize> {
    let mut p = Parsed::default();
    let mut values: std::collections::BTreeMap<&str, String> = Default::default();
    for (n, line) in text.split('\n').enumerate() {
        let n = n + 1;
        if line.starts_with('#') || line.trim_matches(lua_space).is_empty() {
            continue;
        }
        let mut pieces = line.split('=');
        let key = pieces.next().unwrap_or_default();
        let value = pieces.next();
        let Some(known) = KEYS.iter().find(|k| **k == key) else {
            // Only a known key is named: an unknown "key" may be a pasted secret.
            if let Some(k) = KEYS.iter().find(|k| **k == key.trim_matches(lua_space)) {
                p.notes.push(format!(
                    "line {n}: `{k}` has spaces or a carriage return around it, so the haproxy bouncer (which trims nothing) does not know it and ignores the line"
                ));
            }
            continue;
        };
        // `(value..","):gmatch(...)` on nil is a Lua error too.
        if value.is_none() && *known == "EXCLUDE_LOCATION" {
            return Err(n);
        }
        if let Some((allowed, default)) = enum_of(known) {
            match value {
                None => return Err(n),
                Some(v) if !allowed.contains(&v) => {
                    let cr = if v.ends_with('\r') {
                        " (it ends with a carriage return: CRLF line ends)"
                    } else {
                        ""
                    };
                    p.notes.push(format!(
                        "line {n}: {known} is not one of {} exactly{cr}, so the haproxy bouncer keeps {default}",
                        allowed.join("/")
                    ));
                    continue;
                }
                Some(_) => {}
            }
        }
        if value.is_some() && line.matches('=').count() > 1 && *known == "API_KEY" {
            p.notes.push(format!(
                "line {n}: the haproxy bouncer cuts API_KEY's value at its next `=`"
            ));
        }
        match value {
            Some(v) => values.insert(known, v.to_owned()),
            None => values.remove(known),
        };
    }
    p.api_key = values.get("API_KEY").cloned().map(Secret::new);
    // crowdsec.lua: `if runtime.conf["ENABLED"] == "false"`, `if runtime.conf["MODE"] == "stream"`.
    p.enabled = values.get("ENABLED").map(String::as_str) != Some("false");
    p.mode = Some(match values.get("MODE").map(String::as_str) {
        Some("live") => "live",
        _ => "stream",
    });
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each rule of config.lua `loadConfig` (cs-haproxy-bouncer 031e1e3), with the exact input of issue 20 rows
    /// 1 and 2.
    #[test]
    fn rules_from_cs_haproxy_bouncer_031e1e3() {
        struct Row {
            rule: &'static str,
            file: &'static str,
            key: Option<&'static str>,
            enabled: bool,
            mode: &'static str,
        }
        let rows = [
            Row {
                rule:
                    "issue 20 #1: CRLF leaves \\r in the key (io.lines splits on \\n only, no trim)",
                file: "ENABLED=true\r\nAPI_KEY=k\r\n",
                key: Some("k\r"),
                enabled: true,
                mode: "stream",
            },
            Row {
                rule: "issue 20 #1: spaces around = make an unknown key `API_KEY `",
                file: "API_KEY = k\n",
                key: None,
                enabled: true,
                mode: "stream",
            },
            Row {
                rule: "issue 20 #2: a line without = is skipped, the reading goes on",
                file: "ENABLED=true\nhaproxy\nAPI_KEY=k\n",
                key: Some("k"),
                enabled: true,
                mode: "stream",
            },
            Row {
                rule: "an indented # is an unknown key, skipped",
                file: "  # c\nAPI_KEY=k\n",
                key: Some("k"),
                enabled: true,
                mode: "stream",
            },
            Row {
                rule: "the value stops at the next =",
                file: "API_KEY=a=b==\n",
                key: Some("a"),
                enabled: true,
                mode: "stream",
            },
            Row {
                rule: "an empty value is the empty string",
                file: "API_KEY=\n",
                key: Some(""),
                enabled: true,
                mode: "stream",
            },
            Row {
                rule: "ENABLED=false disables; MODE=live",
                file: "ENABLED=false\nMODE=live\n",
                key: None,
                enabled: false,
                mode: "live",
            },
            Row {
                rule: "CR after an enum value: the default is kept",
                file: "ENABLED=false\r\nMODE=live\r\n",
                key: None,
                enabled: true,
                mode: "stream",
            },
            Row {
                rule: "case matters for keys and values",
                file: "api_key=x\nENABLED=False\nAPI_KEY=k\n",
                key: Some("k"),
                enabled: true,
                mode: "stream",
            },
            Row {
                rule: "the last duplicate wins; # in the first column is a comment",
                file: "API_KEY=a\n#API_KEY=no\nAPI_KEY=k\n",
                key: Some("k"),
                enabled: true,
                mode: "stream",
            },
            Row {
                rule: "quotes stay in the value",
                file: "API_KEY=\"k\"\n",
                key: Some("\"k\""),
                enabled: true,
                mode: "stream",
            },
        ];
        for r in rows {
            let p = parse_haproxy(r.file).unwrap_or_else(|l| panic!("{}: line {l}", r.rule));
            assert_eq!(p.api_key.as_ref().map(Secret::expose), r.key, "{}", r.rule);
            assert_eq!(p.enabled, r.enabled, "{}", r.rule);
            assert_eq!(p.mode, Some(r.mode), "{}", r.rule);
            assert_eq!(p.api_url, None, "{}: the URL is haproxy.cfg's", r.rule);
            assert_eq!(p.stopped_at, None, "{}: it never stops reading", r.rule);
        }
        let spaced = parse_haproxy("API_KEY = k\n").unwrap();
        assert!(
            spaced.notes[0].contains("line 1: `API_KEY` has spaces"),
            "{:?}",
            spaced.notes
        );
        // The alert concatenates a nil value: a Lua error in init.
        assert_eq!(parse_haproxy("API_KEY=k\nMODE\n").unwrap_err(), 2);
        // An unknown line is never quoted (it may be a pasted key).
        assert!(parse_haproxy("S3cretKey\nAPI_KEY=k\n")
            .unwrap()
            .notes
            .is_empty());
    }
}
