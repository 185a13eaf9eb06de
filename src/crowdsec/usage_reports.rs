//! What a bouncer's usage reports say: the remediation metrics of `POST /v1/usage-metrics` (CrowdSec >= 1.6.3),
//! stored by the LAPI in table `metrics` (`generated_type = 'RC'`, `generated_by` = the bouncer's authenticated
//! name, `payload` = `{"type": "<bouncer type>", "metrics": [{"meta": {"utc_now_timestamp", "window_size_seconds"},
//! "items": [{"name", "unit", "value", "labels": {"origin", "ip_type", "remediation"?}}]}]}`), turned into
//! counters and a gauge per bouncer.
//!
//! Sources (crowdsecurity/crowdsec v1.7.8, commit cd4cf4129734a2571d501a77a6bd8bfa1b835dd4):
//! - `pkg/apiserver/controllers/v1/usagemetrics.go`: the stored payload is `{"type", "metrics"}` of the one
//!   remediation component of the request; LP rows (log processors) hold `{"metrics"}` of a machine.
//! - `pkg/models/metrics_detail_item.go`, `metrics_meta.go`, `metrics_labels.go`: `name`, `unit`, `value` (float)
//!   mandatory, labels a string map, names/units/label values up to 255 characters (checked by the LAPI; a row
//!   written by another writer may say anything, so every bound is checked again here).
//! - `cmd/crowdsec-cli/climetrics/statbouncer.go` (`cscli metrics show bouncers`): values are per-window deltas and
//!   are summed over every stored row (7 days, `flush.metrics_max_age`), each truncated to an integer; a name that
//!   is `active_decisions` or ends with `_gauge` is a gauge (its latest value kept); identical items of a resent
//!   window count once; items are grouped by `origin` and summed over `ip_type`; the `remediation` label is not
//!   read (cscli sums over it); display trims `_gauge` only.
//!
//! How the exporter differs (docs/metrics.md, "Remediation metrics"): its counters are the sum of the reports received since
//! the exporter started (stored ones only start the series at 0: [`UsageTotals::add_baseline`]), so they never go
//! down when CrowdSec flushes rows and a restart adds no stored week again;
//! they keep `remediation` as a label; the active-decisions gauge comes from the newest report alone; other items
//! (`foo`, `*_gauge`) are dropped and counted, never turned into label sets.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A payload over this many bytes is skipped (a firewall bouncer with 100 blocklists sends ~100 kB).
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// A label value (origin, remediation, ip_type) over this many bytes makes its item skipped.
pub const MAX_LABEL_BYTES: usize = 128;
/// At most this many counter series (family × origin × remediation), and as many active-decisions series, per
/// bouncer; items that would add more are skipped.
pub const MAX_SERIES_PER_BOUNCER: usize = 256;
/// Windows remembered per bouncer to recognise a resent one.
const RECENT_WINDOWS: usize = 16;

/// A counter family: what was counted (`processed`, `dropped`) in which unit (`byte`, `packet`, `request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// `crowdsec_bouncer_processed_bytes_total`.
    ProcessedBytes,
    /// `crowdsec_bouncer_processed_packets_total`.
    ProcessedPackets,
    /// `crowdsec_bouncer_processed_requests_total`.
    ProcessedRequests,
    /// `crowdsec_bouncer_dropped_bytes_total`.
    DroppedBytes,
    /// `crowdsec_bouncer_dropped_packets_total`.
    DroppedPackets,
    /// `crowdsec_bouncer_dropped_requests_total`.
    DroppedRequests,
}

impl Family {
    /// Every family, in exposition order.
    pub const ALL: [Family; 6] = [
        Family::ProcessedBytes,
        Family::ProcessedPackets,
        Family::ProcessedRequests,
        Family::DroppedBytes,
        Family::DroppedPackets,
        Family::DroppedRequests,
    ];

