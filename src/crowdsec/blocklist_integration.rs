//! A Blocklist-as-a-Service integration as the exporter keeps it, whichever way it was read (today: the CrowdSec
//! Service API, `GET /integrations`; shapes from CrowdSec's published OpenAPI spec).

use crate::crowdsec::bouncers::LastPull;
use crate::values::time::UnixSeconds;

/// One Blocklist-as-a-Service integration, as the exporter keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    /// 24 hex digits.
    pub id: String,
    pub name: String,
    /// `firewall_integration` or `remediation_component_integration` (any other value is passed through).
    pub entity_type: String,
    /// `plain_text`, `remediation_component`, `paloalto`, ...
    pub output_format: String,
    pub last_pull: LastPull,
    /// `None` when absent or unreadable.
    pub created_at: Option<UnixSeconds>,
    /// `stats.count`: items the device gets on its next pull (0 = the Console's "Pulling Zero IPs").
    pub blocklist_items: Option<f64>,
    /// Number of subscribed blocklists.
    pub blocklists: Option<usize>,
}

impl Integration {
    pub(crate) fn last_pull_timestamp(&self) -> Option<UnixSeconds> {
        self.last_pull.timestamp()
    }

    /// Seconds since the last pull; for a never-pulled integration, since its creation.
    pub(crate) fn age_seconds(&self, now: UnixSeconds) -> Option<f64> {
        self.last_pull.age_seconds(now, self.created_at)
    }

    /// 1 if it ever pulled, 0 if never, `None` when its `last_pull` could not be read.
    pub(crate) fn pulled(&self) -> Option<f64> {
        self.last_pull.pulled()
    }
}
