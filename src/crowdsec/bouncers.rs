//! What the exporter knows of one LAPI's registered bouncers, whatever source it was read from
//! (database or cscli), and the rules that turn CrowdSec's raw rows into it.

use crate::values::time::UnixSeconds;

/// One row of CrowdSec's `bouncers` table, interpreted. Its text columns are read through [`Bouncer::name`],
/// [`Bouncer::ip_address`], [`Bouncer::bouncer_type`], [`Bouncer::version`] and [`Bouncer::os`] (kept together in
/// one [`RowText`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Bouncer {
    /// Name, IP address, type, version and os: see [`BouncerText`].
    pub text: RowText,
    /// `api-key` or `tls`: static when it is one of them (no string per row), owned for anything else.
    pub auth_type: std::borrow::Cow<'static, str>,
    /// `true`/`false` (CrowdSec 1.6.4+), else empty. Static: a boolean column's label needs no string of its own
    /// per row (issue 22's cold scrape).
    pub auto_created: &'static str,
    /// `true`/`false`; CrowdSec never sets it, but a hand-edited database may. Empty when NULL.
    pub revoked: &'static str,
    /// When it last pulled decisions.
    pub last_pull: LastPull,
    /// Registration time, only where CrowdSec keeps it unchanged (1.6.x+); `None` on 1.4.x, which rewrites
    /// `created_at` on every update.
    pub registered_at: Option<UnixSeconds>,
    /// Newest usage-metrics push (CrowdSec 1.6.3+): liveness of live-mode bouncers on idle sites.
    pub last_usage_metrics: Option<UnixSeconds>,
}

/// The text columns of a bouncer row, borrowed: what a [`RowText`] is made from and what it gives back.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BouncerText<'a> {
    /// Registered name, as `cscli bouncers list` shows it.
    pub name: &'a str,
    /// The IP of its last request, as the LAPI stored it; empty when unknown.
    pub ip_address: &'a str,
    /// From the bouncer's User-Agent (`type/version`); empty before its first request.
    pub bouncer_type: &'a str,
    /// From the User-Agent; empty before its first request.
    pub version: &'a str,
    /// `osname/osversion` (CrowdSec 1.6.3+), else empty.
    pub os: &'a str,
}

/// A bouncer row's five text columns in one string, one after the other: one allocation per row rather than five
/// (made for every row of every reading and freed with the previous reading: the allocator's share of issue 22's
/// cold scrape). Made from a [`BouncerText`], read back with [`RowText::get`].
#[derive(Clone, Default, PartialEq)]
pub struct RowText {
    text: Box<str>,
    /// Where the name, the IP address, the type and the version end; the os runs to the end.
    ends: [usize; 4],
}

impl RowText {
    /// Packs the columns; the os label is written as `os_name/os_version`, `os_name` alone when the version is
    /// empty (`t.os` is not used): a source reading the two columns makes no string for their join.
    pub(crate) fn with_os_parts(t: BouncerText<'_>, os_name: &str, os_version: &str) -> RowText {
        let os_len = if os_version.is_empty() {
            os_name.len()
        } else {
            os_name.len() + 1 + os_version.len()
        };
        let len =
            t.name.len() + t.ip_address.len() + t.bouncer_type.len() + t.version.len() + os_len;
        let mut text = String::with_capacity(len);
        let mut ends = [0; 4];
        for (end, piece) in ends
            .iter_mut()
            .zip([t.name, t.ip_address, t.bouncer_type, t.version])
        {
            text.push_str(piece);
            *end = text.len();
        }
        text.push_str(os_name);
        if !os_version.is_empty() {
            text.push('/');
            text.push_str(os_version);
        }
        RowText {
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// The columns.
    #[inline]
    pub fn get(&self) -> BouncerText<'_> {
        BouncerText {
            name: self.piece(0),
            ip_address: self.piece(1),
            bouncer_type: self.piece(2),
            version: self.piece(3),
            os: self.piece(4),
        }
    }

    /// Column `i` in [`BouncerText`]'s order. The ends were taken after whole pieces were written, so every slice
    /// is on a character boundary.
    #[inline]
    fn piece(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            i => self.ends.get(i - 1).copied().unwrap_or(0),
        };
        let end = self.ends.get(i).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or_default()
    }
}

impl From<BouncerText<'_>> for RowText {
    fn from(t: BouncerText<'_>) -> RowText {
        RowText::with_os_parts(t, t.os, "")
    }
}

impl std::fmt::Debug for RowText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

