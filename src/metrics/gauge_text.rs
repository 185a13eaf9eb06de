//! Gauge families written straight into the exposition text, byte for byte as prometheus-client writes them
//! (`# HELP`, `# TYPE`, then `name{label="value",...} value` lines), for the per-bouncer families: at 10,000
//! bouncers prometheus-client's path (a `dyn Write` call per piece, a scan of every label value behind a generic
//! label set) was the largest part of a cold scrape's CPU (issue 22). Label values are escaped as prometheus-client
//! escapes them (`\` `"` and newline), values take its two paths (whole numbers as integers, `dtoa` otherwise); a
//! test compares both writers on hostile values.

use prometheus_client::encoding::DescriptorEncoder;

/// Where a gauge family goes: the text directly ([`GaugeText`]) or prometheus-client's encoder (the reference the
/// tests compare with).
pub(super) trait Gauges {
    /// Writes a gauge family, or nothing when it has no sample. A sample is its labels, its value and whether its
    /// label values were found free of anything to escape ([`needs_escape`]) by the caller, which then spares
    /// the writer that scan; `false` has every value scanned (and escaped when it must be).
    fn gauges<'a, const N: usize>(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = ([(&'static str, &'a str); N], f64, bool)>,
    ) -> Result<(), std::fmt::Error>;
}

impl Gauges for DescriptorEncoder<'_> {
    fn gauges<'a, const N: usize>(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = ([(&'static str, &'a str); N], f64, bool)>,
    ) -> Result<(), std::fmt::Error> {
        // prometheus-client scans every value itself.
        let samples = samples
            .into_iter()
            .map(|(labels, value, _)| (labels, value));
        super::gauges(self, name, help, samples)
    }
}

/// Gauge families appended to a `String`.
pub(super) struct GaugeText<'o> {
    pub out: &'o mut String,
}

impl Gauges for GaugeText<'_> {
    fn gauges<'a, const N: usize>(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = ([(&'static str, &'a str); N], f64, bool)>,
    ) -> Result<(), std::fmt::Error> {
        let mut samples = samples.into_iter().peekable();
        if samples.peek().is_none() {
            return Ok(());
        }
        let out = &mut *self.out;
        for (what, text) in [("# HELP ", help), ("# TYPE ", "gauge")] {
            out.push_str(what);
            out.push_str(name);
            out.push(' ');
            out.push_str(text);
            out.push('\n');
        }
        for (labels, value, clean) in samples {
            out.push_str(name);
            out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(key);
                out.push_str("=\"");
                if clean {
                    debug_assert!(!needs_escape(value), "a value said clean needs an escape");
                    out.push_str(value);
                } else {
                    push_escaped(out, value);
                }
                out.push('"');
            }
            out.push_str("} ");
            push_value(out, value);
            out.push('\n');
        }
        Ok(())
    }
}

/// Whether a label value holds a byte the exposition formats escape: `\` `"` or newline.
pub(super) fn needs_escape(value: &str) -> bool {
    value.bytes().any(|b| ESCAPED[usize::from(b)])
}

/// The bytes [`needs_escape`] looks for, as a table: one load a byte, not three comparisons.
static ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    t[b'\\' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

/// A label value as the exposition formats quote it: `\` `"` and newline escaped, nothing else.
fn push_escaped(out: &mut String, value: &str) {
    if !needs_escape(value) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A gauge value as [`super::gauges`] has prometheus-client write it: whole numbers (below 2^53) as integers,
/// anything else through `dtoa` (its `NaN`, `inf`, shortest digits).
fn push_value(out: &mut String, value: f64) {
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        push_integer(out, value as i64);
    } else {
        out.push_str(dtoa::Buffer::new().format(value));
    }
}

/// Decimal digits of `v` (itoa's output: `-` then the digits, no sign for 0).
fn push_integer(out: &mut String, v: i64) {
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push('-');
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::collector::Collector;
    use prometheus_client::registry::Registry;

    /// One family through prometheus-client (the reference).
    struct Reference(Vec<([(&'static str, String); 2], f64)>);

    impl std::fmt::Debug for Reference {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Reference")
        }
    }

    impl Collector for Reference {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            encoder.gauges("fam", "Help \"as is\\.", borrowed(&self.0))
        }
    }

    fn borrowed<'a>(
        samples: &'a [([(&'static str, String); 2], f64)],
    ) -> impl Iterator<Item = ([(&'static str, &'a str); 2], f64, bool)> {
        samples.iter().map(|(l, v)| {
            let labels = [(l[0].0, l[0].1.as_str()), (l[1].0, l[1].1.as_str())];
            let clean = labels.iter().all(|(_, v)| !needs_escape(v));
            (labels, *v, clean)
        })
    }

    fn both(samples: Vec<([(&'static str, String); 2], f64)>) -> (String, String) {
        let mut direct = String::new();
        GaugeText { out: &mut direct }
            .gauges("fam", "Help \"as is\\.", borrowed(&samples))
            .unwrap();
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Reference(samples)));
        let mut reference = String::new();
        prometheus_client::encoding::text::encode_registry(&mut reference, &registry).unwrap();
        (direct, reference)
    }

    fn sample(a: &str, b: &str, v: f64) -> ([(&'static str, String); 2], f64) {
        ([("lapi", a.to_owned()), ("bouncer", b.to_owned())], v)
    }

    #[test]
    fn writes_what_prometheus_client_writes_for_hostile_values() {
        let nasty = [
            "",
            "plain",
            "back\\slash",
            "quote\"d",
            "new\nline",
            "\\\"\n\\n",
            "trailing\\",
            "\"",
            "ünïcödé \u{1F600} \t tab \r cr",
            "a=\"b\",c=\"d\"}",
            "{}#,=",
        ];
        let values = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1_795_000_000.100_001,
            1_795_000_000.0,
            0.1,
            1e-7,
            123_456_789.987_654_3,
            9_007_199_254_740_992.0,
            9_007_199_254_740_991.0,
            -9_007_199_254_740_991.0,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut samples = Vec::new();
        for (i, a) in nasty.iter().enumerate() {
            for b in &nasty {
                samples.push(sample(a, b, values[i % values.len()]));
            }
        }
        for (i, v) in values.iter().enumerate() {
            samples.push(sample(nasty[i % nasty.len()], "v", *v));
        }
        let (direct, reference) = both(samples);
        assert!(direct.contains(r#"bouncer="\\\"\n\\n"} "#), "{direct}");
        assert_eq!(direct, reference);
        let (direct, reference) = both(Vec::new());
        assert_eq!((direct.as_str(), reference.as_str()), ("", ""));
    }

    proptest::proptest! {
        #[test]
        fn any_value_and_label_is_written_as_prometheus_client_writes_it(
            a in "\\PC*", b in "[\\\\\"\n a-z]{0,12}", v in proptest::num::f64::ANY,
            secs in 0i64..4_000_000_000, micros in 0u32..1_000_000,
        ) {
            let ts = secs as f64 + f64::from(micros) / 1e6;
            let (direct, reference) = both(vec![sample(&a, &b, v), sample(&b, &a, ts)]);
            proptest::prop_assert_eq!(direct, reference);
        }
    }
}
