//! A LAPI's active decisions, counted from its `decisions` table: what its bouncers should be enforcing.
//!
//! Active: `until` later than now and not simulated, as the LAPI's own queries select them (crowdsecurity/crowdsec
//! v1.7.8, commit cd4cf4129734a2571d501a77a6bd8bfa1b835dd4, `pkg/database/decisions.go` `decision.UntilGT(now)`,
//! `pkg/database/decisionfilter.go` `SimulatedEQ(false)`). A deleted decision is gone or has `until` set to the
//! deletion time (`SetUntil(now)`, decisions.go), so it is not active either. The table is the same from 1.4.6 to
//! 1.7.8 for what is read here (`until`, `origin`, `scenario`, `simulated`; `until` is `datetime` on MySQL).

use std::collections::BTreeMap;

/// At most this many `origin` series per LAPI; further origins are summed under [`OTHER_ORIGINS`].
pub const MAX_ORIGINS: usize = 256;
/// The origin label of decisions beyond [`MAX_ORIGINS`].
pub const OTHER_ORIGINS: &str = "other";

/// The `origin` label of a decision, as the bouncers report it in their usage metrics: a blocklist's decisions
/// (`origin = 'lists'`) are `lists:<scenario>` (lua-cs-bouncer lib/plugins/crowdsec/stream.lua,
/// `decision.origin = "lists:" .. decision.scenario`, commit 3e82dd61508ed9683b5007f823c69b112c59ac6f), so the
/// LAPI's and its bouncers' series join on `origin`.
pub fn origin_label(origin: &str, scenario: Option<&str>) -> String {
    match (origin, scenario) {
        ("lists", Some(s)) => format!("lists:{s}"),
        _ => origin.to_owned(),
    }
}

/// Active decisions by origin label.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActiveDecisions {
    pub by_origin: BTreeMap<String, u64>,
}

impl ActiveDecisions {
    /// Adds `n` decisions of `origin` (already a label), within the bound on origins.
    pub fn add(&mut self, origin: String, n: u64) {
        let origin = if self.by_origin.len() >= MAX_ORIGINS && !self.by_origin.contains_key(&origin)
        {
            OTHER_ORIGINS.to_owned()
        } else {
            origin
        };
        *self.by_origin.entry(origin).or_default() += n;
    }

    pub fn total(&self) -> u64 {
        self.by_origin.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_named_as_the_bouncers_name_them_and_origins_are_bounded() {
        assert_eq!(
            origin_label("lists", Some("firehol_voipbl")),
            "lists:firehol_voipbl"
        );
        assert_eq!(origin_label("CAPI", Some("http:scan")), "CAPI");
        let mut a = ActiveDecisions::default();
        for i in 0..MAX_ORIGINS + 5 {
            a.add(format!("lists:l{i}"), 2);
        }
        assert_eq!(a.by_origin.len(), MAX_ORIGINS + 1);
        assert_eq!(a.by_origin[OTHER_ORIGINS], 10);
        assert_eq!(a.total(), 2 * (MAX_ORIGINS as u64 + 5));
    }
}
