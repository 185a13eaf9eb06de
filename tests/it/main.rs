//! The integration tests, one binary (`cargo test --test it`), so `cargo test` links them once: one module per
//! former test file, named as it was, so a filter still selects one (`cargo test --test it golden::`).
//! `common` (tests/common/) and the fake Service API (tests/fake_service_api/) are shared by them all.
#![forbid(unsafe_code)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../fake_service_api/mod.rs"]
mod fake_service_api;

mod bouncer_config;
mod cli;
mod config_file;
mod cscli;
mod dashboards;
mod demo;
mod differential;
mod e2e_alerts;
mod e2e_bouncer_oracle;
mod e2e_config;
mod e2e_host_checks;
mod e2e_lapi;
mod endpoint_reachable;
mod examples;
mod golden;
mod http;
mod landing_page;
mod lapi_db_mariadb;
mod lapi_db_postgres;
mod lapi_db_sqlite;
mod lapi_db_tls;
mod lapi_machines;
mod nonblocking_files;
mod process_metrics;
mod properties;
mod properties_bouncer_files;
mod properties_web_config;
mod redaction;
mod refusals;
mod scrape_protocols;
mod service_api;
mod usage_metrics;
mod web_config;
