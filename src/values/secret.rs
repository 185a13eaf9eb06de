//! A value that must never reach a log, a metric, an error or a panic message, and the one redaction every text
//! the tool prints passes through ([`redact`]).
//!
//! Wrapping a secret in [`Secret`] keeps it out of `Debug` and `Display`; that is not enough, because a key can sit
//! where no secret is expected (a bouncer file with `api_url: <its key>` made diagnose print `api_url "<key>" is
//! not an absolute URL`, issue 23) and a URL's userinfo can hold a password. So every secret read from a file or
//! the environment is [`remember`]ed, and every output boundary (diagnose's text and JSON, the log writer, the
//! errors printed at start-up, the exposition's label values) passes its text through [`redact`]: the known
//! secrets (as written, Debug-escaped and JSON-escaped) and URL userinfo are replaced by `<redacted>`.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use aho_corasick::{AhoCorasick, MatchKind};

/// What a redacted text shows instead.
pub const REDACTED: &str = "<redacted>";

/// Secrets shorter than this are not searched for: a key of one or two characters would garble every output
/// while hiding nothing a guess would not find.
const MIN_CHARS: usize = 4;

/// Distinct secrets remembered at most (each in up to three spellings). Past it new ones are not added (memory
/// stays bounded whatever the bouncers' folder holds); the bounded scan reads far fewer files.
const MAX_SECRETS: usize = 50_000;

/// Holds an API key or a password. `Debug` and `Display` print `<redacted>`; only [`Secret::expose`] reads it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value, for the one place that must send or hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[derive(Default)]
struct Registry {
    secrets: std::collections::BTreeSet<String>,
    /// Built on first use after a change.
    matcher: Option<Arc<AhoCorasick>>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    secrets: std::collections::BTreeSet::new(),
    matcher: None,
});

/// A secret's file path as a message shows it: as given when it reads as a path (it holds a `/` or a `.`), else
/// not at all. The likeliest mistake in a `key_file`/`db_password_file` setting is the secret itself pasted there
/// (a tester's `--service-api.key-file Xk9pQ2...` printed the key in "cannot read Xk9pQ2...").
pub fn shown_path(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    if text.contains(['/', '.']) {
        text.into_owned()
    } else {
        "(the value given, not shown: it does not read as a path; is it the secret itself?)"
            .to_owned()
    }
}

/// Whether `name` reads as the name of an environment variable holding a secret (`A-Z`, `0-9`, `_`, not
/// starting with a digit), so a message may show it; anything else may be the secret pasted in its place.
pub fn reads_as_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Adds `secret` to what [`redact`] hides, for the life of the process. Call it for every secret read from a
/// file, a flag or the environment (never for a password a client sent: that would let clients grow the set).
pub fn remember(secret: &Secret) {
    let raw = secret.expose();
    if raw.chars().count() < MIN_CHARS {
        return;
    }
    let debug = format!("{raw:?}");
    let json = serde_json::to_string(raw).unwrap_or_default();
    let forms = [
        raw.to_owned(),
        debug[1..debug.len() - 1].to_owned(),
        json.get(1..json.len().saturating_sub(1))
            .unwrap_or_default()
            .to_owned(),
    ];
    let mut reg = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    if reg.secrets.contains(raw) || reg.secrets.len() >= MAX_SECRETS * 3 {
        return;
    }
    for form in forms {
        if !form.is_empty() {
            reg.secrets.insert(form);
        }
    }
    reg.matcher = None;
}

fn matcher() -> Option<Arc<AhoCorasick>> {
    let mut reg = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    if reg.secrets.is_empty() {
        return None;
    }
    if reg.matcher.is_none() {
        reg.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(reg.secrets.iter())
            .ok()
            .map(Arc::new);
    }
    reg.matcher.clone()
}

/// `text` with every remembered secret and every URL's userinfo replaced by `<redacted>` (a database URL keeps
/// its user name, which is configuration, not a secret: `postgres://crowdsec:<redacted>@db/cs`). The one
/// redaction of every printed text; borrowed when nothing had to change.
pub fn redact(text: &str) -> Cow<'_, str> {
    redact_with(text, matcher().as_deref())
}

/// Characters that continue a token: a secret is replaced where it stands whole (after and before anything else:
/// a quote, `=`, a space, `/`, `.`), so a password such as `crowdsec` does not turn every
/// `crowdsec-firewall-bouncer` label value into `<redacted>-firewall-bouncer`.
fn continues_token(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

/// [`redact`] with the matcher taken once by the caller (an exposition has many values).
fn redact_with<'a>(text: &'a str, matcher: Option<&AhoCorasick>) -> Cow<'a, str> {
    let text = without_userinfo(text);
    let Some(m) = matcher.filter(|m| m.is_match(text.as_ref())) else {
        return text;
    };
    let s = text.as_ref();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for found in m.find_iter(s) {
        let before = s[..found.start()].chars().next_back();
        let after = s[found.end()..].chars().next();
        if continues_token(before) || continues_token(after) {
            continue;
        }
        out.push_str(&s[last..found.start()]);
        out.push_str(REDACTED);
        last = found.end();
    }
    if last == 0 {
        return text;
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

/// Characters that end a URL's authority in running text.
fn ends_authority(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`' | '\\' | ')' | ']' | ',' | ';'
        )
}

/// URL userinfo (`scheme://user:password@host`) replaced: the whole userinfo, except a database URL's user name.
fn without_userinfo(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail.find(ends_authority).unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let scheme: String = head[..i]
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let database = matches!(
                    scheme.to_ascii_lowercase().as_str(),
                    "postgres" | "postgresql" | "mysql" | "mariadb"
                );
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _)) if database => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(REDACTED);
                    }
                    None if database => out.push_str(userinfo),
                    _ => out.push_str(REDACTED),
                }
                changed |= !database || userinfo.contains(':');
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// Whether [`redact_label_values`] may change `text` (a URL with userinfo, or a remembered secret, in it): when
/// not, it gives `text` back as it is.
pub fn may_need_redaction(text: &str) -> bool {
    text.contains("://") && text.contains('@')
        || matcher().as_ref().is_some_and(|m| m.is_match(text))
}

