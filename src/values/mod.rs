//! Layer 1, values: plain types with no knowledge of CrowdSec: timestamps, durations, secrets, PEM files, the
//! one bounded, non-blocking file reader.
//! Imports nothing from the crate.

pub(crate) mod duration;
pub mod file;
pub mod pem;
pub mod secret;
pub mod time;
pub(crate) mod yaml;
