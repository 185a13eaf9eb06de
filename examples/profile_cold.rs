//! Profiling aid (not shipped): cold scrapes of a database, for `valgrind --tool=callgrind`.
use std::time::Duration;

use crowdsec_bouncer_exporter::metrics::Format;
use crowdsec_bouncer_exporter::settings::{LapiDbLocation, LogLevel, Settings};

fn main() {
    let db = std::env::args().nth(1).expect("usage: profile_cold DB");
    let settings = {
        let mut s = Settings::single_lapi("p", LapiDbLocation::Sqlite(db.into()));
        s.web.max_scrape_wait = Duration::from_secs(60);
        s.lapis[0].read_timeout = Duration::from_secs(60);
        s.log.level = LogLevel::Error;
        s
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let exporter =
        crowdsec_bouncer_exporter::exporter::Exporter::new(&settings).expect("the sources build");
    let renderer = crowdsec_bouncer_exporter::exporter::renderer();
    rt.block_on(async {
        for _ in 0..5 {
            let e = renderer.render(
                exporter.scrape(Duration::from_secs(60)).await,
                Format::OpenMetrics,
            );
            assert!(e.parts[0].text.len() > 1000);
        }
    });
}
