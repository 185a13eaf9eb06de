//! A bouncer's own log, classified. The message texts are the bouncers' own:
//! - Go bouncers (go-cs-bouncer stream_bouncer.go at 5e664e66 logs the LAPI client's error; crowdsec's apiclient
//!   turns the LAPI's 403 `{"message":"access forbidden"}` into `API error: access forbidden`; Go's net package
//!   says `connect: connection refused`, `no such host`, `i/o timeout`; crypto/tls and x509 say `tls: ...`,
//!   `x509: certificate ...`). Seen here from Debian's crowdsec-firewall-bouncer 0.0.25 and
//!   crowdsec-custom-bouncer 0.0.15 against CrowdSec 1.4.6 (tests/e2e_host_checks.rs):
//!   `time="30-11-2026 10:58:36" level=error msg="API error: access forbidden"` and
//!   `level=error msg="Get \"http://127.0.0.1:8080/v1/decisions/stream?startup=true\": dial tcp 127.0.0.1:8080: connect: connection refused"`.
//! - Their configuration errors (cs-firewall-bouncer cmd/root.go bcb81cd5: `unable to read config file`,
//!   `unable to load configuration`, `configuration file is required`; go-cs-bouncer: `config does not contain
//!   LAPI url`, `config does not contain LAPI key or certificate`, `unable to parse lapi update interval`).
//! - Lua bouncers (lua-cs-bouncer 3e82dd61: stream.lua `HTTP error while request to Local API '403' with message
//!   (...)`, live.lua `Http error 403 while talking to LAPI (...)` and `failed to query LAPI <url>: <err>`,
//!   config.lua `invalid configuration line`, `unsupported configuration`, `unsupported value`).
//!
//! Timestamps: logrus `time="..."` (RFC 3339 in today's file mode, cs-firewall-bouncer pkg/cfg/logging.go; the
//! old builds' `02-01-2006 15:04:05` in local time, main.go/config.go v0.0.25) and nginx's error log
//! `YYYY/MM/DD HH:MM:SS` (local time). Local times are placed with the offset [`infer_offset`] finds.

use std::collections::BTreeMap;

use crate::values::time::{parse_timestamp, UnixSeconds};

/// The error classes and the words that mark them (lowercase), in the order a line is tried.
const PATTERNS: [(&str, &[&str]); 4] = [
    (
        "auth",
        &[
            "access forbidden",
            "'403'",
            "'401'",
            "error 403",
            "error 401",
            "status 403",
            "status 401",
            "403 forbidden",
            "401 unauthorized",
            "unauthorized",
        ],
    ),
    ("tls", &["x509:", "tls:", "certificate", "handshake"]),
    (
        "connect",
        &[
            "connection refused",
            "no such host",
            "could not be resolved",
            "i/o timeout",
            "timeout",
            "timed out",
            "deadline exceeded",
            "no route to host",
            "network is unreachable",
            "connection reset",
        ],
    ),
    (
        "config",
        &[
            "invalid configuration",
            "unable to load configuration",
            "unable to read config",
            "unable to configure bouncer",
            "unable to unmarshal",
            "config does not contain",
            "configuration file is required",
            "unable to parse lapi update interval",
            "unsupported configuration",
            "unsupported value",
        ],
    ),
];

/// The `class` label values, in the order a line is tried.
pub const CLASSES: [&str; 4] = [PATTERNS[0].0, PATTERNS[1].0, PATTERNS[2].0, PATTERNS[3].0];

/// At most this many bytes of a log's end are read (a busy web server's error log can be gigabytes).
pub const TAIL_BYTES: u64 = 256 * 1024;

/// An excerpt shown by `diagnose` is cut to this many characters.
const EXCERPT_CHARS: usize = 240;

/// The error class of one log line, or `None` when it is no error of a known class (an info line, an error of
/// another kind).
fn classify(line: &str) -> Option<&'static str> {
    if !error_level(line) {
        return None;
    }
    let l = line.to_ascii_lowercase();
    let (class, _) = PATTERNS
        .iter()
        .find(|(_, words)| words.iter().any(|w| l.contains(w)))?;
    Some(class)
}

