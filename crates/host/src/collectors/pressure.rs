//! `pressure`: pressure stall information (PSI) totals from /proc/pressure/{cpu,io,memory}.

use super::{num, parse_err, read, Context};
use crate::{Family, HostError, Kind};

/// (resource, line, metric, help)
const TOTALS: [(&str, &str, &str, &str); 6] = [
    (
        "cpu",
        "some",
        "node_pressure_cpu_waiting_seconds_total",
        "Total time in seconds that processes have waited for CPU time",
    ),
    (
        "cpu",
        "full",
        "node_pressure_cpu_stalled_seconds_total",
        "Total time in seconds no process could make progress due to CPU congestion",
    ),
    (
        "io",
        "some",
        "node_pressure_io_waiting_seconds_total",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    (
        "io",
        "full",
        "node_pressure_io_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
    (
        "memory",
        "some",
        "node_pressure_memory_waiting_seconds_total",
        "Total time in seconds that processes have waited for memory",
    ),
    (
        "memory",
        "full",
        "node_pressure_memory_stalled_seconds_total",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
];

pub(crate) fn collect(ctx: &Context, out: &mut Vec<Family>) -> Result<(), HostError> {
    for resource in ["cpu", "io", "memory"] {
        let path = ctx.proc(&format!("pressure/{resource}"));
        // Kernels without PSI (or with it disabled) fail the whole collector, as in node_exporter.
        let text = read(&path)?;
        for line in text.lines() {
            let mut words = line.split_ascii_whitespace();
            let Some(kind) = words.next() else { continue };
            let Some(&(_, _, name, help)) = TOTALS.iter().find(|t| t.0 == resource && t.1 == kind) else {
                continue;
            };
            let total = words
                .find_map(|w| w.strip_prefix("total="))
                .ok_or_else(|| parse_err(&path, format!("no total in {line:?}")))?;
            // Microseconds.
            out.push(Family::single(name, help, Kind::Counter, num(&path, total)? / 1000.0 / 1000.0));
        }
    }
    Ok(())
}
