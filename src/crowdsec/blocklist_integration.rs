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

/// The tier of an organisation from its Service API `subscription_type`. The spec types it as a plain string and
/// publishes no list of values; the Console's tiers are Community and Enterprise (crowdsec-docs
/// `u/integrations/intro`, "Refresh frequency"), so `community` (and the SDK's other word for the free tier, `free`,
/// `PricingTiers`), in any case, is Community and anything else keeps the plain threshold.
pub(crate) fn tier_of(subscription_type: Option<&str>) -> crate::crowdsec::verdict::Tier {
    use crate::crowdsec::verdict::Tier;
    match subscription_type.map(|s| s.trim().to_ascii_lowercase()) {
        Some(s) if s == "community" || s == "free" => Tier::Community,
        _ => Tier::Other,
    }
}

/// The `tier` label: `community`, `other` (a known subscription of another tier) or `unknown` (no `/info` answer).
pub(crate) fn tier_label(subscription_type: Option<&str>) -> &'static str {
    match (subscription_type, tier_of(subscription_type)) {
        (None, _) => "unknown",
        (_, crate::crowdsec::verdict::Tier::Community) => "community",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crowdsec::verdict::Tier;

    #[test]
    fn community_in_any_case_and_free_are_the_community_tier() {
        for s in ["community", "COMMUNITY", " Community ", "free"] {
            assert_eq!(tier_of(Some(s)), Tier::Community, "{s}");
            assert_eq!(tier_label(Some(s)), "community");
        }
        for s in ["ENTERPRISE", "premium", "communityplus", ""] {
            assert_eq!(tier_of(Some(s)), Tier::Other, "{s}");
            assert_eq!(tier_label(Some(s)), "other");
        }
        assert_eq!(tier_of(None), Tier::Other);
        assert_eq!(tier_label(None), "unknown");
    }
}