/// logrus `level=` and nginx `[level]`: only errors and warnings count; a line without a level (a journal line
/// printed raw, a panic) is judged by its text.
fn error_level(line: &str) -> bool {
    if let Some(rest) = line
        .split(" level=")
        .nth(1)
        .or_else(|| line.strip_prefix("level="))
    {
        let level = rest.split([' ', '"']).next().unwrap_or("");
        return matches!(level, "error" | "fatal" | "panic" | "warning" | "warn");
    }
    if let Some(level) = nginx_level(line) {
        return matches!(level, "error" | "crit" | "alert" | "emerg" | "warn");
    }
    true
}

fn nginx_level(line: &str) -> Option<&str> {
    let rest = line.get(20..)?;
    nginx_time(line)?;
    rest.strip_prefix('[')?.split(']').next()
}

/// `YYYY/MM/DD HH:MM:SS` at the start of an nginx error log line, as naive UTC.
fn nginx_time(line: &str) -> Option<UnixSeconds> {
    let head = line.get(..19)?;
    let b = head.as_bytes();
    if b[4] != b'/' || b[7] != b'/' {
        return None;
    }
    parse_timestamp(&head.replace('/', "-"))
}

/// A line's time: `(seconds, naive)`, where naive means written in the bouncer's local time without an offset
/// (read here as if UTC).
fn line_time(line: &str) -> Option<(UnixSeconds, bool)> {
    if let Some(rest) = line.split("time=\"").nth(1) {
        let text = rest.split('"').next()?;
        // Old logrus format `02-01-2006 15:04:05`.
        let b = text.as_bytes();
        if b.len() == 19 && b[2] == b'-' && b[5] == b'-' && b[10] == b' ' {
            let iso = format!(
                "{}-{}-{} {}",
                &text[6..10],
                &text[3..5],
                &text[..2],
                &text[11..]
            );
            return parse_timestamp(&iso).map(|t| (t, true));
        }
        let has_offset = text.ends_with('Z')
            || text.ends_with('z')
            || text.get(19..).is_some_and(|t| t.contains(['+', '-']));
        return parse_timestamp(text).map(|t| (t, !has_offset));
    }
    nginx_time(line).map(|t| (t, true))
}

/// The bouncer's UTC offset in seconds, from its log: the last line with a naive time was written when the file
/// was last modified (`mtime`), so their difference, rounded to a quarter hour, is the zone's offset. 0 when no
/// line is naive or the difference is no zone's (more than 14 h).
pub fn infer_offset(text: &str, mtime: UnixSeconds) -> i64 {
    let Some(naive) = text
        .lines()
        .rev()
        .filter_map(line_time)
        .find_map(|(t, naive)| naive.then_some(t))
    else {
        return 0;
    };
    let diff = naive - mtime;
    if diff.abs() > 14.0 * 3600.0 + 900.0 {
        return 0;
    }
    ((diff / 900.0).round() as i64) * 900
}

/// What the scan of a log's end found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogScan {
    /// Lines of the window read.
    pub lines: u64,
    /// Errors per class (only classes seen).
    pub counts: BTreeMap<&'static str, u64>,
    /// The last classified line, keys redacted and cut to 240 characters: for `diagnose` only, never exported
    /// nor logged.
    pub last: Option<String>,
}

