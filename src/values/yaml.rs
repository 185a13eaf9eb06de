//! Bounds on YAML read from outside (bouncer files, CrowdSec's config, the web config file), and where a key stands
//! in a file (to name the line of a value refused after parsing).
//!
//! serde_yaml_ng's scanner (unsafe-libyaml) takes time quadratic in flow nesting (`[`, `{`): measured in a debug
//! build, 128 KiB of `{a: ` took 35 s and 1 MiB of `[` 85 s (tests/it/properties_bouncer_files.rs). It refuses nesting
//! past 128 levels anyway, so text nested deeper is refused before it reaches the parser: the same answer, in
//! linear time. The scan is deliberately simple: quoted strings and comments are skipped; a bracket inside a plain
//! scalar counts, which can only make a file with over 128 unclosed brackets in plain scalars be refused.

use std::path::Path;

/// serde_yaml_ng's own recursion limit.
pub(crate) const MAX_FLOW_DEPTH: usize = 128;

/// Largest configuration file read (bytes). Configuration files are a few KB; more is not one.
pub(crate) const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The 1-based line of the key at `keys` (e.g. `["web", "telemetry_path"]`) in `text`, for block-style YAML: each
/// key is looked for below its parent, more indented. `None` when not found (flow style, or not set).
pub(crate) fn line_of(text: &str, keys: &[&str]) -> Option<usize> {
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    let mut lines = text.lines().enumerate();
    for key in keys {
        found = None;
        for (n, line) in lines.by_ref() {
            let body = line.trim_start();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            let indent = line.len() - body.len();
            if parent_indent.is_some_and(|p| indent <= p) {
                return None;
            }
            if parent_indent.is_none() && indent > 0 {
                continue;
            }
            let is_key = body
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'));
            if is_key {
                found = Some(n + 1);
                parent_indent = Some(indent);
                break;
            }
        }
        found?;
    }
    found
}

/// The 1-based line of `key` in entry `index` of the top-level list `section` (e.g. `lapis`, 1, `timeout` for
/// `lapis[1].timeout`), for block-style YAML; `key` `None`: the entry's own line (its `- `). `None` when not found
/// (flow style, or not set).
pub(crate) fn line_of_item(
    text: &str,
    section: &str,
    index: usize,
    key: Option<&str>,
) -> Option<usize> {
    let start = line_of(text, &[section])?;
    // The entries: `- ` lines at the first such line's indent, until a line less indented ends the section.
    let (mut item_indent, mut entry, mut key_column) =
        (None::<usize>, None::<usize>, None::<usize>);
    let mut found_entry = None;
    for (n, line) in text.lines().enumerate().skip(start) {
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        if indent == 0 && !body.starts_with('-') {
            break;
        }
        let item = body == "-" || body.starts_with("- ");
        if item && item_indent.is_none() {
            item_indent = Some(indent);
        }
        let item_indent = item_indent?;
        if indent < item_indent {
            break;
        }
        // The body after any `- ` of this entry, and its column.
        let (body, column) = if item && indent == item_indent {
            entry = Some(entry.map_or(0, |e| e + 1));
            let after = body[1..].trim_start();
            if entry == Some(index) {
                found_entry = Some(n + 1);
                key_column = None;
            }
            (after, line.len() - after.len())
        } else {
            (body, indent)
        };
        if entry != Some(index) || body.is_empty() {
            continue;
        }
        let Some(key) = key else {
            return found_entry;
        };
        let column_of_keys = *key_column.get_or_insert(column);
        let is_key = column == column_of_keys
            && body
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'));
        if is_key {
            return Some(n + 1);
        }
    }
    key.map_or(found_entry, |_| None)
}

