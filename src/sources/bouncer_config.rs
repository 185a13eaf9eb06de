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
            client: lapi_health::client(health_timeout),
        }
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
        let env = |name: &str| std::env::var(name).ok();
        let dbs: Vec<_> = self
            .lapis
            .iter()
            .map(|(name, s)| (name.clone(), s.resolve().map_err(|e| e.to_failure())))
            .collect();
        let registered = |bouncer: &str| {
            dbs.iter().any(|(_, db)| {
                db.as_ref()
                    .is_ok_and(|db| db.bouncer_registered(bouncer).unwrap_or(false))
            })
        };
        discover(&self.dirs, &self.files)
            .into_iter()
            .map(|path| {
                let mut insp = inspect(&path, &env);
                match insp.key_hash() {
                    Some(hash) => {
                        let mut lookup = KeyLookup::Unknown;
                        for (lapi, db) in &dbs {
                            let found = match db {
                                Ok(db) => {
                                    db.bouncer_for_key_hash(&hash).map_err(|e| e.to_failure())
                                }
                                Err(f) => Err(f.clone()),
                            };
                            match found {
                                Ok(Some(bouncer)) => {
                                    lookup = KeyLookup::Registered {
                                        lapi: lapi.clone(),
                                        bouncer,
                                    };
                                    break;
                                }
                                Ok(None) => {}
                                Err(f) => lookup = KeyLookup::Unavailable(f.to_string()),
                            }
                        }
                        if dbs.is_empty() {
                            lookup = KeyLookup::Unavailable("no LAPI database configured".into());
                        }
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
    data.files
        .iter()
        .map(|f| f.clone().with_integrations(ids.as_deref()))
        .collect()
}

/// The source behind its cache, when checks are on: its own read-only handle on each LAPI's database.
pub fn cache(settings: &crate::settings::Settings) -> Option<crate::cache::Cached<ConfigSnapshot>> {
    let checks = settings.checks.as_ref()?;
    let lapis = settings
        .lapis
        .iter()
        .map(|l| {
            let db = LapiDbSource::new(l.db.clone(), l.read_timeout / 2);
            (l.name.clone(), Arc::new(db))
        })
        .collect();
    let source = Arc::new(BouncerConfigSource::new(
        checks.config_dirs.clone(),
        checks.config_files.clone(),
        lapis,
        checks.timeout,
    ));
    let name = settings.lapis.first().map_or("local", |l| l.name.as_str());
    Some(crate::cache::Cached::new(
        SOURCE,
        name,
        checks.interval,
        checks.timeout + Duration::from_secs(10),
        move || Box::pin(source.clone().read()),
    ))
}