impl LogScan {
    pub fn errors(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// Scans `text` (the end of a log) for errors at or after `since`; `offset` places naive times (see
/// [`infer_offset`]). Lines without a time count only when `untimed_in_window` (a journal read with `--since`
/// is the window already). `secrets` are replaced by `<redacted>` in the excerpt. A first partial line (the tail
/// started mid-line) is the caller's to drop.
pub fn scan(
    text: &str,
    since: UnixSeconds,
    offset: i64,
    untimed_in_window: bool,
    secrets: &[&str],
) -> LogScan {
    let mut out = LogScan::default();
    for line in text.lines() {
        let in_window = match line_time(line) {
            Some((t, naive)) => (if naive { t - offset as f64 } else { t }) >= since,
            None => untimed_in_window,
        };
        if !in_window {
            continue;
        }
        out.lines += 1;
        if let Some(class) = classify(line) {
            *out.counts.entry(class).or_default() += 1;
            out.last = Some(redact(line, secrets));
        }
    }
    out
}

/// `line` with every non-empty secret of `secrets` replaced, then the one redaction of every printed text
/// ([`crate::values::secret::redact`]: every remembered key, URL userinfo), cut to [`EXCERPT_CHARS`] characters.
pub fn redact(line: &str, secrets: &[&str]) -> String {
    let mut s = line.trim().to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        s = s.replace(secret, crate::values::secret::REDACTED);
    }
    s = crate::values::secret::redact(&s).into_owned();
    if s.chars().count() > EXCERPT_CHARS {
        s = s.chars().take(EXCERPT_CHARS - 1).collect::<String>() + "…";
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lines written by Debian's crowdsec-firewall-bouncer 0.0.25 / crowdsec-custom-bouncer 0.0.15 here (file mode).
    const FORBIDDEN: &str =
        r#"time="30-11-2026 10:58:36" level=error msg="API error: access forbidden""#;
    const REFUSED: &str = r#"time="30-11-2026 10:58:50" level=error msg="Get \"http://127.0.0.1:18481/v1/decisions/stream?startup=true\": dial tcp 127.0.0.1:18481: connect: connection refused""#;
    const AUTH_API_REFUSED: &str = r#"time="30-11-2026 10:58:50" level=error msg="auth-api: auth with api key failed return nil response, error: dial tcp 127.0.0.1:18999: connect: connection refused""#;
    const NO_HOST: &str = r#"time="30-11-2026 10:58:54" level=error msg="Get \"https://nonexistent.invalid:8080/v1/decisions/stream?startup=true\": dial tcp: lookup nonexistent.invalid on 10.255.255.53:53: no such host""#;
    const TERMINATING: &str =
        r#"time="30-11-2026 10:58:36" level=error msg="terminating bouncer process""#;
    const INFO: &str = r#"time="30-11-2026 10:58:36" level=info msg="Using API key auth""#;

    #[test]
    fn classes_of_real_lines() {
        assert_eq!(classify(FORBIDDEN), Some("auth"));
        assert_eq!(classify(REFUSED), Some("connect"));
        assert_eq!(classify(AUTH_API_REFUSED), Some("connect"));
        assert_eq!(classify(NO_HOST), Some("connect"));
        assert_eq!(classify(TERMINATING), None);
        assert_eq!(classify(INFO), None);
        // Today's RFC 3339 format, a TLS failure (Go crypto/x509 wording).
        let tls = r#"time="2026-11-30T10:58:35Z" level=error msg="Get \"https://lapi:8080/v1/decisions/stream\": tls: failed to verify certificate: x509: certificate signed by unknown authority""#;
        assert_eq!(classify(tls), Some("tls"));
        let config = r#"time="2026-11-30T10:58:35Z" level=fatal msg="unable to load configuration: config does not contain LAPI url""#;
        assert_eq!(classify(config), Some("config"));
        // A timeout at warning level still counts; the same text at info does not.
        assert_eq!(
            classify(r#"time="2026-11-30T10:58:35Z" level=warning msg="i/o timeout""#),
            Some("connect")
        );
        assert_eq!(
            classify(r#"time="2026-11-30T10:58:35Z" level=info msg="i/o timeout""#),
            None
        );
    }

    #[test]
    fn lua_lines_from_nginx_error_log() {
        let stream = r#"2026/11/30 10:58:35 [error] 1234#1234: *3 [lua] stream.lua:228: stream_query_process(): HTTP error while request to Local API '403' with message ({"message":"access forbidden"}), context: ngx.timer"#;
        let live = r#"2026/11/30 10:58:35 [error] 1234#1234: *5 [lua] live.lua:37: live_query(): failed to query LAPI http://127.0.0.1:8080/v1/decisions?ip=1.2.3.4: connection refused, client: 1.2.3.4"#;
        let conf = r#"2026/11/30 10:58:35 [error] 1234#1234: [lua] config.lua:85: loadConfig(): invalid configuration line: oops, context: init_by_lua*"#;
        let notice = r#"2026/11/30 10:58:35 [notice] 1234#1234: signal process started"#;
        assert_eq!(classify(stream), Some("auth"));
        assert_eq!(classify(live), Some("connect"));
        assert_eq!(classify(conf), Some("config"));
        assert_eq!(classify(notice), None);
        assert_eq!(line_time(stream).map(|t| t.1), Some(true));
    }

    #[test]
    fn times_and_window() {
        let t = |s: &str| parse_timestamp(s).unwrap();
        assert_eq!(line_time(FORBIDDEN), Some((t("2026-11-30 10:58:36"), true)));
        assert_eq!(
            line_time(r#"time="2026-11-30T10:58:35+02:00" level=error"#),
            Some((t("2026-11-30T08:58:35Z"), false))
        );
        let text = [INFO, FORBIDDEN, TERMINATING, REFUSED].join("\n");
        // The window starts after the 403 (10:58:36) and before the refusal (10:58:50).
        let s = scan(&text, t("2026-11-30 10:58:40"), 0, false, &[]);
        assert_eq!(s.counts, BTreeMap::from([("connect", 1)]));
        assert_eq!(s.lines, 1);
        let all = scan(&text, t("2026-11-30 10:00:00"), 0, false, &[]);
        assert_eq!(all.counts, BTreeMap::from([("auth", 1), ("connect", 1)]));
        assert_eq!(all.errors(), 2);
        // Written in UTC+2: 12:58 local is 10:58 UTC; with the offset the window of 10:58:40 UTC keeps the same line.
        let local = text.replace("10:58", "12:58");
        let s = scan(&local, t("2026-11-30 10:58:40"), 7200, false, &[]);
        assert_eq!(s.counts, BTreeMap::from([("connect", 1)]));
        // Untimed lines (journal -o cat already filtered by --since) count only when told.
        let raw = "level=error msg=\"API error: access forbidden\"";
        assert_eq!(scan(raw, 0.0, 0, false, &[]).errors(), 0);
        assert_eq!(scan(raw, 0.0, 0, true, &[]).errors(), 1);
    }

    #[test]
    fn offset_from_modification_time() {
        let mtime = parse_timestamp("2026-11-30 10:58:50").unwrap();
        assert_eq!(infer_offset(REFUSED, mtime), 0);
        assert_eq!(
            infer_offset(&REFUSED.replace("10:58", "12:58"), mtime + 3.0),
            7200
        );
        assert_eq!(
            infer_offset(&REFUSED.replace("10:58", "05:28"), mtime),
            -19800
        );
        // An RFC 3339 log carries its offset: nothing to infer.
        assert_eq!(
            infer_offset(r#"time="2026-11-30T12:58:50+02:00" level=error"#, mtime),
            0
        );
        // A file copied days later says nothing about a zone.
        assert_eq!(infer_offset(REFUSED, mtime + 3.0 * 86400.0), 0);
    }

    #[test]
    fn excerpt_never_holds_the_key() {
        let key = "e2eKeyRefused0123456789abcdef";
        let line = format!(
            r#"time="2026-11-30T10:58:35Z" level=error msg="API error: access forbidden for {key}""#
        );
        let s = scan(&line, 0.0, 0, false, &[key]);
        let last = s.last.unwrap();
        assert!(!last.contains(key) && last.contains("<redacted>"), "{last}");
        assert!(redact(&"x".repeat(1000), &[]).chars().count() <= 240);
    }
}
