//! What a file's checks learn from the registrations the LAPI sources read in the same scrape (database or
//! cscli): the `<CN>@<ip>` rows of an mTLS bouncer, the LAPI of a name from a `.id` file, and the version of the
//! linked bouncer, which decides whether a trailing `/` in a Lua API_URL breaks it.

use super::checks::{Check, CheckResult, FileReport, Status, LUA_SLASH_NOTE};
use super::Kind;
use crate::crowdsec::bouncers::{Bouncer, BouncerSnapshot};

/// One LAPI's registrations: (its name, its rows).
pub(crate) type Registrations<'a> = (&'a str, &'a BouncerSnapshot);

/// Adds what `lapis` tell about `report`'s bouncer.
pub fn link(report: &mut FileReport, lapis: &[Registrations<'_>]) {
    link_tls(report, lapis);
    if let (Some(name), None) = (report.bouncer.as_deref(), report.lapi.as_deref()) {
        if let Some((lapi, _)) = find(lapis, |b| b.name() == name) {
            report.lapi = Some(lapi.to_owned());
        }
    }
    trailing_slash(report, lapis);
}

fn find<'a>(
    lapis: &[Registrations<'a>],
    wanted: impl Fn(&Bouncer) -> bool,
) -> Option<(&'a str, &'a Bouncer)> {
    lapis
        .iter()
        .flat_map(|(lapi, snap)| snap.bouncers.iter().map(move |b| (*lapi, b)))
        .filter(|(_, b)| wanted(b))
        .max_by(|(_, a), (_, b)| {
            let t = |x: &Bouncer| x.last_pull_timestamp().unwrap_or(f64::NEG_INFINITY);
            t(a).total_cmp(&t(b))
        })
}

/// mTLS: LAPI registers a certificate as `<CN>@<ip>` with auth_type `tls` and a random key hash, so the file is
/// linked by CN to the newest such row (never by hash), whatever its `auto_created` says.
fn link_tls(report: &mut FileReport, lapis: &[Registrations<'_>]) {
    let Some(cn) = report.tls_cn.as_deref() else {
        return;
    };
    if report.bouncer.is_some() && report.lapi.is_some() {
        return;
    }
    if let Some((lapi, row)) = find(lapis, |b| b.auth_type == "tls" && b.base_name() == cn) {
        report.bouncer = Some(row.name().to_owned());
        report.lapi = Some(lapi.to_owned());
    }
}

/// `v1.1.0`, `1.0.9-rc2` -> (1, 1, 0), (1, 0, 9).
fn version(text: &str) -> Option<(u32, u32, u32)> {
    let core = text.trim().trim_start_matches('v');
    let core = core.split(['-', '+', ' ']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// The first release of each Lua bouncer that ships lua-cs-bouncer >= 1.0.6, which strips trailing slashes
/// (crowdsec.lua `API_URL:gsub("/+$","")`, lua-cs-bouncer tag v1.0.6 b5856dc7): cs-nginx-bouncer v1.1.1 pins
/// lua v1.0.6 (v1.1.0 pins v1.0.4); cs-openresty-bouncer v1.1.0 pins lua v1.0.9 (its v1.0.6 release
/// candidates pin v1.0.1).
fn strips_slash_since(bouncer_type: &str) -> Option<(u32, u32, u32)> {
    match bouncer_type {
        "crowdsec-nginx-bouncer" => Some((1, 1, 1)),
        "crowdsec-openresty-bouncer" => Some((1, 1, 0)),
        _ => None,
    }
}

/// A Lua API_URL ending with `/`: a warning only when the linked registration's type and version show a bouncer
/// that requests `//v1/decisions`; otherwise the pass stays, with the note.
fn trailing_slash(report: &mut FileReport, lapis: &[Registrations<'_>]) {
    if !matches!(report.kind, Kind::Lua | Kind::LuaHaproxy) {
        return;
    }
    if !report
        .api_url
        .as_deref()
        .is_some_and(|u| u.trim().ends_with('/'))
    {
        return;
    }
    let Some(name) = report.bouncer.as_deref() else {
        return;
    };
    let Some((_, row)) = find(lapis, |b| b.name() == name) else {
        return;
    };
    let (Some(since), Some(v)) = (
        strips_slash_since(row.bouncer_type()),
        version(row.version()),
    ) else {
        return;
    };
    if v >= since {
        return;
    }
    if let Some(c) = report.checks.iter_mut().find(|c| c.check == Check::ApiUrl) {
        if c.status == Status::Pass && c.detail.contains(LUA_SLASH_NOTE) {
            *c = CheckResult {
                check: Check::ApiUrl,
                status: Status::Warn,
                detail: format!(
                    "API_URL ends with `/` and {name:?} runs {} {}: before lua-cs-bouncer 1.0.6 (cs-nginx-bouncer < 1.1.1, cs-openresty-bouncer < 1.1.0) the bouncer requests `//v1/decisions` and gets nothing",
                    row.bouncer_type(), row.version()
                ),
                fix: Some(
                    "remove the trailing slash from API_URL and reload nginx/openresty, or upgrade the bouncer"
                        .to_owned(),
                ),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version("v1.1.0"), Some((1, 1, 0)));
        assert_eq!(version("1.0.9-rc2"), Some((1, 0, 9)));
        assert_eq!(version("v1.1"), Some((1, 1, 0)));
        assert_eq!(version("-"), None);
        assert_eq!(version("N/A"), None);
        assert_eq!(version(""), None);
    }
}
