//! Source `bouncer_config`: every bouncer configuration file, checked (see [`crate::bouncer_config::checks`]).
//! Cached like any source, so the checks run at most once per `--bouncers.check-interval`. The key of a file is
//! only ever hashed and compared in the LAPI database; the one request made is `GET <api_url>/health`, which
//! carries no key and so cannot move the `last_pull` this exporter watches.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::bouncer_config::checks::{inspect, FileReport, Inspection, KeyLookup};
use crate::bouncer_config::discover;
use crate::cache::{Reason, SourceFailure};
use crate::sources::lapi_db::LapiDbSource;
use crate::sources::lapi_health;

pub const SOURCE: &str = "bouncer_config";

/// One run of the checks over every file found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigSnapshot {
    pub files: Vec<FileReport>,
}

pub struct BouncerConfigSource {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
    /// The LAPIs whose databases may know a key: (name, source).
    lapis: Vec<(String, Arc<LapiDbSource>)>,
    /// LAPIs read only through `cscli bouncers list -o json`: no key hashes to compare (cscli >= 1.6.1 prints
    /// none; the cscli source does not keep 1.4.x's).
    cscli_lapis: Vec<String>,
    client: Result<reqwest::Client, String>,
}

impl BouncerConfigSource {
    pub fn new(
        dirs: Vec<PathBuf>,
        files: Vec<PathBuf>,
        lapis: Vec<(String, Arc<LapiDbSource>)>,
        health_timeout: Duration,
    ) -> Self {
        BouncerConfigSource {
            dirs,
            files,
            lapis,
            cscli_lapis: Vec::new(),
            client: lapi_health::client(health_timeout),
        }
    }

    /// Adds LAPIs known only through cscli: a key cannot be compared there, and the files say so.
    pub fn with_cscli_lapis(mut self, names: Vec<String>) -> Self {
        self.cscli_lapis = names;
        self
    }

    pub async fn read(self: Arc<Self>) -> Result<ConfigSnapshot, SourceFailure> {
        let me = self.clone();
        // File reads and database lookups block: off the async runtime.
        let mut inspections = tokio::task::spawn_blocking(move || me.inspect_all())
            .await
            .map_err(|e| SourceFailure {
                reason: "internal",
                message: format!("checking thread failed: {e}"),
            })?;
        // One /health per distinct URL, concurrently.
        let client = self.client.as_ref().map_err(|e| SourceFailure {
            reason: "http",
            message: e.clone(),
        })?;
        let mut answers = BTreeMap::new();
        let mut set = tokio::task::JoinSet::new();
        for url in inspections.iter().filter_map(Inspection::health_url) {
            if answers.insert(url.to_string(), None).is_none() {
                let (client, url) = (client.clone(), url.clone());
                set.spawn(async move {
                    let answer = lapi_health::check(&client, &url).await;
                    (url.to_string(), answer)
                });
            }
        }
        while let Some(done) = set.join_next().await {
            if let Ok((url, answer)) = done {
                answers.insert(url, Some(answer));
            }
        }
        for insp in &mut inspections {
            let Some(url) = insp.health_url().map(|u| u.to_string()) else {
                continue;
            };
            if let Some(Some(answer)) = answers.get(&url) {
                insp.lapi_reachable(answer);
            }
        }
        Ok(ConfigSnapshot {
            files: inspections.into_iter().map(Inspection::finish).collect(),
        })
    }

