//! Layer 2, the CrowdSec domain: what CrowdSec's data means, whoever reads it. Bouncer rows and their
//! interpretation per CrowdSec version, `LastPull`, bouncer names and bases, CrowdSec's own config file, the
//! bouncers' configuration files and their checks, Blocklist-as-a-Service integrations, and the verdicts
//! (offline, late, never pulled, superseded) that alerts, dashboards and `diagnose` share.
//! Imports only from [`crate::values`].

pub mod bouncer_files;
pub mod bouncers;
pub mod config;
pub(crate) mod decisions;
pub(crate) mod host;
pub(crate) mod integration;
pub mod machines;
pub(crate) mod rows;
pub mod usage;
pub(crate) mod verdict;
