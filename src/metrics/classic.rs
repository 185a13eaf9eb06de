//! prometheus-client writes OpenMetrics text only; scrapers that ask for the classic text format 0.0.4 (older
//! Prometheus, promtool, curl) get it converted: no `# EOF`, no `# UNIT`, counters' HELP/TYPE carry the `_total`
//! sample name, `unknown` is `untyped`.

/// Converts OpenMetrics text as prometheus-client writes it into the Prometheus text format 0.0.4.
pub(crate) fn from_openmetrics(om: &str) -> String {
    // The classic text is a few bytes longer per counter family (`_total` in HELP and TYPE): without the slack, a
    // text of megabytes would be grown to twice its size for them.
    let mut out = String::with_capacity(om.len() + om.len() / 64 + 256);
    append_from_openmetrics(om, &mut out);
    out
}

/// As [`from_openmetrics`], appending to `out` (the usage families are converted one family at a time, so no
/// second copy of the whole text exists).
pub(crate) fn append_from_openmetrics(om: &str, out: &mut String) {
    let mut lines = om.lines().peekable();
    while let Some(line) = lines.next() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let kind = lines
                .peek()
                .and_then(|l| l.strip_prefix("# TYPE "))
                .and_then(|t| t.split_once(' '))
                .filter(|(n, _)| *n == name)
                .map(|(_, k)| k);
            let total = if kind == Some("counter") {
                "_total"
            } else {
                ""
            };
            for piece in ["# HELP ", name, total, " ", &escape_help(help), "\n"] {
                out.push_str(piece);
            }
            if let Some(kind) = kind {
                let kind = match kind {
                    "counter" | "gauge" | "histogram" | "summary" => kind,
                    _ => "untyped",
                };
                for piece in ["# TYPE ", name, total, " ", kind, "\n"] {
                    out.push_str(piece);
                }
                lines.next();
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
}

/// As [`append_from_openmetrics`], for the OpenMetrics text at the end of `out` (from `start`), converted where it
/// is: only comment lines differ between the formats, so for one family (its comment lines first, then samples)
/// only those leading lines are rewritten and the samples (megabytes for a usage family at 10,000 bouncers) are
/// not copied. Other text is converted through a copy.
pub(crate) fn convert_tail(out: &mut String, start: usize) {
    let tail = &out[start..];
    let lead: usize = tail
        .split_inclusive('\n')
        .take_while(|l| l.starts_with('#'))
        .map(str::len)
        .sum();
    if tail[lead..].contains("\n#") || !tail.ends_with('\n') {
        let om = out.split_off(start);
        append_from_openmetrics(&om, out);
        return;
    }
    let mut head = String::with_capacity(lead + 64);
    append_from_openmetrics(&tail[..lead], &mut head);
    out.replace_range(start..start + lead, &head);
}

/// The classic format escapes `\` and newlines in HELP; OpenMetrics text from prometheus-client has none of
/// them unescaped, so this only guards against a backslash in our own HELP strings.
fn escape_help(help: &str) -> String {
    if help.contains('\\') && !help.contains("\\\\") {
        help.replace('\\', "\\\\")
    } else {
        help.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_counters_gauges_and_drops_openmetrics_only_lines() {
        let om = "# HELP a_errors Errors.\n# TYPE a_errors counter\na_errors_total{r=\"x\"} 3\n\
                  # HELP a_up Up.\n# TYPE a_up gauge\n# UNIT a_up seconds\na_up 1.0\n# EOF\n";
        assert_eq!(
            from_openmetrics(om),
            "# HELP a_errors_total Errors.\n# TYPE a_errors_total counter\na_errors_total{r=\"x\"} 3\n\
             # HELP a_up Up.\n# TYPE a_up gauge\na_up 1.0\n"
        );
    }

    #[test]
    fn converting_in_place_gives_the_converted_text() {
        let one = "# HELP a_errors Errors.\n# TYPE a_errors counter\na_errors_total{r=\"#x\"} 3\na_errors_total 4\n";
        let two = "# HELP a_up Up.\n# TYPE a_up gauge\na_up 1.0\n# HELP b Bee.\n# TYPE b counter\nb_total 2\n";
        for om in [one, two, "", "# HELP c C.\n# TYPE c counter\n"] {
            let mut out = String::from("before\n");
            out.push_str(om);
            convert_tail(&mut out, "before\n".len());
            assert_eq!(out, format!("before\n{}", from_openmetrics(om)), "{om}");
        }
    }
}