/// `true` when `[`/`{` nest deeper than [`MAX_FLOW_DEPTH`] outside quotes and comments.
pub(crate) fn too_deep(text: &str) -> bool {
    let (mut depth, mut single, mut double, mut comment, mut escaped) =
        (0usize, false, false, false, false);
    let mut previous = '\n';
    for c in text.chars() {
        if comment {
            comment = c != '\n';
        } else if double {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => double = false,
                _ => {}
            }
        } else if single {
            single = c != '\'';
        } else {
            match c {
                '#' if previous.is_whitespace() => comment = true,
                '"' => double = true,
                '\'' => single = true,
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return true;
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        previous = c;
    }
    false
}

/// What serde_yaml_ng refused by one of its own limits rather than for a syntax error, in words (its messages for
/// these carry no location, so "syntax error at line 0, column 0" was all a user saw for an alias bomb). `None`
/// for any other error. serde_yaml_ng's `RepetitionLimitExceeded` / `RecursionLimitExceeded` (src/error.rs).
pub(crate) fn limit_refused(e: &serde_yaml_ng::Error) -> Option<&'static str> {
    let message = e.to_string();
    if message.starts_with("repetition limit exceeded") {
        Some("refused: its aliases (`*name`) expand past the YAML reader's repetition limit (an alias bomb?)")
    } else if message.starts_with("recursion limit exceeded") {
        Some("refused: collections nested deeper than the YAML reader's recursion limit (128 levels)")
    } else {
        None
    }
}

/// A serde_yaml_ng message about the exporter's config file, without any value written in the file: serde quotes
/// a refused scalar (`invalid type: string "K3Y..."`), so a key file passed as `--config.file`, or a secret pasted
/// under the wrong key, would be echoed. Rewritten: a string, number or character value becomes `a string (value
/// not shown)` (`an integer`, `a number`, `a character`); an unknown key or variant is named only when it reads as
/// a key name (at most 40 lowercase ASCII letters, `_` and `-`: no digit, no capital, as no key of the file has),
/// else `(name not shown)`, since a pasted secret can stand where a key does; a Rust type (`expected struct
/// BouncersSection`) reads as the section (`expected a map (section bouncers)`). Line and column are kept.
pub(crate) fn redact_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    // (what serde writes before the value, how the value is quoted, what replaces both)
    const VALUES: [(&str, char, &str); 8] = [
        ("string \"", '"', "a string (value not shown)"),
        ("integer `", '`', "an integer (value not shown)"),
        ("floating point `", '`', "a number (value not shown)"),
        ("character `", '`', "a character (value not shown)"),
        ("unknown field `", '`', "unknown field"),
        ("unknown variant `", '`', "unknown variant"),
        ("duplicate field `", '`', "duplicate field"),
        ("expected struct ", ' ', "expected"),
    ];
    loop {
        let next = VALUES
            .iter()
            .filter_map(|v| rest.find(v.0).map(|i| (i, v)))
            .min_by_key(|(i, _)| *i);
        let Some((i, &(prefix, quote, replacement))) = next else {
            break;
        };
        out.push_str(&rest[..i]);
        let value_start = i + prefix.len();
        let quoted = &rest[value_start..];
        // The value's end: its closing quote (a `"` not escaped), or for a type name the first non-identifier.
        let mut escaped = false;
        let end = quoted
            .char_indices()
            .find(|&(_, c)| {
                if quote == ' ' {
                    return !(c.is_ascii_alphanumeric() || c == '_');
                }
                let closing = c == quote && !escaped;
                escaped = quote == '"' && c == '\\' && !escaped;
                closing
            })
            .map_or(quoted.len(), |(j, _)| j);
        let value = &quoted[..end];
        let after = if quote == ' ' {
            end
        } else {
            (end + 1).min(quoted.len())
        };
        rest = &quoted[after..];
        match prefix {
            "expected struct " => {
                out.push_str(replacement);
                out.push(' ');
                out.push_str(&section_of_type(value));
            }
            _ if replacement.starts_with("unknown") || replacement.starts_with("duplicate") => {
                let shown = !value.is_empty()
                    && value.len() <= 40
                    && value
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-');
                out.push_str(replacement);
                if shown {
                    out.push_str(&format!(" `{value}`"));
                } else if replacement == "unknown variant" {
                    out.push_str(" (value not shown: it does not read as a word)");
                } else {
                    out.push_str(" (name not shown: it does not read as a key name)");
                }
            }
            _ => out.push_str(replacement),
        }
    }
    out.push_str(rest);
    out
}

