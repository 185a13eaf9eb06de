#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    crowdsec_bouncer_exporter::cli::run()
}
