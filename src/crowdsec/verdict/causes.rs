//! The likely cause of an offline or never-pulled bouncer: the failing evidence of the configuration files that
//! belong to it, in the order CrowdSec's troubleshooting pages walk them ("Remediation Component Offline",
//! "Remediation Component Integration Offline"), after a ban on its own address ([`super::self_ban_cause`], first:
//! the LAPI's firewall drops its pulls whatever its files say): a stopped process (`running`) > a key the LAPI refuses (`auth`
//! errors in the bouncer's log, or `key_registered`) > an endpoint it cannot reach (`endpoint_reachable`,
//! `lapi_reachable`, `connect`/`tls` errors in its log) > an invalid file (any other check that judges the file,
//! `config` errors in its log) > anything else exported as 0 (warnings) > unknown.
//!
//! A file belongs to the bouncer when its `crowdsec_bouncer_config_valid` series names one of the bouncer's rows
//! (the key's row, the certificate CN's newest `CN@ip` row, else the `.id` file; [`FileReport::bouncer`]) and, when
//! known, the same LAPI; a file whose key could not be compared exports no verdict and belongs to nobody, as in
//! the alert rules. The offline and never-pulled alerts' descriptions list the very same checks (each
//! `crowdsec_bouncer_config_check == 0` of those files): `tests/it/differential.rs` proves both agree.

use serde::Serialize;

use super::{BaseJudgement, BaseVerdict};
use crate::crowdsec::bouncer_files::checks::{Check, FileReport, Status};

/// The rank of a cause: the lower, the likelier (and the earlier to check by hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    /// An active ban on its LAPI covers its row's address (`crowdsec_lapi_self_ban_bouncer_decisions`).
    SelfBanned,
    /// The bouncer's process or unit does not run.
    Stopped,
    /// The LAPI refuses its key, or no registration holds it.
    KeyRefused,
    /// Its API cannot be reached from this host.
    Unreachable,
    /// Its configuration file fails a check the bouncer depends on.
    InvalidFile,
    /// Another check exported as 0 (a warning).
    Other,
    /// No evidence: no file of this host belongs to it, or none fails.
    Unknown,
}

/// One cause: `check` is the check's name (or `unknown`), `evidence` what was seen (never a secret nor log text),
/// `fix` what to try.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cause {
    pub kind: CauseKind,
    pub check: &'static str,
    /// The configuration file the evidence comes from (`None` for `unknown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub evidence: String,
    pub fix: String,
}

/// Whether a verdict asks for causes: the bouncer is offline or never pulled past its grace.
pub fn wants_causes(v: BaseVerdict) -> bool {
    matches!(v, BaseVerdict::Offline | BaseVerdict::NeverPulled)
}

/// The files of `files` that belong to base `b` (see the module documentation).
pub fn files_of<'f>(b: &BaseJudgement, files: &'f [FileReport]) -> Vec<&'f FileReport> {
    files
        .iter()
        .filter(|f| {
            f.verdict().is_some()
                && f.bouncer
                    .as_deref()
                    .is_some_and(|n| b.rows.iter().any(|r| r.bouncer.name() == n))
                && f.lapi.as_deref().is_none_or(|l| l == b.lapi)
        })
        .collect()
}