    /// The family of an item: its `name` and its `unit` (the unit gives the metric's suffix). Names are compared
    /// exactly, as cscli does: the firewall bouncer sends `processed`/`dropped` with unit `byte`/`packet`
    /// (cs-firewall-bouncer pkg/metrics/metrics.go, commit bcb81cd563e813335a3141086b7f2fc5fe1a9725), the Lua
    /// bouncers `processed`/`dropped` with unit `request` (lua-cs-bouncer lib/plugins/crowdsec/metrics.lua, commit
    /// 3e82dd61508ed9683b5007f823c69b112c59ac6f).
    pub fn of(name: &str, unit: &str) -> Option<Family> {
        Some(match (name, unit) {
            ("processed", "byte") => Family::ProcessedBytes,
            ("processed", "packet") => Family::ProcessedPackets,
            ("processed", "request") => Family::ProcessedRequests,
            ("dropped", "byte") => Family::DroppedBytes,
            ("dropped", "packet") => Family::DroppedPackets,
            ("dropped", "request") => Family::DroppedRequests,
            _ => return None,
        })
    }

    /// The metric's name without `_total`, e.g. `crowdsec_bouncer_dropped_bytes`.
    pub fn metric(self) -> &'static str {
        match self {
            Family::ProcessedBytes => "crowdsec_bouncer_processed_bytes",
            Family::ProcessedPackets => "crowdsec_bouncer_processed_packets",
            Family::ProcessedRequests => "crowdsec_bouncer_processed_requests",
            Family::DroppedBytes => "crowdsec_bouncer_dropped_bytes",
            Family::DroppedPackets => "crowdsec_bouncer_dropped_packets",
            Family::DroppedRequests => "crowdsec_bouncer_dropped_requests",
        }
    }
}

/// A label value of the usage series (`origin`, `remediation`, `ip_type`): a few distinct values that every
/// bouncer sends, so each is stored once per LAPI ([`UsageTotals`] interns them) and a series holds a shared
/// reference to it (issue 22: two `String`s per series were 15 MB at 10,000 reporting bouncers). One pointer
/// (`Arc<String>`, not the two words of `Arc<str>`): a series is 32 bytes. Compared, ordered and hashed as its text.
#[derive(Clone)]
pub struct Label(Arc<String>);

impl Label {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Label {
    /// A label of its own, not shared (tests; [`UsageTotals`] interns its labels).
    fn from(s: &str) -> Label {
        Label(Arc::new(s.to_owned()))
    }
}

impl std::ops::Deref for Label {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Label {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Label {
    fn eq(&self, other: &Label) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Label {}

impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Label) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Label {
    fn cmp(&self, other: &Label) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl Hash for Label {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.hash(h);
    }
}

impl std::fmt::Debug for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The label values of one LAPI's series, each stored once. Values no series uses any more (a deleted bouncer's,
/// an origin no longer reported) are dropped by [`UsageTotals::retain`].
#[derive(Debug, Default)]
struct Interned(HashSet<Label>);

impl Interned {
    fn get(&mut self, value: &str) -> Label {
        if let Some(l) = self.0.get(value) {
            return l.clone();
        }
        let l = Label::from(value);
        self.0.insert(l.clone());
        l
    }

    /// Drops the values only this table holds.
    fn prune(&mut self) {
        self.0.retain(|l| Arc::strong_count(&l.0) > 1);
    }
}

/// A bouncer's series and their values, sorted by key: a dozen per bouncer, so a sorted vector rather than a tree
/// (a `BTreeMap` node holds room for 11 entries whatever their number).
#[derive(Debug, Clone, PartialEq)]
pub struct Series<K>(Vec<(K, u64)>);

impl<K> Default for Series<K> {
    fn default() -> Self {
        Series(Vec::new())
    }
}

impl<K: Ord> Series<K> {
    /// Every series, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &u64)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }

    /// The values, in key order.
    pub fn values(&self) -> impl Iterator<Item = &u64> {
        self.0.iter().map(|(_, v)| v)
    }

    /// How many series.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Where the series `cmp` finds is (`Ok`), or would go (`Err`); `cmp` orders a key against the one sought.
    fn find(&self, cmp: impl Fn(&K) -> Ordering) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| cmp(k))
    }

