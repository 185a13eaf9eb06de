//! apache (crowdsecurity/cs-apache2-bouncer): the `CrowdsecURL` and `CrowdsecAPIKey` directives, case-insensitive
//! as Apache's are, a value optionally in double quotes; `#` lines are comments.

use crate::crowdsec::bouncer_files::Parsed;
use crate::values::secret::Secret;

/// The file sets one of the module's directives.
pub(super) fn is_apache(text: &str) -> bool {
    text.lines().any(|l| {
        let d = l.trim_start().to_ascii_lowercase();
        d.starts_with("crowdsecurl") || d.starts_with("crowdsecapikey")
    })
}

/// What the module reads from its directives.
pub(super) fn parse_apache(text: &str) -> Parsed {
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