/// The causes of base `b`, likeliest first; empty when its verdict asks for none (ok, late, in grace...).
pub fn causes(b: &BaseJudgement, files: &[FileReport]) -> Vec<Cause> {
    if !wants_causes(b.verdict) {
        return Vec::new();
    }
    let mine = files_of(b, files);
    let mut out: Vec<Cause> = mine.iter().flat_map(|f| file_causes(f)).collect();
    out.sort_by(|x, y| (x.kind, &x.path, x.check).cmp(&(y.kind, &y.path, y.check)));
    if out.is_empty() {
        let evidence = if mine.is_empty() {
            "no configuration file on this host belongs to it (by key, certificate CN or .id file): it runs elsewhere, or its file holds another key".to_owned()
        } else {
            format!(
                "every check of {} passes",
                mine.iter()
                    .map(|f| f.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        out.push(Cause {
            kind: CauseKind::Unknown,
            check: "unknown",
            path: None,
            evidence,
            fix: "on the bouncer's host: `systemctl status <bouncer>` and its log (or the web server's error log for a module bouncer), then `curl` its API URL, as CrowdSec's troubleshooting pages say".to_owned(),
        });
    }
    out
}

/// The files of this host whose URL names Blocklist-as-a-Service integration `id` (its devices), and, when
/// `verdict` is offline or never pulled, their failing evidence ranked as for a bouncer (issue 20 #5: the
/// integration alert and diagnose name this host's file and its log cause).
pub fn integration_causes<'f>(
    id: &str,
    verdict: super::IntegrationVerdict,
    files: &'f [FileReport],
) -> (Vec<&'f FileReport>, Vec<Cause>) {
    use super::IntegrationVerdict as V;
    let mine: Vec<&FileReport> = files
        .iter()
        .filter(|f| f.integration_id().as_deref() == Some(id))
        .collect();
    if !matches!(verdict, V::Offline | V::NeverPulled) || mine.is_empty() {
        return (mine, Vec::new());
    }
    let mut out: Vec<Cause> = mine.iter().flat_map(|f| file_causes(f)).collect();
    out.sort_by(|x, y| (x.kind, &x.path, x.check).cmp(&(y.kind, &y.path, y.check)));
    (mine, out)
}

/// Every non-passing check of one file, and its log's error classes, ranked.
pub fn file_causes(f: &FileReport) -> Vec<Cause> {
    let path = f.path.display().to_string();
    let mut out = Vec::new();
    for c in f.checks.iter().filter(|c| c.status != Status::Pass) {
        let kind = match c.check {
            Check::Running => CauseKind::Stopped,
            Check::KeyRegistered => CauseKind::KeyRefused,
            Check::EndpointReachable | Check::LapiReachable => CauseKind::Unreachable,
            // The log check is ranked by its error classes below.
            Check::Log if !f.log_errors.is_empty() => continue,
            check if check.judges_file() && c.status == Status::Fail => CauseKind::InvalidFile,
            _ => CauseKind::Other,
        };
        out.push(Cause {
            kind,
            check: c.check.name(),
            path: Some(path.clone()),
            evidence: c.detail.clone(),
            fix: c.fix.clone().unwrap_or_default(),
        });
    }
    let refresh = f
        .is_blaas()
        .then(|| crate::crowdsec::bouncer_files::refresh_fix(f.kind.url_key().1));
    for (class, n) in f.log_errors.iter().filter(|(_, n)| **n > 0) {
        let (kind, what, fix) = match (*class, &refresh) {
            // Issue 20 #5: a Blocklist-as-a-Service device's key is refused by the Service API, not a LAPI.
            ("auth", Some(refresh)) => (
                CauseKind::KeyRefused,
                "the Service API refused its integration key (401/403, `API error: Unauthorized`)",
                refresh.as_str(),
            ),
            ("connect", Some(_)) => (
                CauseKind::Unreachable,
                "it could not connect to admin.api.crowdsec.net (refused, timeout, unknown host)",
                "allow outbound HTTPS (443) to admin.api.crowdsec.net from the bouncer's host (firewall, proxy, DNS) and test with `curl -I https://admin.api.crowdsec.net/`, then restart the bouncer",
            ),
            (class, _) => match class {
            "auth" => (
                CauseKind::KeyRefused,
                "the LAPI refused its key (401/403 \"access forbidden\")",
                "re-register it (`cscli bouncers add <name>`), put the new key in the file, restart the bouncer",
            ),
            "connect" => (
                CauseKind::Unreachable,
                "it could not connect to its API (refused, timeout, unknown host)",
                "make the API reachable from the bouncer's host (is CrowdSec running? the URL's host and port? a firewall or proxy?), then restart the bouncer",
            ),
            "tls" => (
                CauseKind::Unreachable,
                "its TLS connection to the API failed (certificate errors)",
                "check the API's certificate (name, expiry, issuer) and the bouncer's ca_cert_path / cert_path / key_path",
            ),
            _ => (
                CauseKind::InvalidFile,
                "it rejected its configuration (invalid configuration, unable to load)",
                "fix the configuration the log names (see this file's checks), then restart the bouncer",
            ),
            },
        };
        out.push(Cause {
            kind,
            check: Check::Log.name(),
            path: Some(path.clone()),
            evidence: format!("{n} `{class}` error(s) in its recent log: {what}"),
            fix: fix.to_owned(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::crowdsec::bouncer_files::checks::CheckResult;
    use crate::crowdsec::bouncer_files::Kind;
    use crate::crowdsec::bouncers::{Bouncer, LastPull};
    use crate::crowdsec::verdict::{judge_lapi, Thresholds};

    const NOW: f64 = 1_784_980_800.0; // 2026-07-25T12:00:00Z
    const D: f64 = 86_400.0;

    fn row(name: &str, last_pull: LastPull) -> Bouncer {
        Bouncer {
            registered_at: Some(NOW - 30.0 * D),
            ..Bouncer::test_row(name, last_pull)
        }
    }

    fn check(check: Check, status: Status) -> CheckResult {
        CheckResult {
            check,
            status,
            detail: format!("{} detail", check.name()),
            fix: (status != Status::Pass).then(|| format!("{} fix", check.name())),
        }
    }

    /// A file linked to bouncer `fw` on LAPI `local`, every check passing but `failing`, with `log_errors`.
    fn file(path: &str, failing: &[(Check, Status)], log: &[(&'static str, u64)]) -> FileReport {
        let mut checks: Vec<CheckResult> = [
            Check::Readable,
            Check::Parses,
            Check::ApiUrl,
            Check::ApiKey,
            Check::KeyRegistered,
            Check::LapiReachable,
            Check::Permissions,
            Check::Running,
            Check::Log,
            Check::EndpointReachable,
        ]
        .into_iter()
        .map(|c| {
            let status = failing
                .iter()
                .find(|(f, _)| *f == c)
                .map_or(Status::Pass, |(_, s)| *s);
            check(c, status)
        })
        .collect();
        checks.sort_by_key(|c| c.check);
        FileReport {
            path: path.into(),
            kind: Kind::Go,
            api_url: Some("http://127.0.0.1:8080/".into()),
            bouncer: Some("fw".into()),
            lapi: Some("local".into()),
            enabled: true,
            mode: None,
            tls_cn: None,
            id_name: None,
            checks,
            skipped: Vec::new(),
            notes: Vec::new(),
            log_errors: log.iter().copied().collect::<BTreeMap<_, _>>(),
        }
    }

    fn judged(rows: &[Bouncer], files: &[FileReport]) -> Vec<(CauseKind, &'static str)> {
        let j = judge_lapi("local", rows, NOW, &Thresholds::default());
        causes(&j.bases[0], files)
            .into_iter()
            .map(|c| (c.kind, c.check))
            .collect()
    }

    fn offline() -> Vec<Bouncer> {
        vec![row("fw", LastPull::At(NOW - 2.0 * D))]
    }

    use CauseKind::*;
    use Check::*;
    use Status::{Fail, Warn};

    /// Each pair of the order, both ways round (the evidence listed in the other order in the file): the likelier
    /// comes first.
    #[test]
    fn each_pair_of_the_order() {
        // (evidence, its rank): running > log auth = key_registered > endpoint = lapi_reachable = log connect/tls
        // > invalid file (a file-judging check, log config) > warnings.
        type Evidence = (
            &'static [(Check, Status)],
            &'static [(&'static str, u64)],
            CauseKind,
            &'static str,
        );
        let evidence: &[Evidence] = &[
            (&[(Running, Fail)], &[], Stopped, "running"),
            (&[(Log, Fail)], &[("auth", 3)], KeyRefused, "log"),
            (&[(KeyRegistered, Fail)], &[], KeyRefused, "key_registered"),
            (
                &[(EndpointReachable, Fail)],
                &[],
                Unreachable,
                "endpoint_reachable",
            ),
            (&[(LapiReachable, Fail)], &[], Unreachable, "lapi_reachable"),
            (&[(Log, Fail)], &[("connect", 1)], Unreachable, "log"),
            (&[(Log, Fail)], &[("tls", 1)], Unreachable, "log"),
            (&[(ApiKey, Fail)], &[], InvalidFile, "api_key"),
            (&[(Parses, Fail)], &[], InvalidFile, "parses"),
            (&[(Log, Fail)], &[("config", 2)], InvalidFile, "log"),
            (&[(Permissions, Warn)], &[], Other, "permissions"),
        ];
        for (i, a) in evidence.iter().enumerate() {
            for b in &evidence[i + 1..] {
                if a.2 == b.2 {
                    continue;
                }
                for (first, second) in [(a, b), (b, a)] {
                    // Two files (a.yaml, b.yaml) so that the path order cannot decide it.
                    let files = [
                        file("/b.yaml", first.0, first.1),
                        file("/a.yaml", second.0, second.1),
                    ];
                    let got = judged(&offline(), &files);
                    assert_eq!(
                        got[0],
                        (a.2, a.3),
                        "{:?} before {:?}: {got:?}",
                        (a.2, a.3),
                        (b.2, b.3)
                    );
                    assert_eq!(got[1], (b.2, b.3), "{got:?}");
                    assert_eq!(got.len(), 2, "{got:?}");
                }
            }
        }
    }

    #[test]
    fn unknown_when_no_file_fails_or_none_belongs() {
        let fine = file("/a.yaml", &[], &[]);
        let got = causes(
            &judge_lapi("local", &offline(), NOW, &Thresholds::default()).bases[0],
            &[fine],
        );
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].kind, got[0].check), (Unknown, "unknown"));
        assert!(got[0].evidence.contains("every check of /a.yaml passes"));
        assert_eq!(judged(&offline(), &[]), [(Unknown, "unknown")]);
        // Another bouncer's file, another LAPI's, or a file whose key was not compared (no verdict): not its.
        let mut other = file("/a.yaml", &[(Running, Fail)], &[]);
        other.bouncer = Some("nginx".into());
        let mut elsewhere = file("/b.yaml", &[(Running, Fail)], &[]);
        elsewhere.lapi = Some("remote".into());
        let mut uncompared = file("/c.yaml", &[], &[]);
        uncompared.checks.retain(|c| c.check != KeyRegistered);
        uncompared
            .skipped
            .push(crate::crowdsec::bouncer_files::checks::Skipped {
                check: KeyRegistered,
                why: "cscli".into(),
            });
        uncompared.checks.iter_mut().for_each(|c| {
            if c.check == Running {
                c.status = Warn;
            }
        });
        assert_eq!(uncompared.verdict(), None);
        assert_eq!(
            judged(&offline(), &[other, elsewhere, uncompared]),
            [(Unknown, "unknown")]
        );
    }

    #[test]
    fn only_offline_and_never_pulled_bouncers_have_causes() {
        let stopped = [file("/a.yaml", &[(Running, Fail)], &[])];
        assert_eq!(
            judged(&[row("fw", LastPull::At(NOW - 60.0))], &stopped),
            [],
            "an ok bouncer has no causes"
        );
        assert_eq!(
            judged(&[row("fw", LastPull::At(NOW - 2.0 * 3600.0))], &stopped),
            [],
            "late: not yet"
        );
        let mut never = row("fw", LastPull::Never);
        never.registered_at = Some(NOW - 2.0 * D);
        assert_eq!(judged(&[never], &stopped), [(Stopped, "running")]);
        // A file linked to the base's `name@ip` row belongs to the base.
        let mut at_ip = file("/a.yaml", &[(Running, Fail)], &[]);
        at_ip.bouncer = Some("fw@192.0.2.7".into());
        let rows = [
            row("fw", LastPull::At(NOW - 3.0 * D)),
            row("fw@192.0.2.7", LastPull::At(NOW - 2.0 * D)),
        ];
        assert_eq!(judged(&rows, &[at_ip]), [(Stopped, "running")]);
    }

    #[test]
    fn log_evidence_is_counts_never_text() {
        let f = file("/a.yaml", &[(Log, Fail)], &[("auth", 4), ("connect", 2)]);
        let got = file_causes(&f);
        assert_eq!(
            got.len(),
            2,
            "one per class, the log check itself not twice"
        );
        assert_eq!(got[0].kind, KeyRefused);
        assert!(
            got[0]
                .evidence
                .starts_with("4 `auth` error(s) in its recent log"),
            "{got:?}"
        );
        assert_eq!(got[1].kind, Unreachable);
    }
}
