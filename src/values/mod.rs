//! Layer 1, values: plain types with no knowledge of CrowdSec: timestamps, durations, secrets, PEM files.
//! Imports nothing from the crate.

pub(crate) mod duration;
pub mod pem;
pub mod secret;
pub mod time;
pub(crate) mod yaml;
