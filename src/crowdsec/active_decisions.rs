//! A LAPI's active decisions, counted from its `decisions` table: what its bouncers should be enforcing, and the
//! bans that cut the stack off from itself.
//!
//! Active: `until` later than now and not simulated, as the LAPI's own queries select them (crowdsecurity/crowdsec
//! v1.7.8, commit cd4cf4129734a2571d501a77a6bd8bfa1b835dd4, `pkg/database/decisions.go` `decision.UntilGT(now)`,
//! `pkg/database/decisionfilter.go` `SimulatedEQ(false)`). A deleted decision is gone or has `until` set to the
//! deletion time (`SetUntil(now)`, decisions.go), so it is not active either. The table is the same from 1.4.6 to
//! 1.7.8 for what is read here (`until`, `origin`, `scenario`, `simulated`, `type`, `scope`, `value`; `until` is
//! `datetime` on MySQL).
//!
//! **IP decisions** ([`ActiveDecisions::ip_by_origin`]): what a firewall can enforce, scope `Ip` or `Range` (not
//! `Country`, `AS`, `Username`...), counted as distinct values per origin label: several decisions on one value of
//! one origin (a ban and a captcha, or an alert raised twice) are one entry in a bouncer's set. A value held by two
//! origins counts under each, while the LAPI's stream gives the bouncer one decision per value: the LAPI side is an
//! upper bound of what a bouncer can hold (docs/decisions.md).
//!
//! **Self-bans** ([`SelfBanCheck`]): the Console's "Security Engine Self-Report" (crowdsecurity/crowdsec-docs,
//! commit 4875b014299f8881dcbe18ef7d813d934cb660ec, `crowdsec-docs/unversioned/troubleshooting/issue_se_self_report.md`:
//! "a decision ... targets either a loopback address (127.0.0.1 or ::1), or the engine's own public IP"; "the
//! engine may ban itself ... block access to the Local API"). Here: an active, non-simulated decision of type
//! `ban` and scope `Ip` or `Range` whose address or range covers loopback (`127.0.0.0/8`, `::1`), one of the LAPI
//! host's addresses (its URL's host, resolved), a registered bouncer's `ip_address` (that bouncer can no longer
//! reach its LAPI) or a registered machine's. An IPv4-mapped IPv6 value is its IPv4 address, as CrowdSec reads it
//! (`net.IP.To4`, pkg/types/ip.go).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

/// At most this many `origin` series per LAPI; further origins are summed under [`OTHER_ORIGINS`].
pub const MAX_ORIGINS: usize = 256;
/// The origin label of decisions beyond [`MAX_ORIGINS`].
pub const OTHER_ORIGINS: &str = "other";
/// At most this many (target, origin, scenario) self-ban series per LAPI; further ones are summed under
/// (target, [`OTHER_ORIGINS`], [`OTHER_ORIGINS`]). A self-ban is rare; the bound only keeps a blocklist that lists
/// loopback from making a series per scenario.
pub const MAX_SELF_BAN_SERIES: usize = 64;

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

/// Whether a decision's scope is one a firewall enforces (`Ip`, `Range`; CrowdSec writes them so, pkg/types
/// constants `Ip = "Ip"`, `Range = "Range"`; compared without case, as older clients wrote `ip`).
pub fn is_ip_scope(scope: &str) -> bool {
    scope.eq_ignore_ascii_case("ip") || scope.eq_ignore_ascii_case("range")
}

/// What a self-ban covers: the `target` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SelfBanTarget {
    /// `127.0.0.0/8` or `::1`.
    Loopback,
    /// An address of the LAPI's host (its URL's host, resolved).
    LapiHost,
    /// A registered bouncer row's `ip_address`.
    Bouncer,
    /// A registered machine's (log processor's) `ip_address`.
    Machine,
}

impl SelfBanTarget {
    /// Every target, in label order.
    pub const ALL: [SelfBanTarget; 4] = [
        SelfBanTarget::Loopback,
        SelfBanTarget::LapiHost,
        SelfBanTarget::Bouncer,
        SelfBanTarget::Machine,
    ];
    /// The `target` label.
    pub fn as_str(self) -> &'static str {
        match self {
            SelfBanTarget::Loopback => "loopback",
            SelfBanTarget::LapiHost => "lapi_host",
            SelfBanTarget::Bouncer => "bouncer",
            SelfBanTarget::Machine => "machine",
        }
    }
}

