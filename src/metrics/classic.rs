//! prometheus-client writes OpenMetrics text only; scrapers that ask for the classic text format 0.0.4 (older
//! Prometheus, promtool, curl) get it converted: no `# EOF`, no `# UNIT`, counters' HELP/TYPE carry the `_total`
//! sample name, `unknown` is `untyped`.

/// Converts OpenMetrics text as prometheus-client writes it into the Prometheus text format 0.0.4.
pub(crate) fn from_openmetrics(om: &str) -> String {
    let mut out = String::with_capacity(om.len());
    let lines: Vec<&str> = om.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let kind = lines
                .get(i)
                .and_then(|l| l.strip_prefix("# TYPE "))
                .and_then(|t| t.split_once(' '))
                .filter(|(n, _)| *n == name)
                .map(|(_, k)| k);
            let sample_name = match kind {
                Some("counter") => format!("{name}_total"),
                _ => name.to_owned(),
            };
            out.push_str(&format!("# HELP {sample_name} {}\n", escape_help(help)));
            if let Some(kind) = kind {
                let kind = match kind {
                    "counter" | "gauge" | "histogram" | "summary" => kind,
                    _ => "untyped",
                };
                out.push_str(&format!("# TYPE {sample_name} {kind}\n"));
                i += 1;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
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
}
