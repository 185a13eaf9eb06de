//! Source `bouncer_config`: every bouncer configuration file, checked (see [`crate::crowdsec::bouncer_files::checks`]).
//! Cached like any source, so the checks run at most once per `--bouncers.check-interval`. The key of a file is
//! only ever hashed and compared in the LAPI database; the one request made per endpoint is `GET <api_url>/health`
//! (a LAPI) or `HEAD /` of a Blocklist-as-a-Service host ([`endpoint_probe::probe`]), which carry no key and so cannot
//! move the `last_pull` this exporter watches.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::crowdsec::bouncer_files::checks::{inspect, FileReport, Inspection, KeyLookup};
use crate::crowdsec::bouncer_files::reachability::{Endpoint, EndpointKind};
use crate::crowdsec::bouncer_files::{scan, MAX_FILES_PER_PASS};
use crate::sources::host_probes::{HostChecks, HostView};
use crate::sources::lapi_db::LapiDbSource;
use crate::sources::{endpoint_probe, lapi_health};
use crate::sources::{Failure, Reason, SourceFailure};

pub(crate) const SOURCE: &str = "bouncer_config";

/// Time one pass may spend reading and checking files (before the endpoint probes, bounded on their own). The files
/// not reached are counted as skipped (`time`), so a slow disk or database cannot hold every scrape.
const PASS_BUDGET: Duration = Duration::from_secs(5);

/// One run of the checks over every file found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigSnapshot {
    /// One report per checked file.
    pub files: Vec<FileReport>,
    /// Files found but not checked this pass, by reason (`limit`, `not_regular`, `time`; see
    /// [`crate::crowdsec::bouncer_files::Discovery`]).
    pub skipped: BTreeMap<&'static str, u64>,
}

/// Source `bouncer_config`: the bouncer configuration files found and checked, each read.
pub struct BouncerConfigSource {
    /// The `name` label: the first LAPI's name.
    name: String,
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
    /// The LAPIs whose databases may know a key: (name, source).
    lapis: Vec<(String, Arc<LapiDbSource>)>,
    /// LAPIs read only through `cscli bouncers list -o json`: no key hashes to compare (cscli >= 1.6.1 prints
    /// none; the cscli source does not keep 1.4.x's).
    cscli_lapis: Vec<String>,
    client: reqwest::Client,
    /// Bounds each request and each step of a failure's analysis.
    timeout: Duration,
    /// The host checks (running, log); `None` turns them off.
    host: Option<HostChecks>,
}

impl BouncerConfigSource {
    /// Checks the files of `dirs` and `files`, comparing keys with the `lapis`' databases, each `/health`
    /// request bounded by `health_timeout`. Named `local` until [`BouncerConfigSource::named`].
    ///
    /// # Errors
    /// The HTTP client cannot be built (a start-up error: the exporter stops).
    pub fn new(
        dirs: Vec<PathBuf>,
        files: Vec<PathBuf>,
        lapis: Vec<(String, Arc<LapiDbSource>)>,
        health_timeout: Duration,
    ) -> Result<Self, String> {
        Ok(BouncerConfigSource {
            name: "local".to_owned(),
            dirs,
            files,
            lapis,
            cscli_lapis: Vec::new(),
            client: lapi_health::client(health_timeout)?,
            timeout: health_timeout,
            host: Some(HostChecks {
                timeout: health_timeout,
                ..HostChecks::default()
            }),
        })
    }

    /// Sets the `name` label.
    pub(crate) fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets how the host checks (running, log) look, or turns them off (`None`).
    pub fn with_host_checks(mut self, host: Option<HostChecks>) -> Self {
        self.host = host;
        self
    }

    /// Adds LAPIs known only through cscli: a key cannot be compared there, and the files say so.
    pub fn with_cscli_lapis(mut self, names: Vec<String>) -> Self {
        self.cscli_lapis = names;
        self
    }

    /// Finds and checks every file once.
    ///
    /// # Errors
    /// [`Reason::Internal`](crate::sources::Reason::Internal) when the checking thread dies; a file that cannot be
    /// read is a failed check in the snapshot, not an error.
    pub async fn read(self: Arc<Self>) -> Result<ConfigSnapshot, SourceFailure> {
        let me = self.clone();
        // File reads and database lookups block: off the async runtime.
        let (mut inspections, skipped) = tokio::task::spawn_blocking(move || me.inspect_all())
            .await
            .map_err(|e| SourceFailure {
                reason: Reason::Internal,
                message: format!("checking thread failed: {e}"),
            })?;
        // One probe per distinct endpoint, concurrently: a LAPI's `/health` (both endpoint_reachable and the
        // deprecated lapi_reachable read it), a Blocklist-as-a-Service host's root.
        let client = &self.client;
        let mut answers: BTreeMap<Endpoint, Option<Result<String, String>>> = BTreeMap::new();
        let mut set = tokio::task::JoinSet::new();
        for endpoint in inspections.iter().filter_map(Inspection::endpoint) {
            if answers.insert(endpoint.clone(), None).is_none() {
                let (client, timeout) = (client.clone(), self.timeout);
                set.spawn(async move {
                    let answer = endpoint_probe::probe(&client, &endpoint, timeout).await;
                    (endpoint, answer)
                });
            }
        }
        while let Some(done) = set.join_next().await {
            if let Ok((endpoint, answer)) = done {
                answers.insert(endpoint, Some(answer));
            }
        }
        for insp in &mut inspections {
            let Some(endpoint) = insp.endpoint() else {
                continue;
            };
            if let Some(Some(answer)) = answers.get(&endpoint) {
                if endpoint.kind == EndpointKind::Lapi {
                    insp.lapi_reachable(&answer.as_ref().map(|_| ()).map_err(Clone::clone));
                }
                insp.endpoint_reachable(&endpoint, answer);
            }
        }
        Ok(ConfigSnapshot {
            files: inspections.into_iter().map(Inspection::finish).collect(),
            skipped,
        })
    }

    fn inspect_all(&self) -> (Vec<Inspection>, BTreeMap<&'static str, u64>) {
        let started = std::time::Instant::now();
        let env = crate::crowdsec::config_yaml::process_env;
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
        // One look at the host's processes for every file.
        let host = self.host.as_ref().map(HostView::read);
        let found = scan(&self.dirs, &self.files, MAX_FILES_PER_PASS);
        let mut skipped = found.skipped;
        let total = found.files.len();
        let inspections: Vec<Inspection> = found
            .files
            .into_iter()
            .take_while(|_| started.elapsed() < PASS_BUDGET)
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
                if let Some(host) = &host {
                    host.check(&mut insp);
                }
                insp
            })
            .collect();
        if inspections.len() < total {
            skipped.insert("time", (total - inspections.len()) as u64);
        }
        if !skipped.is_empty() {
            tracing::warn!(skipped = ?skipped, checked = inspections.len(), "bouncer configuration files not checked this pass (at most {MAX_FILES_PER_PASS} files and {PASS_BUDGET:?} per pass): is --bouncers.config-dir the bouncers' folder?");
        }
        (inspections, skipped)
    }
}

impl super::Source for BouncerConfigSource {
    type Snapshot = ConfigSnapshot;
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn lapi(&self) -> Option<&str> {
        None
    }
    async fn read(self: Arc<Self>) -> Result<ConfigSnapshot, SourceFailure> {
        BouncerConfigSource::read(self).await
    }
}