/// One self-ban series: (target, origin label, scenario).
pub type SelfBanKey = (SelfBanTarget, String, String);

/// Active decisions by origin label, and the self-bans among them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActiveDecisions {
    /// Every active decision, by origin label.
    pub by_origin: BTreeMap<String, u64>,
    /// Distinct values of the active `Ip`/`Range` decisions, by origin label (see the module documentation).
    pub ip_by_origin: BTreeMap<String, u64>,
    /// Active bans covering an address of the stack, by (target, origin, scenario); a ban covering several targets
    /// counts once under each.
    pub self_bans: BTreeMap<SelfBanKey, u64>,
    /// Active bans covering each registered bouncer row's `ip_address`, by row name (rows with none are absent).
    pub banned_bouncers: BTreeMap<String, u64>,
    /// Whether the machines' addresses could be read (target `machine` is judged only then).
    pub machines_read: bool,
}

impl ActiveDecisions {
    /// Adds `n` decisions of `origin` (already a label), within the bound on origins.
    pub fn add(&mut self, origin: String, n: u64) {
        add_bounded(&mut self.by_origin, origin, n);
    }

    /// Adds `n` distinct IP decision values of `origin` (already a label), within the bound on origins.
    pub fn add_ip(&mut self, origin: String, n: u64) {
        add_bounded(&mut self.ip_by_origin, origin, n);
    }

    /// Every active decision.
    pub fn total(&self) -> u64 {
        self.by_origin.values().sum()
    }

    /// Distinct IP decision values over every origin (each origin's counted apart).
    pub fn ip_total(&self) -> u64 {
        self.ip_by_origin.values().sum()
    }

    /// Self-bans of `target`, over every origin and scenario.
    pub fn self_bans_of(&self, target: SelfBanTarget) -> u64 {
        self.self_bans
            .iter()
            .filter(|((t, _, _), _)| *t == target)
            .map(|(_, n)| n)
            .sum()
    }
}

fn add_bounded(map: &mut BTreeMap<String, u64>, origin: String, n: u64) {
    let origin = if map.len() >= MAX_ORIGINS && !map.contains_key(&origin) {
        OTHER_ORIGINS.to_owned()
    } else {
        origin
    };
    *map.entry(origin).or_default() += n;
}

/// Counts distinct IP values per origin from decisions read one by one (SQLite; the servers count them with
/// `count(DISTINCT ...)`).
#[derive(Debug, Default)]
pub struct IpTally {
    seen: HashMap<String, HashSet<Box<str>>>,
}

impl IpTally {
    /// One active decision: counted when its scope is `Ip` or `Range`.
    pub fn add(&mut self, origin_label: &str, scope: &str, value: &str) {
        if !is_ip_scope(scope) {
            return;
        }
        match self.seen.get_mut(origin_label) {
            Some(set) => {
                if !set.contains(value) {
                    set.insert(value.into());
                }
            }
            None => {
                self.seen
                    .insert(origin_label.to_owned(), HashSet::from([value.into()]));
            }
        }
    }

    /// Writes the counts into `out`.
    pub fn finish(self, out: &mut ActiveDecisions) {
        let mut sorted: Vec<_> = self.seen.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (origin, set) in sorted {
            out.add_ip(origin, set.len() as u64);
        }
    }
}

/// The addresses of the stack a ban must not cover (loopback is always one).
#[derive(Debug, Clone, Default)]
pub struct OwnAddresses {
    /// The LAPI host's addresses.
    pub lapi_host: Vec<IpAddr>,
    /// `ip_address` of every registered machine whose address parses; `None`: not read.
    pub machines: Option<Vec<IpAddr>>,
    /// The bouncers' rows: each one a name and an address in [`BouncerAddresses`].
    bouncers: BouncerAddresses,
}

/// (row name, `ip_address`) of every registered bouncer row whose address parses. The names one after the other in
/// one string, not a string per row: at 10,000 bouncers those were a cold scrape's largest share of allocations
/// in the decisions' read (issue 22).
#[derive(Debug, Clone, Default)]
struct BouncerAddresses {
    /// The address of each row and the end of its name in `names` (it starts where the previous one ends).
    rows: Vec<(IpAddr, usize)>,
    names: String,
}