/// A config-file type of serde's messages, as the user wrote it: `ConfigFile` the file's top level,
/// `BouncersSection` the section `bouncers`.
fn section_of_type(name: &str) -> String {
    match name {
        "ConfigFile" => "a map of sections (the file's top level)".to_owned(),
        "LapiSection" => "a map (an entry of lapis)".to_owned(),
        _ => match name.strip_suffix("Section") {
            Some(camel) if !camel.is_empty() => {
                let mut snake = String::new();
                for (n, c) in camel.chars().enumerate() {
                    if c.is_ascii_uppercase() && n > 0 {
                        snake.push('_');
                    }
                    snake.push(c.to_ascii_lowercase());
                }
                format!("a map (section {snake})")
            }
            _ => "a map".to_owned(),
        },
    }
}

/// Why [`read_capped`] gave no text.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("larger than {MAX_FILE_BYTES} bytes: not a configuration file")]
    TooLarge,
    #[error("not UTF-8 text")]
    NotText,
}

/// The file's text, at most [`MAX_FILE_BYTES`], through [`super::file::read_regular`] (a FIFO or a huge file must
/// not hang or fill memory; a FIFO, socket or device is an `Io` error of kind `InvalidInput` naming it).
///
/// # Errors
/// I/O errors as they are (the caller tells NotFound apart), [`ReadError::TooLarge`], [`ReadError::NotText`].
pub(crate) fn read_capped(path: &Path) -> Result<String, ReadError> {
    let bytes = match super::file::read_regular(path, MAX_FILE_BYTES) {
        Ok(b) => b,
        Err(super::file::FileError::TooLarge(_)) => return Err(ReadError::TooLarge),
        Err(e) => return Err(ReadError::Io(e.into())),
    };
    String::from_utf8(bytes).map_err(|_| ReadError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_key_is_found_at_its_line() {
        let text = "# c\nweb:\n  timeout: 1s\nlapis:\n  - name: a\n    db: /a\n    # t\n    timeout: 2s\n  -\n    name: b\n    nested:\n      timeout: x\n    timeout: 3s\nbouncers:\n  timeout: 4s\n";
        assert_eq!(line_of_item(text, "lapis", 0, Some("timeout")), Some(8));
        assert_eq!(line_of_item(text, "lapis", 0, Some("name")), Some(5));
        assert_eq!(line_of_item(text, "lapis", 0, None), Some(5));
        assert_eq!(line_of_item(text, "lapis", 1, None), Some(9));
        assert_eq!(line_of_item(text, "lapis", 1, Some("timeout")), Some(13));
        assert_eq!(line_of_item(text, "lapis", 1, Some("db")), None);
        assert_eq!(line_of_item(text, "lapis", 2, None), None);
        assert_eq!(
            line_of_item("lapis: [{name: a}]\n", "lapis", 0, Some("name")),
            None
        );
        let flush = "lapis:\n- name: a\n  timeout: 1s\n- name: b\n  timeout: 2s\n";
        assert_eq!(line_of_item(flush, "lapis", 1, Some("timeout")), Some(5));
    }

    /// The "billion laughs" of issue 23 row 10: 9 aliases per level, 9 levels.
    pub(crate) fn alias_bomb() -> String {
        let mut text =
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                .to_owned();
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            let items = vec![format!("*{}", w[0]); 9].join(",");
            text.push_str(&format!("{}: &{} [{items}]\n", w[1], w[1]));
        }
        text
    }

    #[test]
    fn an_alias_bomb_is_named_as_such() {
        let e = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&alias_bomb()).unwrap_err();
        assert!(
            limit_refused(&e).is_some_and(|m| m.contains("alias bomb")),
            "{e}"
        );
        let e = serde_yaml_ng::from_str::<serde_yaml_ng::Value>("a: [\n").unwrap_err();
        assert_eq!(limit_refused(&e), None);
    }

    #[test]
    fn depth_is_counted_outside_quotes_and_comments() {
        let deep = |unit: &str, n: usize| unit.repeat(n);
        assert!(!too_deep(&deep("[", MAX_FLOW_DEPTH)));
        assert!(too_deep(&deep("[", MAX_FLOW_DEPTH + 1)));
        assert!(too_deep(&deep("{a: ", MAX_FLOW_DEPTH + 1)));
        assert!(!too_deep(&format!("k: \"{}\"\n", deep("[", 500))));
        assert!(!too_deep(&format!("k: '{}'\n", deep("{", 500))));
        assert!(!too_deep(&format!("k: v # {}\n", deep("[", 500))));
        assert!(!too_deep(&format!("k: \"\\\"{}\"\n", deep("[", 500))));
        assert!(!too_deep(&deep("[]", 10_000)), "siblings are not depth");
        // `#` glued to a value is not a comment in YAML.
        assert!(too_deep(&format!("k: a#{}\n", deep("[", 200))));
    }

    #[test]
    fn values_are_not_shown_in_messages() {
        assert_eq!(
            redact_values("invalid type: string \"K3YSECRETxyz123\", expected struct ConfigFile at line 1 column 1"),
            "invalid type: a string (value not shown), expected a map of sections (the file's top level) at line 1 column 1"
        );
        assert_eq!(
            redact_values("service_api: invalid type: string \"a\\\"b, c\", expected struct ServiceApiSection at line 1 column 14"),
            "service_api: invalid type: a string (value not shown), expected a map (section service_api) at line 1 column 14"
        );
        assert_eq!(
            redact_values("bouncers: invalid type: integer `123456`, expected struct BouncersSection"),
            "bouncers: invalid type: an integer (value not shown), expected a map (section bouncers)"
        );
        assert_eq!(
            redact_values("lapis[0]: unknown field `cach_interval`, expected one of `name`, `url` at line 6 column 5"),
            "lapis[0]: unknown field `cach_interval`, expected one of `name`, `url` at line 6 column 5"
        );
        assert_eq!(
            redact_values("log.level: unknown variant `K3YSECRETxyz123`, expected one of `info`"),
            "log.level: unknown variant (value not shown: it does not read as a word), expected one of `info`"
        );
        assert_eq!(
            redact_values("log.level: unknown variant `loud`, expected one of `info`"),
            "log.level: unknown variant `loud`, expected one of `info`"
        );
        assert_eq!(
            redact_values("service_api: unknown field `sk_live_0123`, expected `url`"),
            "service_api: unknown field (name not shown: it does not read as a key name), expected `url`"
        );
        assert_eq!(
            redact_values("invalid value: string \"x"),
            "invalid value: a string (value not shown)"
        );
    }

    #[test]
    fn line_of_finds_a_key_below_its_section() {
        let text = "# top\nlog:\n  level: info\nweb:\n\n  # listen\n  listen_addresses: [':1']\n  telemetry_path: /m\nservice_api:\n  url: x\n";
        assert_eq!(line_of(text, &["web", "telemetry_path"]), Some(8));
        assert_eq!(line_of(text, &["web", "listen_addresses"]), Some(7));
        assert_eq!(line_of(text, &["service_api", "url"]), Some(10));
        assert_eq!(line_of(text, &["web"]), Some(4));
        // Not under its section: not found, rather than another section's line.
        assert_eq!(line_of(text, &["log", "telemetry_path"]), None);
        assert_eq!(line_of(text, &["web", "url"]), None);
        let flow = "web: {telemetry_path: /m}\n";
        assert_eq!(line_of(flow, &["web", "telemetry_path"]), None);
    }
}
