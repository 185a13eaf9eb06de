//! Layer 1, values: plain types with no knowledge of CrowdSec: timestamps, durations, secrets, PEM files, the
//! one bounded, non-blocking file reader, the shape of a settings group (flags, config-file section, origins).
//! Imports nothing from the crate.

pub(crate) mod duration;
pub mod dyn_group;
pub mod file;
pub(crate) mod http_url;
pub mod pem;
pub mod secret;
pub mod settings_group;
pub mod time;
pub(crate) mod yaml;