#[cfg(test)]
impl Bouncer {
    /// The tests' one row builder: an API-key firewall bouncer `name` at 192.0.2.1, v0.0.31, not auto-created
    /// nor revoked, with no registration time nor usage metrics; a test changes what it needs with
    /// `Bouncer { field, ..Bouncer::test_row(name, last_pull) }`, its text with [`Bouncer::with_text`].
    pub(crate) fn test_row(name: &str, last_pull: LastPull) -> Bouncer {
        Bouncer {
            text: BouncerText {
                name,
                ..BouncerText::test_row()
            }
            .into(),
            auth_type: "api-key".into(),
            auto_created: "false",
            revoked: "false",
            last_pull,
            registered_at: None,
            last_usage_metrics: None,
        }
    }

    /// The row with its text columns changed by `change`.
    pub(crate) fn with_text(mut self, change: impl FnOnce(&mut BouncerText<'_>)) -> Bouncer {
        let mut t = self.text.get();
        change(&mut t);
        self.text = t.into();
        self
    }
}

#[cfg(test)]
impl BouncerText<'static> {
    /// [`Bouncer::test_row`]'s text: no name, an API-key firewall bouncer at 192.0.2.1, v0.0.31, no os.
    pub(crate) fn test_row() -> BouncerText<'static> {
        BouncerText {
            name: "",
            ip_address: "192.0.2.1",
            bouncer_type: "crowdsec-firewall-bouncer",
            version: "v0.0.31",
            os: "",
        }
    }
}

/// When a bouncer last pulled decisions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LastPull {
    /// Unix time of the last pull.
    At(UnixSeconds),
    /// Registered but never made a request.
    Never,
    /// The stored value could not be read (logged and counted as a bad row).
    Unreadable,
}

impl Bouncer {
    /// Registered name, as `cscli bouncers list` shows it.
    #[inline]
    pub fn name(&self) -> &str {
        self.text.piece(0)
    }

    /// The IP of its last request, as the LAPI stored it; empty when unknown.
    #[inline]
    pub fn ip_address(&self) -> &str {
        self.text.piece(1)
    }

    /// From the bouncer's User-Agent (`type/version`); empty before its first request.
    #[inline]
    pub fn bouncer_type(&self) -> &str {
        self.text.piece(2)
    }

    /// From the User-Agent; empty before its first request.
    #[inline]
    pub fn version(&self) -> &str {
        self.text.piece(3)
    }

    /// `osname/osversion` (CrowdSec 1.6.3+), else empty.
    #[inline]
    pub fn os(&self) -> &str {
        self.text.piece(4)
    }

    /// The name without the `@<ip>` suffixes CrowdSec adds to auto-created rows (TLS bouncers, or 1.6.4+ a known
    /// key seen from a new IP), so that all rows of one bouncer can be grouped. See [`base_bouncer_name`].
    pub fn base_name(&self) -> &str {
        base_bouncer_name(self.name())
    }

    /// Unix time of the last pull, if it pulled and the value could be read.
    pub fn last_pull_timestamp(&self) -> Option<UnixSeconds> {
        self.last_pull.timestamp()
    }

    /// Seconds since the last pull; for a never-pulled bouncer, since its registration when that is known.
    pub fn age_seconds(&self, now: UnixSeconds) -> Option<f64> {
        self.last_pull.age_seconds(now, self.registered_at)
    }
}

/// A registered name without every trailing `@<IPv4 or IPv6>`: `envoy@192.0.2.147@192.0.2.242` -> `envoy`,
/// `caddy@2001:db8::15` -> `caddy`, `ops@example.com` unchanged.
///
/// LAPI's own rule since 1.7.1 (`baseBouncerName`, crowdsecurity/crowdsec
/// `pkg/apiserver/middlewares/v1/api_key.go`, PR #3911, read at commit a88b497b471e0f97c76997d177400502baf01903):
/// repeatedly cut at the last `@` while the tail is an address Go's `netip.ParseAddr` accepts (IPv6 with a
/// non-empty `%zone` included). LAPI 1.6.4-1.7.0 chained suffixes, so every one is stripped here too.
/// One deliberate difference: where LAPI would strip down to an empty base (`@10.0.0.1`), the shortest
/// non-empty prefix is kept, because an empty `bouncer_base` label would vanish in Prometheus.
pub(crate) fn base_bouncer_name(name: &str) -> &str {
    let mut base = name;
    // A byte search, not `rsplit_once('@')`: its generic searcher was 1 % of a cold scrape (issue 22).
    while let Some(at) = base.bytes().rposition(|b| b == b'@') {
        let (head, tail) = (&base[..at], &base[at + 1..]);
        if head.is_empty() || !is_go_netip_addr(tail) {
            break;
        }
        base = head;
    }
    base
}