    fn inspect_all(&self) -> Vec<Inspection> {
        let env = crate::crowdsec_config::process_env;
        let dbs: Vec<_> = self
            .lapis
            .iter()
            .map(|(name, s)| (name.clone(), s.resolve().map_err(|e| e.to_failure())))
            .collect();
        let cscli_why = (!self.cscli_lapis.is_empty()).then(|| {
            format!(
                "LAPI {} is read through `cscli bouncers list -o json`, which carries no key hashes (cscli >= 1.6.1), so the key could not be compared with its registrations; the file is linked by its .id file only",
                self.cscli_lapis.join(", ")
            )
        });
        // Some(true) found, Some(false) surely absent, None when a LAPI could not tell.
        let registered = |bouncer: &str| -> Option<bool> {
            let mut unsure = cscli_why.is_some() || dbs.is_empty();
            for (_, db) in &dbs {
                match db.as_ref().map(|db| db.bouncer_registered(bouncer)) {
                    Ok(Ok(true)) => return Some(true),
                    Ok(Ok(false)) => {}
                    _ => unsure = true,
                }
            }
            (!unsure).then_some(false)
        };
        discover(&self.dirs, &self.files)
            .into_iter()
            .map(|path| {
                let mut insp = inspect(&path, &env);
                match insp.key_hash() {
                    Some(hash) => {
                        let mut found = None;
                        let mut failure = None;
                        for (lapi, db) in &dbs {
                            let answer = match db {
                                Ok(db) => {
                                    db.bouncer_for_key_hash(&hash).map_err(|e| e.to_failure())
                                }
                                Err(f) => Err(f.clone()),
                            };
                            match answer {
                                Ok(Some(bouncer)) => {
                                    found = Some(KeyLookup::Registered {
                                        lapi: lapi.clone(),
                                        bouncer,
                                    });
                                    break;
                                }
                                Ok(None) => {}
                                Err(f) => failure = Some(f.to_string()),
                            }
                        }
                        // Unknown only when every LAPI that may hold the key was asked and said no.
                        let lookup = found.unwrap_or_else(|| match (failure, &cscli_why) {
                            (Some(f), _) => KeyLookup::Unavailable(format!(
                                "the LAPI database could not be asked ({f})"
                            )),
                            (None, Some(why)) => KeyLookup::Unavailable(why.clone()),
                            (None, None) if dbs.is_empty() => KeyLookup::Unavailable(
                                "no LAPI database is configured, so the key could not be compared with the registrations".into(),
                            ),
                            (None, None) => KeyLookup::Unknown,
                        });
                        insp.key_registered(lookup, &registered);
                    }
                    None => insp.name_from_id(&registered),
                }
                insp
            })
            .collect()
    }
}

/// The checked files of a scrape, with the `integration` check added from the same scrape's Service API list
/// (it is only known there). Stale data is served too, flagged by crowdsec_exporter_source_up.
pub fn checked_files(s: &crate::metrics::Scrape) -> Vec<FileReport> {
    let Some(data) = s.bouncer_config.as_ref().and_then(|r| r.data.clone()) else {
        return Vec::new();
    };
    let integrations = s.service_api.as_ref().and_then(|r| r.data.clone());
    let ids: Option<Vec<&str>> = integrations
        .as_ref()
        .map(|d| d.integrations.iter().map(|i| i.id.as_str()).collect());
    let snapshots: Vec<_> = s
        .lapis
        .iter()
        .filter_map(|r| r.data.clone().map(|d| (r.name.clone(), d)))
        .collect();
    let lapis: Vec<crate::bouncer_config::link::Registrations<'_>> = snapshots
        .iter()
        .map(|(name, d)| (name.as_str(), d.as_ref()))
        .collect();
    data.files
        .iter()
        .map(|f| {
            let mut f = f.clone().with_integrations(ids.as_deref());
            crate::bouncer_config::link::link(&mut f, &lapis);
            f
        })
        .collect()
}

/// The source behind its cache, when checks are on: its own read-only handle on each LAPI's database.
pub fn cache(settings: &crate::settings::Settings) -> Option<crate::cache::Cached<ConfigSnapshot>> {
    let checks = settings.checks.as_ref()?;
    let (cscli, dbs): (Vec<_>, Vec<_>) = settings
        .lapis
        .iter()
        .partition(|l| matches!(l.db, crate::settings::LapiDbLocation::Cscli(_)));
    let lapis = dbs
        .into_iter()
        .map(|l| {
            let db = LapiDbSource::new(l.db.clone(), l.read_timeout / 2);
            (l.name.clone(), Arc::new(db))
        })
        .collect();
    let source = Arc::new(
        BouncerConfigSource::new(
            checks.config_dirs.clone(),
            checks.config_files.clone(),
            lapis,
            checks.timeout,
        )
        .with_cscli_lapis(cscli.into_iter().map(|l| l.name.clone()).collect()),
    );
    let name = settings.lapis.first().map_or("local", |l| l.name.as_str());
    Some(crate::cache::Cached::new(
        SOURCE,
        name,
        checks.interval,
        checks.timeout + Duration::from_secs(10),
        move || Box::pin(source.clone().read()),
    ))
}
