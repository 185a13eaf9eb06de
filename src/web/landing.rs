//! The landing page `/`, modelled on blackbox_exporter's (which lists its recent probes and their results): an
//! operator without Grafana opens it first, so it says what `diagnose` says of the same state: per LAPI, each
//! bouncer base's verdict, the age it rests on and its likely cause; each integration's; then every configured
//! source's state with its reason (as `crowdsec_exporter_source_up` and `_errors_total`).
//!
//! The judgement is the top layer's ([`Judge`]: `diagnose`'s report, from the verdict module of the alert rules),
//! applied to the scrape the page already took from the caches: the page reads nothing of its own. Every text is
//! HTML-escaped, and the whole page goes through the one redaction of every output ([`crate::values::secret`]).

use std::sync::Arc;

use crate::scrape::Scrape;

/// Turns a scrape into what the page says about bouncers, integrations and LAPIs (built by the top layer from the
/// verdicts, so the page and `diagnose` never disagree).
pub type Judge = Arc<dyn Fn(&Scrape) -> Overview + Send + Sync>;

/// What `diagnose` says of one scrape, as the page shows it (every value a ready-made text).
#[derive(Debug, Clone, Default)]
pub struct Overview {
    /// `ok`, `warning`, `critical` or `error`, as `diagnose --output json`'s `status`.
    pub(crate) status: String,
    /// The instant judged (RFC 3339).
    pub(crate) generated_at: String,
    /// Every finding of severity warning or critical, one line each.
    pub(crate) problems: Vec<String>,
    pub(crate) lapis: Vec<LapiOverview>,
    /// `None` when the Service API is not read.
    pub(crate) integrations: Option<IntegrationsOverview>,
}

/// One LAPI and its bouncer bases.
#[derive(Debug, Clone, Default)]
pub(crate) struct LapiOverview {
    pub name: String,
    /// `ok`, `no_active_bouncer`, `no_bouncer`; empty when its bouncers could not be read.
    pub verdict: String,
    pub severity: String,
    /// Health and database errors, in words (empty when none).
    pub notes: Vec<String>,
    pub bouncers: Vec<Judged>,
    /// Bouncers without an alert left out of `bouncers` ([`MAX_ROWS`]).
    pub left_out: usize,
}

/// The Service API's integrations.
#[derive(Debug, Clone, Default)]
pub(crate) struct IntegrationsOverview {
    pub error: Option<String>,
    pub items: Vec<Judged>,
}

/// At most this many bouncer rows per LAPI: at 10,000 bouncers the whole list would be megabytes of HTML
/// nobody reads; those with an alert come first, and a line says how many quiet ones were left out.
pub(crate) const MAX_ROWS: usize = 1000;

/// `rows` cut to `max`: every row with an alert (severity other than `none`) first kept, then the quiet ones, in
/// their order; and how many were left out.
pub(crate) fn capped(rows: Vec<Judged>, max: usize) -> (Vec<Judged>, usize) {
    if rows.len() <= max {
        return (rows, 0);
    }
    let loud = rows.iter().filter(|j| j.severity != "none").count();
    let mut quiet_room = max.saturating_sub(loud);
    let mut loud_room = max;
    let total = rows.len();
    let kept: Vec<Judged> = rows
        .into_iter()
        .filter(|j| {
            if j.severity != "none" && loud_room > 0 {
                loud_room -= 1;
                true
            } else if j.severity == "none" && quiet_room > 0 {
                quiet_room -= 1;
                loud_room = loud_room.saturating_sub(1);
                true
            } else {
                false
            }
        })
        .collect();
    let left_out = total - kept.len();
    (kept, left_out)
}

/// One judged bouncer base or integration.
#[derive(Debug, Clone, Default)]
pub(crate) struct Judged {
    pub name: String,
    /// An integration's id (empty for a bouncer).
    pub id: String,
    /// As `diagnose --output json` writes it (`offline`, `never_pulled`...).
    pub verdict: String,
    /// As `diagnose` prints it (`OFFLINE`, `never pulled yet (in grace)`...).
    pub label: String,
    /// `none`, `info`, `warning`, `critical`.
    pub severity: String,
    /// The most severe alert that fires for it, empty when none.
    pub alert: String,
    /// Its last pull (or registration) in words.
    pub age: String,
    /// The likeliest cause (offline or never pulled), empty otherwise.
    pub cause: String,
    /// What to try, empty when nothing.
    pub fix: String,
}

/// One row of the page's source table: what `crowdsec_exporter_source_up` and
/// `crowdsec_exporter_source_errors_total` say, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceStatus {
    /// `source` label: `lapi_db`, `cscli`, `service_api`, `bouncer_config`, `lapi_health`, `lapi_decisions`.
    pub source: &'static str,
    /// `name` label.
    pub name: String,
    /// `up`, `down` (last read failed; last good data still served) or `not read yet`.
    pub state: &'static str,
    /// The last failure's metric reason (`permission`, `open`, `timeout`, ...), empty when up.
    pub reason: &'static str,
    /// The last failure's message (never holds a secret: see `sources::SourceFailure`), empty when up.
    pub message: String,
}