impl BouncerAddresses {
    /// The name of row `i`.
    fn name(&self, i: usize) -> &str {
        let start = i.checked_sub(1).map_or(0, |p| self.rows[p].1);
        &self.names[start..self.rows[i].1]
    }
}

impl OwnAddresses {
    /// No bouncer nor machine yet, the LAPI host's addresses.
    pub fn new(lapi_host: Vec<IpAddr>) -> OwnAddresses {
        OwnAddresses {
            lapi_host,
            ..Default::default()
        }
    }

    /// Adds a bouncer row; an empty or unparseable `ip_address` (a bouncer that never connected) is skipped.
    pub fn add_bouncer(&mut self, name: &str, ip_address: &str) {
        if let Some(ip) = parse_ip(ip_address) {
            let b = &mut self.bouncers;
            b.names.push_str(name);
            b.rows.push((ip, b.names.len()));
        }
    }

    /// Adds a machine; an empty or unparseable `ip_address` is skipped.
    pub fn add_machine(&mut self, ip_address: &str) {
        if let Some(ip) = parse_ip(ip_address) {
            self.machines.get_or_insert_with(Vec::new).push(ip);
        }
    }
}

/// An address as a point on one line per family: IPv4 (and IPv4-mapped IPv6) as its 32 bits, IPv6 as 128.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Point {
    v6: bool,
    n: u128,
}

