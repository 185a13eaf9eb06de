//! One module per place the exporter reads from. Each source turns its own typed errors into a
//! [`crate::cache::SourceFailure`] with a stable reason, and never panics on what it reads.

pub mod bouncer_config;
pub mod lapi_db;
pub mod lapi_health;
pub mod service_api;
