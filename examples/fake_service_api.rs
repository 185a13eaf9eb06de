//! The tests' fake CrowdSec Service API, standalone, for `scripts/check-service-api-sdk.sh`: prints its port on
//! the first line of stdout, then serves until killed.
//!
//! `FAKE_SERVICE_API_KEY=k cargo run --example fake_service_api -- [COUNT]` serves COUNT (default 250) sample
//! integrations on 127.0.0.1 at a free port (or FAKE_SERVICE_API_PORT); FAKE_SERVICE_API_NULL_TOTALS=1 answers
//! `total` and `pages` as null.

#[path = "../tests/fake_service_api/mod.rs"]
mod fake_service_api;

use std::io::Write;

fn main() {
    let Ok(key) = std::env::var("FAKE_SERVICE_API_KEY") else {
        eprintln!("fake_service_api: set FAKE_SERVICE_API_KEY");
        std::process::exit(2);
    };
    let count = match std::env::args().nth(1).map(|c| c.parse::<u32>()) {
        None => 250,
        Some(Ok(c)) => c,
        Some(Err(_)) => {
            eprintln!("fake_service_api: COUNT must be a number");
            std::process::exit(2);
        }
    };
    let port = std::env::var("FAKE_SERVICE_API_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let fake = fake_service_api::FakeServiceApi::start_on(
        port,
        &key,
        fake_service_api::sample_integrations(count),
    );
    fake.state.lock().unwrap().null_totals =
        std::env::var("FAKE_SERVICE_API_NULL_TOTALS").is_ok_and(|v| v == "1");
    println!("{}", fake.addr.port());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