fn point(ip: IpAddr) -> Point {
    match ip.to_canonical() {
        IpAddr::V4(a) => Point {
            v6: false,
            n: u128::from(u32::from(a)),
        },
        IpAddr::V6(a) => Point {
            v6: true,
            n: u128::from(a),
        },
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

/// A decision's value as an inclusive range of points: `Ip` is one address, `Range` a CIDR (`a.b.c.d/n`,
/// `x::/n`), as CrowdSec parses them (`net.ParseIP`, `net.ParseCIDR`, pkg/types/ip.go `Addr2Ints`). `None` for a
/// value that does not parse.
fn value_range(scope: &str, value: &str) -> Option<(Point, Point)> {
    let value = value.trim();
    if scope.eq_ignore_ascii_case("ip") && !value.contains('/') {
        let p = point(parse_ip(value)?);
        return Some((p, p));
    }
    let (addr, len) = value.split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    // An IPv4-mapped network (::ffff:a.b.c.d/n with n >= 96) is the IPv4 one, /n-96.
    let (p, bits, len) = match (ip, ip.to_canonical()) {
        (IpAddr::V6(_), IpAddr::V4(_)) if len >= 96 => (point(ip), 32, len - 96),
        (IpAddr::V4(_), _) => (point(ip), 32, len),
        (IpAddr::V6(a), _) => (
            Point {
                v6: true,
                n: u128::from(a),
            },
            128,
            len,
        ),
    };
    if len > bits {
        return None;
    }
    let host_bits = bits - len;
    let mask: u128 = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    let start = p.n & !mask;
    let family_max: u128 = if bits == 32 {
        u128::from(u32::MAX)
    } else {
        u128::MAX
    };
    Some((
        Point { v6: p.v6, n: start },
        Point {
            v6: p.v6,
            n: (start | mask) & family_max,
        },
    ))
}

const LOOPBACK_V4: (Point, Point) = (
    Point {
        v6: false,
        n: 0x7f00_0000,
    },
    Point {
        v6: false,
        n: 0x7fff_ffff,
    },
);
const LOOPBACK_V6: Point = Point { v6: true, n: 1 };

/// Finds the self-bans among decisions read one by one: the targets sorted once, each decision's range looked up
/// by binary search (O(log t) per decision, whatever the number of registered bouncers).
#[derive(Debug)]
pub struct SelfBanCheck {
    /// (point, target, bouncer row index) sorted by point.
    points: Vec<(Point, SelfBanTarget, Option<usize>)>,
    bouncers: BouncerAddresses,
    machines_read: bool,
}

impl SelfBanCheck {
    /// The check against `own` (and loopback).
    pub fn new(own: &OwnAddresses) -> SelfBanCheck {
        let mut points: Vec<(Point, SelfBanTarget, Option<usize>)> = Vec::new();
        for ip in &own.lapi_host {
            // Loopback is its own target.
            if !ip.to_canonical().is_loopback() {
                points.push((point(*ip), SelfBanTarget::LapiHost, None));
            }
        }
        for (i, (ip, _)) in own.bouncers.rows.iter().enumerate() {
            points.push((point(*ip), SelfBanTarget::Bouncer, Some(i)));
        }
        for ip in own.machines.iter().flatten() {
            points.push((point(*ip), SelfBanTarget::Machine, None));
        }
        points.sort();
        SelfBanCheck {
            points,
            bouncers: own.bouncers.clone(),
            machines_read: own.machines.is_some(),
        }
    }

    /// Judges one active, non-simulated decision; only bans of scope `Ip` or `Range` can be self-bans.
    pub fn check(
        &self,
        out: &mut ActiveDecisions,
        kind: &str,
        scope: &str,
        value: &str,
        origin_label: &str,
        scenario: &str,
    ) {
        if !kind.eq_ignore_ascii_case("ban") || !is_ip_scope(scope) {
            return;
        }
        let Some((lo, hi)) = value_range(scope, value) else {
            return;
        };
        let mut hit = [false; 4];
        if (lo <= LOOPBACK_V4.1 && hi >= LOOPBACK_V4.0) || (lo <= LOOPBACK_V6 && hi >= LOOPBACK_V6)
        {
            hit[0] = true;
        }
        let from = self.points.partition_point(|(p, _, _)| *p < lo);
        let mut banned_rows: Vec<usize> = Vec::new();
        for (p, target, row) in &self.points[from..] {
            if *p > hi {
                break;
            }
            hit[*target as usize] = true;
            if let Some(i) = row {
                banned_rows.push(*i);
            }
        }
        for (t, _) in SelfBanTarget::ALL.iter().zip(hit).filter(|(_, h)| *h) {
            let key = (*t, origin_label.to_owned(), scenario.to_owned());
            let key = if out.self_bans.len() >= MAX_SELF_BAN_SERIES
                && !out.self_bans.contains_key(&key)
            {
                (*t, OTHER_ORIGINS.to_owned(), OTHER_ORIGINS.to_owned())
            } else {
                key
            };
            *out.self_bans.entry(key).or_default() += 1;
        }
        banned_rows.sort_unstable();
        banned_rows.dedup();
        for i in banned_rows {
            *out.banned_bouncers
                .entry(self.bouncers.name(i).to_owned())
                .or_default() += 1;
        }
    }

    /// Marks whether the machines were read.
    pub fn finish(&self, out: &mut ActiveDecisions) {
        out.machines_read = self.machines_read;
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

    fn own() -> OwnAddresses {
        let mut o = OwnAddresses {
            lapi_host: vec![
                "198.51.100.7".parse().unwrap(),
                "127.0.0.1".parse().unwrap(),
            ],
            ..Default::default()
        };
        o.add_bouncer("fw", "192.0.2.10");
        o.add_bouncer("fw@2001:db8::5", "2001:db8::5");
        o.add_bouncer("never", "");
        o.add_machine("192.0.2.200");
        o
    }

    fn judge(decisions: &[(&str, &str, &str)]) -> ActiveDecisions {
        let check = SelfBanCheck::new(&own());
        let mut out = ActiveDecisions::default();
        for (kind, scope, value) in decisions {
            check.check(&mut out, kind, scope, value, "cscli", "manual");
        }
        check.finish(&mut out);
        out
    }

    fn targets(a: &ActiveDecisions) -> Vec<(&'static str, u64)> {
        SelfBanTarget::ALL
            .iter()
            .map(|t| (t.as_str(), a.self_bans_of(*t)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    #[test]
    fn loopback_and_the_lapi_host_are_self_bans() {
        let a = judge(&[
            ("ban", "Ip", "127.0.0.1"),
            ("ban", "Ip", "127.3.2.1"),
            ("ban", "Ip", "::1"),
            ("ban", "Ip", "::ffff:127.0.0.1"),
            ("ban", "Ip", "198.51.100.7"),
        ]);
        assert_eq!(targets(&a), [("loopback", 4), ("lapi_host", 1)]);
        assert!(a.machines_read);
        // 127.0.0.1 among the LAPI host's addresses is loopback, not counted twice.
        let a = judge(&[("ban", "Ip", "127.0.0.1")]);
        assert_eq!(targets(&a), [("loopback", 1)]);
    }

    #[test]
    fn ranges_count_when_they_cover_an_address() {
        let a = judge(&[
            ("ban", "Range", "127.0.0.0/8"),
            ("ban", "Range", "126.0.0.0/7"), // 126.0.0.0-127.255.255.255
            ("ban", "Range", "128.0.0.0/2"), // 128-191: nothing
            ("ban", "Range", "192.0.2.0/24"), // fw and the machine
            ("ban", "Range", "2001:db8::/32"),
            ("ban", "Range", "::/0"),
            ("ban", "Range", "0.0.0.0/0"),
            ("ban", "Range", "198.51.100.6/31"), // .6-.7
            ("ban", "Range", "198.51.100.8/29"), // .8-.15: no
        ]);
        assert_eq!(
            targets(&a),
            [
                ("loopback", 4),
                ("lapi_host", 2),
                ("bouncer", 4),
                ("machine", 2)
            ]
        );
        assert_eq!(
            a.banned_bouncers
                .iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect::<Vec<_>>(),
            [("fw", 2), ("fw@2001:db8::5", 2)]
        );
    }

    #[test]
    fn only_active_bans_of_ip_scopes_that_parse() {
        let a = judge(&[
            ("captcha", "Ip", "127.0.0.1"),
            ("ban", "Country", "127.0.0.1"),
            ("ban", "Ip", "not an ip"),
            ("ban", "Range", "127.0.0.0/33"),
            ("ban", "Range", "127.0.0.1"),
            ("ban", "Ip", "192.0.2.11"),
            ("BAN", "ip", "192.0.2.10"),
        ]);
        assert_eq!(targets(&a), [("bouncer", 1)], "{a:?}");
        assert_eq!(a.banned_bouncers["fw"], 1);
        let none = SelfBanCheck::new(&OwnAddresses::default());
        let mut out = ActiveDecisions::default();
        none.check(&mut out, "ban", "Ip", "192.0.2.10", "cscli", "m");
        none.finish(&mut out);
        assert!(out.self_bans.is_empty() && !out.machines_read);
    }

    #[test]
    fn self_ban_series_are_bounded() {
        let check = SelfBanCheck::new(&own());
        let mut out = ActiveDecisions::default();
        for i in 0..MAX_SELF_BAN_SERIES + 10 {
            check.check(
                &mut out,
                "ban",
                "Ip",
                "127.0.0.1",
                "crowdsec",
                &format!("s{i}"),
            );
        }
        assert_eq!(out.self_bans.len(), MAX_SELF_BAN_SERIES + 1);
        assert_eq!(
            out.self_bans[&(
                SelfBanTarget::Loopback,
                OTHER_ORIGINS.to_owned(),
                OTHER_ORIGINS.to_owned()
            )],
            10
        );
        assert_eq!(
            out.self_bans_of(SelfBanTarget::Loopback),
            MAX_SELF_BAN_SERIES as u64 + 10
        );
    }

    #[test]
    fn ip_decisions_are_distinct_values_per_origin() {
        let mut t = IpTally::default();
        for (origin, scope, value) in [
            ("CAPI", "Ip", "192.0.2.1"),
            ("CAPI", "Ip", "192.0.2.1"), // a ban and a captcha: one entry
            ("CAPI", "Range", "192.0.2.0/24"),
            ("CAPI", "Country", "FR"),
            ("cscli", "Ip", "192.0.2.1"), // another origin: counted there too
            ("cscli", "AS", "64496"),
        ] {
            t.add(origin, scope, value);
        }
        let mut out = ActiveDecisions::default();
        t.finish(&mut out);
        assert_eq!(
            out.ip_by_origin
                .iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect::<Vec<_>>(),
            [("CAPI", 2), ("cscli", 1)]
        );
        assert_eq!(out.ip_total(), 3);
    }
}
