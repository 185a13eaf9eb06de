//! What the exporter knows of one LAPI's registered bouncers, whatever source it was read from
//! (database or cscli), and the rules that turn CrowdSec's raw rows into it.

use crate::timefmt::UnixSeconds;

/// One row of CrowdSec's `bouncers` table, interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct Bouncer {
    /// Registered name, as `cscli bouncers list` shows it.
    pub name: String,
    pub ip_address: String,
    /// From the bouncer's User-Agent (`type/version`); empty before its first request.
    pub bouncer_type: String,
    pub version: String,
    /// `api-key` or `tls`.
    pub auth_type: String,
    /// `osname/osversion` (CrowdSec 1.6.3+), else empty.
    pub os: String,
    /// `true`/`false` (CrowdSec 1.6.4+), else empty.
    pub auto_created: String,
    /// `true`/`false`; CrowdSec never sets it, but a hand-edited database may.
    pub revoked: String,
    pub last_pull: LastPull,
    /// Registration time, only where CrowdSec keeps it unchanged (1.6.x+); `None` on 1.4.x, which rewrites
    /// `created_at` on every update.
    pub registered_at: Option<UnixSeconds>,
    /// Newest usage-metrics push (CrowdSec 1.6.3+): liveness of live-mode bouncers on idle sites.
    pub last_usage_metrics: Option<UnixSeconds>,
}

/// When a bouncer last pulled decisions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LastPull {
    At(UnixSeconds),
    /// Registered but never made a request.
    Never,
    /// The stored value could not be read (logged and counted as a bad row).
    Unreadable,
}

impl Bouncer {
    /// The name without the `@<ip>` suffix CrowdSec adds to auto-created rows (TLS bouncers, or 1.6.4+ a known
    /// key seen from a new IP), so that all rows of one bouncer can be grouped.
    pub fn base_name(&self) -> &str {
        match self.name.rsplit_once('@') {
            Some((base, ip)) if !base.is_empty() && ip.parse::<std::net::IpAddr>().is_ok() => base,
            _ => &self.name,
        }
    }

    pub fn last_pull_timestamp(&self) -> Option<UnixSeconds> {
        self.last_pull.timestamp()
    }

    /// Seconds since the last pull; for a never-pulled bouncer, since its registration when that is known.
    pub fn age_seconds(&self, now: UnixSeconds) -> Option<f64> {
        self.last_pull.age_seconds(now, self.registered_at)
    }
}

impl LastPull {
    pub fn timestamp(self) -> Option<UnixSeconds> {
        match self {
            LastPull::At(ts) => Some(ts),
            _ => None,
        }
    }

    /// Seconds since the pull; when there never was one, since `start` (registration, creation) if known.
    pub fn age_seconds(self, now: UnixSeconds, start: Option<UnixSeconds>) -> Option<f64> {
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
pub enum RawTime {
    Null,
    At(UnixSeconds),
    Unparseable,
}

/// Decides whether a bouncer ever pulled. CrowdSec >= 1.6 leaves `last_pull` NULL until the first pull; 1.4.x
/// sets it to the creation time, so there a bouncer that never made any request (its `type` is still empty) has
/// not pulled either. Rows of an upgraded 1.4 database keep that trait, so the `type` rule applies everywhere.
pub fn interpret_last_pull(last_pull: RawTime, bouncer_type: &str) -> LastPull {
    match last_pull {
        RawTime::Null => LastPull::Never,
        RawTime::Unparseable => LastPull::Unreadable,
        RawTime::At(_) if bouncer_type.is_empty() => LastPull::Never,
        RawTime::At(ts) => LastPull::At(ts),
    }
}

/// One LAPI's bouncers at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BouncerSnapshot {
    pub bouncers: Vec<Bouncer>,
    /// The CrowdSec generation the schema looks like (`1.4`, `1.6.3+`, `1.6.4+`, `1.7.1+`), for diagnose and logs.
    pub schema: &'static str,
    /// Rows with a value the exporter could not read (e.g. an unparseable timestamp); they are still listed.
    pub bad_rows: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bouncer(name: &str) -> Bouncer {
        Bouncer {
            name: name.into(),
            ip_address: String::new(),
            bouncer_type: String::new(),
            version: String::new(),
            auth_type: "api-key".into(),
            os: String::new(),
            auto_created: String::new(),
            revoked: "false".into(),
            last_pull: LastPull::Never,
            registered_at: None,
            last_usage_metrics: None,
        }
    }

    #[test]
    fn base_name_strips_only_an_ip_suffix() {
        assert_eq!(bouncer("fw@10.0.0.1").base_name(), "fw");
        assert_eq!(bouncer("fw@2001:db8::1").base_name(), "fw");
        assert_eq!(bouncer("ops@example.com").base_name(), "ops@example.com");
        assert_eq!(bouncer("@10.0.0.1").base_name(), "@10.0.0.1");
        assert_eq!(bouncer("a@b@10.0.0.1").base_name(), "a@b");
        assert_eq!(bouncer("plain").base_name(), "plain");
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
