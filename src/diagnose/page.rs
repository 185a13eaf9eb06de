//! The landing page's judgement ([`crate::web::landing`]): the report `diagnose` builds ([`build_with`]), from the
//! scrape the page already took, in the page's words. The verdicts are `diagnose --output json`'s, by the same
//! serialization; labels, causes and what to try are its text's.

use std::sync::Arc;

use serde::Serialize;

use crate::web::landing::{
    capped, IntegrationsOverview, Judge, Judged, LapiOverview, Overview, MAX_ROWS,
};

use super::*;

/// The judge the web layer calls for each landing page, with the thresholds of the alert rules (the settings').
pub(crate) fn judge(t: Thresholds) -> Judge {
    Arc::new(move |s: &Scrape| overview(&build_with(s, &t)))
}

/// A value as `diagnose --output json` writes it (`offline`, `never_pulled`...).
fn json_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn first_cause(causes: &[crate::crowdsec::verdict::Cause]) -> String {
    causes.first().map(text::cause_line).unwrap_or_default()
}

fn bouncer(b: &BaseReport) -> Judged {
    let age = match (
        &b.last_pull_ago,
        b.rows.iter().find_map(|r| r.registered_ago.as_ref()),
    ) {
        (Some(a), _) => a.clone(),
        (None, Some(r)) => format!("never; registered {r}"),
        (None, None) => "never".to_owned(),
    };
    Judged {
        name: b.name.clone(),
        id: String::new(),
        verdict: json_name(&b.verdict),
        label: text::base_label(b.verdict).to_owned(),
        severity: b.severity.as_str().to_owned(),
        alert: b.alert.map(Alert::name).unwrap_or_default().to_owned(),
        age,
        cause: first_cause(&b.causes),
        fix: b.fix.clone().unwrap_or_default(),
    }
}

fn integration(i: &IntegrationReport) -> Judged {
    let age = match (&i.last_pull_ago, &i.created_ago) {
        (Some(a), _) => a.clone(),
        (None, Some(c)) => format!("never; created {c}"),
        (None, None) => "never".to_owned(),
    };
    Judged {
        name: i.name.clone(),
        id: i.id.clone(),
        verdict: json_name(&i.verdict),
        label: text::integration_label(i.verdict).to_owned(),
        severity: i.severity.as_str().to_owned(),
        alert: i.alert.map(Alert::name).unwrap_or_default().to_owned(),
        age,
        cause: first_cause(&i.causes),
        fix: i.fix.clone().unwrap_or_default(),
    }
}

fn lapi(l: &LapiReport) -> LapiOverview {
    let mut notes = Vec::new();
    if let Some(e) = &l.database_error {
        notes.push(format!(
            "its bouncers cannot be read (last good data shown): {e}"
        ));
    }
    if l.up == Some(false) {
        notes.push(format!(
            "does not answer at {}: {}",
            l.url.as_deref().unwrap_or("?"),
            l.health_error.as_deref().unwrap_or("")
        ));
    }
    let (bouncers, left_out) = capped(l.bouncers.iter().map(bouncer).collect(), MAX_ROWS);
    LapiOverview {
        name: l.name.clone(),
        verdict: l.verdict.as_ref().map(json_name).unwrap_or_default(),
        severity: l.severity.as_str().to_owned(),
        notes,
        bouncers,
        left_out,
    }
}

/// The report in the page's words.
pub(super) fn overview(r: &Report) -> Overview {
    Overview {
        status: json_name(&r.status),
        generated_at: r.generated_at.clone(),
        problems: r.problems.clone(),
        lapis: r.lapis.iter().map(lapi).collect(),
        integrations: r.integrations.as_ref().map(|i| IntegrationsOverview {
            error: i.error.clone(),
            items: i.items.iter().map(integration).collect(),
        }),
    }
}