fn status(r: &dyn crate::scrape::AnyReport) -> SourceStatus {
    let r = r.health();
    let (reason, message) = match (&r.last_error, r.up) {
        (Some(e), false) => (e.reason.as_str(), e.message.clone()),
        _ => ("", String::new()),
    };
    SourceStatus {
        source: r.kind,
        name: r.name.to_owned(),
        state: if r.up {
            "up"
        } else if r.reads == 0 && r.last_error.is_none() {
            "not read yet"
        } else {
            "down"
        },
        reason,
        message,
    }
}

/// Every registered source of a scrape, in the order the metrics list them (`crowdsec_exporter_source_up`). A
/// source that is not configured has no row (it is absent, not down).
pub(crate) fn sources_status(s: &Scrape) -> Vec<SourceStatus> {
    s.reports.iter().map(|r| status(r.as_ref())).collect()
}

/// The page: the judgement (when the top layer gave one), then the sources, redacted.
pub(crate) fn page(telemetry_path: &str, scrape: &Scrape, judge: Option<&Judge>) -> String {
    let overview = judge.map(|j| j(scrape));
    let html = render(telemetry_path, overview.as_ref(), &sources_status(scrape));
    crate::values::secret::redact(&html).into_owned()
}

fn judged_table(o: &mut String, kind: &str, attrs: &dyn Fn(&Judged) -> String, rows: &[Judged]) {
    o.push_str(&format!(
        "<table class=\"{kind}\">\n<tr><th>{kind}</th><th>verdict</th><th>alert</th><th>last pull</th><th>likely cause</th></tr>\n"
    ));
    for j in rows {
        let name = if j.id.is_empty() {
            html_escape(&j.name)
        } else {
            format!(
                "{} <small>({})</small>",
                html_escape(&j.name),
                html_escape(&j.id)
            )
        };
        let fix = if j.fix.is_empty() {
            String::new()
        } else {
            format!("<div class=\"fix\">try: {}</div>", html_escape(&j.fix))
        };
        o.push_str(&format!(
            "<tr {}><td>{name}</td><td class=\"verdict sev-{}\">{}</td><td>{}</td><td>{}</td><td>{}{fix}</td></tr>\n",
            attrs(j),
            html_escape(&j.severity),
            html_escape(&j.label),
            html_escape(&j.alert),
            html_escape(&j.age),
            html_escape(&j.cause),
        ));
    }
    o.push_str("</table>\n");
}

fn overview_html(o: &mut String, v: &Overview) {
    o.push_str(&format!(
        "<h2>Bouncers</h2>\n<p>Overall: <b class=\"sev-{s} status\" data-status=\"{s}\">{s}</b>, judged at {} as \
         <code>diagnose</code> judges (an alert fires once its <code>for:</code> has passed too).</p>\n",
        html_escape(&v.generated_at),
        s = html_escape(&v.status),
    ));
    if !v.problems.is_empty() {
        o.push_str("<ul class=\"problems\">\n");
        for p in &v.problems {
            o.push_str(&format!("<li>{}</li>\n", html_escape(p)));
        }
        o.push_str("</ul>\n");
    }
    for l in &v.lapis {
        let verdict = if l.verdict.is_empty() {
            "bouncers not read".to_owned()
        } else {
            l.verdict.replace('_', " ")
        };
        o.push_str(&format!(
            "<h3 data-lapi=\"{n}\" data-verdict=\"{}\">LAPI {n}: <span class=\"sev-{}\">{}</span></h3>\n",
            html_escape(&l.verdict),
            html_escape(&l.severity),
            html_escape(&verdict),
            n = html_escape(&l.name),
        ));
        for note in &l.notes {
            o.push_str(&format!("<p class=\"note\">{}</p>\n", html_escape(note)));
        }
        if l.bouncers.is_empty() {
            o.push_str("<p>No bouncer registered.</p>\n");
        } else {
            let lapi = l.name.clone();
            judged_table(
                o,
                "bouncer",
                &|j| {
                    format!(
                        "data-lapi=\"{}\" data-bouncer=\"{}\" data-verdict=\"{}\"",
                        html_escape(&lapi),
                        html_escape(&j.name),
                        html_escape(&j.verdict)
                    )
                },
                &l.bouncers,
            );
        }
        if l.left_out > 0 {
            o.push_str(&format!(
                "<p class=\"left-out\">{} more bouncers with no alert are not listed: see <code>diagnose</code> or the metrics.</p>\n",
                l.left_out
            ));
        }
    }
    if let Some(i) = &v.integrations {
        o.push_str("<h2>Integrations (Service API)</h2>\n");
        if let Some(e) = &i.error {
            o.push_str(&format!("<p class=\"note\">{}</p>\n", html_escape(e)));
        }
        if i.items.is_empty() {
            o.push_str("<p>No integration.</p>\n");
        } else {
            judged_table(
                o,
                "integration",
                &|j| {
                    format!(
                        "data-integration=\"{}\" data-verdict=\"{}\"",
                        html_escape(&j.id),
                        html_escape(&j.verdict)
                    )
                },
                &i.items,
            );
        }
    }
}

