//! Rows of the LAPI's `bouncers` table, whoever read them (a database engine or `cscli bouncers list -o json`):
//! the columns read, what the columns present say about the CrowdSec version (schema detection), and one
//! interpretation of a row into a [`Bouncer`]. Sources only fill [`RawRow`]s.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::crowdsec::bouncers::{interpret_last_pull, Bouncer, BouncerText, RawTime, RowText};
use crate::values::time::UnixSeconds;

/// The hasher of the sets and maps keyed by bouncer name that a read builds or looks up per row (the registered
/// names, each one's newest usage report): foldhash, seeded per map, rather than SipHash, which hashed 10,000 names
/// twice per read (issue 22's cold scrape). Names are written by the LAPI's admins and its bouncers' keys.
pub(crate) type NameHasher = foldhash::fast::RandomState;
/// A set of bouncer names (see [`NameHasher`]).
pub(crate) type NameSet<'a> = HashSet<&'a str, NameHasher>;
/// A map keyed by bouncer name (see [`NameHasher`]).
pub(crate) type NameMap<V> = HashMap<String, V, NameHasher>;

/// Columns of `bouncers` the exporter reads; `api_key` is deliberately not among them.
pub(crate) const BOUNCER_COLUMNS: [&str; 11] = [
    "name",
    "ip_address",
    "type",
    "version",
    "auth_type",
    "revoked",
    "last_pull",
    "created_at",
    "osname",
    "osversion",
    "auto_created",
];

/// What the `bouncers` table's columns say about the CrowdSec version that made it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Schema {
    pub columns: HashSet<String>,
    /// `last_pull` may be NULL: CrowdSec >= 1.6, where `created_at` also stopped moving.
    pub last_pull_nullable: bool,
}

impl Schema {
    pub(crate) fn generation(&self) -> &'static str {
        if self.columns.contains("osfamily") {
            "1.7.1+"
        } else if self.columns.contains("auto_created") {
            "1.6.4+"
        } else if self.columns.contains("osname") {
            "1.6.3+"
        } else if self.last_pull_nullable {
            "1.6"
        } else {
            "1.4"
        }
    }

    /// Registration time can be trusted only where CrowdSec stopped rewriting `created_at`.
    pub(crate) fn registration_trustworthy(&self) -> bool {
        self.last_pull_nullable || self.columns.contains("osname")
    }

    /// `SELECT` list in [`BOUNCER_COLUMNS`] order, `NULL` for columns this version lacks.
    pub(crate) fn select_list(&self) -> String {
        BOUNCER_COLUMNS
            .iter()
            .map(|c| {
                if self.columns.contains(*c) {
                    format!("\"{c}\"")
                } else {
                    "NULL".to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One row as read by an engine, in [`BOUNCER_COLUMNS`] order, before interpretation. Its text may be borrowed from
/// the engine's buffers (SQLite): the bouncer's text is made of it in one string (see [`RowText`]).
#[derive(Debug, Default)]
pub(crate) struct RawRow<'a> {
    pub name: Option<Cow<'a, str>>,
    pub ip_address: Option<Cow<'a, str>>,
    pub bouncer_type: Option<Cow<'a, str>>,
    pub version: Option<Cow<'a, str>>,
    /// Static for CrowdSec's two values, see [`auth_type`].
    pub auth_type: Option<Cow<'static, str>>,
    pub revoked: Option<bool>,
    pub last_pull: Option<RawTime>,
    pub created_at: Option<RawTime>,
    pub osname: Option<Cow<'a, str>>,
    pub osversion: Option<Cow<'a, str>>,
    pub auto_created: Option<bool>,
}

/// An `auth_type` column's value: CrowdSec's two as static strings (no string made per row), anything else owned.
pub(crate) fn auth_type(v: &str) -> Cow<'static, str> {
    match v {
        "api-key" => "api-key".into(),
        "tls" => "tls".into(),
        other => other.to_owned().into(),
    }
}

fn bool_label(v: Option<bool>) -> &'static str {
    // Static: no string made per row, twice (issue 22's cold scrape).
    match v {
        None => "",
        Some(true) => "true",
        Some(false) => "false",
    }
}

/// Turns engine rows into bouncers; `usage` maps bouncer names to their newest usage-metrics push.
/// Returns the bouncers and how many rows had an unreadable value.
pub(crate) fn interpret(
    schema: &Schema,
    rows: Vec<RawRow<'_>>,
    usage: &NameMap<UnixSeconds>,
) -> (Vec<Bouncer>, usize) {
    let mut bad = 0;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let (bouncer, unreadable) = interpret_row(schema, row, usage);
        bad += usize::from(unreadable);
        out.push(bouncer);
    }
    (out, bad)
}

/// One row into a bouncer; `true` when a value could not be read.
pub(crate) fn interpret_row(
    schema: &Schema,
    row: RawRow<'_>,
    usage: &NameMap<UnixSeconds>,
) -> (Bouncer, bool) {
    let name = row.name.as_deref().unwrap_or_default();
    let bouncer_type = row.bouncer_type.as_deref().unwrap_or_default();
    let last_pull = interpret_last_pull(row.last_pull.unwrap_or(RawTime::Null), bouncer_type);
    // Go's zero time in created_at: registration unknown.
    let created = row.created_at.unwrap_or(RawTime::Null).unset_if_go_zero();
    let unreadable = matches!(row.last_pull, Some(RawTime::Unparseable))
        || matches!(created, RawTime::Unparseable);
    if unreadable {
        tracing::warn!(bouncer = %name, "unreadable timestamp in the bouncers table");
    }
    let registered_at = match created {
        RawTime::At(ts) if schema.registration_trustworthy() => Some(ts),
        _ => None,
    };
    // The os label is `osname/osversion`, the name alone without a version (see [`os_label`]): written into the
    // row's one string, no string of its own.
    let text = RowText::with_os_parts(
        BouncerText {
            name,
            ip_address: row.ip_address.as_deref().unwrap_or_default(),
            bouncer_type,
            version: row.version.as_deref().unwrap_or_default(),
            os: "",
        },
        row.osname.as_deref().unwrap_or_default(),
        row.osversion.as_deref().unwrap_or_default(),
    );
    let bouncer = Bouncer {
        last_usage_metrics: usage.get(name).copied(),
        text,
        auth_type: row.auth_type.unwrap_or_default(),
        auto_created: bool_label(row.auto_created),
        revoked: bool_label(row.revoked),
        last_pull,
        registered_at,
    };
    (bouncer, unreadable)
}
