//! crowdsec-bouncer-exporter: tells, within one scrape, that a CrowdSec bouncer stopped pulling decisions.
//!
//! # Layers
//! Each layer imports only from the layers above it in this list (CONTRIBUTING.md says how to add a source):
//! 1. [`values`]: timestamps, durations, secrets, PEM files, the shape of a settings group; nothing about CrowdSec.
//! 2. [`crowdsec`]: the CrowdSec domain: bouncer rows and schema detection, `LastPull`, names and bases,
//!    CrowdSec's config file, the bouncers' configuration files and their checks, integrations, the verdicts.
//! 3. [`sources`]: one module per place read, each implementing [`sources::Source`] with a closed
//!    [`sources::Reason`] per failure; each takes its own config struct, never the settings, and defines its
//!    settings group (flags, config-file section, resolve) when it has settings of its own.
//! 4. [`scrape`]: every source behind one [`scrape::Cached`], and what one scrape gathers ([`scrape::Scrape`]).
//! 5. [`metrics`]: the exposition, one file per metric family.
//! 6. [`web`]: HTTP in exporter-toolkit's shape (config, TLS, auth, reload, routes).
//! 7. The top: [`settings`] (the groups' settings together), [`config_file`], [`cli`] (the groups wired into one
//!    command line and one settings path), [`exporter`] (the sources assembled from the settings), [`diagnose`], [`logging`], [`allocator`].

// No unsafe code outside the allocator module (deny, not forbid: forbid could not be lifted there).
#![deny(unsafe_code)]
#![warn(missing_docs, clippy::missing_errors_doc)]

#[allow(unsafe_code)]
pub(crate) mod allocator;
pub mod cli;
pub mod config_file;
pub mod crowdsec;
pub(crate) mod diagnose;
pub mod exporter;
pub(crate) mod logging;
pub mod metrics;
pub mod scrape;
pub mod settings;
pub mod sources;
pub mod values;
pub mod web;