    /// The value of the series `cmp` finds.
    fn get_by(&self, cmp: impl Fn(&K) -> Ordering) -> Option<u64> {
        self.find(cmp).ok().map(|i| self.0[i].1)
    }

    /// Sets the value of the series `cmp` finds (with `add`, adds to it), or inserts `key()` with it in order;
    /// `false` when that would make more than [`MAX_SERIES_PER_BOUNCER`] series (nothing changed).
    fn upsert(
        &mut self,
        cmp: impl Fn(&K) -> Ordering,
        key: impl FnOnce() -> K,
        value: u64,
        add: bool,
    ) -> bool {
        match self.find(cmp) {
            Ok(i) => {
                let total = &mut self.0[i].1;
                *total = if add {
                    total.saturating_add(value)
                } else {
                    value
                };
                true
            }
            Err(_) if self.len() >= MAX_SERIES_PER_BOUNCER => false,
            Err(i) => {
                self.0.insert(i, (key(), value));
                true
            }
        }
    }

    /// Gives back the room of series no longer growing (called once a report is added).
    fn fit(&mut self) {
        if self.0.capacity() > self.0.len() {
            self.0.shrink_to_fit();
        }
    }
}

/// One counter series of a bouncer: empty `origin`/`remediation` where the bouncer sends no such label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CounterKey {
    /// What was counted, in which unit.
    pub family: Family,
    /// The item's `origin` label (`CAPI`, `cscli`, `lists:<name>`...), or empty.
    pub origin: Label,
    /// The item's `remediation` label (`ban`, `captcha`...), or empty.
    pub remediation: Label,
}

/// One active-decisions series: `origin` and `ip_type` as the bouncer sends them (empty when absent).
pub type ActiveKey = (Label, Label);

/// What one bouncer's reports added up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BouncerUsage {
    /// Sum of every counted item, by series.
    pub counters: Series<CounterKey>,
    /// The newest report's `active_decisions`, by series; `None` while no report read had that item (such a
    /// bouncer does not report it: no evidence, no series). Empty when the newest report with items had none
    /// although an earlier one had: the bouncer enforces nothing.
    pub active_decisions: Option<Series<ActiveKey>>,
    /// Row id of the report the gauge comes from.
    newest_id: i64,
    /// Fingerprints of the last windows counted, to count a resent window once.
    recent: VecDeque<u64>,
}

impl BouncerUsage {
    /// The newest report's active decisions, summed (`None`: the bouncer never reported them).
    pub fn active_total(&self) -> Option<u64> {
        self.active_decisions
            .as_ref()
            .map(|m| m.values().fold(0u64, |a, v| a.saturating_add(*v)))
    }

    /// Whether the window of `fingerprint` was counted already (a resend); else it is remembered (`count`: a
    /// report received, the newest; else a backlog one, read newest first).
    fn resent(&mut self, fingerprint: u64, count: bool) -> bool {
        if self.recent.contains(&fingerprint) {
            return true;
        }
        if count {
            if self.recent.len() == RECENT_WINDOWS {
                self.recent.pop_front();
            }
            self.recent.push_back(fingerprint);
        } else if self.recent.len() < RECENT_WINDOWS {
            // The backlog comes newest first: an older window goes before the ones known.
            self.recent.push_front(fingerprint);
        }
        false
    }

    /// The counter of one series, if the bouncer has it.
    pub fn counter(&self, family: Family, origin: &str, remediation: &str) -> Option<u64> {
        self.counters.get_by(|k| {
            (k.family, k.origin.as_str(), k.remediation.as_str()).cmp(&(
                family,
                origin,
                remediation,
            ))
        })
    }
}

/// Report parts skipped, since the exporter started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Reports whose payload is not the documented JSON.
    pub malformed: u64,
    /// Reports over [`MAX_PAYLOAD_BYTES`].
    pub too_large: u64,
    /// Items without name, unit or value, with a negative value, or windows without `utc_now_timestamp`.
    pub invalid_items: u64,
    /// Items of no known family (e.g. cscli's `foo`/`*_gauge` examples): dropped, never a label set.
    pub unknown_items: u64,
    /// Items over a label bound ([`MAX_LABEL_BYTES`], [`MAX_SERIES_PER_BOUNCER`]).
    pub over_limit_items: u64,
}

