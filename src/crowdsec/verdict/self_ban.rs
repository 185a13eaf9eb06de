//! `CrowdSecSecurityEngineSelfBan`: an active, non-simulated ban on the stack itself (the Console's "Security
//! Engine Self-Report", see [`crate::crowdsec::active_decisions`]). The rule file's expression, per (lapi, target, origin,
//! scenario): `max by (lapi, target, origin, scenario) (crowdsec_lapi_self_ban_decisions) > 0`. And the cause it
//! gives an offline or never-pulled bouncer whose row's address is banned (the offline alerts' descriptions name
//! the same series, `crowdsec_lapi_self_ban_bouncer_decisions`).

use std::collections::BTreeMap;

use super::causes::{wants_causes, Cause, CauseKind};
use super::{Alert, BaseJudgement, Firing};
use crate::crowdsec::active_decisions::ActiveDecisions;

/// One alert per (target, origin, scenario) with an active self-ban, as the rule fires them.
pub fn judge_self_bans(lapi: &str, d: &ActiveDecisions) -> Vec<Firing> {
    d.self_bans
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|((target, origin, scenario), _)| {
            Firing::new(
                Alert::SecurityEngineSelfBan,
                &[
                    ("lapi", lapi),
                    ("target", target.as_str()),
                    ("origin", origin.as_str()),
                    ("scenario", scenario.as_str()),
                ],
            )
        })
        .collect()
}

/// The self-ban cause of base `b` when its verdict asks for causes and a ban covers one of its rows' addresses
/// (`banned`: bans by row name, [`ActiveDecisions::banned_bouncers`]). Ranked before every file's evidence: the
/// LAPI's firewall drops the bouncer's pulls whatever its configuration.
pub fn self_ban_cause(b: &BaseJudgement, banned: &BTreeMap<String, u64>) -> Option<Cause> {
    if !wants_causes(b.verdict) {
        return None;
    }
    let hit: Vec<(&str, &str, u64)> = b
        .rows
        .iter()
        .filter_map(|r| {
            banned
                .get(r.bouncer.name())
                .map(|n| (r.bouncer.name(), r.bouncer.ip_address(), *n))
        })
        .collect();
    if hit.is_empty() {
        return None;
    }
    let rows = hit
        .iter()
        .map(|(name, ip, n)| format!("{name} ({ip}): {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let ips = hit
        .iter()
        .map(|(_, ip, _)| format!("`cscli decisions list --ip {ip}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(Cause {
        kind: CauseKind::SelfBanned,
        check: "self_ban",
        path: None,
        evidence: format!(
            "its LAPI holds active bans covering the address of its rows, {rows}: a bouncer on the LAPI's host (or behind a banned address) cannot reach it"
        ),
        fix: format!(
            "{ips}, then `cscli decisions delete --id <id>`; whitelist the address (crowdsecurity/whitelists, a centralized allowlist) so the scenario does not ban it again"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crowdsec::active_decisions::{OwnAddresses, SelfBanCheck};
    use crate::crowdsec::bouncers::{Bouncer, BouncerText, LastPull};
    use crate::crowdsec::verdict::{judge_lapi, Thresholds};

    const NOW: f64 = 1_784_980_800.0;

    fn row(name: &str, ip: &str, pulled_ago: f64) -> Bouncer {
        Bouncer {
            text: BouncerText {
                name,
                ip_address: ip,
                bouncer_type: "crowdsec-firewall-bouncer",
                version: "",
                os: "",
            }
            .into(),
            auth_type: "api-key".into(),
            auto_created: "",
            revoked: "false",
            last_pull: LastPull::At(NOW - pulled_ago),
            registered_at: None,
            last_usage_metrics: None,
        }
    }

    #[test]
    fn one_alert_per_target_origin_and_scenario_and_a_first_cause() {
        let rows = [
            row("fw", "192.0.2.10", 2.0 * 86_400.0),
            row("ok", "192.0.2.10", 10.0),
        ];
        let mut own = OwnAddresses::default();
        for r in &rows {
            own.add_bouncer(r.name(), r.ip_address());
        }
        let check = SelfBanCheck::new(&own);
        let mut d = ActiveDecisions::default();
        check.check(&mut d, "ban", "Ip", "127.0.0.1", "cscli", "manual");
        check.check(
            &mut d,
            "ban",
            "Range",
            "192.0.2.0/24",
            "crowdsec",
            "crowdsecurity/ssh-bf",
        );
        let f = judge_self_bans("local", &d);
        let labels: Vec<(String, String)> = f
            .iter()
            .map(|f| (f.labels["target"].clone(), f.labels["scenario"].clone()))
            .collect();
        assert_eq!(
            labels,
            [
                ("loopback".to_owned(), "manual".to_owned()),
                ("bouncer".to_owned(), "crowdsecurity/ssh-bf".to_owned())
            ]
        );
        assert!(f
            .iter()
            .all(|f| f.severity == crate::crowdsec::verdict::Severity::Critical));
        let j = judge_lapi("local", &rows, NOW, &Thresholds::default());
        let fw = j.bases.iter().find(|b| b.base == "fw").unwrap();
        let c = self_ban_cause(fw, &d.banned_bouncers).unwrap();
        assert_eq!((c.kind, c.check), (CauseKind::SelfBanned, "self_ban"));
        assert!(c.evidence.contains("fw (192.0.2.10): 1"), "{}", c.evidence);
        let ok = j.bases.iter().find(|b| b.base == "ok").unwrap();
        assert_eq!(
            self_ban_cause(ok, &d.banned_bouncers),
            None,
            "a pulling bouncer asks for no cause"
        );
        assert!(judge_self_bans("local", &ActiveDecisions::default()).is_empty());
    }
}