fn render(telemetry_path: &str, overview: Option<&Overview>, sources: &[SourceStatus]) -> String {
    let path = html_escape(telemetry_path);
    let mut judged = String::new();
    if let Some(v) = overview {
        overview_html(&mut judged, v);
    }
    let mut rows = String::new();
    for s in sources {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>\n",
            s.source,
            html_escape(&s.name),
            s.state.replace(' ', "-"),
            s.state,
            s.reason,
            html_escape(&s.message)
        ));
    }
    let table = if sources.is_empty() {
        "<p>No source is configured.</p>\n".to_owned()
    } else {
        format!(
            "<table>\n<tr><th>source</th><th>name</th><th>state</th><th>reason</th><th>message</th></tr>\n{rows}</table>\n"
        )
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>CrowdSec Bouncer Exporter</title>\n\
         <style>body{{font-family:sans-serif;margin:1em 2em}} table{{border-collapse:collapse;margin-bottom:1em}} \
         td,th{{text-align:left;padding:2px 8px;border-bottom:1px solid #ddd;vertical-align:top}} \
         .down,.sev-critical{{color:#b00;font-weight:bold}} .sev-warning{{color:#a60;font-weight:bold}} \
         .up,.sev-none,.sev-ok{{color:#070}} .sev-info{{color:#046}} .fix{{color:#555;font-size:90%}} \
         .note{{color:#b00}}</style></head>\n<body>\n\
         <h1>CrowdSec Bouncer Exporter</h1>\n\
         <p>When did each CrowdSec bouncer last pull decisions. Version {} (revision {}).</p>\n\
         <ul><li><a href=\"{path}\">Metrics</a></li><li><a href=\"/-/healthy\">Health</a></li></ul>\n\
         {judged}<h2>Sources</h2>\n{table}\
         </body></html>\n",
        crate::metrics::VERSION,
        crate::metrics::REVISION
    )
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(name: &str, verdict: &str) -> Judged {
        Judged {
            name: name.into(),
            verdict: verdict.into(),
            label: "<OFFLINE>".into(),
            severity: "critical".into(),
            alert: "CrowdSecBouncerOffline".into(),
            age: "last pull 25h ago".into(),
            cause: "running (/etc/x.yaml): no process \"x\" runs".into(),
            ..Judged::default()
        }
    }

    /// Every text of the judgement is escaped, in the cells and in the attributes the test of the page reads.
    #[test]
    fn the_judgement_is_escaped_everywhere() {
        let o = Overview {
            status: "critical".into(),
            generated_at: "2024-01-02T03:04:05Z".into(),
            problems: vec!["bouncer <script>: OFFLINE".into()],
            lapis: vec![LapiOverview {
                name: "edge\"1".into(),
                verdict: "ok".into(),
                severity: "none".into(),
                notes: vec!["LAPI does not answer: <b>".into()],
                bouncers: vec![judged("fw'<img>", "offline")],
                left_out: 2,
            }],
            integrations: Some(IntegrationsOverview {
                error: None,
                items: vec![Judged {
                    id: "abc&".into(),
                    ..judged("blaas", "never_pulled")
                }],
            }),
        };
        let html = render("/metrics", Some(&o), &[]);
        for raw in ["<script>", "<img>", "<b>", "<OFFLINE>", "edge\"1", "abc&\""] {
            assert!(!html.contains(raw), "{raw} unescaped in {html}");
        }
        assert!(html.contains(
            "data-lapi=\"edge&quot;1\" data-bouncer=\"fw&#39;&lt;img&gt;\" data-verdict=\"offline\""
        ));
        assert!(html.contains("data-integration=\"abc&amp;\" data-verdict=\"never_pulled\""));
        assert!(html.contains("no process &quot;x&quot; runs"));
        assert!(html.contains("data-status=\"critical\""));
        assert!(html.contains("2 more bouncers with no alert are not listed"));
    }

    /// Past the cap, every row with an alert stays (in order) and quiet rows fill what is left.
    #[test]
    fn a_long_list_keeps_the_rows_with_an_alert() {
        let row = |n: usize, severity: &str| Judged {
            name: format!("b{n}"),
            severity: severity.into(),
            ..Judged::default()
        };
        let rows: Vec<Judged> = (0..10)
            .map(|n| row(n, if n % 4 == 3 { "critical" } else { "none" }))
            .collect();
        let (kept, left_out) = capped(rows.clone(), 4);
        let names: Vec<&str> = kept.iter().map(|j| j.name.as_str()).collect();
        assert_eq!((names, left_out), (vec!["b0", "b1", "b3", "b7"], 6));
        assert_eq!(capped(rows.clone(), 10).1, 0);
        // More alerts than room: only alerts, the first ones.
        let (kept, left_out) = capped(rows, 1);
        assert_eq!((kept[0].name.as_str(), left_out), ("b3", 9));
    }

    #[test]
    fn without_a_judgement_only_links_and_sources() {
        let html = render("/m", None, &[]);
        assert!(!html.contains("<h2>Bouncers</h2>"));
        assert!(html.contains("No source is configured."));
    }
}
