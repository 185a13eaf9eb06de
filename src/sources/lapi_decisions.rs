//! Source `lapi_decisions`: a LAPI's active decisions by origin, counted in its database (see
//! [`crate::crowdsec::active_decisions`]). Its own source, with its own cache interval (`--lapi.decisions-interval`,
//! default 60 s), because a community blocklist makes the table tens of thousands of rows: counting them on every
//! bouncers read would cost each scrape. It uses its own handle on the database (own connection on a server), so
//! neither read waits for the other. Absent for a LAPI read through cscli (no database).
//!
//! The same read finds the self-bans ([`crate::crowdsec::active_decisions::SelfBanCheck`]): the LAPI host's addresses
//! are its URL's host (from CrowdSec's config, `api.server.listen_uri`), an IP literal as is, a name resolved at
//! each read (bounded by a 2 s timeout; a failed lookup leaves only loopback and the registered addresses).

use crate::crowdsec::active_decisions::ActiveDecisions;
use crate::sources::lapi_db::LapiDbSource;
use crate::sources::lapi_table::{Table, TableSource};
use crate::sources::{Failure, SourceFailure};

/// The `source` label.
pub const SOURCE: &str = "lapi_decisions";

/// Source `lapi_decisions`: a LAPI's active decisions by origin, on its own database handle and interval.
pub type LapiDecisionsSource = TableSource<Decisions>;

/// Table `decisions`, and where the LAPI serves (its host's addresses are self-ban targets).
#[derive(Debug)]
pub struct Decisions {
    url: Option<reqwest::Url>,
}

impl LapiDecisionsSource {
    /// `db` is a database source of its own (named after the LAPI).
    pub fn new(db: LapiDbSource) -> Self {
        TableSource::reading(db, Decisions { url: None })
    }

    /// Where the LAPI serves, when known: its host's addresses are self-ban targets.
    #[must_use]
    pub fn with_url(mut self, url: Option<reqwest::Url>) -> Self {
        self.table.url = url;
        self
    }
}

/// The addresses of `url`'s host: an IP literal as is, a name resolved (within 2 s; none on failure). A wildcard
/// listen address (`0.0.0.0`, `::`) names no host.
pub async fn host_addresses(url: Option<&reqwest::Url>) -> Vec<std::net::IpAddr> {
    let Some(url) = url else { return Vec::new() };
    let Some(host) = url.host_str() else {
        return Vec::new();
    };
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let ips = if let Ok(ip) = literal.parse::<std::net::IpAddr>() {
        vec![ip]
    } else {
        let port = url.port_or_known_default().unwrap_or(8080);
        match tokio::time::timeout(
            std::time::Duration::from_secs(2),
            tokio::net::lookup_host((host, port)),
        )
        .await
        {
            Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
            _ => Vec::new(),
        }
    };
    let mut ips: Vec<_> = ips.into_iter().filter(|ip| !ip.is_unspecified()).collect();
    ips.sort();
    ips.dedup();
    ips
}

impl Table for Decisions {
    const SOURCE: &'static str = SOURCE;
    type Snapshot = ActiveDecisions;
    async fn read(&self, db: &LapiDbSource) -> Result<ActiveDecisions, SourceFailure> {
        let db = db.found()?;
        let lapi_host = host_addresses(self.url.as_ref()).await;
        db.active_decisions(crate::values::time::now(), lapi_host)
            .await
            .map_err(|e| e.to_failure())
    }
}
