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

/// What to do when the Service API refuses a device's integration key (401/403), as CrowdSec's troubleshooting
/// page "Remediation Component Integration Offline" says: the key is found "in the Console in your Blocklist
/// integration section, on creation or on \"Refresh Credentials\"" (crowdsecurity/crowdsec-docs,
/// crowdsec-docs/unversioned/troubleshooting/issue_integration_rc_offline.md at 1ab42340). Never `cscli bouncers
/// add`: no LAPI knows this key.
pub(crate) fn refresh_fix(key_name: &str) -> String {
    format!("the Service API refuses the integration's key (its credentials were refreshed, or the integration deleted): in the Console, Blocklists > Integrations, open the integration, \"Refresh Credentials\", put the new key in {key_name} of this file, then restart the bouncer")
}

impl FileReport {
    /// The Blocklist-as-a-Service integration the file's URL names, if any.
    pub fn integration_id(&self) -> Option<String> {
        self.api_url.as_deref().and_then(integration_id)
    }

    /// The file's URL is on the Service API's host (a Blocklist-as-a-Service device, with or without an id).
    pub fn is_blaas(&self) -> bool {
        self.api_url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u.trim()).ok())
            .is_some_and(|u| u.host_str() == Some(SERVICE_API_HOST))
    }

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
