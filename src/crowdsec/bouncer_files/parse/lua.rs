//! The Lua bouncers' `KEY=VALUE` files (nginx, openresty; lua-cs-bouncer `lib/plugins/crowdsec/config.lua`), read
//! line by line as `config.loadConfig` does (see [`super`] for the rules), with their `.local` overlay.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::crowdsec::bouncer_files::{Parsed, TlsFiles};
use crate::values::secret::Secret;

/// Lua's `%s`: the C locale's isspace.
fn lua_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// The settings one Lua file sets, each with the line it came from.
#[derive(Default)]
struct LuaFile {
    values: BTreeMap<String, (String, usize)>,
    stopped_at: Option<usize>,
    unknown: Vec<(String, usize)>,
    fallbacks: Vec<String>,
}

/// The keys the exporter reads, with their allowed values and default when the value is not allowed
/// (lua-cs-bouncer config.lua `valid_truefalse_values` and the `MODE` list).
fn lua_enum(key: &str) -> Option<(&'static [&'static str], &'static str)> {
    const TRUE_FALSE: &[&str] = &["false", "true"];
    match key {
        "ENABLED" | "SSL_VERIFY" => Some((TRUE_FALSE, "true")),
        "USE_TLS_AUTH"
        | "ENABLE_INTERNAL"
        | "ALWAYS_SEND_TO_APPSEC"
        | "APPSEC_DROP_UNREADABLE_BODY" => Some((TRUE_FALSE, "false")),
        "MODE" => Some((&["stream", "live"], "stream")),
        "BOUNCING_ON_TYPE" => Some((&["ban", "captcha", "all"], "ban")),
        "FALLBACK_REMEDIATION" => Some((&["captcha", "ban"], "ban")),
        _ => None,
    }
}

/// Every key lua-cs-bouncer accepts (config.lua `valid_params` and `valid_int_params`); others are ignored.
const LUA_KEYS: &[&str] = &[
    "ENABLED",
    "ENABLE_INTERNAL",
    "API_URL",
    "API_KEY",
    "BOUNCING_ON_TYPE",
    "MODE",
    "SECRET_KEY",
    "SITE_KEY",
    "BAN_TEMPLATE_PATH",
    "CAPTCHA_TEMPLATE_PATH",
    "REDIRECT_LOCATION",
    "RET_CODE",
    "CAPTCHA_RET_CODE",
    "EXCLUDE_LOCATION",
    "FALLBACK_REMEDIATION",
    "CAPTCHA_PROVIDER",
    "APPSEC_URL",
    "APPSEC_FAILURE_ACTION",
    "ALWAYS_SEND_TO_APPSEC",
    "APPSEC_DROP_UNREADABLE_BODY",
    "SSL_VERIFY",
    "USE_TLS_AUTH",
    "TLS_CLIENT_CERT",
    "TLS_CLIENT_KEY",
    "CACHE_EXPIRATION",
    "CACHE_SIZE",
    "REQUEST_TIMEOUT",
    "UPDATE_FREQUENCY",
    "CAPTCHA_EXPIRATION",
    "APPSEC_CONNECT_TIMEOUT",
    "APPSEC_SEND_TIMEOUT",
    "APPSEC_PROCESS_TIMEOUT",
    "STREAM_REQUEST_TIMEOUT",
];

/// `config.loadConfig` of lua-cs-bouncer, line by line (`io.lines` splits on `\n` only).
fn lua_file(text: &str) -> LuaFile {
    let mut f = LuaFile::default();
    for (n, line) in text.split('\n').enumerate() {
        // The comment test is on the raw line: `  # x` is not a comment.
        if line.starts_with('#') || line.trim_matches(lua_space).is_empty() {
            continue;
        }
        let Some(eq) = line.find('=') else {
            f.stopped_at = Some(n + 1);
            break;
        };
        let key = line[..eq].trim_matches(lua_space);
        let mut value = line[eq + 1..].trim_matches(lua_space).to_owned();
        if !LUA_KEYS.contains(&key) {
            f.unknown.push((key.to_owned(), n + 1));
            continue;
        }
        if let Some((allowed, default)) = lua_enum(key) {
            if !allowed.contains(&value.as_str()) {
                f.fallbacks.push(format!(
                    "line {}: {key} is not one of {} (exactly, lower case), so the bouncer uses {default}",
                    n + 1,
                    allowed.join("/")
                ));
                value = default.to_owned();
            }
        }
        f.values.insert(key.to_owned(), (value, n + 1));
    }
    f
}

pub(super) fn parse_lua(text: &str, overlay: Option<&str>) -> Parsed {
    let main = lua_file(text);
    let local = overlay.map(lua_file);
    let mut p = Parsed::default();
    let mut values: BTreeMap<String, String> = main
        .values
        .iter()
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect();
    if let Some(stop) = main.stopped_at {
        p.stopped_at = Some(format!("line {stop}"));
    }
    let mut notes: Vec<String> = main.fallbacks.clone();
    let bom_key = |f: &LuaFile, which: &str| {
        f.unknown
            .iter()
            .find(|(k, line)| *line == 1 && k.starts_with('\u{feff}'))
            .map(|(k, _)| {
                format!(
                    "{which}starts with a UTF-8 BOM glued to the first key, so the bouncer does not know {} and ignores that line",
                    k.trim_start_matches('\u{feff}')
                )
            })
    };
    notes.extend(bom_key(&main, "the file "));
    if let Some(local) = &local {
        // lua-cs-bouncer >= 1.0.7 (crowdsec.lua csmod.init): every key the overlay sets replaces the file's.
        for (k, (v, _)) in &local.values {
            values.insert(k.clone(), v.clone());
        }
        if let Some(stop) = local.stopped_at {
            let at = format!("line {stop} of the .local overlay");
            p.stopped_at = Some(match p.stopped_at.take() {
                Some(main_stop) => format!("{main_stop} (and {at})"),
                None => at,
            });
        }
        notes.extend(local.fallbacks.iter().map(|f| format!(".local {f}")));
        notes.extend(bom_key(local, "the .local overlay "));
        p.overlay_keys = local.values.keys().cloned().collect();
    }
    let get = |k: &str| values.get(k).cloned();
    p.api_url = get("API_URL");
    p.api_key = get("API_KEY").map(Secret::new);
    p.enabled = get("ENABLED").is_none_or(|v| v == "true");
    // lua-cs-bouncer: `ssl_verify` is the boolean SSL_VERIFY (default true) handed to resty.http.
    p.trust.insecure = get("SSL_VERIFY").as_deref() == Some("false");
    p.mode = Some(if get("MODE").as_deref() == Some("live") {
        "live"
    } else {
        "stream"
    });
    if get("USE_TLS_AUTH").as_deref() == Some("true") {
        let path = |k: &str| get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        p.tls = Some(TlsFiles {
            cert: path("TLS_CLIENT_CERT"),
            key: path("TLS_CLIENT_KEY"),
            ca: None,
        });
    }
    p.notes = notes;
    p
}