/// Every bouncer's usage of one LAPI, accumulated report by report. Cloning is cheap: bouncers (and their names)
/// are shared and copied only when a new report of theirs arrives.
#[derive(Debug, Default)]
pub struct UsageTotals {
    /// By the bouncer's registered name (`generated_by`).
    pub bouncers: BTreeMap<Arc<str>, Arc<BouncerUsage>>,
    /// Reports and items left out, by reason.
    pub skipped: Skipped,
    /// RC reports read (counted or skipped).
    pub reports: u64,
    /// The label values of the series, each stored once.
    labels: Interned,
}

impl Clone for UsageTotals {
    /// A copy of the totals (a reading's snapshot); its label table starts empty, so that only the totals that
    /// go on adding reports (the source's) hold it, and [`UsageTotals::retain`] sees which values are unused.
    fn clone(&self) -> UsageTotals {
        UsageTotals {
            bouncers: self.bouncers.clone(),
            skipped: self.skipped,
            reports: self.reports,
            labels: Interned::default(),
        }
    }
}

impl PartialEq for UsageTotals {
    /// The same totals (the label table is a means of storage, not part of them).
    fn eq(&self, other: &UsageTotals) -> bool {
        self.bouncers == other.bouncers
            && self.skipped == other.skipped
            && self.reports == other.reports
    }
}

#[derive(serde::Deserialize)]
struct Payload<'a> {
    #[serde(borrow, default)]
    metrics: Option<Vec<Window<'a>>>,
}

#[derive(serde::Deserialize)]
struct Window<'a> {
    #[serde(default)]
    meta: Option<Meta>,
    #[serde(borrow, default)]
    items: Option<Vec<Item<'a>>>,
}

#[derive(serde::Deserialize)]
struct Meta {
    #[serde(default)]
    utc_now_timestamp: Option<i64>,
}

#[derive(serde::Deserialize)]
struct Item<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    unit: Option<Cow<'a, str>>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(borrow, default)]
    labels: Option<Labels<'a>>,
}

/// The labels read; others are ignored (not a label set of the exporter's).
#[derive(serde::Deserialize, Hash, Default)]
struct Labels<'a> {
    #[serde(borrow, default)]
    origin: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ip_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    remediation: Option<Cow<'a, str>>,
}

impl Hash for Window<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.meta.as_ref().and_then(|m| m.utc_now_timestamp).hash(h);
        if let Some(items) = &self.items {
            for i in items {
                i.name.hash(h);
                i.unit.hash(h);
                i.value.map(f64::to_bits).hash(h);
                i.labels.hash(h);
            }
        }
    }
}

fn label<'a>(v: &'a Option<Cow<'_, str>>) -> &'a str {
    v.as_deref().unwrap_or("")
}

