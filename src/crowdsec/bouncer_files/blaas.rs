//! Bouncer files that point at a Blocklist-as-a-Service integration instead of a LAPI: the integration's id in
//! the URL, and the `integration` check against the Service API's list.

use super::checks::{fail, pass, Check, FileReport};

/// Host of the CrowdSec Service API: a URL there is a Blocklist-as-a-Service integration, not a LAPI.
pub(crate) const SERVICE_API_HOST: &str = "admin.api.crowdsec.net";

/// The id in a Blocklist-as-a-Service URL, `https://admin.api.crowdsec.net/v1/integrations/<id>[/...]`.
pub(crate) fn integration_id(api_url: &str) -> Option<String> {
    let url = reqwest::Url::parse(api_url.trim()).ok()?;
    if url.host_str() != Some(SERVICE_API_HOST) {
        return None;
    }
    let mut segments = url.path_segments()?;
    segments.find(|s| *s == "integrations")?;
    segments
        .next()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

impl FileReport {
    /// Adds the `integration` check when the file points at a Blocklist-as-a-Service integration and the
    /// Service API's list (`known_ids`) was read.
    pub(crate) fn with_integrations(mut self, known_ids: Option<&[&str]>) -> FileReport {
        let (Some(ids), Some(id)) = (known_ids, self.api_url.as_deref().and_then(integration_id))
        else {
            return self;
        };
        self.checks.push(if ids.contains(&id.as_str()) {
            pass(Check::Integration, format!("integration {id} exists"))
        } else {
            fail(
                Check::Integration,
                format!("the Service API lists no integration {id}: it was deleted, or the URL belongs to another organization"),
                "copy the endpoint URL again from the Console (Blocklists > Integrations) and restart the bouncer",
            )
        });
        self.checks.sort_by_key(|c| c.check);
        self
    }
}