/// Whether Go's `netip.ParseAddr` accepts `s`: an IPv4 dotted quad (no leading zeros) or an IPv6 address,
/// optionally with a non-empty zone (`fe80::1%eth0`). Rust's parsers agree on the address part.
fn is_go_netip_addr(s: &str) -> bool {
    match s.split_once('%') {
        Some((addr, zone)) => !zone.is_empty() && addr.parse::<std::net::Ipv6Addr>().is_ok(),
        None => s.parse::<std::net::IpAddr>().is_ok(),
    }
}

impl LastPull {
    pub(crate) fn timestamp(self) -> Option<UnixSeconds> {
        match self {
            LastPull::At(ts) => Some(ts),
            _ => None,
        }
    }

    /// Seconds since the pull; when there never was one, since `start` (registration, creation) if known.
    pub(crate) fn age_seconds(self, now: UnixSeconds, start: Option<UnixSeconds>) -> Option<f64> {
        let since = match self {
            LastPull::At(ts) => ts,
            LastPull::Never => start?,
            LastPull::Unreadable => return None,
        };
        // A clock step on either host must not give a negative age.
        Some((now - since).max(0.0))
    }

    /// The `*_pulled` value: 1 if it ever pulled, 0 if never, `None` when the value could not be read.
    pub fn pulled(self) -> Option<f64> {
        match self {
            LastPull::At(_) => Some(1.0),
            LastPull::Never => Some(0.0),
            LastPull::Unreadable => None,
        }
    }
}

/// The raw time columns of a row, as read from any engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RawTime {
    Null,
    At(UnixSeconds),
    Unparseable,
}

impl RawTime {
    /// Go's zero time is how CrowdSec spells "unset" where a column cannot be NULL or a JSON dump prints a
    /// NULL (see [`crate::values::time::GO_ZERO_TIME`]): it is read as NULL, never as a pull in year 1.
    pub(crate) fn unset_if_go_zero(self) -> RawTime {
        match self {
            RawTime::At(ts) if crate::values::time::is_go_zero_time(ts) => RawTime::Null,
            other => other,
        }
    }
}

/// Decides whether a bouncer ever pulled. CrowdSec >= 1.6 leaves `last_pull` NULL until the first pull; 1.4.x
/// sets it to the creation time, so there a bouncer that never made any request (its `type` is still empty) has
/// not pulled either. Rows of an upgraded 1.4 database keep that trait, so the `type` rule applies everywhere.
/// Go's zero time is "unset", so never pulled.
pub(crate) fn interpret_last_pull(last_pull: RawTime, bouncer_type: &str) -> LastPull {
    match last_pull.unset_if_go_zero() {
        RawTime::Null => LastPull::Never,
        RawTime::Unparseable => LastPull::Unreadable,
        RawTime::At(_) if bouncer_type.is_empty() => LastPull::Never,
        RawTime::At(ts) => LastPull::At(ts),
    }
}

/// One LAPI's bouncers at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BouncerSnapshot {
    /// Every registered bouncer row, in the database's order.
    pub bouncers: Vec<Bouncer>,
    /// The CrowdSec generation the schema looks like (`1.4`, `1.6.3+`, `1.6.4+`, `1.7.1+`), for diagnose and logs.
    pub schema: &'static str,
    /// Rows with a value the exporter could not read (e.g. an unparseable timestamp); they are still listed.
    pub bad_rows: usize,
    /// The bouncers' usage reports read since the exporter started (table `metrics`, CrowdSec 1.6.3+); `None`
    /// when the database has no such table or the source cannot read it (cscli).
    pub usage: Option<crate::crowdsec::usage_reports::UsageTotals>,
    /// `db_config.flush.bouncers_autodelete` of the CrowdSec config the database was found through; empty when
    /// unset or not known (database or cscli given directly).
    pub autodelete: Vec<crate::crowdsec::config_yaml::Autodelete>,
}