impl UsageTotals {
    /// Counts one RC row: `id` its row id (rows must come in increasing id order), `bouncer` its `generated_by`,
    /// `payload` its text, or `None` when the reader saw it was over [`MAX_PAYLOAD_BYTES`] without loading it.
    /// A malformed or too large payload changes nothing but its skip count.
    pub fn add_report(&mut self, id: i64, bouncer: &str, payload: Option<&[u8]>) {
        self.reports += 1;
        let Some(payload) = payload.filter(|p| p.len() <= MAX_PAYLOAD_BYTES) else {
            self.skipped.too_large += 1;
            return;
        };
        let parsed: Payload<'_> = match serde_json::from_slice(payload) {
            Ok(p) => p,
            Err(_) => {
                self.skipped.malformed += 1;
                return;
            }
        };
        self.add_windows(id, bouncer, parsed, true);
    }

    /// Takes a report stored before the exporter started (the backlog, read newest first: call it for a
    /// bouncer's newest reports, in decreasing id order) as the starting point of its counters, without counting
    /// it: its series start at 0, its active decisions give the gauge
    /// when no newer report was read, its windows are remembered so a resend of them after the start counts
    /// nothing. A bad payload is ignored (the skip counters are about counted reports).
    pub fn add_baseline(&mut self, id: i64, bouncer: &str, payload: Option<&[u8]>) {
        let Some(payload) = payload.filter(|p| p.len() <= MAX_PAYLOAD_BYTES) else {
            return;
        };
        if let Ok(parsed) = serde_json::from_slice::<Payload<'_>>(payload) {
            let skipped = self.skipped;
            self.add_windows(id, bouncer, parsed, false);
            self.skipped = skipped;
        }
    }

    /// `count`: add the values (a report received since the start), or only create the series at 0.
    fn add_windows(&mut self, id: i64, bouncer: &str, parsed: Payload<'_>, count: bool) {
        let windows = parsed.metrics.unwrap_or_default();
        if !self.bouncers.contains_key(bouncer) {
            self.bouncers.insert(Arc::from(bouncer), Arc::default());
        }
        let usage = Arc::make_mut(self.bouncers.get_mut(bouncer).expect("just inserted"));
        let skipped = &mut self.skipped;
        let interned = &mut self.labels;
        // The newest window of the report that has items: the one the gauge is taken from.
        let newest_window = windows
            .iter()
            .enumerate()
            .filter(|(_, w)| w.items.as_ref().is_some_and(|i| !i.is_empty()))
            .filter_map(|(i, w)| Some((w.meta.as_ref()?.utc_now_timestamp?, i)))
            .max()
            .map(|(_, i)| i);
        let mut active: Option<Series<ActiveKey>> = None;
        let mut saw_active = false;
        for (wi, window) in windows.iter().enumerate() {
            let Some(items) = window.items.as_deref() else {
                continue;
            };
            if window
                .meta
                .as_ref()
                .and_then(|m| m.utc_now_timestamp)
                .is_none()
            {
                // cscli skips such a window too (statbouncer.go extractRawMetrics).
                skipped.invalid_items += items.len() as u64;
                continue;
            }
            let mut hasher = std::hash::DefaultHasher::new();
            window.hash(&mut hasher);
            let fingerprint = hasher.finish();
            let resent = usage.resent(fingerprint, count);
            let gauge_window = Some(wi) == newest_window && id >= usage.newest_id;
            if gauge_window {
                active = Some(Series::default());
            }
            for item in items {
                let (Some(name), Some(unit), Some(value)) = (&item.name, &item.unit, item.value)
                else {
                    skipped.invalid_items += 1;
                    continue;
                };
                let labels = item.labels.as_ref();
                let origin = labels.map_or("", |l| label(&l.origin));
                let ip_type = labels.map_or("", |l| label(&l.ip_type));
                let remediation = labels.map_or("", |l| label(&l.remediation));
                if [origin, ip_type, remediation]
                    .iter()
                    .any(|v| v.len() > MAX_LABEL_BYTES)
                {
                    skipped.over_limit_items += 1;
                    continue;
                }
                if value.is_nan() || value < 0.0 {
                    skipped.invalid_items += 1;
                    continue;
                }
                // cscli truncates each value (`int64(value)`); `as` saturates at u64::MAX.
                let value = value.trunc() as u64;
                if name == "active_decisions" {
                    saw_active = true;
                    if let Some(map) = active.as_mut().filter(|_| gauge_window) {
                        // The latest item of a key wins, as cscli keeps the last value of a gauge.
                        let cmp =
                            |(o, ip): &ActiveKey| (o.as_str(), ip.as_str()).cmp(&(origin, ip_type));
                        let key = || (interned.get(origin), interned.get(ip_type));
                        if !map.upsert(cmp, key, value, false) {
                            skipped.over_limit_items += 1;
                        }
                    }
                    continue;
                }
                let Some(family) = Family::of(name, unit) else {
                    skipped.unknown_items += 1;
                    continue;
                };
                if resent {
                    continue;
                }
                let value = if count { value } else { 0 };
                let cmp = |k: &CounterKey| {
                    (k.family, k.origin.as_str(), k.remediation.as_str()).cmp(&(
                        family,
                        origin,
                        remediation,
                    ))
                };
                let key = || CounterKey {
                    family,
                    origin: interned.get(origin),
                    remediation: interned.get(remediation),
                };
                if !usage.counters.upsert(cmp, key, value, true) {
                    skipped.over_limit_items += 1;
                }
            }
        }
        usage.counters.fit();
        if let Some(active) = active.as_mut() {
            active.fit();
        }
        if !count && active.is_none() && saw_active && usage.newest_id > id {
            // The backlog comes newest first: a newer report with items but no active decisions was read, and
            // this older one shows the bouncer reports them, so it enforces none (as in id order).
            usage.active_decisions.get_or_insert_with(Series::default);
        }
        if let Some(active) = active {
            usage.newest_id = id;
            // A report without any active_decisions item says "none" only for a bouncer known to report them.
            if !active.is_empty() || usage.active_decisions.is_some() {
                usage.active_decisions = Some(active);
            }
        }
    }

    /// Whether nothing changed since `earlier` (a previous read's clone): the same counts and, bouncer by bouncer,
    /// the same shared usage (a new report of a bouncer copies its entry, so identity tells). Cheap at 10,000
    /// bouncers: no value is compared.
    pub fn unchanged_since(&self, earlier: &UsageTotals) -> bool {
        self.reports == earlier.reports
            && self.skipped == earlier.skipped
            && self.bouncers.len() == earlier.bouncers.len()
            && self
                .bouncers
                .iter()
                .zip(&earlier.bouncers)
                .all(|((a, x), (b, y))| a == b && Arc::ptr_eq(x, y))
    }

    /// Forgets the bouncers `keep` says are gone (deleted from the `bouncers` table), so memory follows the table.
    /// Label values no series uses any more are dropped with them.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.bouncers.retain(|name, _| keep(name));
        self.labels.prune();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(t: &mut UsageTotals, id: i64, bouncer: &str, payload: &str) {
        t.add_report(id, bouncer, Some(payload.as_bytes()));
    }

    fn counter(t: &UsageTotals, b: &str, f: Family, origin: &str, rem: &str) -> Option<u64> {
        t.bouncers[b].counter(f, origin, rem)
    }

    /// cscli's own example (crowdsec v1.7.8 test/bats/08_metrics_bouncer.bats, "rc usage metrics (good
    /// payload)"): `foo` items are dropped here (counted as unknown), `dropped` is summed over ip_type, values are
    /// truncated: cscli shows cscli/dropped 380 bytes (ipv4 0 + ipv6 380) and 10 packets.
    #[test]
    fn cscli_example_gives_cscli_totals_for_the_known_families() {
        let mut t = UsageTotals::default();
        add(
            &mut t,
            1,
            "testbouncer",
            r#"{"type":"crowdsec-firewall-bouncer","metrics":[{"meta":{"utc_now_timestamp":1707399316,"window_size_seconds":600},"items":[
            {"name":"foo","unit":"pound","value":3.1415926},{"name":"foo","unit":"dogyear","value":2.7182818}]}]}"#,
        );
        add(
            &mut t,
            2,
            "testbouncer",
            r#"{"type":"crowdsec-firewall-bouncer","metrics":[{"meta":{"utc_now_timestamp":1707399916,"window_size_seconds":600},"items":[
            {"name":"active_decisions","unit":"ip","value":500,"labels":{"ip_type":"ipv4","origin":"lists:firehol_voipbl"}},
            {"name":"active_decisions","unit":"ip","value":1,"labels":{"ip_type":"ipv6","origin":"cscli"}},
            {"name":"dropped","unit":"byte","value":3800,"labels":{"ip_type":"ipv4","origin":"CAPI"}},
            {"name":"dropped","unit":"byte","value":0,"labels":{"ip_type":"ipv4","origin":"cscli"}},
            {"name":"dropped","unit":"byte","value":380.9,"labels":{"ip_type":"ipv6","origin":"cscli"}},
            {"name":"dropped","unit":"packet","value":10,"labels":{"ip_type":"ipv4","origin":"cscli"}},
            {"name":"dropped","unit":"packet","value":0,"labels":{"ip_type":"ipv6","origin":"cscli"}}]}]}"#,
        );
        assert_eq!(t.skipped.unknown_items, 2);
        assert_eq!(
            counter(&t, "testbouncer", Family::DroppedBytes, "cscli", ""),
            Some(380)
        );
        assert_eq!(
            counter(&t, "testbouncer", Family::DroppedPackets, "cscli", ""),
            Some(10)
        );
        assert_eq!(
            counter(&t, "testbouncer", Family::DroppedBytes, "CAPI", ""),
            Some(3800)
        );
        assert_eq!(t.bouncers["testbouncer"].active_total(), Some(501));
        // The gauge keeps the newest report only (bats: 250 + 10 after the third push).
        add(
            &mut t,
            3,
            "testbouncer",
            r#"{"metrics":[{"meta":{"utc_now_timestamp":1707450000,"window_size_seconds":600},"items":[
            {"name":"active_decisions","unit":"ip","value":250,"labels":{"ip_type":"ipv4","origin":"lists:firehol_voipbl"}},
            {"name":"active_decisions","unit":"ip","value":10,"labels":{"ip_type":"ipv6","origin":"cscli"}}]}]}"#,
        );
        assert_eq!(t.bouncers["testbouncer"].active_total(), Some(260));
        assert_eq!(
            counter(&t, "testbouncer", Family::DroppedBytes, "cscli", ""),
            Some(380),
            "gauges do not touch counters"
        );
    }

    #[test]
    fn a_resent_window_counts_once_and_a_new_one_with_the_same_second_counts() {
        let mut t = UsageTotals::default();
        let p = r#"{"metrics":[{"meta":{"utc_now_timestamp":100},"items":[{"name":"dropped","unit":"request","value":4,"labels":{"origin":"cscli","remediation":"ban"}}]}]}"#;
        add(&mut t, 1, "lua", p);
        add(&mut t, 2, "lua", p);
        assert_eq!(
            counter(&t, "lua", Family::DroppedRequests, "cscli", "ban"),
            Some(4)
        );
        add(&mut t, 3, "lua", &p.replace(":4,", ":5,"));
        assert_eq!(
            counter(&t, "lua", Family::DroppedRequests, "cscli", "ban"),
            Some(9)
        );
    }

    #[test]
    fn bad_payloads_change_nothing_but_their_count() {
        let mut t = UsageTotals::default();
        add(
            &mut t,
            1,
            "fw",
            r#"{"metrics":[{"meta":{"utc_now_timestamp":1},"items":[{"name":"processed","unit":"packet","value":7}]}]}"#,
        );
        let before = t.bouncers.clone();
        add(&mut t, 2, "fw", "{not json");
        add(&mut t, 3, "fw", r#"{"metrics":"nope"}"#);
        add(
            &mut t,
            4,
            "fw",
            r#"{"metrics":[{"meta":{"utc_now_timestamp":2},"items":[{"name":"processed","unit":"packet","value":"7"}]}]}"#,
        );
        t.add_report(5, "fw", None);
        let big = format!(
            r#"{{"metrics":[],"pad":"{}"}}"#,
            "x".repeat(MAX_PAYLOAD_BYTES)
        );
        add(&mut t, 6, "fw", &big);
        assert_eq!(t.bouncers, before);
        assert_eq!((t.skipped.malformed, t.skipped.too_large), (3, 2));
        assert_eq!(t.reports, 6);
    }

    #[test]
    fn invalid_items_and_labels_are_skipped_and_counted() {
        let mut t = UsageTotals::default();
        let long = "o".repeat(MAX_LABEL_BYTES + 1);
        add(
            &mut t,
            1,
            "fw",
            &format!(
                r#"{{"metrics":[
                {{"meta":{{}},"items":[{{"name":"processed","unit":"byte","value":1}}]}},
                {{"meta":{{"utc_now_timestamp":5}},"items":[
                  {{"name":"processed","unit":"byte"}},
                  {{"name":"processed","unit":"byte","value":-3}},
                  {{"name":"dropped","unit":"byte","value":2,"labels":{{"origin":"{long}"}}}},
                  {{"name":"dropped","unit":"byte","value":2,"labels":{{"origin":"CAPI","other":"x"}}}}]}}]}}"#
            ),
        );
        assert_eq!(t.skipped.invalid_items, 3);
        assert_eq!(t.skipped.over_limit_items, 1);
        assert_eq!(t.bouncers["fw"].counters.len(), 1);
        assert_eq!(counter(&t, "fw", Family::DroppedBytes, "CAPI", ""), Some(2));
    }

    #[test]
    fn series_per_bouncer_are_bounded() {
        let mut t = UsageTotals::default();
        for i in 0..(MAX_SERIES_PER_BOUNCER + 10) {
            add(
                &mut t,
                i as i64,
                "fw",
                &format!(
                    r#"{{"metrics":[{{"meta":{{"utc_now_timestamp":{i}}},"items":[{{"name":"dropped","unit":"packet","value":1,"labels":{{"origin":"lists:l{i}"}}}},{{"name":"active_decisions","unit":"ip","value":1,"labels":{{"origin":"lists:l{i}"}}}}]}}]}}"#
                ),
            );
        }
        assert_eq!(t.bouncers["fw"].counters.len(), MAX_SERIES_PER_BOUNCER);
        assert_eq!(t.skipped.over_limit_items, 10);
    }

    #[test]
    fn the_gauge_needs_evidence_that_the_bouncer_reports_it() {
        let mut t = UsageTotals::default();
        let processed = r#"{"metrics":[{"meta":{"utc_now_timestamp":10},"items":[{"name":"processed","unit":"request","value":3}]}]}"#;
        add(&mut t, 1, "live", processed);
        assert_eq!(t.bouncers["live"].active_total(), None, "never reported");
        add(
            &mut t,
            2,
            "lua",
            r#"{"metrics":[{"meta":{"utc_now_timestamp":10},"items":[{"name":"active_decisions","unit":"ip","value":3,"labels":{"origin":"CAPI","ip_type":"ipv4"}}]}]}"#,
        );
        add(&mut t, 3, "lua", r#"{"metrics":null}"#);
        assert_eq!(
            t.bouncers["lua"].active_total(),
            Some(3),
            "a report without items says nothing"
        );
        add(&mut t, 4, "lua", &processed.replace(":10}", ":20}"));
        assert_eq!(
            t.bouncers["lua"].active_total(),
            Some(0),
            "items without active_decisions: none active"
        );
        // An older row (lower id) never replaces the newest report's gauge.
        add(
            &mut t,
            2,
            "lua",
            r#"{"metrics":[{"meta":{"utc_now_timestamp":11},"items":[{"name":"active_decisions","unit":"ip","value":9}]}]}"#,
        );
        assert_eq!(t.bouncers["lua"].active_total(), Some(0));
    }

    #[test]
    fn the_newest_window_of_a_report_gives_the_gauge_and_all_windows_count() {
        // bats "rc usage metrics (unknown metrics)": windows of one report out of order.
        let mut t = UsageTotals::default();
        add(
            &mut t,
            1,
            "fw",
            r#"{"metrics":[
            {"meta":{"utc_now_timestamp":1707460000},"items":[{"name":"active_decisions","unit":"ip","value":30},{"name":"dropped","unit":"packet","value":15}]},
            {"meta":{"utc_now_timestamp":1707450000},"items":[{"name":"active_decisions","unit":"ip","value":20},{"name":"dropped","unit":"packet","value":10}]}]}"#,
        );
        assert_eq!(t.bouncers["fw"].active_total(), Some(30));
        assert_eq!(counter(&t, "fw", Family::DroppedPackets, "", ""), Some(25));
    }
}
