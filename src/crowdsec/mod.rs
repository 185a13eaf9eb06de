//! Layer 2, the CrowdSec domain: what CrowdSec's data means, whoever reads it. Bouncer rows and their
//! interpretation per CrowdSec version, `LastPull`, bouncer names and bases, CrowdSec's own config file, the
//! bouncers' configuration files and their checks, Blocklist-as-a-Service integrations, and the verdicts
//! (offline, late, never pulled, superseded) that alerts, dashboards and `diagnose` share.
//! Imports only from [`crate::values`].

pub mod active_decisions;
pub(crate) mod blocklist_integration;
pub mod bouncer_files;
pub mod bouncers;
pub mod config_yaml;
pub(crate) mod host_evidence;
pub mod machines;
pub(crate) mod rows;
pub mod usage_reports;
pub(crate) mod verdict;
