//! crowdsec-bouncer-exporter: tells, within one scrape, that a CrowdSec bouncer stopped pulling decisions.
//!
//! Layout: [`sources`] read CrowdSec (one module each), [`cache`] coalesces their reads, [`exporter`] gathers a
//! scrape, [`metrics`] encodes it, [`web`] serves it, [`cli`] wires flags into [`settings`].

pub mod allocator;
pub mod bouncer_config;
pub mod bouncers;
pub mod cache;
pub mod cli;
pub mod config_file;
pub mod crowdsec_config;
pub mod diagnose;
pub mod duration;
pub mod exporter;
pub mod logging;
pub mod metrics;
pub mod pem;
pub mod secret;
pub mod settings;
pub mod sources;
pub mod timefmt;
pub mod verdict;
pub mod web;