/// Whether a bouncer of this type (the `type` it registers with, its User-Agent's name) can run in live mode, where
/// it pulls only when traffic needs a lookup: `Some(false)` for the stream-only ones (cs-firewall-bouncer,
/// cs-custom-bouncer, cs-cloudflare-bouncer, cs-cloudflare-worker-bouncer, cs-blocklist-mirror and the HAProxy SPOA
/// bouncer build only a go-cs-bouncer `StreamBouncer`; CrowdSec's page of the Cloudflare worker says "Mode: Stream
/// only", docs.crowdsec.net/u/bouncers/cloudflare-workers), `Some(true)` for those with a live mode (lua-cs-bouncer's
/// nginx/openresty `MODE=live`, the legacy haproxy bouncer's `MODE`, apache's module, the Traefik plugin's
/// `crowdsecMode: live`, Caddy's `enable_streaming false`), `None` when the type is unknown.
pub(crate) fn has_live_mode(bouncer_type: &str) -> Option<bool> {
    let t = bouncer_type.to_ascii_lowercase();
    let stream_only = [
        "firewall",
        "custom",
        "cloudflare",
        "blocklist-mirror",
        "spoa",
    ];
    let live = [
        "nginx",
        "openresty",
        "haproxy",
        "apache",
        "traefik",
        "caddy",
    ];
    if stream_only.iter().any(|s| t.contains(s)) {
        Some(false)
    } else if live.iter().any(|s| t.contains(s)) {
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bouncer(name: &str) -> Bouncer {
        Bouncer {
            auto_created: "",
            ..Bouncer::test_row(name, LastPull::Never)
        }
        .with_text(|t| {
            t.ip_address = "";
            t.bouncer_type = "";
            t.version = "";
        })
    }

    #[test]
    fn base_name_strips_every_trailing_ip_like_lapi() {
        // Rows of field case R2-01 (LAPI 1.6.4-1.7.0 chained names) and LAPI's baseBouncerName rule.
        for (name, base) in [
            ("fw@10.0.0.1", "fw"),
            ("fw@2001:db8::1", "fw"),
            ("caddy@2001:db8::15", "caddy"),
            ("envoy@192.0.2.147", "envoy"),
            ("envoy@192.0.2.147@192.0.2.179", "envoy"),
            ("envoy@192.0.2.147@192.0.2.242", "envoy"),
            ("edge@fe80::1%eth0", "edge"),
            ("edge@::ffff:192.0.2.1", "edge"),
            ("ops@example.com", "ops@example.com"),
            ("ops@example.com@192.0.2.9", "ops@example.com"),
            ("a@b@10.0.0.1", "a@b"),
            ("a@10.0.0.1@b", "a@10.0.0.1@b"),
            // Go's netip refuses leading zeros, an empty zone, a zone on IPv4, and a port.
            ("x@010.0.0.1", "x@010.0.0.1"),
            ("x@fe80::1%", "x@fe80::1%"),
            ("x@10.0.0.1%eth0", "x@10.0.0.1%eth0"),
            ("x@10.0.0.1:80", "x@10.0.0.1:80"),
            ("x@", "x@"),
            // LAPI would strip to an empty base; an empty label would vanish, so the first segment stays.
            ("@10.0.0.1", "@10.0.0.1"),
            ("@10.0.0.1@10.0.0.2", "@10.0.0.1"),
            ("plain", "plain"),
            ("", ""),
        ] {
            assert_eq!(bouncer(name).base_name(), base, "{name:?}");
        }
    }

    #[test]
    fn row_text_gives_back_each_column_and_joins_the_os() {
        let t = BouncerText {
            name: "fw@2001:db8::1",
            ip_address: "2001:db8::1",
            bouncer_type: "",
            version: "v1 ünï\"\n",
            os: "ignored",
        };
        let packed = RowText::with_os_parts(t, "debian", "12");
        assert_eq!(
            packed.get(),
            BouncerText {
                os: "debian/12",
                ..t
            }
        );
        assert_eq!(RowText::with_os_parts(t, "debian", "").get().os, "debian");
        assert_eq!(RowText::with_os_parts(t, "", "12").get().os, "/12");
        assert_eq!(RowText::from(t).get(), t);
        assert_eq!(RowText::default().get(), BouncerText::default());
    }

    #[test]
    fn never_pulled_rules() {
        assert_eq!(
            interpret_last_pull(RawTime::Null, "crowdsec-firewall-bouncer"),
            LastPull::Never
        );
        assert_eq!(
            interpret_last_pull(RawTime::At(5.0), ""),
            LastPull::Never,
            "1.4.x: creation time, no request"
        );
        assert_eq!(
            interpret_last_pull(RawTime::At(5.0), "x"),
            LastPull::At(5.0)
        );
        assert_eq!(
            interpret_last_pull(RawTime::Unparseable, "x"),
            LastPull::Unreadable
        );
        assert_eq!(
            interpret_last_pull(RawTime::At(crate::values::time::GO_ZERO_TIME), "x"),
            LastPull::Never,
            "Go's zero time is unset, not a pull at -62135596800"
        );
    }

    #[test]
    fn age_uses_registration_only_when_trustworthy() {
        let mut b = bouncer("b");
        assert_eq!(b.age_seconds(100.0), None);
        b.registered_at = Some(40.0);
        assert_eq!(b.age_seconds(100.0), Some(60.0));
        b.last_pull = LastPull::At(90.0);
        assert_eq!(b.age_seconds(100.0), Some(10.0));
        assert_eq!(
            b.age_seconds(80.0),
            Some(0.0),
            "clock skew never gives a negative age"
        );
        b.last_pull = LastPull::Unreadable;
        assert_eq!(b.age_seconds(100.0), None);
    }
}
