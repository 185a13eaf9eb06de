//! The Service API's answers, parsed tolerantly: unknown fields ignored, optional fields optional, timestamps as
//! RFC 3339 with or without offset or fraction, or naive UTC. Shapes: CrowdSec's published OpenAPI spec
//! (`IntegrationGetResponsePage`, `IntegrationGetResponse`).

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::crowdsec::bouncers::LastPull;
use crate::values::time;

pub(crate) use crate::crowdsec::blocklist_integration::Integration;

/// One page of `GET /integrations`.
#[derive(Debug)]
pub struct Page {
    /// The integrations of this page.
    pub items: Vec<Integration>,
    /// `links.next`: a host-relative path (with the `/v1` prefix), or `None` on the last page.
    pub next: Option<String>,
    /// Integrations whose timestamps could not be read.
    pub unreadable: usize,
}

#[derive(Deserialize)]
struct RawPage {
    items: Vec<RawIntegration>,
    // Required by the spec; `total`, `page`, `size` and `pages` are not read (they may be null).
    links: RawLinks,
}

#[derive(Deserialize)]
struct RawLinks {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct RawIntegration {
    id: String,
    name: String,
    #[serde(default)]
    entity_type: Option<String>,
    #[serde(default)]
    output_format: Option<String>,
    // Kept raw, so that a value of the wrong type spoils this integration's times only.
    #[serde(default)]
    created_at: serde_json::Value,
    #[serde(default)]
    last_pull: serde_json::Value,
    #[serde(default)]
    blocklists: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    stats: Option<RawStats>,
}

#[derive(Deserialize)]
struct RawStats {
    #[serde(default)]
    count: Option<serde_json::Number>,
}

/// Why a page could not be read: a category and a position, never content.
#[derive(Debug, PartialEq)]
pub struct ShapeError(pub String);

/// serde_json's messages quote the offending value (`invalid type: string "..."`): only its category and
/// position are kept, plus the name of a missing field (a name of ours, not input).
fn shape_error(e: &serde_json::Error) -> ShapeError {
    use serde_json::error::Category;
    let text = e.to_string();
    let what = match e.classify() {
        Category::Data if text.starts_with("missing field `") => text
            .split(" at line")
            .next()
            .unwrap_or("missing field")
            .to_owned(),
        Category::Data => "a value of the wrong type".to_owned(),
        Category::Syntax => "not JSON".to_owned(),
        Category::Eof => "truncated JSON".to_owned(),
        Category::Io => "read error".to_owned(),
    };
    ShapeError(format!("{what} at line {} column {}", e.line(), e.column()))
}

/// Parses one page of `GET /integrations`.
///
/// # Errors
/// A [`ShapeError`] when the body is not the documented page shape (its location, never a value).
pub fn parse_page(body: &[u8]) -> Result<Page, ShapeError> {
    let raw: RawPage = serde_json::from_slice(body).map_err(|e| shape_error(&e))?;
    let mut unreadable = 0;
    let items = raw
        .items
        .into_iter()
        .map(|r| {
            let last_pull = match &r.last_pull {
                serde_json::Value::Null => LastPull::Never,
                serde_json::Value::String(s) => match time::parse_timestamp(s) {
                    Some(ts) => LastPull::At(ts),
                    None => LastPull::Unreadable,
                },
                _ => LastPull::Unreadable,
            };
            let created_at = r.created_at.as_str().and_then(time::parse_timestamp);
            if last_pull == LastPull::Unreadable
                || (!r.created_at.is_null() && created_at.is_none())
            {
                unreadable += 1;
            }
            Integration {
                id: r.id,
                name: r.name,
                entity_type: r.entity_type.unwrap_or_default(),
                output_format: r.output_format.unwrap_or_default(),
                last_pull,
                created_at,
                blocklist_items: r.stats.and_then(|s| s.count).and_then(|n| n.as_f64()),
                blocklists: r.blocklists.map(|b| b.len()),
            }
        })
        .collect();
    Ok(Page {
        items,
        next: raw.links.next.filter(|n| !n.is_empty()),
        unreadable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{
      "items": [{
        "id": "665b1f4f8e4b3c0001a1b2c3", "name": "paloalto_production", "organization_id": "org",
        "description": "x", "created_at": "2024-06-07T14:00:31.645929Z", "updated_at": "2024-06-07T14:00:31.645943Z",
        "entity_type": "firewall_integration", "output_format": "paloalto", "last_pull": "2024-09-17T07:06:21",
        "blocklists": [{"id": "b1", "name": "n", "label": "l", "remediation": "ban"}, {"id": "b2", "name": "n", "label": "l"}],
        "cves": [], "fingerprints": [], "vendors": [], "endpoint": "https://admin.api.crowdsec.net/v1/integrations/665b1f4f8e4b3c0001a1b2c3/content",
        "stats": {"count": 1234, "future": true}, "tags": ["prod"], "pull_limit": null, "enable_ip_aggregation": false,
        "some_new_field": {"nested": [1, 2]}
      }],
      "total": null, "page": 1, "size": 100, "pages": null,
      "links": {"first": "/v1/integrations?page=1&size=100", "last": null, "self": "/v1/integrations?page=1&size=100",
                "next": "/v1/integrations?page=2&size=100", "prev": null}
    }"#;

    #[test]
    fn parses_the_published_shape_and_ignores_unknown_fields() {
        let p = parse_page(FULL.as_bytes()).unwrap();
        assert_eq!(p.next.as_deref(), Some("/v1/integrations?page=2&size=100"));
        assert_eq!(p.unreadable, 0);
        let i = &p.items[0];
        assert_eq!(i.id, "665b1f4f8e4b3c0001a1b2c3");
        assert_eq!(i.entity_type, "firewall_integration");
        assert_eq!(i.output_format, "paloalto");
        // Naive = UTC: 2024-09-17T07:06:21Z.
        assert_eq!(i.last_pull, LastPull::At(1_726_556_781.0));
        assert!((i.created_at.unwrap() - 1_717_768_831.645_929).abs() < 1e-6);
        assert_eq!(i.blocklist_items, Some(1234.0));
        assert_eq!(i.blocklists, Some(2));
        assert_eq!(i.pulled(), Some(1.0));
        assert_eq!(i.age_seconds(1_726_556_791.0), Some(10.0));
    }

    #[test]
    fn never_pulled_is_null_or_absent_and_ages_from_creation() {
        for last_pull in [r#""last_pull": null,"#, ""] {
            let body = format!(
                r#"{{"items": [{{"id": "a", "name": "n", {last_pull} "created_at": "2024-01-02T03:04:05+00:00"}}], "links": {{"next": null}}}}"#
            );
            let p = parse_page(body.as_bytes()).unwrap();
            let i = &p.items[0];
            assert_eq!(i.last_pull, LastPull::Never);
            assert_eq!(i.pulled(), Some(0.0));
            assert_eq!(i.last_pull_timestamp(), None);
            assert_eq!(i.age_seconds(1_704_164_655.0), Some(10.0));
            assert_eq!((i.blocklist_items, i.blocklists), (None, None));
            assert_eq!(p.next, None);
        }
    }

    #[test]
    fn a_bad_timestamp_spoils_that_integration_only() {
        let body = r#"{"items": [
            {"id": "a", "name": "bad", "last_pull": "yesterday", "created_at": 5},
            {"id": "b", "name": "num", "last_pull": 1700000000},
            {"id": "c", "name": "ok", "last_pull": "2024-01-02T05:04:05+02:00"}
          ], "links": {}}"#;
        let p = parse_page(body.as_bytes()).unwrap();
        assert_eq!(p.unreadable, 2);
        assert_eq!(p.items[0].last_pull, LastPull::Unreadable);
        assert_eq!(p.items[0].created_at, None);
        assert_eq!(p.items[0].age_seconds(2e9), None);
        assert_eq!(p.items[0].pulled(), None);
        assert_eq!(p.items[1].last_pull, LastPull::Unreadable);
        assert_eq!(p.items[2].last_pull, LastPull::At(1_704_164_645.0));
    }

    #[test]
    fn a_broken_shape_is_an_error_that_holds_no_content() {
        for bad in [
            &FULL[..FULL.len() / 2],
            "",
            "[]",
            r#"{"items": {}, "links": {}}"#,
            r#"{"items": []}"#,
            r#"{"items": [{"name": "no id"}], "links": {}}"#,
            r#"{"items": [{"id": "a", "name": "n", "stats": {"count": "many"}}], "links": {}}"#,
            // Found by tests/it/properties.rs: serde_json quoted a wrongly typed value in its message.
            r#"{"items": [{"id": "a", "name": "n", "blocklists": "S3cr3tiBeG0FTu43Vd69Gcr6at"}], "links": {}}"#,
        ] {
            let e = parse_page(bad.as_bytes()).unwrap_err();
            assert!(!e.0.contains("paloalto"), "{e:?}");
            assert!(!e.0.contains("S3cr3t"), "{e:?}");
            assert!(!e.0.contains("many"), "{e:?}");
        }
        assert_eq!(
            parse_page(br#"{"items": []}"#).unwrap_err().0,
            "missing field `links` at line 1 column 13"
        );
    }
}