/// An exposition (Prometheus or OpenMetrics text) with [`redact`] applied to its label values only: names, help
/// and syntax are never touched (`<redacted>` needs no escaping, so the text stays valid).
pub fn redact_label_values(text: String) -> String {
    if !may_need_redaction(&text) {
        return text;
    }
    let matcher = matcher();
    let matcher = matcher.as_deref();
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.find('{') {
            Some(open) if !line.starts_with('#') => {
                out.push_str(&line[..=open]);
                redact_labels(&line[open + 1..], &mut out, matcher);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// `name="value",...}rest` with each value redacted.
fn redact_labels(mut s: &str, out: &mut String, matcher: Option<&AhoCorasick>) {
    loop {
        let Some(q) = s.find("=\"") else {
            out.push_str(s);
            return;
        };
        out.push_str(&s[..q + 2]);
        let value = &s[q + 2..];
        let mut escaped = false;
        let end = value
            .char_indices()
            .find(|&(_, c)| {
                let close = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                close
            })
            .map_or(value.len(), |(i, _)| i);
        out.push_str(&redact_with(&value[..end], matcher));
        s = &value[end..];
        // The closing quote, then `,` (another label) or `}` (the rest of the line, copied as is).
        if let Some(close) = s.strip_prefix('"') {
            out.push('"');
            s = close;
            if let Some(more) = s.strip_prefix(',') {
                out.push(',');
                s = more;
                if !s.starts_with('}') {
                    continue;
                }
            }
        }
        out.push_str(s);
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("hunter2-key");
        assert_eq!(
            format!("{s:?} {s} {:?}", Some(&s)),
            "<redacted> <redacted> Some(<redacted>)"
        );
        assert_eq!(s.expose(), "hunter2-key");
    }

    #[test]
    fn remembered_secrets_are_redacted_in_every_spelling() {
        remember(&Secret::new("k3y-\"quoted\"-0123456789"));
        let raw = "api_url k3y-\"quoted\"-0123456789 end";
        assert_eq!(redact(raw), "api_url <redacted> end");
        let debug = format!("api_url {:?} is not", "k3y-\"quoted\"-0123456789");
        assert_eq!(redact(&debug), "api_url \"<redacted>\" is not");
        let json = serde_json::json!({ "m": "k3y-\"quoted\"-0123456789" }).to_string();
        assert_eq!(redact(&json), r#"{"m":"<redacted>"}"#);
        remember(&Secret::new("ab"));
        assert_eq!(redact("ab cd"), "ab cd", "too short to be searched for");
        // A password that is also a word of names: replaced only where it stands whole.
        remember(&Secret::new("crowdsecpw"));
        assert_eq!(
            redact("crowdsecpw-firewall-bouncer password=crowdsecpw /x/crowdsecpw.db"),
            "crowdsecpw-firewall-bouncer password=<redacted> /x/<redacted>.db"
        );
    }

    #[test]
    fn userinfo_is_never_printed() {
        assert_eq!(
            redact("cannot reach http://u:SECRET@127.0.0.1:1/ now"),
            "cannot reach http://<redacted>@127.0.0.1:1/ now"
        );
        assert_eq!(
            redact("url \"https://tok@h/x\""),
            "url \"https://<redacted>@h/x\""
        );
        assert_eq!(
            redact("postgres://crowdsec:pw@db:5432/cs and mysql://u@db/x"),
            "postgres://crowdsec:<redacted>@db:5432/cs and mysql://u@db/x"
        );
        assert_eq!(
            redact("mail a@b, see http://h/ @x"),
            "mail a@b, see http://h/ @x"
        );
    }

    #[test]
    fn exposition_label_values_only() {
        remember(&Secret::new("crowdsec_label_secret"));
        let text = "# HELP x crowdsec_label_secret\nx{url=\"http://u:p@h/\",k=\"a,crowdsec_label_secret\"} 1\ny 2\n"
            .to_owned();
        assert_eq!(
            redact_label_values(text),
            "# HELP x crowdsec_label_secret\nx{url=\"http://<redacted>@h/\",k=\"a,<redacted>\"} 1\ny 2\n"
        );
    }

    /// A tester's secrets given where a path or a variable's name belongs were printed in the refusal.
    #[test]
    fn a_path_or_a_name_that_may_be_the_secret_is_not_shown() {
        for secret in [
            "Xk9pQ2wE7rT5yU3iO1pA8sD6fG4hJ2kL",
            "hunter2pass",
            "S3cr3tV@lue",
        ] {
            assert!(!shown_path(std::path::Path::new(secret)).contains(secret));
        }
        for path in ["/etc/crowdsec-exporter/sapi.key", "sapi.key", "./pw"] {
            assert_eq!(shown_path(std::path::Path::new(path)), path);
        }
        for (name, shown) in [
            ("LAPI_PG_PASSWORD", true),
            ("CSBE_1", true),
            ("S3cr3tV@lue", false),
            ("S3cr3tPW", false),
            ("hunter2pass", false),
            ("1ABC", false),
            ("", false),
        ] {
            assert_eq!(reads_as_variable_name(name), shown, "{name:?}");
        }
    }
}
