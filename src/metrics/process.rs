//! `process_*`: the exporter's own process, named and described as client_golang's process collector has them
//! for every Go exporter (prometheus/client_golang `prometheus/process_collector.go`), so the usual dashboards and
//! alerts (CPU, memory, file descriptors near their limit, restarts by start time) work unchanged. Read from
//! `/proc` ([`crate::sources::own_process`]); a figure that could not be read has no series.

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::Scrape;

pub(super) fn encode(s: &Scrape, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let Some(p) = &s.process else {
        return Ok(());
    };
    if let Some(cpu) = p.cpu_seconds {
        // A float counter (clock ticks / USER_HZ), without labels.
        enc.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            MetricType::Counter,
        )?
        .encode_counter::<NoLabelSet, _, f64>(&cpu, None)?;
    }
    for (name, help, value) in [
        (
            "process_open_fds",
            "Number of open file descriptors.",
            p.open_fds,
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
            p.max_fds,
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            p.virtual_memory_bytes,
        ),
        (
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
            p.virtual_memory_max_bytes,
        ),
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            p.resident_memory_bytes,
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            p.start_time_seconds,
        ),
    ] {
        let Some(value) = value else { continue };
        let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
        // Counts and sizes are whole: written as integers, as the other families' counts are.
        if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
            family.encode_gauge(&(value as i64))?;
        } else {
            family.encode_gauge(&value)?;
        }
    }
    Ok(())
}
